/**
 * Queue audio (issue 14, DESIGN.md §9 "Queue audio") with the platform's own rtpengine: a caller
 * who reaches a queue is answered at once, hears the queue's greeting then its music (each a tone
 * of its own here, so that what arrives can be told apart by frequency), and is bridged to the
 * agent who answers; hold plays music to the other party; whisper, overflow, max wait, position
 * announcements; and whatever way a waiting call ends, the records are right and the engine keeps
 * no state of it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseTenantYaml } from '../src/config/load.js';
import type { Platform } from '../src/platform.js';
import type { TestUa } from '../src/testing/test-ua.js';
import { removeToneWav, writeToneWav } from '../src/testing/tone-wav.js';
import { waitUntil, waitUntilAsync } from '../src/testing/wait.js';
import { endMediaTest, mediaPhone } from './support/media-phones.js';
import { type RestClient, startTestPlatform, type TestPlatform } from './support/platform.js';

const DOMAIN = 'switchboard.local';
/** The tones of the configured audio files and of the phones. */
const HZ = {
  greeting: 700,
  music: 450,
  overflowGreeting: 900,
  whisper: 1200,
  holdMusic: 350,
  caller: 1000,
  agent: 500,
} as const;
const ALL = Object.values(HZ);

let env: TestPlatform;
let platform: Platform;
let admin: RestClient;
const files: string[] = [];
const opened: { close(): Promise<void> }[] = [];

type Json = Record<string, unknown>;

beforeAll(async () => {
  const tone = async (frequency: number, durationMs: number) => {
    const path = await writeToneWav({ frequency, durationMs, sampleRate: 8000 });
    files.push(path);
    return path;
  };
  const greeting = await tone(HZ.greeting, 1000);
  const music = await tone(HZ.music, 1200);
  const overflowGreeting = await tone(HZ.overflowGreeting, 1000);
  const whisper = await tone(HZ.whisper, 800);
  const holdMusic = await tone(HZ.holdMusic, 1000);
  const tenant = parseTenantYaml(
    `
domain: ${DOMAIN}
audio: { musicOnHold: ${holdMusic} }
users:
  - { username: a@example.com, extension: "1001", password: secret-a }
  - { username: b@example.com, extension: "1002", password: secret-b }
  - { username: c@example.com, extension: "1003", password: secret-c }
  - { username: admin@example.com, extension: "1999", password: secret-admin, role: admin }
queues:
  - name: Support
    extension: "100"
    members: [b@example.com]
    greeting: ${greeting}
    musicOnHold: ${music}
  - name: Brief
    extension: "200"
    members: [c@example.com]
    maxWaitSeconds: 3
    greeting: ${greeting}
    musicOnHold: ${music}
  - name: Spill
    extension: "300"
    members: [c@example.com]
    maxWaitSeconds: 3
    overflow: Overflow
    greeting: ${greeting}
    musicOnHold: ${music}
  - name: Overflow
    extension: "301"
    members: [b@example.com]
    greeting: ${overflowGreeting}
    musicOnHold: ${music}
  - name: Whispered
    extension: "400"
    members: [b@example.com]
    greeting: none
    musicOnHold: ${music}
    whisper: ${whisper}
  - name: Announced
    extension: "500"
    members: [c@example.com]
    greeting: ${greeting}
    musicOnHold: ${music}
    announcePosition: true
  - name: Ringing
    extension: "600"
    members: [b@example.com]
    ringWhileWaiting: true
`,
    'queue-audio.yaml',
  );
  env = await startTestPlatform(tenant, 'sqlite', { mediaDefault: 'auto' });
  ({ platform } = env);
  expect(platform.media, 'the platform started its own rtpengine').toBeDefined();
  admin = await env.rest('admin@example.com', 'secret-admin');
}, 30_000);

// No leak: after each test no call is left, in call control or in the media engine.
afterEach(() => endMediaTest(platform, opened, ['1001', '1002', '1003']));

