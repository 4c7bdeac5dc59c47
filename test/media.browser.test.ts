/**
 * WebRTC bridged to RTP (issue 13, DESIGN.md §9): JsSIP in Chromium (the webphone SDK; its fake
 * microphone plays a 1 kHz tone file) and a UDP phone (an RTP peer sending 500 Hz) talk through
 * the platform's rtpengine, both ways and in both call directions. Each side's audio is analysed
 * where it arrives: decoded RTP at the phone, the peer connection's received track in the page.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseTenantYaml } from '../src/config/load.js';
import type { Platform } from '../src/platform.js';
import { parseRemoteSdp } from '../src/testing/rtp-peer.js';
import type { TestUa } from '../src/testing/test-ua.js';
import { waitUntil } from '../src/testing/wait.js';
import {
  launchChromiumWithTone,
  type ToneBrowser,
  waitForTone,
  webphonePeerConnection,
} from './support/browser-audio.js';
import { mediaPhone } from './support/media-phones.js';
import { startTestPlatform, type TestPlatform } from './support/platform.js';
import { type PhonePage, tenantPhonePage } from './support/webphone-pages.js';

const DOMAIN = 'switchboard.local';
const TONES = [500, 1000, 1500];
let env: TestPlatform;
let platform: Platform;
let browser: ToneBrowser;
const opened: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  const tenant = parseTenantYaml(
    `
domain: ${DOMAIN}
users:
  - { username: a@example.com, extension: "1001", password: secret-a }
  - { username: c@example.com, extension: "1003", password: secret-c }
`,
    'media-browser.yaml',
  );
  [env, browser] = await Promise.all([
    startTestPlatform(tenant, 'sqlite', { mediaDefault: 'auto' }),
    launchChromiumWithTone(1000),
  ]);
  ({ platform } = env);
  expect(platform.media).toBeDefined();
}, 30_000);

afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
  await waitUntil(() => platform.callControl.activeCalls.length === 0, 5000, 'no call left');
});

afterAll(async () => {
  await browser?.close();
  await env?.close();
});

const udpPhone = (extension: string): Promise<TestUa> =>
  mediaPhone(platform, extension, { domain: DOMAIN, opened });

const browserPhone = (extension: string): Promise<PhonePage> =>
  tenantPhonePage(browser.browser, platform, extension, { domain: DOMAIN, opened });

function expectEngineAddress(sdp: Buffer, notPort: number): void {
  const media = parseRemoteSdp(sdp.toString());
  expect(media.address).toBe('127.0.0.1');
  expect(media.port).not.toBe(notPort);
  expect(media.port).toBeGreaterThanOrEqual(platform.mediaProcess!.portMin);
  expect(media.port).toBeLessThanOrEqual(platform.mediaProcess!.portMax);
}

describe('a browser and a UDP phone through the media engine', () => {
  it('the browser calls the phone: the phone hears 1 kHz, the browser hears 500 Hz', async () => {
    const phone = await udpPhone('1003');
    const page = await browserPhone('1001');
    phone.answerAfterRinging(50);
    const callId = await page.page.evaluate(() => window.sb.phone.makeCall('1003'));
    await page.waitForEvent('call-connected', callId);

    const invite = phone.receivedRequests.find((request) => request.method === 'INVITE')!;
    // The phone got plain RTP with G.711 from the engine — not the browser's DTLS/ICE offer.
    expect(invite.body.toString()).toMatch(/^m=audio \d+ RTP\/AVP /m);
    expect(invite.body.toString()).not.toMatch(/a=fingerprint|a=ice-ufrag/);
    expectEngineAddress(invite.body, 0);

    phone.media!.startTone(500);
    const [heardByPhone, heardByBrowser] = await Promise.all([
      phone.media!.waitForTone(1000, TONES, { timeoutMs: 8000 }),
      waitForTone(page.page, webphonePeerConnection(callId), 500, TONES, { timeoutMs: 8000 }),
    ]);
    expect(heardByPhone.frequency).toBe(1000);
    expect(heardByBrowser.frequency).toBe(500);
    await page.page.evaluate((id) => window.sb.phone.hangup(id), callId);
    await page.waitForEvent('call-ended', callId);
  });

  it('the phone calls the browser: the browser gets a WebRTC offer from the engine, and both hear each other', async () => {
    const phone = await udpPhone('1001');
    const page = await browserPhone('1003');
    const call = phone.call('1003');
    const incoming = await page.waitForEvent('call-incoming');
    const callId = (incoming.payload as { callId: string }).callId;
    await page.page.evaluate((id) => window.sb.phone.answer(id), callId);
    const answer = await call.waitForFinal(8000);
    expect(answer.status).toBe(200);
    expect(answer.body.toString()).toMatch(/^m=audio \d+ RTP\/AVP /m);
    expectEngineAddress(answer.body, phone.media!.port);

    phone.media!.startTone(500);
    const [heardByPhone, heardByBrowser] = await Promise.all([
      phone.media!.waitForTone(1000, TONES, { timeoutMs: 8000 }),
      waitForTone(page.page, webphonePeerConnection(callId), 500, TONES, { timeoutMs: 8000 }),
    ]);
    expect(heardByPhone.frequency).toBe(1000);
    expect(heardByBrowser.frequency).toBe(500);
    expect((await call.hangup()).status).toBe(200);
    await page.waitForEvent('call-ended', callId);
  });
});
