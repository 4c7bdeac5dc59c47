import type { Wire } from '../../../api/schemas.js';
import { formatApiTime, formatApiTimeOrNull } from '../../../api/time.js';
import type { Directory } from '../../../config/types.js';
import type { OutboundCallbackCall } from '../outbound-callback-call/record.js';
import { toWireOutboundCallbackCall } from '../outbound-callback-call/wire.js';
import type { CallbackRequest } from './record.js';

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
