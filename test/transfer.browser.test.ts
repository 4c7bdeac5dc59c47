/**
 * Transfers with a browser party (issue 15, DESIGN.md §10): JsSIP in Chromium — the webphone SDK,
 * its fake microphone playing 1000 Hz — and UDP test phones, each sending a tone of its own,
 * through the platform's own rtpengine. Each side's audio is analysed where it arrives (decoded RTP
 * at a phone, the peer connection's received track in the page).
 *
 * - The agent in the page answers a queue call and transfers it blind (`transfer(callId, '1003')`):
 *   the SDK reports the NOTIFYs (100, 180), the completion, and its call ends; caller and target
 *   hear each other.
 * - The caller is the page: a UDP agent REFERs the call to a UDP phone; the platform re-INVITEs the
 *   browser to the target's media, which the page then hears; the SDK's `serverSideCallId` stays.
 * - The agent in the page holds the queue call, consults a UDP phone from the page and joins the two
 *   (`attendedTransfer(callId1, callId2)`): caller and target hear each other in the caller's call
 *   (same CallId), both of the page's calls end.
 * - The console's softphone transfers a call it answered (blind, to a typed target) and shows the
 *   transfer's progress and outcome.
 * - The records of the transferred calls over REST (service call header, UserTransfer detail,
 *   TransferredTo on the transferor's user call event).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseTenantYaml } from '../src/config/load.js';
import type { Platform } from '../src/platform.js';
import type { SipRequest, SipResponse } from '../src/sip/message.js';
import type { IncomingCall, TestUa } from '../src/testing/test-ua.js';
import { removeToneWav, writeToneWav } from '../src/testing/tone-wav.js';
import { waitUntil, waitUntilAsync } from '../src/testing/wait.js';
import type { TransferEvent, WebPhoneCall } from '../src/webphone/webphone.js';
import { openConsolePage, type RecordingPage } from './support/browser.js';
import {
  launchChromiumWithTone,
  type ToneBrowser,
  waitForTone,
  webphonePeerConnection,
} from './support/browser-audio.js';
import { mediaPhone, refer as referFrom, untilAgentConnected } from './support/media-phones.js';
import { type RestClient, startTestPlatform, type TestPlatform } from './support/platform.js';
import { type PhonePage, type RecordedEvent, tenantPhonePage } from './support/webphone-pages.js';

const DOMAIN = 'switchboard.local';
const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts');
/** Every party's tone, and the queue's music on hold (what a held queue caller hears). */
const HZ = {
  browser: 1000,
  a: 500,
  b: 800,
  c: 1500,
  queueMusic: 400,
  holdMusic: 300,
} as const;
const ALL = Object.values(HZ);

let env: TestPlatform;
let platform: Platform;
let browser: ToneBrowser;
let admin: RestClient;
const files: string[] = [];
const opened: { close(): Promise<void> }[] = [];
/** What the tests measured, printed at the end of the suite. */
const figures: string[] = [];
/** The CallIds of the transferred calls, for the records' tests at the end. */
const transferred: { blind?: string; attended?: string } = {};

type Json = Record<string, unknown>;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const tone = async (frequency: number) => {
    const path = await writeToneWav({ frequency, durationMs: 1000, sampleRate: 8000 });
    files.push(path);
    return path;
  };
  const queueMusic = await tone(HZ.queueMusic);
  const holdMusic = await tone(HZ.holdMusic);
  const tenant = parseTenantYaml(
    `
domain: ${DOMAIN}
audio: { musicOnHold: ${holdMusic} }
users:
  - { username: a@example.com, displayName: User A, extension: "1001", password: secret-a }
  - { username: b@example.com, displayName: User B, extension: "1002", password: secret-b }
  - { username: c@example.com, displayName: User C, extension: "1003", password: secret-c }
  - { username: admin@example.com, extension: "1999", password: secret-admin, role: admin }
queues:
  - { name: Support, extension: "100", members: [b@example.com], greeting: none, musicOnHold: ${queueMusic} }
`,
    'transfer-browser.yaml',
  );
  [env, browser] = await Promise.all([
    startTestPlatform(tenant, 'sqlite', { mediaDefault: 'auto' }),
    launchChromiumWithTone(HZ.browser),
  ]);
  ({ platform } = env);
  expect(platform.media, 'the platform started its own rtpengine').toBeDefined();
  admin = await env.rest('admin@example.com', 'secret-admin');
}, 60_000);

afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
  for (const extension of ['1001', '1002', '1003']) platform.location.removeAll(extension, 'unregistered');
  await waitUntil(() => platform.callControl.activeCalls.length === 0, 8000, 'no call left');
});

afterAll(async () => {
  if (figures.length > 0) console.info(`transfers with a browser, measured:\n  ${figures.join('\n  ')}`);
  await browser?.close();
  await env?.close();
  for (const file of files) await removeToneWav(file);
});

// ---- parties -------------------------------------------------------------------------------------

const udpPhone = (extension: string): Promise<TestUa> =>
  mediaPhone(platform, extension, { domain: DOMAIN, opened });

const browserPhone = (extension: string): Promise<PhonePage> =>
  tenantPhonePage(browser.browser, platform, extension, { domain: DOMAIN, opened });

const userId = (extension: string): string => platform.directory.userByExtension(extension)!.userId;

/**
 * A (a UDP phone) calls the Support queue, which answers it (queue audio); the page's SDK gets the
 * offer and answers it in the page; resolves once A and the page hear each other.
 */
async function queueCallAnsweredInPage(a: TestUa, b: PhonePage) {
  const call = a.call('100');
  const answer = await call.waitForFinal(5000);
  expect(answer.status).toBe(200);
  const callId = answer.headers.get('X-Server-Call-Id')!;
  const incoming = await b.waitForCall('call-incoming', undefined, 8000);
  expect(incoming).toMatchObject({ serverSideCallId: callId, queueName: 'Support', direction: 'inbound' });
  await b.page.evaluate((id) => window.sb.phone.answer(id), incoming.callId);
  await b.waitForCall('call-connected', incoming.callId);
  await untilAgentConnected(a, answer);
  a.media!.startTone(HZ.a);
  await Promise.all([
    pageHears(b, incoming.callId, HZ.a, 'the caller A (queue call answered in the page)', 8000),
    phoneHears(a, HZ.browser, 'the agent in the page', 8000),
  ]);
  return { call, answer, callId, agentCallId: incoming.callId, agentCall: incoming };
}

// ---- what the page's SDK said --------------------------------------------------------------------

/** The transfer events of `callId` the page's SDK emitted so far, in order. */
async function transferEvents(phone: PhonePage, callId: string): Promise<[string, TransferEvent][]> {
  return (await phone.events())
    .filter((event) => event.name.startsWith('transfer-') && event.payload.callId === callId)
    .map((event) => [event.name, event.payload as unknown as TransferEvent]);
}

const indexOf = (events: RecordedEvent[], name: string, callId: string): number =>
  events.findIndex((event) => event.name === name && event.payload.callId === callId);

// ---- measuring -----------------------------------------------------------------------------------

/** The page hears `frequency` (the dominant of every tone of the suite) in the call's received audio. */
async function pageHears(
  phone: PhonePage,
  callId: string,
  frequency: number,
  what: string,
  timeoutMs = 6000,
): Promise<void> {
  const startedAt = Date.now();
  const tone = await waitForTone(phone.page, webphonePeerConnection(callId), frequency, ALL, {
    timeoutMs,
    windowMs: 300,
  });
  expect(tone.frequency).toBe(frequency);
  figures.push(
    `page ${phone.extension} hears ${what}: ${frequency} Hz after ${Date.now() - startedAt} ms, ${tone.signalDbfs.toFixed(1)} dBFS, ${(
      (tone.candidates.find((c) => c.frequency === frequency)?.relativePower ?? 0) * 100
    ).toFixed(0)}% of the candidates' power`,
  );
}

