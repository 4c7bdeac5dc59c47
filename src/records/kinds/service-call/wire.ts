import type { Wire } from '../../../api/schemas.js';
import { formatApiTime, formatApiTimeOrNull } from '../../../api/time.js';
import type { ServiceCall } from './record.js';

/** The EnreachAPI `ServiceCall` header (field order is part of the contract). */
export function toWireServiceCall(call: ServiceCall): Wire<'ServiceCall'> {
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
