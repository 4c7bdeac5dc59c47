import type { Wire } from '../../../api/schemas.js';
import { outboundCallWireFields } from '../shared-wire.js';
import type { OutboundCallbackCall } from './record.js';

/** The EnreachAPI `OutboundCallbackCall` (field order is part of the contract). */
export function toWireOutboundCallbackCall(call: OutboundCallbackCall): Wire<'OutboundCallbackCall'> {
  return {
    Id: call.eventId,
    CallId: call.callId,
    CallLegId: call.callLegId,
    CallbackListId: call.callbackListId,
    CallbackListName: call.callbackListName,
    CallbackRequestId: call.callbackRequestId,
    QueueId: call.queueId,
    ...outboundCallWireFields(call),
  };
}
