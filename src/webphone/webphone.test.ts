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
  type TransferEvent,
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

/** The REFERs a stand-in session was asked for, with the handlers JsSIP's refer subscriber would call. */
interface SentRefer {
  target: unknown;
  options: { replaces?: unknown; eventHandlers: Record<string, (event: unknown) => void> };
}

/** A stand-in session that can send REFERs (JsSIP's `session.refer(target, options)`). */
class ReferringSession extends EventEmitter {
  readonly connection = null;
  readonly refers: SentRefer[] = [];
  /** What refer() returns: JsSIP returns false when the session is not confirmed. */
  referResult: unknown;

  constructor(
    readonly id: string,
    remoteUser: string,
    readonly remote_identity = {
      uri: { user: remoteUser, toString: () => `sip:${remoteUser}@switchboard.local` },
      display_name: '',
    },
  ) {
    super();
  }

  isEnded(): boolean {
    return false;
  }

  refer(target: unknown, options: SentRefer['options']): unknown {
    this.refers.push({ target, options });
    return this.referResult;
  }

  /** A NOTIFY of the REFER's progress, as the subscriber reports it: trying, progress, accepted or failed. */
  notify(which: 'trying' | 'progress' | 'accepted' | 'failed', statusLine: string, index = -1): void {
    const [, code, phrase] = /^SIP\/2\.0 (\d{3}) (.*)$/.exec(statusLine)!;
    this.refers.at(index)!.options.eventHandlers[which]!({
      request: sipMessage({}),
      status_line: { status_code: Number(code), reason_phrase: phrase },
    });
  }
}

