/**
 * A call's identifier map: every leg and allocation with its SIP identifiers and the client
 * `callId` its device saw, every record post-processing produced (with the endpoint that serves it
 * and the permission that shows it), and the sequence of who was offered the call when.
 *
 * Built from the journal (the single source of truth for legs and SIP ids) and the record store,
 * by pure functions: `buildCallMap` (everything), `restrictCallMap` (what one user may see) and
 * `toWireCallMap` (the PascalCase wire format).
 */

import {
  toWireOutboundCallbackCall,
  toWireOutboundServiceCall,
  toWireServiceCall,
  toWireServiceCallDetail,
  toWireUserCallEvent,
} from '../api/serialize.js';
import { formatApiTime, formatApiTimeOrNull } from '../api/time.js';
import type { JournalEntry } from '../calls/journal/types.js';
import { canSee } from '../config/permissions.js';
import type { Directory, GrantKind, User } from '../config/types.js';
import type {
  OutboundCallbackCall,
  OutboundServiceCall,
  ServiceCall,
  ServiceCallDetail,
  UserCallEvent,
} from '../records/types.js';
import type {
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
  userCallEvents: readonly UserCallEvent[];
  serviceCalls: readonly ServiceCall[];
  serviceCallDetails: readonly ServiceCallDetail[];
  outboundServiceCalls: readonly OutboundServiceCall[];
  outboundCallbackCalls: readonly OutboundCallbackCall[];
}

export const SWITCHBOARD = 'switchboard';
export const CALLER = 'caller';

function participantKeyOf(leg: LegMap): string {
  if (leg.role === 'caller') return CALLER;
  if (leg.role === 'trunk') return `trunk:${leg.callLegId}`;
  return leg.userId ? `user:${leg.userId}` : `leg:${leg.callLegId}`;
}

