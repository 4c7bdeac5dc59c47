import {
  CompiledQuery,
  type Expression,
  type Kysely,
  PostgresAdapter,
  type RawBuilder,
  type SqlBool,
  sql,
  type Transaction,
} from 'kysely';
import { RecordsError, RecordsErrorCode } from '../errors.js';
import {
  type CallbackOwnedQuery,
  type CallProgress,
  type CallResult,
  type CallType,
  type Direction,
  type IdScope,
  type OutboundCallbackCall,
  type OutboundServiceCall,
  type QueueOwnedQuery,
  type RecordBatch,
  type RecordKind,
  type RecordLocation,
  type RecordSelection,
  type RecordStore,
  type ServiceCall,
  type ServiceCallDetail,
  type ServiceCallDetailWrite,
  ServiceCallEventType,
  type ServiceCallEventTypeName,
  type StoreDialect,
  type UserCallEvent,
  type UserCallEventQuery,
} from '../types.js';
import {
  callbackRequestMethods,
  insertCallbackRequests,
  selectCallbackAttemptRows,
} from './callback-requests.js';
import type {
  OutboundCallbackCallsTable,
  OutboundServiceCallsTable,
  RecordsDatabase,
  ServiceCallDetailsTable,
  ServiceCallsTable,
  UserCallEventsTable,
} from './schema.js';

/** Bound parameters per statement: under SQLite's 32766 and PostgreSQL's 65535. */
const MAX_PARAMS_PER_STATEMENT = 30_000;
/** Ids per IN (...) list when loading call progress. */
const IN_LIST_CHUNK = 500;

const EVENT_TYPE_BY_CODE = new Map<number, ServiceCallEventTypeName>(
  Object.entries(ServiceCallEventType).map(([name, code]) => [code, name as ServiceCallEventTypeName]),
);

/**
 * The record store over any Kysely database with our schema. SQL is kept to what SQLite and
 * PostgreSQL share (INSERT ... ON CONFLICT ... excluded.*), so one implementation serves both.
 */
