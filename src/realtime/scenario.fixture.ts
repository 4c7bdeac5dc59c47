/**
 * Test data: the journal facts of one inbound service call in the shape call control writes them
 * (A calls Support, B declines, C answers, the call is transferred and ends), and an agent's
 * availability change. Shared by the event and feed tests.
 */
import type { JournalFact } from '../journal/types.js';

export const Q = 'queue-support';
export const A = 'user-a';
export const B = 'user-b';
export const C = 'user-c';

const sip = (n: string) => ({ sipCallId: `sip-${n}`, localTag: `tag-${n}` });

/** The facts of call `callId` (legs named after it). */
export function serviceCallFacts(callId: string): JournalFact[] {
  const caller = `${callId}-leg-a`;
  const legB = `${callId}-leg-b`;
  const legC = `${callId}-leg-c`;
  return [
    {
      type: 'CallStarted',
      callId,
      callKind: 'inbound-service',
      aNum: '1001',
      bNum: '100',
      route: { kind: 'queue', queueId: Q },
      callerUserId: A,
      queueId: Q,
    },
    {
      type: 'LegCreated',
      callId,
      callLegId: caller,
      role: 'caller',
      direction: 'inbound',
      userId: A,
      target: 'ws:a',
      sip: sip('a'),
    },
    { type: 'QueueEntered', callId, queueId: Q },
    {
      type: 'LegCreated',
      callId,
      callLegId: legB,
      role: 'allocation',
      direction: 'outbound',
      userId: B,
      queueId: Q,
      target: 'ws:b',
      sip: sip('b'),
    },
    { type: 'AllocationOffered', callId, callLegId: legB, queueId: Q, userId: B },
    { type: 'LegRinging', callId, callLegId: legB, sipStatus: 180 },
    {
      type: 'AllocationRejected',
      callId,
      callLegId: legB,
      queueId: Q,
      userId: B,
      reason: 'GenericUserRejected',
      sipStatus: 603,
    },
    { type: 'LegEnded', callId, callLegId: legB, sipStatus: 603, cause: 'Refused' },
    {
      type: 'LegCreated',
      callId,
      callLegId: legC,
      role: 'allocation',
      direction: 'outbound',
      userId: C,
      queueId: Q,
      target: 'ws:c',
      sip: sip('c'),
    },
    { type: 'AllocationOffered', callId, callLegId: legC, queueId: Q, userId: C },
    { type: 'LegAnswered', callId, callLegId: legC, sip: sip('c') },
    { type: 'AllocationConnected', callId, callLegId: legC, queueId: Q, userId: C },
    { type: 'QueueLeft', callId, queueId: Q, reason: 'Answered' },
    {
      type: 'TransferRequested',
      callId,
      callLegId: legC,
      targetKind: 'number',
      target: 'number +358401234567',
    },
    { type: 'TransferCompleted', callId, callLegId: legC, newCallLegId: `${callId}-leg-t` },
    { type: 'LegEnded', callId, callLegId: legC, sipStatus: 200, cause: 'Transferred' },
    { type: 'LegEnded', callId, callLegId: caller, sipStatus: 200, cause: 'CallerHangup' },
    { type: 'CallEnded', callId, reason: 'Normal', sipStatus: 200 },
  ];
}

export const availabilityFact: JournalFact = {
  type: 'AvailabilityChanged',
  callId: `agent:${B}`,
  userId: B,
  availability: 'DoNotDisturb',
  note: 'lunch',
  cause: 'Set',
  changedByUserId: B,
};

/** A directory that knows the one queue. */
export const fixtureDirectory = {
  queueById: (queueId: string) => (queueId === Q ? ({ queueId: Q, name: 'Support' } as never) : undefined),
  userById: () => undefined,
};
