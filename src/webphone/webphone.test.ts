/**
 * The SDK's behaviour that needs no browser: options, URLs, coded errors before anything is
 * connected, listeners. Calls, media and identifiers are proven in Chromium
 * (test/webphone.browser.test.ts), against the real platform.
 */
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { webPhoneModule } from '../web/build.js';
import {
  sipWebSocketUrl,
  WebPhone,
  type WebPhoneCall,
  WebPhoneError,
  type WebPhoneErrorEvent,
} from './webphone.js';

describe('sipWebSocketUrl', () => {
  it('keeps a WebSocket URL and derives /sip from an HTTP base URL', () => {
    expect(sipWebSocketUrl('ws://127.0.0.1:8080/sip')).toBe('ws://127.0.0.1:8080/sip');
    expect(sipWebSocketUrl('wss://pbx.example.com/custom')).toBe('wss://pbx.example.com/custom');
    expect(sipWebSocketUrl('http://127.0.0.1:8080')).toBe('ws://127.0.0.1:8080/sip');
    expect(sipWebSocketUrl('https://pbx.example.com/switchboard/?x=1#y')).toBe(
      'wss://pbx.example.com/switchboard/sip',
    );
  });

  it('refuses anything else with BAD_OPTIONS', () => {
    for (const server of ['', 'pbx.example.com', 'ftp://pbx.example.com/']) {
      expect(() => sipWebSocketUrl(server)).toThrowError(expect.objectContaining({ code: 'BAD_OPTIONS' }));
    }
  });
});

describe('WebPhone before it is registered', () => {
  const options = { server: 'http://127.0.0.1:8080/', extension: '1001', password: 'secret-a' };

  it('validates its options and defaults the SIP domain to the server host', () => {
    expect(new WebPhone(options).uri).toBe('sip:1001@127.0.0.1');
    expect(new WebPhone({ ...options, domain: 'switchboard.local' }).uri).toBe('sip:1001@switchboard.local');
    expect(() => new WebPhone({ ...options, extension: '' })).toThrowError(
      expect.objectContaining({ code: 'BAD_OPTIONS' }),
    );
    expect(() => new WebPhone({ ...options, server: 'nowhere' })).toThrowError(WebPhoneError);
  });

  it('answers every call-control method with a coded error, also reported as an error event', () => {
    const phone = new WebPhone(options);
    const errors: WebPhoneErrorEvent[] = [];
    const stop = phone.on('error', (event) => errors.push(event));
    expect(phone.calls()).toEqual([]);
    expect(phone.isRegistered).toBe(false);
    expect(() => phone.makeCall('100')).toThrowError(expect.objectContaining({ code: 'NOT_STARTED' }));
    for (const method of ['answer', 'reject', 'hangup', 'hold', 'unhold', 'mute', 'unmute'] as const) {
      expect(() => phone[method]('no-such-call')).toThrowError(
        expect.objectContaining({ code: 'UNKNOWN_CALL', callId: 'no-such-call' }),
      );
    }
    expect(() => phone.sendDtmf('no-such-call', '1')).toThrowError(
      expect.objectContaining({ code: 'UNKNOWN_CALL' }),
    );
    expect(errors.map((error) => error.code)).toEqual(['NOT_STARTED', ...Array(8).fill('UNKNOWN_CALL')]);
    stop();
    expect(() => phone.answer('x')).toThrowError(WebPhoneError);
    expect(errors).toHaveLength(9);
    expect(phone.peerConnection('no-such-call')).toBeNull();
  });
});

/**
 * A stand-in for a JsSIP session: what the phone reads of one (id, remote identity) and the events
 * it listens to, emitted by the test as JsSIP would for an outbound call a queue answers.
 */
class FakeSession extends EventEmitter {
  readonly id = 'jssip-call-idfromtag';
  readonly connection = null;
  readonly remote_identity = {
    uri: { user: '100', toString: () => 'sip:100@switchboard.local' },
    display_name: '',
  };
  isEnded(): boolean {
    return false;
  }
}

/** A SIP message as JsSIP hands it out: only getHeader matters here. */
const sipMessage = (headers: Record<string, string>) => ({
  getHeader: (name: string) =>
    Object.entries(headers).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1] ?? '',
});