afterAll(async () => {
  await env?.close();
  for (const file of files) await removeToneWav(file);
});

const phone = (extension: string): Promise<TestUa> =>
  mediaPhone(platform, extension, { domain: DOMAIN, opened });

/** The service call header and its details once post-processing wrote them. */
async function serviceCall(callId: string, result?: string): Promise<{ header: Json; details: Json[] }> {
  let headers: Json[] = [];
  await waitUntilAsync(
    async () => {
      headers = await admin.list<Json>('/servicecall', { CallId: callId });
      return headers.length > 0 && (result === undefined || headers.some((h) => h.Result === result));
    },
    8000,
    `the service call record of ${callId}`,
  );
  const header = headers.find((h) => result === undefined || h.Result === result)!;
  return { header, details: await admin.list<Json>(`/servicecall/${callId}/details`) };
}

/** The call's journal facts by type (AudioPlayed with the kind of audio). */
const journalTypes = async (callId: string): Promise<string[]> =>
  (await platform.journal.readCall(callId)).map((entry) =>
    entry.fact.type === 'AudioPlayed' ? `AudioPlayed:${entry.fact.audio}` : entry.fact.type,
  );

describe('a caller waiting in a queue hears its audio', () => {
  it('is answered within 1 s, hears the greeting then looping music, and is bridged to the agent who answers', async () => {
    const a = await phone('1001');
    const startedAt = Date.now();
    const call = a.call('100');
    const answer = await call.waitForFinal(5000);
    const answeredInMs = Date.now() - startedAt;
    expect(answer.status).toBe(200);
    expect(answeredInMs).toBeLessThan(1000);
    const callId = answer.headers.get('X-Server-Call-Id')!;
    const callerLegId = answer.headers.get('X-Call-Leg-Id')!;
    expect(callId).toMatch(/^[0-9a-f-]{36}$/);
    expect(callerLegId).toMatch(/^[0-9a-f-]{36}$/);
    expect(answer.body.toString()).toMatch(/^m=audio \d+ RTP\/AVP/m);

    // The greeting (once), then the music — still playing after more than one pass of its file.
    const rx = a.media!;
    expect((await rx.waitForTone(HZ.greeting, ALL, { timeoutMs: 3000 })).frequency).toBe(HZ.greeting);
    expect((await rx.waitForTone(HZ.music, ALL, { timeoutMs: 3000 })).frequency).toBe(HZ.music);
    await new Promise((resolve) => setTimeout(resolve, 2600));
    const stillMusic = rx.receivedTone(ALL, { windowMs: 400 });
    expect(stillMusic.frequency).toBe(HZ.music);
    expect(stillMusic.sinceLastPacketMs).toBeLessThan(200);
    // While it waits nothing the caller sends goes anywhere.
    rx.startTone(HZ.caller);

    // An agent becomes available: B registers and answers.
    const b = await phone('1002');
    b.answerAfterRinging(100);
    await waitUntil(() => b.incoming.length > 0, 5000, 'the agent is offered the call');
    const agentAnsweredAt = Date.now();
    // The caller is re-INVITEd to the agent's media; then each hears the other.
    await waitUntil(
      () => a.receivedRequests.some((r) => r.method === 'INVITE'),
      5000,
      'the caller is re-INVITEd when the agent answers',
    );
    b.media!.startTone(HZ.agent);
    const fromA = rx.receivedSampleCount;
    const fromB = b.media!.receivedSampleCount;
    expect((await rx.waitForTone(HZ.agent, ALL, { timeoutMs: 5000, fromSample: fromA })).frequency).toBe(
      HZ.agent,
    );
    expect(
      (await b.media!.waitForTone(HZ.caller, ALL, { timeoutMs: 5000, fromSample: fromB })).frequency,
    ).toBe(HZ.caller);
    const reinvite = a.receivedRequests.find((r) => r.method === 'INVITE')!;
    // One session towards the caller: the re-offer keeps the origin of the answer, a newer version.
    const origin = (sdp: Buffer) => /^o=(\S+) (\S+) (\d+)/m.exec(sdp.toString())!;
    expect(origin(reinvite.body)[2]).toBe(origin(answer.body)[2]);
    expect(Number(origin(reinvite.body)[3])).toBeGreaterThan(Number(origin(answer.body)[3]));

    expect((await call.hangup()).status).toBe(200);
    const { header, details } = await serviceCall(callId, 'Handled');
    const answerTime = Date.parse(`${header.AnswerTime as string}Z`.replace(/ZZ$/, 'Z'));
    const arrival = Date.parse(`${header.ArrivalTime as string}Z`.replace(/ZZ$/, 'Z'));
    // AnswerTime is the agent's answer, not the queue's: seconds after the caller was answered.
    expect(answerTime - startedAt).toBeGreaterThan(3000);
    expect(Math.abs(answerTime - agentAnsweredAt)).toBeLessThan(1500);
    expect(header.WaitTime).toBe(Math.round((answerTime - arrival) / 1000));
    expect(header.WaitTime as number).toBeGreaterThanOrEqual(4);
    expect(header.AnsweredByUserId).toBeTruthy();
    expect(details.map((d) => d.EventTypeString)).toEqual([
      'CallArrival',
      'UserAllocation',
      'UserConnect',
      'CallDisconnect',
    ]);
    expect(await journalTypes(callId)).toEqual(
      expect.arrayContaining(['QueueAnswered', 'AudioPlayed:greeting', 'AudioPlayed:music', 'MediaBridged']),
    );
  });

  it('a queue with ringWhileWaiting keeps ringing (180) until the agent answers', async () => {
    const a = await phone('1001');
    const b = await phone('1002');
    b.answerAfterRinging(1500);
    const call = a.call('600');
    const progress = await call.waitForProgress(3000);
    expect(progress.status).toBe(180);
    const answeredAt = Date.now();
    expect((await call.waitForFinal(5000)).status).toBe(200);
    expect(Date.now() - answeredAt).toBeGreaterThan(1000);
    expect(a.receivedRequests.some((r) => r.method === 'INVITE')).toBe(false);
    expect((await call.hangup()).status).toBe(200);
  });
});

