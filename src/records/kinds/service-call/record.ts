import { z } from 'zod';
import { callResultSchema, epochMsSchema, numbersShape } from '../shared.js';

/** The header of a call to a queue: one per call and queue, updated as the call goes on. */
export const serviceCallSchema = z.object({
  eventId: z.string(),
  callId: z.string(),
  queueId: z.string(),
  queueName: z.string(),
  ...numbersShape,
  arrivalTimeMs: epochMsSchema,
  answerTimeMs: epochMsSchema.nullable(),
  endTimeMs: epochMsSchema.nullable(),
  waitTimeSeconds: z.number(),
  durationSeconds: z.number(),
  /** Null while the call is in progress. */
  result: callResultSchema.nullable(),
  answeredByUserId: z.string().nullable(),
  answeredByUserName: z.string().nullable(),
  allocationCount: z.number(),
  recordingIds: z.array(z.string()),
  modifiedMs: epochMsSchema,
});
export type ServiceCall = z.infer<typeof serviceCallSchema>;
