/**
 * Post-processing's picture of one call, rebuilt fact by fact from the journal. It is persisted
 * (as JSON in the store's call_progress) with the records each batch produces, so processing
 * resumes after a restart without re-reading the call's earlier facts.
 */
import type {
  AllocationRejectReason,
  CallEndReason,
  CallKind,
  JournalEntry,
  LegRole,
  QueueLeaveReason,
} from '../../calls/journal/types.js';
import { RecordsError, RecordsErrorCode } from '../errors.js';
import type { ServiceCallEventTypeName } from '../types.js';

export interface LegState {
  callLegId: string;
  role: LegRole;
  direction: 'inbound' | 'outbound';
  userId: string | null;
  queueId: string | null;
  createdMs: number;
  ringingMs: number | null;
  answeredMs: number | null;
  endedMs: number | null;
  endSipStatus: number | null;
  /** Set for queue allocations (AllocationOffered). */
  offeredMs: number | null;
  rejectedMs: number | null;
  rejectReason: AllocationRejectReason | null;
  connectedMs: number | null;
}

/** The call's stay in one queue: the basis of that queue's service call header. */
export interface QueueVisit {
  queueId: string;
  arrivalMs: number;
  leftMs: number | null;
  leftReason: QueueLeaveReason | null;
  allocationCount: number;
  answeredMs: number | null;
  answeredByUserId: string | null;
}

export interface CallStart {
  callKind: CallKind;
  aNum: string;
  bNum: string;
  callerUserId: string | null;
  queueId: string | null;
  callbackListId: string | null;
  callbackRequestId: string | null;
  startedMs: number;
}

export interface CallEnd {
  endedMs: number;
  reason: CallEndReason;
  sipStatus: number;
  answeredByUserId: string | null;
  cause: string | null;
}

/** What was last written for a record: a digest of its content and its Modified. */
export interface WrittenRecord {
  digest: string;
  modifiedMs: number;
}

export const CALL_STATE_VERSION = 1;

export interface CallState {
  version: typeof CALL_STATE_VERSION;
  callId: string;
  started: CallStart | null;
  ended: CallEnd | null;
  /** Highest seq applied: replays of facts at or below it are skipped. */
  lastSeq: number;
  lastTimeMs: number;
  legs: LegState[];
  visits: QueueVisit[];
  /** Queue the call is (or was last) in: CallDisconnect is reported there. */
  currentQueueId: string | null;
  written: Record<string, WrittenRecord>;
}

/** A service call detail before naming and ids. */
export interface DetailDraft {
  queueId: string;
  callLegId: string | null;
  userId: string | null;
  eventType: ServiceCallEventTypeName;
  reason: string | null;
  timestampMs: number;
}

export function newCallState(callId: string): CallState {
  return {
    version: CALL_STATE_VERSION,
    callId,
    started: null,
    ended: null,
    lastSeq: 0,
    lastTimeMs: 0,
    legs: [],
    visits: [],
    currentQueueId: null,
    written: {},
  };
}

export function encodeCallState(state: CallState): string {
  return JSON.stringify(state);
}

export function decodeCallState(text: string): CallState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new RecordsError(RecordsErrorCode.CorruptState, 'stored call state is not JSON', { cause });
  }
  if (
    typeof value !== 'object' ||
    value === null ||
    (value as { version?: unknown }).version !== CALL_STATE_VERSION ||
    typeof (value as { callId?: unknown }).callId !== 'string'
  ) {
    throw new RecordsError(
      RecordsErrorCode.CorruptState,
      'stored call state has an unknown shape or version',
    );
  }
  return value as CallState;
}

/** Allocation leg ended without an AllocationRejected: infer the reason from how it ended. */
function inferRejectReason(sipStatus: number, cause: string): AllocationRejectReason {
  if (cause === 'CompletedElsewhere') return 'OtherConnected';
  if (sipStatus === 408) return 'Timeout';
  if (sipStatus === 487 || cause === 'CallerCancelled' || cause === 'CallFailed') return 'CallDisconnected';
  return 'GenericUserRejected';
}

