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
import { RecordsError } from '../errors.js';
import { outboundCallbackCallTable } from '../kinds/outbound-callback-call/row.js';
import { outboundServiceCallTable } from '../kinds/outbound-service-call/row.js';
import { serviceCallTable } from '../kinds/service-call/row.js';
import { serviceCallDetailTable } from '../kinds/service-call-detail/row.js';
import type { RecordTable } from '../kinds/shared.js';
import { userCallEventTable } from '../kinds/user-call-event/row.js';
import type {
  CallbackOwnedQuery,
  CallProgress,
  IdScope,
  OutboundCallbackCall,
  OutboundServiceCall,
  QueueOwnedQuery,
  RecordBatch,
  RecordKind,
  RecordLocation,
  RecordSelection,
  RecordStore,
  ServiceCall,
  ServiceCallDetail,
  StoreDialect,
  UserCallEvent,
  UserCallEventQuery,
} from '../types.js';
import {
  callbackRequestMethods,
  insertCallbackRequests,
  selectCallbackAttemptRows,
} from './callback-requests.js';
import { columnName } from './camel-case.js';
import { callProgressTable, checkpointTable, type RecordsDatabase } from './schema.js';

/** Bound parameters per statement: under SQLite's 32766 and PostgreSQL's 65535. */
const MAX_PARAMS_PER_STATEMENT = 30_000;
/** Ids per IN (...) list when loading call progress. */
const IN_LIST_CHUNK = 500;

/**
 * The record store over any Kysely database with our schema, seen through `CamelCaseColumnsPlugin`
 * (./camel-case.ts). SQL is kept to what SQLite and PostgreSQL share (INSERT ... ON CONFLICT ...
 * excluded.*), so one implementation serves both. Each record kind's columns and row mapping come
 * from its folder (src/records/kinds/<kind>/row.ts).
 */
