/**
 * Recordings end to end (issue 13, DESIGN.md §9): the seed's queue call with `recordInbound` on a
 * platform with its own rtpengine — B declines, C answers, A and C send different tones — yields one
 * recording: stereo, A's tone on channel 0 and C's on channel 1 (decoded from the MP3 the API
 * serves), duration within 0.5 s of the connected time, listed in RecordingIds of A's and C's
 * events and of the service call header but not of B's. The file downloads with the token and no
 * Authorization, and with Basic auth; B and a user without grants get 404; an altered token 403.
 * Then who owns a recording: a direct call to a user with `recordDirectCalls` (the user), and an
 * outbound service call for a queue with `recordOutbound` (the queue, on the outbound record).
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTenantYaml } from '../src/config/load.js';
import type { Platform } from '../src/platform.js';
import { decodeMp3 } from '../src/recordings/testing.js';
import { dominantTone } from '../src/testing/audio.js';
import type { TestUa } from '../src/testing/test-ua.js';
import { mediaPhone, seedCallWithTones, untilAgentConnected } from './support/media-phones.js';
import { type RestClient, startTestPlatform, type TestPlatform, waitFor } from './support/platform.js';
import { freeUdpPort } from './support/sipp.js';

const DOMAIN = 'switchboard.local';
const TONES = [500, 1000, 1500];
const TALK_MS = 2500;
let env: TestPlatform;
let platform: Platform;
const opened: { close(): Promise<void> }[] = [];

interface Scenario {
  callId: string;
  legC: string;
  connectedMs: number;
}
let scenario: Scenario;

let trunkPort: number;

beforeAll(async () => {
  trunkPort = await freeUdpPort();
  const tenant = parseTenantYaml(
    `
domain: ${DOMAIN}
users:
  - { username: a@example.com, extension: "1001", password: secret-a }
  - { username: b@example.com, extension: "1002", password: secret-b }
  - { username: c@example.com, extension: "1003", password: secret-c }
  - { username: admin@example.com, extension: "1000", password: secret-admin, role: admin }
  - { username: d@example.com, extension: "1004", password: secret-d }
  - { username: e@example.com, extension: "1005", password: secret-e, recordDirectCalls: true }
queues:
  - { name: Support, extension: "100", members: [b@example.com, c@example.com], recordInbound: true, recordOutbound: true }
trunks:
  - { name: pstn, host: 127.0.0.1, port: ${trunkPort} }
`,
    'recordings.yaml',
  );
  env = await startTestPlatform(tenant, 'sqlite', { mediaDefault: 'auto' });
  ({ platform } = env);
  expect(platform.media).toBeDefined();

  scenario = await seedCallWithTones(platform, { domain: DOMAIN, opened, talkMs: TALK_MS });
}, 60_000);

afterAll(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
  await env?.close();
});

/** The recording once the worker has rendered it (the first try may wait for the engine's capture). */
async function readyRecordingId(admin: RestClient): Promise<string> {
  const header = await waitFor(
    async () => {
      const rows = await admin.list<{ RecordingIds: string[] }>('/servicecall', { CallId: scenario.callId });
      return rows[0]?.RecordingIds.length ? rows[0] : undefined;
    },
    10_000,
    'RecordingIds on the service call header',
  );
  const [recordingId] = header.RecordingIds;
  await waitFor(
    async () => (await platform.recordings.getRecording(recordingId!))?.state === 'ready' || undefined,
    30_000,
    'the rendered recording',
  );
  return recordingId!;
}

