/**
 * Queue audio with a browser caller (DESIGN.md §9 "Queue audio"): JsSIP in Chromium — the webphone
 * SDK, its fake microphone playing 1000 Hz — calls a queue of the platform's own rtpengine. The
 * queue answers at once and the page hears the greeting then the music (tones of their own, told
 * apart by frequency in the page's received audio); the SDK reports the call waiting in the queue
 * (hearing the greeting, then music) and connected once the agent — a UDP phone sending 500 Hz —
 * answers and the platform re-INVITEs the browser to the agent's media. Hold from the SDK and from
 * the phone plays music on hold to the other party; unhold restores both directions. The console's
 * softphone shows "in queue … — hearing greeting / music", and its explorer draws the new steps.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseTenantYaml } from '../src/config/load.js';
import type { Platform } from '../src/platform.js';
import type { TestUa } from '../src/testing/test-ua.js';
import { removeToneWav, writeToneWav } from '../src/testing/tone-wav.js';
import { waitUntil, waitUntilAsync } from '../src/testing/wait.js';
import type { QueueStatus, WebPhoneCall } from '../src/webphone/webphone.js';
import { openConsolePage, type RecordingPage } from './support/browser.js';
import {
  launchChromiumWithTone,
  type PageTone,
  type ToneBrowser,
  waitForTone,
  webphonePeerConnection,
} from './support/browser-audio.js';
import { endMediaTest, mediaPhone } from './support/media-phones.js';
import { type RestClient, startTestPlatform, type TestPlatform } from './support/platform.js';
import { type PhonePage, type RecordedEvent, tenantPhonePage } from './support/webphone-pages.js';

const DOMAIN = 'switchboard.local';
const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts');
/** The tones of the configured audio files and of the parties. */
const HZ = {
  greeting: 700,
  music: 450,
  holdMusic: 350,
  browser: 1000,
  phone: 500,
} as const;
const ALL = Object.values(HZ);
/** Long enough for the browser's media (ICE, DTLS) to be up while the greeting still plays. */
const GREETING_MS = 2500;

let env: TestPlatform;
let platform: Platform;
let browser: ToneBrowser;
let admin: RestClient;
const files: string[] = [];
const opened: { close(): Promise<void> }[] = [];
/** What each test measured, printed at the end of the suite. */
const figures: string[] = [];

type Json = Record<string, unknown>;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const tone = async (frequency: number, durationMs: number) => {
    const path = await writeToneWav({ frequency, durationMs, sampleRate: 8000 });
    files.push(path);
    return path;
  };
  const greeting = await tone(HZ.greeting, GREETING_MS);
  const music = await tone(HZ.music, 1200);
  const holdMusic = await tone(HZ.holdMusic, 1000);
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
  - name: Support
    extension: "100"
    members: [b@example.com]
    greeting: ${greeting}
    musicOnHold: ${music}