export function createKyselyStore(
  db: Kysely<RecordsDatabase>,
  dialect: StoreDialect,
  onClose: () => Promise<void> = async () => {},
): RecordStore {
  let closed = false;

  return {
    dialect,
    ...callbackRequestMethods(db, async (callbackRequestIds) =>
      (await selectCallbackAttemptRows(db, callbackRequestIds)).map(outboundCallbackCallFromRow),
    ),

    async listUserCallEvents(query: UserCallEventQuery): Promise<UserCallEvent[]> {
      const visibility = userVisibility(query.visibleDirectCallUserIds, query.visibleAgentCallUserIds);
      if (visibility === 'none' || query.userIds?.length === 0) return [];
      let select = db
        .selectFrom('user_call_events')
        .selectAll()
        .where(selectionFilter(query.selection, 'timestamp_ms'));
      if (query.userIds) select = select.where('user_id', 'in', [...query.userIds]);
      if (visibility !== 'all') select = select.where(visibility);
      select = select.orderBy('timestamp_ms').orderBy('event_id');
      if (query.limit !== undefined) select = select.limit(query.limit);
      return (await select.execute()).map(userCallEventFromRow);
    },

    async getUserCallEvent(eventId: string): Promise<UserCallEvent | undefined> {
      const row = await db
        .selectFrom('user_call_events')
        .selectAll()
        .where('event_id', '=', eventId)
        .executeTakeFirst();
      return row ? userCallEventFromRow(row) : undefined;
    },

    async listServiceCalls(query: QueueOwnedQuery): Promise<ServiceCall[]> {
      if (isEmptyScope(query.visibleQueueIds) || query.queueIds?.length === 0) return [];
      let select = db
        .selectFrom('service_calls')
        .selectAll()
        .where(selectionFilter(query.selection, 'arrival_time_ms'));
      if (query.queueIds) select = select.where('queue_id', 'in', [...query.queueIds]);
      if (query.visibleQueueIds !== '*') select = select.where('queue_id', 'in', [...query.visibleQueueIds]);
      select = select.orderBy('arrival_time_ms').orderBy('event_id');
      if (query.limit !== undefined) select = select.limit(query.limit);
      return (await select.execute()).map(serviceCallFromRow);
    },

    async listServiceCallDetails(callId: string): Promise<ServiceCallDetail[]> {
      const rows = await db
        .selectFrom('service_call_details')
        .selectAll()
        .where('call_id', '=', callId)
        .orderBy('seq')
        .orderBy('sub_seq')
        .orderBy('event_id')
        .execute();
      return rows.map(serviceCallDetailFromRow);
    },

    async listOutboundServiceCalls(query: QueueOwnedQuery): Promise<OutboundServiceCall[]> {
      if (isEmptyScope(query.visibleQueueIds) || query.queueIds?.length === 0) return [];
      let select = db
        .selectFrom('outbound_service_calls')
        .selectAll()
        .where(selectionFilter(query.selection, 'timestamp_ms'));
      if (query.queueIds) select = select.where('queue_id', 'in', [...query.queueIds]);
      if (query.visibleQueueIds !== '*') select = select.where('queue_id', 'in', [...query.visibleQueueIds]);
      select = select.orderBy('timestamp_ms').orderBy('event_id');
      if (query.limit !== undefined) select = select.limit(query.limit);
      return (await select.execute()).map(outboundServiceCallFromRow);
    },

    async listOutboundCallbackCalls(query: CallbackOwnedQuery): Promise<OutboundCallbackCall[]> {
      if (isEmptyScope(query.visibleCallbackListIds) || query.callbackListIds?.length === 0) return [];
      let select = db
        .selectFrom('outbound_callback_calls')
        .selectAll()
        .where(selectionFilter(query.selection, 'timestamp_ms'));
      if (query.callbackListIds) select = select.where('callback_list_id', 'in', [...query.callbackListIds]);
      if (query.visibleCallbackListIds !== '*') {
        select = select.where('callback_list_id', 'in', [...query.visibleCallbackListIds]);
      }
      select = select.orderBy('timestamp_ms').orderBy('event_id');
      if (query.limit !== undefined) select = select.limit(query.limit);
      return (await select.execute()).map(outboundCallbackCallFromRow);
    },

    async writeBatch(batch: RecordBatch): Promise<void> {
      try {
        await db.transaction().execute(async (trx) => {
          await upsert(
            trx,
            'user_call_events',
            ['event_id'],
            (batch.userCallEvents ?? []).map(userCallEventToRow),
          );
          await upsert(trx, 'service_calls', ['event_id'], (batch.serviceCalls ?? []).map(serviceCallToRow));
          // Details never change once written: a replayed fact must not rewrite Modified.
          await insertMissing(
            trx,
            'service_call_details',
            ['event_id'],
            (batch.serviceCallDetails ?? []).map(serviceCallDetailToRow),
          );
          await upsert(
            trx,
            'outbound_service_calls',
            ['event_id'],
            (batch.outboundServiceCalls ?? []).map(outboundServiceCallToRow),
          );
          await upsert(
            trx,
            'outbound_callback_calls',
            ['event_id'],
            (batch.outboundCallbackCalls ?? []).map(outboundCallbackCallToRow),
          );
          await upsert(
            trx,
            'call_progress',
            ['call_id'],
            (batch.callProgress ?? []).map((progress) => ({
              call_id: progress.callId,
              state: progress.state,
              ended: progress.ended ? 1 : 0,
              last_seq: progress.lastSeq,
              last_time_ms: progress.lastTimeMs,
            })),
          );
          await insertCallbackRequests(trx, batch.callbackRequests ?? []);
          if (batch.checkpoint) {
            await upsert(
              trx,
              'checkpoints',
              ['consumer'],
              [{ consumer: batch.checkpoint.consumer, seq: batch.checkpoint.seq }],
            );
          }
        });
      } catch (cause) {
        throw new RecordsError(
          RecordsErrorCode.StoreWriteFailed,
          `record batch rolled back: ${String(cause)}`,
          {
            cause,
          },
        );
      }
    },

    async readCheckpoint(consumer: string): Promise<number> {
      const row = await db
        .selectFrom('checkpoints')
        .select('seq')
        .where('consumer', '=', consumer)
        .executeTakeFirst();
      return row?.seq ?? 0;
    },

    async setCheckpoint(consumer: string, seq: number): Promise<void> {
      await upsert(db, 'checkpoints', ['consumer'], [{ consumer, seq }]);
    },

    async loadCallProgress(callIds: readonly string[]): Promise<Map<string, CallProgress>> {
      const found = new Map<string, CallProgress>();
      const unique = [...new Set(callIds)];
      for (let i = 0; i < unique.length; i += IN_LIST_CHUNK) {
        const rows = await db
          .selectFrom('call_progress')
          .selectAll()
          .where('call_id', 'in', unique.slice(i, i + IN_LIST_CHUNK))
          .execute();
        for (const row of rows) found.set(row.call_id, callProgressFromRow(row));
      }
      return found;
    },

    async listOpenCallProgress(): Promise<CallProgress[]> {
      const rows = await db
        .selectFrom('call_progress')
        .selectAll()
        .where('ended', '=', 0)
        .orderBy('last_time_ms')
        .orderBy('call_id')
        .execute();
      return rows.map(callProgressFromRow);
    },

    async saveSecretKeyHash(userId: string, keyHash: string, createdMs: number): Promise<void> {
      await insertMissing(
        db,
        'secret_keys',
        ['user_id', 'key_hash'],
        [{ user_id: userId, key_hash: keyHash, created_ms: createdMs }],
      );
    },

    async listSecretKeyHashes(userId: string): Promise<string[]> {
      const rows = await db
        .selectFrom('secret_keys')
        .select('key_hash')
        .where('user_id', '=', userId)
        .orderBy('created_ms', 'desc')
        .orderBy('key_hash')
        .execute();
      return rows.map((row) => row.key_hash);
    },

    async locateRecord(eventId: string): Promise<RecordLocation | undefined> {
      // One round trip: each branch is a primary-key probe.
      const branches = RECORD_TABLES.map(
        ([kind, table]) =>
          sql`select ${kind} as kind, call_id from ${sql.table(table)} where event_id = ${eventId}`,
      );
      const { rows } = await sql<{
        kind: RecordKind;
        call_id: string;
      }>`${sql.join(branches, sql` union all `)}`.execute(db);
      const row = rows[0];
      return row ? { kind: row.kind, eventId, callId: row.call_id } : undefined;
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await db.destroy();
      await onClose();
    },
  };
}

