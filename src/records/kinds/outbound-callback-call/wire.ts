import { z } from 'zod';
import { outboundCallWireFields, outboundCallWireShape, wireId } from '../shared-wire.js';
import type { OutboundCallbackCall } from './record.js';

/** The EnreachAPI `OutboundCallbackCall` (the OpenAPI component of that name). */
export const outboundCallbackCallWireSchema = z.object({
  ...outboundCallWireShape,
  CallbackListId: wireId('The callback list (it owns the record).'),
  CallbackListName: z.string(),
  CallbackRequestId: z.string().meta({ description: 'The callback request the call handled.' }),
  QueueId: z.string().nullable().meta({ description: "The list's queue." }),
});
export type OutboundCallbackCallWire = z.input<typeof outboundCallbackCallWireSchema>;

/** The EnreachAPI `OutboundCallbackCall` (field order is part of the contract). */
export function toWireOutboundCallbackCall(call: OutboundCallbackCall): OutboundCallbackCallWire {
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
