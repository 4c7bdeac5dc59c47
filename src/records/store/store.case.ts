/**
 * The record store contract, run against every implementation (hono's `*.case` style): the
 * SQLite and PostgreSQL test files call `runStoreContract` with their own factory.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  OutboundCallbackCall,
  OutboundServiceCall,
  RecordStore,
  ServiceCall,
  ServiceCallDetailWrite,
  UserCallEvent,
  UserCallEventQuery,
} from '../types.js';
import type { StoreFactory } from './test-stores.js';

/** A time past 2^31 ms and 2^32 s, so that 32-bit truncation anywhere would show. */
const T0 = Date.UTC(2030, 0, 15, 12, 0, 0);
const HOUR = 3_600_000;

function userEvent(overrides: Partial<UserCallEvent> = {}): UserCallEvent {
  return {
    eventId: randomUUID(),
    callId: randomUUID(),
    callLegId: randomUUID(),
    userId: 'user-a',
    userName: 'a@example.com',
    callType: 'DirectCall',
    direction: 'outbound',
    result: 'Handled',
    aNum: '1001',
    bNum: '1002',
    queueId: null,
    queueName: null,
    timestampMs: T0,
    answerTimeMs: T0 + 2000,
    endTimeMs: T0 + 62_000,
    durationSeconds: 60,
    recordingIds: [],
    modifiedMs: T0 + 62_500,
    transferredTo: null,
    ...overrides,
  };
}

function serviceCall(overrides: Partial<ServiceCall> = {}): ServiceCall {
  return {
    eventId: randomUUID(),
    callId: randomUUID(),
    queueId: 'queue-support',
    queueName: 'Support',
    aNum: '+358401000001',
    bNum: '+35810100100',
    arrivalTimeMs: T0,
    answerTimeMs: null,
    endTimeMs: null,
    waitTimeSeconds: 0,
    durationSeconds: 0,
    result: null,
    answeredByUserId: null,
    answeredByUserName: null,
    allocationCount: 0,
    recordingIds: [],
    modifiedMs: T0,
    ...overrides,
  };
}

function detail(
  callId: string,
  seq: number,
  overrides: Partial<ServiceCallDetailWrite> = {},
): ServiceCallDetailWrite {
  return {
    eventId: randomUUID(),
    callId,
    callLegId: null,
    queueId: 'queue-support',
    queueName: 'Support',
    userId: null,
    userName: null,
    eventType: 'CallArrival',
    reason: null,
    timestampMs: T0 + seq,
    modifiedMs: T0 + seq,
    seq,
    subSeq: 0,
    ...overrides,
  };
}

function outboundServiceCall(overrides: Partial<OutboundServiceCall> = {}): OutboundServiceCall {
  return {
    eventId: randomUUID(),
    callId: randomUUID(),
    callLegId: randomUUID(),
    queueId: 'queue-support',
    queueName: 'Support',
    userId: 'user-b',
    userName: 'b@example.com',
    aNum: '+35810100100',
    bNum: '+358409999999',
    timestampMs: T0,
    answerTimeMs: T0 + 5000,
    endTimeMs: T0 + 65_000,
    durationSeconds: 60,
    result: 'Handled',
    recordingIds: ['rec-1'],
    modifiedMs: T0 + 66_000,
    ...overrides,
  };
}

function outboundCallbackCall(overrides: Partial<OutboundCallbackCall> = {}): OutboundCallbackCall {
  return {
    eventId: randomUUID(),
    callId: randomUUID(),
    callLegId: randomUUID(),
    callbackListId: 'list-support',
    callbackListName: 'Support callbacks',
    callbackRequestId: randomUUID(),
    queueId: 'queue-support',
    userId: 'user-c',
    userName: 'c@example.com',
    aNum: '+35810100100',
    bNum: '+358409999998',
    timestampMs: T0,
    answerTimeMs: null,
    endTimeMs: T0 + 30_000,
    durationSeconds: 0,
    result: 'Missed',
    recordingIds: [],
    modifiedMs: T0 + 31_000,
    ...overrides,
  };
}

function everyone(selection: UserCallEventQuery['selection']): UserCallEventQuery {
  return { selection, visibleDirectCallUserIds: '*', visibleAgentCallUserIds: '*' };
}

