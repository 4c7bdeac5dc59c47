/**
 * /callbacklists/{id}/requests over real HTTP against a real SQLite record store (the callback
 * request store is what these tests test; call records come from the in-memory fixture): creation,
 * reading with attempts, the status rules with 409s, validation, and who may do what.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../records/store/index.js';
import type { OutboundCallbackCall, RecordStore } from '../records/types.js';
import {
  asRecord,
  asRecords,
  basic,
  request,
  startTestApi,
  type TestApi,
  type TestResponse,
} from './test-fixtures.js';

let api: TestApi;
let store: RecordStore;
let dataDir: string;
let supportList: string;
let salesList: string;
let supportQueue: string;
let salesQueue: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'api-callbacks-'));
  store = await openStore({ dataDir });
  api = await startTestApi({ callbacks: store });
  supportList = api.directory.callbackListByName('Support callbacks')!.callbackListId;
  salesList = api.directory.callbackListByName('Sales callbacks')!.callbackListId;
  supportQueue = api.directory.queueByReference('Support')!.queueId;
  salesQueue = api.directory.queueByReference('Sales')!.queueId;
});

afterAll(async () => {
  await api?.close();
  await store?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function post(path: string, username: string, body?: unknown): Promise<TestResponse> {
  return request(api.baseUrl, path, {
    method: 'POST',
    headers: { authorization: basic(username, await api.keyOf(username)), 'x-json-serializer': '2' },
    ...(body === undefined ? {} : { body }),
  });
}

const requestsOf = (listId: string) => `/callbacklists/${listId}/requests`;

async function create(
  number = '+358501112222',
  username = 'callback@example.com',
): Promise<Record<string, unknown>> {
  const response = await post(requestsOf(supportList), username, { Number: number });
  expect(response.status, response.text).toBe(201);
  return asRecord(response.body);
}

describe('callback requests over REST', () => {
  it('creates an Open request (201) and reads it back with its (empty) attempt history', async () => {
    const before = Date.now();
    const created = await post(requestsOf(supportList), 'callback@example.com', {
      Number: ' +358501112222 ',
      Note: 'wants a call after 14:00',
    });
    expect(created.status, created.text).toBe(201);
    const body = asRecord(created.body);
    expect(body).toMatchObject({
      CallbackListId: supportList,
      CallbackListName: 'Support callbacks',
      QueueId: supportQueue,
      QueueName: 'Support',
      Number: '+358501112222',
      CallId: null,
      Origin: 'Api',
      Status: 'Open',
      Note: 'wants a call after 14:00',
      CreatedByUserId: api.directory.userByUsername('callback@example.com')!.userId,
      ClosedTime: null,
      ClosedByUserId: null,
      Attempts: [],
    });
    expect(Date.parse(String(body.CreatedTime))).toBeGreaterThanOrEqual(before - 1000);
    const read = await api.get(`${requestsOf(supportList)}/${body.Id}`, 'callback@example.com');
    expect(read.status).toBe(200);
    expect(read.body).toEqual(body);
    // Durable: it is in the store, not in the API process.
    expect(await store.getCallbackRequest(String(body.Id))).toMatchObject({ status: 'Open', origin: 'Api' });
    // Another queue may be named; an unknown one is refused.
    const sales = await post(requestsOf(supportList), 'callback@example.com', {
      Number: '1001',
      QueueId: salesQueue,
    });
    expect(asRecord(sales.body)).toMatchObject({ QueueId: salesQueue, QueueName: 'Sales' });
    const unknownQueue = await post(requestsOf(supportList), 'callback@example.com', {
      Number: '1001',
      QueueId: randomUUID(),
    });
    expect(unknownQueue.status).toBe(400);
    expect(unknownQueue.body).toMatchObject({ Code: 'BAD_PARAMETER', Parameter: 'QueueId' });
  });

  it('enforces the status rules: close only when Open, re-open only ClosedBusy/ClosedNoAnswer/Cancelled (409 otherwise)', async () => {
    const { Id } = await create();
    const path = `${requestsOf(supportList)}/${Id}`;
    const busy = await post(`${path}/close`, 'callback@example.com', {
      Status: 'ClosedBusy',
      Note: 'busy twice',
    });
    expect(busy.status, busy.text).toBe(200);
    expect(busy.body).toMatchObject({
      Status: 'ClosedBusy',
      Note: 'busy twice',
      ClosedByUserId: api.directory.userByUsername('callback@example.com')!.userId,
    });
    expect(asRecord(busy.body).ClosedTime).toEqual(expect.any(String));

    const closeAgain = await post(`${path}/close`, 'admin@example.com', { Status: 'ClosedSuccessfully' });
    expect(closeAgain.status).toBe(409);
    expect(closeAgain.body).toMatchObject({ Code: 'CONFLICT' });
    expect(String(asRecord(closeAgain.body).Message)).toContain('ClosedBusy');

    const reopened = await post(`${path}/reopen`, 'admin@example.com');
    expect(reopened.status, reopened.text).toBe(200);
    expect(reopened.body).toMatchObject({
      Status: 'Open',
      ClosedTime: null,
      ClosedByUserId: null,
      Note: 'busy twice',
    });
    expect((await post(`${path}/reopen`, 'admin@example.com', {})).status).toBe(409);

    const done = await post(`${path}/close`, 'admin@example.com', { Status: 'ClosedSuccessfully' });
    expect(done.status).toBe(200);
    const reopenDone = await post(`${path}/reopen`, 'admin@example.com', {});
    expect(reopenDone.status).toBe(409);
    expect(String(asRecord(reopenDone.body).Message)).toContain('ClosedSuccessfully');

    const invalid = await create();
    const invalidPath = `${requestsOf(supportList)}/${invalid.Id}`;
    expect(
      (await post(`${invalidPath}/close`, 'admin@example.com', { Status: 'ClosedInvalidNumber' })).status,
    ).toBe(200);
    expect((await post(`${invalidPath}/reopen`, 'admin@example.com', {})).status).toBe(409);
    for (const status of ['ClosedNoAnswer', 'Cancelled']) {
      const { Id: other } = await create();
      const otherPath = `${requestsOf(supportList)}/${other}`;
      expect((await post(`${otherPath}/close`, 'admin@example.com', { Status: status })).status).toBe(200);
      expect((await post(`${otherPath}/reopen`, 'admin@example.com', {})).status).toBe(200);
    }
  });

  it('refuses bad input with 400s naming the field', async () => {
    const { Id } = await create();
    const path = `${requestsOf(supportList)}/${Id}`;
    const cases: [string, unknown, string][] = [
      [requestsOf(supportList), { Number: 'not a number' }, 'Number'],
      [requestsOf(supportList), { Number: 'sip:x@y' }, 'Number'],
      [requestsOf(supportList), {}, 'Number'],
      [requestsOf(supportList), { Number: '+358501', Extra: 1 }, 'Extra'],
      [requestsOf(supportList), { Number: '+358501', Note: 'x'.repeat(1001) }, 'Note'],
      [`${path}/close`, { Status: 'Open' }, 'Status'],
      [`${path}/close`, { Status: 'Done' }, 'Status'],
      [`${path}/close`, {}, 'Status'],
    ];
    for (const [target, body, parameter] of cases) {
      const response = await post(target, 'callback@example.com', body);
      expect(response.status, `${target} ${JSON.stringify(body)}`).toBe(400);
      expect(asRecord(response.body).Parameter, response.text).toBe(parameter);
    }
    const badStatusFilter = await api.get(`${requestsOf(supportList)}?Status=open`, 'callback@example.com');
    expect(badStatusFilter.status).toBe(400);
    expect((await api.get('/callbacklists/not-a-uuid/requests', 'admin@example.com')).status).toBe(400);
    // The request was not changed by any of it.
    expect(await store.getCallbackRequest(String(Id))).toMatchObject({ status: 'Open' });
  });

  it('shows each request only with the CallbackList permission of its list', async () => {
    const { Id } = await create();
    const single = `${requestsOf(supportList)}/${Id}`;
    // callback@: Support callbacks only; everything@: CallbackList *; admin: all; b@ is a list member
    // without the grant; nobody@ has nothing.
    for (const [username, allowed] of [
      ['callback@example.com', true],
      ['everything@example.com', true],
      ['admin@example.com', true],
      ['b@example.com', false],
      ['nobody@example.com', false],
    ] as const) {
      const list = await api.get(requestsOf(supportList), username);
      expect(list.status, username).toBe(allowed ? 200 : 403);
      if (allowed) expect(asRecords(list.body).map((r) => r.Id)).toContain(Id);
      else expect(list.body).toMatchObject({ Code: 'FORBIDDEN', Parameter: 'CallbackListId' });
      expect((await api.get(single, username)).status, username).toBe(allowed ? 200 : 403);
      expect((await post(`${single}/close`, username, { Status: 'Cancelled' })).status).toBe(
        allowed ? 200 : 403,
      );
      if (allowed) expect((await post(`${single}/reopen`, username, {})).status).toBe(200);
      expect((await post(requestsOf(supportList), username, { Number: '+3585' })).status).toBe(
        allowed ? 201 : 403,
      );
    }
    // Support callbacks does not cover Sales callbacks.
    expect((await api.get(requestsOf(salesList), 'callback@example.com')).status).toBe(403);
    expect((await api.get(requestsOf(salesList), 'everything@example.com')).status).toBe(200);
    // A request read through another list's path, an unknown request, an unknown list: 404.
    expect((await api.get(`${requestsOf(salesList)}/${Id}`, 'admin@example.com')).status).toBe(404);
    expect(
      (await post(`${requestsOf(salesList)}/${Id}/close`, 'admin@example.com', { Status: 'Cancelled' }))
        .status,
    ).toBe(404);
    expect((await api.get(`${requestsOf(supportList)}/${randomUUID()}`, 'admin@example.com')).status).toBe(
      404,
    );
    expect(
      (
        await post(`${requestsOf(supportList)}/${randomUUID()}/close`, 'admin@example.com', {
          Status: 'Cancelled',
        })
      ).status,
    ).toBe(404);
    expect((await api.get(requestsOf(randomUUID()), 'admin@example.com')).status).toBe(404);
  });

  it('lists a list oldest first, filtered by Status, each request with its attempts and the latest Modified', async () => {
    const first = await create('+358500000001');
    const second = await create('+358500000002');
    await post(`${requestsOf(supportList)}/${second.Id}/close`, 'callback@example.com', {
      Status: 'ClosedNoAnswer',
    });
    const attemptMs = Date.now() + 60_000;
    const attempt: OutboundCallbackCall = {
      eventId: randomUUID(),
      callId: randomUUID(),
      callLegId: randomUUID(),
      callbackListId: supportList,
      callbackListName: 'Support callbacks',
      callbackRequestId: String(first.Id),
      queueId: supportQueue,
      userId: api.directory.userByUsername('b@example.com')!.userId,
      userName: 'b@example.com',
      aNum: '+35810100100',
      bNum: '+358500000001',
      timestampMs: attemptMs,
      answerTimeMs: attemptMs + 2000,
      endTimeMs: attemptMs + 32_000,
      durationSeconds: 30,
      result: 'Handled',
      recordingIds: [],
      modifiedMs: attemptMs + 33_000,
    };
    await store.writeBatch({ outboundCallbackCalls: [attempt] });

    const all = asRecords((await api.get(requestsOf(supportList), 'callback@example.com')).body);
    const ids = all.map((r) => r.Id);
    expect(ids.indexOf(first.Id)).toBeLessThan(ids.indexOf(second.Id));
    const open = asRecords(
      (await api.get(`${requestsOf(supportList)}?status=Open`, 'callback@example.com')).body,
    );
    expect(open.every((r) => r.Status === 'Open')).toBe(true);
    expect(open.map((r) => r.Id)).toContain(first.Id);
    expect(open.map((r) => r.Id)).not.toContain(second.Id);
    const noAnswer = asRecords(
      (await api.get(`${requestsOf(supportList)}?Status=ClosedNoAnswer`, 'callback@example.com')).body,
    );
    expect(noAnswer.map((r) => r.Id)).toContain(second.Id);

    const withAttempt = all.find((r) => r.Id === first.Id)!;
    expect(withAttempt.Attempts).toEqual([
      expect.objectContaining({
        Id: attempt.eventId,
        CallId: attempt.callId,
        CallbackRequestId: first.Id,
        UserName: 'b@example.com',
        Result: 'Handled',
        EndResult: 0,
        Duration: 30,
      }),
    ]);
    expect(withAttempt.Modified).toBe(new Date(attemptMs + 33_000).toISOString());
  });

  it('documents the endpoints in the OpenAPI document (201 for creation, 409 for status conflicts)', async () => {
    const document = asRecord((await api.get('/openapi.json', 'nobody@example.com')).body);
    const paths = asRecord(document.paths);
    const create = asRecord(asRecord(paths['/callbacklists/{CallbackListId}/requests']).post);
    expect(Object.keys(asRecord(create.responses))).toContain('201');
    const close = asRecord(
      asRecord(paths['/callbacklists/{CallbackListId}/requests/{CallbackRequestId}/close']).post,
    );
    expect(Object.keys(asRecord(close.responses))).toContain('409');
    expect(paths).toHaveProperty(['/callbacklists/{CallbackListId}/requests/{CallbackRequestId}']);
    expect(paths).toHaveProperty(['/callbacklists/{CallbackListId}/requests/{CallbackRequestId}/reopen']);
    expect(asRecord(asRecord(document.components).schemas)).toHaveProperty(['CallbackRequest']);
  });

  it('serves no callback request routes when the API is given no callback store', async () => {
    const bare = await startTestApi();
    try {
      const response = await bare.get(`/callbacklists/${supportList}/requests`, 'admin@example.com');
      expect(response.status).toBe(404);
      expect(response.body).toMatchObject({ Code: 'NO_ROUTE' });
    } finally {
      await bare.close();
    }
  });
});