describe('an outbound call answered by a queue (queue audio)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A phone (never registered) with a stand-in outbound session, and every call event it emits. */
  function outboundSession() {
    const phone = new WebPhone({ server: 'http://127.0.0.1:8080/', extension: '1001', password: 'x' });
    const events: [string, WebPhoneCall][] = [];
    for (const name of ['call-in-progress', 'call-connected', 'call-updated', 'call-ended'] as const)
      phone.on(name, (call) => events.push([name, call]));
    const session = new FakeSession();
    (phone as unknown as { onNewSession(event: unknown): void }).onNewSession({
      session,
      originator: 'local',
      request: sipMessage({}),
    });
    return { phone, session, events };
  }

  const waitingAnswer = (greetingMs: string) => ({
    originator: 'remote',
    response: sipMessage({
      'X-Server-Call-Id': 'server-call-id',
      'X-Call-Leg-Id': 'caller-leg-id',
      'X-Queue-Id': 'queue-id',
      'X-Queue-Name': 'Support',
      'X-Queue-State': 'waiting',
      'X-Queue-Greeting-Ms': greetingMs,
    }),
  });

  it('is waiting, hearing the greeting, then music, then connected to the agent by the re-INVITE', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const { phone, session, events } = outboundSession();
    session.emit('accepted', waitingAnswer('1500'));
    session.emit('confirmed');
    expect(events.map(([name]) => name)).toEqual(['call-connected']);
    const connected = events[0]![1];
    expect(connected).toMatchObject({
      state: 'connected',
      serverSideCallId: 'server-call-id',
      queueId: 'queue-id',
      queueName: 'Support',
      queue: {
        state: 'waiting',
        queueId: 'queue-id',
        queueName: 'Support',
        hearing: 'greeting',
        greetingMs: 1500,
        answeredAt: 1_000_000,
        agentConnectedAt: null,
      },
    });

    vi.advanceTimersByTime(1499);
    expect(events).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(events.map(([name, call]) => [name, call.queue?.state, call.queue?.hearing])).toEqual([
      ['call-connected', 'waiting', 'greeting'],
      ['call-updated', 'waiting', 'music'],
    ]);
    // A snapshot is the app's: changing it changes nothing in the phone.
    events[1]![1].queue!.hearing = 'greeting';
    expect(phone.calls()[0]!.queue!.hearing).toBe('music');

    // An in-dialog re-INVITE without the header (e.g. the other side's hold) leaves the queue status.
    const plain = {
      request: sipMessage({}),
      reject: () => {},
      callback: undefined as (() => void) | undefined,
    };
    session.emit('reinvite', plain);
    expect(plain.callback).toBeUndefined();

    vi.advanceTimersByTime(2500);
    const reinvite = {
      request: sipMessage({ 'X-Queue-State': 'connected' }),
      reject: () => {},
      callback: undefined as (() => void) | undefined,
    };
    session.emit('reinvite', reinvite);
    // Connected once this phone has answered the re-INVITE (JsSIP calls back after its 200).
    expect(events).toHaveLength(2);
    reinvite.callback!();
    expect(events.at(-1)).toEqual([
      'call-updated',
      expect.objectContaining({
        state: 'connected',
        connectedAt: 1_000_000,
        queue: {
          state: 'connected',
          queueId: 'queue-id',
          queueName: 'Support',
          hearing: null,
          greetingMs: 1500,
          answeredAt: 1_000_000,
          agentConnectedAt: 1_004_000,
        },
      }),
    ]);
    expect(events).toHaveLength(3);
  });

  it('without a greeting hears music at once; ending while waiting stops the greeting timer', () => {
    vi.useFakeTimers();
    const none = outboundSession();
    none.session.emit('accepted', waitingAnswer('0'));
    none.session.emit('confirmed');
    expect(none.events[0]![1].queue).toMatchObject({ state: 'waiting', hearing: 'music', greetingMs: 0 });

    const { session, events } = outboundSession();
    session.emit('accepted', waitingAnswer('3000'));
    session.emit('confirmed');
    session.emit('ended', { originator: 'local', cause: 'Terminated', message: null });
    vi.advanceTimersByTime(5000);
    expect(events.map(([name, call]) => [name, call.queue?.hearing])).toEqual([
      ['call-connected', 'greeting'],
      ['call-ended', 'greeting'],
    ]);
  });

  it('stays waiting when the peer connection refused the re-INVITE (JsSIP still calls back)', () => {
    const { session, events } = outboundSession();
    session.emit('accepted', waitingAnswer('0'));
    session.emit('confirmed');
    const reinvite = {
      request: sipMessage({ 'X-Queue-State': 'connected' }),
      reject: () => {},
      callback: undefined as (() => void) | undefined,
    };
    session.emit('reinvite', reinvite);
    session.emit('peerconnection:setlocaldescriptionfailed', new Error('recv parameters'));
    reinvite.callback!();
    expect(events.map(([name, call]) => [name, call.queue?.state])).toEqual([['call-connected', 'waiting']]);
  });

  it('is null for an answer that is not a queue waiting (an agent answered directly, a direct call)', () => {
    const { session, events } = outboundSession();
    session.emit('accepted', { originator: 'remote', response: sipMessage({ 'X-Queue-Id': 'queue-id' }) });
    session.emit('confirmed');
    expect(events[0]![1]).toMatchObject({ state: 'connected', queueId: 'queue-id', queue: null });
  });
});

describe('the npm package build', () => {
  it('is a readable ES module that imports jssip rather than bundling it', async () => {
    const module = { body: await webPhoneModule({ externalJsSip: true, minify: false }) };
    expect(module.body).toMatch(/import \{[^}]*UA[^}]*\} from "jssip"/);
    expect(module.body).toMatch(/export \{[\s\S]*WebPhone,[\s\S]*\}/);
    expect(module.body.length).toBeLessThan(64_000);
  });
});
