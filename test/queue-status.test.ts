/**
 * Live queue status on `GET /queues` (issue 16, DESIGN.md §11) while real SIP calls wait, ring,
 * connect and end, read at each step; and opening hours: a closed queue shows OpenStatus 0 and
 * refuses calls — 480 without a media engine; with one, the caller is answered, hears the closed
 * prompt and gets a BYE — each time with the service call detail 102 QueueScheduleClosed and the
 * Result Missed.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseTenantYaml } from '../src/config/load.js';
import { localTime } from '../src/config/opening-hours.js';
import type { Platform } from '../src/platform.js';
import { meanSquare } from '../src/testing/audio.js';
import type { OutgoingCall, TestUa } from '../src/testing/test-ua.js';
import { sleep, waitUntil, waitUntilAsync } from '../src/testing/wait.js';
import { endMediaTest, mediaPhone } from './support/media-phones.js';
import { type RestClient, startTestPlatform, type TestPlatform } from './support/platform.js';

const DOMAIN = 'switchboard.local';
type Json = Record<string, unknown>;

/** Today and tomorrow in UTC: a closed date that holds for the whole test, even across midnight. */
function closedDays(): string {
  const now = Date.now();
  return [localTime('UTC', now).date, localTime('UTC', now + 86_400_000).date]
    .map((day) => `"${day}"`)
    .join(', ');
}

const tenantYaml = () => `
domain: ${DOMAIN}
users:
  - { username: a@example.com, extension: "1001", password: secret-a }
  - { username: b@example.com, extension: "1002", password: secret-b }
  - { username: c@example.com, extension: "1003", password: secret-c }
  - { username: e@example.com, extension: "1005", password: secret-e }
  - { username: admin@example.com, extension: "1999", password: secret-admin, role: admin }
queues:
  - name: Support
    extension: "100"
    members: [b@example.com, c@example.com]
    allocationTimeoutSeconds: 60
    wrapUpSeconds: 60
  - name: Night
    extension: "400"
    members: [b@example.com]
    openingHours: { timezone: Europe/Helsinki, weekly: {} }
  - name: Holiday
    extension: "500"
    members: [c@example.com]
    openingHours: { timezone: UTC, closedDates: [${closedDays()}] }
`;

/** The service call header and details of a call once post-processing wrote its end (CallDisconnect). */
async function serviceCall(admin: RestClient, callId: string): Promise<{ header: Json; details: Json[] }> {
  let headers: Json[] = [];
  let details: Json[] = [];
  await waitUntilAsync(
    async () => {
      headers = await admin.list<Json>('/servicecall', { CallId: callId });
      if (headers.length === 0) return false;
      details = await admin.list<Json>(`/servicecall/${callId}/details`);
      return headers[0]!.Result != null && details.some((detail) => detail.EventType === 2);
    },
    8000,
    `the service call record of ${callId}`,
  );
  return { header: headers[0]!, details };
}