/** Every record table, with the kind of record it holds (for `locateRecord`). */
const RECORD_TABLES: readonly (readonly [RecordKind, keyof RecordsDatabase])[] = [
  ['UserCallEvent', 'user_call_events'],
  ['ServiceCall', 'service_calls'],
  ['ServiceCallDetail', 'service_call_details'],
  ['OutboundServiceCall', 'outbound_service_calls'],
  ['OutboundCallbackCall', 'outbound_callback_calls'],
];

type Executor = Kysely<RecordsDatabase> | Transaction<RecordsDatabase>;
type Row = Record<string, string | number | null>;

function isEmptyScope(scope: IdScope): boolean {
  return scope !== '*' && scope.length === 0;
}

function selectionFilter(selection: RecordSelection, timeColumn: string): RawBuilder<SqlBool> {
  switch (selection.by) {
    case 'time':
      return sql<SqlBool>`${sql.ref(timeColumn)} >= ${selection.fromMs} and ${sql.ref(timeColumn)} < ${selection.toMs}`;
    case 'modified':
      return sql<SqlBool>`modified_ms >= ${selection.fromMs} and modified_ms < ${selection.toMs}`;
    case 'callId':
      return sql<SqlBool>`call_id = ${selection.callId}`;
  }
}

/**
 * DirectCall events are visible by the DirectCalls grant of their user, ServiceCall events by the
 * AgentCalls grant: one OR of two branches, each dropped when its scope is empty.
 */
