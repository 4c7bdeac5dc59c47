import { z } from 'zod';
import { resultSchema, seconds, wireId, wireTime, wireTimeOrNull } from '../shared-wire.js';
import { formatApiTime, formatApiTimeOrNull } from '../wire-time.js';
import type { ServiceCall } from './record.js';

/** The EnreachAPI `ServiceCall` (the OpenAPI component of that name). */
export const serviceCallWireSchema = z.object({
  Id: wireId('Id of this record.'),
  CallId: wireId('The CallId of the whole call.'),
  QueueId: wireId('The queue.'),
  QueueName: z.string(),
  ANum: z.string(),
  BNum: z.string(),
  ArrivalTime: wireTime('When the call arrived in the queue.'),
  AnswerTime: wireTimeOrNull('When an agent answered, if one did.'),
  EndTime: wireTimeOrNull('When the call ended, if it has.'),
  WaitTime: seconds('Seconds from arrival to answer (or to end, if unanswered).'),
  Duration: seconds('Talk time in seconds.'),
  Result: resultSchema.nullable().meta({ description: 'Null while the call is in progress.' }),
  AnsweredByUserId: z.string().nullable(),
  AnsweredByUserName: z.string().nullable(),
  AllocationCount: z.number().int(),
  RecordingIds: z.array(z.string()),
  Modified: wireTime('When this record was last written.'),
});
export type ServiceCallWire = z.input<typeof serviceCallWireSchema>;

/** The EnreachAPI `ServiceCall` header (field order is part of the contract). */
export function toWireServiceCall(call: ServiceCall): ServiceCallWire {
  return {
    Id: call.eventId,
    CallId: call.callId,
    QueueId: call.queueId,
    QueueName: call.queueName,
    ANum: call.aNum,
    BNum: call.bNum,
    ArrivalTime: formatApiTime(call.arrivalTimeMs),
    AnswerTime: formatApiTimeOrNull(call.answerTimeMs),
    EndTime: formatApiTimeOrNull(call.endTimeMs),
    WaitTime: call.waitTimeSeconds,
    Duration: call.durationSeconds,
    Result: call.result,
    AnsweredByUserId: call.answeredByUserId,
    AnsweredByUserName: call.answeredByUserName,
    AllocationCount: call.allocationCount,
    RecordingIds: [...call.recordingIds],
    Modified: formatApiTime(call.modifiedMs),
  };
}
