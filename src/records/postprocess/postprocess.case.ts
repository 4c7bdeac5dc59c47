/**
 * Post-processing contract: synthetic fact sequences through a real SQLite journal into a real
 * store. Run against both stores by the SQLite and PostgreSQL test files.
 *
 * Date is faked (timers are not) so that journal times — and hence every record time — are exact.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDirectory } from '../../config/directory.js';
import { recoverInterruptedCalls } from '../../journal/recovery.js';
import { openSqliteJournal, type SqliteJournal } from '../../journal/sqlite-journal.js';
import type { JournalFact } from '../../journal/types.js';
import { sleep } from '../../testing/wait.js';
import type { StoreFactory } from '../store/test-stores.js';
import type {
  CallResult,
  Direction,
  OutboundCallbackCall,
  OutboundServiceCall,
  RecordStore,
  ServiceCall,
  ServiceCallDetail,
  UserCallEvent,
} from '../types.js';
import { recordId, recordKey } from './ids.js';
import { createPostProcessor, type PostProcessor, type PostProcessorOptions } from './post-processor.js';
import {
  LIST_SUPPORT,
  OUTBOUND_NUMBERS,
  QUEUE_SALES,
  QUEUE_SUPPORT,
  ScriptedCall,
  TEST_TENANT,
  USER_A,
  USER_B,
  USER_C,
} from './test-calls.js';

const T0 = Date.UTC(2030, 5, 1, 8, 0, 0);
const directory = createDirectory(TEST_TENANT);
const EVERYTHING = { by: 'modified', fromMs: 0, toMs: Number.MAX_SAFE_INTEGER } as const;

function setTime(ms: number): void {
  vi.setSystemTime(ms);
}
function advance(ms: number): void {
  vi.setSystemTime(Date.now() + ms);
}

interface Snapshot {
  userCallEvents: UserCallEvent[];
  serviceCalls: ServiceCall[];
  details: ServiceCallDetail[];
  outboundServiceCalls: OutboundServiceCall[];
  outboundCallbackCalls: OutboundCallbackCall[];
}

async function snapshot(store: RecordStore): Promise<Snapshot> {
  const userCallEvents = await store.listUserCallEvents({
    selection: EVERYTHING,
    visibleDirectCallUserIds: '*',
    visibleAgentCallUserIds: '*',
  });
  const serviceCalls = await store.listServiceCalls({ selection: EVERYTHING, visibleQueueIds: '*' });
  const details: ServiceCallDetail[] = [];
  for (const callId of [...new Set(serviceCalls.map((header) => header.callId))].sort()) {
    details.push(...(await store.listServiceCallDetails(callId)));
  }
  return {
    userCallEvents,
    serviceCalls,
    details,
    outboundServiceCalls: await store.listOutboundServiceCalls({
      selection: EVERYTHING,
      visibleQueueIds: '*',
    }),
    outboundCallbackCalls: await store.listOutboundCallbackCalls({
      selection: EVERYTHING,
      visibleCallbackListIds: '*',
    }),
  };
}

async function eventsOfCall(store: RecordStore, callId: string): Promise<UserCallEvent[]> {
  return store.listUserCallEvents({
    selection: { by: 'callId', callId },
    visibleDirectCallUserIds: '*',
    visibleAgentCallUserIds: '*',
  });
}

async function headersOfCall(store: RecordStore, callId: string): Promise<ServiceCall[]> {
  return store.listServiceCalls({ selection: { by: 'callId', callId }, visibleQueueIds: '*' });
}

const USER_NAMES: Readonly<Record<string, string>> = {
  [USER_A]: 'a@example.com',
  [USER_B]: 'b@example.com',
  [USER_C]: 'c@example.com',
};

const QUEUE_NAMES: Readonly<Record<string, string>> = { [QUEUE_SUPPORT]: 'Support', [QUEUE_SALES]: 'Sales' };

/** Timestamp, AnswerTime, EndTime and Duration of an expected user call event. */
type EventTimes = [
  timestampMs: number,
  answerTimeMs: number | null,
  endTimeMs: number | null,
  seconds: number,
];

/**
 * The user call events of `call` (dialled `bNum`, from 1001) exactly as post-processing must write
 * them: DirectCall events of a user and direction, allocation events of a leg offered by Support.
 */
function expectedEvents(call: ScriptedCall, bNum: string, stamp: { modifiedMs: unknown }) {
  const event = (
    fields: Pick<UserCallEvent, 'eventId' | 'callLegId' | 'userId' | 'callType' | 'direction' | 'result'>,
    queueId: string | null,
    [timestampMs, answerTimeMs, endTimeMs, durationSeconds]: EventTimes,
    transferredTo: string | null,
  ) => ({
    ...fields,
    callId: call.callId,
    userName: USER_NAMES[fields.userId],
    aNum: '1001',
    bNum,
    queueId,
    queueName: queueId === null ? null : (QUEUE_NAMES[queueId] ?? null),
    timestampMs,
    answerTimeMs,
    endTimeMs,
    durationSeconds,
    recordingIds: [],
    ...stamp,
    transferredTo,
  });
  return {
    direct: (
      userId: string,
      direction: Direction,
      callLegId: string,
      result: CallResult,
      times: EventTimes,
      transferredTo: string | null = null,
    ) =>
      event(
        {
          eventId: recordId(recordKey.directCallEvent(call.callId, userId, direction)),
          callLegId,
          userId,
          callType: 'DirectCall',
          direction,
          result,
        },
        null,
        times,
        transferredTo,
      ),
    allocation: (
      callLegId: string,
      userId: string,
      result: CallResult,
      times: EventTimes,
      transferredTo: string | null = null,
      queueId: string = QUEUE_SUPPORT,
    ) =>
      event(
        {
          eventId: recordId(recordKey.allocationEvent(callLegId)),
          callLegId,
          userId,
          callType: 'ServiceCall',
          direction: 'inbound',
          result,
        },
        queueId,
        times,
        transferredTo,
      ),
    /** The event of a transfer's target user: a ServiceCall in `queueId`, or a DirectCall (null). */
    transferTarget: (
      callLegId: string,
      userId: string,
      queueId: string | null,
      result: CallResult,
      times: EventTimes,
      transferredTo: string | null = null,
    ) =>
      event(
        {
          eventId: recordId(recordKey.transferEvent(callLegId)),
          callLegId,
          userId,
          callType: queueId === null ? 'DirectCall' : 'ServiceCall',
          direction: 'inbound',
          result,
        },
        queueId,
        times,
        transferredTo,
      ),
  };
}

/** The seed's scenario: A calls Support; B declines; C answers; A hangs up a minute later. */
function seedScenario(journal: SqliteJournal) {
  const { call, legB } = seedUntilDecline(journal);
  return { call, legB, legC: seedFromDecline(call) };
}

/** The seed's scenario up to B's decline (at T0 + 4 s). */
function seedUntilDecline(journal: SqliteJournal) {
  setTime(T0);
  const call = new ScriptedCall(journal).startService(QUEUE_SUPPORT, USER_A);
  advance(1000);
  const legB = call.ringingOffer(QUEUE_SUPPORT, USER_B);
  advance(3000);
  call.decline(legB, QUEUE_SUPPORT, USER_B);
  return { call, legB };
}

/** The rest of the seed's scenario: C is offered the call, answers, and A hangs up. Returns C's leg. */
function seedFromDecline(call: ScriptedCall): string {
  return answeredByMember(call, QUEUE_SUPPORT, USER_C, {
    offerAfterMs: 1000,
    ringing: true,
    answerAfterMs: 4000,
    talkMs: 60_000,
  });
}

/**
 * `userId` takes the call from `queueId`: offered `offerAfterMs` after the previous step (its device
 * ringing or not), answers `answerAfterMs` later, and the caller hangs up after `talkMs`. Returns the
 * allocation leg.
 */
function answeredByMember(
  call: ScriptedCall,
  queueId: string,
  userId: string,
  timing: { offerAfterMs: number; ringing: boolean; answerAfterMs: number; talkMs: number },
): string {
  advance(timing.offerAfterMs);
  const callLegId = timing.ringing ? call.ringingOffer(queueId, userId) : call.offer(queueId, userId);
  advance(timing.answerAfterMs);
  call.connectAllocation(callLegId, queueId, userId);
  advance(timing.talkMs);
  call.hangup();
  return callLegId;
}

const byUser = (x: UserCallEvent, y: UserCallEvent) => x.userId.localeCompare(y.userId);

