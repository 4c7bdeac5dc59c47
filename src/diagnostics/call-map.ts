/**
 * A call's identifier map: every leg and allocation with its SIP identifiers and the client
 * `callId` its device saw, every record post-processing produced (with the endpoint that serves it
 * and the permission that shows it), and the sequence of who was offered the call when.
 *
 * Built from the journal (the single source of truth for legs and SIP ids) and the record store,
 * by pure functions: `buildCallMap` (everything), `restrictCallMap` (what one user may see) and
 * `toWireCallMap` (the PascalCase wire format).
 */

import { formatApiTime, formatApiTimeOrNull } from '../api/time.js';
import { canSee } from '../config/permissions.js';
import type { Directory, GrantKind, User } from '../config/types.js';
import { type FoldedCall, foldEntry, type LegState, newFoldedCall } from '../journal/fold.js';
import type { AllocationRejectReason, AudioKind, JournalEntry, LegEndCause } from '../journal/types.js';
import {
  toWireOutboundCallbackCall,
  toWireOutboundServiceCall,
  toWireServiceCall,
  toWireServiceCallDetail,
  toWireUserCallEvent,
} from '../records/kinds/index.js';
import type * as records from '../records/types.js';
import type {
  AllocationOutcome,
  CallMap,
  LegMap,
  Participant,
  RecordEntry,
  TimelineStep,
  WireCallMap,
  WireLeg,
  WireParticipant,
  WireRecord,
  WireUserRef,
} from './types.js';

/** The records of one call, as the store returns them. */
export interface CallRecords {
  userCallEvents: readonly records.UserCallEvent[];
  serviceCalls: readonly records.ServiceCall[];
  serviceCallDetails: readonly records.ServiceCallDetail[];
  outboundServiceCalls: readonly records.OutboundServiceCall[];
  outboundCallbackCalls: readonly records.OutboundCallbackCall[];
}

export const SWITCHBOARD = 'switchboard';
export const CALLER = 'caller';

function participantKeyOf(leg: Pick<LegMap, 'role' | 'callLegId' | 'userId'>): string {
  if (leg.role === 'caller') return CALLER;
  if (leg.role === 'trunk' || (leg.role === 'transfer' && !leg.userId)) return `trunk:${leg.callLegId}`;
  return leg.userId ? `user:${leg.userId}` : `leg:${leg.callLegId}`;
}

const queueKey = (queueId: string): string => `queue:${queueId}`;

/** How the sequence diagram names each kind of audio the engine plays. */
const AUDIO_LABEL: Record<AudioKind, string> = {
  greeting: 'greeting',
  music: 'music on hold',
  position: 'position announcement',
  whisper: 'whisper',
  goodbye: 'goodbye',
  closed: 'closed prompt',
  holdMusic: 'music on hold (held)',
};

const SIP_REASON: Record<number, string> = {
  180: 'Ringing',
  181: 'Call Is Being Forwarded',
  182: 'Queued',
  183: 'Session Progress',
  200: 'OK',
  408: 'Request Timeout',
  480: 'Temporarily Unavailable',
  486: 'Busy Here',
  487: 'Request Terminated',
  600: 'Busy Everywhere',
  603: 'Decline',
};

const statusText = (status: number): string =>
  SIP_REASON[status] ? `${status} ${SIP_REASON[status]}` : String(status);