describe('transfers (a REFER in the call dialog, its NOTIFYs as events)', () => {
  const TRANSFER_EVENTS = ['transfer-progress', 'transfer-completed', 'transfer-failed'] as const;

  /** A registered-looking phone (never registered) with connected stand-in sessions, and its transfer events. */
  function phoneWithCalls(...calls: { id: string; remoteUser: string; direction: 'inbound' | 'outbound' }[]) {
    const phone = new WebPhone({
      server: 'http://127.0.0.1:8080/',
      extension: '1002',
      password: 'x',
      domain: 'switchboard.local',
    });
    const events: [string, TransferEvent][] = [];
    for (const name of TRANSFER_EVENTS) phone.on(name, (event) => events.push([name, event]));
    const errors: WebPhoneErrorEvent[] = [];
    phone.on('error', (event) => errors.push(event));
    const sessions = calls.map(({ id, remoteUser, direction }) => {
      const session = new ReferringSession(id, remoteUser);
      (phone as unknown as { onNewSession(event: unknown): void }).onNewSession({
        session,
        originator: direction === 'inbound' ? 'remote' : 'local',
        request: sipMessage({ 'X-Server-Call-Id': `server-${id}` }),
      });
      return session;
    });
    return { phone, sessions, events, errors };
  }

  const connect = (session: ReferringSession) => session.emit('confirmed');

  it('blind: REFERs sip:<target>@<domain>, reports each provisional NOTIFY, then the completion', () => {
    const { phone, sessions, events } = phoneWithCalls({
      id: 'call-1',
      remoteUser: '1001',
      direction: 'inbound',
    });
    const [session] = sessions as [ReferringSession];
    connect(session);
    phone.transfer('call-1', ' 1003 ');
    expect(session.refers).toHaveLength(1);
    expect(session.refers[0]!.target).toBe('sip:1003@switchboard.local');
    expect(session.refers[0]!.options.replaces).toBeUndefined();

    // One transfer at a time per call: the phone says so before the platform would answer 491.
    expect(() => phone.transfer('call-1', '1004')).toThrowError(
      expect.objectContaining({ code: 'INVALID_STATE', callId: 'call-1' }),
    );
    session.notify('trying', 'SIP/2.0 100 Trying');
    session.notify('progress', 'SIP/2.0 180 Ringing');
    session.notify('accepted', 'SIP/2.0 200 OK');
    // A late duplicate changes nothing.
    session.notify('accepted', 'SIP/2.0 200 OK');
    const common = {
      callId: 'call-1',
      kind: 'blind',
      target: 'sip:1003@switchboard.local',
      otherCallId: null,
    };
    expect(events).toEqual([
      ['transfer-progress', { ...common, status: 100, reason: 'Trying' }],
      ['transfer-progress', { ...common, status: 180, reason: 'Ringing' }],
      ['transfer-completed', { ...common, status: 200, reason: 'OK' }],
    ]);
    // user@host is completed to a SIP URI; a SIP URI is sent as it is.
    phone.transfer('call-1', 'sales@other.example');
    session.notify('failed', 'SIP/2.0 404 Not Found');
    phone.transfer('call-1', 'sip:200@switchboard.local');
    expect(session.refers.map((refer) => refer.target)).toEqual([
      'sip:1003@switchboard.local',
      'sip:sales@other.example',
      'sip:200@switchboard.local',
    ]);
  });

  it('failed: a NOTIFY with a final failure, a refused REFER, or no answer; the call can be transferred again', () => {
    const { phone, sessions, events } = phoneWithCalls({
      id: 'call-1',
      remoteUser: '1001',
      direction: 'inbound',
    });
    const [session] = sessions as [ReferringSession];
    connect(session);

    phone.transfer('call-1', '1004');
    session.notify('trying', 'SIP/2.0 100 Trying');
    session.notify('failed', 'SIP/2.0 486 Busy Here');
    phone.transfer('call-1', 'nobody');
    session.refers.at(-1)!.options.eventHandlers.requestFailed!({
      response: { status_code: 404, reason_phrase: 'Not Found (no user, queue or number)' },
      cause: 'Rejected',
    });
    phone.transfer('call-1', '1003');
    session.refers.at(-1)!.options.eventHandlers.requestFailed!({ response: null, cause: 'Request Timeout' });

    expect(events.map(([name, event]) => [name, event.target, event.status, event.reason])).toEqual([
      ['transfer-progress', 'sip:1004@switchboard.local', 100, 'Trying'],
      ['transfer-failed', 'sip:1004@switchboard.local', 486, 'Busy Here'],
      ['transfer-failed', 'sip:nobody@switchboard.local', 404, 'Not Found (no user, queue or number)'],
      ['transfer-failed', 'sip:1003@switchboard.local', null, 'Request Timeout'],
    ]);
    expect(session.refers).toHaveLength(3);
  });

  it('attended: REFERs the other call’s party with Replaces naming the other call (JsSIP’s replaces option)', () => {
    const { phone, sessions, events } = phoneWithCalls(
      { id: 'queue-call', remoteUser: '1001', direction: 'inbound' },
      { id: 'consultation', remoteUser: '1003', direction: 'outbound' },
    );
    const [answered, consultation] = sessions as [ReferringSession, ReferringSession];
    connect(answered);
    // The consultation still ringing: not yet.
    expect(() => phone.attendedTransfer('queue-call', 'consultation')).toThrowError(
      expect.objectContaining({ code: 'INVALID_STATE', callId: 'consultation' }),
    );
    connect(consultation);
    expect(() => phone.attendedTransfer('queue-call', 'queue-call')).toThrowError(
      expect.objectContaining({ code: 'BAD_OPTIONS', callId: 'queue-call' }),
    );
    expect(() => phone.attendedTransfer('queue-call', 'no-such-call')).toThrowError(
      expect.objectContaining({ code: 'UNKNOWN_CALL', callId: 'no-such-call' }),
    );
    expect(answered.refers).toEqual([]);

    phone.attendedTransfer('queue-call', 'consultation');
    expect(consultation.refers).toEqual([]);
    expect(answered.refers).toHaveLength(1);
    const [refer] = answered.refers as [SentRefer];
    expect(refer.target).toBe(consultation.remote_identity.uri);
    expect(refer.options.replaces).toBe(consultation);
    answered.notify('trying', 'SIP/2.0 100 Trying');
    answered.notify('accepted', 'SIP/2.0 200 OK');
    const common = {
      callId: 'queue-call',
      kind: 'attended',
      target: 'sip:1003@switchboard.local',
      otherCallId: 'consultation',
    };
    expect(events).toEqual([
      ['transfer-progress', { ...common, status: 100, reason: 'Trying' }],
      ['transfer-completed', { ...common, status: 200, reason: 'OK' }],
    ]);
  });

  it('refuses unknown, unconnected calls and bad targets with coded errors, and says nothing after the call ended', () => {
    const { phone, sessions, events, errors } = phoneWithCalls({
      id: 'call-1',
      remoteUser: '1001',
      direction: 'inbound',
    });
    const [session] = sessions as [ReferringSession];
    expect(() => phone.transfer('no-such-call', '1003')).toThrowError(
      expect.objectContaining({ code: 'UNKNOWN_CALL', callId: 'no-such-call' }),
    );
    expect(() => phone.attendedTransfer('no-such-call', 'call-1')).toThrowError(
      expect.objectContaining({ code: 'UNKNOWN_CALL', callId: 'no-such-call' }),
    );
    // Still ringing.
    expect(() => phone.transfer('call-1', '1003')).toThrowError(
      expect.objectContaining({ code: 'INVALID_STATE', callId: 'call-1' }),
    );
    connect(session);
    for (const target of ['', '  ', 'two words', '<sip:1003@x>', undefined as unknown as string]) {
      expect(() => phone.transfer('call-1', target)).toThrowError(
        expect.objectContaining({ code: 'BAD_OPTIONS', callId: 'call-1' }),
      );
    }
    session.referResult = false;
    expect(() => phone.transfer('call-1', '1003')).toThrowError(
      expect.objectContaining({ code: 'INVALID_STATE' }),
    );
    session.referResult = undefined;
    expect(errors.map((error) => error.code)).toEqual([
      'UNKNOWN_CALL',
      'UNKNOWN_CALL',
      'INVALID_STATE',
      ...Array(5).fill('BAD_OPTIONS'),
      'INVALID_STATE',
    ]);

    phone.transfer('call-1', '1003');
    session.emit('ended', { originator: 'remote', cause: 'Terminated', message: null });
    session.notify('accepted', 'SIP/2.0 200 OK');
    expect(events).toEqual([]);
    expect(() => phone.transfer('call-1', '1003')).toThrowError(
      expect.objectContaining({ code: 'UNKNOWN_CALL' }),
    );
  });
});
