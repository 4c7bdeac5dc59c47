/**
 * Callback requests in the record store (the `CallbackRequestStore` half of `RecordStore`), over
 * the same Kysely database and SQL subset as ./store.ts, so SQLite and PostgreSQL share it.
 *
 * Status changes are single conditional UPDATEs (`... WHERE status IN (allowed)`), so two agents
 * closing the same request at once cannot both succeed: the second gets a Conflict.
 */
import { type Kysely, sql, type Transaction } from 'kysely';
import { RecordsError } from '../errors.js';
import { type CallbackRequestRow, callbackRequestTable } from '../kinds/callback-request/row.js';
import {
  CALLBACK_REOPENABLE_STATUSES,
  type CallbackRequest,
  type CallbackRequestChange,
  type CallbackRequestQuery,
  type CallbackRequestStatus,
  type CallbackRequestStore,
  type CloseCallbackRequest,
  type OutboundCallbackCall,
  type ReopenCallbackRequest,
} from '../types.js';
import type { RecordsDatabase } from './schema.js';

/** Ids per IN (...) list. */
const IN_LIST_CHUNK = 500;

type Executor = Kysely<RecordsDatabase> | Transaction<RecordsDatabase>;

/**
 * Insert requests that do not exist yet (by callbackRequestId); existing ones stay as they are.
 * Post-processing calls this inside its batch transaction.
 */
export async function insertCallbackRequests(
  db: Executor,
  requests: readonly CallbackRequest[],
): Promise<void> {
  for (let i = 0; i < requests.length; i += IN_LIST_CHUNK) {
    const rows = requests.slice(i, i + IN_LIST_CHUNK).map(callbackRequestTable.toRow);
    if (rows.length === 0) continue;
    await db
      .insertInto('callback_requests')
      .values(rows)
      .onConflict((conflict) => conflict.column('callbackRequestId').doNothing())
      .execute();
  }
}

export function callbackRequestMethods(
  db: Kysely<RecordsDatabase>,
  attemptsOf: (callbackRequestIds: readonly string[]) => Promise<OutboundCallbackCall[]>,
): CallbackRequestStore {
  const get = async (callbackRequestId: string): Promise<CallbackRequest | undefined> => {
    const row = await db
      .selectFrom('callback_requests')
      .selectAll()
      .where('callbackRequestId', '=', callbackRequestId)
      .executeTakeFirst();
    return row ? callbackRequestTable.fromRow(row) : undefined;
  };

  /** One conditional UPDATE; when it matches nothing, tell a missing request from a conflicting one. */
  const changeStatus = async (
    callbackRequestId: string,
    allowedFrom: readonly CallbackRequestStatus[],
    to: Pick<CallbackRequestRow, 'status' | 'closedMs' | 'closedByUserId'>,
    atMs: number,
    note: string | undefined,
  ): Promise<CallbackRequestChange> => {
    const row = await db
      .updateTable('callback_requests')
      .set({
        ...to,
        ...(note === undefined ? {} : { note }),
        // Strictly later than the last change, so a ModifiedAfter poller sees every change.
        modifiedMs: sql<number>`case when ${sql.ref('modifiedMs')} >= ${atMs} then ${sql.ref('modifiedMs')} + 1 else ${atMs} end`,
      })
      .where('callbackRequestId', '=', callbackRequestId)
      .where('status', 'in', [...allowedFrom])
      .returning(callbackRequestTable.columns)
      .executeTakeFirst();
    if (row) return { ok: true, request: callbackRequestTable.fromRow(row) };
    const current = await get(callbackRequestId);
    return current ? { ok: false, reason: 'Conflict', request: current } : { ok: false, reason: 'NotFound' };
  };

  return {
    async createCallbackRequest(request: CallbackRequest): Promise<CallbackRequest> {
      await insertCallbackRequests(db, [request]);
      const stored = await get(request.callbackRequestId);
      if (!stored) {
        throw new RecordsError(
          'RECORDS_STORE_WRITE_FAILED',
          `callback request ${request.callbackRequestId} was not stored`,
        );
      }
      return stored;
    },

    getCallbackRequest: get,

    async listCallbackRequests(query: CallbackRequestQuery): Promise<CallbackRequest[]> {
      let select = db
        .selectFrom('callback_requests')
        .selectAll()
        .where('callbackListId', '=', query.callbackListId);
      if (query.status !== undefined) select = select.where('status', '=', query.status);
      select = select.orderBy('createdMs').orderBy('callbackRequestId');
      if (query.limit !== undefined) select = select.limit(query.limit);
      return (await select.execute()).map(callbackRequestTable.fromRow);
    },

    listCallbackAttempts: attemptsOf,

    closeCallbackRequest(change: CloseCallbackRequest): Promise<CallbackRequestChange> {
      return changeStatus(
        change.callbackRequestId,
        ['Open'],
        { status: change.status, closedMs: change.atMs, closedByUserId: change.byUserId },
        change.atMs,
        change.note,
      );
    },

    reopenCallbackRequest(change: ReopenCallbackRequest): Promise<CallbackRequestChange> {
      return changeStatus(
        change.callbackRequestId,
        CALLBACK_REOPENABLE_STATUSES,
        { status: 'Open', closedMs: null, closedByUserId: null },
        change.atMs,
        change.note,
      );
    },
  };
}

/** Chunked `callback_request_id IN (...)` over the callback call records, oldest first. */
export async function selectCallbackAttemptRows(
  db: Kysely<RecordsDatabase>,
  callbackRequestIds: readonly string[],
): Promise<RecordsDatabase['outbound_callback_calls'][]> {
  const unique = [...new Set(callbackRequestIds)];
  const rows: RecordsDatabase['outbound_callback_calls'][] = [];
  for (let i = 0; i < unique.length; i += IN_LIST_CHUNK) {
    rows.push(
      ...(await db
        .selectFrom('outbound_callback_calls')
        .selectAll()
        .where('callbackRequestId', 'in', unique.slice(i, i + IN_LIST_CHUNK))
        .execute()),
    );
  }
  return rows.sort(
    (x, y) => x.timestampMs - y.timestampMs || (x.eventId < y.eventId ? -1 : x.eventId > y.eventId ? 1 : 0),
  );
}
