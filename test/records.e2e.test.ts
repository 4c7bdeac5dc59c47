/**
 * The seed's scenario through the whole platform — SIP user agents over WebSocket, call control,
 * the journal, post-processing, the store and the REST API — on SQLite and on PostgreSQL:
 * records come out exactly as DESIGN.md §2 lists them, each visible only with its permission.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WIRE_HANDLED_OUTBOUND_DIRECT_CALL } from '../src/api/test-fixtures.js';
import { parseTenantYaml } from '../src/config/load.js';
import type { IncomingCall, OutgoingCall } from '../src/testing/test-ua.js';
import {
  type RestClient,
  type StoreKind,
  seedMembers,
  seedRecords,
  startTestPlatform,
  type TestPlatform,
} from './support/platform.js';
import { seedTenantYaml } from './support/tenants.js';

const TENANT = parseTenantYaml(
  seedTenantYaml({
    viewers: ['sees-direct-a', 'sees-agent-b', 'sees-agent-c', 'sees-support', 'sees-nothing'],
  }),
  'e2e.yaml',
);

type Json = Record<string, unknown>;

function formatEnreachTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

describe.each<StoreKind>(['sqlite', 'postgres'])('seed scenario end to end on %s', (store) => {
  let env: TestPlatform;
  let callId: string;
  let callerLegId: string;
  let offerB: IncomingCall;
  let offerC: IncomingCall;
  let outgoing: OutgoingCall;
  let admin: RestClient;
  const userId = (email: string) => TENANT.users.find((u) => u.username === email)!.userId;
  const queueId = TENANT.queues[0]!.queueId;
  let startedMs: number;

  beforeAll(async () => {
    env = await startTestPlatform(TENANT, store);
    const [a, b, c] = await env.uas('1001', '1002', '1003');
    seedMembers(b, c, 30);
    startedMs = Date.now();
    outgoing = a.call('100');
    const final = await outgoing.waitForFinal();
    expect(final.status).toBe(200);
    callId = final.headers.get('X-Server-Call-Id')!;
    callerLegId = final.headers.get('X-Call-Leg-Id')!;
    offerB = b.incoming[0]!;
    offerC = c.incoming[0]!;
    await new Promise((resolve) => setTimeout(resolve, 1100)); // a measurable Duration
    await outgoing.hangup();
    await offerC.waitForBye();
    admin = await env.rest('admin@example.com', 'secret-admin');
    // Records appear as post-processing catches up (delaySeconds 0): wait for the final state.
    await seedRecords(admin, callId);
  });

  afterAll(async () => {
    await env?.close();
  });

  it('GET /calls?CallId= returns A outbound DirectCall Handled, B inbound ServiceCall Allocated, C inbound ServiceCall Handled', async () => {
    const events = await admin.list<Json>('/calls', { CallId: callId });
    const byUser = new Map(events.map((e) => [e.UserId, e]));
    expect(events).toHaveLength(3);
    expect(byUser.get(userId('a@example.com'))).toMatchObject({
      CallId: callId,
      CallLegId: callerLegId,
      UserName: 'a@example.com',
      ...WIRE_HANDLED_OUTBOUND_DIRECT_CALL,
      BNum: '100',
      RecordingIds: [],
    });
    expect(byUser.get(userId('b@example.com'))).toMatchObject({
      CallId: callId,
      CallLegId: offerB.header('X-Call-Leg-Id'),
      CallTypeString: 'ServiceCall',
      Direction: 0,
      Result: 'Allocated',
      QueueId: queueId,
      QueueName: 'Support',
      AnswerTime: null,
    });
    expect(byUser.get(userId('b@example.com'))!.EndResult).not.toBe(0);
    const c = byUser.get(userId('c@example.com'))!;
    expect(c).toMatchObject({
      CallId: callId,
      CallLegId: offerC.header('X-Call-Leg-Id'),
      CallTypeString: 'ServiceCall',
      Direction: 0,
      Result: 'Handled',
      EndResult: 0,
      QueueName: 'Support',
    });
    expect(c.Duration as number).toBeGreaterThanOrEqual(1);
    expect(Date.parse(c.AnswerTime as string)).toBeLessThanOrEqual(Date.parse(c.EndTime as string));
    for (const event of events) {
      expect(event.Id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-/); // UUID v5: deterministic
      expect(event.TimeStamp).toMatch(/Z$/);
    }
  });

  it('GET /servicecall returns one header and /details the events in order', async () => {
    const headers = await admin.list<Json>('/servicecall', { CallId: callId });
    expect(headers).toHaveLength(1);
    expect(headers[0]).toMatchObject({
      CallId: callId,
      QueueId: queueId,
      QueueName: 'Support',
      Result: 'Handled',
      AllocationCount: 2,
      AnsweredByUserId: userId('c@example.com'),
      BNum: '100',
    });
    const details = await admin.list<Json>(`/servicecall/${callId}/details`);
    expect(details.map((d) => [d.EventTypeString, d.UserName ?? null, d.Reason ?? null])).toEqual([
      ['CallArrival', null, null],
      ['UserAllocation', 'b@example.com', null],
      ['UserReject', 'b@example.com', 'GenericUserRejected'],
      ['UserAllocation', 'c@example.com', null],
      ['UserConnect', 'c@example.com', null],
      ['CallDisconnect', null, 'Normal'],
    ]);
    expect(details[1]!.CallLegId).toBe(offerB.header('X-Call-Leg-Id'));
    expect(details[4]!.CallLegId).toBe(offerC.header('X-Call-Leg-Id'));
  });

  it('finds the records by time window in the EnreachAPI date format', async () => {
    const window = {
      StartTime: formatEnreachTime(startedMs - 60_000),
      EndTime: formatEnreachTime(Date.now() + 60_000),
    };
    const events = await admin.list<Json>('/calls', window);
    expect(events.filter((e) => e.CallId === callId)).toHaveLength(3);
    const own = await admin.list<Json>('/calls', { ...window, UserIDs: userId('c@example.com') });
    expect(own.map((e) => e.UserId)).toEqual([userId('c@example.com')]);
    expect((await admin.list<Json>('/servicecall', window)).map((h) => h.CallId)).toContain(callId);
  });

  it('serves an integration that behaves like the enreachvoice Python client', async () => {
    const headers = { 'X-Json-Serializer': '2', 'Content-Type': 'application/json' };
    // 1. Discovery tells the client where the API is.
    const discovery = await fetch(new URL('api/user?user=c@example.com', env.platform.httpUrl), { headers });
    expect(discovery.status).toBe(200);
    const [silo] = (await discovery.json()) as { apiEndpoint: string }[];
    expect(silo!.apiEndpoint).toMatch(/\/$/);
    const base = silo!.apiEndpoint;
    // 2. Password → secret key.
    const auth = await fetch(new URL('authuser/c@example.com', base), {
      method: 'POST',
      headers,
      body: JSON.stringify({ UserName: 'c@example.com', Password: 'secret-c' }),
    });
    const { UserID, SecretKey } = (await auth.json()) as { UserID: string; SecretKey: string };
    expect(UserID).toBe(userId('c@example.com'));
    const basic = {
      ...headers,
      Authorization: `Basic ${Buffer.from(`c@example.com:${SecretKey}`).toString('base64')}`,
    };
    const get = async (path: string) => {
      const response = await fetch(new URL(path, base), { headers: basic });
      expect(response.status).toBe(200);
      return response.json() as Promise<Json | Json[]>;
    };
    // 3. Who am I, then the call by CallId and by a day's window in the client's date format.
    expect(await get('users/me')).toMatchObject({ Id: UserID, UserName: 'c@example.com' });
    const byCallId = (await get(`calls?CallId=${callId}`)) as Json[];
    expect(byCallId.map((e) => [e.UserId, e.Result])).toEqual([[UserID, 'Handled']]);
    const start = formatEnreachTime(startedMs - 3_600_000).replace(' ', '+');
    const end = formatEnreachTime(Date.now() + 3_600_000).replace(' ', '+');
    const byWindow = (await get(`calls?StartTime=${start}&EndTime=${end}`)) as Json[];
    expect(byWindow.some((e) => e.CallId === callId && e.UserId === UserID)).toBe(true);
    // 4. C holds no ServiceCalls grant: the service call list is empty, not an error.
    expect(await get(`servicecall?StartTime=${start}&EndTime=${end}`)).toEqual([]);
  });

  // Who may see what (DESIGN.md §4): a user holding exactly the permission named in §2 sees the
  // record; everyone else does not — list filtered, single record 404, explicit filter 403.
  const matrix: { viewer: string; password: string; sees: ('A' | 'B' | 'C' | 'queue')[] }[] = [
    { viewer: 'admin@example.com', password: 'secret-admin', sees: ['A', 'B', 'C', 'queue'] },
    { viewer: 'a@example.com', password: 'secret-a', sees: ['A'] },
    { viewer: 'b@example.com', password: 'secret-b', sees: ['B'] },
    { viewer: 'c@example.com', password: 'secret-c', sees: ['C'] },
    { viewer: 'sees-direct-a@example.com', password: 'pw', sees: ['A'] },
    { viewer: 'sees-agent-b@example.com', password: 'pw', sees: ['B'] },
    { viewer: 'sees-agent-c@example.com', password: 'pw', sees: ['C'] },
    { viewer: 'sees-support@example.com', password: 'pw', sees: ['queue'] },
    { viewer: 'sees-nothing@example.com', password: 'pw', sees: [] },
  ];
  it.each(matrix)('$viewer sees exactly $sees', async ({ viewer, password, sees }) => {
    const client = await env.rest(viewer, password);
    const owners = { A: userId('a@example.com'), B: userId('b@example.com'), C: userId('c@example.com') };
    const all = await admin.list<Json>('/calls', { CallId: callId });
    const visible = await client.list<Json>('/calls', { CallId: callId });
    const expected = (['A', 'B', 'C'] as const).filter((k) => sees.includes(k)).map((k) => owners[k]);
    expect(visible.map((e) => e.UserId).sort()).toEqual([...expected].sort());
    for (const event of all) {
      const single = await client.get(`/calls/${event.Id}`);
      expect(single.status).toBe(expected.includes(event.UserId as string) ? 200 : 404);
    }
    for (const key of ['A', 'B', 'C'] as const) {
      const filtered = await client.get('/calls', { CallId: callId, UserIDs: owners[key] });
      // Naming a user the viewer holds no grant over is forbidden; naming a visible one filters.
      expect(filtered.status).toBe(sees.includes(key) ? 200 : 403);
      if (sees.includes(key)) expect((filtered.body as Json[]).map((e) => e.UserId)).toEqual([owners[key]]);
    }
    const headers = await client.list<Json>('/servicecall', { CallId: callId });
    expect(headers.length).toBe(sees.includes('queue') ? 1 : 0);
    const details = await client.get(`/servicecall/${callId}/details`);
    expect(details.status).toBe(sees.includes('queue') ? 200 : 404);
    const byQueue = await client.get('/servicecall', { CallId: callId, QueueIDs: queueId });
    expect(byQueue.status).toBe(sees.includes('queue') ? 200 : 403);
  });

  it('re-running post-processing from sequence 0 changes nothing', async () => {
    const before = JSON.stringify(await admin.list<Json>('/calls', { CallId: callId }));
    const detailsBefore = JSON.stringify(await admin.list<Json>(`/servicecall/${callId}/details`));
    const { createPostProcessor } = await import('../src/records/postprocess/index.js');
    const replay = createPostProcessor({
      journal: env.platform.journal,
      store: env.platform.store,
      directory: env.platform.directory,
      delaySeconds: 0,
      consumerName: `replay-${store}`,
    });
    await replay.catchUp();
    expect(JSON.stringify(await admin.list<Json>('/calls', { CallId: callId }))).toBe(before);
    expect(JSON.stringify(await admin.list<Json>(`/servicecall/${callId}/details`))).toBe(detailsBefore);
  });
});
