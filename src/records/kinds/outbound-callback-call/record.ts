import { z } from 'zod';
import { outboundCallShape } from '../shared.js';

/** A call an agent placed for a callback request (the callback list owns the record). */
export const outboundCallbackCallSchema = z.object({
  eventId: z.string(),
  callId: z.string(),
  callLegId: z.string(),
  callbackListId: z.string(),
  callbackListName: z.string(),
  callbackRequestId: z.string(),
  queueId: z.string().nullable(),
  ...outboundCallShape,
});
export type OutboundCallbackCall = z.infer<typeof outboundCallbackCallSchema>;
