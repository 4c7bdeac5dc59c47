/** Wire fields several record kinds share (kept apart from ./shared.ts: only REST needs them). */
import { END_RESULT_CODES } from '../../api/schemas.js';
import { formatApiTime, formatApiTimeOrNull } from '../../api/time.js';
import type { OutboundCallbackCall } from './outbound-callback-call/record.js';
import type { OutboundServiceCall } from './outbound-service-call/record.js';

/** The fields every outbound call record ends with (service and callback calls), in wire order. */
export function outboundCallWireFields(call: OutboundServiceCall | OutboundCallbackCall) {
  return {
    UserId: call.userId,
    UserName: call.userName,
    ANum: call.aNum,
    BNum: call.bNum,
    TimeStamp: formatApiTime(call.timestampMs),
    AnswerTime: formatApiTimeOrNull(call.answerTimeMs),
    EndTime: formatApiTimeOrNull(call.endTimeMs),
    Duration: call.durationSeconds,
    Result: call.result,
    EndResult: call.result === null ? null : END_RESULT_CODES[call.result],
    RecordingIds: [...call.recordingIds],
    Modified: formatApiTime(call.modifiedMs),
  };
}
