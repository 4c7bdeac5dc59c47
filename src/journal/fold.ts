/**
 * The one fold of the journal: a call's facts, entry by entry, into the state of that call — its
 * start (with the route call control chose), its legs, its stays in queues and its end. Every
 * reader of the journal builds on this state and derives its own view from it: post-processing
 * its records (src/records/postprocess), diagnostics its call map (src/diagnostics/call-map.ts),
 * crash recovery the calls still in progress (recovery.ts).
 *
 * The state is plain JSON (post-processing persists it between batches), so every field is a
 * value or null, never undefined.
 */
import type {
  AllocationRejectReason,
  CallEndCause,
  CallEndReason,
  CallKind,
  CallRoute,
  FactOf,
  JournalEntry,
  LegEndCause,
  LegRole,
  QueueLeaveReason,
  SipLegIdentifiers,
} from './types.js';

export interface LegState {
  callLegId: string;
  role: LegRole;
  direction: 'inbound' | 'outbound';
  userId: string | null;
  queueId: string | null;
  /**
   * From `LegCreated`: where the leg goes and its SIP identifiers (the remote tag is completed by
   * `LegAnswered`). Null for a leg only mentioned by other facts; states persisted by an earlier
   * version lack them (read as absent).
   */
  target: string | null;
  sip: SipLegIdentifiers | null;
  createdMs: number;
  ringingMs: number | null;
  answeredMs: number | null;
  endedMs: number | null;
  endSipStatus: number | null;
  endCause: LegEndCause | null;
  /** With cause 'Refused': the reason phrase of the final response. */
  endSipReason: string | null;
  /** Set for queue allocations (AllocationOffered). */
  offeredMs: number | null;
  rejectedMs: number | null;
  rejectReason: AllocationRejectReason | null;
  connectedMs: number | null;
}

/** The call's stay in one queue. */
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
  /** Null only in states persisted before the route was journaled. */
  route: CallRoute | null;
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
  cause: CallEndCause | null;
}

/** A recording of the call (RecordingStarted); it ends with the call. */
export interface RecordingOfCall {
  recordingId: string;
  ownerKind: 'queue' | 'user';
  ownerId: string;
  aLegId: string;
  bLegId: string;
  /** The engine ports each side sends to; null in recordings journaled without them. */
  aEnginePorts: number[] | null;
  bEnginePorts: number[] | null;
  startedMs: number;
}

export interface FoldedCall {
  callId: string;
  started: CallStart | null;
  ended: CallEnd | null;
  /** Highest seq applied: replays of facts at or below it are skipped by the consumers. */
  lastSeq: number;
  lastTimeMs: number;
  legs: LegState[];
  visits: QueueVisit[];
  /** Queue the call is (or was last) in: the call's disconnect is reported there. */
  currentQueueId: string | null;
  /** Recordings made of the call; absent in states persisted before recordings existed. */
  recordings?: RecordingOfCall[];
}

/**
 * What happened in a queue, as a consequence of one fact: the events of the service call detail
 * list (DESIGN.md §2). Named as the records name them; `reason` is an enum value of the fact.
 */
export interface QueueEvent {
  kind:
    | 'CallArrival'
    | 'UserAllocation'
    | 'UserReject'
    | 'UserConnect'
    | 'QueueOverflow'
    | 'QueueReject'
    | 'CallDisconnect';
  queueId: string;
  callLegId: string | null;
  userId: string | null;
  reason: string | null;
  atMs: number;
}

export function newFoldedCall(callId: string): FoldedCall {
  return {
    callId,
    started: null,
    ended: null,
    lastSeq: 0,
    lastTimeMs: 0,
    legs: [],
    visits: [],
    currentQueueId: null,
    recordings: [],
  };
}

/** Every entry of one call, in order, folded from the empty state. */
export function foldCall(callId: string, entries: Iterable<JournalEntry>): FoldedCall {
  const state = newFoldedCall(callId);
  for (const entry of entries) foldEntry(state, entry);
  return state;
}

