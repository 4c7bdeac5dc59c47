/**
 * The records a call's state stands for (DESIGN.md §2). A pure function of the state: the same
 * facts always give the same records, which is what makes re-processing idempotent. Modified is
 * not part of it; the processor stamps it when a record's content changes.
 */

import { completedTransferOf, type LegState, leftForElsewhere, type QueueVisit } from '../../journal/fold.js';
import { INTERRUPTED_CAUSES } from '../../journal/recovery.js';
import type {
  CallbackRequest,
  CallResult,
  OutboundCallbackCall,
  OutboundServiceCall,
  ServiceCall,
  UserCallEvent,
} from '../types.js';
import type { CallState } from './call-state.js';
import { recordId, recordKey } from './ids.js';

/** Name lookups (from the tenant Directory); unknown ids give ''. */
export interface Names {
  userName(userId: string): string;
  queueName(queueId: string): string;
  callbackListName(callbackListId: string): string;
  /** The queue a callback list belongs to, if the list is known. */
  callbackListQueueId(callbackListId: string): string | null;
  /** The callback list that receives a queue's unanswered calls, if it names one. */
  queueCallbackListId(queueId: string): string | null;
}

export type Unstamped<T> = Omit<T, 'modifiedMs'>;

export interface DerivedRecords {
  userCallEvents: Unstamped<UserCallEvent>[];
  serviceCalls: Unstamped<ServiceCall>[];
  outboundServiceCalls: Unstamped<OutboundServiceCall>[];
  outboundCallbackCalls: Unstamped<OutboundCallbackCall>[];
  /** At most one: the request a missed service call leaves in its queue's callback list. */
  callbackRequests: Unstamped<CallbackRequest>[];
}

/** Whole seconds between two times, never negative. */
function seconds(fromMs: number, toMs: number): number {
  return Math.max(0, Math.round((toMs - fromMs) / 1000));
}

/** Every recording of the call: the call-level records list them all (DESIGN.md §9). */
function callRecordingIds(state: CallState): string[] {
  return (state.recordings ?? []).map((recording) => recording.recordingId);
}

/**
 * The recordings a leg's party was connected for: its user call event lists them, and an agent
 * who was only offered the call gets none.
 */
function legRecordingIds(state: CallState, callLegId: string | undefined): string[] {
  if (!callLegId) return [];
  return (state.recordings ?? [])
    .filter(
      (recording) =>
        recording.aLegId === callLegId ||
        recording.bLegId === callLegId ||
        (recording.continuedWith ?? []).includes(callLegId),
    )
    .map((recording) => recording.recordingId);
}

function minOf(values: (number | null)[]): number | null {
  let min: number | null = null;
  for (const value of values) if (value !== null && (min === null || value < min)) min = value;
  return min;
}

/** When someone other than the caller took the call (callee, trunk or queue member). */
function callAnsweredMs(state: CallState): number | null {
  return minOf(
    state.legs.filter((leg) => leg.role !== 'caller').map((leg) => leg.connectedMs ?? leg.answeredMs),
  );
}

/**
 * A call that crash recovery ended (the process died under it) is Failed for every party, even if
 * it had been answered: nobody knows how it really ended.
 */
function interrupted(state: CallState): boolean {
  const cause = state.ended?.cause;
  return cause !== undefined && cause !== null && INTERRUPTED_CAUSES.has(cause);
}

/** The result seen from the calling side. */
function callerResult(state: CallState): CallResult | null {
  if (!state.ended) return null;
  if (interrupted(state)) return 'Failed';
  if (callAnsweredMs(state) !== null) return 'Handled';
  switch (state.ended.reason) {
    case 'Normal':
      return 'Handled';
    case 'CallerCancelled':
      return 'Cancelled';
    case 'Busy':
    case 'Rejected':
      return 'Busy';
    case 'NoAnswer':
    case 'Unavailable':
    case 'NotFound':
      return 'Missed';
    case 'Failed':
      return 'Failed';
  }
}