`,
    'queue-audio-browser.yaml',
  );
  [env, browser] = await Promise.all([
    startTestPlatform(tenant, 'sqlite', { mediaDefault: 'auto' }),
    launchChromiumWithTone(HZ.browser),
  ]);
  ({ platform } = env);
  expect(platform.media, 'the platform started its own rtpengine').toBeDefined();
  admin = await env.rest('admin@example.com', 'secret-admin');
}, 60_000);

// No leak: after each test no call is left, in call control or in the media engine.
afterEach(() => endMediaTest(platform, opened, ['1001', '1002', '1003']));

afterAll(async () => {
  if (figures.length > 0) console.info(`queue audio in the browser, measured:\n  ${figures.join('\n  ')}`);
  await browser?.close();
  await env?.close();
  for (const file of files) await removeToneWav(file);
});

// ---- parties -------------------------------------------------------------------------------------

const udpPhone = (extension: string): Promise<TestUa> =>
  mediaPhone(platform, extension, { domain: DOMAIN, opened });

const browserPhone = (extension: string): Promise<PhonePage> =>
  tenantPhonePage(browser.browser, platform, extension, { domain: DOMAIN, opened });

/** The console signed in as `email`, its softphone registered. */
async function openConsole(email: string, password: string): Promise<RecordingPage> {
  const recording = await openConsolePage(browser.browser, platform.httpUrl, email, password);
  opened.push({ close: () => recording.context.close() });
  return recording;
}

// ---- what the page's SDK said --------------------------------------------------------------------

/** How many events the page's SDK has emitted so far: a mark for `waitForCallState`'s `after`. */
const eventCount = (phone: PhonePage): Promise<number> => phone.page.evaluate(() => window.sb.events.length);

/**
 * The first `call-connected` / `call-updated` event of `callId` (from the `after`th event on)
 * whose call matches `match` (its `queue` compared field by field) — waiting for it if it has not
 * happened yet.
 */
async function waitForCallState(
  phone: PhonePage,
  callId: string,
  match: Partial<Omit<WebPhoneCall, 'queue'>> & { queue?: Partial<QueueStatus> },
  { after = 0, timeoutMs = 10_000 }: { after?: number; timeoutMs?: number } = {},
): Promise<RecordedEvent & { call: WebPhoneCall }> {
  const find = ({
    callId,
    match,
    after,
  }: {
    callId: string;
    match: Record<string, unknown>;
    after: number;
  }) =>
    window.sb.events.find((event, index) => {
      if (index < after) return false;
      if (event.name !== 'call-connected' && event.name !== 'call-updated') return false;
      const payload = event.payload as Record<string, unknown>;
      if (payload.callId !== callId) return false;
      return Object.entries(match).every(([key, value]) => {
        if (key !== 'queue' || value === null || typeof value !== 'object') return payload[key] === value;
        const queue = payload.queue as Record<string, unknown> | null;
        return queue !== null && Object.entries(value).every(([field, wanted]) => queue[field] === wanted);
      });
    }) ?? null;
  try {
    await phone.page.waitForFunction(find, { callId, match, after }, { timeout: timeoutMs, polling: 25 });
  } catch (error) {
    const seen = (await phone.events()).map(
      (event) => `${event.name} ${JSON.stringify(event.payload.queue)}`,
    );
    throw new Error(
      `no call event matching ${JSON.stringify(match)} within ${timeoutMs} ms; events: ${seen.join(' | ')}`,
      { cause: error },
    );
  }
  const event = (await phone.page.evaluate(find, { callId, match, after }))!;
  return { ...event, call: event.payload as unknown as WebPhoneCall };
}

// ---- measuring -----------------------------------------------------------------------------------

/** The page hears `frequency` (the dominant of every tone of the suite) in the call's received audio. */
async function pageHears(
  phone: PhonePage,
  callId: string,
  frequency: number,
  what: string,
  timeoutMs = 6000,
): Promise<PageTone> {
  const startedAt = Date.now();
  const tone = await waitForTone(phone.page, webphonePeerConnection(callId), frequency, ALL, {
    timeoutMs,
    windowMs: 300,
  }).catch(async (error: Error) => {
    throw new Error(`${error.message}; receiving: ${await receiving(phone, callId)}`, { cause: error });
  });
  expect(tone.frequency).toBe(frequency);
  figures.push(
    `page hears ${what}: ${frequency} Hz after ${Date.now() - startedAt} ms, ${tone.signalDbfs.toFixed(1)} dBFS, ${(
      (tone.candidates.find((c) => c.frequency === frequency)?.relativePower ?? 0) * 100
    ).toFixed(0)}% of the candidates' power`,
  );
  return tone;
}

