/** Records and directory entries → the EnreachAPI wire format of ./schemas.ts. */
import type { CallbackList, Directory, Queue, Tenant, User } from '../config/types.js';
import type {
  CallbackRequest,
  CallResult,
  OutboundCallbackCall,
  OutboundServiceCall,
  ServiceCall,
  ServiceCallDetail,
  UserCallEvent,
} from '../records/types.js';
import { ServiceCallEventType } from '../records/types.js';
import { CALL_TYPE_CODES, DIRECTION_CODES, END_RESULT_CODES, type Wire } from './schemas.js';
import { formatApiTime, formatApiTimeOrNull } from './time.js';

/** The public base URL with exactly one trailing '/'. */
export function apiBaseUrl(tenant: Tenant): string {
  return tenant.publicUrl.replace(/\/*$/, '/');
}

export function toDiscoveryEntry(tenant: Tenant, user: User): Wire<'DiscoveryEntry'> {
  const baseUrl = apiBaseUrl(tenant);
  return { siloName: tenant.domain, username: user.username, apiEndpoint: baseUrl, uiEndpoint: baseUrl };
}

export function toWireUser(user: User): Wire<'User'> {
  const displayName = user.displayName?.trim() || null;
  const space = displayName === null ? -1 : displayName.indexOf(' ');
  return {
    Id: user.userId,
    UserName: user.username,
    Email: user.username,
    FirstName: displayName === null ? null : space < 0 ? displayName : displayName.slice(0, space),
    LastName: displayName === null || space < 0 ? null : displayName.slice(space + 1).trim(),
    DisplayName: displayName,
    Extension: user.extension,
    Number: user.number ?? null,
    Role: user.role === 'admin' ? 'Admin' : 'Agent',
  };
}

export function toWireQueue(queue: Queue): Wire<'Queue'> {
  return {
    Id: queue.queueId,
    Name: queue.name,
    Extension: queue.extension ?? null,
    Numbers: queue.number === undefined ? [] : [queue.number],
    MemberUserIds: [...queue.memberUserIds],
    CallbackListId: queue.callbackListId ?? null,
  };
}

export function toWireCallbackList(list: CallbackList): Wire<'CallbackList'> {
  return {
    Id: list.callbackListId,
    Name: list.name,
    QueueId: list.queueId,
    MemberUserIds: [...list.memberUserIds],
  };
}

const endResult = (result: CallResult | null): number | null =>
  result === null ? null : END_RESULT_CODES[result];

export function toWireUserCallEvent(event: UserCallEvent): Wire<'UserCallEvent'> {
  const direction = DIRECTION_CODES[event.direction];
  return {
    Id: event.eventId,
    CallId: event.callId,
    CallLegId: event.callLegId,
    UserId: event.userId,
    UserName: event.userName,
    CallType: CALL_TYPE_CODES[event.callType],
    CallTypeString: event.callType,
    Direction: direction.code,
    DirectionString: direction.text,
    Result: event.result,
    EndResult: END_RESULT_CODES[event.result],
    ANum: event.aNum,
    BNum: event.bNum,
    QueueId: event.queueId,
    QueueName: event.queueName,
    TimeStamp: formatApiTime(event.timestampMs),
    AnswerTime: formatApiTimeOrNull(event.answerTimeMs),
    EndTime: formatApiTimeOrNull(event.endTimeMs),
    Duration: event.durationSeconds,
    RecordingIds: [...event.recordingIds],
    Modified: formatApiTime(event.modifiedMs),
  };
}

export function toWireServiceCall(call: ServiceCall): Wire<'ServiceCall'> {
  return {
    Id: call.eventId,
    CallId: call.callId,
    QueueId: call.queueId,
    QueueName: call.queueName,
    ANum: call.aNum,
    BNum: call.bNum,
    ArrivalTime: formatApiTime(call.arrivalTimeMs),
    AnswerTime: formatApiTimeOrNull(call.answerTimeMs),
    EndTime: formatApiTimeOrNull(call.endTimeMs),
    WaitTime: call.waitTimeSeconds,
    Duration: call.durationSeconds,
    Result: call.result,
    AnsweredByUserId: call.answeredByUserId,
    AnsweredByUserName: call.answeredByUserName,
    AllocationCount: call.allocationCount,
    RecordingIds: [...call.recordingIds],
    Modified: formatApiTime(call.modifiedMs),
  };
}

export function toWireServiceCallDetail(detail: ServiceCallDetail): Wire<'ServiceCallDetail'> {
  return {
    Id: detail.eventId,
    CallId: detail.callId,
    CallLegId: detail.callLegId,
    QueueId: detail.queueId,
    QueueName: detail.queueName,
    UserId: detail.userId,
    UserName: detail.userName,
    EventType: ServiceCallEventType[detail.eventType],
    EventTypeString: detail.eventType,
    Reason: detail.reason,
    TimeStamp: formatApiTime(detail.timestampMs),
    Modified: formatApiTime(detail.modifiedMs),
  };
}

/** The fields every outbound call record shares (service and callback calls). */
function outboundCallFields(call: OutboundServiceCall | OutboundCallbackCall) {
  return {
    UserId: call.userId,
    UserName: call.userName,
    ANum: call.aNum,
    BNum: call.bNum,
    TimeStamp: formatApiTime(call.timestampMs),
    AnswerTime: formatApiTimeOrNull(call.answerTimeMs),
    EndTime: formatApiTimeOrNull(call.endTimeMs),
    Duration: call.durationSeconds,
    Result: call.result,
    EndResult: endResult(call.result),
    RecordingIds: [...call.recordingIds],
    Modified: formatApiTime(call.modifiedMs),
  };
}

export function toWireOutboundServiceCall(call: OutboundServiceCall): Wire<'OutboundServiceCall'> {
  return {
    Id: call.eventId,
    CallId: call.callId,
    CallLegId: call.callLegId,
    QueueId: call.queueId,
    QueueName: call.queueName,
    ...outboundCallFields(call),
  };
}

export function toWireOutboundCallbackCall(call: OutboundCallbackCall): Wire<'OutboundCallbackCall'> {
  return {
    Id: call.eventId,
    CallId: call.callId,
    CallLegId: call.callLegId,
    CallbackListId: call.callbackListId,
    CallbackListName: call.callbackListName,
    CallbackRequestId: call.callbackRequestId,
    QueueId: call.queueId,
    ...outboundCallFields(call),
  };
}

/** A callback request with its attempts (its callback call records, oldest first). */
export function toWireCallbackRequest(
  request: CallbackRequest,
  attempts: readonly OutboundCallbackCall[],
  directory: Directory,
): Wire<'CallbackRequest'> {
  const modifiedMs = Math.max(request.modifiedMs, ...attempts.map((attempt) => attempt.modifiedMs));
  return {
    Id: request.callbackRequestId,
    CallbackListId: request.callbackListId,
    CallbackListName: directory.callbackListById(request.callbackListId)?.name ?? '',
    QueueId: request.queueId,
    QueueName: request.queueId === null ? null : (directory.queueById(request.queueId)?.name ?? null),
    Number: request.number,
    CallId: request.callId,
    Origin: request.origin,
    Status: request.status,
    Note: request.note,
    CreatedTime: formatApiTime(request.createdMs),
    CreatedByUserId: request.createdByUserId,
    ClosedTime: formatApiTimeOrNull(request.closedMs),
    ClosedByUserId: request.closedByUserId,
    Modified: formatApiTime(modifiedMs),
    Attempts: attempts.map(toWireOutboundCallbackCall),
  };
}
