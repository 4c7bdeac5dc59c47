import { z } from 'zod';
import { callResultSchema, epochMsSchema, legTimesShape, numbersShape } from '../shared.js';

export const callTypeSchema = z.enum(['DirectCall', 'ServiceCall']);
export type CallType = z.infer<typeof callTypeSchema>;
export const directionSchema = z.enum(['inbound', 'outbound']);
export type Direction = z.infer<typeof directionSchema>;

/** One user's part in a call: a direct call of theirs, or a service call offered to them as an agent. */
export const userCallEventSchema = z.object({
  /** Record Id: UUID v5 of the natural key (callLegId or callId+userId, see post-processing). */
  eventId: z.string(),
  callId: z.string(),
  callLegId: z.string(),
  userId: z.string(),
  userName: z.string(),
  callType: callTypeSchema,
  direction: directionSchema,
  result: callResultSchema,
  ...numbersShape,
  queueId: z.string().nullable(),
  queueName: z.string().nullable(),
  ...legTimesShape,
  recordingIds: z.array(z.string()),
  modifiedMs: epochMsSchema,
  /**
   * Where this user transferred the call (`user c@example.com`, `queue Sales`, `number +358…`);
   * null when they did not. Last: the column was added by migration 0003.
   */
  transferredTo: z.string().nullable(),
});
export type UserCallEvent = z.infer<typeof userCallEventSchema>;
