/**
 * The record store's tables as Kysely sees them through `CamelCaseColumnsPlugin` (./camel-case.ts): table names as on
 * disk, columns named as the records' fields (`callLegId` is `call_leg_id` on disk). Each
 * record kind's row type lives in its folder (src/records/kinds/<kind>/row.ts). Times are epoch
 * milliseconds in BIGINT columns (PostgreSQL's int8 is parsed to a JS number by the store's pool);
 * booleans are 0/1 integers so both dialects read them alike.
 */
import { type CallbackRequestRow, callbackRequestTable } from '../kinds/callback-request/row.js';
import {
  type OutboundCallbackCallRow,
  outboundCallbackCallTable,
} from '../kinds/outbound-callback-call/row.js';
import { type OutboundServiceCallRow, outboundServiceCallTable } from '../kinds/outbound-service-call/row.js';
import { type ServiceCallRow, serviceCallTable } from '../kinds/service-call/row.js';
import { type ServiceCallDetailRow, serviceCallDetailTable } from '../kinds/service-call-detail/row.js';
import type { RecordTable } from '../kinds/shared.js';
import { type UserCallEventRow, userCallEventTable } from '../kinds/user-call-event/row.js';
import type { CallProgress } from '../types.js';

/** Post-processing's progress: the last journal seq each consumer applied. */
export interface CheckpointsTable {
  consumer: string;
  seq: number;
}

/** Post-processing's per-call state (see `CallProgress`); `ended` is 0 or 1. */
export interface CallProgressTable {
  callId: string;
  state: string;
  ended: number;
  lastSeq: number;
  lastTimeMs: number;
}

export type RecordsDatabase = {
  user_call_events: UserCallEventRow;
  service_calls: ServiceCallRow;
  service_call_details: ServiceCallDetailRow;
  outbound_service_calls: OutboundServiceCallRow;
  outbound_callback_calls: OutboundCallbackCallRow;
  checkpoints: CheckpointsTable;
  call_progress: CallProgressTable;
  callback_requests: CallbackRequestRow;
};

/** Post-processing's per-call state: `ended` is stored as 0/1. */
export const callProgressTable: RecordTable<'call_progress', CallProgress, CallProgress, CallProgressTable> =
  {
    table: 'call_progress',
    key: ['callId'],
    columns: ['callId', 'state', 'ended', 'lastSeq', 'lastTimeMs'],
    toRow: (progress) => ({ ...progress, ended: progress.ended ? 1 : 0 }),
    fromRow: (row) => ({ ...row, ended: row.ended !== 0 }),
  };

type Checkpoint = CheckpointsTable;
export const checkpointTable: RecordTable<'checkpoints', Checkpoint, Checkpoint, Checkpoint> = {
  table: 'checkpoints',
  key: ['consumer'],
  columns: ['consumer', 'seq'],
  toRow: (checkpoint) => checkpoint,
  fromRow: (row) => row,
};

/** Every table's columns by field name (for `selectAll()`, see ./camel-case.ts). */
export const RECORDS_COLUMNS: Record<keyof RecordsDatabase, readonly string[]> = {
  user_call_events: userCallEventTable.columns,
  service_calls: serviceCallTable.columns,
  service_call_details: serviceCallDetailTable.columns,
  outbound_service_calls: outboundServiceCallTable.columns,
  outbound_callback_calls: outboundCallbackCallTable.columns,
  checkpoints: checkpointTable.columns,
  call_progress: callProgressTable.columns,
  callback_requests: callbackRequestTable.columns,
};