const DECLINE_STATUSES: ReadonlySet<number> = new Set([486, 600, 603]);

/** Where the party of a leg transferred the call (the target description), if a transfer of theirs completed. */
function transferredTo(state: CallState, callLegId: string | undefined): string | null {
  if (!callLegId) return null;
  return completedTransferOf(state, callLegId)?.target ?? null;
}

/**
 * When a party that transferred the call was released: its leg's end (call control ends it when
 * the target answers, or earlier when the party hung up after its REFER). Null for a party that
 * did not transfer the call: its part lasts until the call's end.
 */
function releasedMs(state: CallState, leg: LegState): number | null {
  if (leg.endCause !== 'Transferred' && completedTransferOf(state, leg.callLegId) === null) return null;
  return leg.endedMs;
}

export function deriveRecords(state: CallState, names: Names): DerivedRecords {
  const out: DerivedRecords = {
    userCallEvents: [],
    serviceCalls: [],
    outboundServiceCalls: [],
    outboundCallbackCalls: [],
    callbackRequests: [],
  };
  const { started, ended } = state;
  const aNum = started?.aNum ?? '';
  const bNum = started?.bNum ?? '';
  const callerLeg = state.legs.find((leg) => leg.role === 'caller') ?? null;
  const callerUserId = started?.callerUserId ?? callerLeg?.userId ?? null;
  const answeredMs = callAnsweredMs(state);
  const endedMs = ended?.endedMs ?? null;
  const talkSeconds = answeredMs !== null && endedMs !== null ? seconds(answeredMs, endedMs) : 0;

  for (const visit of state.visits) out.serviceCalls.push(header(state, visit, names, aNum, bNum));

  for (const leg of state.legs) {
    const event =
      leg.role === 'transfer'
        ? transferTargetEvent(state, leg, names, aNum, bNum)
        : allocationEvent(state, leg, names, aNum, bNum);
    if (event) out.userCallEvents.push(event);
  }

  const kind = started?.callKind;
  // DirectCall events are written once, after the call disconnects.
  if (started && ended && (kind === 'direct' || kind === 'inbound-service') && callerUserId) {
    // A caller who transferred the call (REFER from the calling side) took part until released.
    const callerEndMs = (callerLeg ? releasedMs(state, callerLeg) : null) ?? ended.endedMs;
    out.userCallEvents.push({
      eventId: recordId(recordKey.directCallEvent(state.callId, callerUserId, 'outbound')),
      callId: state.callId,
      callLegId: callerLeg?.callLegId ?? '',
      userId: callerUserId,
      userName: names.userName(callerUserId),
      callType: 'DirectCall',
      direction: 'outbound',
      result: callerResult(state) ?? 'Failed',
      aNum,
      bNum,
      queueId: null,
      queueName: null,
      timestampMs: started.startedMs,
      answerTimeMs: answeredMs,
      endTimeMs: callerEndMs,
      durationSeconds: answeredMs !== null ? seconds(answeredMs, callerEndMs) : 0,
      recordingIds: legRecordingIds(state, callerLeg?.callLegId),
      transferredTo: transferredTo(state, callerLeg?.callLegId),
    });
  }
  if (started && ended && kind === 'direct')
    out.userCallEvents.push(...calleeEvents(state, names, aNum, bNum));

  // Outbound service and callback calls: the caller's leg, then their own fields, then the shared ones.
  const outboundHead = (key: string) => ({
    eventId: recordId(key),
    callId: state.callId,
    callLegId: callerLeg?.callLegId ?? '',
  });
  if (started && kind === 'outbound-service') {
    const queueId = started.queueId ?? '';
    out.outboundServiceCalls.push({
      ...outboundHead(recordKey.outboundServiceCall(state.callId)),
      queueId,
      queueName: queueId ? names.queueName(queueId) : '',
      ...outboundCallFields(state, names, callerUserId, answeredMs, talkSeconds),
    });
  }
  if (started && kind === 'outbound-callback') {
    const listId = started.callbackListId ?? '';
    out.outboundCallbackCalls.push({
      ...outboundHead(recordKey.outboundCallbackCall(state.callId)),
      callbackListId: listId,
      callbackListName: listId ? names.callbackListName(listId) : '',
      callbackRequestId: started.callbackRequestId ?? '',
      queueId: started.queueId ?? (listId ? names.callbackListQueueId(listId) : null),
      ...outboundCallFields(state, names, callerUserId, answeredMs, talkSeconds),
    });
  }

  const missed = missedCallRequest(state, names);
  if (missed) out.callbackRequests.push(missed);
  return out;
}

