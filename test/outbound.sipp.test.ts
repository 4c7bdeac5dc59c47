/**
 * Issue 6 end to end: outbound service calls, callback requests and outbound callback calls.
 * Agents are test UAs over WebSocket; the outside world is sipp on the trunk's address and port,
 * as the carrier's callee (UAS) or as an external caller (UAC). Every proof is made on the wire
 * (what sipp received), in the journal, and through the REST API as users with and without the
 * permission that shows each record.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseTenantYaml } from '../src/config/load.js';
import type { Tenant } from '../src/config/types.js';
import type { JournalFact } from '../src/journal/types.js';
import type { TestUa } from '../src/testing/test-ua.js';
import { EXTERNAL_CALLEE, EXTERNAL_CALLER, QUEUE_NUMBER, UUID, withTrunk } from './support/carrier.js';
import { type RestClient, startTestPlatform, type TestPlatform, waitFor } from './support/platform.js';
import {
  describeSippResult,
  freeUdpPort,
  loadScenario,
  runSipp,
  type SippProcess,
  type SippResult,
  sippUas,
} from './support/sipp.js';

const DOMAIN = 'switchboard.local';

/** The tenant but for its trunk (its port is chosen in beforeAll). */
const ENTITIES = `
users:
  - { username: a@example.com, extension: "1001", password: secret-a, number: "+358401000001" }
  - { username: b@example.com, extension: "1002", password: secret-b, number: "+358401000002", permissions: [ { CallbackList: Support callbacks } ] }
  - { username: c@example.com, extension: "1003", password: secret-c }
  - { username: d@example.com, extension: "1004", password: secret-d, permissions: [ { CallbackList: Support callbacks } ] }
  - { username: admin@example.com, extension: "1000", password: secret-admin, role: admin }
  - { username: sees-support@example.com, extension: "2001", password: pw, permissions: [ { ServiceCalls: Support } ] }
  - { username: sees-callbacks@example.com, extension: "2002", password: pw, permissions: [ { CallbackList: Support callbacks } ] }
  - { username: nobody@example.com, extension: "2003", password: pw }
queues:
  - name: Support
    extension: "100"
    number: "${QUEUE_NUMBER}"
    members: [b@example.com, c@example.com, d@example.com]
    callbackList: Support callbacks
callbackLists:
  - { name: Support callbacks, queue: Support, members: [b@example.com, c@example.com] }
`;

const PASSWORDS: Record<string, string> = {
  '1001': 'secret-a',
  '1002': 'secret-b',
  '1003': 'secret-c',
  '1004': 'secret-d',
};

type Json = Record<string, unknown>;

let env: TestPlatform;
let tenant: Tenant;
let trunkPort: number;
let admin: RestClient;
const uas: TestUa[] = [];
const carriers: SippProcess[] = [];

const userId = (email: string) => tenant.users.find((u) => u.username === email)!.userId;
const queueId = () => tenant.queues[0]!.queueId;
const listId = () => tenant.callbackLists[0]!.callbackListId;

beforeAll(async () => {
  trunkPort = await freeUdpPort();
  tenant = parseTenantYaml(withTrunk(DOMAIN, trunkPort, ENTITIES), 'outbound.yaml');
  env = await startTestPlatform(tenant, 'sqlite');
  admin = await env.rest('admin@example.com', 'secret-admin');
});

afterEach(async () => {
  await Promise.all(carriers.splice(0).map((carrier) => carrier.stop()));
  await Promise.all(uas.splice(0).map((ua) => ua.close()));
  await waitFor(
    async () => (env.platform.callControl.activeCalls.length === 0 ? true : undefined),
    3000,
  ).catch(() => {});
});

afterAll(async () => {
  await env?.close();
});

/** The record at `path` of call `callId`, once post-processing has made it (Result Handled). */
async function handledRecord(client: RestClient, path: string, callId: string): Promise<Json | undefined> {
  const [record] = await waitFor(
    async () => {
      const rows = await client.list<Json>(path, { CallId: callId });
      return rows[0]?.Result === 'Handled' ? rows : undefined;
    },
    5000,
    `the ${path} record of the call`,
  );
  return record;
}

async function ua(extension: string): Promise<TestUa> {
  const agent = await env.ua(extension, PASSWORDS[extension]!);
  uas.push(agent);
  return agent;
}