/** Everything about one call. `entries` are its journal entries in order (at least one). */
export function buildCallMap(entries: readonly JournalEntry[], records: CallRecords): CallMap | undefined {
  const first = entries[0];
  if (!first) return undefined;
  const { callId } = first.fact;
  // The journal's fold gives the call and its legs; this view adds who appears in which order
  // (participants, queues) and one arrow per fact (the timeline), from the state after each fact.
  const state = newFoldedCall(callId);
  const queueIds: string[] = [];
  const timeline: TimelineStep[] = [];
  /** Rejections call control journaled (the fold also infers some; this view shows the causes). */
  const rejections = new Map<string, AllocationRejectReason>();
  const participants = new Map<string, Participant>();
  const addParticipant = (participant: Participant) => {
    if (!participants.has(participant.key)) participants.set(participant.key, participant);
  };
  addParticipant({ key: CALLER, kind: 'caller', userId: null, queueId: null });
  addParticipant({ key: SWITCHBOARD, kind: 'switchboard', userId: null, queueId: null });
  const addQueue = (queueId: string) => {
    if (!queueIds.includes(queueId)) queueIds.push(queueId);
    addParticipant({ key: queueKey(queueId), kind: 'queue', userId: null, queueId });
  };

  for (const entry of entries) {
    foldEntry(state, entry);
    const { fact, seq, timeMs } = entry;
    const step = (arrow: Arrow) => timeline.push({ seq, timeMs, factType: fact.type, ...arrow });
    /** A leg call control created (LegCreated): facts about other legs are not drawn. */
    const created = (callLegId: string) =>
      state.legs.find((leg) => leg.callLegId === callLegId && leg.sip !== null);
    switch (fact.type) {
      case 'CallStarted': {
        participants.get(CALLER)!.userId = fact.callerUserId ?? null;
        if (fact.queueId) addQueue(fact.queueId);
        step(message(CALLER, SWITCHBOARD, `INVITE ${fact.bNum}`, null, null));
        break;
      }
      case 'LegCreated': {
        const leg = created(fact.callLegId)!;
        if (fact.role === 'caller') {
          // The caller's INVITE is the CallStarted arrow; this only fills in the leg.
          if (fact.userId) participants.get(CALLER)!.userId = fact.userId;
          break;
        }
        if (leg.queueId) addQueue(leg.queueId);
        const key = participantKeyOf(leg);
        addParticipant({
          key,
          // A transfer to a number goes out through the trunk: drawn as a trunk.
          kind: key.startsWith('trunk:') ? 'trunk' : 'user',
          userId: leg.userId,
          queueId: null,
        });
        const transferTarget =
          fact.role === 'transfer'
            ? (state.transfers ?? []).find((transfer) => transfer.targetLegId === leg.callLegId)?.target
            : undefined;
        const detail =
          fact.role === 'allocation'
            ? `offer #${allocationOrdinal(state, leg)}${leg.queueId ? ' from the queue' : ''}`
            : fact.role === 'trunk'
              ? `to ${fact.target}`
              : fact.role === 'transfer'
                ? `transfer to ${transferTarget ?? fact.target}`
                : null;
        step(message(SWITCHBOARD, key, 'INVITE', detail, leg.callLegId));
        break;
      }
      case 'LegRinging':
      case 'LegAnswered': {
        const leg = created(fact.callLegId);
        if (!leg) break;
        const label = fact.type === 'LegRinging' ? statusText(fact.sipStatus) : '200 OK';
        // The caller's leg answers towards the caller; every other party answers us.
        const key = participantKeyOf(leg);
        step(
          leg.role === 'caller'
            ? message(SWITCHBOARD, key, label, null, leg.callLegId)
            : message(key, SWITCHBOARD, label, null, leg.callLegId),
        );
        break;
      }
      case 'LegEnded': {
        const leg = created(fact.callLegId);
        if (!leg) break;
        step({ ...legEndedArrow(leg, fact.sipStatus, fact.cause, fact.sipReason), callLegId: leg.callLegId });
        break;
      }
      case 'QueueEntered':
        addQueue(fact.queueId);
        step(message(SWITCHBOARD, queueKey(fact.queueId), 'queued', null, null));
        break;
      case 'QueueLeft':
        addQueue(fact.queueId);
        step(
          message(
            queueKey(fact.queueId),
            SWITCHBOARD,
            `left: ${fact.reason}`,
            fact.overflowTarget ? `overflow to ${fact.overflowTarget}` : null,
            null,
          ),
        );
        break;
      case 'AllocationOffered':
        // The allocation leg's INVITE already shows the offer.
        addQueue(fact.queueId);
        break;
      case 'AllocationRejected':
      case 'AllocationConnected': {
        const leg = created(fact.callLegId);
        const ordinal = leg ? allocationOrdinal(state, leg) : '?';
        if (fact.type === 'AllocationRejected') rejections.set(fact.callLegId, fact.reason);
        const [label, detail] =
          fact.type === 'AllocationRejected' ? ['rejected', fact.reason] : ['answered', null];
        step(note(queueKey(fact.queueId), `offer #${ordinal} ${label}`, detail, fact.callLegId));
        break;
      }
      case 'CallEnded':
        step(note(SWITCHBOARD, `call ended: ${fact.reason}`, fact.cause ?? null, null));
        break;
      case 'RecordingStarted':
        step(note(SWITCHBOARD, 'recording started', fact.recordingId, fact.bLegId));
        break;
      case 'RecordingContinued':
        step(note(SWITCHBOARD, 'recording continues', fact.recordingId, fact.bLegId));
        break;
      case 'QueueAnswered':
        addQueue(fact.queueId);
        step(note(queueKey(fact.queueId), 'queue answered the caller', 'queue audio', fact.callLegId));
        break;
      case 'AudioPlayed': {
        const leg = created(fact.callLegId);
        const to = leg ? participantKeyOf(leg) : CALLER;
        step(message(SWITCHBOARD, to, `\u266a ${AUDIO_LABEL[fact.audio]}`, 'media engine', fact.callLegId));
        break;
      }
      case 'MediaBridged': {
        const leg = created(fact.callLegId);
        step(
          message(
            SWITCHBOARD,
            leg ? participantKeyOf(leg) : CALLER,
            're-INVITE: media to agent',
            'caller and agent bridged in the media engine',
            fact.callLegId,
          ),
        );
        break;
      }
      case 'TransferRequested':
      case 'TransferCompleted':
      case 'TransferFailed': {
        // The transferor's REFER, and how it ended (NOTIFYs back to the transferor).
        const leg = created(fact.callLegId);
        const transferor = leg ? participantKeyOf(leg) : SWITCHBOARD;
        if (fact.type === 'TransferRequested') {
          step(message(transferor, SWITCHBOARD, `REFER \u2192 ${fact.target}`, null, fact.callLegId));
        } else if (fact.type === 'TransferCompleted') {
          const transfer = (state.transfers ?? []).findLast(
            (candidate) => candidate.callLegId === fact.callLegId && candidate.completedMs !== null,
          );
          step(
            message(SWITCHBOARD, transferor, 'transfer completed', transfer?.target ?? null, fact.callLegId),
          );
        } else {
          step(
            message(
              SWITCHBOARD,
              transferor,
              `transfer failed: ${fact.sipStatus} ${fact.reason}`,
              null,
              fact.callLegId,
            ),
          );
        }
        break;
      }
      case 'HoldChanged': {
        const leg = created(fact.callLegId);
        if (!leg) break;
        step(
          message(
            participantKeyOf(leg),
            SWITCHBOARD,
            fact.onHold ? 're-INVITE: hold' : 're-INVITE: resume',
            fact.onHold ? 'the other party hears music on hold' : null,
            fact.callLegId,
          ),
        );
        break;
      }
    }
  }
  const { started, ended } = state;
  return {
    callId,
    callKind: started?.callKind ?? 'direct',
    aNum: started?.aNum ?? '',
    bNum: started?.bNum ?? '',
    callerUserId: started?.callerUserId ?? null,
    queueIds,
    startedAtMs: started?.startedMs ?? first.timeMs,
    endedAtMs: ended?.endedMs ?? null,
    endReason: ended?.reason ?? null,
    endCause: ended?.cause ?? null,
    legs: state.legs.flatMap((leg) => {
      const view = legView(state, leg, rejections);
      return view ? [view] : [];
    }),
    records: recordEntries(callId, records),
    recordings: (state.recordings ?? []).map((recording) => ({
      recordingId: recording.recordingId,
      ownerKind: recording.ownerKind,
      ownerId: recording.ownerId,
      aLegId: recording.aLegId,
      bLegId: recording.bLegId,
      startedAtMs: recording.startedMs,
    })),
    participants: [...participants.values()],
    timeline,
  };
}

