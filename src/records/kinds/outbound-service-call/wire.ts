import type { Wire } from '../../../api/schemas.js';
import { outboundCallWireFields } from '../shared-wire.js';
import type { OutboundServiceCall } from './record.js';

/** The EnreachAPI `OutboundServiceCall` (field order is part of the contract). */
export function toWireOutboundServiceCall(call: OutboundServiceCall): Wire<'OutboundServiceCall'> {
  return {
    Id: call.eventId,
    CallId: call.callId,
    CallLegId: call.callLegId,
    QueueId: call.queueId,
    QueueName: call.queueName,
    ...outboundCallWireFields(call),
  };
}
