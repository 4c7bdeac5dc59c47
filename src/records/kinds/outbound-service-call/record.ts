import { z } from 'zod';
import { outboundCallShape } from '../shared.js';

/** A call an agent placed on behalf of a queue (the queue owns the record). */
export const outboundServiceCallSchema = z.object({
  eventId: z.string(),
  callId: z.string(),
  callLegId: z.string(),
  queueId: z.string(),
  queueName: z.string(),
  ...outboundCallShape,
});
export type OutboundServiceCall = z.infer<typeof outboundServiceCallSchema>;
