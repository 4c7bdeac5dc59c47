import { callRecordTable, type WithRecordingIdsAsJson } from '../shared.js';
import { type UserCallEvent, userCallEventSchema } from './record.js';

export const userCallEventTable = callRecordTable<UserCallEvent>()('user_call_events', userCallEventSchema);
export type UserCallEventRow = WithRecordingIdsAsJson<UserCallEvent>;