/** An allocation leg ended without an AllocationRejected: its reason, from how it ended. */
function inferRejectReason(sipStatus: number, cause: LegEndCause): AllocationRejectReason {
  switch (cause) {
    case 'CompletedElsewhere':
      return 'OtherConnected';
    case 'CallerCancelled':
    case 'CallFailed':
      return sipStatus === 408 ? 'Timeout' : 'CallDisconnected';
    default:
      if (sipStatus === 408) return 'Timeout';
      return sipStatus === 487 ? 'CallDisconnected' : 'GenericUserRejected';
  }
}

/**
 * Apply one entry to the call's state and return the queue events it produces, in order. Facts
 * repeated or arriving out of the usual order are tolerated: the first of each kind wins.
 */
export function foldEntry(state: FoldedCall, entry: JournalEntry): QueueEvent[] {
  const { fact } = entry;
  const t = entry.timeMs;
  const events: QueueEvent[] = [];
  state.lastSeq = entry.seq;
  state.lastTimeMs = Math.max(state.lastTimeMs, t);

  const event = (
    kind: QueueEvent['kind'],
    queueId: string,
    reason: string | null,
    atMs: number,
    leg?: { callLegId: string; userId: string | null },
  ) =>
    events.push({
      kind,
      queueId,
      callLegId: leg?.callLegId ?? null,
      userId: leg?.userId ?? null,
      reason,
      atMs,
    });

  const legOf = (callLegId: string, role: LegRole): LegState => {
    let leg = state.legs.find((candidate) => candidate.callLegId === callLegId);
    if (!leg) {
      leg = {
        callLegId,
        role,
        direction: role === 'caller' ? 'inbound' : 'outbound',
        userId: null,
        queueId: null,
        target: null,
        sip: null,
        createdMs: t,
        ringingMs: null,
        answeredMs: null,
        endedMs: null,
        endSipStatus: null,
        endCause: null,
        endSipReason: null,
        offeredMs: null,
        rejectedMs: null,
        rejectReason: null,
        connectedMs: null,
      };
      state.legs.push(leg);
    }
    return leg;
  };

  const visitOf = (queueId: string): QueueVisit =>
    state.visits.find((candidate) => candidate.queueId === queueId) ?? enterQueue(queueId);

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
      event('CallArrival', queueId, null, t);
    } else if (visit.leftMs !== null && visit.leftReason !== 'Answered') {
      // Back in a queue it overflowed from: one visit per queue, a new arrival.
      visit.leftMs = null;
      visit.leftReason = null;
      event('CallArrival', queueId, null, t);
    }
    state.currentQueueId = queueId;
    return visit;
  };

  const reject = (leg: LegState, reason: AllocationRejectReason, atMs: number) => {
    leg.rejectedMs = atMs;
    leg.rejectReason = reason;
    event('UserReject', leg.queueId ?? state.currentQueueId ?? '', reason, atMs, leg);
  };

  const isOpenAllocation = (leg: LegState) =>
    leg.offeredMs !== null && leg.rejectedMs === null && leg.connectedMs === null;

  /** The allocation facts all name the leg, its queue and its member. */
  const allocationLeg = (
    allocation: FactOf<'AllocationOffered' | 'AllocationRejected' | 'AllocationConnected'>,
  ): LegState => {
    const leg = legOf(allocation.callLegId, 'allocation');
    leg.userId ??= allocation.userId;
    leg.queueId ??= allocation.queueId;
    return leg;
  };

  switch (fact.type) {
    case 'CallStarted': {
      if (state.started) break;
      state.started = {
        callKind: fact.callKind,
        aNum: fact.aNum,
        bNum: fact.bNum,
        route: fact.route,
        callerUserId: fact.callerUserId ?? null,
        queueId: fact.queueId ?? null,
        callbackListId: fact.callbackListId ?? null,
        callbackRequestId: fact.callbackRequestId ?? null,
        startedMs: t,
      };
      // The stay exists from arrival on, even before call control reports QueueEntered.
      if (fact.callKind === 'inbound-service' && fact.queueId) enterQueue(fact.queueId);
      break;
    }
    case 'LegCreated': {
      const leg = legOf(fact.callLegId, fact.role);
      leg.role = fact.role;
      leg.direction = fact.direction;
      leg.userId = fact.userId ?? leg.userId;
      leg.queueId = fact.queueId ?? leg.queueId;
      leg.target = fact.target;
      leg.sip = { ...fact.sip };
      break;
    }
    case 'LegRinging': {
      legOf(fact.callLegId, 'callee').ringingMs ??= t;
      break;
    }
    case 'LegAnswered': {
      const leg = legOf(fact.callLegId, 'callee');
      leg.answeredMs ??= t;
      if (leg.sip && fact.sip.remoteTag) leg.sip.remoteTag = fact.sip.remoteTag;
      break;
    }
    case 'LegEnded': {
      const leg = legOf(fact.callLegId, 'callee');
      if (leg.endedMs !== null) break;
      leg.endedMs = t;
      leg.endSipStatus = fact.sipStatus;
      leg.endCause = fact.cause;
      leg.endSipReason = fact.sipReason ?? null;
      // Call control withdraws ringing allocations without an AllocationRejected when the caller
      // goes away or another member answers; the detail list still needs their end.
      if (isOpenAllocation(leg)) reject(leg, inferRejectReason(fact.sipStatus, fact.cause), t);
      break;
    }
    case 'RecordingStarted': {
      state.recordings ??= [];
      if (state.recordings.some((recording) => recording.recordingId === fact.recordingId)) break;
      state.recordings.push({
        recordingId: fact.recordingId,
        ownerKind: fact.owner.kind,
        ownerId: fact.owner.kind === 'queue' ? fact.owner.queueId : fact.owner.userId,
        aLegId: fact.aLegId,
        bLegId: fact.bLegId,
        aEnginePorts: fact.aEnginePorts ?? null,
        bEnginePorts: fact.bEnginePorts ?? null,
        startedMs: t,
      });
      break;
    }
    case 'QueueEntered': {
      enterQueue(fact.queueId);
      break;
    }
    case 'QueueLeft': {
      const visit = visitOf(fact.queueId);
      if (visit.leftMs !== null) break;
      visit.leftMs = t;
      visit.leftReason = fact.reason;
      if (fact.reason === 'Overflow' || fact.reason === 'MaxWaitExceeded') {
        event('QueueOverflow', fact.queueId, fact.reason, t);
      } else if (fact.reason === 'NoMembers') {
        event('QueueReject', fact.queueId, fact.reason, t);
      }
      break;
    }
    case 'AllocationOffered': {
      const leg = legOf(fact.callLegId, 'allocation');
      if (leg.offeredMs !== null) break;
      const visit = visitOf(fact.queueId);
      leg.userId = fact.userId;
      leg.queueId = fact.queueId;
      leg.offeredMs = t;
      visit.allocationCount += 1;
      event('UserAllocation', fact.queueId, null, t, leg);
      break;
    }
    case 'AllocationRejected': {
      const leg = legOf(fact.callLegId, 'allocation');
      if (leg.rejectedMs !== null || leg.connectedMs !== null) break;
      allocationLeg(fact).offeredMs ??= t;
      reject(leg, fact.reason, t);
      break;
    }
    case 'AllocationConnected': {
      const leg = legOf(fact.callLegId, 'allocation');
      if (leg.connectedMs !== null || leg.rejectedMs !== null) break;
      allocationLeg(fact).offeredMs ??= t;
      leg.connectedMs = t;
      leg.answeredMs ??= t;
      const visit = visitOf(fact.queueId);
      visit.answeredMs ??= t;
      visit.answeredByUserId ??= fact.userId;
      event('UserConnect', fact.queueId, null, t, leg);
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
        event('CallDisconnect', state.currentQueueId, fact.cause ?? fact.reason, endedMs);
      }
      break;
    }
  }
  return events;
}

/** The stay ended without the call being answered or ending in it (overflow, max wait, no members). */
export function leftForElsewhere(visit: QueueVisit): boolean {
  return (
    visit.leftReason === 'Overflow' ||
    visit.leftReason === 'MaxWaitExceeded' ||
    visit.leftReason === 'NoMembers'
  );
}

/** A call started and not (yet) ended: what crash recovery ends. */
export function inProgress(state: FoldedCall): boolean {
  return state.started !== null && state.ended === null;
}
