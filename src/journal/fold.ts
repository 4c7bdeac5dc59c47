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
import { isAgentFact } from './facts.js';
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

/** What a transfer's target is: a user, a queue or a number. */
export type TransferTargetKind = FactOf<'TransferRequested'>['targetKind'];

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
  /**
   * Parties that were on channel 1 after `bLegId` (RecordingContinued: a transfer's target, the
   * next agent); absent in states persisted before transfers.
   */
  continuedWith?: string[];
  bEnginePorts: number[] | null;
  startedMs: number;
}

/**
 * One transfer of the call (DESIGN.md §10): asked for by the party of `callLegId` (the transferor)
 * and then completed (the target answered, or the target queue took the call) or failed. A call
 * may be transferred several times (the target transfers it on, or the transferor tries again).
 */
export interface TransferOfCall {
  /** The transferor's leg. */
  callLegId: string;
  /** Null only when a completion or failure was journaled without its request. */
  targetKind: TransferTargetKind | null;
  /** As the records name it: `user c@example.com`, `queue Sales`, `number +358…`. */
  target: string | null;
  /** The target user or queue, when the target is one. */
  userId: string | null;
  queueId: string | null;
  /**
   * The queue the call was transferred from: the transferor's leg's queue (an agent's allocation)
   * or, for an inbound service call, the queue it was in; null for a direct call's parties.
   */
  fromQueueId: string | null;
  requestedMs: number;
  /**
   * The leg call control placed to (or, in an attended transfer, adopted from) the target: the
   * `LegCreated` with role 'transfer' that followed the request. Null for a queue target.
   */
  targetLegId: string | null;
  completedMs: number | null;
  /** The target's leg that took the call (`TransferCompleted`); null for a queue target. */
  newCallLegId: string | null;
  failedMs: number | null;
  failSipStatus: number | null;
  failReason: string | null;
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
  /** Transfers of the call, in request order; absent in states persisted before transfers existed. */
  transfers?: TransferOfCall[];
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
    | 'UserTransfer'
    | 'QueueOverflow'
    | 'QueueReject'
    | 'QueueScheduleClosed'
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
    transfers: [],
  };
}

/** The transfer that released the party of `callLegId`, if a transfer of theirs completed. */
export function completedTransferOf(state: FoldedCall, callLegId: string): TransferOfCall | null {
  return (
    (state.transfers ?? []).find(
      (transfer) => transfer.callLegId === callLegId && transfer.completedMs !== null,
    ) ?? null
  );
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
  // An agent's fact (availability, serving, wrap-up) belongs to no call: nothing to fold.
  if (isAgentFact(fact)) return [];
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
    } else if (visit.leftMs !== null) {
      // Back in a queue it left — it overflowed from there, or its agent transferred the call back
      // into it: one visit per queue, a new arrival. An answered visit keeps its (first) answer.
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

  /** The latest transfer of the transferor's leg still waiting for its outcome (or a new one). */
  const openTransferOf = (callLegId: string): TransferOfCall => {
    state.transfers ??= [];
    const open = state.transfers.findLast(
      (transfer) =>
        transfer.callLegId === callLegId && transfer.completedMs === null && transfer.failedMs === null,
    );
    return open ?? requestTransfer(callLegId, null, null, null, null);
  };

  const requestTransfer = (
    callLegId: string,
    targetKind: TransferTargetKind | null,
    target: string | null,
    userId: string | null,
    queueId: string | null,
  ): TransferOfCall => {
    const transferor = state.legs.find((leg) => leg.callLegId === callLegId);
    const transfer: TransferOfCall = {
      callLegId,
      targetKind,
      target,
      userId,
      queueId,
      fromQueueId:
        transferor?.queueId ?? (state.started?.callKind === 'inbound-service' ? state.currentQueueId : null),
      requestedMs: t,
      targetLegId: null,
      completedMs: null,
      newCallLegId: null,
      failedMs: null,
      failSipStatus: null,
      failReason: null,
    };
    state.transfers ??= [];
    state.transfers.push(transfer);
    return transfer;
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
      if (fact.role === 'transfer') {
        // The leg to the target of the transfer in progress (one at a time per call).
        const transfer = (state.transfers ?? []).findLast(
          (candidate) =>
            candidate.targetLegId === null && candidate.completedMs === null && candidate.failedMs === null,
        );
        if (transfer) transfer.targetLegId = fact.callLegId;
      }
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
    case 'RecordingContinued': {
      const recording = state.recordings?.find((candidate) => candidate.recordingId === fact.recordingId);
      if (!recording) break;
      recording.continuedWith ??= [];
      const { continuedWith } = recording;
      if (continuedWith.includes(fact.bLegId) || recording.bLegId === fact.bLegId) break;
      continuedWith.push(fact.bLegId);
      const union = (ports: number[] | null, more: number[] | undefined): number[] | null =>
        ports === null || more === undefined ? ports : [...new Set([...ports, ...more])];
      recording.aEnginePorts = union(recording.aEnginePorts, fact.aEnginePorts);
      recording.bEnginePorts = union(recording.bEnginePorts, fact.bEnginePorts);
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
      } else if (fact.reason === 'ScheduleClosed') {
        event('QueueScheduleClosed', fact.queueId, null, t);
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
    case 'TransferRequested': {
      requestTransfer(
        fact.callLegId,
        fact.targetKind,
        fact.target,
        fact.userId ?? null,
        fact.queueId ?? null,
      );
      break;
    }
    case 'TransferCompleted': {
      const transfer = openTransferOf(fact.callLegId);
      transfer.completedMs = t;
      transfer.newCallLegId = fact.newCallLegId ?? null;
      transfer.targetLegId ??= transfer.newCallLegId;
      // A service call's agent (not its caller) handed the call on: UserTransfer in the queue it
      // was transferred from.
      const transferor = state.legs.find((leg) => leg.callLegId === fact.callLegId);
      if (transfer.fromQueueId !== null && transferor?.role !== 'caller') {
        event('UserTransfer', transfer.fromQueueId, transfer.target, t, {
          callLegId: fact.callLegId,
          userId: transferor?.userId ?? null,
        });
      }
      break;
    }
    case 'TransferFailed': {
      const transfer = openTransferOf(fact.callLegId);
      transfer.failedMs = t;
      transfer.failSipStatus = fact.sipStatus;
      transfer.failReason = fact.reason;
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

/**
 * The stay ended without the call being answered or ending in it (overflow, max wait, no members,
 * a closed schedule — the caller may still hear a prompt, but the queue is done with the call).
 */
export function leftForElsewhere(visit: QueueVisit): boolean {
  return (
    visit.leftReason === 'Overflow' ||
    visit.leftReason === 'MaxWaitExceeded' ||
    visit.leftReason === 'NoMembers' ||
    visit.leftReason === 'ScheduleClosed'
  );
}

/** A call started and not (yet) ended: what crash recovery ends. */
export function inProgress(state: FoldedCall): boolean {
  return state.started !== null && state.ended === null;
}