describe('a waiting caller who hangs up', () => {
  const cases = [
    { when: 'during the greeting', waitFor: HZ.greeting, ring: false },
    { when: 'during the music', waitFor: HZ.music, ring: false },
    { when: "while an agent's phone rings", waitFor: HZ.music, ring: true },
  ];
  it.each(cases)(
    '$when: the call is Cancelled, offers withdrawn, the engine forgets it',
    async ({ waitFor, ring }) => {
      const a = await phone('1001');
      let agent: TestUa | undefined;
      if (ring) {
        agent = await phone('1002');
        agent.onIncoming((incoming) => incoming.ring()); // rings, never answers
      }
      const call = a.call('100');
      const answer = await call.waitForFinal(5000);
      expect(answer.status).toBe(200);
      const callId = answer.headers.get('X-Server-Call-Id')!;
      await a.media!.waitForTone(waitFor, ALL, { timeoutMs: 4000, windowMs: 200 });
      if (agent) {
        await waitUntil(() => agent!.incoming.length > 0, 5000, 'the agent rings');
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      expect((await call.hangup()).status).toBe(200);
      if (agent) await agent.incoming[0]!.waitForCancel(5000);
      const { header, details } = await serviceCall(callId, 'Cancelled');
      expect(header.AnswerTime).toBeNull();
      expect(header.AnsweredByUserId ?? null).toBeNull();
      const kinds = details.map((d) => d.EventTypeString);
      expect(kinds[0]).toBe('CallArrival');
      expect(kinds.at(-1)).toBe('CallDisconnect');
      if (ring)
        expect(details.find((d) => d.EventTypeString === 'UserReject')?.Reason).toBe('CallDisconnected');
      expect(platform.callControl.activeCalls).toHaveLength(0);
    },
  );
});

describe('leaving a queue after answering', () => {
  it('max wait without overflow: the goodbye plays, then the platform hangs up; the call is Missed', async () => {
    const a = await phone('1001');
    const call = a.call('200');
    const answer = await call.waitForFinal(5000);
    expect(answer.status).toBe(200);
    const callId = answer.headers.get('X-Server-Call-Id')!;
    await a.media!.waitForTone(HZ.music, ALL, { timeoutMs: 4000 });
    const beforeGoodbye = a.media!.receivedSampleCount;
    await call.waitForBye(15_000);
    // Something that is neither greeting nor music was heard before the BYE: the goodbye prompt.
    const tail = a.media!.receivedTone(ALL, { fromSample: beforeGoodbye, windowMs: 1000 });
    expect(tail.signalDbfs).toBeGreaterThan(-40);
    expect(await journalTypes(callId)).toContain('AudioPlayed:goodbye');
    const bye = a.receivedRequests.find((r) => r.method === 'BYE')!;
    expect(bye.headers.get('Reason')).toMatch(/cause=480/);
    const { header, details } = await serviceCall(callId);
    expect(header.Result).toBe('Missed');
    expect(details.map((d) => [d.EventTypeString, d.Reason ?? null])).toContainEqual([
      'QueueOverflow',
      'MaxWaitExceeded',
    ]);
  });

  it("overflow: the caller, already answered, hears the overflow queue's greeting and is connected there", async () => {
    const a = await phone('1001');
    const call = a.call('300');
    const answer = await call.waitForFinal(5000);
    expect(answer.status).toBe(200);
    const callId = answer.headers.get('X-Server-Call-Id')!;
    await a.media!.waitForTone(HZ.greeting, ALL, { timeoutMs: 4000 });
    await a.media!.waitForTone(HZ.overflowGreeting, ALL, { timeoutMs: 8000 });
    const b = await phone('1002');
    b.answerAfterRinging(50);
    await waitUntil(() => a.receivedRequests.some((r) => r.method === 'INVITE'), 8000, 'bridged to B');
    a.media!.startTone(HZ.caller);
    b.media!.startTone(HZ.agent);
    await a.media!.waitForTone(HZ.agent, ALL, { timeoutMs: 5000 });
    await b.media!.waitForTone(HZ.caller, ALL, { timeoutMs: 5000 });
    expect((await call.hangup()).status).toBe(200);
    const headers = await waitFor2(callId);
    expect(headers.map((h) => [h.QueueName, h.Result])).toEqual(
      expect.arrayContaining([
        ['Spill', 'Missed'],
        ['Overflow', 'Handled'],
      ]),
    );
  });

  it("whisper: the agent hears the queue's prompt first, the caller keeps its music until connected", async () => {
    const a = await phone('1001');
    const b = await phone('1002');
    b.answerAfterRinging(100);
    const call = a.call('400');
    expect((await call.waitForFinal(5000)).status).toBe(200);
    await waitUntil(() => b.incoming.some((i) => i.dialog !== undefined), 5000, 'B answered');
    b.media!.startTone(HZ.agent);
    // The agent hears the whisper; meanwhile the caller hears music, not the agent.
    expect((await b.media!.waitForTone(HZ.whisper, ALL, { timeoutMs: 3000, windowMs: 200 })).frequency).toBe(
      HZ.whisper,
    );
    expect(a.media!.receivedTone(ALL, { windowMs: 200 }).frequency).toBe(HZ.music);
    // Then they are connected.
    a.media!.startTone(HZ.caller);
    await a.media!.waitForTone(HZ.agent, ALL, { timeoutMs: 5000 });
    await b.media!.waitForTone(HZ.caller, ALL, { timeoutMs: 5000 });
    expect((await call.hangup()).status).toBe(200);
  });

  it('position announcements: after the greeting the caller hears speech that is neither greeting nor music', async () => {
    const first = await phone('1001');
    const call = first.call('500');
    const answer = await call.waitForFinal(5000);
    const callId = answer.headers.get('X-Server-Call-Id')!;
    await first.media!.waitForTone(HZ.greeting, ALL, { timeoutMs: 4000 });
    await waitUntilAsync(
      async () => (await journalTypes(callId)).includes('AudioPlayed:position'),
      5000,
      'the position announced',
    );
    expect((await call.hangup()).status).toBe(200);
  });
});

describe('hold plays music to the other party', () => {
  it('either side holds: the other hears music on hold, not the holder; resume restores both directions', async () => {
    const a = await phone('1001');
    const c = await phone('1003');
    c.answerAfterRinging(20);
    const call = a.call('1003');
    expect((await call.waitForFinal(5000)).status).toBe(200);
    a.media!.startTone(HZ.caller);
    c.media!.startTone(HZ.agent);
    await a.media!.waitForTone(HZ.agent, ALL, { timeoutMs: 5000 });
    await c.media!.waitForTone(HZ.caller, ALL, { timeoutMs: 5000 });

    // A holds (and keeps sending its tone: the engine must not pass it on).
    const hold = await a.sendInDialog(
      call.dialog!,
      'INVITE',
      Buffer.from(a.media!.sdp('1001', { direction: 'sendonly' })),
    );
    expect(hold.status).toBe(200);
    let mark = c.media!.receivedSampleCount;
    expect(
      (await c.media!.waitForTone(HZ.holdMusic, ALL, { timeoutMs: 5000, fromSample: mark })).frequency,
    ).toBe(HZ.holdMusic);
    // Resume: both directions again.
    const resume = await a.sendInDialog(call.dialog!, 'INVITE', Buffer.from(a.media!.sdp('1001')));
    expect(resume.status).toBe(200);
    mark = c.media!.receivedSampleCount;
    expect(
      (await c.media!.waitForTone(HZ.caller, ALL, { timeoutMs: 5000, fromSample: mark })).frequency,
    ).toBe(HZ.caller);
    let markA = a.media!.receivedSampleCount;
    expect(
      (await a.media!.waitForTone(HZ.agent, ALL, { timeoutMs: 5000, fromSample: markA })).frequency,
    ).toBe(HZ.agent);

    // C holds with `inactive`: A hears the music.
    const incoming = c.incoming[0]!;
    const cHold = await c.sendInDialog(
      incoming.dialog!,
      'INVITE',
      Buffer.from(c.media!.sdp('1003', { direction: 'inactive' })),
    );
    expect(cHold.status).toBe(200);
    expect(cHold.body.toString()).toMatch(/^a=inactive/m);
    markA = a.media!.receivedSampleCount;
    expect(
      (await a.media!.waitForTone(HZ.holdMusic, ALL, { timeoutMs: 5000, fromSample: markA })).frequency,
    ).toBe(HZ.holdMusic);
    const cResume = await c.sendInDialog(incoming.dialog!, 'INVITE', Buffer.from(c.media!.sdp('1003')));
    expect(cResume.status).toBe(200);
    markA = a.media!.receivedSampleCount;
    expect(
      (await a.media!.waitForTone(HZ.agent, ALL, { timeoutMs: 5000, fromSample: markA })).frequency,
    ).toBe(HZ.agent);
    mark = c.media!.receivedSampleCount;
    expect(
      (await c.media!.waitForTone(HZ.caller, ALL, { timeoutMs: 5000, fromSample: mark })).frequency,
    ).toBe(HZ.caller);
    expect((await call.hangup()).status).toBe(200);
  });
});

async function waitFor2(callId: string): Promise<Json[]> {
  let headers: Json[] = [];
  await waitUntilAsync(
    async () => {
      headers = await admin.list<Json>('/servicecall', { CallId: callId });
      return headers.length >= 2 && headers.every((h) => h.Result !== null);
    },
    8000,
    'two service call records',
  );
  return headers;
}
