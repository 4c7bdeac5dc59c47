/**
 * The fold's transfers (DESIGN.md §10): what it keeps of each transfer, the UserTransfer queue
 * event of a service call's transfer, a call transferred back into a queue it left, and states
 * persisted before transfers existed.
 */
import { describe, expect, it } from 'vitest';
import { type FoldedCall, foldCall, foldEntry, newFoldedCall, type QueueEvent } from './fold.js';
import type { JournalEntry, JournalFact } from './types.js';

const CALL = 'c0000000-0000-4000-8000-000000000001';
const QUEUE = 'q0000000-0000-4000-8000-000000000001';
const SALES = 'q0000000-0000-4000-8000-000000000002';
const [A, B, C] = ['user-a', 'user-b', 'user-c'];
const [LEG_A, LEG_B, LEG_C, LEG_C2] = ['leg-a', 'leg-b', 'leg-c', 'leg-c2'];
const T0 = Date.UTC(2030, 0, 1, 9, 0, 0);
const sip = (id: string) => ({ sipCallId: `${id}@test`, localTag: `tag-${id}` });

/** Entries one second apart, from `seq`. */
function entries(facts: JournalFact[], seq = 1): JournalEntry[] {
  return facts.map((fact, index) => ({ seq: seq + index, timeMs: T0 + (seq + index - 1) * 1000, fact }));
}

const started = (callKind: 'inbound-service' | 'direct'): JournalFact[] => [
  {
    type: 'CallStarted',
    callId: CALL,
    callKind,
    aNum: '1001',
    bNum: callKind === 'direct' ? '1002' : '100',
    route: callKind === 'direct' ? { kind: 'user', userId: B } : { kind: 'queue', queueId: QUEUE },
    callerUserId: A,
    ...(callKind === 'direct' ? {} : { queueId: QUEUE }),
  },
  {
    type: 'LegCreated',
    callId: CALL,
    callLegId: LEG_A,
    role: 'caller',
    direction: 'inbound',
    userId: A,
    target: 'ws:a',
    sip: sip('a'),
  },
];

/** B answers the queue call (allocation leg LEG_B). */
const answeredByB: JournalFact[] = [
  { type: 'QueueEntered', callId: CALL, queueId: QUEUE },
  {
    type: 'LegCreated',
    callId: CALL,
    callLegId: LEG_B,
    role: 'allocation',
    direction: 'outbound',
    userId: B,
    queueId: QUEUE,
    target: 'sip:b',
    sip: sip('b'),
  },
  { type: 'AllocationOffered', callId: CALL, callLegId: LEG_B, queueId: QUEUE, userId: B },
  { type: 'LegAnswered', callId: CALL, callLegId: LEG_B, sip: sip('b') },
  { type: 'AllocationConnected', callId: CALL, callLegId: LEG_B, queueId: QUEUE, userId: B },
  { type: 'QueueLeft', callId: CALL, queueId: QUEUE, reason: 'Answered' },
];

const toUserC = (transferor: string): JournalFact => ({
  type: 'TransferRequested',
  callId: CALL,
  callLegId: transferor,
  targetKind: 'user',
  target: 'user c@example.com',
  userId: C,
});

const transferLeg = (callLegId: string, userId?: string): JournalFact => ({
  type: 'LegCreated',
  callId: CALL,
  callLegId,
  role: 'transfer',
  direction: 'outbound',
  userId,
  target: 'sip:c',
  sip: sip(callLegId),
});

/** Fold `facts` one by one; the queue events of each, with the entry's seq. */
function foldWithEvents(facts: JournalFact[]): {
  state: FoldedCall;
  events: (QueueEvent & { seq: number })[];
} {
  const state = newFoldedCall(CALL);
  const events: (QueueEvent & { seq: number })[] = [];
  for (const entry of entries(facts)) {
    events.push(...foldEntry(state, entry).map((event) => ({ ...event, seq: entry.seq })));
  }
  return { state, events };
}