describe('a recorded queue call', () => {
  it('is one stereo MP3: A on channel 0, C on channel 1, as long as the call was connected', async () => {
    const admin = await env.rest('admin@example.com', 'secret-admin');
    const recordingId = await readyRecordingId(admin);
    const info = await admin.get(`/calls/recordings/${recordingId}`);
    expect(info.status).toBe(200);
    const body = info.body as {
      Id: string;
      CallId: string;
      URL: string;
      Duration: number;
      ContentType: string;
    };
    expect(body).toMatchObject({ Id: recordingId, CallId: scenario.callId, ContentType: 'audio/mpeg' });
    expect(body.URL).toMatch(new RegExp(`^calls/recordings/${recordingId}/file\\?token=`));

    // The token alone downloads it: no Authorization header at all.
    const file = await fetch(new URL(body.URL, platform.httpUrl));
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('audio/mpeg');
    const mp3 = new Uint8Array(await file.arrayBuffer());
    const { sampleRate, channels } = await decodeMp3(mp3);
    expect(channels).toHaveLength(2);
    const durationMs = (channels[0]!.length / sampleRate) * 1000;
    console.log(
      `recording ${recordingId}: ${durationMs.toFixed(0)} ms for ${scenario.connectedMs} ms connected, ${mp3.length} bytes`,
    );
    expect(Math.abs(durationMs - scenario.connectedMs)).toBeLessThan(500);
    expect(Math.abs(body.Duration * 1000 - scenario.connectedMs)).toBeLessThan(1000);
    // Skip the first half second (the tones start right after the answer) and analyse the rest.
    const from = Math.round(sampleRate * 0.5);
    expect(dominantTone(channels[0]!.subarray(from), sampleRate, TONES).frequency).toBe(1000);
    expect(dominantTone(channels[1]!.subarray(from), sampleRate, TONES).frequency).toBe(500);
  });

  it('is listed on the header and on the events of A and C, not of B who only declined', async () => {
    const admin = await env.rest('admin@example.com', 'secret-admin');
    const recordingId = await readyRecordingId(admin);
    const events = await admin.list<{ UserId: string; CallLegId: string; RecordingIds: string[] }>('/calls', {
      CallId: scenario.callId,
    });
    const byUser = new Map(
      events.map((event) => [platform.directory.userById(event.UserId)?.extension, event]),
    );
    expect(byUser.get('1003')?.RecordingIds).toEqual([recordingId]);
    expect(byUser.get('1003')?.CallLegId).toBe(scenario.legC);
    expect(byUser.get('1002')?.RecordingIds).toEqual([]);
    expect(byUser.get('1001')?.RecordingIds).toEqual([recordingId]);
  });

  it('is visible to C (a party) and downloads with Basic auth; B and D get 404; an altered token 403', async () => {
    const admin = await env.rest('admin@example.com', 'secret-admin');
    const recordingId = await readyRecordingId(admin);
    const c = await env.rest('c@example.com', 'secret-c');
    const asC = await c.get(`/calls/recordings/${recordingId}`);
    expect(asC.status).toBe(200);
    const basic = await fetch(new URL(`calls/recordings/${recordingId}/file`, platform.httpUrl), {
      headers: { Authorization: (c as unknown as { authorization: string }).authorization },
    });
    expect(basic.status).toBe(200);
    expect((await basic.arrayBuffer()).byteLength).toBeGreaterThan(1000);

    for (const [email, password] of [
      ['b@example.com', 'secret-b'],
      ['d@example.com', 'secret-d'],
    ] as const) {
      const other = await env.rest(email, password);
      expect((await other.get(`/calls/recordings/${recordingId}`)).status, email).toBe(404);
    }
    // The identifier map finds the call by the RecordingId, for C; B sees nothing by it.
    const lookup = await c.get('/diagnostics/lookup', { id: recordingId });
    expect(lookup.status).toBe(200);
    expect((lookup.body as { Matches: { Kind: string; CallId: string }[] }).Matches).toEqual([
      expect.objectContaining({ Kind: 'RecordingId', CallId: scenario.callId }),
    ]);
    const b = await env.rest('b@example.com', 'secret-b');
    expect((await b.get('/diagnostics/lookup', { id: recordingId })).status).toBe(404);
    const url = (asC.body as { URL: string }).URL;
    const altered = url.replace(/token=(.)/, (_, first: string) => `token=${first === 'A' ? 'B' : 'A'}`);
    expect((await fetch(new URL(altered, platform.httpUrl))).status).toBe(403);
    expect((await fetch(new URL(`calls/recordings/${recordingId}/file`, platform.httpUrl))).status).toBe(401);
  });
});

/** A UDP phone with an RTP peer (a registered user, or — with `local` — a device at the trunk's address). */
const device = (extension: string, local?: { port: number }): Promise<TestUa> =>
  mediaPhone(platform, extension, { domain: DOMAIN, opened, local });

/** Talk for a second with tones both ways, hang up; the recording listed on the call, once ready. */
async function recordedCall(
  caller: TestUa,
  callee: TestUa,
  target: string,
  headers: [string, string][] = [],
): Promise<{ callId: string; recordingId: string }> {
  callee.answerAfterRinging(20);
  const call = caller.call(target, headers);
  const answer = await call.waitForFinal(10_000);
  expect(answer.status).toBe(200);
  const callId = answer.headers.get('X-Server-Call-Id') ?? platform.callControl.activeCalls[0]!.callId;
  caller.media!.startTone(1000);
  callee.media!.startTone(500);
  await callee.media!.waitForTone(1000, TONES, { timeoutMs: 5000 });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  expect((await call.hangup()).status).toBe(200);
  const recordingId = await waitFor(
    async () => {
      const [row] = await platform.recordings.recordingsOfCall(callId);
      return row?.state === 'ready' ? row.recordingId : undefined;
    },
    30_000,
    'the rendered recording',
  );
  return { callId, recordingId };
}