function userVisibility(direct: IdScope, agent: IdScope): 'all' | 'none' | Expression<SqlBool> {
  if (direct === '*' && agent === '*') return 'all';
  const branches: RawBuilder<SqlBool>[] = [];
  for (const [callType, scope] of [
    ['DirectCall', direct],
    ['ServiceCall', agent],
  ] as const) {
    if (scope === '*') branches.push(sql<SqlBool>`call_type = ${callType}`);
    else if (scope.length > 0) {
      branches.push(sql<SqlBool>`(call_type = ${callType} and user_id in (${sql.join([...scope])}))`);
    }
  }
  if (branches.length === 0) return 'none';
  return sql<SqlBool>`(${sql.join(branches, sql` or `)})`;
}

/** Multi-row INSERT ... ON CONFLICT DO UPDATE: the whole row is replaced by the newer version. */
async function upsert(
  db: Executor,
  table: keyof RecordsDatabase,
  key: readonly string[],
  rows: readonly Row[],
) {
  await writeRows(db, table, key, rows, 'update');
}

/** Multi-row INSERT ... ON CONFLICT DO NOTHING: the first version stays. */
async function insertMissing(
  db: Executor,
  table: keyof RecordsDatabase,
  key: readonly string[],
  rows: readonly Row[],
) {
  await writeRows(db, table, key, rows, 'nothing');
}

/**
 * The statement text is built directly rather than through Kysely's builder: for thousands of rows
 * the builder's per-value nodes cost more than the database's own work. Table and column names
 * come from this module only; every value is a bound parameter.
 */
async function writeRows(
  db: Executor,
  table: keyof RecordsDatabase,
  key: readonly string[],
  rows: readonly Row[],
  onConflict: 'update' | 'nothing',
): Promise<void> {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]!);
  // PostgreSQL refuses to update one row twice in a statement: keep the last version of each key.
  const byKey = new Map<string, Row>();
  for (const row of rows) byKey.set(key.map((column) => String(row[column])).join('\u0000'), row);
  const unique = [...byKey.values()];
  const updates = columns.filter((column) => !key.includes(column));
  const conflict =
    onConflict === 'nothing' || updates.length === 0
      ? 'do nothing'
      : `do update set ${updates.map((column) => `"${column}" = excluded."${column}"`).join(', ')}`;
  const head = `insert into "${table}" (${columns.map((column) => `"${column}"`).join(', ')}) values `;
  const tail = ` on conflict (${key.map((column) => `"${column}"`).join(', ')}) ${conflict}`;
  const numbered = db.getExecutor().adapter instanceof PostgresAdapter;
  const chunkSize = Math.max(1, Math.floor(MAX_PARAMS_PER_STATEMENT / columns.length));
  for (let i = 0; i < unique.length; i += chunkSize) {
    const chunk = unique.slice(i, i + chunkSize);
    const parameters: (string | number | null)[] = [];
    const tuples: string[] = [];
    for (const row of chunk) {
      const marks: string[] = [];
      for (const column of columns) {
        parameters.push(row[column] ?? null);
        marks.push(numbered ? `$${parameters.length}` : '?');
      }
      tuples.push(`(${marks.join(', ')})`);
    }
    await db.executeQuery(CompiledQuery.raw(head + tuples.join(', ') + tail, parameters));
  }
}

function parseRecordingIds(text: string): string[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
  } catch {
    return [];
  }
}

