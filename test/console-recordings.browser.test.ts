/**
 * The console's Recordings section in Chromium, on a real recording: the seed's queue call with
 * `recordInbound` on a platform with its own rtpengine — A calls queue Support, B declines, C
 * answers, A sends 1000 Hz and C 500 Hz for about two seconds, A hangs up — rendered by the
 * recording worker. An admin explores the CallId and sees the recording: its RecordingId, owner
 * Support, channel 0 = A's leg and channel 1 = C's leg (named and linked to the legs table), a
 * native player whose file loads with the recording's duration, and a waveform with both channels
 * drawn. A recording not rendered yet or failed says so and is asked for again. C, a party, sees
 * it too; B, who only declined, does not. Screenshots: test-artifacts/console-recordings*.png.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTenantYaml } from '../src/config/load.js';
import type { Platform } from '../src/platform.js';
import { launchChromium, openConsolePage, type RecordingPage } from './support/browser.js';
import { seedCallWithTones } from './support/media-phones.js';
import { startTestPlatform, type TestPlatform, waitFor } from './support/platform.js';

const DOMAIN = 'switchboard.local';
const TALK_MS = 2000;
const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts');

let env: TestPlatform;
let platform: Platform;
let browser: Browser;

interface Scenario {
  callId: string;
  recordingId: string;
  legA: string;
  legC: string;
  /** `Duration` of GET /calls/recordings/{id}: whole seconds. */
  duration: number;
}
let scenario: Scenario;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const tenant = parseTenantYaml(
    `
domain: ${DOMAIN}
users:
  - { username: a@example.com, displayName: User A, extension: "1001", password: secret-a }
  - { username: b@example.com, displayName: User B, extension: "1002", password: secret-b }
  - { username: c@example.com, displayName: User C, extension: "1003", password: secret-c }
  - { username: admin@example.com, displayName: Admin, extension: "1000", password: secret-admin, role: admin }
queues:
  - { name: Support, extension: "100", members: [b@example.com, c@example.com], recordInbound: true }
`,
    'console-recordings.yaml',
  );
  [env, browser] = await Promise.all([
    startTestPlatform(tenant, 'sqlite', { mediaDefault: 'auto' }),
    launchChromium(),
  ]);
  ({ platform } = env);
  expect(platform.media).toBeDefined();

  // The seed's call between UDP test phones that send real RTP (the browsers only look at the result).
  const opened: { close(): Promise<void> }[] = [];
  try {
    const { callId, legA, legC } = await seedCallWithTones(platform, {
      domain: DOMAIN,
      opened,
      talkMs: TALK_MS,
    });

    const admin = await env.rest('admin@example.com', 'secret-admin');
    const map = await waitFor(
      async () => {
        const { status, body } = await admin.get(`/diagnostics/calls/${callId}`);
        const wire = body as { Recordings?: { RecordingId: string; ALegId: string; BLegId: string }[] };
        return status === 200 && wire.Recordings?.length ? wire : undefined;
      },
      10_000,
      'the recording in the call map',
    );
    const recording = map.Recordings![0]!;
    expect(recording).toMatchObject({ ALegId: legA, BLegId: legC });
    await waitFor(
      async () =>
        (await platform.recordings.getRecording(recording.RecordingId))?.state === 'ready' || undefined,
      30_000,
      'the rendered recording',
    );
    const info = await admin.get(`/calls/recordings/${recording.RecordingId}`);
    expect(info.status).toBe(200);
    scenario = {
      callId,
      recordingId: recording.RecordingId,
      legA,
      legC,
      duration: (info.body as { Duration: number }).Duration,
    };
  } finally {
    for (const item of opened.reverse()) await item.close();
  }
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await env?.close();
});

const openConsole = (email: string, password: string): Promise<RecordingPage> =>
  openConsolePage(browser, platform.httpUrl, email, password);

async function explore(page: Page): Promise<void> {
  await page.fill('#explore-input', scenario.callId);
  await page.click('#explore-submit');
  await page.waitForSelector(`.call-map[data-call-id="${scenario.callId}"]`, { timeout: 10_000 });
}