describe('the fold of transfers', () => {
  it('keeps a failed and a completed transfer, each with the leg placed to its target', () => {
    const facts = [
      ...started('inbound-service'),
      ...answeredByB,
      toUserC(LEG_B), // seq 9
      transferLeg(LEG_C, C),
      {
        type: 'LegEnded',
        callId: CALL,
        callLegId: LEG_C,
        sipStatus: 486,
        cause: 'Refused',
        sipReason: 'Busy Here',
      },
      { type: 'TransferFailed', callId: CALL, callLegId: LEG_B, sipStatus: 486, reason: 'Busy Here' },
      toUserC(LEG_B), // seq 13
      transferLeg(LEG_C2, C),
      { type: 'LegAnswered', callId: CALL, callLegId: LEG_C2, sip: sip('c2') },
      { type: 'TransferCompleted', callId: CALL, callLegId: LEG_B, newCallLegId: LEG_C2 }, // seq 16
      { type: 'LegEnded', callId: CALL, callLegId: LEG_B, sipStatus: 200, cause: 'Transferred' },
    ] satisfies JournalFact[];
    const { state, events } = foldWithEvents(facts);
    const at = (seq: number) => T0 + (seq - 1) * 1000;
    expect(state.transfers).toEqual([
      {
        callLegId: LEG_B,
        targetKind: 'user',
        target: 'user c@example.com',
        userId: C,
        queueId: null,
        fromQueueId: QUEUE,
        requestedMs: at(9),
        targetLegId: LEG_C,
        completedMs: null,
        newCallLegId: null,
        failedMs: at(12),
        failSipStatus: 486,
        failReason: 'Busy Here',
      },
      {
        callLegId: LEG_B,
        targetKind: 'user',
        target: 'user c@example.com',
        userId: C,
        queueId: null,
        fromQueueId: QUEUE,
        requestedMs: at(13),
        targetLegId: LEG_C2,
        completedMs: at(16),
        newCallLegId: LEG_C2,
        failedMs: null,
        failSipStatus: null,
        failReason: null,
      },
    ]);
    // The transfer legs are neither callees nor allocations.
    expect(
      state.legs.filter((leg) => leg.role === 'transfer').map((leg) => [leg.callLegId, leg.offeredMs]),
    ).toEqual([
      [LEG_C, null],
      [LEG_C2, null],
    ]);
    expect(state.visits).toMatchObject([{ queueId: QUEUE, allocationCount: 1, answeredByUserId: B }]);
    // Only the completed transfer is a queue event: UserTransfer by B, in the queue, naming the target.
    expect(events.filter((event) => event.kind === 'UserTransfer')).toEqual([
      {
        kind: 'UserTransfer',
        queueId: QUEUE,
        callLegId: LEG_B,
        userId: B,
        reason: 'user c@example.com',
        atMs: at(16),
        seq: 16,
      },
    ]);
  });

  it('gives a direct call’s transfer no queue event', () => {
    const facts = [
      ...started('direct'),
      {
        type: 'LegCreated',
        callId: CALL,
        callLegId: LEG_B,
        role: 'callee',
        direction: 'outbound',
        userId: B,
        target: 'sip:b',
        sip: sip('b'),
      },
      { type: 'LegAnswered', callId: CALL, callLegId: LEG_B, sip: sip('b') },
      toUserC(LEG_B),
      transferLeg(LEG_C, C),
      { type: 'LegAnswered', callId: CALL, callLegId: LEG_C, sip: sip('c') },
      { type: 'TransferCompleted', callId: CALL, callLegId: LEG_B, newCallLegId: LEG_C },
    ] satisfies JournalFact[];
    const { state, events } = foldWithEvents(facts);
    expect(events).toEqual([]);
    expect(state.transfers).toMatchObject([
      { fromQueueId: null, completedMs: expect.any(Number), newCallLegId: LEG_C },
    ]);
  });

  it('reopens a queue the call is transferred back into: a new arrival, the first answer kept', () => {
    const facts = [
      ...started('inbound-service'),
      ...answeredByB,
      {
        type: 'TransferRequested',
        callId: CALL,
        callLegId: LEG_B,
        targetKind: 'queue',
        target: 'queue Support',
        queueId: QUEUE,
      },
      { type: 'TransferCompleted', callId: CALL, callLegId: LEG_B },
      { type: 'LegEnded', callId: CALL, callLegId: LEG_B, sipStatus: 200, cause: 'Transferred' },
      { type: 'QueueEntered', callId: CALL, queueId: QUEUE }, // seq 12
      { type: 'QueueLeft', callId: CALL, queueId: QUEUE, reason: 'CallerHungUp' },
    ] satisfies JournalFact[];
    const { state, events } = foldWithEvents(facts);
    expect(events.map((event) => [event.kind, event.reason, event.seq])).toEqual([
      ['CallArrival', null, 1],
      ['UserAllocation', null, 5],
      ['UserConnect', null, 7],
      ['UserTransfer', 'queue Support', 10],
      ['CallArrival', null, 12],
    ]);
    expect(state.visits).toEqual([
      {
        queueId: QUEUE,
        arrivalMs: T0,
        leftMs: T0 + 12_000,
        leftReason: 'CallerHungUp',
        allocationCount: 1,
        answeredMs: T0 + 6000,
        answeredByUserId: B,
      },
    ]);
    expect(state.transfers).toMatchObject([{ targetKind: 'queue', queueId: QUEUE, targetLegId: null }]);
  });

  it('names the queue the call was in for a transfer by a party that is not an agent of it', () => {
    // C took the call by a transfer (no queue on their leg), then transfers it on to Sales.
    const facts = [
      ...started('inbound-service'),
      ...answeredByB,
      toUserC(LEG_B),
      transferLeg(LEG_C, C),
      { type: 'LegAnswered', callId: CALL, callLegId: LEG_C, sip: sip('c') },
      { type: 'TransferCompleted', callId: CALL, callLegId: LEG_B, newCallLegId: LEG_C },
      {
        type: 'TransferRequested',
        callId: CALL,
        callLegId: LEG_C,
        targetKind: 'queue',
        target: 'queue Sales',
        queueId: SALES,
      },
      { type: 'TransferCompleted', callId: CALL, callLegId: LEG_C },
      { type: 'QueueEntered', callId: CALL, queueId: SALES },
    ] satisfies JournalFact[];
    const { state, events } = foldWithEvents(facts);
    expect(
      events.filter((event) => event.kind === 'UserTransfer').map((e) => [e.queueId, e.userId, e.reason]),
    ).toEqual([
      [QUEUE, B, 'user c@example.com'],
      [QUEUE, C, 'queue Sales'],
    ]);
    expect(state.currentQueueId).toBe(SALES);
  });

  it('gives no UserTransfer when the caller transfers the agent (only an agent’s transfer is one)', () => {
    const facts = [
      ...started('inbound-service'),
      ...answeredByB,
      toUserC(LEG_A),
      transferLeg(LEG_C, C),
      { type: 'LegAnswered', callId: CALL, callLegId: LEG_C, sip: sip('c') },
      { type: 'TransferCompleted', callId: CALL, callLegId: LEG_A, newCallLegId: LEG_C },
      { type: 'LegEnded', callId: CALL, callLegId: LEG_A, sipStatus: 200, cause: 'Transferred' },
    ] satisfies JournalFact[];
    const { state, events } = foldWithEvents(facts);
    expect(events.map((event) => event.kind)).not.toContain('UserTransfer');
    // The target still joins a service call of that queue (the records' ServiceCall event).
    expect(state.transfers).toMatchObject([{ callLegId: LEG_A, fromQueueId: QUEUE, newCallLegId: LEG_C }]);
  });

  it('folds on from a state persisted before transfers existed (no `transfers`)', () => {
    const before = foldCall(CALL, entries([...started('inbound-service'), ...answeredByB]));
    const persisted: FoldedCall = JSON.parse(JSON.stringify(before));
    delete persisted.transfers;
    const next = entries(
      [toUserC(LEG_B), { type: 'TransferCompleted', callId: CALL, callLegId: LEG_B, newCallLegId: LEG_C }],
      9,
    );
    const events = next.flatMap((entry) => foldEntry(persisted, entry));
    expect(events.map((event) => event.kind)).toEqual(['UserTransfer']);
    expect(persisted.transfers).toMatchObject([{ target: 'user c@example.com', newCallLegId: LEG_C }]);
  });

  it('keeps a completion journaled without its request, target unknown', () => {
    const state = foldCall(
      CALL,
      entries([
        ...started('inbound-service'),
        ...answeredByB,
        { type: 'TransferCompleted', callId: CALL, callLegId: LEG_B },
      ]),
    );
    expect(state.transfers).toMatchObject([
      { callLegId: LEG_B, target: null, targetKind: null, fromQueueId: QUEUE },
    ]);
  });
});