type Arrow = Omit<TimelineStep, 'seq' | 'timeMs' | 'factType'>;

function message(
  from: string,
  to: string,
  label: string,
  detail: string | null,
  callLegId: string | null,
): Arrow {
  return { kind: 'message', from, to, label, detail, callLegId };
}

function note(at: string, label: string, detail: string | null, callLegId: string | null): Arrow {
  return { kind: 'note', from: at, to: at, label, detail, callLegId };
}

/** The cause as diagnostics shows it: a refusal by the reason phrase the device sent. */
function causeText(cause: LegEndCause, sipReason: string | null | undefined): string {
  return cause === 'Refused' ? (sipReason ?? cause) : cause;
}

/** 1 for the call's first allocation leg, 2 for the second, … (across members). */
function allocationOrdinal(state: FoldedCall, leg: LegState): number {
  return state.legs.filter((other) => other.role === 'allocation' && other.sip !== null).indexOf(leg) + 1;
}

/** The map of one leg call control created; undefined for legs only other facts mention. */
function legView(
  state: FoldedCall,
  leg: LegState,
  rejections: ReadonlyMap<string, AllocationRejectReason>,
): LegMap | undefined {
  if (leg.sip === null || leg.target === null) return undefined;
  // Only a LegEnded ends a leg here: the call's end does not say when (or whether) each leg went.
  const endedAtMs = leg.endCause !== null ? leg.endedMs : null;
  const view: LegMap = {
    callLegId: leg.callLegId,
    role: leg.role,
    direction: leg.direction,
    userId: leg.userId,
    queueId: leg.queueId,
    target: leg.target,
    sipCallId: leg.sip.sipCallId,
    localTag: leg.sip.localTag,
    remoteTag: leg.sip.remoteTag ?? null,
    sessionId: null,
    createdAtMs: leg.createdMs,
    ringingAtMs: leg.ringingMs,
    answeredAtMs: leg.answeredMs,
    endedAtMs,
    endSipStatus: leg.endSipStatus,
    endCause: leg.endCause !== null ? causeText(leg.endCause, leg.endSipReason) : null,
    allocation: null,
  };
  view.sessionId = sessionIdOf(view);
  if (leg.role === 'allocation') {
    // Journaled outcomes first; an offer that ended without one was answered (too late) or
    // withdrawn, and shows the cause its leg ended with. An offer still ringing is Pending.
    const rejectReason = rejections.get(leg.callLegId);
    let outcome: AllocationOutcome = {
      offeredAtMs: leg.createdMs,
      outcome: 'Pending',
      rejectReason: null,
      ordinal: 0,
    };
    if (leg.connectedMs !== null) outcome = { ...outcome, outcome: 'Connected' };
    else if (rejectReason !== undefined) outcome = { ...outcome, outcome: 'Rejected', rejectReason };
    else if (endedAtMs !== null && leg.answeredMs !== null) outcome = { ...outcome, outcome: 'Connected' };
    else if (endedAtMs !== null) outcome = { ...outcome, outcome: 'Rejected', rejectReason: view.endCause };
    view.allocation = { ...outcome, ordinal: allocationOrdinal(state, leg) };
  }
  return view;
}