/** sipp as the carrier's far end on the trunk's own port: answers (or is busy) and takes the BYE. */
async function carrier(scenario: 'uas-answer' | 'uas-busy' = 'uas-answer'): Promise<SippProcess> {
  const process = await sippUas({
    scenario: loadScenario(scenario),
    name: scenario,
    localPort: trunkPort,
    timeoutMs: 15_000,
  });
  carriers.push(process);
  return process;
}

function expectSippPassed(result: SippResult): void {
  const summary = describeSippResult(result);
  expect(result.exitCode, summary).toBe(0);
  expect(result.successfulCalls, summary).toBe(1);
  expect(result.failedCalls, summary).toBe(0);
}

/** The first request of this method that sipp received, as text. */
function receivedRequest(result: SippResult, method: string): string {
  const pattern = /message received [^\n]*\n\s*\n([\s\S]*?)(?=\n-{10,} |$)/g;
  for (const match of result.messageLog.matchAll(pattern)) {
    const text = match[1]!.replace(/\r/g, '').trimStart();
    if (text.startsWith(`${method} `)) return text;
  }
  throw new Error(`sipp received no ${method}\n${describeSippResult(result)}`);
}

function headerOf(message: string, name: string): string | undefined {
  return new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(message)?.[1]?.trim();
}

async function factsOf(callId: string): Promise<JournalFact[]> {
  await env.platform.journal.flush();
  return (await env.platform.journal.read(0, 100_000))
    .filter((e) => e.fact.callId === callId)
    .map((e) => e.fact);
}

async function journalLength(): Promise<number> {
  await env.platform.journal.flush();
  return env.platform.journal.lastSeq();
}

const requestsPath = () => `/callbacklists/${listId()}/requests`;

async function postAs(
  client: RestClient,
  path: string,
  body: unknown,
): Promise<{ status: number; body: Json }> {
  const response = await client.post(path, body);
  return { status: response.status, body: response.body as Json };
}

describe('outbound service calls (X-On-Behalf-Of-Queue)', () => {
  it('a member calls out on behalf of Support: the carrier sees the queue, the caller gets the CallId at first progress', async () => {
    const far = await carrier();
    const b = await ua('1002');
    const call = b.call(EXTERNAL_CALLEE, [['X-On-Behalf-Of-Queue', 'Support']]);
    const progress = await call.waitForProgress();
    const callId = progress.headers.get('X-Server-Call-Id')!;
    expect(callId).toMatch(UUID);
    expect(progress.headers.get('X-Call-Leg-Id')).toMatch(UUID);
    const final = await call.waitForFinal();
    expect(final.status).toBe(200);
    expect(final.headers.get('X-Server-Call-Id')).toBe(callId);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // a measurable Duration
    expect((await call.hangup()).status).toBe(200);
    const result = await far.done;
    expectSippPassed(result);

    // The callee sees the queue's number and name — never the agent's extension or number.
    const invite = receivedRequest(result, 'INVITE');
    expect(invite.split('\n', 1)[0]).toBe(`INVITE sip:${EXTERNAL_CALLEE}@127.0.0.1:${trunkPort} SIP/2.0`);
    expect(headerOf(invite, 'From')).toMatch(new RegExp(`^"Support" <sip:\\${QUEUE_NUMBER}@${DOMAIN}>;tag=`));
    expect(headerOf(invite, 'P-Asserted-Identity')).toBe(`"Support" <sip:${QUEUE_NUMBER}@${DOMAIN}>`);
    // (SIP headers only: the SDP passes through unchanged, DESIGN.md §7.)
    expect(invite.split('\n\n', 1)[0]).not.toMatch(/1002|\+358401000002/);
    expect(headerOf(invite, 'X-Server-Call-Id')).toBe(callId);

    const facts = await factsOf(callId);
    expect(facts[0]).toMatchObject({
      type: 'CallStarted',
      callKind: 'outbound-service',
      aNum: QUEUE_NUMBER,
      bNum: EXTERNAL_CALLEE,
      callerUserId: userId('b@example.com'),
      queueId: queueId(),
    });

    // Post-processing: one outbound service call record, owned by the queue.
    const record = await handledRecord(admin, '/outbound-servicecall', callId);
    expect(record).toMatchObject({
      CallId: callId,
      CallLegId: final.headers.get('X-Call-Leg-Id'),
      QueueId: queueId(),
      QueueName: 'Support',
      UserId: userId('b@example.com'),
      UserName: 'b@example.com',
      ANum: QUEUE_NUMBER,
      BNum: EXTERNAL_CALLEE,
      Result: 'Handled',
      EndResult: 0,
      RecordingIds: [],
    });
    expect(record!.Duration as number).toBeGreaterThanOrEqual(1);
    // It is the queue's record: no user call event, no inbound service call header.
    expect(await admin.list('/calls', { CallId: callId })).toEqual([]);
    expect(await admin.list('/servicecall', { CallId: callId })).toEqual([]);

    // Shown with ServiceCalls of the queue only: not to the agent who made it, nor to anyone else.
    for (const [email, password, sees] of [
      ['sees-support@example.com', 'pw', true],
      ['b@example.com', 'secret-b', false],
      ['sees-callbacks@example.com', 'pw', false],
      ['nobody@example.com', 'pw', false],
    ] as const) {
      const client = await env.rest(email, password);
      expect((await client.list('/outbound-servicecall', { CallId: callId })).length, email).toBe(
        sees ? 1 : 0,
      );
      expect(
        (await client.get('/outbound-servicecall', { CallId: callId, QueueIDs: queueId() })).status,
        email,
      ).toBe(sees ? 200 : 403);
    }
  });

  it('refuses a non-member (403) and an unknown queue (404) without starting a call', async () => {
    const before = await journalLength();
    const a = await ua('1001');
    const notMember = await a.call(EXTERNAL_CALLEE, [['X-On-Behalf-Of-Queue', 'Support']]).waitForFinal();
    expect(notMember.status).toBe(403);
    expect(notMember.reason).toBe('Not A Member Of The Queue');
    const b = await ua('1002');
    const unknown = await b.call(EXTERNAL_CALLEE, [['X-On-Behalf-Of-Queue', 'Billing']]).waitForFinal();
    expect(unknown.status).toBe(404);
    // Both headers at once: which call would it be?
    const both = await b
      .call(EXTERNAL_CALLEE, [
        ['X-On-Behalf-Of-Queue', queueId()],
        ['X-Callback-Request-Id', queueId()],
      ])
      .waitForFinal();
    expect(both.status).toBe(400);
    expect(await journalLength()).toBe(before);
  });
});

