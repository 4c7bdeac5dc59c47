import { z } from 'zod';
import { outboundCallWireFields, outboundCallWireShape, wireId } from '../shared-wire.js';
import type { OutboundServiceCall } from './record.js';

/** The EnreachAPI `OutboundServiceCall` (the OpenAPI component of that name). */
export const outboundServiceCallWireSchema = z.object({
  ...outboundCallWireShape,
  QueueId: wireId('The queue on whose behalf the call was made (it owns the record).'),
  QueueName: z.string(),
});
export type OutboundServiceCallWire = z.input<typeof outboundServiceCallWireSchema>;

/** The EnreachAPI `OutboundServiceCall` (field order is part of the contract). */
export function toWireOutboundServiceCall(call: OutboundServiceCall): OutboundServiceCallWire {
  return {
    Id: call.eventId,
    CallId: call.callId,
    CallLegId: call.callLegId,
    QueueId: call.queueId,
    QueueName: call.queueName,
    ...outboundCallWireFields(call),
  };
}
