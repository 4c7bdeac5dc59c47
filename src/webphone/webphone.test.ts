/**
 * The SDK's behaviour that needs no browser: options, URLs, coded errors before anything is
 * connected, listeners. Calls, media and identifiers are proven in Chromium
 * (test/webphone.browser.test.ts), against the real platform.
 */
import { describe, expect, it } from 'vitest';
import { webPhoneModule } from '../web/build.js';
import { sipWebSocketUrl, WebPhone, WebPhoneError, type WebPhoneErrorEvent } from './webphone.js';

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

describe('the npm package build', () => {
  it('is a readable ES module that imports jssip rather than bundling it', async () => {
    const module = { body: await webPhoneModule({ externalJsSip: true, minify: false }) };
    expect(module.body).toMatch(/import \{[^}]*UA[^}]*\} from "jssip"/);
    expect(module.body).toMatch(/export \{[\s\S]*WebPhone,[\s\S]*\}/);
    expect(module.body.length).toBeLessThan(64_000);
  });
});