/** Every record of a snapshot without its Modified (which depends on how facts were batched). */
function withoutModified(records: Snapshot) {
  return Object.fromEntries(
    Object.entries(records).map(([table, rows]) => [
      table,
      (rows as { modifiedMs: number }[]).map(({ modifiedMs: _modifiedMs, ...rest }) => rest),
    ]),
  );
}

/** A calls Support at T0; B is offered the call at T0 + 1 s and answers at T0 + 3 s. */
function queueCallAnsweredByB(journal: SqliteJournal) {
  setTime(T0);
  const call = new ScriptedCall(journal).startService(QUEUE_SUPPORT, USER_A);
  advance(1000);
  const legB = call.offer(QUEUE_SUPPORT, USER_B);
  advance(2000);
  call.connectAllocation(legB, QUEUE_SUPPORT, USER_B);
  return { call, legB };
}

/**
 * One call of each transfer kind, all ended: to a user (answered), to a user who declines and then
 * one who does not answer, to a number, to another queue, a direct call's transfer, an attended one.
 */
function transferScenarios(journal: SqliteJournal): void {
  const toUser = queueCallAnsweredByB(journal);
  advance(5000);
  toUser.call.requestTransfer(toUser.legB, { kind: 'user', userId: USER_C });
  const legC = toUser.call.placeTransferLeg(USER_C);
  advance(2000);
  toUser.call.transferAnswered(toUser.legB, legC, USER_C);
  advance(20_000);
  toUser.call.hangup();

  const failing = queueCallAnsweredByB(journal);
  failing.call.requestTransfer(failing.legB, { kind: 'user', userId: USER_C });
  failing.call.transferRefused(failing.legB, failing.call.placeTransferLeg(USER_C), 603, 'Decline');
  advance(1000);
  failing.call.requestTransfer(failing.legB, { kind: 'user', userId: USER_C });
  failing.call.transferTimedOut(failing.legB, failing.call.placeTransferLeg(USER_C));
  advance(1000);
  failing.call.hangup();

  const toNumber = queueCallAnsweredByB(journal);
  toNumber.call.requestTransfer(toNumber.legB, { kind: 'number', number: '+358409999999' });
  const trunkLeg = toNumber.call.placeTransferLeg();
  advance(3000);
  toNumber.call.transferAnswered(toNumber.legB, trunkLeg);
  advance(3000);
  toNumber.call.hangup();

  const toQueue = queueCallAnsweredByB(journal);
  advance(1000);
  toQueue.call.transferToQueue(toQueue.legB, QUEUE_SALES);
  answeredByMember(toQueue.call, QUEUE_SALES, USER_C, {
    offerAfterMs: 1000,
    ringing: true,
    answerAfterMs: 1000,
    talkMs: 5000,
  });

  setTime(T0 + 100_000);
  const direct = new ScriptedCall(journal).startDirect('1002', USER_A);
  const directLegB = direct.placeLeg('callee', USER_B);
  direct.answer(directLegB, USER_B);
  advance(2000);
  direct.requestTransfer(directLegB, { kind: 'user', userId: USER_C });
  const directLegC = direct.placeTransferLeg(USER_C);
  direct.transferAnswered(directLegB, directLegC, USER_C);
  advance(2000);
  direct.hangup();

  const attended = queueCallAnsweredByB(journal);
  const consultation = new ScriptedCall(journal).startDirect('1003', USER_B, '1002');
  const consultLegC = consultation.placeLeg('callee', USER_C);
  advance(1000);
  consultation.answer(consultLegC, USER_C);
  advance(1000);
  attended.call.attendedTransfer(attended.legB, consultation, { userId: USER_C });
  advance(1000);
  attended.call.hangup();
}

/** Everything the seed scenario must produce, exactly. */
async function expectSeedRecords(
  store: RecordStore,
  seed: ReturnType<typeof seedScenario>,
  modifiedMs?: number,
) {
  const { call, legB, legC } = seed;
  const events = await eventsOfCall(store, call.callId);
  const stamp = modifiedMs === undefined ? { modifiedMs: expect.any(Number) } : { modifiedMs };
  const expected = expectedEvents(call, '100', stamp);
  expect(events).toEqual([
    expected.direct(USER_A, 'outbound', call.callerLegId, 'Handled', [T0, T0 + 9000, T0 + 69_000, 60]),
    expected.allocation(legB, USER_B, 'Allocated', [T0 + 1000, null, T0 + 4000, 0]),
    expected.allocation(legC, USER_C, 'Handled', [T0 + 5000, T0 + 9000, T0 + 69_000, 60]),
  ]);
  expect(await headersOfCall(store, call.callId)).toEqual([
    {
      eventId: recordId(recordKey.serviceCall(call.callId, QUEUE_SUPPORT)),
      callId: call.callId,
      queueId: QUEUE_SUPPORT,
      queueName: 'Support',
      aNum: '1001',
      bNum: '100',
      arrivalTimeMs: T0,
      answerTimeMs: T0 + 9000,
      endTimeMs: T0 + 69_000,
      waitTimeSeconds: 9,
      durationSeconds: 60,
      result: 'Handled',
      answeredByUserId: USER_C,
      answeredByUserName: 'c@example.com',
      allocationCount: 2,
      recordingIds: [],
      ...stamp,
    },
  ]);
  const details = await store.listServiceCallDetails(call.callId);
  expect(details.map((d) => [d.eventType, d.userName, d.reason, d.timestampMs - T0])).toEqual([
    ['CallArrival', null, null, 0],
    ['UserAllocation', 'b@example.com', null, 1000],
    ['UserReject', 'b@example.com', 'GenericUserRejected', 4000],
    ['UserAllocation', 'c@example.com', null, 5000],
    ['UserConnect', 'c@example.com', null, 9000],
    ['CallDisconnect', null, 'Normal', 69_000],
  ]);
  expect(details.map((d) => d.callLegId)).toEqual([null, legB, legB, legC, legC, null]);
  expect(details.every((d) => d.queueId === QUEUE_SUPPORT && d.queueName === 'Support')).toBe(true);
  expect(new Set(details.map((d) => d.eventId)).size).toBe(6);
}