/** What the call's peer connection receives (its inbound RTP streams), for a failure's message. */
function receiving(phone: PhonePage, callId: string): Promise<string> {
  return phone.page
    .evaluate(async (id) => {
      const connection = window.sb.phone.peerConnection(id);
      if (!connection) return 'no peer connection';
      const streams: string[] = [];
      (await connection.getStats()).forEach((report: Record<string, unknown>) => {
        if (report.type !== 'inbound-rtp') return;
        streams.push(
          `SSRC ${String(report.ssrc)}: ${String(report.packetsReceived)} packets, audio energy ${Number(report.totalAudioEnergy).toFixed(3)}, track "${String(report.trackIdentifier)}"`,
        );
      });
      const transceivers = connection
        .getTransceivers()
        .map((t) => `${t.mid}: ${t.currentDirection}, track ${t.receiver.track.readyState}`);
      return `${connection.connectionState}; ${streams.join('; ') || 'no inbound RTP'}; ${transceivers.join('; ')}`;
    }, callId)
    .catch((error: Error) => `unknown (${error.message})`);
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

/** The service call header of `callId` once post-processing wrote it with `result`. */
async function serviceCall(callId: string, result: string): Promise<Json> {
  let headers: Json[] = [];
  await waitUntilAsync(
    async () => {
      headers = await admin.list<Json>('/servicecall', { CallId: callId });
      return headers.some((header) => header.Result === result);
    },
    8000,
    `the service call record of ${callId}`,
  );
  return headers.find((header) => header.Result === result)!;
}

const apiTime = (value: unknown): number => Date.parse(`${String(value)}Z`.replace(/ZZ$/, 'Z'));

// ---- the tests -----------------------------------------------------------------------------------

describe('a browser caller waiting in a queue', () => {
  it('is answered within 1 s, hears the greeting then music, is told so by the SDK, then talks to the agent', async () => {
    const a = await browserPhone('1001');
    const callId = await a.page.evaluate(() => window.sb.phone.makeCall('100'));

    // Answered by the queue at once: the SDK's call is connected, waiting in the queue.
    const answered = (await a.waitForCall('call-connected', callId, 5000)) as WebPhoneCall;
    const answeredInMs = answered.connectedAt! - answered.startedAt;
    figures.push(`queue answered the browser's INVITE ${answeredInMs} ms after makeCall`);
    expect(answeredInMs).toBeLessThan(1000);
    expect(answered).toMatchObject({ state: 'connected', queueName: 'Support' });
    expect(answered.serverSideCallId).toMatch(/^[0-9a-f-]{36}$/);
    expect(answered.queue).toEqual({
      state: 'waiting',
      queueId: platform.directory.queueByExtensionOrNumber('100')!.queueId,
      queueName: 'Support',
      hearing: 'greeting',
      greetingMs: GREETING_MS,
      answeredAt: expect.any(Number),
      agentConnectedAt: null,
    });
    const serverSideCallId = answered.serverSideCallId!;

    // What the page receives: the greeting, then the music — and the SDK turns to "music" meanwhile.
    await pageHears(a, callId, HZ.greeting, 'the greeting', 3000);
    const music = await waitForCallState(
      a,
      callId,
      { queue: { state: 'waiting', hearing: 'music' } },
      { timeoutMs: 6000 },
    );
    expect(music.name).toBe('call-updated');
    // The SDK turned to the music when the greeting, as the platform announced it, had played.
    const greetingShownMs = music.atMs - answered.queue!.answeredAt;
    figures.push(`SDK: hearing greeting → music after ${greetingShownMs} ms (greeting ${GREETING_MS} ms)`);
    expect(Math.abs(greetingShownMs - GREETING_MS)).toBeLessThan(300);
    await pageHears(a, callId, HZ.music, 'the music', 4000);
    // Still the music after more than one pass of its 1.2 s file.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await pageHears(a, callId, HZ.music, 'the music, looping', 1000);
    expect(platform.callControl.call(serverSideCallId)?.state).toBe('queued');

    // An agent becomes available: B registers, is offered the call and answers.
    const b = await udpPhone('1002');
    b.answerAfterRinging(100);
    await waitUntil(() => b.incoming[0]?.dialog !== undefined, 5000, 'the agent answers the offer');
    const agentAnsweredAt = Date.now();
    b.media!.startTone(HZ.phone);
    const connected = await waitForCallState(
      a,
      callId,
      { queue: { state: 'connected' } },
      { timeoutMs: 8000 },
    );
    expect(connected.name).toBe('call-updated');
    expect(connected.call).toMatchObject({
      state: 'connected',
      serverSideCallId,
      connectedAt: answered.connectedAt,
      queue: {
        state: 'connected',
        hearing: null,
        queueName: 'Support',
        answeredAt: answered.queue!.answeredAt,
      },
    });
    expect(Math.abs(connected.call.queue!.agentConnectedAt! - agentAnsweredAt)).toBeLessThan(1500);
    await Promise.all([
      pageHears(a, callId, HZ.phone, 'the agent after the re-INVITE', 8000),
      phoneHears(b, HZ.browser, 'the browser caller', 8000),
    ]);

    // Hold from the SDK after the queue's re-INVITE: the agent hears the queue's music, the resume both.
    await a.page.evaluate((id) => window.sb.phone.hold(id), callId);
    await waitForCallState(a, callId, { held: true });
    await phoneHears(b, HZ.music, "the queue's music while the caller holds");
    const mark = await eventCount(a);
    await a.page.evaluate((id) => window.sb.phone.unhold(id), callId);
    await waitForCallState(a, callId, { held: false, queue: { state: 'connected' } }, { after: mark });
    await Promise.all([
      phoneHears(b, HZ.browser, 'the caller again after unhold'),
      pageHears(a, callId, HZ.phone, 'the agent again after unhold'),
    ]);

    await a.page.evaluate((id) => window.sb.phone.hangup(id), callId);
    const ended = await a.waitForEnded(callId);
    expect(ended.queue).toMatchObject({ state: 'connected' });

    // The service call was answered by the agent, not by the queue's greeting.
    const header = await serviceCall(serverSideCallId, 'Handled');
    const answerTime = apiTime(header.AnswerTime);
    figures.push(
      `AnswerTime − agent's answer: ${answerTime - agentAnsweredAt} ms; WaitTime ${String(header.WaitTime)} s`,
    );
    expect(Math.abs(answerTime - agentAnsweredAt)).toBeLessThan(1500);
    expect(answerTime - answered.connectedAt!).toBeGreaterThan(GREETING_MS);
    expect(header.AnsweredByUserId).toBe(platform.directory.userByExtension('1002')!.userId);
    expect(a.errors).toEqual([]);
  });
});

describe('hold with a browser and a UDP phone', () => {
  it('the SDK holds: the phone hears music on hold; unhold: both directions again', async () => {
    const phone = await udpPhone('1003');
    const a = await browserPhone('1001');
    phone.answerAfterRinging(50);
    const callId = await a.page.evaluate(() => window.sb.phone.makeCall('1003'));
    const connected = await a.waitForCall('call-connected', callId);
    expect(connected.queue).toBeNull();
    phone.media!.startTone(HZ.phone);
    await Promise.all([
      pageHears(a, callId, HZ.phone, 'the phone (direct call)', 8000),
      phoneHears(phone, HZ.browser, 'the browser (direct call)', 8000),
    ]);

    await a.page.evaluate((id) => window.sb.phone.hold(id), callId);
    await waitForCallState(a, callId, { held: true });
    // The SDK says "held" as soon as its own re-INVITE is answered; the relayed one reaches the
    // phone through the engine, which may take a moment under load.
    await waitUntil(
      () => phone.receivedRequests.filter((request) => request.method === 'INVITE').length >= 2,
      5000,
      'the hold re-INVITE relayed to the phone',
    );
    const holdInvite = phone.receivedRequests.filter((request) => request.method === 'INVITE').at(-1)!;
    expect(holdInvite.body.toString()).toMatch(/^a=(sendonly|inactive)/m);
    await phoneHears(phone, HZ.holdMusic, 'music on hold (browser holds)');

    const mark = await eventCount(a);
    await a.page.evaluate((id) => window.sb.phone.unhold(id), callId);
    await waitForCallState(a, callId, { held: false }, { after: mark });
    await Promise.all([
      phoneHears(phone, HZ.browser, 'the browser after unhold'),
      pageHears(a, callId, HZ.phone, 'the phone after unhold'),
    ]);
    await a.page.evaluate((id) => window.sb.phone.hangup(id), callId);
    await a.waitForEnded(callId);
    expect(a.errors).toEqual([]);
  });

  it('the phone holds: the page hears music on hold; resume: both directions again', async () => {
    const phone = await udpPhone('1003');
    const a = await browserPhone('1001');
    phone.answerAfterRinging(50);
    const callId = await a.page.evaluate(() => window.sb.phone.makeCall('1003'));
    await a.waitForCall('call-connected', callId);
    phone.media!.startTone(HZ.phone);
    await pageHears(a, callId, HZ.phone, 'the phone (direct call)', 8000);
    const dialog = phone.incoming[0]!.dialog!;

    const hold = await phone.sendInDialog(
      dialog,
      'INVITE',
      Buffer.from(phone.media!.sdp('1003', { direction: 'sendonly' })),
    );
    expect(hold.status).toBe(200);
    await pageHears(a, callId, HZ.holdMusic, 'music on hold (phone holds)');
    // The relayed re-offer is sendonly: the SDK tells the app the other side holds.
    await waitForCallState(a, callId, { heldByRemote: true }, { timeoutMs: 3000 });

    const mark = await eventCount(a);
    const resume = await phone.sendInDialog(dialog, 'INVITE', Buffer.from(phone.media!.sdp('1003')));
    expect(resume.status).toBe(200);
    await waitForCallState(a, callId, { heldByRemote: false }, { after: mark, timeoutMs: 3000 });
    await Promise.all([
      pageHears(a, callId, HZ.phone, 'the phone after resume'),
      phoneHears(phone, HZ.browser, 'the browser after resume'),
    ]);
    await a.page.evaluate((id) => window.sb.phone.hangup(id), callId);
    await a.waitForEnded(callId);
    expect(a.errors).toEqual([]);
  });
});

describe('the console', () => {
  it('shows a waiting outbound call "in queue … hearing greeting", then music, then connected; the explorer draws the queue audio', async () => {
    const { page, errors } = await openConsole('a@example.com', 'secret-a');
    await page.fill('#dial-target', '100');
    await page.click('#dial-call');

    const card = page.locator('.call-card.live');
    const badge = card.locator('[data-testid="call-state"]');
    await page.waitForSelector('.call-card[data-state="queued"][data-hearing="greeting"]', { timeout: 5000 });
    await expect(badge.textContent()).resolves.toBe('in queue Support — hearing greeting');
    await page.screenshot({ path: join(ARTIFACTS, 'console-softphone-queue-greeting.png') });
    await page.waitForSelector('.call-card[data-state="queued"][data-hearing="music"]', {
      timeout: GREETING_MS + 3000,
    });
    await expect(badge.textContent()).resolves.toBe('in queue Support — hearing music');
    const serverSideCallId = (await card.locator('[data-testid="server-side-call-id"]').textContent())!;
    expect(serverSideCallId).toMatch(/^[0-9a-f-]{36}$/);

    const b = await udpPhone('1002');
    b.answerAfterRinging(100);
    await page.waitForSelector('.call-card.live[data-state="connected"]', { timeout: 10_000 });
    await expect(badge.textContent()).resolves.toBe('connected');
    await expect(card.locator('[data-testid="hold"]').textContent()).resolves.toBe('Hold');

    // Hold and resume from the card: the explorer shows both re-INVITEs.
    await card.locator('[data-testid="hold"]').click();
    await page.waitForFunction(
      () =>
        document
          .querySelector('.call-card.live [data-testid="call-state"]')
          ?.textContent?.includes('on hold'),
      null,
      { timeout: 5000 },
    );
    await card.locator('[data-testid="hold"]').click(); // now "Resume"
    await page.waitForFunction(
      () => document.querySelector('.call-card.live [data-testid="call-state"]')?.textContent === 'connected',
      null,
      { timeout: 5000 },
    );
    await card.locator('[data-testid="hangup"]').click();
    await page.waitForSelector('.call-card[data-state="ended"]', { timeout: 5000 });

    await page.fill('#explore-input', serverSideCallId);
    await page.click('#explore-submit');
    const map = page.locator(`.call-map[data-call-id="${serverSideCallId}"]`);
    await map.waitFor({ timeout: 10_000 });
    const wanted = [
      'queue answered the caller',
      '\u266a greeting',
      '\u266a music on hold',
      're-INVITE: media to agent',
      're-INVITE: hold',
      're-INVITE: resume',
    ];
    await page.waitForFunction(
      ({ callId, wanted }) => {
        const steps = Array.from(
          document.querySelectorAll(`.call-map[data-call-id="${callId}"] svg.sequence g.step`),
        );
        const texts = steps.map((step) => step.querySelector('text')?.textContent ?? '');
        return wanted.every((label) => texts.some((text) => text.startsWith(label)));
      },
      { callId: serverSideCallId, wanted },
      { timeout: 10_000 },
    );
    const steps = await map.locator('svg.sequence g.step').evaluateAll((groups) =>
      groups.map((group) => ({
        className: group.getAttribute('class'),
        fact: group.getAttribute('data-fact'),
        text: group.querySelector('text')?.textContent ?? '',
      })),
    );
    const step = (label: string) => steps.find((candidate) => candidate.text.startsWith(label))!;
    expect(step('queue answered the caller')).toMatchObject({
      fact: 'QueueAnswered',
      className: 'step note',
    });
    expect(step('\u266a greeting')).toMatchObject({ fact: 'AudioPlayed', className: 'step audio' });
    expect(step('\u266a music on hold')).toMatchObject({ fact: 'AudioPlayed', className: 'step audio' });
    expect(step('re-INVITE: media to agent')).toMatchObject({
      fact: 'MediaBridged',
      className: 'step reinvite',
    });
    expect(step('re-INVITE: hold')).toMatchObject({ fact: 'HoldChanged', className: 'step reinvite' });
    expect(step('re-INVITE: resume')).toMatchObject({ fact: 'HoldChanged', className: 'step reinvite' });
    // In order: the queue answers and plays before the agent's media, hold before resume.
    const index = (label: string) => steps.indexOf(step(label));
    expect(index('queue answered the caller')).toBeLessThan(index('\u266a greeting'));
    expect(index('\u266a greeting')).toBeLessThan(index('\u266a music on hold'));
    expect(index('\u266a music on hold')).toBeLessThan(index('re-INVITE: media to agent'));
    expect(index('re-INVITE: media to agent')).toBeLessThan(index('re-INVITE: hold'));
    expect(index('re-INVITE: hold')).toBeLessThan(index('re-INVITE: resume'));
    await map.screenshot({ path: join(ARTIFACTS, 'console-call-map-queue-audio.png') });
    expect(errors).toEqual([]);
  });
});
