import { RecordsError } from '../../errors.js';
import { fieldsOf, type RecordTable } from '../shared.js';
import {
  type ServiceCallDetail,
  type ServiceCallDetailWrite,
  ServiceCallEventType,
  type ServiceCallEventTypeName,
  serviceCallDetailWriteSchema,
} from './record.js';

/** The EventType is stored as its numeric code. */
export type ServiceCallDetailRow = Omit<ServiceCallDetailWrite, 'eventType'> & { eventType: number };

const EVENT_TYPE_BY_CODE = new Map<number, ServiceCallEventTypeName>(
  Object.entries(ServiceCallEventType).map(([name, code]) => [code, name as ServiceCallEventTypeName]),
);

export const serviceCallDetailTable: RecordTable<
  'service_call_details',
  ServiceCallDetailWrite,
  ServiceCallDetail,
  ServiceCallDetailRow
> = {
  table: 'service_call_details',
  key: ['eventId'],
  columns: fieldsOf(serviceCallDetailWriteSchema),
  toRow: (detail) => ({ ...detail, eventType: ServiceCallEventType[detail.eventType] }),
  fromRow(row) {
    // subSeq only orders the rows; the record read back is the detail without it.
    const { eventType: code, subSeq: _subSeq, ...detail } = row;
    const eventType = EVENT_TYPE_BY_CODE.get(code);
    if (!eventType) throw new RecordsError('RECORDS_CORRUPT_STATE', `unknown detail EventType ${code}`);
    return { ...detail, eventType };
  },
};