/** The player's duration once its metadata has loaded, and the URL it loaded. */
async function playerOf(page: Page): Promise<{ src: string; duration: number }> {
  const audio = page.locator(
    `.recording[data-recording-id="${scenario.recordingId}"] audio[data-testid="recording-audio"]`,
  );
  await audio.waitFor({ timeout: 10_000 });
  return audio.evaluate(
    (element: HTMLAudioElement) =>
      new Promise<{ src: string; duration: number }>((resolve, reject) => {
        const done = () => resolve({ src: element.currentSrc || element.src, duration: element.duration });
        if (element.readyState >= HTMLMediaElement.HAVE_METADATA) return done();
        element.addEventListener('loadedmetadata', done, { once: true });
        element.addEventListener('error', () => reject(new Error(`audio error ${element.error?.code}`)), {
          once: true,
        });
        setTimeout(() => reject(new Error('no loadedmetadata within 8 s')), 8000);
      }),
  );
}

describe('the Recordings section of the call explorer', () => {
  it('shows an admin the recording: ids, owner, channels, a player as long as the recording, a waveform', async () => {
    const { context, page, errors } = await openConsole('admin@example.com', 'secret-admin');
    try {
      await explore(page);
      const map = page.locator(`.call-map[data-call-id="${scenario.callId}"]`);
      const section = map.locator('[data-testid="recordings"]');
      await expect(section.count()).resolves.toBe(1);
      const item = section.locator(`.recording[data-recording-id="${scenario.recordingId}"]`);
      await expect(item.locator('[data-testid="recording-id"]').textContent()).resolves.toBe(
        scenario.recordingId,
      );
      await expect(item.locator('[data-testid="recording-owner"]').textContent()).resolves.toBe(
        'Queue Support',
      );

      // Channel 0 is A's leg, channel 1 C's, each named, with its CallLegId, linked to its row of the legs table.
      const channels = await item.locator('.recording-channel').evaluateAll((lines) =>
        lines.map((line) => ({
          channel: line.getAttribute('data-channel'),
          text: line.textContent ?? '',
          legId: line.querySelector('.id-value')?.textContent,
          href: line.querySelector('a.leg-link')?.getAttribute('href'),
        })),
      );
      expect(channels).toEqual([
        expect.objectContaining({ channel: '0', legId: scenario.legA, href: `#leg-${scenario.legA}` }),
        expect.objectContaining({ channel: '1', legId: scenario.legC, href: `#leg-${scenario.legC}` }),
      ]);
      expect(channels[0]!.text).toContain('A — User A (1001)');
      expect(channels[1]!.text).toContain('B — User C (1003)');
      await expect(map.locator(`table.legs tr#leg-${scenario.legA}`).getAttribute('data-role')).resolves.toBe(
        'Caller',
      );
      await expect(map.locator(`table.legs tr#leg-${scenario.legC}`).textContent()).resolves.toContain(
        'recorded · channel 1 (B)',
      );
      // The records that list the recording (A's and C's events, the service call header) show its id too.
      const recordsWithIt = await map
        .locator('table.records tbody tr')
        .evaluateAll(
          (rows, id) =>
            rows
              .filter((row) =>
                Array.from(row.querySelectorAll('.id-value')).some((code) => code.textContent === id),
              )
              .map((row) => row.getAttribute('data-kind')),
          scenario.recordingId,
        );
      expect(recordsWithIt.sort()).toEqual(['ServiceCall', 'UserCallEvent', 'UserCallEvent']);

      // The native player plays the token URL of GET /calls/recordings/{id}; its length is the recording's.
      const player = await playerOf(page);
      expect(
        player.src.startsWith(`${platform.httpUrl}calls/recordings/${scenario.recordingId}/file?token=`),
      ).toBe(true);
      console.log(
        `recording ${scenario.recordingId}: <audio> ${player.duration.toFixed(2)} s, API Duration ${scenario.duration} s`,
      );
      expect(Math.abs(player.duration - scenario.duration)).toBeLessThan(0.6);

      // The waveform: drawn once the file is decoded; ink in both halves (channel 0 on top, 1 below).
      const canvas = item.locator('canvas[data-testid="recording-waveform"][data-drawn="true"]');
      await canvas.waitFor({ timeout: 10_000 });
      const ink = await canvas.evaluate((element: HTMLCanvasElement) => {
        const context = element.getContext('2d')!;
        const half = Math.floor(element.height / 2);
        const share = (top: number) => {
          const { data } = context.getImageData(0, top, element.width, half);
          let inked = 0;
          for (let index = 3; index < data.length; index += 4) if (data[index]! > 0) inked++;
          return inked / (element.width * half);
        };
        return { top: share(0), bottom: share(half), width: element.width, height: element.height };
      });
      console.log(
        `waveform ${ink.width}×${ink.height}: ${(ink.top * 100).toFixed(1)} % of the top half inked, ${(ink.bottom * 100).toFixed(1)} % of the bottom`,
      );
      // A silent channel would leave only the 1-pixel zero line (about 1.5 % of a half); a 0.5 full-scale tone ~40 %.
      expect(ink.top).toBeGreaterThan(0.15);
      expect(ink.bottom).toBeGreaterThan(0.15);
      const label = (await canvas.getAttribute('aria-label')) ?? '';
      expect(label).toMatch(/\d+\.\d s, two channels/);
      expect(label).toContain('top channel 0, A — User A (1001)');
      expect(label).toContain('bottom channel 1, B — User C (1003)');
      await expect(item.locator('.wave-label').allTextContents()).resolves.toEqual([
        'A — User A (1001)',
        'B — User C (1003)',
      ]);

      await item.screenshot({ path: join(ARTIFACTS, 'console-recordings.png') });
      await map.screenshot({ path: join(ARTIFACTS, 'console-recordings-call-map.png') });
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('says when a recording is not rendered yet or failed, asks again while the call is followed, and retries', async () => {
    const { context, page, errors } = await openConsole('admin@example.com', 'secret-admin');
    try {
      // The API's two 404s, as the route serves them (src/api/routes/recordings.ts), for the first requests.
      const replies = [
        `No recording ${scenario.recordingId}`,
        `Recording ${scenario.recordingId} is not available: its audio could not be rendered`,
      ];
      await page.route(`**/calls/recordings/${scenario.recordingId}`, async (route) => {
        const message = replies.shift();
        if (message === undefined) return route.continue();
        return route.fulfill({
          status: 404,
          contentType: 'application/json',
          body: JSON.stringify({ Message: message, Code: 'NotFound' }),
        });
      });
      await explore(page);
      const item = page.locator(`.recording[data-recording-id="${scenario.recordingId}"]`);
      const status = item.locator('[data-testid="recording-status"]');
      // Not rendered yet: said so, and asked again by itself (the call ended moments ago)…
      await expect(status.textContent()).resolves.toContain('Not rendered yet');
      await item.screenshot({ path: join(ARTIFACTS, 'console-recordings-pending.png') });
      await item.locator('.recording-media[data-state="failed"]').waitFor({ timeout: 6000 });
      // …which answers that it failed: said so with the reason, and the Retry button asks again.
      await expect(status.textContent()).resolves.toContain('Not available: Recording');
      await expect(status.textContent()).resolves.toContain('could not be rendered');
      await item.locator('[data-testid="recording-retry"]').click();
      await item.locator('audio[data-testid="recording-audio"]').waitFor({ timeout: 5000 });
      expect(replies).toEqual([]);
      // The two fulfilled 404s are the only console errors.
      expect(errors.filter((error) => !/status of 404/.test(error))).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('shows it to C, who answered (a party), and not to B, who only declined', async () => {
    const asC = await openConsole('c@example.com', 'secret-c');
    try {
      await explore(asC.page);
      const item = asC.page.locator(`.recording[data-recording-id="${scenario.recordingId}"]`);
      await expect(item.locator('[data-testid="recording-id"]').textContent()).resolves.toBe(
        scenario.recordingId,
      );
      const channels = await item
        .locator('.recording-channel .id-value')
        .evaluateAll((codes) => codes.map((code) => code.textContent));
      expect(channels).toEqual([scenario.legA, scenario.legC]);
      await expect(item.locator('.recording-channel[data-channel="1"]').textContent()).resolves.toContain(
        'B — User C (1003)',
      );
      const player = await playerOf(asC.page);
      expect(Math.abs(player.duration - scenario.duration)).toBeLessThan(0.6);
      expect(asC.errors).toEqual([]);
    } finally {
      await asC.context.close();
    }

    const asB = await openConsole('b@example.com', 'secret-b');
    try {
      await explore(asB.page);
      const map = asB.page.locator(`.call-map[data-call-id="${scenario.callId}"]`);
      await expect(map.locator('[data-testid="recordings"]').count()).resolves.toBe(0);
      expect((await map.textContent()) ?? '').not.toContain(scenario.recordingId);
      expect(asB.errors).toEqual([]);
    } finally {
      await asB.context.close();
    }
  });
});
