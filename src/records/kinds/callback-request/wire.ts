import { z } from 'zod';
import type { Directory } from '../../../config/types.js';
import type { OutboundCallbackCall } from '../outbound-callback-call/record.js';
import {
  outboundCallbackCallWireSchema,
  toWireOutboundCallbackCall,
} from '../outbound-callback-call/wire.js';
import { wireId, wireTime, wireTimeOrNull } from '../shared-wire.js';
import { formatApiTime, formatApiTimeOrNull } from '../wire-time.js';
import { type CallbackRequest, callbackRequestOriginSchema, callbackRequestStatusSchema } from './record.js';

/** The EnreachAPI `CallbackRequest` (the OpenAPI component of that name), with its attempts. */
export const callbackRequestWireSchema = z.object({
  Id: wireId(
    'The callback request id (for a missed call: derived from its CallId, so replays find it again).',
  ),
  CallbackListId: wireId('The callback list (its CallbackList permission shows the request).'),
  CallbackListName: z.string(),
  QueueId: z
    .string()
    .nullable()
    .meta({ description: 'The queue that missed the call, or the one named on creation.' }),
  QueueName: z.string().nullable(),
  Number: z.string().meta({ description: 'The number to call back.' }),
  CallId: z
    .string()
    .nullable()
    .meta({ description: 'CallId of the missed call, for requests made from one.' }),
  Origin: callbackRequestOriginSchema.meta({
    description: 'A missed queue call, or created through this API.',
  }),
  Status: callbackRequestStatusSchema.meta({
    description:
      'Open, or how it was closed. Only Open requests get callback calls and can be closed; ClosedBusy, ' +
      'ClosedNoAnswer and Cancelled can be re-opened; ClosedSuccessfully and ClosedInvalidNumber cannot.',
  }),
  Note: z.string().nullable(),
  CreatedTime: wireTime('When the request was made (for a missed call: when the call ended).'),
  CreatedByUserId: z
    .string()
    .nullable()
    .meta({ description: 'Who created it through the API; null for missed calls.' }),
  ClosedTime: wireTimeOrNull('When it was closed; null while open.'),
  ClosedByUserId: z.string().nullable(),
  Modified: wireTime('When the request or one of its attempts was last written.'),
  Attempts: z.array(outboundCallbackCallWireSchema).meta({
    description:
      'The callback calls made for it, oldest first: each appears when the call is placed (Result null) ' +
      'and is updated with its outcome. These are the same records as GET /outbound-callbackcall.',
  }),
});
export type CallbackRequestWire = z.input<typeof callbackRequestWireSchema>;

/** A callback request with its attempts (its callback call records, oldest first). */
export function toWireCallbackRequest(
  request: CallbackRequest,
  attempts: readonly OutboundCallbackCall[],
  directory: Directory,
): CallbackRequestWire {
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