/** Client callId = INVITE Call-ID + From tag; the From tag is the caller's on its own leg, ours on the legs we place. */
function sessionIdOf(leg: LegMap): string | null {
  const fromTag = leg.role === 'caller' ? leg.remoteTag : leg.localTag;
  return fromTag ? `${leg.sipCallId}${fromTag}` : null;
}

function legEndedArrow(
  leg: LegState,
  sipStatus: number,
  cause: LegEndCause,
  sipReason: string | undefined,
): Omit<Arrow, 'callLegId'> {
  const text = causeText(cause, sipReason);
  const party = participantKeyOf(leg);
  const fromParty = { kind: 'message' as const, from: party, to: SWITCHBOARD };
  const toParty = { kind: 'message' as const, from: SWITCHBOARD, to: party };
  if (leg.answeredMs !== null) {
    const hungUpHere =
      (leg.role === 'caller' && cause === 'CallerHangup') ||
      (leg.role !== 'caller' && cause === 'CalleeHangup');
    return hungUpHere
      ? { ...fromParty, label: 'BYE', detail: null }
      : { ...toParty, label: 'BYE', detail: text };
  }
  if (leg.role === 'caller') {
    if (cause === 'CallerCancelled') return { ...fromParty, label: 'CANCEL', detail: null };
    return { ...toParty, label: statusText(sipStatus), detail: text };
  }
  // A placed leg that never answered: either the device refused it, or we withdrew it (CANCEL → 487).
  if (sipStatus === 487 || sipStatus === 200) return { ...toParty, label: 'CANCEL', detail: text };
  if (sipStatus === 408 && cause === 'Timeout') return { ...toParty, label: 'no answer', detail: text };
  const label = statusText(sipStatus);
  // A reason phrase that only repeats the status's (603 Decline / 'Decline') says nothing more.
  return { ...fromParty, label, detail: label.endsWith(` ${text}`) ? null : text };
}

/** The ids a record entry names; absent ones are null. */
type EntryIds = Partial<Pick<RecordEntry, 'callLegId' | 'userId' | 'queueId' | 'callbackListId'>>;

