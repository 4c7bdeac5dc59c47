/**
 * The callback request contract of the record store, run against SQLite and PostgreSQL by
 * ./sqlite.test.ts and ./postgres.test.ts: creation (insert-once), listing, the status rules
 * (close only when Open, re-open only from a re-openable status, atomically), the attempt history
 * from callback call records, and durability across reopening the store.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallbackRequest, OutboundCallbackCall, RecordStore } from '../types.js';
import type { StoreFactory } from './test-stores.js';

const T0 = Date.UTC(2030, 2, 1, 9, 0, 0);
const LIST = 'cb000000-0000-4000-8000-000000000001';
const OTHER_LIST = 'cb000000-0000-4000-8000-000000000002';

function request(overrides: Partial<CallbackRequest> = {}): CallbackRequest {
  return {
    callbackRequestId: randomUUID(),
    callbackListId: LIST,
    queueId: 'queue-support',
    number: '+358501234567',
    callId: randomUUID(),
    origin: 'MissedCall',
    note: null,
    status: 'Open',
    createdMs: T0,
    createdByUserId: null,
    closedMs: null,
    closedByUserId: null,
    modifiedMs: T0 + 10,
    ...overrides,
  };
}

function attempt(
  callbackRequestId: string,
  overrides: Partial<OutboundCallbackCall> = {},
): OutboundCallbackCall {
  return {
    eventId: randomUUID(),
    callId: randomUUID(),
    callLegId: randomUUID(),
    callbackListId: LIST,
    callbackListName: 'Support callbacks',
    callbackRequestId,
    queueId: 'queue-support',
    userId: 'user-b',
    userName: 'b@example.com',
    aNum: '+35810100100',
    bNum: '+358501234567',
    timestampMs: T0 + 60_000,
    answerTimeMs: null,
    endTimeMs: null,
    durationSeconds: 0,
    result: null,
    recordingIds: [],
    modifiedMs: T0 + 60_000,
    ...overrides,
  };
}

export function runCallbackRequestContract(name: string, makeFactory: () => StoreFactory): void {
  describe(`callback requests in the ${name} store`, () => {
    let factory: StoreFactory;
    let counter = 0;
    const freshStore = (): Promise<RecordStore> => factory.open(`cb${++counter}`);

    beforeAll(() => {
      factory = makeFactory();
    });
    afterAll(async () => {
      await factory.cleanup();
    });

    it('creates a request once: the same id again returns the stored one unchanged', async () => {
      const s = await freshStore();
      const first = request();
      expect(await s.createCallbackRequest(first)).toEqual(first);
      const again = await s.createCallbackRequest({ ...first, number: '+000', status: 'Cancelled' });
      expect(again).toEqual(first);
      expect(await s.getCallbackRequest(first.callbackRequestId)).toEqual(first);
      expect(await s.getCallbackRequest(randomUUID())).toBeUndefined();
    });

    it('lists one list, oldest first, optionally by status', async () => {
      const s = await freshStore();
      const late = request({ createdMs: T0 + 2000 });
      const early = request({
        createdMs: T0 + 1000,
        origin: 'Api',
        createdByUserId: 'user-a',
        callId: null,
        note: 'asked by mail',
      });
      const closed = request({
        createdMs: T0 + 3000,
        status: 'ClosedBusy',
        closedMs: T0 + 4000,
        closedByUserId: 'user-b',
      });
      const elsewhere = request({ callbackListId: OTHER_LIST });
      for (const r of [late, early, closed, elsewhere]) await s.createCallbackRequest(r);
      expect(await s.listCallbackRequests({ callbackListId: LIST })).toEqual([early, late, closed]);
      expect(await s.listCallbackRequests({ callbackListId: LIST, status: 'Open' })).toEqual([early, late]);
      expect(await s.listCallbackRequests({ callbackListId: LIST, status: 'ClosedBusy' })).toEqual([closed]);
      expect(await s.listCallbackRequests({ callbackListId: LIST, limit: 1 })).toEqual([early]);
      expect(await s.listCallbackRequests({ callbackListId: randomUUID() })).toEqual([]);
    });

    it('closes only an Open request; a second close is a Conflict; an unknown id is NotFound', async () => {
      const s = await freshStore();
      const open = await s.createCallbackRequest(request());
      const closed = await s.closeCallbackRequest({
        callbackRequestId: open.callbackRequestId,
        status: 'ClosedSuccessfully',
        byUserId: 'user-b',
        atMs: T0 + 5000,
        note: 'customer happy',
      });
      expect(closed).toEqual({
        ok: true,
        request: {
          ...open,
          status: 'ClosedSuccessfully',
          closedMs: T0 + 5000,
          closedByUserId: 'user-b',
          note: 'customer happy',
          modifiedMs: T0 + 5000,
        },
      });
      const again = await s.closeCallbackRequest({
        callbackRequestId: open.callbackRequestId,
        status: 'ClosedBusy',
        byUserId: 'user-c',
        atMs: T0 + 6000,
      });
      expect(again).toMatchObject({
        ok: false,
        reason: 'Conflict',
        request: { status: 'ClosedSuccessfully', closedByUserId: 'user-b' },
      });
      expect(
        await s.closeCallbackRequest({
          callbackRequestId: randomUUID(),
          status: 'Cancelled',
          byUserId: 'x',
          atMs: T0,
        }),
      ).toEqual({ ok: false, reason: 'NotFound' });
    });

    it('re-opens ClosedBusy, ClosedNoAnswer and Cancelled, never ClosedSuccessfully, ClosedInvalidNumber or Open', async () => {
      const s = await freshStore();
      const outcomes: Record<string, boolean> = {};
      for (const status of [
        'ClosedBusy',
        'ClosedNoAnswer',
        'Cancelled',
        'ClosedSuccessfully',
        'ClosedInvalidNumber',
      ] as const) {
        const r = await s.createCallbackRequest(request());
        await s.closeCallbackRequest({
          callbackRequestId: r.callbackRequestId,
          status,
          byUserId: 'user-b',
          atMs: T0 + 100,
        });
        const reopened = await s.reopenCallbackRequest({
          callbackRequestId: r.callbackRequestId,
          byUserId: 'user-c',
          atMs: T0 + 200,
        });
        outcomes[status] = reopened.ok;
        if (reopened.ok) {
          expect(reopened.request).toMatchObject({ status: 'Open', closedMs: null, closedByUserId: null });
        } else {
          expect(reopened).toMatchObject({ reason: 'Conflict', request: { status } });
        }
      }
      expect(outcomes).toEqual({
        ClosedBusy: true,
        ClosedNoAnswer: true,
        Cancelled: true,
        ClosedSuccessfully: false,
        ClosedInvalidNumber: false,
      });
      const open = await s.createCallbackRequest(request());
      expect(
        await s.reopenCallbackRequest({ callbackRequestId: open.callbackRequestId, byUserId: 'u', atMs: T0 }),
      ).toMatchObject({
        ok: false,
        reason: 'Conflict',
      });
    });

    it('lets exactly one of many concurrent closes win', async () => {
      const s = await freshStore();
      const r = await s.createCallbackRequest(request());
      const results = await Promise.all(
        ['ClosedSuccessfully', 'ClosedBusy', 'ClosedNoAnswer', 'Cancelled'].map((status, i) =>
          s.closeCallbackRequest({
            callbackRequestId: r.callbackRequestId,
            status: status as 'ClosedBusy',
            byUserId: `user-${i}`,
            atMs: T0 + 1000,
          }),
        ),
      );
      expect(results.filter((result) => result.ok)).toHaveLength(1);
      expect(results.filter((result) => !result.ok && result.reason === 'Conflict')).toHaveLength(3);
    });

    it('keeps Modified strictly increasing even when the clock steps back', async () => {
      const s = await freshStore();
      const r = await s.createCallbackRequest(request({ modifiedMs: T0 + 10_000 }));
      const closed = await s.closeCallbackRequest({
        callbackRequestId: r.callbackRequestId,
        status: 'ClosedBusy',
        byUserId: 'u',
        atMs: T0,
      });
      expect(closed.ok && closed.request.modifiedMs).toBe(T0 + 10_001);
      const reopened = await s.reopenCallbackRequest({
        callbackRequestId: r.callbackRequestId,
        byUserId: 'u',
        atMs: T0,
      });
      expect(reopened.ok && reopened.request.modifiedMs).toBe(T0 + 10_002);
    });

    it("gives a request's attempts from the callback call records, oldest first, with their outcome", async () => {
      const s = await freshStore();
      const r = await s.createCallbackRequest(request());
      const other = await s.createCallbackRequest(request());
      const second = attempt(r.callbackRequestId, { timestampMs: T0 + 120_000 });
      const first = attempt(r.callbackRequestId, { timestampMs: T0 + 60_000 });
      const elsewhere = attempt(other.callbackRequestId, { timestampMs: T0 + 90_000 });
      await s.writeBatch({ outboundCallbackCalls: [second, first, elsewhere] });
      expect(await s.listCallbackAttempts([r.callbackRequestId])).toEqual([first, second]);
      // The call's end updates the same record: the attempt now has its outcome.
      const ended = { ...first, endTimeMs: T0 + 70_000, result: 'Busy' as const, modifiedMs: T0 + 70_001 };
      await s.writeBatch({ outboundCallbackCalls: [ended] });
      expect(await s.listCallbackAttempts([r.callbackRequestId, other.callbackRequestId])).toEqual([
        ended,
        elsewhere,
        second,
      ]);
      expect(await s.listCallbackAttempts([])).toEqual([]);
    });

    it('writes missed-call requests insert-once within a batch: a replay never re-opens a handled request', async () => {
      const s = await freshStore();
      const missed = request();
      await s.writeBatch({ callbackRequests: [missed], checkpoint: { consumer: 'records', seq: 7 } });
      expect(await s.getCallbackRequest(missed.callbackRequestId)).toEqual(missed);
      await s.closeCallbackRequest({
        callbackRequestId: missed.callbackRequestId,
        status: 'ClosedSuccessfully',
        byUserId: 'u',
        atMs: T0 + 1,
      });
      await s.writeBatch({ callbackRequests: [missed], checkpoint: { consumer: 'records', seq: 7 } });
      expect(await s.getCallbackRequest(missed.callbackRequestId)).toMatchObject({
        status: 'ClosedSuccessfully',
      });
    });

    it('keeps requests across reopening the store (durable state)', async () => {
      const name = `cb-durable-${++counter}`;
      const first = await factory.open(name);
      const r = await first.createCallbackRequest(request());
      await first.closeCallbackRequest({
        callbackRequestId: r.callbackRequestId,
        status: 'ClosedNoAnswer',
        byUserId: 'u',
        atMs: T0 + 50,
      });
      await first.close();
      const second = await factory.open(name);
      expect(await second.getCallbackRequest(r.callbackRequestId)).toMatchObject({
        status: 'ClosedNoAnswer',
        closedMs: T0 + 50,
      });
    });
  });
}
