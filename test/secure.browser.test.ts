/**
 * SIP over TLS and the console over HTTPS/WSS (issue 12, DESIGN.md §6): a platform started with a
 * self-signed certificate (`--tls-cert` / `--tls-key`) serves HTTPS and WSS on its HTTP port and
 * SIP over TLS on its TLS port. JsSIP in Chromium (which trusts the certificate only because this
 * suite starts it with --ignore-certificate-errors) registers over WSS and runs the seed's scenario
 * with media; a SIP client over TLS (the project's test UA on Node's `tls`) registers and calls a
 * WebSocket-registered JsSIP phone.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTenantYaml } from '../src/config/load.js';
import { loadTlsMaterial } from '../src/config/tls-files.js';
import { TestUa } from '../src/testing/test-ua.js';
import { selfSignedCertificate } from '../src/testing/tls-cert.js';
import { launchChromium, openRecordingPage } from './support/browser.js';
import { startTestPlatform, type TestPlatform } from './support/platform.js';
import { openPhonePage, runSeedScenario } from './support/webphone-pages.js';

// This suite's REST client (Node's fetch) talks to the self-signed HTTPS port too.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';

const DOMAIN = 'switchboard.local';
const TENANT = parseTenantYaml(
  `
domain: ${DOMAIN}
users:
  - { username: a@example.com, extension: "1001", password: secret-a }
  - { username: b@example.com, extension: "1002", password: secret-b }
  - { username: c@example.com, extension: "1003", password: secret-c }
queues:
  - { name: Support, extension: "100", members: [b@example.com, c@example.com] }
`,
  'secure.yaml',
);

/** A WebRTC offer as a browser makes it (ICE, DTLS fingerprint, rtcp-mux), for a non-browser caller. */
const WEBRTC_OFFER = Buffer.from(
  [
    'v=0',
    'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'a=msid-semantic: WMS',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111 0',
    'c=IN IP4 127.0.0.1',
    'a=rtcp:9 IN IP4 0.0.0.0',
    'a=candidate:1 1 udp 2122260223 127.0.0.1 40400 typ host generation 0',
    'a=ice-ufrag:abcd',
    'a=ice-pwd:abcdefghijklmnopqrstuvwx',
    `a=fingerprint:sha-256 ${Array.from({ length: 32 }, (_, i) => (i * 7 + 16).toString(16).padStart(2, '0').toUpperCase()).join(':')}`,
    'a=setup:actpass',
    'a=mid:0',
    'a=sendrecv',
    'a=rtcp-mux',
    'a=rtpmap:111 opus/48000/2',
    'a=rtpmap:0 PCMU/8000',
    '',
  ].join('\r\n'),
);

let env: TestPlatform;
let browser: Browser;

beforeAll(async () => {
  const certificate = selfSignedCertificate();
  const tls = loadTlsMaterial({ certPath: certificate.certPath, keyPath: certificate.keyPath });
  [env, browser] = await Promise.all([
    startTestPlatform(TENANT, 'sqlite', { tls, sipTlsPort: 0 }),
    launchChromium(['--ignore-certificate-errors']),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await env?.close();
});

describe('HTTPS, WSS and SIP over TLS with a self-signed certificate', () => {
  it('serves the console and the API over HTTPS, and SIP over WSS at /sip', async () => {
    expect(env.platform.httpUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    expect(env.platform.wsUrl).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/sip$/);
    expect(env.platform.sipTlsPort).toBeGreaterThan(0);
    const health = await fetch(new URL('health', env.platform.httpUrl));
    expect(await health.json()).toEqual(expect.objectContaining({ status: 'ok' }));
    const rest = await env.rest('a@example.com', 'secret-a');
    expect(rest.userId).toBeTruthy();
  });

  it("JsSIP in Chromium registers over WSS and runs the seed's scenario with media", async () => {
    const run = await runSeedScenario(browser, env.platform.httpUrl, DOMAIN);
    try {
      expect(await run.a.page.evaluate(() => window.isSecureContext)).toBe(true);
      expect(run.aConnected.serverSideCallId).toBe(run.cIncoming.serverSideCallId);
      expect(run.bEnded.cause).toBeTruthy();
      expect(run.mediaStates).toEqual({ a: 'connected', c: 'connected' });
      const bindings = env.platform.location.lookup('1003');
      expect(bindings.every((binding) => binding.flow.protocol === 'ws')).toBe(true);
      expect(run.a.errors).toEqual([]);
    } finally {
      await Promise.all([run.a, run.b, run.c].map((phone) => phone.close()));
    }
  });

  it("the console's softphone signs in over HTTPS, registers over WSS and answers a call with media", async () => {
    const consoleC = await openRecordingPage(browser, { platformPage: true });
    const a = await openPhonePage(browser, env.platform.httpUrl, {
      extension: '1001',
      password: 'secret-a',
      domain: DOMAIN,
    });
    try {
      const { page } = consoleC;
      await page.goto(env.platform.httpUrl);
      await page.fill('#signin-email', 'c@example.com');
      await page.fill('#signin-password', 'secret-c');
      await page.click('#signin-submit');
      await page.waitForSelector('#registration[data-state="ok"]', { timeout: 10_000 });
      expect(await page.evaluate(() => window.isSecureContext && location.protocol)).toBe('https:');
      const [binding] = env.platform.location.lookup('1003');
      expect(binding?.flow.protocol).toBe('ws');

      const aCallId = await a.page.evaluate(() => window.sb.phone.makeCall('1003'));
      const card = page.locator('.call-card[data-state="ringing"]');
      await card.waitFor({ timeout: 10_000 });
      await card.locator('[data-testid="answer"]').click();
      await page.locator('.call-card[data-state="connected"]').waitFor({ timeout: 10_000 });
      await a.waitForMediaConnected(aCallId);
      await a.page.evaluate((id) => window.sb.phone.hangup(id), aCallId);
      await page.locator('.call-card[data-state="ended"]').waitFor({ timeout: 10_000 });
      expect(consoleC.errors).toEqual([]);
    } finally {
      await a.close();
      await consoleC.context.close();
    }
  });

  it('a SIP client over TLS registers and calls a JsSIP phone registered over WSS', async () => {
    const phone = await openPhonePage(browser, env.platform.httpUrl, {
      extension: '1003',
      password: 'secret-c',
      domain: DOMAIN,
    });
    const caller = await TestUa.overStream(
      'tls',
      { host: '127.0.0.1', port: env.platform.sipTlsPort! },
      { extension: '1001', password: 'secret-a', domain: DOMAIN },
    );
    try {
      const registered = await caller.register();
      expect(registered.status).toBe(200);
      expect(registered.headers.get('Contact')).toContain(';transport=tls>');
      const [binding] = env.platform.location.lookup('1001');
      expect(binding?.flow.protocol).toBe('tls');

      const call = caller.call('1003', [], WEBRTC_OFFER);
      const incoming = await phone.waitForEvent('call-incoming');
      const callId = (incoming.payload as { callId: string }).callId;
      await phone.page.evaluate((id) => window.sb.phone.answer(id), callId);
      const answer = await call.waitForFinal(10_000);
      expect(answer.status).toBe(200);
      expect(answer.body.toString()).toContain('a=fingerprint:');
      expect(answer.headers.getAll('Via')[0]).toContain('SIP/2.0/TLS ');
      expect((await call.hangup()).status).toBe(200);
      await phone.waitForEvent('call-ended', callId);
    } finally {
      await caller.close();
      await phone.close();
    }
  });
});