/** One kind of record of the call: each with the endpoint that serves it and the grant that shows it. */
function entriesOf<R extends { eventId: string }>(
  kind: RecordEntry['kind'],
  rows: readonly R[],
  endpoint: string,
  describe: (record: R) => {
    permission: RecordEntry['permission'];
    ids: EntryIds;
    wire: RecordEntry['record'];
  },
): RecordEntry[] {
  return rows.map((record) => {
    const { permission, ids, wire } = describe(record);
    return {
      kind,
      eventId: record.eventId,
      endpoint,
      permission,
      callLegId: ids.callLegId ?? null,
      userId: ids.userId ?? null,
      queueId: ids.queueId ?? null,
      callbackListId: ids.callbackListId ?? null,
      record: wire,
    };
  });
}

function recordEntries(callId: string, records: CallRecords): RecordEntry[] {
  const { userCallEvents, serviceCalls, serviceCallDetails, outboundServiceCalls, outboundCallbackCalls } =
    records;
  /** The REST list endpoint of one kind, narrowed to this call. */
  const list = (path: string) => `GET /${path}?CallId=${callId}`;
  return [
    ...entriesOf('UserCallEvent', userCallEvents, list('calls'), (event) => ({
      permission: {
        kind: event.callType === 'DirectCall' ? 'DirectCalls' : 'AgentCalls',
        entityId: event.userId,
      },
      ids: { ...event, callLegId: event.callLegId || null },
      wire: toWireUserCallEvent(event),
    })),
    ...entriesOf('ServiceCall', serviceCalls, list('servicecall'), (header) => ({
      permission: { kind: 'ServiceCalls', entityId: header.queueId },
      ids: { userId: header.answeredByUserId, queueId: header.queueId },
      wire: toWireServiceCall(header),
    })),
    // Details, outbound and callback calls name their leg, user, queue (and list) themselves.
    ...entriesOf('ServiceCallDetail', serviceCallDetails, `GET /servicecall/${callId}/details`, (detail) => ({
      permission: { kind: 'ServiceCalls', entityId: detail.queueId },
      ids: detail,
      wire: toWireServiceCallDetail(detail),
    })),
    ...entriesOf('OutboundServiceCall', outboundServiceCalls, list('outbound-servicecall'), (call) => ({
      permission: { kind: 'ServiceCalls', entityId: call.queueId },
      ids: call,
      wire: toWireOutboundServiceCall(call),
    })),
    ...entriesOf('OutboundCallbackCall', outboundCallbackCalls, list('outbound-callbackcall'), (call) => ({
      permission: { kind: 'CallbackList', entityId: call.callbackListId },
      ids: call,
      wire: toWireOutboundCallbackCall(call),
    })),
  ];
}

// ---- visibility ---------------------------------------------------------------------------------------

/** Whether `viewer` holds '*' for every kind of grant (the admin role, or equivalent grants). */
export function seesEverything(viewer: User): boolean {
  const probe = '\0no-such-entity';
  return (['DirectCalls', 'AgentCalls', 'ServiceCalls', 'CallbackList'] as const).every((kind) =>
    canSee(viewer, kind, probe),
  );
}

/**
 * The part of the map `viewer` may see (DESIGN.md §4), or undefined when they may see nothing of
 * the call. A user leg is visible with the grant that shows its user's records (DirectCalls for
 * callers and callees, AgentCalls — or ServiceCalls of the queue — for allocations); a record with
 * its own permission; legs without a user (trunks, external callers) and the call's frame with
 * anything else of the call.
 */
