/**
 * A browser connected to one node of a cluster, called by a phone on another node (DESIGN.md §13):
 * JsSIP in Chromium holds its WebSocket to node-b, the UDP phone is registered on node-a, and the
 * call runs on node-a, whose rtpengine anchors it — the browser gets a WebRTC offer relayed
 * through node-b. Audio is analysed where it arrives: 1 kHz from the browser's fake microphone at
 * the phone, 500 Hz from the phone in the page.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseTenantYaml } from '../src/config/load.js';
import { RtpPeer } from '../src/testing/rtp-peer.js';
import { TestUa } from '../src/testing/test-ua.js';
import {
  launchChromiumWithTone,
  type ToneBrowser,
  waitForTone,
  webphonePeerConnection,
} from './support/browser-audio.js';
import { startTestCluster, type TestCluster } from './support/cluster.js';
import { waitFor } from './support/platform.js';
import { tenantPhonePage } from './support/webphone-pages.js';

const DOMAIN = 'switchboard.local';
const TONES = [500, 1000, 1500];
const TENANT = parseTenantYaml(
  `
domain: ${DOMAIN}
users:
  - { username: admin@example.com, extension: "1000", password: secret-admin, role: admin }
  - { username: a@example.com, extension: "1001", password: secret-a }
  - { username: c@example.com, extension: "1003", password: secret-c }
`,
  'cluster-browser.yaml',
);

let cluster: TestCluster;
let browser: ToneBrowser;
const opened: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  [cluster, browser] = await Promise.all([
    startTestCluster(TENANT, { extra: { mediaDefault: 'auto' } }),
    launchChromiumWithTone(1000),
  ]);
  for (const node of cluster.nodes) expect(node.platform.media).toBeDefined();
}, 60_000);

afterAll(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
  await browser?.close();
  await cluster?.close();
});

it('a phone on node-a calls the browser on node-b: WebRTC relayed through node-b, both hear each other', async () => {
  const [nodeA, nodeB] = cluster.nodes;
  const media = await RtpPeer.open({ host: '127.0.0.1' });
  const phone = await TestUa.overUdp(
    { host: '127.0.0.1', port: nodeA!.platform.sipPort },
    { extension: '1001', password: 'secret-a', domain: DOMAIN, media },
  );
  opened.push(media, phone);
  expect((await phone.register()).status).toBe(200);
  const page = await tenantPhonePage(browser.browser, nodeB!.platform, '1003', { domain: DOMAIN, opened });
  await waitFor(
    async () => (nodeA!.platform.location.isRegistered('1003') ? true : undefined),
    5_000,
    'node-a sees the browser',
  );

  const call = phone.call('1003');
  const incoming = await page.waitForEvent('call-incoming');
  const callId = (incoming.payload as { callId: string }).callId;
  await page.page.evaluate((id) => window.sb.phone.answer(id), callId);
  const answer = await call.waitForFinal(8000);
  expect(answer.status).toBe(200);
  // node-a anchors the call: its engine's address is in the phone's answer; node-b only relays.
  const serverCallId = answer.headers.get('X-Server-Call-Id')!;
  expect(nodeA!.platform.callControl.call(serverCallId)).toBeDefined();
  expect(nodeB!.platform.callControl.activeCalls).toHaveLength(0);

  media.startTone(500);
  const [heardByPhone, heardByBrowser] = await Promise.all([
    media.waitForTone(1000, TONES, { timeoutMs: 8000 }),
    waitForTone(page.page, webphonePeerConnection(callId), 500, TONES, { timeoutMs: 8000 }),
  ]);
  expect(heardByPhone.frequency).toBe(1000);
  expect(heardByBrowser.frequency).toBe(500);
  expect((await call.hangup()).status).toBe(200);
  await page.waitForEvent('call-ended', callId);
}, 60_000);
