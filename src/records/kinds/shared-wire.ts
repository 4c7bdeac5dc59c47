/**
 * The REST (EnreachAPI) wire pieces several record kinds share: field schemas, the numeric codes
 * that accompany the strings (documented in src/api/README.md and the OpenAPI document) and the
 * fields both outbound calls end with. Kept apart from ./shared.ts: only REST needs them.
 */
import { z } from 'zod';
import type { OutboundCallbackCall } from './outbound-callback-call/record.js';
import type { OutboundServiceCall } from './outbound-service-call/record.js';
import type { CallResult } from './shared.js';
import type { CallType, Direction } from './user-call-event/record.js';
import { formatApiTime, formatApiTimeOrNull } from './wire-time.js';

// ---- Codes ------------------------------------------------------------------------------------

/** `Direction`: fixed by the contract. */
export const DIRECTION_CODES: Record<Direction, { code: 0 | 1; text: 'Inbound' | 'Outbound' }> = {
  inbound: { code: 0, text: 'Inbound' },
  outbound: { code: 1, text: 'Outbound' },
};

/** `CallType`: ours to define. */
export const CALL_TYPE_CODES: Record<CallType, number> = { DirectCall: 1, ServiceCall: 2 };

/** `EndResult`: 0 when Handled (the contract), our own non-zero codes otherwise. */
export const END_RESULT_CODES: Record<CallResult, number> = {
  Handled: 0,
  Allocated: 1,
  Missed: 2,
  Rejected: 3,
  Busy: 4,
  Cancelled: 5,
  Failed: 6,
};

const CALL_RESULTS = Object.keys(END_RESULT_CODES) as [CallResult, ...CallResult[]];

/** A code table for a description: `0 Handled, 1 Allocated, …`. */
export const listOf = (codes: Record<string, number>): string =>
  Object.entries(codes)
    .map(([name, code]) => `${code} ${name}`)
    .join(', ');

// ---- Field schemas ----------------------------------------------------------------------------

export const wireId = (description: string) => z.string().meta({ description, format: 'uuid' });
export const wireTime = (description: string) => z.iso.datetime().meta({ description });
export const wireTimeOrNull = (description: string) => z.iso.datetime().nullable().meta({ description });
// Not constrained beyond being a number: one odd record must not turn a whole listing into a 500.
export const seconds = (description: string) => z.number().meta({ description });

export const resultSchema = z.enum(CALL_RESULTS);
export const endResultDescription = `0 when Result is Handled, else non-zero: ${listOf(END_RESULT_CODES)}.`;

// ---- Outbound calls ---------------------------------------------------------------------------

/** The wire fields every outbound call record has (service and callback calls). */
export const outboundCallWireShape = {
  Id: wireId('Id of this record.'),
  CallId: wireId('The CallId of the whole call.'),
  CallLegId: wireId("The calling user's leg."),
  UserId: wireId('The user who placed the call.'),
  UserName: z.string(),
  ANum: z.string().meta({ description: 'The number the callee saw.' }),
  BNum: z.string().meta({ description: 'The called number.' }),
  TimeStamp: wireTime('When the call was placed.'),
  AnswerTime: wireTimeOrNull('When the callee answered, if they did.'),
  EndTime: wireTimeOrNull('When the call ended, if it has.'),
  Duration: seconds('Talk time in seconds.'),
  Result: resultSchema.nullable().meta({ description: 'Null while the call is in progress.' }),
  EndResult: z
    .number()
    .int()
    .nullable()
    .meta({ description: `${endResultDescription} Null while in progress.` }),
  RecordingIds: z.array(z.string()),
  Modified: wireTime('When this record was last written.'),
};

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
