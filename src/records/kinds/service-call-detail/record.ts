import { z } from 'zod';
import { epochMsSchema } from '../shared.js';

/** EventType codes of service call details. 2 and 1xx/2xx codes above 100 follow EnreachVoice; see docs. */
export const ServiceCallEventType = {
  CallArrival: 1,
  CallDisconnect: 2,
  QueueReject: 101,
  QueueScheduleClosed: 102,
  QueueOverflow: 103,
  UserAllocation: 201,
  UserConnect: 202,
  UserReject: 203,
  UserTransfer: 204,
  UserPark: 205,
} as const;
export type ServiceCallEventTypeName = keyof typeof ServiceCallEventType;
/** The EventType names, in code order. */
export const SERVICE_CALL_EVENT_TYPE_NAMES = Object.keys(ServiceCallEventType) as [
  ServiceCallEventTypeName,
  ...ServiceCallEventTypeName[],
];

/** One event of a service call (arrival, an allocation, a reject, …); details are never rewritten. */
export const serviceCallDetailSchema = z.object({
  eventId: z.string(),
  callId: z.string(),
  callLegId: z.string().nullable(),
  queueId: z.string(),
  queueName: z.string(),
  userId: z.string().nullable(),
  userName: z.string().nullable(),
  eventType: z.enum(SERVICE_CALL_EVENT_TYPE_NAMES),
  reason: z.string().nullable(),
  timestampMs: epochMsSchema,
  modifiedMs: epochMsSchema,
  /** Journal sequence of the fact that produced it: orders details deterministically. */
  seq: z.number(),
});
export type ServiceCallDetail = z.infer<typeof serviceCallDetailSchema>;

/** A detail as written: `subSeq` orders the details that one journal fact produced. */
export const serviceCallDetailWriteSchema = serviceCallDetailSchema.extend({ subSeq: z.number() });
export type ServiceCallDetailWrite = z.infer<typeof serviceCallDetailWriteSchema>;