const LEFT_FOR_ELSEWHERE: ReadonlySet<QueueLeaveReason> = new Set([
  'Overflow',
  'MaxWaitExceeded',
  'NoMembers',
]);

/** The queue stay ended without the call being answered or ending in it. */
export function leftForElsewhere(visit: QueueVisit): boolean {
  return visit.leftReason !== null && LEFT_FOR_ELSEWHERE.has(visit.leftReason);
}

/**
 * Apply one journal entry to the call's state and return the details it produces, in order.
 * Facts repeated or arriving out of the usual order are tolerated: the first of each kind wins.
 */
export function applyEntry(state: CallState, entry: JournalEntry): DetailDraft[] {
  const { fact } = entry;
  const t = entry.timeMs;
  const details: DetailDraft[] = [];
  state.lastSeq = entry.seq;
  state.lastTimeMs = Math.max(state.lastTimeMs, t);

  const legOf = (callLegId: string, role: LegRole): LegState => {
    let leg = state.legs.find((candidate) => candidate.callLegId === callLegId);
    if (!leg) {
      leg = {
        callLegId,
        role,
        direction: role === 'caller' ? 'inbound' : 'outbound',
        userId: null,
        queueId: null,
        createdMs: t,
        ringingMs: null,
        answeredMs: null,
        endedMs: null,
        endSipStatus: null,
        offeredMs: null,
        rejectedMs: null,
        rejectReason: null,
        connectedMs: null,
      };
      state.legs.push(leg);
    }
    return leg;
  };

  const enterQueue = (queueId: string): QueueVisit => {
    let visit = state.visits.find((candidate) => candidate.queueId === queueId);
    if (!visit) {
      visit = {
        queueId,
        arrivalMs: t,
        leftMs: null,
        leftReason: null,
        allocationCount: 0,
        answeredMs: null,
        answeredByUserId: null,
      };
      state.visits.push(visit);
      details.push({
        queueId,
        callLegId: null,
        userId: null,
        eventType: 'CallArrival',
        reason: null,
        timestampMs: t,
      });
    } else if (visit.leftMs !== null && visit.leftReason !== 'Answered') {
      // Back in a queue it overflowed from: one header per queue, a new arrival detail.
      visit.leftMs = null;
      visit.leftReason = null;
      details.push({
        queueId,
        callLegId: null,
        userId: null,
        eventType: 'CallArrival',
        reason: null,
        timestampMs: t,
      });
    }
    state.currentQueueId = queueId;
    return visit;
  };

  const reject = (leg: LegState, reason: AllocationRejectReason, atMs: number) => {
    leg.rejectedMs = atMs;
    leg.rejectReason = reason;
    details.push({
      queueId: leg.queueId ?? state.currentQueueId ?? '',
      callLegId: leg.callLegId,
      userId: leg.userId,
      eventType: 'UserReject',
      reason,
      timestampMs: atMs,
    });
  };

  const isOpenAllocation = (leg: LegState) =>
    leg.offeredMs !== null && leg.rejectedMs === null && leg.connectedMs === null;

  switch (fact.type) {
    case 'CallStarted': {
      if (state.started) break;
      state.started = {
        callKind: fact.callKind,
        aNum: fact.aNum,
        bNum: fact.bNum,
        callerUserId: fact.callerUserId ?? null,
        queueId: fact.queueId ?? null,
        callbackListId: fact.callbackListId ?? null,
        callbackRequestId: fact.callbackRequestId ?? null,
        startedMs: t,
      };
      // The header exists from arrival on, even before call control reports QueueEntered.
      if (fact.callKind === 'inbound-service' && fact.queueId) enterQueue(fact.queueId);
      break;
    }
    case 'LegCreated': {
      const leg = legOf(fact.callLegId, fact.role);
      leg.role = fact.role;
      leg.direction = fact.direction;
      leg.userId = fact.userId ?? leg.userId;
      leg.queueId = fact.queueId ?? leg.queueId;
      break;
    }
    case 'LegRinging': {
      const leg = legOf(fact.callLegId, 'callee');
      leg.ringingMs ??= t;
      break;
    }
    case 'LegAnswered': {
      const leg = legOf(fact.callLegId, 'callee');
      leg.answeredMs ??= t;
      break;
    }
    case 'LegEnded': {
      const leg = legOf(fact.callLegId, 'callee');
      if (leg.endedMs !== null) break;
      leg.endedMs = t;
      leg.endSipStatus = fact.sipStatus;
      // Call control withdraws ringing allocations without an AllocationRejected when the caller
      // goes away or another member answers; the detail list still needs their end.
      if (isOpenAllocation(leg)) reject(leg, inferRejectReason(fact.sipStatus, fact.cause), t);
      break;
    }
    case 'QueueEntered': {
      enterQueue(fact.queueId);
      break;
    }
    case 'QueueLeft': {
      const visit =
        state.visits.find((candidate) => candidate.queueId === fact.queueId) ?? enterQueue(fact.queueId);
      if (visit.leftMs !== null) break;
      visit.leftMs = t;
      visit.leftReason = fact.reason;
      if (fact.reason === 'Overflow' || fact.reason === 'MaxWaitExceeded') {
        details.push({
          queueId: fact.queueId,
          callLegId: null,
          userId: null,
          eventType: 'QueueOverflow',
          reason: fact.reason,
          timestampMs: t,
        });
      } else if (fact.reason === 'NoMembers') {
        details.push({
          queueId: fact.queueId,
          callLegId: null,
          userId: null,
          eventType: 'QueueReject',
          reason: fact.reason,
          timestampMs: t,
        });
      }
      break;
    }
    case 'AllocationOffered': {
      const leg = legOf(fact.callLegId, 'allocation');
      if (leg.offeredMs !== null) break;
      const visit =
        state.visits.find((candidate) => candidate.queueId === fact.queueId) ?? enterQueue(fact.queueId);
      leg.userId = fact.userId;
      leg.queueId = fact.queueId;
      leg.offeredMs = t;
      visit.allocationCount += 1;
      details.push({
        queueId: fact.queueId,
        callLegId: fact.callLegId,
        userId: fact.userId,
        eventType: 'UserAllocation',
        reason: null,
        timestampMs: t,
      });
      break;
    }
    case 'AllocationRejected': {
      const leg = legOf(fact.callLegId, 'allocation');
      if (leg.rejectedMs !== null || leg.connectedMs !== null) break;
      leg.userId ??= fact.userId;
      leg.queueId ??= fact.queueId;
      leg.offeredMs ??= t;
      reject(leg, fact.reason, t);
      break;
    }
    case 'AllocationConnected': {
      const leg = legOf(fact.callLegId, 'allocation');
      if (leg.connectedMs !== null || leg.rejectedMs !== null) break;
      leg.userId ??= fact.userId;
      leg.queueId ??= fact.queueId;
      leg.offeredMs ??= t;
      leg.connectedMs = t;
      leg.answeredMs ??= t;
      const visit =
        state.visits.find((candidate) => candidate.queueId === fact.queueId) ?? enterQueue(fact.queueId);
      visit.answeredMs ??= t;
      visit.answeredByUserId ??= fact.userId;
      details.push({
        queueId: fact.queueId,
        callLegId: fact.callLegId,
        userId: fact.userId,
        eventType: 'UserConnect',
        reason: null,
        timestampMs: t,
      });
      break;
    }
    case 'CallEnded': {
      if (state.ended) break;
      const endedMs = fact.endedAtMs ?? t;
      state.ended = {
        endedMs,
        reason: fact.reason,
        sipStatus: fact.sipStatus,
        answeredByUserId: fact.answeredByUserId ?? null,
        cause: fact.cause ?? null,
      };
      for (const leg of state.legs) {
        if (isOpenAllocation(leg)) reject(leg, 'CallDisconnected', endedMs);
        if (leg.endedMs === null) leg.endedMs = endedMs;
      }
      if (state.currentQueueId !== null) {
        details.push({
          queueId: state.currentQueueId,
          callLegId: null,
          userId: null,
          eventType: 'CallDisconnect',
          reason: fact.cause ?? fact.reason,
          timestampMs: endedMs,
        });
      }
      break;
    }
  }
  return details;
}