export function restrictCallMap(map: CallMap, viewer: User): { map: CallMap; complete: boolean } | undefined {
  if (seesEverything(viewer)) return { map, complete: true };
  const userLegVisible = (leg: LegMap): boolean | undefined => {
    if (!leg.userId) return undefined;
    if (leg.role === 'allocation') {
      return (
        canSee(viewer, 'AgentCalls', leg.userId) ||
        (leg.queueId !== null && canSee(viewer, 'ServiceCalls', leg.queueId))
      );
    }
    return canSee(viewer, 'DirectCalls', leg.userId);
  };
  const records = map.records.filter((entry) =>
    canSee(viewer, entry.permission.kind, entry.permission.entityId),
  );
  const queueIds = map.queueIds.filter((queueId) => canSee(viewer, 'ServiceCalls', queueId));
  const userLegs = map.legs.filter((leg) => userLegVisible(leg) === true);
  if (userLegs.length === 0 && records.length === 0 && queueIds.length === 0) return undefined;
  const legs = map.legs.filter((leg) => userLegVisible(leg) !== false);
  const visibleLegIds = new Set(legs.map((leg) => leg.callLegId));
  const callerVisible = map.legs.some((leg) => leg.role === 'caller' && visibleLegIds.has(leg.callLegId));

  const timeline = map.timeline.filter((step) => {
    if (step.callLegId !== null) return visibleLegIds.has(step.callLegId);
    if (step.factType === 'QueueEntered' || step.factType === 'QueueLeft') {
      return queueIds.some((queueId) => step.from === queueKey(queueId) || step.to === queueKey(queueId));
    }
    return true; // CallStarted, CallEnded: the frame of a call the viewer sees something of
  });
  const referenced = new Set<string>([CALLER, SWITCHBOARD]);
  for (const step of timeline) referenced.add(step.from).add(step.to);
  for (const queueId of queueIds) referenced.add(queueKey(queueId));
  const participants = map.participants
    .filter((participant) => referenced.has(participant.key))
    .map((participant) =>
      participant.kind === 'caller' && !callerVisible ? { ...participant, userId: null } : participant,
    );
  const visibleQueueIds = map.queueIds.filter((queueId) => referenced.has(queueKey(queueId)));
  // A recording is shown to whoever may fetch it (src/api/routes/recordings.ts maySeeRecording):
  // its owner's grant, a party, or the grant that shows a party's own event.
  const partyOf = (callLegId: string) => map.legs.find((leg) => leg.callLegId === callLegId)?.userId;
  const recordings = map.recordings.filter((recording) => {
    if (canSee(viewer, recording.ownerKind === 'queue' ? 'ServiceCalls' : 'DirectCalls', recording.ownerId))
      return true;
    return [partyOf(recording.aLegId), partyOf(recording.bLegId)].some(
      (userId) =>
        userId != null &&
        (userId === viewer.userId ||
          canSee(viewer, 'DirectCalls', userId) ||
          (recording.ownerKind === 'queue' && canSee(viewer, 'AgentCalls', userId))),
    );
  });
  const restricted: CallMap = {
    ...map,
    callerUserId: callerVisible ? map.callerUserId : null,
    queueIds: visibleQueueIds,
    legs,
    records,
    recordings,
    participants,
    timeline,
  };
  const complete =
    legs.length === map.legs.length &&
    records.length === map.records.length &&
    recordings.length === map.recordings.length &&
    timeline.length === map.timeline.length &&
    visibleQueueIds.length === map.queueIds.length;
  return { map: restricted, complete };
}

// ---- wire format ------------------------------------------------------------------------------------

const CALL_KIND_TEXT = {
  direct: 'DirectCall',
  'inbound-service': 'InboundServiceCall',
  'outbound-service': 'OutboundServiceCall',
  'outbound-callback': 'OutboundCallbackCall',
} as const;

const ROLE_TEXT = {
  caller: 'Caller',
  callee: 'Callee',
  allocation: 'Allocation',
  trunk: 'Trunk',
  transfer: 'Transfer',
} as const;

export function userRef(directory: Directory, userId: string | null): WireUserRef | null {
  if (!userId) return null;
  const user = directory.userById(userId);
  if (!user) return { UserId: userId, UserName: userId, DisplayName: null, Extension: '' };
  return {
    UserId: user.userId,
    UserName: user.username,
    DisplayName: user.displayName ?? null,
    Extension: user.extension,
  };
}

function queueName(directory: Directory, queueId: string): string {
  return directory.queueById(queueId)?.name ?? queueId;
}

export function entityName(directory: Directory, kind: GrantKind, entityId: string): string {
  switch (kind) {
    case 'DirectCalls':
    case 'AgentCalls':
      return directory.userById(entityId)?.username ?? entityId;
    case 'ServiceCalls':
      return queueName(directory, entityId);
    case 'CallbackList':
      return directory.callbackListById(entityId)?.name ?? entityId;
  }
}