describe('queue status while calls wait, ring and connect (signalling only)', () => {
  let env: TestPlatform;
  let platform: Platform;
  let admin: RestClient;
  let a: TestUa;
  let b: TestUa;
  let c: TestUa;
  let e: TestUa;
  const calls: OutgoingCall[] = [];

  beforeAll(async () => {
    env = await startTestPlatform(parseTenantYaml(tenantYaml(), 'queue-status.yaml'), 'sqlite');
    ({ platform } = env);
    admin = await env.rest('admin@example.com', 'secret-admin');
    [a, b, c, e] = await env.uas('1001', '1002', '1003', '1005');
  }, 30_000);

  afterEach(async () => {
    for (const call of calls.splice(0)) {
      if (call.final === undefined) call.cancel();
      else if (call.final.status < 300 && !call.ended) await call.hangup().catch(() => {});
    }
    await waitUntil(() => platform.callControl.activeCalls.length === 0, 8000, 'no call left');
    for (const ua of [a, b, c, e]) ua.incoming.length = 0;
  });

  afterAll(async () => {
    await env?.close();
  });

  const statusOf = async (name: string): Promise<Json> => {
    const queue = (await admin.list<Json>('/queues')).find((candidate) => candidate.Name === name)!;
    expect(queue.TypeId).toBe(4);
    return queue.Status as Json;
  };
  /** Wait until the queue's status matches (the platform settles within moments of a SIP message). */
  const expectStatus = async (name: string, expected: Json): Promise<Json> => {
    let status: Json = {};
    try {
      await waitUntilAsync(
        async () => {
          status = await statusOf(name);
          return Object.entries(expected).every(([key, value]) =>
            typeof value === 'function'
              ? (value as (v: unknown) => boolean)(status[key])
              : status[key] === value,
          );
        },
        3000,
        `${name} status ${JSON.stringify(expected)}`,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}; last seen ${JSON.stringify(status)}`);
    }
    return status;
  };
  const place = (from: TestUa, target: string): OutgoingCall => {
    const call = from.call(target);
    calls.push(call);
    return call;
  };
  const setAvailability = async (username: string, availability: string) => {
    const userId = platform.directory.userByUsername(username)!.userId;
    expect((await admin.post(`/users/${userId}/availability`, { Availability: availability })).status).toBe(
      200,
    );
  };

  it('counts waiting, ringing, connected calls and the serving, free and wrapping-up agents at each step', async () => {
    await setAvailability('c@example.com', 'OffWork');
    // 1. Idle: B serves and is free; C is OffWork (not serving).
    expect(await statusOf('Support')).toEqual({
      OpenStatus: 1,
      QueueLength: 0,
      MaxWaitTime: 0,
      OngoingCalls: 0,
      FreeAgents: 1,
      ServingAgents: 1,
      AgentsOnWrapUp: 0,
    });

    // 2. A calls: the call waits in the queue and rings at B (B is no longer free).
    const first = place(a, '100');
    await waitUntil(() => b.incoming.length > 0, 5000, 'the call rings at B');
    await expectStatus('Support', { QueueLength: 1, OngoingCalls: 0, FreeAgents: 0, ServingAgents: 1 });
    await sleep(1100);
    await expectStatus('Support', { QueueLength: 1, MaxWaitTime: (v: unknown) => (v as number) >= 1 });

    // 3. B answers: connected, nothing waits.
    b.incoming[0]!.answer();
    expect((await first.waitForFinal()).status).toBe(200);
    await expectStatus('Support', {
      QueueLength: 0,
      MaxWaitTime: 0,
      OngoingCalls: 1,
      FreeAgents: 0,
      ServingAgents: 1,
      AgentsOnWrapUp: 0,
    });

    // 4. E calls while B talks: the second call waits with nobody to ring.
    const second = place(e, '100');
    await second.waitForProgress();
    await expectStatus('Support', { QueueLength: 1, OngoingCalls: 1, FreeAgents: 0 });
    await sleep(1100);
    const waiting = await expectStatus('Support', { MaxWaitTime: (v: unknown) => (v as number) >= 1 });
    expect(waiting.MaxWaitTime as number).toBeLessThan(5);

    // 5. A hangs up: B is in wrap-up (60 s), the second call still waits.
    await first.hangup();
    await expectStatus('Support', {
      QueueLength: 1,
      OngoingCalls: 0,
      FreeAgents: 0,
      ServingAgents: 1,
      AgentsOnWrapUp: 1,
    });
    expect(b.incoming).toHaveLength(1);

    // 6. C becomes Available: the waiting call rings at C at once.
    await setAvailability('c@example.com', 'Available');
    await waitUntil(() => c.incoming.length > 0, 5000, 'the waiting call rings at C');
    await expectStatus('Support', { QueueLength: 1, FreeAgents: 0, ServingAgents: 2, AgentsOnWrapUp: 1 });

    // 7. C answers.
    c.incoming[0]!.answer();
    expect((await second.waitForFinal()).status).toBe(200);
    await expectStatus('Support', {
      QueueLength: 0,
      OngoingCalls: 1,
      FreeAgents: 0,
      ServingAgents: 2,
      AgentsOnWrapUp: 1,
    });

    // 8. B ends the wrap-up: free again.
    const bId = platform.directory.userByUsername('b@example.com')!.userId;
    expect((await admin.post(`/users/${bId}/wrapup/end`, {})).status).toBe(200);
    await expectStatus('Support', { OngoingCalls: 1, FreeAgents: 1, ServingAgents: 2, AgentsOnWrapUp: 0 });

    // 9. The second call ends: C in wrap-up, B free.
    await second.hangup();
    await expectStatus('Support', {
      QueueLength: 0,
      OngoingCalls: 0,
      FreeAgents: 1,
      ServingAgents: 2,
      AgentsOnWrapUp: 1,
    });
    platform.callControl.agents.endWrapUp(platform.directory.userByUsername('c@example.com')!.userId);
  });

  it('lists only a member’s queues with OnlyForUser', async () => {
    const cId = platform.directory.userByUsername('c@example.com')!.userId;
    const queues = await admin.list<Json>('/queues', { OnlyForUser: cId });
    expect(queues.map((queue) => queue.Name)).toEqual(['Support', 'Holiday']);
  });

  it('shows closed queues as OpenStatus 0 and refuses their calls with 480, detail 102 and Result Missed', async () => {
    expect((await statusOf('Night')).OpenStatus).toBe(0);
    expect((await statusOf('Holiday')).OpenStatus).toBe(0);
    expect((await statusOf('Support')).OpenStatus).toBe(1);
    for (const extension of ['400', '500']) {
      const response = await place(a, extension).waitForFinal();
      expect(response.status, extension).toBe(480);
      expect(response.reason).toMatch(/closed/);
      const callId = response.headers.get('X-Server-Call-Id')!;
      expect(callId).toMatch(/^[0-9a-f-]{36}$/);
      const { header, details } = await serviceCall(admin, callId);
      expect(header.Result).toBe('Missed');
      expect(header.AllocationCount).toBe(0);
      expect(details.map((detail) => [detail.EventType, detail.EventTypeString])).toEqual([
        [1, 'CallArrival'],
        [102, 'QueueScheduleClosed'],
        [2, 'CallDisconnect'],
      ]);
    }
    // Nobody was offered anything, and no call waits.
    expect(b.incoming.length + c.incoming.length).toBe(0);
    expect((await statusOf('Night')).QueueLength).toBe(0);
  });

  it('refuses a blind transfer into a closed queue (480), and the call goes on', async () => {
    b.answerAfterRinging(20);
    const call = place(a, '1002');
    expect((await call.waitForFinal()).status).toBe(200);
    const refer = await b.sendInDialog(b.incoming[0]!.dialog!, 'REFER', undefined, [
      ['Refer-To', `<sip:400@${DOMAIN}>`],
      ['Referred-By', `<sip:1002@${DOMAIN}>`],
    ]);
    expect(refer.status).toBe(480);
    expect(refer.reason).toMatch(/closed/);
    expect(platform.callControl.activeCalls[0]?.state).toBe('connected');
    b.onIncoming((incoming) => incoming.ring());
  });
});

describe('a closed queue with a media engine', () => {
  let env: TestPlatform;
  let platform: Platform;
  let admin: RestClient;
  const opened: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    env = await startTestPlatform(parseTenantYaml(tenantYaml(), 'queue-status.yaml'), 'sqlite', {
      mediaDefault: 'auto',
    });
    ({ platform } = env);
    expect(platform.media, 'the platform started its own rtpengine').toBeDefined();
    admin = await env.rest('admin@example.com', 'secret-admin');
  }, 30_000);

  afterEach(() => endMediaTest(platform, opened, ['1001']));

  afterAll(async () => {
    await env?.close();
  });

  it('answers the caller, plays the closed prompt (audible), then hangs up: detail 102, Missed', async () => {
    const a = await mediaPhone(platform, '1001', { domain: DOMAIN, opened });
    const call = a.call('400');
    const answer = await call.waitForFinal(5000);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('X-Queue-State')).toBe('closed');
    const callId = answer.headers.get('X-Server-Call-Id')!;
    const startedAt = Date.now();
    await call.waitForBye(15_000);
    // The prompt is about six seconds of speech: the BYE comes after it, and what came was not silence.
    expect(Date.now() - startedAt).toBeGreaterThan(4000);
    const heard = a.media!.receivedSamples();
    expect(heard.length).toBeGreaterThan(8000 * 4);
    expect(Math.sqrt(meanSquare(heard))).toBeGreaterThan(300);
    const bye = a.receivedRequests.find((request) => request.method === 'BYE')!;
    expect(bye.headers.get('Reason')).toMatch(/cause=480/);
    const types = (await platform.journal.readCall(callId)).map((entry) =>
      entry.fact.type === 'AudioPlayed' ? `AudioPlayed:${entry.fact.audio}` : entry.fact.type,
    );
    expect(types).toEqual(
      expect.arrayContaining(['QueueLeft', 'QueueAnswered', 'AudioPlayed:closed', 'CallEnded']),
    );
    expect(types).not.toContain('QueueEntered');
    const { header, details } = await serviceCall(admin, callId);
    expect(header.Result).toBe('Missed');
    expect(details.map((detail) => detail.EventType)).toEqual([1, 102, 2]);
  }, 30_000);

  it('a caller who hangs up during the prompt is still Missed', async () => {
    const a = await mediaPhone(platform, '1001', { domain: DOMAIN, opened });
    const call = a.call('500');
    const answer = await call.waitForFinal(5000);
    expect(answer.status).toBe(200);
    const callId = answer.headers.get('X-Server-Call-Id')!;
    await sleep(800);
    expect((await call.hangup()).status).toBe(200);
    const { header, details } = await serviceCall(admin, callId);
    expect(header.Result).toBe('Missed');
    expect(details.map((detail) => detail.EventType)).toEqual([1, 102, 2]);
  }, 30_000);
});