/** The UDP phone hears `frequency` in what arrives after now. */
async function phoneHears(phone: TestUa, frequency: number, what: string, timeoutMs = 6000): Promise<void> {
  const startedAt = Date.now();
  const mark = phone.media!.receivedSampleCount;
  const tone = await phone.media!.waitForTone(frequency, ALL, { timeoutMs, fromSample: mark });
  expect(tone.frequency).toBe(frequency);
  figures.push(
    `phone ${phone.extension} hears ${what}: ${frequency} Hz after ${Date.now() - startedAt} ms, ${tone.signalDbfs.toFixed(1)} dBFS`,
  );
}

// ---- SIP helpers (a UDP agent's REFER, as test/transfer.test.ts sends it) ------------------------

const refer = (ua: TestUa, incoming: IncomingCall, target: string): Promise<SipResponse> =>
  referFrom(ua, incoming, target, DOMAIN);

/** The sipfrag status lines of the NOTIFYs a UA received, in order. */
function notified(ua: TestUa): string[] {
  return ua.receivedRequests
    .filter((request: SipRequest) => request.method === 'NOTIFY')
    .map((request) => request.body.toString().trim());
}

// ---- records -------------------------------------------------------------------------------------

/** The service call headers of `callId` once post-processing wrote one `Handled`, and its details. */
async function serviceCall(callId: string): Promise<{ headers: Json[]; details: Json[] }> {
  let headers: Json[] = [];
  await waitUntilAsync(
    async () => {
      headers = await admin.list<Json>('/servicecall', { CallId: callId });
      return headers.some((header) => header.Result === 'Handled');
    },
    8000,
    `the service call record of ${callId}`,
  );
  return { headers, details: await admin.list<Json>(`/servicecall/${callId}/details`) };
}

// ---- the tests -----------------------------------------------------------------------------------