const queueKey = (queueId: string): string => `queue:${queueId}`;

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
  const map: CallMap = {
    callId: first.fact.callId,
    callKind: 'direct',
    aNum: '',
    bNum: '',
    callerUserId: null,
    queueIds: [],
    startedAtMs: first.timeMs,
    endedAtMs: null,
    endReason: null,
    endCause: null,
    legs: [],
    records: recordEntries(first.fact.callId, records),
    participants: [],
    timeline: [],
  };
  const legs = new Map<string, LegMap>();
  const participants = new Map<string, Participant>();
  const addParticipant = (participant: Participant) => {
    if (!participants.has(participant.key)) participants.set(participant.key, participant);
  };
  addParticipant({ key: CALLER, kind: 'caller', userId: null, queueId: null });
  addParticipant({ key: SWITCHBOARD, kind: 'switchboard', userId: null, queueId: null });
  const addQueue = (queueId: string) => {
    if (!map.queueIds.includes(queueId)) map.queueIds.push(queueId);
    addParticipant({ key: queueKey(queueId), kind: 'queue', userId: null, queueId });
  };
  let allocations = 0;

  for (const entry of entries) {
    const { fact, seq, timeMs } = entry;
    const step = (s: Omit<TimelineStep, 'seq' | 'timeMs' | 'factType'>) =>
      map.timeline.push({ seq, timeMs, factType: fact.type, ...s });
    switch (fact.type) {
      case 'CallStarted': {
        map.callKind = fact.callKind;
        map.aNum = fact.aNum;
        map.bNum = fact.bNum;
        map.callerUserId = fact.callerUserId ?? null;
        map.startedAtMs = timeMs;
        const caller = participants.get(CALLER)!;
        caller.userId = fact.callerUserId ?? null;
        if (fact.queueId) addQueue(fact.queueId);
        step({
          kind: 'message',
          from: CALLER,
          to: SWITCHBOARD,
          label: `INVITE ${fact.bNum}`,
          detail: null,
          callLegId: null,
        });
        break;
      }
      case 'LegCreated': {
        const leg: LegMap = {
          callLegId: fact.callLegId,
          role: fact.role,
          direction: fact.direction,
          userId: fact.userId ?? null,
          queueId: fact.queueId ?? null,
          target: fact.target,
          sipCallId: fact.sip.sipCallId,
          localTag: fact.sip.localTag,
          remoteTag: fact.sip.remoteTag ?? null,
          sessionId: null,
          createdAtMs: timeMs,
          ringingAtMs: null,
          answeredAtMs: null,
          endedAtMs: null,
          endSipStatus: null,
          endCause: null,
          allocation: null,
        };
        leg.sessionId = sessionIdOf(leg);
        if (fact.role === 'allocation') {
          allocations += 1;
          leg.allocation = {
            offeredAtMs: timeMs,
            outcome: 'Pending',
            rejectReason: null,
            ordinal: allocations,
          };
        }
        legs.set(leg.callLegId, leg);
        map.legs.push(leg);
        if (fact.role === 'caller') {
          // The caller's INVITE is the CallStarted arrow; this only fills in the leg.
          if (fact.userId) participants.get(CALLER)!.userId = fact.userId;
          break;
        }
        if (leg.queueId) addQueue(leg.queueId);
        const key = participantKeyOf(leg);
        addParticipant({
          key,
          kind: fact.role === 'trunk' ? 'trunk' : 'user',
          userId: leg.userId,
          queueId: null,
        });
        const detail = leg.allocation
          ? `offer #${leg.allocation.ordinal}${leg.queueId ? ' from the queue' : ''}`
          : fact.role === 'trunk'
            ? `to ${fact.target}`
            : null;
        step({
          kind: 'message',
          from: SWITCHBOARD,
          to: key,
          label: 'INVITE',
          detail,
          callLegId: leg.callLegId,
        });
        break;
      }
      case 'LegRinging': {
        const leg = legs.get(fact.callLegId);
        if (!leg) break;
        leg.ringingAtMs ??= timeMs;
        const key = participantKeyOf(leg);
        if (leg.role === 'caller') {
          step({
            kind: 'message',
            from: SWITCHBOARD,
            to: key,
            label: statusText(fact.sipStatus),
            detail: null,
            callLegId: leg.callLegId,
          });
        } else {
          step({
            kind: 'message',
            from: key,
            to: SWITCHBOARD,
            label: statusText(fact.sipStatus),
            detail: null,
            callLegId: leg.callLegId,
          });
        }
        break;
      }
      case 'LegAnswered': {
        const leg = legs.get(fact.callLegId);
        if (!leg) break;
        leg.answeredAtMs ??= timeMs;
        if (fact.sip.remoteTag) leg.remoteTag = fact.sip.remoteTag;
        leg.sessionId = sessionIdOf(leg);
        const key = participantKeyOf(leg);
        const [from, to] = leg.role === 'caller' ? [SWITCHBOARD, key] : [key, SWITCHBOARD];
        step({ kind: 'message', from, to, label: '200 OK', detail: null, callLegId: leg.callLegId });
        break;
      }
      case 'LegEnded': {
        const leg = legs.get(fact.callLegId);
        if (!leg) break;
        leg.endedAtMs = timeMs;
        leg.endSipStatus = fact.sipStatus;
        leg.endCause = fact.cause;
        step({ ...legEndedArrow(leg, fact.sipStatus, fact.cause), callLegId: leg.callLegId });
        break;
      }
      case 'QueueEntered':
        addQueue(fact.queueId);
        step({
          kind: 'message',
          from: SWITCHBOARD,
          to: queueKey(fact.queueId),
          label: 'queued',
          detail: null,
          callLegId: null,
        });
        break;
      case 'QueueLeft':
        addQueue(fact.queueId);
        step({
          kind: 'message',
          from: queueKey(fact.queueId),
          to: SWITCHBOARD,
          label: `left: ${fact.reason}`,
          detail: fact.overflowTarget ? `overflow to ${fact.overflowTarget}` : null,
          callLegId: null,
        });
        break;
      case 'AllocationOffered':
        // The allocation leg's INVITE already shows the offer.
        addQueue(fact.queueId);
        break;
      case 'AllocationRejected': {
        const leg = legs.get(fact.callLegId);
        if (leg?.allocation) {
          leg.allocation.outcome = 'Rejected';
          leg.allocation.rejectReason = fact.reason;
        }
        step({
          kind: 'note',
          from: queueKey(fact.queueId),
          to: queueKey(fact.queueId),
          label: `offer #${leg?.allocation?.ordinal ?? '?'} rejected`,
          detail: fact.reason,
          callLegId: fact.callLegId,
        });
        break;
      }
      case 'AllocationConnected': {
        const leg = legs.get(fact.callLegId);
        if (leg?.allocation) leg.allocation.outcome = 'Connected';
        step({
          kind: 'note',
          from: queueKey(fact.queueId),
          to: queueKey(fact.queueId),
          label: `offer #${leg?.allocation?.ordinal ?? '?'} answered`,
          detail: null,
          callLegId: fact.callLegId,
        });
        break;
      }
      case 'CallEnded':
        map.endedAtMs = fact.endedAtMs ?? timeMs;
        map.endReason = fact.reason;
        map.endCause = fact.cause ?? null;
        step({
          kind: 'note',
          from: SWITCHBOARD,
          to: SWITCHBOARD,
          label: `call ended: ${fact.reason}`,
          detail: fact.cause ?? null,
          callLegId: null,
        });
        break;
    }
  }
  // An allocation that ended without a rejection fact (e.g. the call ended meanwhile) is not pending.
  for (const leg of map.legs) {
    if (leg.allocation?.outcome === 'Pending' && leg.endedAtMs !== null) {
      leg.allocation.outcome = leg.answeredAtMs !== null ? 'Connected' : 'Rejected';
      leg.allocation.rejectReason ??= leg.answeredAtMs !== null ? null : leg.endCause;
    }
  }
  map.participants = [...participants.values()];
  return map;
}