describe('outbound service calls to our own numbers', () => {
  it("rings a user with the queue's identity, and refuses a queue as the target", async () => {
    const [a, b] = await Promise.all([ua('1001'), ua('1002')]);
    const call = b.call('1001', [['X-On-Behalf-Of-Queue', QUEUE_NUMBER]]);
    const incoming = await a.waitForIncoming();
    expect(incoming.header('From')).toMatch(new RegExp(`^"Support" <sip:\\${QUEUE_NUMBER}@${DOMAIN}>;tag=`));
    expect(incoming.header('X-Server-Call-Id')).toBe(
      (await call.waitForProgress()).headers.get('X-Server-Call-Id'),
    );
    call.cancel();
    expect((await call.waitForFinal()).status).toBe(487);
    const toQueue = await b.call('100', [['X-On-Behalf-Of-Queue', 'Support']]).waitForFinal();
    expect(toQueue.status).toBe(403);
  });
});

describe('callback requests and outbound callback calls', () => {
  let requestId: string;
  let missedCallId: string;

  it('an external caller who abandons the queue leaves a callback request', async () => {
    const b = await ua('1002'); // a member who rings but does not answer
    const result = await runSipp({
      scenario: loadScenario('trunk-call-abandon'),
      name: 'trunk-call-abandon',
      remote: { host: '127.0.0.1', port: env.platform.sipPort },
      localPort: trunkPort,
      service: QUEUE_NUMBER,
      variables: { caller: EXTERNAL_CALLER },
      timeoutMs: 15_000,
    });
    expectSippPassed(result);
    expect(b.incoming.length).toBeGreaterThan(0);
    const ringing = /SIP\/2\.0 180[\s\S]*?^X-Server-Call-Id:[ \t]*(\S+)/im.exec(
      result.messageLog.replace(/\r/g, ''),
    );
    missedCallId = ringing![1]!;
    expect(missedCallId).toMatch(UUID);

    const viewer = await env.rest('sees-callbacks@example.com', 'pw');
    const request = await waitFor(
      async () => (await viewer.list<Json>(requestsPath())).find((r) => r.CallId === missedCallId),
      5000,
      'the callback request of the missed call',
    );
    requestId = request.Id as string;
    expect(request).toMatchObject({
      CallbackListId: listId(),
      CallbackListName: 'Support callbacks',
      QueueId: queueId(),
      QueueName: 'Support',
      Number: EXTERNAL_CALLER,
      Origin: 'MissedCall',
      Status: 'Open',
      CreatedByUserId: null,
      Attempts: [],
    });
    const [header] = await admin.list<Json>('/servicecall', { CallId: missedCallId });
    expect(header).toMatchObject({ Result: 'Cancelled' });
    // One request per missed call, however often post-processing sees it.
    expect((await viewer.list<Json>(requestsPath())).filter((r) => r.CallId === missedCallId)).toHaveLength(
      1,
    );
  });

  it('an agent handles it with a callback call: the customer sees the queue, the attempt is recorded', async () => {
    const far = await carrier();
    const b = await ua('1002');
    const call = b.call('callback', [['X-Callback-Request-Id', requestId]]);
    const progress = await call.waitForProgress();
    const callId = progress.headers.get('X-Server-Call-Id')!;
    expect(callId).toMatch(UUID);
    expect((await call.waitForFinal()).status).toBe(200);

    // The attempt is in the request's history as soon as the call is placed, without an outcome yet.
    const placed = await waitFor(
      async () => {
        const { body } = await admin.get(`${requestsPath()}/${requestId}`);
        const attempts = (body as Json).Attempts as Json[];
        return attempts.length > 0 ? attempts : undefined;
      },
      5000,
      'the attempt of the callback call in progress',
    );
    expect(placed).toEqual([
      expect.objectContaining({
        CallId: callId,
        Result: null,
        EndTime: null,
        UserId: userId('b@example.com'),
      }),
    ]);

    await call.hangup();
    const result = await far.done;
    expectSippPassed(result);
    const invite = receivedRequest(result, 'INVITE');
    // The number called is the request's; the callee sees the list's queue.
    expect(invite.split('\n', 1)[0]).toBe(`INVITE sip:${EXTERNAL_CALLER}@127.0.0.1:${trunkPort} SIP/2.0`);
    expect(headerOf(invite, 'From')).toMatch(new RegExp(`^"Support" <sip:\\${QUEUE_NUMBER}@${DOMAIN}>;tag=`));
    expect(headerOf(invite, 'P-Asserted-Identity')).toBe(`"Support" <sip:${QUEUE_NUMBER}@${DOMAIN}>`);

    expect((await factsOf(callId))[0]).toMatchObject({
      type: 'CallStarted',
      callKind: 'outbound-callback',
      aNum: QUEUE_NUMBER,
      bNum: EXTERNAL_CALLER,
      queueId: queueId(),
      callbackListId: listId(),
      callbackRequestId: requestId,
    });
    const record = await handledRecord(admin, '/outbound-callbackcall', callId);
    expect(record).toMatchObject({
      CallbackListId: listId(),
      CallbackListName: 'Support callbacks',
      CallbackRequestId: requestId,
      QueueId: queueId(),
      UserId: userId('b@example.com'),
      ANum: QUEUE_NUMBER,
      BNum: EXTERNAL_CALLER,
      Result: 'Handled',
      RecordingIds: [],
    });
    const { body } = await admin.get(`${requestsPath()}/${requestId}`);
    expect((body as Json).Attempts).toEqual([record]);
    expect((body as Json).Status).toBe('Open'); // the agent decides how it was handled

    // Shown with CallbackList of the list: to b (who holds it) and its viewer, not to the others.
    for (const [email, password, sees] of [
      ['b@example.com', 'secret-b', true],
      ['sees-callbacks@example.com', 'pw', true],
      ['c@example.com', 'secret-c', false],
      ['sees-support@example.com', 'pw', false],
      ['nobody@example.com', 'pw', false],
    ] as const) {
      const client = await env.rest(email, password);
      expect((await client.list('/outbound-callbackcall', { CallId: callId })).length, email).toBe(
        sees ? 1 : 0,
      );
      expect((await client.get(`${requestsPath()}/${requestId}`)).status, email).toBe(sees ? 200 : 403);
      expect((await client.get(requestsPath())).status, email).toBe(sees ? 200 : 403);
    }
  });

  it('closing and re-opening rules hold for REST and for callback calls', async () => {
    const b = await ua('1002');
    const agent = await env.rest('b@example.com', 'secret-b');

    // Closed successfully: no more callback calls, and it cannot be re-opened or closed again.
    const closed = await postAs(agent, `${requestsPath()}/${requestId}/close`, {
      Status: 'ClosedSuccessfully',
    });
    expect(closed.status).toBe(200);
    const refused = await b.call('callback', [['X-Callback-Request-Id', requestId]]).waitForFinal();
    expect([refused.status, refused.reason]).toEqual([403, 'Callback Request Not Open']);
    expect((await postAs(agent, `${requestsPath()}/${requestId}/reopen`, {})).status).toBe(409);
    expect(
      (await postAs(agent, `${requestsPath()}/${requestId}/close`, { Status: 'Cancelled' })).status,
    ).toBe(409);

    // A request made through REST: the callee is busy, the agent closes it ClosedBusy, later re-opens it.
    const far = await carrier('uas-busy');
    const created = await postAs(agent, requestsPath(), { Number: EXTERNAL_CALLEE, Note: 'asked by mail' });
    expect(created.status).toBe(201);
    const busyRequestId = created.body.Id as string;
    const busy = await b.call('callback', [['X-Callback-Request-Id', busyRequestId]]).waitForFinal();
    expect(busy.status).toBe(486);
    expectSippPassed(await far.done);
    const attempts = await waitFor(
      async () => {
        const { body } = await agent.get(`${requestsPath()}/${busyRequestId}`);
        const list = (body as Json).Attempts as Json[];
        return list[0]?.Result === 'Busy' ? list : undefined;
      },
      5000,
      'the busy attempt',
    );
    expect(attempts).toHaveLength(1);
    expect(
      (await postAs(agent, `${requestsPath()}/${busyRequestId}/close`, { Status: 'ClosedBusy' })).status,
    ).toBe(200);
    expect((await b.call('callback', [['X-Callback-Request-Id', busyRequestId]]).waitForFinal()).status).toBe(
      403,
    );
    const reopened = await postAs(agent, `${requestsPath()}/${busyRequestId}/reopen`, {
      Note: 'try again tomorrow',
    });
    expect(reopened.status).toBe(200);
    expect(reopened.body).toMatchObject({ Status: 'Open', Note: 'try again tomorrow' });
  });

  it('refuses callback calls without the permission (403), for unknown requests (404), and while one is in progress (403)', async () => {
    const before = await journalLength();
    const agent = await env.rest('b@example.com', 'secret-b');
    // A request to call user A back (an extension: the callback rings A's phone, no carrier needed).
    const created = await postAs(agent, requestsPath(), { Number: '1001' });
    const pendingId = created.body.Id as string;
    const [b, c, d, a] = await Promise.all([ua('1002'), ua('1003'), ua('1004'), ua('1001')]);

    const noPermission = await c.call('callback', [['X-Callback-Request-Id', pendingId]]).waitForFinal();
    expect([noPermission.status, noPermission.reason]).toEqual([403, 'No CallbackList Permission']);
    const unknown = await b
      .call('callback', [['X-Callback-Request-Id', '7f000000-0000-4000-8000-000000000000']])
      .waitForFinal();
    expect(unknown.status).toBe(404);
    const malformed = await b.call('callback', [['X-Callback-Request-Id', 'not-an-id']]).waitForFinal();
    expect(malformed.status).toBe(404);
    expect(await journalLength()).toBe(before);

    // b's callback rings A; meanwhile d (also permitted) cannot start another one for the same request.
    const first = b.call('callback', [['X-Callback-Request-Id', pendingId]]);
    const ringingAtA = await a.waitForIncoming();
    expect(ringingAtA.header('From')).toMatch(new RegExp(`^"Support" <sip:\\${QUEUE_NUMBER}@${DOMAIN}>`));
    const second = await d.call('callback', [['X-Callback-Request-Id', pendingId]]).waitForFinal();
    expect([second.status, second.reason]).toEqual([403, 'Callback Already In Progress']);
    await first.waitForProgress();
    first.cancel();
    expect((await first.waitForFinal()).status).toBe(487);
    await ringingAtA.waitForCancel();
  });
});
