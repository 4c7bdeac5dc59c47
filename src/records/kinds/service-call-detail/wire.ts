import { z } from 'zod';
import { listOf, wireId, wireTime } from '../shared-wire.js';
import { formatApiTime } from '../wire-time.js';
import { SERVICE_CALL_EVENT_TYPE_NAMES, type ServiceCallDetail, ServiceCallEventType } from './record.js';

/** The EnreachAPI `ServiceCallDetail` (the OpenAPI component of that name). */
export const serviceCallDetailWireSchema = z.object({
  Id: wireId('Id of this record.'),
  CallId: wireId('The CallId of the whole call.'),
  CallLegId: z.string().nullable().meta({ description: 'The allocation leg, for user events.' }),
  QueueId: wireId('The queue.'),
  QueueName: z.string(),
  UserId: z.string().nullable(),
  UserName: z.string().nullable(),
  EventType: z
    .number()
    .int()
    .meta({ description: `Event code: ${listOf(ServiceCallEventType)}.` }),
  EventTypeString: z.enum(SERVICE_CALL_EVENT_TYPE_NAMES),
  Reason: z.string().nullable().meta({
    description: 'For UserReject: Timeout, CallDisconnected, GenericUserRejected or OtherConnected.',
  }),
  TimeStamp: wireTime('When it happened.'),
  Modified: wireTime('When this record was last written.'),
});
export type ServiceCallDetailWire = z.input<typeof serviceCallDetailWireSchema>;

/** The EnreachAPI `ServiceCallDetail` (field order is part of the contract). */
export function toWireServiceCallDetail(detail: ServiceCallDetail): ServiceCallDetailWire {
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