/** Client callId = INVITE Call-ID + From tag; the From tag is the caller's on its own leg, ours on the legs we place. */
function sessionIdOf(leg: LegMap): string | null {
  const fromTag = leg.role === 'caller' ? leg.remoteTag : leg.localTag;
  return fromTag ? `${leg.sipCallId}${fromTag}` : null;
}

function legEndedArrow(
  leg: LegMap,
  sipStatus: number,
  cause: string,
): Pick<TimelineStep, 'kind' | 'from' | 'to' | 'label' | 'detail'> {
  const party = participantKeyOf(leg);
  const fromParty = { kind: 'message' as const, from: party, to: SWITCHBOARD };
  const toParty = { kind: 'message' as const, from: SWITCHBOARD, to: party };
  if (leg.answeredAtMs !== null) {
    const hungUpHere =
      (leg.role === 'caller' && cause === 'CallerHangup') ||
      (leg.role !== 'caller' && cause === 'CalleeHangup');
    return hungUpHere
      ? { ...fromParty, label: 'BYE', detail: null }
      : { ...toParty, label: 'BYE', detail: cause };
  }
  if (leg.role === 'caller') {
    if (cause === 'CallerCancelled') return { ...fromParty, label: 'CANCEL', detail: null };
    return { ...toParty, label: statusText(sipStatus), detail: cause };
  }
  // A placed leg that never answered: either the device refused it, or we withdrew it (CANCEL → 487).
  if (sipStatus === 487 || sipStatus === 200) return { ...toParty, label: 'CANCEL', detail: cause };
  if (sipStatus === 408 && cause === 'Timeout') return { ...toParty, label: 'no answer', detail: cause };
  const label = statusText(sipStatus);
  // A cause that only repeats the reason phrase (603 Decline / 'Decline') says nothing more.
  return { ...fromParty, label, detail: label.endsWith(` ${cause}`) ? null : cause };
}

function recordEntries(callId: string, records: CallRecords): RecordEntry[] {
  const entries: RecordEntry[] = [];
  const callQuery = `CallId=${callId}`;
  for (const event of records.userCallEvents) {
    entries.push({
      kind: 'UserCallEvent',
      eventId: event.eventId,
      endpoint: `GET /calls?${callQuery}`,
      permission: {
        kind: event.callType === 'DirectCall' ? 'DirectCalls' : 'AgentCalls',
        entityId: event.userId,
      },
      callLegId: event.callLegId || null,
      userId: event.userId,
      queueId: event.queueId,
      callbackListId: null,
      record: toWireUserCallEvent(event),
    });
  }
  for (const header of records.serviceCalls) {
    entries.push({
      kind: 'ServiceCall',
      eventId: header.eventId,
      endpoint: `GET /servicecall?${callQuery}`,
      permission: { kind: 'ServiceCalls', entityId: header.queueId },
      callLegId: null,
      userId: header.answeredByUserId,
      queueId: header.queueId,
      callbackListId: null,
      record: toWireServiceCall(header),
    });
  }
  for (const detail of records.serviceCallDetails) {
    entries.push({
      kind: 'ServiceCallDetail',
      eventId: detail.eventId,
      endpoint: `GET /servicecall/${callId}/details`,
      permission: { kind: 'ServiceCalls', entityId: detail.queueId },
      callLegId: detail.callLegId,
      userId: detail.userId,
      queueId: detail.queueId,
      callbackListId: null,
      record: toWireServiceCallDetail(detail),
    });
  }
  for (const outbound of records.outboundServiceCalls) {
    entries.push({
      kind: 'OutboundServiceCall',
      eventId: outbound.eventId,
      endpoint: `GET /outbound-servicecall?${callQuery}`,
      permission: { kind: 'ServiceCalls', entityId: outbound.queueId },
      callLegId: outbound.callLegId,
      userId: outbound.userId,
      queueId: outbound.queueId,
      callbackListId: null,
      record: toWireOutboundServiceCall(outbound),
    });
  }
  for (const callback of records.outboundCallbackCalls) {
    entries.push({
      kind: 'OutboundCallbackCall',
      eventId: callback.eventId,
      endpoint: `GET /outbound-callbackcall?${callQuery}`,
      permission: { kind: 'CallbackList', entityId: callback.callbackListId },
      callLegId: callback.callLegId,
      userId: callback.userId,
      queueId: callback.queueId,
      callbackListId: callback.callbackListId,
      record: toWireOutboundCallbackCall(callback),
    });
  }
  return entries;
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
  const restricted: CallMap = {
    ...map,
    callerUserId: callerVisible ? map.callerUserId : null,
    queueIds: visibleQueueIds,
    legs,
    records,
    participants,
    timeline,
  };
  const complete =
    legs.length === map.legs.length &&
    records.length === map.records.length &&
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

const ROLE_TEXT = { caller: 'Caller', callee: 'Callee', allocation: 'Allocation', trunk: 'Trunk' } as const;

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