export function runStoreContract(name: string, makeFactory: () => StoreFactory): void {
  describe(`record store contract: ${name}`, () => {
    let factory: StoreFactory;
    let storeCount = 0;

    /** A store of its own for a test that needs an empty one. */
    async function freshStore(): Promise<RecordStore> {
      storeCount += 1;
      return factory.open(`s${storeCount}`);
    }

    // No I/O here: with the database down every test must fail on its own, not be skipped.
    beforeAll(() => {
      factory = makeFactory();
    });

    afterAll(async () => {
      await factory?.cleanup();
    });

    it('starts empty', async () => {
      const empty = await freshStore();
      const window = { by: 'time', fromMs: 0, toMs: Number.MAX_SAFE_INTEGER } as const;
      expect(await empty.listUserCallEvents(everyone(window))).toEqual([]);
      expect(await empty.listServiceCalls({ selection: window, visibleQueueIds: '*' })).toEqual([]);
      expect(await empty.listServiceCallDetails(randomUUID())).toEqual([]);
      expect(await empty.listOutboundServiceCalls({ selection: window, visibleQueueIds: '*' })).toEqual([]);
      expect(
        await empty.listOutboundCallbackCalls({ selection: window, visibleCallbackListIds: '*' }),
      ).toEqual([]);
      expect(await empty.readCheckpoint('records')).toBe(0);
      expect(await empty.listOpenCallProgress()).toEqual([]);
      expect(await empty.getUserCallEvent(randomUUID())).toBeUndefined();
    });

    it('round-trips user call events exactly, with times as numbers', async () => {
      const s = await freshStore();
      const event = userEvent({
        callType: 'ServiceCall',
        direction: 'inbound',
        result: 'Allocated',
        queueId: 'queue-support',
        queueName: 'Support',
        answerTimeMs: null,
        endTimeMs: null,
        durationSeconds: 0,
        recordingIds: ['r1', 'r2'],
      });
      await s.writeBatch({ userCallEvents: [event] });
      const read = await s.getUserCallEvent(event.eventId);
      expect(read).toEqual(event);
      expect(typeof read?.timestampMs).toBe('number');
      expect(await s.listUserCallEvents(everyone({ by: 'callId', callId: event.callId }))).toEqual([event]);
    });

    it('upserts by eventId: a newer version replaces the row, never duplicates it', async () => {
      const s = await freshStore();
      const first = userEvent({ result: 'Handled', endTimeMs: null, durationSeconds: 0 });
      await s.writeBatch({ userCallEvents: [first] });
      const second = { ...first, endTimeMs: T0 + 90_000, durationSeconds: 88, modifiedMs: T0 + 91_000 };
      await s.writeBatch({ userCallEvents: [second] });
      expect(await s.listUserCallEvents(everyone({ by: 'callId', callId: first.callId }))).toEqual([second]);
      // Two versions in one batch: the last one wins.
      const third = { ...second, durationSeconds: 89 };
      await s.writeBatch({ userCallEvents: [{ ...second, durationSeconds: 1 }, third] });
      expect(await s.getUserCallEvent(first.eventId)).toEqual(third);
    });

    it('selects by start time in [from, to), by modified in [from, to), and by CallId', async () => {
      const s = await freshStore();
      const callId = randomUUID();
      const early = userEvent({ timestampMs: T0 - 1, modifiedMs: T0 + 10 * HOUR });
      const atStart = userEvent({ callId, timestampMs: T0, modifiedMs: T0 + HOUR });
      const inside = userEvent({ callId, timestampMs: T0 + HOUR, modifiedMs: T0 + 2 * HOUR });
      const atEnd = userEvent({ timestampMs: T0 + 2 * HOUR, modifiedMs: T0 + 3 * HOUR });
      await s.writeBatch({ userCallEvents: [inside, atEnd, early, atStart] });
      const byTime = await s.listUserCallEvents(everyone({ by: 'time', fromMs: T0, toMs: T0 + 2 * HOUR }));
      expect(byTime.map((e) => e.eventId)).toEqual([atStart.eventId, inside.eventId]);
      const byModified = await s.listUserCallEvents(
        everyone({ by: 'modified', fromMs: T0 + 2 * HOUR, toMs: T0 + 10 * HOUR + 1 }),
      );
      expect(byModified.map((e) => e.eventId)).toEqual([early.eventId, inside.eventId, atEnd.eventId]);
      const byCall = await s.listUserCallEvents(everyone({ by: 'callId', callId }));
      expect(byCall.map((e) => e.eventId)).toEqual([atStart.eventId, inside.eventId]);
    });

    it('orders by time then eventId and honours limit', async () => {
      const s = await freshStore();
      const ids = Array.from({ length: 5 }, () => randomUUID()).sort();
      const events = [
        userEvent({ eventId: ids[3], timestampMs: T0 }),
        userEvent({ eventId: ids[1], timestampMs: T0 + 5 }),
        userEvent({ eventId: ids[4], timestampMs: T0 + 5 }),
        userEvent({ eventId: ids[0], timestampMs: T0 + 9 }),
        userEvent({ eventId: ids[2], timestampMs: T0 }),
      ];
      await s.writeBatch({ userCallEvents: events });
      const window = { by: 'time', fromMs: T0, toMs: T0 + 10 } as const;
      const all = await s.listUserCallEvents(everyone(window));
      expect(all.map((e) => e.eventId)).toEqual([ids[2], ids[3], ids[1], ids[4], ids[0]]);
      const limited = await s.listUserCallEvents({ ...everyone(window), limit: 2 });
      expect(limited.map((e) => e.eventId)).toEqual([ids[2], ids[3]]);
    });

    it('shows DirectCall events by the DirectCalls scope and ServiceCall events by the AgentCalls scope', async () => {
      const s = await freshStore();
      const callId = randomUUID();
      const aDirect = userEvent({ callId, userId: 'user-a', callType: 'DirectCall', timestampMs: T0 });
      const bAgent = userEvent({ callId, userId: 'user-b', callType: 'ServiceCall', timestampMs: T0 + 1 });
      const cAgent = userEvent({ callId, userId: 'user-c', callType: 'ServiceCall', timestampMs: T0 + 2 });
      const bDirect = userEvent({ callId, userId: 'user-b', callType: 'DirectCall', timestampMs: T0 + 3 });
      await s.writeBatch({ userCallEvents: [aDirect, bAgent, cAgent, bDirect] });
      const selection = { by: 'callId', callId } as const;
      const list = async (
        visibleDirectCallUserIds: '*' | string[],
        visibleAgentCallUserIds: '*' | string[],
        userIds?: string[],
      ) =>
        (
          await s.listUserCallEvents({
            selection,
            visibleDirectCallUserIds,
            visibleAgentCallUserIds,
            userIds,
          })
        ).map((e) => e.eventId);
      expect(await list('*', '*')).toEqual([aDirect, bAgent, cAgent, bDirect].map((e) => e.eventId));
      expect(await list(['user-a'], [])).toEqual([aDirect.eventId]);
      expect(await list([], ['user-b'])).toEqual([bAgent.eventId]);
      expect(await list(['user-b'], ['user-b'])).toEqual([bAgent.eventId, bDirect.eventId]);
      expect(await list('*', [])).toEqual([aDirect.eventId, bDirect.eventId]);
      expect(await list([], '*')).toEqual([bAgent.eventId, cAgent.eventId]);
      expect(await list([], [])).toEqual([]);
      expect(await list('*', '*', ['user-c', 'user-a'])).toEqual([aDirect.eventId, cAgent.eventId]);
      expect(await list(['user-a'], ['user-b'], ['user-c'])).toEqual([]);
      expect(await list('*', '*', [])).toEqual([]);
    });

    it('lists service call headers by queue, visibility, window; updates them in place', async () => {
      const s = await freshStore();
      const support = serviceCall({ arrivalTimeMs: T0 + 1 });
      const sales = serviceCall({ queueId: 'queue-sales', queueName: 'Sales', arrivalTimeMs: T0 });
      await s.writeBatch({ serviceCalls: [support, sales] });
      const window = { by: 'time', fromMs: T0, toMs: T0 + HOUR } as const;
      expect(await s.listServiceCalls({ selection: window, visibleQueueIds: '*' })).toEqual([sales, support]);
      expect(await s.listServiceCalls({ selection: window, visibleQueueIds: ['queue-support'] })).toEqual([
        support,
      ]);
      expect(
        await s.listServiceCalls({ selection: window, visibleQueueIds: '*', queueIds: ['queue-sales'] }),
      ).toEqual([sales]);
      expect(
        await s.listServiceCalls({
          selection: window,
          visibleQueueIds: ['queue-support'],
          queueIds: ['queue-sales'],
        }),
      ).toEqual([]);
      expect(await s.listServiceCalls({ selection: window, visibleQueueIds: [] })).toEqual([]);
      const answered: ServiceCall = {
        ...support,
        answerTimeMs: T0 + 10_000,
        endTimeMs: T0 + 70_000,
        waitTimeSeconds: 10,
        durationSeconds: 60,
        result: 'Handled',
        answeredByUserId: 'user-c',
        answeredByUserName: 'c@example.com',
        allocationCount: 2,
        modifiedMs: T0 + 70_001,
      };
      await s.writeBatch({ serviceCalls: [answered] });
      expect(
        await s.listServiceCalls({
          selection: { by: 'callId', callId: support.callId },
          visibleQueueIds: '*',
        }),
      ).toEqual([answered]);
      expect(
        await s.listServiceCalls({
          selection: { by: 'modified', fromMs: T0 + 70_001, toMs: T0 + 70_002 },
          visibleQueueIds: '*',
        }),
      ).toEqual([answered]);
    });

    it('keeps details in seq/subSeq order and never rewrites one', async () => {
      const s = await freshStore();
      const callId = randomUUID();
      const arrival = detail(callId, 10);
      const offer = detail(callId, 11, {
        eventType: 'UserAllocation',
        userId: 'user-b',
        callLegId: randomUUID(),
      });
      const reject = detail(callId, 20, { eventType: 'UserReject', reason: 'CallDisconnected', subSeq: 0 });
      const disconnect = detail(callId, 20, { eventType: 'CallDisconnect', subSeq: 1 });
      await s.writeBatch({ serviceCallDetails: [disconnect, offer, arrival] });
      await s.writeBatch({
        serviceCallDetails: [reject, { ...arrival, modifiedMs: T0 + HOUR, reason: 'changed' }],
      });
      const strip = ({ subSeq: _subSeq, ...rest }: ServiceCallDetailWrite) => rest;
      expect(await s.listServiceCallDetails(callId)).toEqual([arrival, offer, reject, disconnect].map(strip));
    });

    it('lists outbound service calls by queue and outbound callback calls by list', async () => {
      const s = await freshStore();
      const window = { by: 'time', fromMs: T0, toMs: T0 + HOUR } as const;
      const osc = outboundServiceCall();
      const other = outboundServiceCall({ queueId: 'queue-sales', queueName: 'Sales', timestampMs: T0 + 5 });
      const occ = outboundCallbackCall();
      await s.writeBatch({ outboundServiceCalls: [osc, other], outboundCallbackCalls: [occ] });
      expect(await s.listOutboundServiceCalls({ selection: window, visibleQueueIds: '*' })).toEqual([
        osc,
        other,
      ]);
      expect(
        await s.listOutboundServiceCalls({ selection: window, visibleQueueIds: ['queue-sales'] }),
      ).toEqual([other]);
      expect(
        await s.listOutboundServiceCalls({
          selection: window,
          visibleQueueIds: '*',
          queueIds: ['queue-support'],
        }),
      ).toEqual([osc]);
      expect(await s.listOutboundCallbackCalls({ selection: window, visibleCallbackListIds: '*' })).toEqual([
        occ,
      ]);
      expect(
        await s.listOutboundCallbackCalls({ selection: window, visibleCallbackListIds: ['list-other'] }),
      ).toEqual([]);
      expect(
        await s.listOutboundCallbackCalls({
          selection: { by: 'callId', callId: occ.callId },
          visibleCallbackListIds: ['list-support'],
          callbackListIds: ['list-support'],
        }),
      ).toEqual([occ]);
      const updated = {
        ...occ,
        result: 'Handled' as const,
        answerTimeMs: T0 + 3000,
        modifiedMs: T0 + 40_000,
      };
      await s.writeBatch({ outboundCallbackCalls: [updated] });
      expect(
        await s.listOutboundCallbackCalls({
          selection: { by: 'modified', fromMs: T0 + 40_000, toMs: T0 + 40_001 },
          visibleCallbackListIds: '*',
        }),
      ).toEqual([updated]);
    });

    it('advances the checkpoint with the batch, and lets it be reset', async () => {
      const s = await freshStore();
      await s.writeBatch({ checkpoint: { consumer: 'records', seq: 42 }, userCallEvents: [userEvent()] });
      expect(await s.readCheckpoint('records')).toBe(42);
      expect(await s.readCheckpoint('other')).toBe(0);
      await s.writeBatch({ checkpoint: { consumer: 'records', seq: 43 } });
      expect(await s.readCheckpoint('records')).toBe(43);
      await s.setCheckpoint('records', 0);
      expect(await s.readCheckpoint('records')).toBe(0);
    });

    it('rolls the whole batch back, checkpoint included, when one write fails', async () => {
      const s = await freshStore();
      await s.setCheckpoint('records', 7);
      const good = userEvent();
      const header = serviceCall();
      const bad = userEvent({ callId: null as unknown as string });
      await expect(
        s.writeBatch({
          checkpoint: { consumer: 'records', seq: 9 },
          serviceCalls: [header],
          userCallEvents: [good, bad],
          callProgress: [{ callId: header.callId, state: '{}', ended: false, lastSeq: 9, lastTimeMs: T0 }],
        }),
      ).rejects.toMatchObject({ code: 'RECORDS_STORE_WRITE_FAILED' });
      expect(await s.readCheckpoint('records')).toBe(7);
      expect(await s.getUserCallEvent(good.eventId)).toBeUndefined();
      expect(
        await s.listServiceCalls({
          selection: { by: 'callId', callId: header.callId },
          visibleQueueIds: '*',
        }),
      ).toEqual([]);
      expect((await s.loadCallProgress([header.callId])).size).toBe(0);
    });

    it('keeps call progress and lists the calls not ended', async () => {
      const s = await freshStore();
      const open1 = { callId: randomUUID(), state: '{"a":1}', ended: false, lastSeq: 5, lastTimeMs: T0 + 5 };
      const open2 = { callId: randomUUID(), state: '{"a":2}', ended: false, lastSeq: 3, lastTimeMs: T0 + 3 };
      const done = { callId: randomUUID(), state: '{"a":3}', ended: true, lastSeq: 4, lastTimeMs: T0 + 4 };
      await s.writeBatch({ callProgress: [open1, open2, done] });
      expect(await s.listOpenCallProgress()).toEqual([open2, open1]);
      const loaded = await s.loadCallProgress([open1.callId, done.callId, randomUUID()]);
      expect([...loaded.values()].sort((x, y) => x.lastSeq - y.lastSeq)).toEqual([done, open1]);
      await s.writeBatch({ callProgress: [{ ...open1, ended: true, lastSeq: 6 }] });
      expect(await s.listOpenCallProgress()).toEqual([open2]);
      const many = Array.from({ length: 1200 }, () => randomUUID());
      expect((await s.loadCallProgress(many)).size).toBe(0);
    });

    it('keeps everything across close and reopen (migrations run once)', async () => {
      const name = 'reopen';
      const first = await factory.open(name);
      const event = userEvent();
      await first.writeBatch({ userCallEvents: [event], checkpoint: { consumer: 'records', seq: 11 } });
      await first.close();
      const second = await factory.open(name);
      expect(await second.getUserCallEvent(event.eventId)).toEqual(event);
      expect(await second.readCheckpoint('records')).toBe(11);
    });

    it('locates any record by its Id alone: its kind and CallId', async () => {
      const s = await freshStore();
      const callId = randomUUID();
      const event = userEvent({ callId });
      const header = serviceCall({ callId });
      const arrival = detail(callId, 1);
      const outbound = outboundServiceCall();
      const callback = outboundCallbackCall();
      await s.writeBatch({
        userCallEvents: [event],
        serviceCalls: [header],
        serviceCallDetails: [arrival],
        outboundServiceCalls: [outbound],
        outboundCallbackCalls: [callback],
      });
      expect(await s.locateRecord(event.eventId)).toEqual({
        kind: 'UserCallEvent',
        eventId: event.eventId,
        callId,
      });
      expect(await s.locateRecord(header.eventId)).toEqual({
        kind: 'ServiceCall',
        eventId: header.eventId,
        callId,
      });
      expect(await s.locateRecord(arrival.eventId)).toEqual({
        kind: 'ServiceCallDetail',
        eventId: arrival.eventId,
        callId,
      });
      expect(await s.locateRecord(outbound.eventId)).toMatchObject({
        kind: 'OutboundServiceCall',
        callId: outbound.callId,
      });
      expect(await s.locateRecord(callback.eventId)).toMatchObject({
        kind: 'OutboundCallbackCall',
        callId: callback.callId,
      });
      expect(await s.locateRecord(randomUUID())).toBeUndefined();
      expect(await s.locateRecord("x' or '1'='1")).toBeUndefined();
    });

    it('writes large batches in chunks within one transaction', async () => {
      const s = await freshStore();
      const events = Array.from({ length: 4000 }, (_, i) => userEvent({ timestampMs: T0 + i }));
      await s.writeBatch({ userCallEvents: events, checkpoint: { consumer: 'bulk', seq: 4000 } });
      const read = await s.listUserCallEvents(everyone({ by: 'time', fromMs: T0, toMs: T0 + 4000 }));
      expect(read).toHaveLength(4000);
      expect(read[3999]).toEqual(events[3999]);
    });
  });
}