/** The fields outbound service and outbound callback calls share, in their record order. */
function outboundCallFields(
  state: CallState,
  names: Names,
  callerUserId: string | null,
  answeredMs: number | null,
  talkSeconds: number,
) {
  return {
    userId: callerUserId ?? '',
    userName: callerUserId ? names.userName(callerUserId) : '',
    aNum: state.started?.aNum ?? '',
    bNum: state.started?.bNum ?? '',
    timestampMs: state.started?.startedMs ?? 0,
    answerTimeMs: answeredMs,
    endTimeMs: state.ended?.endedMs ?? null,
    durationSeconds: talkSeconds,
    result: callerResult(state),
    recordingIds: callRecordingIds(state),
  };
}

/** What a callback can dial: digits with an optional '+' (not 'anonymous', not a SIP URI). */
const CALLABLE_NUMBER = /^\+?[0-9*#]{2,32}$/;

/**
 * A service call that ended without anyone answering it — the caller hung up while queued, or it
 * left the queue (max wait, overflow, no members) and ended elsewhere unanswered — leaves one
 * callback request: in the callback list of the last queue it visited that names one, for the
 * caller's number. Not for calls crash recovery ended (nobody knows how they ended) nor for a
 * caller without a callable number. The id is derived from the CallId, so replays find it again.
 */
function missedCallRequest(state: CallState, names: Names): Unstamped<CallbackRequest> | null {
  const { started, ended } = state;
  if (!started || !ended || started.callKind !== 'inbound-service' || interrupted(state)) return null;
  if (state.visits.some((visit) => visit.answeredMs !== null)) return null;
  if (!CALLABLE_NUMBER.test(started.aNum)) return null;
  const latestFirst = [...state.visits].reverse();
  const current = latestFirst.findIndex((visit) => visit.queueId === state.currentQueueId);
  if (current > 0) latestFirst.unshift(...latestFirst.splice(current, 1));
  for (const visit of latestFirst) {
    const callbackListId = names.queueCallbackListId(visit.queueId);
    if (callbackListId === null) continue;
    return {
      callbackRequestId: recordId(recordKey.missedCallCallbackRequest(state.callId)),
      callbackListId,
      queueId: visit.queueId,
      number: started.aNum,
      callId: state.callId,
      origin: 'MissedCall',
      note: null,
      status: 'Open',
      createdMs: ended.endedMs,
      createdByUserId: null,
      closedMs: null,
      closedByUserId: null,
    };
  }
  return null;
}

function header(
  state: CallState,
  visit: QueueVisit,
  names: Names,
  aNum: string,
  bNum: string,
): Unstamped<ServiceCall> {
  const answered = visit.answeredMs !== null;
  const endTimeMs = !answered && leftForElsewhere(visit) ? visit.leftMs : (state.ended?.endedMs ?? null);
  let result: CallResult | null = null;
  if (endTimeMs !== null) {
    if (interrupted(state)) result = 'Failed';
    else if (answered) result = 'Handled';
    else if (leftForElsewhere(visit)) result = 'Missed';
    else if (visit.leftReason === 'CallerHungUp' || state.ended?.reason === 'CallerCancelled')
      result = 'Cancelled';
    else if (state.ended?.reason === 'Failed') result = 'Failed';
    else result = 'Missed';
  }
  let waitTimeSeconds = 0;
  if (visit.answeredMs !== null) waitTimeSeconds = seconds(visit.arrivalMs, visit.answeredMs);
  else if (endTimeMs !== null) waitTimeSeconds = seconds(visit.arrivalMs, endTimeMs);
  return {
    eventId: recordId(recordKey.serviceCall(state.callId, visit.queueId)),
    callId: state.callId,
    queueId: visit.queueId,
    queueName: names.queueName(visit.queueId),
    aNum,
    bNum,
    arrivalTimeMs: visit.arrivalMs,
    answerTimeMs: visit.answeredMs,
    endTimeMs,
    waitTimeSeconds,
    durationSeconds:
      visit.answeredMs !== null && endTimeMs !== null ? seconds(visit.answeredMs, endTimeMs) : 0,
    result,
    answeredByUserId: visit.answeredByUserId,
    answeredByUserName: visit.answeredByUserId ? names.userName(visit.answeredByUserId) : null,
    allocationCount: visit.allocationCount,
    recordingIds: callRecordingIds(state),
  };
}

/**
 * One event per allocation leg: Handled from the member's connect on (its end filled in later),
 * Allocated once an allocation ended without the member answering; nothing while it rings.
 */
function allocationEvent(
  state: CallState,
  leg: LegState,
  names: Names,
  aNum: string,
  bNum: string,
): Unstamped<UserCallEvent> | null {
  if (leg.offeredMs === null || leg.userId === null) return null;
  const base = {
    eventId: recordId(recordKey.allocationEvent(leg.callLegId)),
    callId: state.callId,
    callLegId: leg.callLegId,
    userId: leg.userId,
    userName: names.userName(leg.userId),
    callType: 'ServiceCall' as const,
    direction: 'inbound' as const,
    aNum,
    bNum,
    queueId: leg.queueId,
    queueName: leg.queueId ? names.queueName(leg.queueId) : null,
    timestampMs: leg.offeredMs,
    recordingIds: legRecordingIds(state, leg.callLegId),
    transferredTo: transferredTo(state, leg.callLegId),
  };
  if (leg.connectedMs !== null) {
    const endTimeMs = leg.endedMs ?? state.ended?.endedMs ?? null;
    return {
      ...base,
      result: interrupted(state) ? 'Failed' : 'Handled',
      answerTimeMs: leg.connectedMs,
      endTimeMs,
      durationSeconds: endTimeMs !== null ? seconds(leg.connectedMs, endTimeMs) : 0,
    };
  }
  const allocationEndMs = leg.rejectedMs ?? leg.endedMs ?? state.ended?.endedMs ?? null;
  if (allocationEndMs === null) return null;
  return { ...base, result: 'Allocated', answerTimeMs: null, endTimeMs: allocationEndMs, durationSeconds: 0 };
}

/** The called users of a direct call: one event per user, the answered leg if any. */
function calleeEvents(
  state: CallState,
  names: Names,
  aNum: string,
  bNum: string,
): Unstamped<UserCallEvent>[] {
  const ended = state.ended!;
  const started = state.started!;
  const legsByUser = new Map<string, LegState[]>();
  for (const leg of state.legs) {
    if (leg.role !== 'callee' || leg.userId === null) continue;
    legsByUser.set(leg.userId, [...(legsByUser.get(leg.userId) ?? []), leg]);
  }
  const hasTrunkLeg = state.legs.some((leg) => leg.role === 'trunk');
  if (legsByUser.size === 0 && !hasTrunkLeg && started.route?.kind === 'user') {
    // Routed to a user with no registered device: no leg was placed, but the user missed a call.
    legsByUser.set(started.route.userId, []);
  }
  const events: Unstamped<UserCallEvent>[] = [];
  for (const [userId, legs] of legsByUser) {
    const answeredLeg =
      legs
        .filter((leg) => leg.answeredMs !== null)
        .sort((x, y) => (x.answeredMs ?? 0) - (y.answeredMs ?? 0))[0] ?? null;
    const answered = answeredLeg !== null || ended.answeredByUserId === userId;
    let result: CallResult;
    if (interrupted(state)) result = 'Failed';
    else if (answered) result = 'Handled';
    else if (ended.reason === 'Rejected' || legs.some((leg) => DECLINE_STATUSES.has(leg.endSipStatus ?? 0))) {
      result = 'Rejected';
    } else if (ended.reason === 'Failed') result = 'Failed';
    else result = 'Missed';
    const answerTimeMs = answeredLeg?.answeredMs ?? null;
    // A callee who transferred the call took part until released, not until the call's end.
    const endTimeMs = (answeredLeg ? releasedMs(state, answeredLeg) : null) ?? ended.endedMs;
    events.push({
      eventId: recordId(recordKey.directCallEvent(state.callId, userId, 'inbound')),
      callId: state.callId,
      callLegId: (answeredLeg ?? legs[0])?.callLegId ?? '',
      userId,
      userName: names.userName(userId),
      callType: 'DirectCall',
      direction: 'inbound',
      result,
      aNum,
      bNum,
      queueId: null,
      queueName: null,
      timestampMs: minOf(legs.map((leg) => leg.createdMs)) ?? started.startedMs,
      answerTimeMs,
      endTimeMs,
      durationSeconds: answerTimeMs !== null ? seconds(answerTimeMs, endTimeMs) : 0,
      recordingIds: legRecordingIds(state, answeredLeg?.callLegId),
      transferredTo: transferredTo(state, answeredLeg?.callLegId),
    });
  }
  return events;
}

/**
 * The event of a user a call was transferred to (a leg with role 'transfer' and a user; a number's
 * trunk leg gives none): inbound, a ServiceCall in the queue the call was transferred from, else
 * a DirectCall (written once the call has ended, as every DirectCall event). Handled from the
 * target's answer on (its end filled in when its leg or the call ends); a target that did not
 * answer is Rejected when it declined (486/600/603), else Missed, once its leg or the call ended.
 */
function transferTargetEvent(
  state: CallState,
  leg: LegState,
  names: Names,
  aNum: string,
  bNum: string,
): Unstamped<UserCallEvent> | null {
  if (leg.userId === null) return null;
  const transfer =
    (state.transfers ?? []).find(
      (candidate) => candidate.targetLegId === leg.callLegId || candidate.newCallLegId === leg.callLegId,
    ) ?? null;
  const queueId =
    transfer?.fromQueueId ?? (state.started?.callKind === 'inbound-service' ? state.currentQueueId : null);
  if (queueId === null && state.ended === null) return null;
  const base = {
    eventId: recordId(recordKey.transferEvent(leg.callLegId)),
    callId: state.callId,
    callLegId: leg.callLegId,
    userId: leg.userId,
    userName: names.userName(leg.userId),
    callType: queueId !== null ? ('ServiceCall' as const) : ('DirectCall' as const),
    direction: 'inbound' as const,
    aNum,
    bNum,
    queueId,
    queueName: queueId !== null ? names.queueName(queueId) : null,
    timestampMs: leg.createdMs,
    recordingIds: legRecordingIds(state, leg.callLegId),
    transferredTo: transferredTo(state, leg.callLegId),
  };
  const endTimeMs = leg.endedMs ?? state.ended?.endedMs ?? null;
  if (leg.answeredMs !== null) {
    return {
      ...base,
      result: interrupted(state) ? 'Failed' : 'Handled',
      answerTimeMs: leg.answeredMs,
      endTimeMs,
      durationSeconds: endTimeMs !== null ? seconds(leg.answeredMs, endTimeMs) : 0,
    };
  }
  if (endTimeMs === null) return null;
  let result: CallResult;
  // Still ringing when crash recovery ended the call: nobody knows how it would have ended.
  if (leg.endCause === null && interrupted(state)) result = 'Failed';
  else if (DECLINE_STATUSES.has(leg.endSipStatus ?? 0)) result = 'Rejected';
  else result = 'Missed';
  return { ...base, result, answerTimeMs: null, endTimeMs, durationSeconds: 0 };
}
