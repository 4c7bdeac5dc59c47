import { CALL_TYPE_CODES, DIRECTION_CODES, END_RESULT_CODES, type Wire } from '../../../api/schemas.js';
import { formatApiTime, formatApiTimeOrNull } from '../../../api/time.js';
import type { UserCallEvent } from './record.js';

/** The EnreachAPI `UserCallEvent` (field order is part of the contract: clients compare JSON). */
export function toWireUserCallEvent(event: UserCallEvent): Wire<'UserCallEvent'> {
  const direction = DIRECTION_CODES[event.direction];
  return {
    Id: event.eventId,
    CallId: event.callId,
    CallLegId: event.callLegId,
    UserId: event.userId,
    UserName: event.userName,
    CallType: CALL_TYPE_CODES[event.callType],
    CallTypeString: event.callType,
    Direction: direction.code,
    DirectionString: direction.text,
    Result: event.result,
    EndResult: END_RESULT_CODES[event.result],
    ANum: event.aNum,
    BNum: event.bNum,
    QueueId: event.queueId,
    QueueName: event.queueName,
    TimeStamp: formatApiTime(event.timestampMs),
    AnswerTime: formatApiTimeOrNull(event.answerTimeMs),
    EndTime: formatApiTimeOrNull(event.endTimeMs),
    Duration: event.durationSeconds,
    RecordingIds: [...event.recordingIds],
    Modified: formatApiTime(event.modifiedMs),
  };
}
