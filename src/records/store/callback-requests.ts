/**
 * Callback requests in the record store (the `CallbackRequestStore` half of `RecordStore`), over
 * the same Kysely database and SQL subset as ./store.ts, so SQLite and PostgreSQL share it.
 *
 * Status changes are single conditional UPDATEs (`... WHERE status IN (allowed)`), so two agents
 * closing the same request at once cannot both succeed: the second gets a Conflict.
 */
import { type Kysely, sql, type Transaction } from 'kysely';
import { RecordsError, RecordsErrorCode } from '../errors.js';
import {
  CALLBACK_REOPENABLE_STATUSES,
  CALLBACK_REQUEST_STATUSES,
  type CallbackRequest,
  type CallbackRequestChange,
  type CallbackRequestOrigin,
  type CallbackRequestQuery,
  type CallbackRequestStatus,
  type CallbackRequestStore,
  type CloseCallbackRequest,
  type OutboundCallbackCall,
  type ReopenCallbackRequest,
} from '../types.js';
import type { CallbackRequestsTable, RecordsDatabase } from './schema.js';

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
    const rows = requests.slice(i, i + IN_LIST_CHUNK).map(callbackRequestToRow);
    if (rows.length === 0) continue;
    await db
      .insertInto('callback_requests')
      .values(rows)
      .onConflict((conflict) => conflict.column('callback_request_id').doNothing())
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
      .where('callback_request_id', '=', callbackRequestId)
      .executeTakeFirst();
    return row ? callbackRequestFromRow(row) : undefined;
  };

  /** One conditional UPDATE; when it matches nothing, tell a missing request from a conflicting one. */
  const changeStatus = async (
    callbackRequestId: string,
    allowedFrom: readonly CallbackRequestStatus[],
    to: Pick<CallbackRequestsTable, 'status' | 'closed_ms' | 'closed_by_user_id'>,
    atMs: number,
    note: string | undefined,
  ): Promise<CallbackRequestChange> => {
    const row = await db
      .updateTable('callback_requests')
      .set({
        ...to,
        ...(note === undefined ? {} : { note }),
        // Strictly later than the last change, so a ModifiedAfter poller sees every change.
        modified_ms: sql<number>`case when modified_ms >= ${atMs} then modified_ms + 1 else ${atMs} end`,
      })
      .where('callback_request_id', '=', callbackRequestId)
      .where('status', 'in', [...allowedFrom])
      .returningAll()
      .executeTakeFirst();
    if (row) return { ok: true, request: callbackRequestFromRow(row) };
    const current = await get(callbackRequestId);
    return current ? { ok: false, reason: 'Conflict', request: current } : { ok: false, reason: 'NotFound' };
  };

  return {
    async createCallbackRequest(request: CallbackRequest): Promise<CallbackRequest> {
      await insertCallbackRequests(db, [request]);
      const stored = await get(request.callbackRequestId);
      if (!stored) {
        throw new RecordsError(
          RecordsErrorCode.StoreWriteFailed,
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
        .where('callback_list_id', '=', query.callbackListId);
      if (query.status !== undefined) select = select.where('status', '=', query.status);
      select = select.orderBy('created_ms').orderBy('callback_request_id');
      if (query.limit !== undefined) select = select.limit(query.limit);
      return (await select.execute()).map(callbackRequestFromRow);
    },

    listCallbackAttempts: attemptsOf,

    closeCallbackRequest(change: CloseCallbackRequest): Promise<CallbackRequestChange> {
      return changeStatus(
        change.callbackRequestId,
        ['Open'],
        { status: change.status, closed_ms: change.atMs, closed_by_user_id: change.byUserId },
        change.atMs,
        change.note,
      );
    },

    reopenCallbackRequest(change: ReopenCallbackRequest): Promise<CallbackRequestChange> {
      return changeStatus(
        change.callbackRequestId,
        CALLBACK_REOPENABLE_STATUSES,
        { status: 'Open', closed_ms: null, closed_by_user_id: null },
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
        .where('callback_request_id', 'in', unique.slice(i, i + IN_LIST_CHUNK))
        .execute()),
    );
  }
  return rows.sort(
    (x, y) =>
      x.timestamp_ms - y.timestamp_ms || (x.event_id < y.event_id ? -1 : x.event_id > y.event_id ? 1 : 0),
  );
}

function callbackRequestToRow(request: CallbackRequest): CallbackRequestsTable {
  return {
    callback_request_id: request.callbackRequestId,
    callback_list_id: request.callbackListId,
    queue_id: request.queueId,
    number: request.number,
    call_id: request.callId,
    origin: request.origin,
    note: request.note,
    status: request.status,
    created_ms: request.createdMs,
    created_by_user_id: request.createdByUserId,
    closed_ms: request.closedMs,
    closed_by_user_id: request.closedByUserId,
    modified_ms: request.modifiedMs,
  };
}

const STATUSES: ReadonlySet<string> = new Set(CALLBACK_REQUEST_STATUSES);
const ORIGINS: ReadonlySet<string> = new Set<CallbackRequestOrigin>(['MissedCall', 'Api']);

function callbackRequestFromRow(row: CallbackRequestsTable): CallbackRequest {
  if (!STATUSES.has(row.status) || !ORIGINS.has(row.origin)) {
    throw new RecordsError(
      RecordsErrorCode.CorruptState,
      `callback request ${row.callback_request_id} has an unknown status or origin`,
    );
  }
  return {
    callbackRequestId: row.callback_request_id,
    callbackListId: row.callback_list_id,
    queueId: row.queue_id,
    number: row.number,
    callId: row.call_id,
    origin: row.origin as CallbackRequestOrigin,
    note: row.note,
    status: row.status as CallbackRequestStatus,
    createdMs: row.created_ms,
    createdByUserId: row.created_by_user_id,
    closedMs: row.closed_ms,
    closedByUserId: row.closed_by_user_id,
    modifiedMs: row.modified_ms,
  };
}
