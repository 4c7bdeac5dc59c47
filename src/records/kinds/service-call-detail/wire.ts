import type { Wire } from '../../../api/schemas.js';
import { formatApiTime } from '../../../api/time.js';
import { type ServiceCallDetail, ServiceCallEventType } from './record.js';

/** The EnreachAPI `ServiceCallDetail` (field order is part of the contract). */
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