export function runPostProcessContract(name: string, makeFactory: () => StoreFactory): void {
  describe(`post-processing contract: ${name}`, () => {
    let factory: StoreFactory;
    let dir: string;
    let journal: SqliteJournal;
    let store: RecordStore;
    let storeCount = 0;
    const processors: PostProcessor[] = [];

    beforeAll(() => {
      factory = makeFactory();
    });
    afterAll(async () => {
      await factory?.cleanup();
    });

    beforeEach(async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      setTime(T0);
      dir = mkdtempSync(join(tmpdir(), 'postprocess-'));
      journal = openSqliteJournal(join(dir, 'journal.db'));
      storeCount += 1;
      store = await factory.open(`pp${storeCount}`);
    });

    afterEach(async () => {
      try {
        for (const processor of processors.splice(0)) await processor.stop();
        await journal.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
        vi.useRealTimers();
      }
    });

    function processor(over: Partial<PostProcessorOptions> = {}): PostProcessor {
      const created = createPostProcessor({ journal, store, directory, delaySeconds: 0, ...over });
      processors.push(created);
      return created;
    }

    it('turns the seed scenario into exactly 3 user events, 1 header and 6 details', async () => {
      const seed = seedScenario(journal);
      await processor().catchUp();
      await expectSeedRecords(store, seed, T0 + 69_000);
      // Each event is visible only with its own permission.
      const onlyA = await store.listUserCallEvents({
        selection: { by: 'callId', callId: seed.call.callId },
        visibleDirectCallUserIds: [USER_A],
        visibleAgentCallUserIds: [],
      });
      expect(onlyA.map((e) => e.userId)).toEqual([USER_A]);
      const agentsBC = await store.listUserCallEvents({
        selection: { by: 'callId', callId: seed.call.callId },
        visibleDirectCallUserIds: [USER_B, USER_C],
        visibleAgentCallUserIds: [USER_B, USER_C],
      });
      expect(agentsBC.map((e) => e.result)).toEqual(['Allocated', 'Handled']);
      expect(await store.readCheckpoint('records')).toBe(journal.lastSeq());
    });

    it("lists a recording on the header, the caller's event and the connected agent's, not on the declined one's", async () => {
      const { call, legB } = seedUntilDecline(journal);
      advance(1000);
      const legC = call.ringingOffer(QUEUE_SUPPORT, USER_C);
      advance(4000);
      call.connectAllocation(legC, QUEUE_SUPPORT, USER_C);
      const recordingId = call.record({ kind: 'queue', queueId: QUEUE_SUPPORT });
      const pp = processor();
      await pp.catchUp();
      // While the call is up, the header already lists it.
      expect((await headersOfCall(store, call.callId)).map((h) => h.recordingIds)).toEqual([[recordingId]]);
      advance(30_000);
      call.hangup();
      await pp.catchUp();
      expect((await headersOfCall(store, call.callId)).map((h) => h.recordingIds)).toEqual([[recordingId]]);
      const events = await eventsOfCall(store, call.callId);
      const byLeg = new Map(events.map((event) => [event.callLegId, event.recordingIds]));
      expect(byLeg.get(legC)).toEqual([recordingId]);
      expect(byLeg.get(legB)).toEqual([]);
      expect(byLeg.get(call.callerLegId)).toEqual([recordingId]);
    });

    it('writes service-call records as the call progresses and DirectCall events only at the end', async () => {
      const pp = processor();
      setTime(T0);
      const call = new ScriptedCall(journal).startService(QUEUE_SUPPORT, USER_A);
      await pp.catchUp();
      const [arrived] = await headersOfCall(store, call.callId);
      expect(arrived).toMatchObject({ result: null, allocationCount: 0, endTimeMs: null, modifiedMs: T0 });
      expect(await eventsOfCall(store, call.callId)).toEqual([]);

      advance(1000);
      const legB = call.offer(QUEUE_SUPPORT, USER_B);
      await pp.catchUp();
      expect(await headersOfCall(store, call.callId)).toMatchObject([
        { allocationCount: 1, modifiedMs: T0 + 1000 },
      ]);
      expect(await eventsOfCall(store, call.callId)).toEqual([]);

      // A fact that changes no record leaves every Modified alone.
      advance(500);
      call.ring(legB);
      await pp.catchUp();
      expect(await headersOfCall(store, call.callId)).toMatchObject([{ modifiedMs: T0 + 1000 }]);

      advance(2500);
      call.withdraw(legB, QUEUE_SUPPORT, USER_B, 'Timeout');
      await pp.catchUp();
      expect(await eventsOfCall(store, call.callId)).toMatchObject([
        { userId: USER_B, result: 'Allocated', endTimeMs: T0 + 4000, modifiedMs: T0 + 4000 },
      ]);

      advance(1000);
      const legC = call.offer(QUEUE_SUPPORT, USER_C);
      advance(2000);
      call.connectAllocation(legC, QUEUE_SUPPORT, USER_C);
      await pp.catchUp();
      expect(await eventsOfCall(store, call.callId)).toMatchObject([
        { userId: USER_B, result: 'Allocated', modifiedMs: T0 + 4000 },
        { userId: USER_C, result: 'Handled', answerTimeMs: T0 + 7000, endTimeMs: null, durationSeconds: 0 },
      ]);
      expect(await headersOfCall(store, call.callId)).toMatchObject([
        {
          answerTimeMs: T0 + 7000,
          answeredByUserId: USER_C,
          waitTimeSeconds: 7,
          result: null,
          allocationCount: 2,
        },
      ]);

      advance(30_000);
      call.hangup('CalleeHangup');
      await pp.catchUp();
      const events = await eventsOfCall(store, call.callId);
      expect(events).toMatchObject([
        {
          userId: USER_A,
          callType: 'DirectCall',
          direction: 'outbound',
          result: 'Handled',
          durationSeconds: 30,
        },
        { userId: USER_B, result: 'Allocated', modifiedMs: T0 + 4000 },
        {
          userId: USER_C,
          result: 'Handled',
          endTimeMs: T0 + 37_000,
          durationSeconds: 30,
          modifiedMs: T0 + 37_000,
        },
      ]);
      expect(await headersOfCall(store, call.callId)).toMatchObject([
        { result: 'Handled', endTimeMs: T0 + 37_000, durationSeconds: 30, modifiedMs: T0 + 37_000 },
      ]);
      const details = await store.listServiceCallDetails(call.callId);
      expect(details.map((d) => [d.eventType, d.reason])).toEqual([
        ['CallArrival', null],
        ['UserAllocation', null],
        ['UserReject', 'Timeout'],
        ['UserAllocation', null],
        ['UserConnect', null],
        ['CallDisconnect', 'Normal'],
      ]);
    });

    it('gives a member allocated twice two events with different legs', async () => {
      setTime(T0);
      const call = new ScriptedCall(journal).startService(QUEUE_SALES, USER_A);
      // C is offered the call a second after the previous step and answers (or not) 2 s later.
      const offerToC = () => {
        advance(1000);
        const callLegId = call.offer(QUEUE_SALES, USER_C);
        advance(2000);
        return callLegId;
      };
      const first = offerToC();
      call.decline(first, QUEUE_SALES, USER_C, 603);
      const second = offerToC();
      call.connectAllocation(second, QUEUE_SALES, USER_C);
      advance(10_000);
      call.hangup();
      await processor().catchUp();
      const events = await eventsOfCall(store, call.callId);
      expect(events.map((e) => [e.userId, e.callLegId, e.result, e.callType])).toEqual([
        [USER_A, call.callerLegId, 'Handled', 'DirectCall'],
        [USER_C, first, 'Allocated', 'ServiceCall'],
        [USER_C, second, 'Handled', 'ServiceCall'],
      ]);
      expect(new Set(events.map((e) => e.eventId)).size).toBe(3);
      expect(await headersOfCall(store, call.callId)).toMatchObject([
        { allocationCount: 2, answeredByUserId: USER_C, result: 'Handled', queueName: 'Sales' },
      ]);
    });

    it('records a caller who abandons while queued', async () => {
      // (The clock stands at T0: beforeEach.)
      const call = new ScriptedCall(journal).startService(QUEUE_SUPPORT, USER_A);
      advance(2000);
      const legB = call.ringingOffer(QUEUE_SUPPORT, USER_B);
      advance(5000);
      call.callerCancels([legB], QUEUE_SUPPORT);
      await processor().catchUp();
      expect(await headersOfCall(store, call.callId)).toMatchObject([
        {
          result: 'Cancelled',
          answerTimeMs: null,
          answeredByUserId: null,
          endTimeMs: T0 + 7000,
          waitTimeSeconds: 7,
          durationSeconds: 0,
          allocationCount: 1,
        },
      ]);
      expect((await eventsOfCall(store, call.callId)).map((e) => [e.userId, e.callType, e.result])).toEqual([
        [USER_A, 'DirectCall', 'Cancelled'],
        [USER_B, 'ServiceCall', 'Allocated'],
      ]);
      const details = await store.listServiceCallDetails(call.callId);
      expect(details.map((d) => [d.eventType, d.reason])).toEqual([
        ['CallArrival', null],
        ['UserAllocation', null],
        ['UserReject', 'CallDisconnected'],
        ['CallDisconnect', 'CallerCancelled'],
      ]);
    });

    it('records an external caller (no user) in the queue and overflow to another queue', async () => {
      setTime(T0);
      const call = new ScriptedCall(journal).startService(QUEUE_SUPPORT, undefined, '+358409999999');
      advance(120_000);
      call.overflow(QUEUE_SUPPORT, QUEUE_SALES);
      answeredByMember(call, QUEUE_SALES, USER_C, {
        offerAfterMs: 1000,
        ringing: false,
        answerAfterMs: 2000,
        talkMs: 20_000,
      });
      await processor().catchUp();
      expect(await headersOfCall(store, call.callId)).toMatchObject([
        {
          queueName: 'Support',
          result: 'Missed',
          endTimeMs: T0 + 120_000,
          waitTimeSeconds: 120,
          allocationCount: 0,
        },
        {
          queueName: 'Sales',
          result: 'Handled',
          arrivalTimeMs: T0 + 120_000,
          waitTimeSeconds: 3,
          durationSeconds: 20,
        },
      ]);
      expect((await eventsOfCall(store, call.callId)).map((e) => [e.userId, e.result])).toEqual([
        [USER_C, 'Handled'],
      ]);
      const details = await store.listServiceCallDetails(call.callId);
      expect(details.map((d) => [d.queueName, d.eventType, d.reason])).toEqual([
        ['Support', 'CallArrival', null],
        ['Support', 'QueueOverflow', 'Overflow'],
        ['Sales', 'CallArrival', null],
        ['Sales', 'UserAllocation', null],
        ['Sales', 'UserConnect', null],
        ['Sales', 'CallDisconnect', 'Normal'],
      ]);
    });

    it('records an answered direct call for both users, only once it has ended', async () => {
      const pp = processor();
      setTime(T0);
      const call = new ScriptedCall(journal).startDirect('1002', USER_A);
      advance(100);
      const legB = call.placeLeg('callee', USER_B);
      call.ring(legB);
      advance(3900);
      call.answer(legB, USER_B);
      advance(45_000);
      await pp.catchUp();
      expect(await eventsOfCall(store, call.callId)).toEqual([]);
      call.hangup('CalleeHangup');
      await pp.catchUp();
      const expected = expectedEvents(call, '1002', { modifiedMs: T0 + 49_000 });
      expect(await eventsOfCall(store, call.callId)).toEqual([
        expected.direct(USER_A, 'outbound', call.callerLegId, 'Handled', [T0, T0 + 4000, T0 + 49_000, 45]),
        expected.direct(USER_B, 'inbound', legB, 'Handled', [T0 + 100, T0 + 4000, T0 + 49_000, 45]),
      ]);
      expect(await headersOfCall(store, call.callId)).toEqual([]);
    });

    it('records unanswered direct calls: cancelled, declined, nobody registered, and an external call', async () => {
      setTime(T0);
      const cancelled = new ScriptedCall(journal).startDirect('1002', USER_A);
      const cancelledLeg = cancelled.placeLeg('callee', USER_B);
      cancelled.ring(cancelledLeg);
      advance(8000);
      cancelled.callerCancels([cancelledLeg]);

      const declined = new ScriptedCall(journal).startDirect('1003', USER_A);
      const declinedLeg = declined.placeLeg('callee', USER_C);
      advance(2000);
      declined.calleeFails(declinedLeg, 603, 'Rejected');

      const offline = new ScriptedCall(journal).startDirect('1003', USER_B, '1002');
      offline.unavailable();

      const external = new ScriptedCall(journal).startDirect('+358409999999', USER_C, '1003');
      const trunkLeg = external.placeLeg('trunk');
      advance(3000);
      external.answer(trunkLeg);
      advance(10_000);
      external.hangup();

      const inboundFromTrunk = new ScriptedCall(journal).startDirect('1001', undefined, '+358401234567');
      const toA = inboundFromTrunk.placeLeg('callee', USER_A);
      advance(1000);
      inboundFromTrunk.calleeFails(toA, 408, 'NoAnswer');

      await processor().catchUp();
      const results = async (call: ScriptedCall) =>
        (await eventsOfCall(store, call.callId))
          .sort((x, y) => x.userId.localeCompare(y.userId))
          .map((e) => [e.userId, e.direction, e.result, e.durationSeconds]);
      expect(await results(cancelled)).toEqual([
        [USER_A, 'outbound', 'Cancelled', 0],
        [USER_B, 'inbound', 'Missed', 0],
      ]);
      expect(await results(declined)).toEqual([
        [USER_A, 'outbound', 'Busy', 0],
        [USER_C, 'inbound', 'Rejected', 0],
      ]);
      expect(await results(offline)).toEqual([
        [USER_B, 'outbound', 'Missed', 0],
        [USER_C, 'inbound', 'Missed', 0],
      ]);
      expect(await results(external)).toEqual([[USER_C, 'outbound', 'Handled', 10]]);
      expect(await results(inboundFromTrunk)).toEqual([[USER_A, 'inbound', 'Missed', 0]]);
      const offlineEvents = await eventsOfCall(store, offline.callId);
      expect(offlineEvents.find((e) => e.direction === 'inbound')?.callLegId).toBe('');
    });

    it('writes outbound service and callback call records from start to end', async () => {
      const pp = processor();
      setTime(T0);
      const osc = new ScriptedCall(journal).startOutbound('outbound-service', USER_B, {
        queueId: QUEUE_SUPPORT,
      });
      const occ = new ScriptedCall(journal).startOutbound('outbound-callback', USER_C, {
        callbackListId: LIST_SUPPORT,
        callbackRequestId: 'request-1',
      });
      await pp.catchUp();
      const window = { by: 'callId', callId: osc.callId } as const;
      expect(await store.listOutboundServiceCalls({ selection: window, visibleQueueIds: '*' })).toMatchObject(
        [{ userId: USER_B, queueName: 'Support', result: null, endTimeMs: null, callLegId: osc.callerLegId }],
      );
      const oscTrunk = osc.placeLeg('trunk');
      const occTrunk = occ.placeLeg('trunk');
      advance(5000);
      osc.answer(oscTrunk);
      advance(60_000);
      osc.hangup();
      occ.calleeFails(occTrunk, 486, 'Busy');
      await pp.catchUp();
      // Answered 5 s after the start, a minute's talk.
      const talked = {
        timestampMs: T0,
        answerTimeMs: T0 + 5000,
        endTimeMs: T0 + 65_000,
        durationSeconds: 60,
      };
      expect(
        await store.listOutboundServiceCalls({ selection: window, visibleQueueIds: [QUEUE_SUPPORT] }),
      ).toEqual([
        {
          eventId: recordId(recordKey.outboundServiceCall(osc.callId)),
          callId: osc.callId,
          callLegId: osc.callerLegId,
          queueId: QUEUE_SUPPORT,
          queueName: 'Support',
          userId: USER_B,
          userName: 'b@example.com',
          ...OUTBOUND_NUMBERS,
          ...talked,
          result: 'Handled',
          recordingIds: [],
          modifiedMs: T0 + 65_000,
        },
      ]);
      expect(
        await store.listOutboundCallbackCalls({
          selection: { by: 'callId', callId: occ.callId },
          visibleCallbackListIds: [LIST_SUPPORT],
        }),
      ).toMatchObject([
        {
          eventId: recordId(recordKey.outboundCallbackCall(occ.callId)),
          callbackListId: LIST_SUPPORT,
          callbackListName: 'Support callbacks',
          callbackRequestId: 'request-1',
          queueId: QUEUE_SUPPORT,
          userId: USER_C,
          result: 'Busy',
          endTimeMs: T0 + 65_000,
        },
      ]);
      // Outbound calls give no user call events or headers of their own.
      expect(await eventsOfCall(store, osc.callId)).toEqual([]);
      expect(await headersOfCall(store, osc.callId)).toEqual([]);
    });

    it('leaves one callback request per missed service call in the callback list of its queue', async () => {
      const pp = processor();
      setTime(T0);
      // Abandoned while queued in Support (which names the list): a request for the caller's number.
      const abandoned = new ScriptedCall(journal).startService(QUEUE_SUPPORT, undefined, '+358501234567');
      advance(2000);
      const legB = abandoned.offer(QUEUE_SUPPORT, USER_B);
      advance(3000);
      const endedAt = T0 + 5000;
      abandoned.callerCancels([legB], QUEUE_SUPPORT);
      // Gone after max wait: also missed.
      const timedOut = new ScriptedCall(journal).startService(QUEUE_SUPPORT, USER_A);
      journal.append({
        type: 'QueueLeft',
        callId: timedOut.callId,
        queueId: QUEUE_SUPPORT,
        reason: 'MaxWaitExceeded',
      });
      timedOut.unavailable();
      // Overflowed from Support to Sales (no list of its own) and abandoned there: Support's list.
      const overflowed = new ScriptedCall(journal).startService(QUEUE_SUPPORT, undefined, '+358409999999');
      overflowed.overflow(QUEUE_SUPPORT, QUEUE_SALES);
      overflowed.callerCancels([], QUEUE_SALES);
      // No request: answered; a queue without a list; an anonymous caller; a crash-interrupted call.
      const answered = new ScriptedCall(journal).startService(QUEUE_SUPPORT, USER_A);
      answered.connectAllocation(answered.offer(QUEUE_SUPPORT, USER_C), QUEUE_SUPPORT, USER_C);
      answered.hangup();
      const salesOnly = new ScriptedCall(journal).startService(QUEUE_SALES, USER_A);
      salesOnly.callerCancels([], QUEUE_SALES);
      const anonymous = new ScriptedCall(journal).startService(QUEUE_SUPPORT, undefined, 'anonymous');
      anonymous.callerCancels([], QUEUE_SUPPORT);
      const interrupted = new ScriptedCall(journal).startService(QUEUE_SUPPORT, USER_A);
      journal.append({
        type: 'CallEnded',
        callId: interrupted.callId,
        reason: 'Failed',
        sipStatus: 500,
        cause: 'ServerRestart',
      });
      advance(1000);
      await pp.catchUp();

      const requests = await store.listCallbackRequests({ callbackListId: LIST_SUPPORT });
      expect(requests.map((r) => r.callId).sort()).toEqual(
        [abandoned.callId, timedOut.callId, overflowed.callId].sort(),
      );
      expect(
        await store.getCallbackRequest(recordId(recordKey.missedCallCallbackRequest(abandoned.callId))),
      ).toEqual({
        callbackRequestId: recordId(recordKey.missedCallCallbackRequest(abandoned.callId)),
        callbackListId: LIST_SUPPORT,
        queueId: QUEUE_SUPPORT,
        number: '+358501234567',
        callId: abandoned.callId,
        origin: 'MissedCall',
        note: null,
        status: 'Open',
        createdMs: endedAt,
        createdByUserId: null,
        closedMs: null,
        closedByUserId: null,
        modifiedMs: T0 + 6000,
      });
      expect(requests.find((r) => r.callId === timedOut.callId)).toMatchObject({
        number: '1001',
        queueId: QUEUE_SUPPORT,
      });
      expect(requests.find((r) => r.callId === overflowed.callId)).toMatchObject({ queueId: QUEUE_SUPPORT });

      // A handled request stays handled when the journal is replayed, and nothing is duplicated.
      const handled = requests.find((r) => r.callId === abandoned.callId)!;
      await store.closeCallbackRequest({
        callbackRequestId: handled.callbackRequestId,
        status: 'ClosedSuccessfully',
        byUserId: USER_B,
        atMs: T0 + 10_000,
      });
      await store.setCheckpoint('records', 0);
      await processor().catchUp();
      await processor({ consumerName: 'audit' }).catchUp();
      const after = await store.listCallbackRequests({ callbackListId: LIST_SUPPORT });
      expect(after).toHaveLength(3);
      expect(after.find((r) => r.callId === abandoned.callId)).toMatchObject({
        status: 'ClosedSuccessfully',
      });
      // Rebuilt into an empty store: the same request ids.
      const empty = await factory.open(`callbacks${storeCount}`);
      await createPostProcessor({ journal, store: empty, directory, delaySeconds: 0 }).catchUp();
      expect(
        (await empty.listCallbackRequests({ callbackListId: LIST_SUPPORT }))
          .map((r) => r.callbackRequestId)
          .sort(),
      ).toEqual(requests.map((r) => r.callbackRequestId).sort());
    });

    it('shows a callback call as an attempt of its request: placed, then with its outcome', async () => {
      const pp = processor();
      setTime(T0);
      const callbackRequestId = randomUUID();
      const occ = new ScriptedCall(journal).startOutbound('outbound-callback', USER_B, {
        callbackListId: LIST_SUPPORT,
        callbackRequestId,
        queueId: QUEUE_SUPPORT,
      });
      const trunkLeg = occ.placeLeg('trunk');
      await pp.catchUp();
      expect(await store.listCallbackAttempts([callbackRequestId])).toMatchObject([
        { callId: occ.callId, userId: USER_B, result: null, endTimeMs: null, callbackListId: LIST_SUPPORT },
      ]);
      advance(4000);
      occ.calleeFails(trunkLeg, 480, 'NoAnswer');
      await pp.catchUp();
      expect(await store.listCallbackAttempts([callbackRequestId])).toMatchObject([
        { callId: occ.callId, result: 'Missed', endTimeMs: T0 + 4000 },
      ]);
    });

    it('changes nothing when the journal is replayed from 0 over the populated store', async () => {
      const seed = seedScenario(journal);
      setTime(T0 + 100_000);
      const direct = new ScriptedCall(journal).startDirect('1002', USER_A);
      const leg = direct.placeLeg('callee', USER_B);
      direct.answer(leg, USER_B);
      advance(5000);
      direct.hangup();
      await processor().catchUp();
      const before = await snapshot(store);
      expect(before.userCallEvents).toHaveLength(5);

      advance(3_600_000);
      await store.setCheckpoint('records', 0);
      const replay = processor();
      await replay.catchUp();
      expect(await snapshot(store)).toEqual(before);
      expect(await store.readCheckpoint('records')).toBe(journal.lastSeq());
      // A second consumer reading everything from 0 changes nothing either.
      await processor({ consumerName: 'audit' }).catchUp();
      expect(await snapshot(store)).toEqual(before);
      await expectSeedRecords(store, seed);
    });

    it('rebuilds identical records (ids, content, Modified) into an empty store', async () => {
      seedScenario(journal);
      await processor({ now: () => T0 + 70_000 }).catchUp();
      const original = await snapshot(store);
      const empty = await factory.open(`rebuild${storeCount}`);
      const rebuild = createPostProcessor({
        journal,
        store: empty,
        directory,
        delaySeconds: 0,
        now: () => T0 + 70_000,
      });
      await rebuild.catchUp();
      expect(await snapshot(empty)).toEqual(original);
    });

    it('produces the same records whatever the batch size (Modified aside)', async () => {
      seedScenario(journal);
      const abandoned = new ScriptedCall(journal).startService(QUEUE_SUPPORT, USER_A);
      const legB = abandoned.offer(QUEUE_SUPPORT, USER_B);
      advance(3000);
      abandoned.callerCancels([legB], QUEUE_SUPPORT);
      const direct = new ScriptedCall(journal).startDirect('1002', USER_C, '1003');
      const legToB = direct.placeLeg('callee', USER_B);
      advance(1000);
      direct.calleeFails(legToB, 603, 'Rejected');
      await processor().catchUp();
      const other = await factory.open(`batch${storeCount}`);
      await createPostProcessor({
        journal,
        store: other,
        directory,
        delaySeconds: 0,
        batchSize: 1,
      }).catchUp();
      const bulk = await snapshot(store);
      expect(bulk.userCallEvents).toHaveLength(7);
      expect(withoutModified(await snapshot(other))).toEqual(withoutModified(bulk));
    });

    it('retries a batch whose transaction failed, from the same checkpoint', async () => {
      vi.useRealTimers();
      let failuresLeft = 1;
      const flaky: RecordStore = {
        ...store,
        async writeBatch(batch) {
          if (failuresLeft > 0) {
            failuresLeft -= 1;
            throw new Error('connection reset');
          }
          return store.writeBatch(batch);
        },
      };
      const errors: Error[] = [];
      const pp = processor({ store: flaky, onError: (error) => errors.push(error) });
      pp.start();
      const call = new ScriptedCall(journal).startDirect('1002', USER_A);
      const leg = call.placeLeg('callee', USER_B);
      call.answer(leg, USER_B);
      call.hangup();
      await waitFor(async () => (await eventsOfCall(store, call.callId)).length === 2, 5000);
      expect(errors).toEqual([expect.objectContaining({ code: 'RECORDS_POSTPROCESS_FAILED' })]);
      expect(await store.readCheckpoint('records')).toBe(journal.lastSeq());
    });

    it('resumes from the checkpoint after a restart of journal, store and processor', async () => {
      const storeName = `pp${storeCount}`;
      const { call, legB } = seedUntilDecline(journal);
      const first = processor();
      await first.catchUp();
      const checkpoint = await store.readCheckpoint('records');
      expect(checkpoint).toBe(journal.lastSeq());
      await first.stop();

      // Restart: everything is reopened from disk / database.
      await journal.close();
      await store.close();
      journal = openSqliteJournal(join(dir, 'journal.db'));
      store = await factory.open(storeName);
      expect(journal.lastSeq()).toBe(checkpoint);
      call.rebind(journal);

      const legC = seedFromDecline(call);
      await processor().catchUp();
      await expectSeedRecords(store, { call, legB, legC });
    });

    it('ends interrupted calls as Failed at their last known time after a crash', async () => {
      setTime(T0);
      const queued = new ScriptedCall(journal).startService(QUEUE_SUPPORT, USER_A);
      advance(1000);
      const legB = queued.offer(QUEUE_SUPPORT, USER_B);
      advance(2000);
      queued.ring(legB);
      const talking = new ScriptedCall(journal).startService(QUEUE_SALES, USER_B);
      advance(1000);
      const legC = talking.offer(QUEUE_SALES, USER_C);
      advance(1000);
      talking.connectAllocation(legC, QUEUE_SALES, USER_C);
      const finished = new ScriptedCall(journal).startDirect('1003', USER_A);
      finished.unavailable();
      // Crash: the process dies with two calls up. Nothing ends them in the journal.
      await processor().catchUp();
      await journal.close();
      journal = openSqliteJournal(join(dir, 'journal.db'));
      const lastBeforeCrash = journal.lastSeq();

      setTime(T0 + 600_000);
      const restarted = processor();
      await restarted.catchUp();
      // Recovery is the journal's (at start-up); post-processing only reads what it appended.
      const recovered = await recoverInterruptedCalls(journal);
      await restarted.catchUp();
      expect(recovered.sort()).toEqual([queued.callId, talking.callId].sort());

      const appended = await journal.read(lastBeforeCrash, 10);
      expect(appended.map((entry) => entry.fact)).toEqual(
        expect.arrayContaining<JournalFact>([
          {
            type: 'CallEnded',
            callId: queued.callId,
            reason: 'Failed',
            sipStatus: 500,
            cause: 'ServerRestart',
            endedAtMs: T0 + 3000,
          },
          {
            type: 'CallEnded',
            callId: talking.callId,
            reason: 'Failed',
            sipStatus: 500,
            cause: 'ServerRestart',
            endedAtMs: T0 + 5000,
          },
        ]),
      );
      expect(appended).toHaveLength(2);

      expect(await headersOfCall(store, queued.callId)).toMatchObject([
        { result: 'Failed', endTimeMs: T0 + 3000, waitTimeSeconds: 3, modifiedMs: T0 + 600_000 },
      ]);
      expect(
        (await eventsOfCall(store, queued.callId)).map((e) => [e.userId, e.result, e.endTimeMs]),
      ).toEqual([
        [USER_A, 'Failed', T0 + 3000],
        [USER_B, 'Allocated', T0 + 3000],
      ]);
      expect(
        (await store.listServiceCallDetails(queued.callId)).map((d) => [d.eventType, d.reason]).slice(-2),
      ).toEqual([
        ['UserReject', 'CallDisconnected'],
        ['CallDisconnect', 'ServerRestart'],
      ]);
      // An answered call is Failed too (nobody knows how it ended); its talk time ends at the last
      // sign of life, and the answer time stays recorded.
      expect(await headersOfCall(store, talking.callId)).toMatchObject([
        { result: 'Failed', endTimeMs: T0 + 5000, durationSeconds: 0 },
      ]);
      expect((await headersOfCall(store, talking.callId))[0]!.answerTimeMs).not.toBeNull();
      expect(
        (await eventsOfCall(store, talking.callId)).map((e) => [e.userId, e.result, e.endTimeMs]),
      ).toEqual([
        [USER_B, 'Failed', T0 + 5000],
        [USER_C, 'Failed', T0 + 5000],
      ]);
      expect(await store.listOpenCallProgress()).toEqual([]);

      // Recovery is idempotent: nothing left to end, nothing appended, nothing changed.
      const after = await snapshot(store);
      expect(await recoverInterruptedCalls(journal)).toEqual([]);
      await restarted.catchUp();
      expect(journal.lastSeq()).toBe(lastBeforeCrash + 2);
      expect(await snapshot(store)).toEqual(after);
    });

    it('makes journal entries durable before committing records made from them', async () => {
      await journal.close();
      journal = openSqliteJournal(join(dir, 'journal.db'), { groupCommitMs: 60_000 });
      seedScenario(journal);
      expect(journal.stats().durableSeq).toBe(0);
      await processor().catchUp();
      const raw = new Database(join(dir, 'journal.db'), { readonly: true });
      const { n } = raw.prepare('SELECT count(*) AS n FROM journal').get() as { n: number };
      raw.close();
      expect(n).toBe(journal.lastSeq());
    });

    it('refuses to run when its checkpoint is ahead of the journal', async () => {
      await store.setCheckpoint('records', 1000);
      await expect(processor().catchUp()).rejects.toMatchObject({
        code: 'RECORDS_CHECKPOINT_AHEAD_OF_JOURNAL',
      });
    });

    it('follows the journal once started, processing each fact as it is appended', async () => {
      vi.useRealTimers();
      const pp = processor();
      pp.start();
      const call = new ScriptedCall(journal).startDirect('1002', USER_A);
      const leg = call.placeLeg('callee', USER_B);
      call.answer(leg, USER_B);
      const ended = call.hangup();
      await waitFor(async () => (await eventsOfCall(store, call.callId)).length === 2, 5000);
      expect(pp.processedSeq()).toBeGreaterThanOrEqual(ended.seq);
    });

    it('holds facts back for delaySeconds when following the journal', async () => {
      vi.useRealTimers();
      const pp = processor({ delaySeconds: 0.4 });
      pp.start();
      const call = new ScriptedCall(journal).startDirect('1002', USER_A);
      const ended = call.unavailable();
      await sleep(150);
      expect(await eventsOfCall(store, call.callId)).toEqual([]);
      expect(await pp.runOnce()).toBe(0);
      await waitFor(async () => (await eventsOfCall(store, call.callId)).length === 2, 5000);
      expect(Date.now()).toBeGreaterThanOrEqual(ended.timeMs + 400);
      const [event] = await eventsOfCall(store, call.callId);
      expect(event!.modifiedMs).toBeGreaterThanOrEqual(ended.timeMs + 400);
    });

    // ---- transfers (DESIGN.md §10) -------------------------------------------------------------

    describe('transfers', () => {
      const toC = 'user c@example.com';

      it('blind transfer of a queue call to a user: the agent released, the target Handled, a 204 UserTransfer', async () => {
        const pp = processor();
        const { call, legB } = queueCallAnsweredByB(journal);
        advance(10_000); // T0 + 13 s: B refers the call to C
        call.requestTransfer(legB, { kind: 'user', userId: USER_C });
        const legC = call.placeTransferLeg(USER_C);
        call.ring(legC);
        await pp.catchUp();
        // C's device rings: nothing for C yet; B is still on the call.
        expect(
          (await eventsOfCall(store, call.callId)).map((e) => [e.userId, e.endTimeMs, e.transferredTo]),
        ).toEqual([[USER_B, null, null]]);

        // A restart while C rings: the transfer in progress is read back from the stored state.
        await pp.stop();
        const resumed = processor();
        advance(4000); // T0 + 17 s: C answers, B is released
        call.transferAnswered(legB, legC, USER_C);
        await resumed.catchUp();
        expect(
          (await eventsOfCall(store, call.callId)).map((e) => [
            e.userId,
            e.result,
            e.answerTimeMs,
            e.endTimeMs,
          ]),
        ).toEqual([
          [USER_B, 'Handled', T0 + 3000, T0 + 17_000],
          [USER_C, 'Handled', T0 + 17_000, null],
        ]);

        advance(60_000); // T0 + 77 s: A hangs up
        call.hangup();
        await resumed.catchUp();
        const expected = expectedEvents(call, '100', { modifiedMs: expect.any(Number) });
        expect(await eventsOfCall(store, call.callId)).toEqual([
          expected.direct(USER_A, 'outbound', call.callerLegId, 'Handled', [T0, T0 + 3000, T0 + 77_000, 74]),
          expected.allocation(legB, USER_B, 'Handled', [T0 + 1000, T0 + 3000, T0 + 17_000, 14], toC),
          expected.transferTarget(legC, USER_C, QUEUE_SUPPORT, 'Handled', [
            T0 + 13_000,
            T0 + 17_000,
            T0 + 77_000,
            60,
          ]),
        ]);
        // The header is the whole call's; the first agent who answered stays its AnsweredBy.
        expect(await headersOfCall(store, call.callId)).toMatchObject([
          {
            result: 'Handled',
            answerTimeMs: T0 + 3000,
            answeredByUserId: USER_B,
            endTimeMs: T0 + 77_000,
            waitTimeSeconds: 3,
            durationSeconds: 74,
            allocationCount: 1,
          },
        ]);
        const details = await store.listServiceCallDetails(call.callId);
        expect(
          details.map((d) => [d.eventType, d.userName, d.callLegId, d.reason, d.timestampMs - T0]),
        ).toEqual([
          ['CallArrival', null, null, null, 0],
          ['UserAllocation', 'b@example.com', legB, null, 1000],
          ['UserConnect', 'b@example.com', legB, null, 3000],
          ['UserTransfer', 'b@example.com', legB, toC, 17_000],
          ['CallDisconnect', null, null, 'Normal', 77_000],
        ]);
        expect(details.every((d) => d.queueName === 'Support')).toBe(true);
        expect(await store.listCallbackRequests({ callbackListId: LIST_SUPPORT })).toEqual([]);
      });

      it('a target who declines or does not answer: Rejected / Missed events, the call goes on with the agent', async () => {
        const pp = processor();
        const { call, legB } = queueCallAnsweredByB(journal);
        advance(10_000); // T0 + 13 s
        call.requestTransfer(legB, { kind: 'user', userId: USER_C });
        const declined = call.placeTransferLeg(USER_C);
        call.ring(declined);
        advance(2000); // T0 + 15 s: C declines
        call.transferRefused(legB, declined, 486, 'Busy Here');
        await pp.catchUp();
        // A service call's events are written as things happen: C's refusal is there at once.
        expect((await eventsOfCall(store, call.callId)).map((e) => [e.userId, e.result])).toEqual([
          [USER_B, 'Handled'],
          [USER_C, 'Rejected'],
        ]);

        advance(5000); // T0 + 20 s: B tries again; C's device rings until the transfer times out
        call.requestTransfer(legB, { kind: 'user', userId: USER_C });
        const unanswered = call.placeTransferLeg(USER_C);
        call.ring(unanswered);
        advance(30_000); // T0 + 50 s
        call.transferTimedOut(legB, unanswered);
        advance(10_000); // T0 + 60 s: A hangs up
        call.hangup();
        await pp.catchUp();

        const expected = expectedEvents(call, '100', { modifiedMs: expect.any(Number) });
        expect(await eventsOfCall(store, call.callId)).toEqual([
          expected.direct(USER_A, 'outbound', call.callerLegId, 'Handled', [T0, T0 + 3000, T0 + 60_000, 57]),
          expected.allocation(legB, USER_B, 'Handled', [T0 + 1000, T0 + 3000, T0 + 60_000, 57]),
          expected.transferTarget(declined, USER_C, QUEUE_SUPPORT, 'Rejected', [
            T0 + 13_000,
            null,
            T0 + 15_000,
            0,
          ]),
          expected.transferTarget(unanswered, USER_C, QUEUE_SUPPORT, 'Missed', [
            T0 + 20_000,
            null,
            T0 + 50_000,
            0,
          ]),
        ]);
        expect(await headersOfCall(store, call.callId)).toMatchObject([
          { result: 'Handled', answeredByUserId: USER_B, endTimeMs: T0 + 60_000, durationSeconds: 57 },
        ]);
        // No transfer happened: no UserTransfer detail.
        expect((await store.listServiceCallDetails(call.callId)).map((d) => d.eventType)).toEqual([
          'CallArrival',
          'UserAllocation',
          'UserConnect',
          'CallDisconnect',
        ]);
      });

      it('a transferor who hung up after the REFER, and a target who then declines: the call ends', async () => {
        const { call, legB } = queueCallAnsweredByB(journal);
        advance(10_000); // T0 + 13 s
        call.requestTransfer(legB, { kind: 'user', userId: USER_C });
        const legC = call.placeTransferLeg(USER_C);
        call.ring(legC);
        advance(1000); // T0 + 14 s: B's phone hangs up, as phones do after a blind transfer
        call.transferorHangsUp(legB);
        advance(5000); // T0 + 19 s: C declines with 603; nobody is left to keep the call
        call.transferRefused(legB, legC, 603, 'Decline');
        call.endAfterFailedTransfer(603);
        await processor().catchUp();
        const expected = expectedEvents(call, '100', { modifiedMs: expect.any(Number) });
        expect(await eventsOfCall(store, call.callId)).toEqual([
          expected.direct(USER_A, 'outbound', call.callerLegId, 'Handled', [T0, T0 + 3000, T0 + 19_000, 16]),
          // B took part until their BYE; the transfer did not happen.
          expected.allocation(legB, USER_B, 'Handled', [T0 + 1000, T0 + 3000, T0 + 14_000, 11]),
          expected.transferTarget(legC, USER_C, QUEUE_SUPPORT, 'Rejected', [
            T0 + 13_000,
            null,
            T0 + 19_000,
            0,
          ]),
        ]);
        expect(await headersOfCall(store, call.callId)).toMatchObject([
          { result: 'Handled', endTimeMs: T0 + 19_000, answeredByUserId: USER_B },
        ]);
      });

      it('blind transfer to a number: the trunk leg gives no event, the agent is TransferredTo the number', async () => {
        const { call, legB } = queueCallAnsweredByB(journal);
        advance(10_000); // T0 + 13 s
        call.requestTransfer(legB, { kind: 'number', number: '+358409999999' });
        const trunkLeg = call.placeTransferLeg();
        advance(5000); // T0 + 18 s: answered there
        call.transferAnswered(legB, trunkLeg);
        advance(42_000); // T0 + 60 s
        call.hangup();
        await processor().catchUp();
        const expected = expectedEvents(call, '100', { modifiedMs: expect.any(Number) });
        expect(await eventsOfCall(store, call.callId)).toEqual([
          expected.direct(USER_A, 'outbound', call.callerLegId, 'Handled', [T0, T0 + 3000, T0 + 60_000, 57]),
          expected.allocation(
            legB,
            USER_B,
            'Handled',
            [T0 + 1000, T0 + 3000, T0 + 18_000, 15],
            'number +358409999999',
          ),
        ]);
        expect(await headersOfCall(store, call.callId)).toMatchObject([
          { result: 'Handled', answeredByUserId: USER_B, endTimeMs: T0 + 60_000 },
        ]);
        const details = await store.listServiceCallDetails(call.callId);
        expect(details.filter((d) => d.eventType === 'UserTransfer')).toMatchObject([
          { userId: USER_B, callLegId: legB, reason: 'number +358409999999', timestampMs: T0 + 18_000 },
        ]);
      });

      it('blind transfer to another queue: a second header, allocations there, the disconnect in the last queue', async () => {
        const pp = processor();
        const { call, legB } = queueCallAnsweredByB(journal);
        advance(10_000); // T0 + 13 s: B sends the call to Sales
        call.transferToQueue(legB, QUEUE_SALES);
        await pp.catchUp();
        expect(await headersOfCall(store, call.callId)).toMatchObject([
          { queueName: 'Support', result: null, answeredByUserId: USER_B, endTimeMs: null },
          { queueName: 'Sales', result: null, arrivalTimeMs: T0 + 13_000, allocationCount: 0 },
        ]);
        expect(
          (await eventsOfCall(store, call.callId)).map((e) => [e.userId, e.endTimeMs, e.transferredTo]),
        ).toEqual([[USER_B, T0 + 13_000, 'queue Sales']]);
        const legC = answeredByMember(call, QUEUE_SALES, USER_C, {
          offerAfterMs: 1000, // T0 + 14 s
          ringing: true,
          answerAfterMs: 4000, // T0 + 18 s
          talkMs: 30_000, // T0 + 48 s
        });
        await pp.catchUp();
        const expected = expectedEvents(call, '100', { modifiedMs: expect.any(Number) });
        expect(await eventsOfCall(store, call.callId)).toEqual([
          expected.direct(USER_A, 'outbound', call.callerLegId, 'Handled', [T0, T0 + 3000, T0 + 48_000, 45]),
          expected.allocation(
            legB,
            USER_B,
            'Handled',
            [T0 + 1000, T0 + 3000, T0 + 13_000, 10],
            'queue Sales',
          ),
          expected.allocation(
            legC,
            USER_C,
            'Handled',
            [T0 + 14_000, T0 + 18_000, T0 + 48_000, 30],
            null,
            QUEUE_SALES,
          ),
        ]);
        expect(await headersOfCall(store, call.callId)).toMatchObject([
          {
            queueName: 'Support',
            result: 'Handled',
            answeredByUserId: USER_B,
            answerTimeMs: T0 + 3000,
            endTimeMs: T0 + 48_000,
            allocationCount: 1,
          },
          {
            queueName: 'Sales',
            result: 'Handled',
            answeredByUserId: USER_C,
            arrivalTimeMs: T0 + 13_000,
            answerTimeMs: T0 + 18_000,
            waitTimeSeconds: 5,
            durationSeconds: 30,
            endTimeMs: T0 + 48_000,
            allocationCount: 1,
          },
        ]);
        const details = await store.listServiceCallDetails(call.callId);
        expect(details.map((d) => [d.queueName, d.eventType, d.userName, d.reason])).toEqual([
          ['Support', 'CallArrival', null, null],
          ['Support', 'UserAllocation', 'b@example.com', null],
          ['Support', 'UserConnect', 'b@example.com', null],
          ['Support', 'UserTransfer', 'b@example.com', 'queue Sales'],
          ['Sales', 'CallArrival', null, null],
          ['Sales', 'UserAllocation', 'c@example.com', null],
          ['Sales', 'UserConnect', 'c@example.com', null],
          ['Sales', 'CallDisconnect', null, 'Normal'],
        ]);
      });

      it('blind transfer back into the same queue: one header, a second arrival, the first answer kept', async () => {
        const { call, legB } = queueCallAnsweredByB(journal);
        advance(10_000); // T0 + 13 s
        call.transferToQueue(legB, QUEUE_SUPPORT);
        const legC = answeredByMember(call, QUEUE_SUPPORT, USER_C, {
          offerAfterMs: 2000, // T0 + 15 s
          ringing: false,
          answerAfterMs: 3000, // T0 + 18 s
          talkMs: 20_000, // T0 + 38 s
        });
        await processor().catchUp();
        expect(await headersOfCall(store, call.callId)).toMatchObject([
          {
            queueName: 'Support',
            result: 'Handled',
            answeredByUserId: USER_B,
            answerTimeMs: T0 + 3000,
            endTimeMs: T0 + 38_000,
            allocationCount: 2,
          },
        ]);
        expect(
          (await eventsOfCall(store, call.callId)).map((e) => [
            e.userId,
            e.callLegId,
            e.result,
            e.transferredTo,
          ]),
        ).toEqual([
          [USER_A, call.callerLegId, 'Handled', null],
          [USER_B, legB, 'Handled', 'queue Support'],
          [USER_C, legC, 'Handled', null],
        ]);
        expect((await store.listServiceCallDetails(call.callId)).map((d) => [d.eventType, d.reason])).toEqual(
          [
            ['CallArrival', null],
            ['UserAllocation', null],
            ['UserConnect', null],
            ['UserTransfer', 'queue Support'],
            ['CallArrival', null],
            ['UserAllocation', null],
            ['UserConnect', null],
            ['CallDisconnect', 'Normal'],
          ],
        );
      });

      it('blind transfer of a direct call: DirectCall events for all three users, written when it ends', async () => {
        const pp = processor();
        setTime(T0);
        const call = new ScriptedCall(journal).startDirect('1002', USER_A);
        advance(100);
        const legB = call.placeLeg('callee', USER_B);
        advance(2900); // T0 + 3 s
        call.answer(legB, USER_B);
        advance(10_000); // T0 + 13 s
        call.requestTransfer(legB, { kind: 'user', userId: USER_C });
        const legC = call.placeTransferLeg(USER_C);
        advance(2000); // T0 + 15 s
        call.transferAnswered(legB, legC, USER_C);
        await pp.catchUp();
        expect(await eventsOfCall(store, call.callId)).toEqual([]);
        advance(45_000); // T0 + 60 s
        call.hangup('CalleeHangup');
        await pp.catchUp();
        const expected = expectedEvents(call, '1002', { modifiedMs: T0 + 60_000 });
        expect(await eventsOfCall(store, call.callId)).toEqual([
          expected.direct(USER_A, 'outbound', call.callerLegId, 'Handled', [T0, T0 + 3000, T0 + 60_000, 57]),
          expected.direct(
            USER_B,
            'inbound',
            legB,
            'Handled',
            [T0 + 100, T0 + 3000, T0 + 13_000 + 2000, 12],
            toC,
          ),
          expected.transferTarget(legC, USER_C, null, 'Handled', [T0 + 13_000, T0 + 15_000, T0 + 60_000, 45]),
        ]);
        expect(await headersOfCall(store, call.callId)).toEqual([]);
      });

      it('a caller who transfers the party they called: released, TransferredTo; the callee stays', async () => {
        setTime(T0);
        const call = new ScriptedCall(journal).startDirect('1002', USER_A);
        advance(100);
        const legB = call.placeLeg('callee', USER_B);
        advance(1900); // T0 + 2 s
        call.answer(legB, USER_B);
        advance(8000); // T0 + 10 s: A refers B to C
        call.requestTransfer(call.callerLegId, { kind: 'user', userId: USER_C });
        const legC = call.placeTransferLeg(USER_C);
        advance(3000); // T0 + 13 s: C answers, A is released
        call.transferAnswered(call.callerLegId, legC, USER_C);
        advance(27_000); // T0 + 40 s: B and C hang up
        call.hangup('CalleeHangup');
        await processor().catchUp();
        const expected = expectedEvents(call, '1002', { modifiedMs: expect.any(Number) });
        expect(await eventsOfCall(store, call.callId)).toEqual([
          expected.direct(
            USER_A,
            'outbound',
            call.callerLegId,
            'Handled',
            [T0, T0 + 2000, T0 + 13_000, 11],
            toC,
          ),
          expected.direct(USER_B, 'inbound', legB, 'Handled', [T0 + 100, T0 + 2000, T0 + 40_000, 38]),
          expected.transferTarget(legC, USER_C, null, 'Handled', [T0 + 10_000, T0 + 13_000, T0 + 40_000, 27]),
        ]);
      });

      it('attended transfer: the consultation call ends Transferred, the target joins the first call', async () => {
        const { call, legB } = queueCallAnsweredByB(journal);
        advance(2000); // T0 + 5 s: B puts A on hold and calls C
        const consultation = new ScriptedCall(journal).startDirect('1003', USER_B, '1002');
        const consultLegC = consultation.placeLeg('callee', USER_C);
        advance(3000); // T0 + 8 s: C answers B
        consultation.answer(consultLegC, USER_C);
        advance(12_000); // T0 + 20 s: B joins A and C and drops out of both
        const adopted = call.attendedTransfer(legB, consultation, { userId: USER_C });
        advance(40_000); // T0 + 60 s
        call.hangup();
        await processor().catchUp();

        const first = expectedEvents(call, '100', { modifiedMs: expect.any(Number) });
        expect(await eventsOfCall(store, call.callId)).toEqual([
          first.direct(USER_A, 'outbound', call.callerLegId, 'Handled', [T0, T0 + 3000, T0 + 60_000, 57]),
          first.allocation(legB, USER_B, 'Handled', [T0 + 1000, T0 + 3000, T0 + 20_000, 17], toC),
          first.transferTarget(adopted, USER_C, QUEUE_SUPPORT, 'Handled', [
            T0 + 20_000,
            T0 + 20_000,
            T0 + 60_000,
            40,
          ]),
        ]);
        expect(
          (await store.listServiceCallDetails(call.callId)).filter((d) => d.eventType === 'UserTransfer'),
        ).toMatchObject([{ userId: USER_B, callLegId: legB, reason: toC, timestampMs: T0 + 20_000 }]);
        expect(await headersOfCall(store, call.callId)).toMatchObject([
          { result: 'Handled', answeredByUserId: USER_B, endTimeMs: T0 + 60_000 },
        ]);

        // The consultation call: B's and C's DirectCall events, ended when the transfer joined them
        // (both start at the same time: by user).
        expect(
          (await eventsOfCall(store, consultation.callId))
            .sort(byUser)
            .map((e) => [
              e.userId,
              e.direction,
              e.result,
              e.answerTimeMs,
              e.endTimeMs,
              e.durationSeconds,
              e.transferredTo,
            ]),
        ).toEqual([
          [USER_B, 'outbound', 'Handled', T0 + 8000, T0 + 20_000, 12, null],
          [USER_C, 'inbound', 'Handled', T0 + 8000, T0 + 20_000, 12, null],
        ]);
        expect(await headersOfCall(store, consultation.callId)).toEqual([]);
      });

      it('replays and rebuilds transferred calls to the same records, whatever the batch size', async () => {
        transferScenarios(journal);
        await processor({ now: () => T0 + 600_000 }).catchUp();
        const before = await snapshot(store);
        // 3 + 4 + 2 + 3 + 3 (direct) + 3 and 2 (attended) user events
        expect(before.userCallEvents).toHaveLength(20);
        expect(before.details.filter((d) => d.eventType === 'UserTransfer')).toHaveLength(4);

        // Replay from 0 over the populated store, and a second consumer: nothing changes.
        await store.setCheckpoint('records', 0);
        await processor({ now: () => T0 + 700_000 }).catchUp();
        expect(await snapshot(store)).toEqual(before);
        await processor({ consumerName: 'audit', now: () => T0 + 800_000 }).catchUp();
        expect(await snapshot(store)).toEqual(before);

        // Rebuilt into an empty store: the same ids, content and Modified (same clock).
        const empty = await factory.open(`transfers${storeCount}`);
        const rebuild = (into: RecordStore, batchSize?: number) =>
          createPostProcessor({
            journal,
            store: into,
            directory,
            delaySeconds: 0,
            batchSize,
            now: () => T0 + 600_000,
          }).catchUp();
        await rebuild(empty);
        expect(await snapshot(empty)).toEqual(before);
        // One fact per transaction (the calls' state persisted and read back between facts): the
        // same records; only Modified differs (a record rewritten within one clock tick moves on).
        const oneByOne = await factory.open(`transfers1by1${storeCount}`);
        await rebuild(oneByOne, 1);
        expect(withoutModified(await snapshot(oneByOne))).toEqual(withoutModified(before));
      });
    });
  });
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(20);
  }
}