function userCallEventToRow(event: UserCallEvent): UserCallEventsTable & Row {
  return {
    event_id: event.eventId,
    call_id: event.callId,
    call_leg_id: event.callLegId,
    user_id: event.userId,
    user_name: event.userName,
    call_type: event.callType,
    direction: event.direction,
    result: event.result,
    a_num: event.aNum,
    b_num: event.bNum,
    queue_id: event.queueId,
    queue_name: event.queueName,
    timestamp_ms: event.timestampMs,
    answer_time_ms: event.answerTimeMs,
    end_time_ms: event.endTimeMs,
    duration_seconds: event.durationSeconds,
    recording_ids: JSON.stringify(event.recordingIds),
    modified_ms: event.modifiedMs,
  };
}

function userCallEventFromRow(row: UserCallEventsTable): UserCallEvent {
  return {
    eventId: row.event_id,
    callId: row.call_id,
    callLegId: row.call_leg_id,
    userId: row.user_id,
    userName: row.user_name,
    callType: row.call_type as CallType,
    direction: row.direction as Direction,
    result: row.result as CallResult,
    aNum: row.a_num,
    bNum: row.b_num,
    queueId: row.queue_id,
    queueName: row.queue_name,
    timestampMs: row.timestamp_ms,
    answerTimeMs: row.answer_time_ms,
    endTimeMs: row.end_time_ms,
    durationSeconds: row.duration_seconds,
    recordingIds: parseRecordingIds(row.recording_ids),
    modifiedMs: row.modified_ms,
  };
}

function serviceCallToRow(call: ServiceCall): ServiceCallsTable & Row {
  return {
    event_id: call.eventId,
    call_id: call.callId,
    queue_id: call.queueId,
    queue_name: call.queueName,
    a_num: call.aNum,
    b_num: call.bNum,
    arrival_time_ms: call.arrivalTimeMs,
    answer_time_ms: call.answerTimeMs,
    end_time_ms: call.endTimeMs,
    wait_time_seconds: call.waitTimeSeconds,
    duration_seconds: call.durationSeconds,
    result: call.result,
    answered_by_user_id: call.answeredByUserId,
    answered_by_user_name: call.answeredByUserName,
    allocation_count: call.allocationCount,
    recording_ids: JSON.stringify(call.recordingIds),
    modified_ms: call.modifiedMs,
  };
}

function serviceCallFromRow(row: ServiceCallsTable): ServiceCall {
  return {
    eventId: row.event_id,
    callId: row.call_id,
    queueId: row.queue_id,
    queueName: row.queue_name,
    aNum: row.a_num,
    bNum: row.b_num,
    arrivalTimeMs: row.arrival_time_ms,
    answerTimeMs: row.answer_time_ms,
    endTimeMs: row.end_time_ms,
    waitTimeSeconds: row.wait_time_seconds,
    durationSeconds: row.duration_seconds,
    result: row.result as CallResult | null,
    answeredByUserId: row.answered_by_user_id,
    answeredByUserName: row.answered_by_user_name,
    allocationCount: row.allocation_count,
    recordingIds: parseRecordingIds(row.recording_ids),
    modifiedMs: row.modified_ms,
  };
}

function serviceCallDetailToRow(detail: ServiceCallDetailWrite): ServiceCallDetailsTable & Row {
  return {
    event_id: detail.eventId,
    call_id: detail.callId,
    call_leg_id: detail.callLegId,
    queue_id: detail.queueId,
    queue_name: detail.queueName,
    user_id: detail.userId,
    user_name: detail.userName,
    event_type: ServiceCallEventType[detail.eventType],
    reason: detail.reason,
    timestamp_ms: detail.timestampMs,
    modified_ms: detail.modifiedMs,
    seq: detail.seq,
    sub_seq: detail.subSeq,
  };
}