describe('who a recording belongs to', () => {
  it("a direct call to a user with recordDirectCalls is that user's: the parties see it, others do not", async () => {
    const a = await device('1001');
    const e = await device('1005');
    const { recordingId } = await recordedCall(a, e, '1005');
    const row = await platform.recordings.getRecording(recordingId);
    expect(row).toMatchObject({
      ownerKind: 'user',
      ownerId: platform.directory.userByExtension('1005')!.userId,
    });
    for (const [email, password, status] of [
      ['e@example.com', 'secret-e', 200],
      ['a@example.com', 'secret-a', 200],
      ['d@example.com', 'secret-d', 404],
    ] as const) {
      const client = await env.rest(email, password);
      expect((await client.get(`/calls/recordings/${recordingId}`)).status, email).toBe(status);
    }
  });

  it("an outbound service call for a queue with recordOutbound is the queue's, listed on the outbound record", async () => {
    const c = await device('1003');
    const carrier = await device('carrier', { port: trunkPort });
    const { callId, recordingId } = await recordedCall(c, carrier, '+3589555002', [
      ['X-On-Behalf-Of-Queue', 'Support'],
    ]);
    const row = await platform.recordings.getRecording(recordingId);
    expect(row).toMatchObject({
      ownerKind: 'queue',
      ownerId: platform.directory.queueByReference('Support')!.queueId,
    });
    const admin = await env.rest('admin@example.com', 'secret-admin');
    const records = await waitFor(
      async () => {
        const rows = await admin.list<{ RecordingIds: string[] }>('/outbound-servicecall', {
          CallId: callId,
        });
        return rows[0]?.RecordingIds.length ? rows : undefined;
      },
      10_000,
      'the outbound record with its recording',
    );
    expect(records[0]!.RecordingIds).toEqual([recordingId]);
  });
});

describe('a recorded call across a transfer', () => {
  it('is one recording: A on channel 0 throughout, B then C on channel 1, listed on all three', async () => {
    for (const extension of ['1001', '1002', '1003']) platform.location.removeAll(extension, 'unregistered');
    const a = await device('1001');
    const b = await device('1002');
    b.answerAfterRinging(20);
    const call = a.call('100');
    const answer = await call.waitForFinal(10_000);
    expect(answer.status).toBe(200);
    const callId = answer.headers.get('X-Server-Call-Id')!;
    await untilAgentConnected(a, answer);
    const agentCall = b.incoming[0]!;
    a.media!.startTone(1000);
    b.media!.startTone(500);
    await b.media!.waitForTone(1000, TONES, { timeoutMs: 5000 });
    const connectedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // C registers only now (the queue offered the call to B first) and takes the transfer.
    const c = await device('1003');
    c.answerAfterRinging(20);
    const accepted = await b.sendInDialog(agentCall.dialog!, 'REFER', undefined, [
      ['Refer-To', `<sip:1003@${DOMAIN}>`],
    ]);
    expect(accepted.status).toBe(202);
    await agentCall.waitForBye(8000);
    b.media!.stop(); // a released phone stops sending
    c.media!.startTone(1500);
    await c.media!.waitForTone(1000, TONES, { timeoutMs: 5000 });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await call.hangup()).status).toBe(200);
    const connectedMs = Date.now() - connectedAt;

    const recordingId = await waitFor(
      async () => {
        const rows = await platform.recordings.recordingsOfCall(callId);
        return rows.length === 1 && rows[0]!.state === 'ready' ? rows[0]!.recordingId : undefined;
      },
      30_000,
      'the one rendered recording',
    );
    expect(await platform.recordings.recordingsOfCall(callId)).toHaveLength(1);
    const admin = await env.rest('admin@example.com', 'secret-admin');
    const info = (await admin.get(`/calls/recordings/${recordingId}`)).body as { URL: string };
    const mp3 = new Uint8Array(await (await fetch(new URL(info.URL, platform.httpUrl))).arrayBuffer());
    const { sampleRate, channels } = await decodeMp3(mp3);
    const seconds = channels[0]!.length / sampleRate;
    console.log(
      `recording across a transfer: ${(seconds * 1000).toFixed(0)} ms for ${connectedMs} ms connected`,
    );
    expect(Math.abs(seconds * 1000 - connectedMs)).toBeLessThan(1500);
    const part = (channel: number, fromS: number, toS: number) =>
      dominantTone(
        channels[channel]!.subarray(Math.round(fromS * sampleRate), Math.round(toS * sampleRate)),
        sampleRate,
        TONES,
      ).frequency;
    // A throughout; B at the start, C at the end.
    expect(part(0, 0.3, 1.2)).toBe(1000);
    expect(part(0, seconds - 1.2, seconds - 0.3)).toBe(1000);
    expect(part(1, 0.3, 1.2)).toBe(500);
    expect(part(1, seconds - 1.2, seconds - 0.3)).toBe(1500);
    // Listed on the header and on the events of A, B and C.
    const events = await waitFor(
      async () => {
        const rows = await admin.list<{ UserId: string; RecordingIds: string[] }>('/calls', {
          CallId: callId,
        });
        return rows.length >= 3 ? rows : undefined;
      },
      10_000,
      'the events of A, B and C',
    );
    for (const extension of ['1001', '1002', '1003']) {
      const userId = platform.directory.userByExtension(extension)!.userId;
      expect(events.find((event) => event.UserId === userId)?.RecordingIds, extension).toEqual([recordingId]);
    }
  });
});
