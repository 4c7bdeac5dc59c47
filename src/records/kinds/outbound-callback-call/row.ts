import { callRecordTable, type WithRecordingIdsAsJson } from '../shared.js';
import { type OutboundCallbackCall, outboundCallbackCallSchema } from './record.js';

export const outboundCallbackCallTable = callRecordTable<OutboundCallbackCall>()(
  'outbound_callback_calls',
  outboundCallbackCallSchema,
);
export type OutboundCallbackCallRow = WithRecordingIdsAsJson<OutboundCallbackCall>;