describe('blind transfer by the agent in the page', () => {
  it("transfer(callId, '1003'): progress 100 / 180, completed, the page's call ends; A and C hear each other", async () => {
    const a = await udpPhone('1001');
    const b = await browserPhone('1002');
    const c = await udpPhone('1003');
    const { call, callId, agentCallId, agentCall } = await queueCallAnsweredInPage(a, b);

    c.answerAfterRinging(400);
    const requestedAt = Date.now();
    await b.page.evaluate((id) => window.sb.phone.transfer(id, '1003'), agentCallId);
    const completed = (await b.waitForEvent('transfer-completed', agentCallId, 10_000))
      .payload as unknown as TransferEvent;
    figures.push(`blind transfer from the page: completed ${Date.now() - requestedAt} ms after transfer()`);
    const ended = await b.waitForEnded(agentCallId, 5000);
    const common = {
      callId: agentCallId,
      kind: 'blind',
      target: `sip:1003@${DOMAIN}`,
      otherCallId: null,
    };
    expect(completed).toEqual({ ...common, status: 200, reason: 'OK' });
    expect(await transferEvents(b, agentCallId)).toEqual([
      ['transfer-progress', { ...common, status: 100, reason: 'Trying' }],
      ['transfer-progress', { ...common, status: 180, reason: 'Ringing' }],
      ['transfer-completed', { ...common, status: 200, reason: 'OK' }],
    ]);
    // The completion comes first, then the platform's BYE ends the page's call.
    const events = await b.events();
    expect(indexOf(events, 'transfer-completed', agentCallId)).toBeLessThan(
      indexOf(events, 'call-ended', agentCallId),
    );
    expect(ended).toMatchObject({ originator: 'remote', cause: 'Terminated', serverSideCallId: callId });

    // C got the call: same CallId, a leg of its own.
    const invite = c.incoming[0]!.invite;
    expect(invite.headers.get('X-Server-Call-Id')).toBe(callId);
    expect(invite.headers.get('X-Call-Leg-Id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(invite.headers.get('X-Call-Leg-Id')).not.toBe(agentCall.callLegId);
    c.media!.startTone(HZ.c);
    await Promise.all([
      phoneHears(a, HZ.c, 'C after the blind transfer', 8000),
      phoneHears(c, HZ.a, 'A after the blind transfer', 8000),
    ]);
    expect(platform.callControl.call(callId)?.state).toBe('connected');
    expect(b.errors).toEqual([]);
    expect((await b.events()).filter((event) => event.name === 'error')).toEqual([]);

    expect((await call.hangup()).status).toBe(200);
    await c.incoming[0]!.waitForBye(5000);
    transferred.blind = callId;
  });

  it('to a user who is busy: transfer-failed 486, and the page still talks to the caller', async () => {
    const a = await udpPhone('1001');
    const b = await browserPhone('1002');
    const c = await udpPhone('1003');
    const { call, agentCallId } = await queueCallAnsweredInPage(a, b);
    c.rejectAfterRinging(486, 100);
    await b.page.evaluate((id) => window.sb.phone.transfer(id, '1003'), agentCallId);
    const failed = (await b.waitForEvent('transfer-failed', agentCallId, 10_000))
      .payload as unknown as TransferEvent;
    expect(failed).toMatchObject({ status: 486, reason: 'Busy Here', kind: 'blind' });
    // A REFER the platform refuses at once: transfer-failed with its status.
    await b.page.evaluate((id) => window.sb.phone.transfer(id, 'nobody'), agentCallId);
    await b.waitForEvents('transfer-failed', 2, 5000);
    expect((await transferEvents(b, agentCallId)).map(([name, event]) => [name, event.status])).toEqual([
      ['transfer-progress', 100],
      ['transfer-progress', 180],
      ['transfer-failed', 486],
      ['transfer-failed', 404],
    ]);
    expect((await b.page.evaluate(() => window.sb.phone.calls())).map((live) => live.state)).toEqual([
      'connected',
    ]);
    await Promise.all([
      pageHears(b, agentCallId, HZ.a, 'A after the failed transfer'),
      phoneHears(a, HZ.browser, 'the page after the failed transfer'),
    ]);
    expect((await call.hangup()).status).toBe(200);
    await b.waitForEnded(agentCallId);
  });
});

describe('a browser caller transferred by a UDP agent', () => {
  it("the page hears C after the platform's re-INVITE; its serverSideCallId never changes", async () => {
    const a = await browserPhone('1001');
    const b = await udpPhone('1002');
    const c = await udpPhone('1003');
    b.answerAfterRinging(100);
    const callId = await a.page.evaluate(() => window.sb.phone.makeCall('100'));
    const answered = await a.waitForCall('call-connected', callId, 5000);
    const serverSideCallId = answered.serverSideCallId!;
    expect(serverSideCallId).toMatch(/^[0-9a-f-]{36}$/);
    await waitUntil(() => b.incoming[0]?.dialog !== undefined, 8000, 'the agent answers');
    await a.page.waitForFunction(
      (id) =>
        window.sb.events.some(
          (event) =>
            event.payload.callId === id &&
            (event.payload.queue as { state?: string } | null)?.state === 'connected',
        ),
      callId,
      { timeout: 8000, polling: 25 },
    );
    b.media!.startTone(HZ.b);
    await Promise.all([
      pageHears(a, callId, HZ.b, 'the UDP agent B', 8000),
      phoneHears(b, HZ.browser, 'the browser caller', 8000),
    ]);
    const agentCall = b.incoming[0]!;
    const invitesBefore = await reInvitesSeen(a, callId);

    c.answerAfterRinging(300);
    expect((await refer(b, agentCall, `<sip:1003@${DOMAIN}>`)).status).toBe(202);
    await agentCall.waitForBye(8000);
    expect(notified(b)).toEqual(['SIP/2.0 100 Trying', 'SIP/2.0 180 Ringing', 'SIP/2.0 200 OK']);
    expect(c.incoming[0]!.invite.headers.get('X-Server-Call-Id')).toBe(serverSideCallId);

    c.media!.startTone(HZ.c);
    await Promise.all([
      pageHears(a, callId, HZ.c, 'C after the transfer (re-INVITE accepted)', 8000),
      phoneHears(c, HZ.browser, 'the browser caller after the transfer', 8000),
    ]);
    // The platform re-INVITEd the browser (a new offer), and JsSIP took it without a media failure.
    expect(await reInvitesSeen(a, callId)).toBeGreaterThan(invitesBefore);
    expect(await a.connectionState(callId)).toBe('connected');

    // The SDK's identifiers of the call never changed: every event and the live snapshot agree.
    const calls = (await a.events()).filter((event) => event.payload.callId === callId);
    expect(new Set(calls.map((event) => event.payload.serverSideCallId))).toEqual(
      new Set([serverSideCallId]),
    );
    expect(new Set(calls.map((event) => event.payload.callLegId))).toEqual(new Set([answered.callLegId]));
    const live = (await a.page.evaluate(() => window.sb.phone.calls())) as WebPhoneCall[];
    expect(live).toEqual([
      expect.objectContaining({
        callId,
        serverSideCallId,
        callLegId: answered.callLegId,
        state: 'connected',
      }),
    ]);
    expect((await a.events()).filter((event) => event.name === 'error')).toEqual([]);
    expect(a.errors).toEqual([]);

    await a.page.evaluate((id) => window.sb.phone.hangup(id), callId);
    await a.waitForEnded(callId);
    await c.incoming[0]!.waitForBye(5000);
  });
});

/**
 * How many SDP offers the page's peer connection has taken as the answerer (a re-INVITE's offer
 * from the platform), counted with a wrapper installed on first use.
 */
async function reInvitesSeen(phone: PhonePage, callId: string): Promise<number> {
  return phone.page.evaluate((id) => {
    const connection = window.sb.phone.peerConnection(id) as
      | (RTCPeerConnection & { __offersTaken?: number })
      | null;
    if (!connection) return -1;
    if (connection.__offersTaken === undefined) {
      connection.__offersTaken = 0;
      const original = connection.setRemoteDescription.bind(connection);
      connection.setRemoteDescription = ((description: RTCSessionDescriptionInit) => {
        if (description?.type === 'offer') connection.__offersTaken! += 1;
        return original(description);
      }) as typeof connection.setRemoteDescription;
    }
    return connection.__offersTaken;
  }, callId);
}

describe('attended transfer by the agent in the page', () => {
  it('hold, consult C, attendedTransfer(callId1, callId2): A and C talk in A’s call (same CallId), both page calls end', async () => {
    const a = await udpPhone('1001');
    const b = await browserPhone('1002');
    const c = await udpPhone('1003');
    const { call, answer, callId, agentCallId } = await queueCallAnsweredInPage(a, b);

    // Hold the caller: A hears the queue's music on hold.
    await b.page.evaluate((id) => window.sb.phone.hold(id), agentCallId);
    await b.page.waitForFunction(
      (id) => window.sb.phone.calls().some((live) => live.callId === id && live.held),
      agentCallId,
      { timeout: 5000 },
    );
    await phoneHears(a, HZ.queueMusic, "the queue's music while the agent holds");

    // Consult C from the page.
    c.answerAfterRinging(100);
    const consultId = await b.page.evaluate(() => window.sb.phone.makeCall('1003'));
    const consult = await b.waitForCall('call-connected', consultId, 8000);
    expect(consult.serverSideCallId).not.toBe(callId);
    c.media!.startTone(HZ.c);
    await Promise.all([
      pageHears(b, consultId, HZ.c, 'C in the consultation', 8000),
      phoneHears(c, HZ.browser, 'the agent in the consultation', 8000),
    ]);
    const cLegBefore = c.incoming[0]!.invite.headers.get('X-Call-Leg-Id');

    const requestedAt = Date.now();
    await b.page.evaluate(({ one, two }) => window.sb.phone.attendedTransfer(one, two), {
      one: agentCallId,
      two: consultId,
    });
    await b.waitForEvent('transfer-completed', agentCallId, 10_000);
    figures.push(`attended transfer from the page: completed ${Date.now() - requestedAt} ms after the call`);
    const [endedOne, endedTwo] = await Promise.all([
      b.waitForEnded(agentCallId, 5000),
      b.waitForEnded(consultId, 5000),
    ]);
    expect(endedOne.originator).toBe('remote');
    expect(endedTwo.originator).toBe('remote');
    const common = {
      callId: agentCallId,
      kind: 'attended',
      target: `sip:1003@${DOMAIN}`,
      otherCallId: consultId,
    };
    expect(await transferEvents(b, agentCallId)).toEqual([
      ['transfer-progress', { ...common, status: 100, reason: 'Trying' }],
      ['transfer-completed', { ...common, status: 200, reason: 'OK' }],
    ]);
    expect(await transferEvents(b, consultId)).toEqual([]);
    expect(await b.page.evaluate(() => window.sb.phone.calls())).toEqual([]);

    // C is re-INVITEd into A's call: A's CallId, a new CallLegId.
    await waitUntil(
      () =>
        c.receivedRequests.some((r) => r.method === 'INVITE' && r.headers.get('X-Server-Call-Id') === callId),
      5000,
      "C re-INVITEd into A's call",
    );
    const reinvite = c.receivedRequests.find(
      (r) => r.method === 'INVITE' && r.headers.get('X-Server-Call-Id') === callId,
    )!;
    expect(reinvite.headers.get('X-Call-Leg-Id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(reinvite.headers.get('X-Call-Leg-Id')).not.toBe(cLegBefore);
    await Promise.all([
      phoneHears(a, HZ.c, 'C after the attended transfer', 8000),
      phoneHears(c, HZ.a, 'A after the attended transfer', 8000),
    ]);
    // A's call is the one that goes on, with the CallId of A's 200 OK; the consultation is gone.
    expect(answer.headers.get('X-Server-Call-Id')).toBe(callId);
    expect(platform.callControl.call(callId)?.state).toBe('connected');
    expect(platform.callControl.call(consult.serverSideCallId!)).toBeUndefined();
    expect(call.ended).toBe(false);
    expect(b.errors).toEqual([]);

    expect((await call.hangup()).status).toBe(200);
    await c.incoming[0]!.waitForBye(5000);
    transferred.attended = callId;
  });
});

describe('the console softphone', () => {
  it('Transfer asks for a target and shows progress, then completed', async () => {
    const a = await udpPhone('1001');
    const c = await udpPhone('1003');
    const { page, errors } = await openConsole('b@example.com', 'secret-b');
    const call = a.call('100');
    const answer = await call.waitForFinal(5000);
    expect(answer.status).toBe(200);
    const card = page.locator('.call-card.live').first();
    await page.waitForSelector('.call-card.live[data-state="ringing"]', { timeout: 8000 });
    await card.locator('[data-testid="answer"]').click();
    await page.waitForSelector('.call-card.live[data-state="connected"]', { timeout: 8000 });
    await untilAgentConnected(a, answer);
    // One call only: the attended transfer has no other call to offer yet.
    await expect(card.locator('[data-testid="attended-transfer"]').isDisabled()).resolves.toBe(true);

    await card.locator('[data-testid="transfer"]').click();
    await card.locator('[data-testid="transfer-target"]').fill('1003');
    c.answerAfterRinging(1500);
    await card.locator('[data-testid="transfer-submit"]').click();
    await page.waitForFunction(
      () =>
        document
          .querySelector('.call-card [data-testid="transfer-status"]')
          ?.textContent?.includes('180 Ringing'),
      null,
      { timeout: 5000 },
    );
    await page.screenshot({ path: join(ARTIFACTS, 'console-softphone-transfer-ringing.png') });
    await page.waitForSelector('.call-card.ended [data-testid="transfer-status"][data-outcome="completed"]', {
      timeout: 8000,
    });
    const status = await page
      .locator('.call-card.ended [data-testid="transfer-status"]')
      .first()
      .textContent();
    expect(status).toBe(`transferred to sip:1003@${DOMAIN}`);
    await waitUntil(() => c.incoming[0]?.dialog !== undefined, 5000, 'C answered');
    c.media!.startTone(HZ.c);
    await phoneHears(a, HZ.c, 'C after the transfer from the console', 8000);
    await page.screenshot({ path: join(ARTIFACTS, 'console-softphone-transferred.png') });
    expect((await call.hangup()).status).toBe(200);
    expect(errors).toEqual([]);
  });

  it('Attended transfer joins the held call with a consultation placed from the dial form', async () => {
    const a = await udpPhone('1001');
    const c = await udpPhone('1003');
    const { page, errors } = await openConsole('b@example.com', 'secret-b');
    const call = a.call('100');
    const answer = await call.waitForFinal(5000);
    await page.waitForSelector('.call-card.live[data-state="ringing"]', { timeout: 8000 });
    const first = page.locator('.call-card.live').first();
    const firstSession = (await first.getAttribute('data-session-id'))!;
    await first.locator('[data-testid="answer"]').click();
    await page.waitForSelector('.call-card.live[data-state="connected"]', { timeout: 8000 });
    await untilAgentConnected(a, answer);
    const queueCard = page.locator(`.call-card[data-session-id="${firstSession}"]`);
    await queueCard.locator('[data-testid="hold"]').click();
    await page.waitForFunction(
      (id) =>
        document
          .querySelector(`.call-card[data-session-id="${id}"] [data-testid="call-state"]`)
          ?.textContent?.includes('on hold'),
      firstSession,
      { timeout: 5000 },
    );

    c.answerAfterRinging(100);
    await page.fill('#dial-target', '1003');
    await page.click('#dial-call');
    await page.waitForFunction(
      () => document.querySelectorAll('.call-card.live[data-state="connected"]').length === 2,
      null,
      { timeout: 8000 },
    );
    await queueCard.locator('[data-testid="attended-transfer"]').click();
    const options = await queueCard.locator('[data-testid="transfer-other"] option').allTextContents();
    expect(options).toEqual(['1003 — outgoing call']);
    await page.screenshot({ path: join(ARTIFACTS, 'console-softphone-attended-transfer.png') });
    await queueCard.locator('[data-testid="attended-submit"]').click();
    await page.waitForSelector(
      `.call-card.ended[data-session-id="${firstSession}"] [data-testid="transfer-status"][data-outcome="completed"]`,
      { timeout: 8000 },
    );
    await expect(queueCard.locator('[data-testid="transfer-status"]').textContent()).resolves.toBe(
      `transferred to sip:1003@${DOMAIN}`,
    );
    // Both of the softphone's calls ended: no live card left.
    await page.waitForFunction(() => document.querySelectorAll('.call-card.live').length === 0, null, {
      timeout: 5000,
    });
    c.media!.startTone(HZ.c);
    a.media!.startTone(HZ.a);
    await Promise.all([
      phoneHears(a, HZ.c, 'C after the attended transfer from the console', 8000),
      phoneHears(c, HZ.a, 'A after the attended transfer from the console', 8000),
    ]);
    expect((await call.hangup()).status).toBe(200);
    expect(errors).toEqual([]);
  });

  it('a failed transfer is shown on the card, which stays connected', async () => {
    const a = await udpPhone('1001');
    const { page, errors } = await openConsole('b@example.com', 'secret-b');
    const call = a.call('100');
    const answer = await call.waitForFinal(5000);
    await page.waitForSelector('.call-card.live[data-state="ringing"]', { timeout: 8000 });
    const card = page.locator('.call-card.live').first();
    await card.locator('[data-testid="answer"]').click();
    await page.waitForSelector('.call-card.live[data-state="connected"]', { timeout: 8000 });
    await untilAgentConnected(a, answer);
    await card.locator('[data-testid="transfer"]').click();
    await card.locator('[data-testid="transfer-target"]').fill('nobody');
    await card.locator('[data-testid="transfer-submit"]').click();
    await page.waitForSelector('.call-card.live [data-testid="transfer-status"][data-outcome="failed"]', {
      timeout: 5000,
    });
    await expect(card.locator('[data-testid="transfer-status"]').textContent()).resolves.toMatch(
      /^transfer to sip:nobody@switchboard\.local failed: 404 Not Found/,
    );
    await expect(card.getAttribute('data-state')).resolves.toBe('connected');
    expect((await call.hangup()).status).toBe(200);
    expect(errors).toEqual([]);
  });
});

/** The console signed in as `email`, its softphone registered. */
async function openConsole(email: string, password: string): Promise<RecordingPage> {
  const recording = await openConsolePage(browser.browser, platform.httpUrl, email, password);
  opened.push({ close: () => recording.context.close() });
  return recording;
}

describe('the records of the transferred calls (REST)', () => {
  /** DESIGN.md §10: a service call transferred by its agent gets a detail 204 UserTransfer. */
  async function expectTransferRecords(callId: string | undefined, how: string): Promise<void> {
    expect(callId, `the ${how} transfer test ran and completed`).toBeDefined();
    const { headers, details } = await serviceCall(callId!);
    const support = platform.directory.queueByExtensionOrNumber('100')!.queueId;
    // One header per queue the call was in: Support, answered by B.
    expect(headers).toHaveLength(1);
    expect(headers[0]).toMatchObject({ CallId: callId, QueueId: support, Result: 'Handled' });
    expect(headers[0]!.AnsweredByUserId).toBe(userId('1002'));
    const transfers = details.filter((detail) => detail.EventType === 204);
    expect(
      transfers,
      `a UserTransfer detail; details: ${details.map((d) => `${d.EventType} ${d.EventTypeString}`).join(', ')}`,
    ).toHaveLength(1);
    expect(transfers[0]).toMatchObject({ EventTypeString: 'UserTransfer', UserId: userId('1002') });
    expect(String(transfers[0]!.Reason)).toMatch(/c@example\.com|1003/);
    // The user call events: B's names where the call went (TransferredTo), C's is the call's rest.
    const events = await admin.list<Json>('/calls', { CallId: callId! });
    const ofB = events.filter((event) => event.UserId === userId('1002'));
    expect(ofB.length).toBeGreaterThan(0);
    expect(ofB.map((event) => event.TransferredTo)).toContainEqual(
      expect.stringMatching(/c@example\.com|1003/),
    );
    const ofC = events.filter((event) => event.UserId === userId('1003'));
    expect(ofC.some((event) => event.Result === 'Handled' && event.CallId === callId)).toBe(true);
    figures.push(
      `records of the ${how} transfer: details ${details.map((d) => d.EventTypeString).join(' → ')}; UserTransfer Reason "${String(transfers[0]!.Reason)}"; B's TransferredTo "${String(ofB.find((event) => event.TransferredTo)?.TransferredTo)}"`,
    );
  }

  it('blind: the service call header (answered by B) and a 204 UserTransfer by B naming C', async () => {
    await expectTransferRecords(transferred.blind, 'blind');
  });

  it('attended: the service call header (answered by B) and a 204 UserTransfer by B naming C', async () => {
    await expectTransferRecords(transferred.attended, 'attended');
  });
});
