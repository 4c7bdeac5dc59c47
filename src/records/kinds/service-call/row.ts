import { callRecordTable, type WithRecordingIdsAsJson } from '../shared.js';
import { type ServiceCall, serviceCallSchema } from './record.js';

export const serviceCallTable = callRecordTable<ServiceCall>()('service_calls', serviceCallSchema);
export type ServiceCallRow = WithRecordingIdsAsJson<ServiceCall>;