export function createKyselyStore(
  db: Kysely<RecordsDatabase>,
  dialect: StoreDialect,
  /** Runs once on `close()`; the store does not close a database it was given. */
  onClose: () => Promise<void> = async () => {},
): RecordStore {
  let closed = false;

  return {
    dialect,
    ...callbackRequestMethods(db, async (callbackRequestIds) =>
      (await selectCallbackAttemptRows(db, callbackRequestIds)).map(outboundCallbackCallTable.fromRow),
    ),

    async listUserCallEvents(query: UserCallEventQuery): Promise<UserCallEvent[]> {
      const visibility = userVisibility(query.visibleDirectCallUserIds, query.visibleAgentCallUserIds);
      if (visibility === 'none' || query.userIds?.length === 0) return [];
      let select = db
        .selectFrom('user_call_events')
        .selectAll()
        .where(selectionFilter(query.selection, 'timestampMs'));
      if (query.userIds) select = select.where('userId', 'in', [...query.userIds]);
      if (visibility !== 'all') select = select.where(visibility);
      select = select.orderBy('timestampMs').orderBy('eventId');
      return (await limited(select, query.limit).execute()).map(userCallEventTable.fromRow);
    },

    async getUserCallEvent(eventId: string): Promise<UserCallEvent | undefined> {
      const row = await db
        .selectFrom('user_call_events')
        .selectAll()
        .where('eventId', '=', eventId)
        .executeTakeFirst();
      return row ? userCallEventTable.fromRow(row) : undefined;
    },

    listServiceCalls: (query: QueueOwnedQuery): Promise<ServiceCall[]> =>
      listOwned(
        db.selectFrom('service_calls').selectAll(),
        serviceCallTable,
        byQueue(query),
        'arrivalTimeMs',
      ),

    async listServiceCallDetails(callId: string): Promise<ServiceCallDetail[]> {
      const rows = await db
        .selectFrom('service_call_details')
        .selectAll()
        .where('callId', '=', callId)
        .orderBy('seq')
        .orderBy('subSeq')
        .orderBy('eventId')
        .execute();
      return rows.map(serviceCallDetailTable.fromRow);
    },

    listOutboundServiceCalls: (query: QueueOwnedQuery): Promise<OutboundServiceCall[]> =>
      listOwned(
        db.selectFrom('outbound_service_calls').selectAll(),
        outboundServiceCallTable,
        byQueue(query),
      ),

    listOutboundCallbackCalls: (query: CallbackOwnedQuery): Promise<OutboundCallbackCall[]> =>
      listOwned(
        db.selectFrom('outbound_callback_calls').selectAll(),
        outboundCallbackCallTable,
        byList(query),
      ),

    async writeBatch(batch: RecordBatch): Promise<void> {
      try {
        await db.transaction().execute(async (trx) => {
          await writeRecords(trx, userCallEventTable, batch.userCallEvents, 'update');
          await writeRecords(trx, serviceCallTable, batch.serviceCalls, 'update');
          // Details never change once written: a replayed fact must not rewrite Modified.
          await writeRecords(trx, serviceCallDetailTable, batch.serviceCallDetails, 'nothing');
          await writeRecords(trx, outboundServiceCallTable, batch.outboundServiceCalls, 'update');
          await writeRecords(trx, outboundCallbackCallTable, batch.outboundCallbackCalls, 'update');
          await writeRecords(trx, callProgressTable, batch.callProgress, 'update');
          await insertCallbackRequests(trx, batch.callbackRequests ?? []);
          if (batch.checkpoint) await writeRecords(trx, checkpointTable, [batch.checkpoint], 'update');
        });
      } catch (cause) {
        throw new RecordsError('RECORDS_STORE_WRITE_FAILED', `record batch rolled back: ${String(cause)}`, {
          cause,
        });
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
      await writeRecords(db, checkpointTable, [{ consumer, seq }], 'update');
    },

    async loadCallProgress(callIds: readonly string[]): Promise<Map<string, CallProgress>> {
      const found = new Map<string, CallProgress>();
      const unique = [...new Set(callIds)];
      for (let i = 0; i < unique.length; i += IN_LIST_CHUNK) {
        const rows = await db
          .selectFrom('call_progress')
          .selectAll()
          .where('callId', 'in', unique.slice(i, i + IN_LIST_CHUNK))
          .execute();
        for (const row of rows) found.set(row.callId, callProgressTable.fromRow(row));
      }
      return found;
    },

    async listOpenCallProgress(): Promise<CallProgress[]> {
      const rows = await db
        .selectFrom('call_progress')
        .selectAll()
        .where('ended', '=', 0)
        .orderBy('lastTimeMs')
        .orderBy('callId')
        .execute();
      return rows.map(callProgressTable.fromRow);
    },

    async locateRecord(eventId: string): Promise<RecordLocation | undefined> {
      // One round trip: each branch is a primary-key probe.
      // Raw SQL: the plugin maps the references to snake_case, the alias is ours to write.
      const branches = RECORD_TABLES.map(
        ([kind, table]) =>
          sql`select ${kind} as kind, ${sql.ref('callId')} as "callId" from ${sql.table(table)} where ${sql.ref('eventId')} = ${eventId}`,
      );
      const { rows } = await sql<{ kind: RecordKind; callId: string }>`${sql.join(
        branches,
        sql` union all `,
      )}`.execute(db);
      const row = rows[0];
      return row ? { kind: row.kind, eventId, callId: row.callId } : undefined;
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await onClose();
    },
  };
}

/** Every record table, with the kind of record it holds (for `locateRecord`). */
const RECORD_TABLES: readonly (readonly [RecordKind, keyof RecordsDatabase])[] = [
  ['UserCallEvent', userCallEventTable.table],
  ['ServiceCall', serviceCallTable.table],
  ['ServiceCallDetail', serviceCallDetailTable.table],
  ['OutboundServiceCall', outboundServiceCallTable.table],
  ['OutboundCallbackCall', outboundCallbackCallTable.table],
];

type Executor = Kysely<RecordsDatabase> | Transaction<RecordsDatabase>;

function isEmptyScope(scope: IdScope): boolean {
  return scope !== '*' && scope.length === 0;
}

type TimeColumn = 'timestampMs' | 'arrivalTimeMs';

/**
 * A listing owned by queues or callback lists: its selection and limit, the owner column, the
 * explicit owner filter (if any) and the owners the caller may see.
 */
interface OwnedQuery {
  selection: RecordSelection;
  limit?: number;
  ownerColumn: 'queueId' | 'callbackListId';
  ownerIds: readonly string[] | undefined;
  visibleOwnerIds: IdScope;
}

function byQueue(query: QueueOwnedQuery): OwnedQuery {
  return {
    ...query,
    ownerColumn: 'queueId',
    ownerIds: query.queueIds,
    visibleOwnerIds: query.visibleQueueIds,
  };
}

function byList(query: CallbackOwnedQuery): OwnedQuery {
  const { callbackListIds: ownerIds, visibleCallbackListIds: visibleOwnerIds } = query;
  return { ...query, ownerColumn: 'callbackListId', ownerIds, visibleOwnerIds };
}

/** The part of Kysely's select builder a listing uses, whatever its table. */
interface ListingQuery<Row> {
  where(condition: Expression<SqlBool>): ListingQuery<Row>;
  orderBy(column: Expression<unknown>): ListingQuery<Row>;
  limit(limit: number): ListingQuery<Row>;
  execute(): Promise<Row[]>;
}

/** The listing's records: the selection window, owner filter and visibility; by time, then eventId. */
async function listOwned<Row, Read>(
  from: ListingQuery<Row>,
  table: { fromRow(row: Row): Read },
  query: OwnedQuery,
  timeColumn: TimeColumn = 'timestampMs',
): Promise<Read[]> {
  const { ownerColumn, ownerIds, visibleOwnerIds } = query;
  if (isEmptyScope(visibleOwnerIds) || ownerIds?.length === 0) return [];
  let select = from.where(selectionFilter(query.selection, timeColumn));
  for (const ids of [ownerIds, visibleOwnerIds === '*' ? undefined : visibleOwnerIds]) {
    if (ids) select = select.where(sql<SqlBool>`${sql.ref(ownerColumn)} in (${sql.join([...ids])})`);
  }
  select = select.orderBy(sql.ref(timeColumn)).orderBy(sql.ref('eventId'));
  return (await limited(select, query.limit).execute()).map(table.fromRow);
}

/** The query with a LIMIT when one is asked for. */
function limited<Query extends { limit(limit: number): Query }>(
  query: Query,
  limit: number | undefined,
): Query {
  return limit === undefined ? query : query.limit(limit);
}

function selectionFilter(selection: RecordSelection, timeColumn: TimeColumn): RawBuilder<SqlBool> {
  switch (selection.by) {
    case 'time':
      return sql<SqlBool>`${sql.ref(timeColumn)} >= ${selection.fromMs} and ${sql.ref(timeColumn)} < ${selection.toMs}`;
    case 'modified':
      return sql<SqlBool>`${sql.ref('modifiedMs')} >= ${selection.fromMs} and ${sql.ref('modifiedMs')} < ${selection.toMs}`;
    case 'callId':
      return sql<SqlBool>`${sql.ref('callId')} = ${selection.callId}`;
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
    if (scope === '*') branches.push(sql<SqlBool>`${sql.ref('callType')} = ${callType}`);
    else if (scope.length > 0) {
      branches.push(
        sql<SqlBool>`(${sql.ref('callType')} = ${callType} and ${sql.ref('userId')} in (${sql.join([...scope])}))`,
      );
    }
  }
  if (branches.length === 0) return 'none';
  return sql<SqlBool>`(${sql.join(branches, sql` or `)})`;
}

/**
 * Multi-row INSERT ... ON CONFLICT of a batch of records: `update` replaces the whole row with the
 * newer version (upsert), `nothing` keeps the first version (insert-once).
 *
 * The statement text is built directly rather than through Kysely's builder: for thousands of rows
 * the builder's per-value nodes cost more than the database's own work. Table and column names
 * come from the kinds' row definitions only; every value is a bound parameter.
 */
async function writeRecords<Write, Row>(
  db: Executor,
  { table, key, columns, toRow }: RecordTable<string, Write, unknown, Row>,
  records: readonly Write[] | undefined,
  onConflict: 'update' | 'nothing',
): Promise<void> {
  if (!records || records.length === 0) return;
  // PostgreSQL refuses to update one row twice in a statement: keep the last version of each key.
  const byKey = new Map<string, Row>();
  for (const record of records) {
    const row = toRow(record);
    byKey.set(key.map((column) => String(row[column])).join('\u0000'), row);
  }
  const unique = [...byKey.values()];
  const quoted = (column: string) => `"${columnName(column)}"`;
  const updates = columns.filter((column) => !key.includes(column));
  const conflict =
    onConflict === 'nothing' || updates.length === 0
      ? 'do nothing'
      : `do update set ${updates.map((column) => `${quoted(column)} = excluded.${quoted(column)}`).join(', ')}`;
  const head = `insert into "${table}" (${columns.map(quoted).join(', ')}) values `;
  const tail = ` on conflict (${key.map(quoted).join(', ')}) ${conflict}`;
  const numbered = db.getExecutor().adapter instanceof PostgresAdapter;
  const chunkSize = Math.max(1, Math.floor(MAX_PARAMS_PER_STATEMENT / columns.length));
  for (let i = 0; i < unique.length; i += chunkSize) {
    const chunk = unique.slice(i, i + chunkSize);
    const parameters: unknown[] = [];
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
