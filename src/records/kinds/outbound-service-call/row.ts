import { callRecordTable, type WithRecordingIdsAsJson } from '../shared.js';
import { type OutboundServiceCall, outboundServiceCallSchema } from './record.js';

export const outboundServiceCallTable = callRecordTable<OutboundServiceCall>()(
  'outbound_service_calls',
  outboundServiceCallSchema,
);
export type OutboundServiceCallRow = WithRecordingIdsAsJson<OutboundServiceCall>;