function participantLabel(directory: Directory, map: CallMap, participant: Participant): string {
  const named = (userId: string) => {
    const user = directory.userById(userId);
    return user ? `${user.displayName ?? user.username} (${user.extension})` : userId;
  };
  switch (participant.kind) {
    case 'switchboard':
      return 'Switchboard';
    case 'caller':
      return participant.userId ? named(participant.userId) : `Caller ${map.aNum}`;
    case 'queue': {
      const queue = participant.queueId ? directory.queueById(participant.queueId) : undefined;
      return queue ? `Queue ${queue.name}${queue.extension ? ` (${queue.extension})` : ''}` : 'Queue';
    }
    case 'user':
      return participant.userId ? named(participant.userId) : 'Device';
    case 'trunk': {
      const leg = map.legs.find((candidate) => `trunk:${candidate.callLegId}` === participant.key);
      return leg ? `Trunk ${leg.target}` : 'Trunk';
    }
  }
}

export function toWireCallMap(map: CallMap, directory: Directory, complete: boolean): WireCallMap {
  const legs: WireLeg[] = map.legs.map((leg) => ({
    CallLegId: leg.callLegId,
    Role: ROLE_TEXT[leg.role],
    Direction: leg.direction === 'inbound' ? 'Inbound' : 'Outbound',
    User: userRef(directory, leg.userId),
    QueueId: leg.queueId,
    QueueName: leg.queueId ? queueName(directory, leg.queueId) : null,
    Target: leg.target,
    Sip: { CallId: leg.sipCallId, LocalTag: leg.localTag, RemoteTag: leg.remoteTag },
    ClientCallId: leg.sessionId,
    CreatedTime: formatApiTime(leg.createdAtMs),
    RingingTime: formatApiTimeOrNull(leg.ringingAtMs),
    AnswerTime: formatApiTimeOrNull(leg.answeredAtMs),
    EndTime: formatApiTimeOrNull(leg.endedAtMs),
    EndSipStatus: leg.endSipStatus,
    EndCause: leg.endCause,
    Allocation: leg.allocation
      ? {
          Ordinal: leg.allocation.ordinal,
          OfferedTime: formatApiTime(leg.allocation.offeredAtMs),
          Outcome: leg.allocation.outcome,
          RejectReason: leg.allocation.rejectReason,
        }
      : null,
  }));
  const records: WireRecord[] = map.records.map((entry) => {
    const name = entityName(directory, entry.permission.kind, entry.permission.entityId);
    return {
      Kind: entry.kind,
      Id: entry.eventId,
      Endpoint: entry.endpoint,
      Permission: {
        Kind: entry.permission.kind,
        EntityId: entry.permission.entityId,
        EntityName: name,
        Text: `${entry.permission.kind} of ${name}`,
      },
      CallLegId: entry.callLegId,
      UserId: entry.userId,
      QueueId: entry.queueId,
      CallbackListId: entry.callbackListId,
      Record: entry.record,
    };
  });
  const participants: WireParticipant[] = map.participants.map((participant) => ({
    Key: participant.key,
    Kind: participant.kind,
    Label: participantLabel(directory, map, participant),
    UserId: participant.userId,
    QueueId: participant.queueId,
  }));
  return {
    CallId: map.callId,
    CallKind: CALL_KIND_TEXT[map.callKind],
    ANum: map.aNum,
    BNum: map.bNum,
    Caller: userRef(directory, map.callerUserId),
    Queues: map.queueIds.map((queueId) => ({ QueueId: queueId, QueueName: queueName(directory, queueId) })),
    StartTime: formatApiTime(map.startedAtMs),
    EndTime: formatApiTimeOrNull(map.endedAtMs),
    EndReason: map.endReason,
    EndCause: map.endCause,
    Complete: complete,
    Legs: legs,
    Records: records,
    Recordings: map.recordings.map((recording) => ({
      RecordingId: recording.recordingId,
      Owner: {
        Kind: recording.ownerKind === 'queue' ? 'Queue' : 'User',
        Id: recording.ownerId,
        Name:
          recording.ownerKind === 'queue'
            ? queueName(directory, recording.ownerId)
            : (userRef(directory, recording.ownerId)?.UserName ?? recording.ownerId),
      },
      ALegId: recording.aLegId,
      BLegId: recording.bLegId,
      StartTime: formatApiTime(recording.startedAtMs),
      Endpoint: `calls/recordings/${recording.recordingId}`,
    })),
    Participants: participants,
    Timeline: map.timeline.map((step) => ({
      Seq: step.seq,
      Time: formatApiTime(step.timeMs),
      OffsetMs: step.timeMs - map.startedAtMs,
      Fact: step.factType,
      Kind: step.kind,
      From: step.from,
      To: step.to,
      Label: step.label,
      Detail: step.detail,
      CallLegId: step.callLegId,
    })),
  };
}
