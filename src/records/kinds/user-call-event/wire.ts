import { z } from 'zod';
import {
  CALL_TYPE_CODES,
  DIRECTION_CODES,
  END_RESULT_CODES,
  endResultDescription,
  listOf,
  resultSchema,
  seconds,
  wireId,
  wireTime,
  wireTimeOrNull,
} from '../shared-wire.js';
import { formatApiTime, formatApiTimeOrNull } from '../wire-time.js';
import type { UserCallEvent } from './record.js';

/** The EnreachAPI `UserCallEvent` (the OpenAPI component of that name). */
export const userCallEventWireSchema = z.object({
  Id: wireId('Id of this record (deterministic: re-running post-processing yields the same Id).'),
  CallId: wireId('The CallId of the whole call.'),
  CallLegId: wireId('The leg (allocation) of the call this event is about.'),
  UserId: wireId('The user the event belongs to.'),
  UserName: z.string(),
  CallType: z
    .number()
    .int()
    .meta({ description: `Numeric call type: ${listOf(CALL_TYPE_CODES)}.` }),
  CallTypeString: z.enum(['DirectCall', 'ServiceCall']),
  Direction: z.union([z.literal(0), z.literal(1)]).meta({ description: '0 inbound, 1 outbound.' }),
  DirectionString: z.enum(['Inbound', 'Outbound']),
  Result: resultSchema,
  EndResult: z.number().int().meta({ description: endResultDescription }),
  ANum: z.string().meta({ description: 'Calling number.' }),
  BNum: z.string().meta({ description: 'Called number.' }),
  QueueId: z.string().nullable().meta({ description: 'For ServiceCall events: the queue.' }),
  QueueName: z.string().nullable(),
  TimeStamp: wireTime('When the event started (UTC).'),
  AnswerTime: wireTimeOrNull('When it was answered, if it was.'),
  EndTime: wireTimeOrNull('When it ended, if it has.'),
  Duration: seconds('Talk time in seconds.'),
  RecordingIds: z.array(z.string()),
  Modified: wireTime('When this record was last written.'),
  TransferredTo: z
    .string()
    .nullable()
    .meta({
      description:
        'Where this user transferred the call (blind or attended): `user <username>`, `queue <name>` or ' +
        '`number <number>`; null when they did not. Their EndTime is when the transfer released them.',
    }),
});
export type UserCallEventWire = z.input<typeof userCallEventWireSchema>;

/**
 * The EnreachAPI `UserCallEvent` (field order is part of the contract: clients compare JSON).
 * `TransferredTo` (transfers, DESIGN.md §10) came later and goes last, after `Modified`.
 */
export function toWireUserCallEvent(event: UserCallEvent): UserCallEventWire {
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
    TransferredTo: event.transferredTo ?? null,
  };
}