function serviceCallDetailFromRow(row: ServiceCallDetailsTable): ServiceCallDetail {
  const eventType = EVENT_TYPE_BY_CODE.get(row.event_type);
  if (!eventType) {
    throw new RecordsError(RecordsErrorCode.CorruptState, `unknown detail EventType ${row.event_type}`);
  }
  return {
    eventId: row.event_id,
    callId: row.call_id,
    callLegId: row.call_leg_id,
    queueId: row.queue_id,
    queueName: row.queue_name,
    userId: row.user_id,
    userName: row.user_name,
    eventType,
    reason: row.reason,
    timestampMs: row.timestamp_ms,
    modifiedMs: row.modified_ms,
    seq: row.seq,
  };
}

function outboundServiceCallToRow(call: OutboundServiceCall): OutboundServiceCallsTable & Row {
  return {
    event_id: call.eventId,
    call_id: call.callId,
    call_leg_id: call.callLegId,
    queue_id: call.queueId,
    queue_name: call.queueName,
    user_id: call.userId,
    user_name: call.userName,
    a_num: call.aNum,
    b_num: call.bNum,
    timestamp_ms: call.timestampMs,
    answer_time_ms: call.answerTimeMs,
    end_time_ms: call.endTimeMs,
    duration_seconds: call.durationSeconds,
    result: call.result,
    recording_ids: JSON.stringify(call.recordingIds),
    modified_ms: call.modifiedMs,
  };
}

function outboundServiceCallFromRow(row: OutboundServiceCallsTable): OutboundServiceCall {
  return {
    eventId: row.event_id,
    callId: row.call_id,
    callLegId: row.call_leg_id,
    queueId: row.queue_id,
    queueName: row.queue_name,
    userId: row.user_id,
    userName: row.user_name,
    aNum: row.a_num,
    bNum: row.b_num,
    timestampMs: row.timestamp_ms,
    answerTimeMs: row.answer_time_ms,
    endTimeMs: row.end_time_ms,
    durationSeconds: row.duration_seconds,
    result: row.result as CallResult | null,
    recordingIds: parseRecordingIds(row.recording_ids),
    modifiedMs: row.modified_ms,
  };
}

function outboundCallbackCallToRow(call: OutboundCallbackCall): OutboundCallbackCallsTable & Row {
  return {
    event_id: call.eventId,
    call_id: call.callId,
    call_leg_id: call.callLegId,
    callback_list_id: call.callbackListId,
    callback_list_name: call.callbackListName,
    callback_request_id: call.callbackRequestId,
    queue_id: call.queueId,
    user_id: call.userId,
    user_name: call.userName,
    a_num: call.aNum,
    b_num: call.bNum,
    timestamp_ms: call.timestampMs,
    answer_time_ms: call.answerTimeMs,
    end_time_ms: call.endTimeMs,
    duration_seconds: call.durationSeconds,
    result: call.result,
    recording_ids: JSON.stringify(call.recordingIds),
    modified_ms: call.modifiedMs,
  };
}

function outboundCallbackCallFromRow(row: OutboundCallbackCallsTable): OutboundCallbackCall {
  return {
    eventId: row.event_id,
    callId: row.call_id,
    callLegId: row.call_leg_id,
    callbackListId: row.callback_list_id,
    callbackListName: row.callback_list_name,
    callbackRequestId: row.callback_request_id,
    queueId: row.queue_id,
    userId: row.user_id,
    userName: row.user_name,
    aNum: row.a_num,
    bNum: row.b_num,
    timestampMs: row.timestamp_ms,
    answerTimeMs: row.answer_time_ms,
    endTimeMs: row.end_time_ms,
    durationSeconds: row.duration_seconds,
    result: row.result as CallResult | null,
    recordingIds: parseRecordingIds(row.recording_ids),
    modifiedMs: row.modified_ms,
  };
}

function callProgressFromRow(row: RecordsDatabase['call_progress']): CallProgress {
  return {
    callId: row.call_id,
    state: row.state,
    ended: row.ended !== 0,
    lastSeq: row.last_seq,
    lastTimeMs: row.last_time_ms,
  };
}
