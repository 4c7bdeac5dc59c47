/**
 * The webhook outbox on the platform's database (SQLite or PostgreSQL), with migrations of its own
 * (namespace `webhooks`): one row per (endpoint, event) to deliver, and the checkpoint — the last
 * journal sequence whose events were enqueued — written in the same transaction as the rows.
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import type { SqlDatabase } from '../records/store/database.js';
import { createTable } from '../records/store/table-spec.js';

export type DeliveryStatus = 'pending' | 'delivered' | 'dead';
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['pending', 'delivered', 'dead'];

export interface Delivery {
  /** `<endpointId>:<eventId>`. */
  deliveryId: string;
  endpointId: string;
  /** The URL at enqueue time (display only: deliveries go to the configured URL of endpointId). */
  endpoint: string;
  /** The event id: the `webhook-id`. */
  eventId: string;
  seq: number;
  eventIndex: number;
  eventName: string;
  /** The JSON body, fixed at enqueue time (so every attempt sends the same bytes). */
  body: string;
  status: DeliveryStatus;
  attempts: number;
  createdMs: number;
  nextAttemptMs: number;
  firstAttemptMs: number | null;
  lastAttemptMs: number | null;
  /** `HTTP 503`, `timeout`, `connection refused`, …; null after a success. */
  lastError: string | null;
  deliveredMs: number | null;
}

interface Row {
  delivery_id: string;
  endpoint_id: string;
  endpoint: string;
  event_id: string;
  seq: number;
  event_index: number;
  event_name: string;
  body: string;
  status: string;
  attempts: number;
  created_ms: number;
  next_attempt_ms: number;
  first_attempt_ms: number | null;
  last_attempt_ms: number | null;
  last_error: string | null;
  delivered_ms: number | null;
}

interface Db {
  webhook_deliveries: Row;
  webhook_checkpoint: { name: string; seq: number };
}

const migrations: Record<string, Migration> = {
  '0001_webhook_outbox': {
    async up(db) {
      await createTable(db, 'webhook_deliveries', {
        columns: {
          delivery_id: 'text key',
          endpoint_id: 'text',
          endpoint: 'text',
          event_id: 'text',
          seq: 'bigint',
          event_index: 'integer',
          event_name: 'text',
          body: 'text',
          status: 'text',
          attempts: 'integer',
          created_ms: 'bigint',
          next_attempt_ms: 'bigint',
          first_attempt_ms: 'bigint?',
          last_attempt_ms: 'bigint?',
          last_error: 'text?',
          delivered_ms: 'bigint?',
        },
        indexes: {
          webhook_deliveries_queue: ['endpoint_id', 'status', 'seq', 'event_index'],
          webhook_deliveries_status: ['status', 'created_ms'],
        },
      });
      await createTable(db, 'webhook_checkpoint', {
        columns: { name: 'text key', seq: 'bigint' },
        indexes: {},
      });
    },
    async down(db) {
      await db.schema.dropTable('webhook_deliveries').ifExists().execute();
      await db.schema.dropTable('webhook_checkpoint').ifExists().execute();
    },
  },
};

const provider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};

export const WEBHOOKS_MIGRATION_NAMESPACE = 'webhooks';

export type NewDelivery = Omit<
  Delivery,
  'status' | 'attempts' | 'firstAttemptMs' | 'lastAttemptMs' | 'lastError' | 'deliveredMs'
>;

export interface DeliveryQuery {
  status?: DeliveryStatus;
  endpointId?: string;
  eventName?: string;
  limit: number;
}

export interface WebhookStore {
  /** The last journal seq enqueued; undefined before the first enqueue. */
  checkpoint(): Promise<number | undefined>;
  /** Insert the rows (ignoring ones already there) and move the checkpoint, in one transaction. */
  enqueue(rows: readonly NewDelivery[], checkpoint: number): Promise<void>;
  /** The endpoint's oldest pending delivery (per-endpoint order: journal order). */
  head(endpointId: string): Promise<Delivery | undefined>;
  get(deliveryId: string): Promise<Delivery | undefined>;
  markDelivered(deliveryId: string, attempt: AttemptInfo): Promise<void>;
  markFailed(
    deliveryId: string,
    attempt: AttemptInfo & { error: string; nextAttemptMs: number; dead: boolean },
  ): Promise<void>;
  /** Back to pending, due now, a fresh dead-letter clock. */
  redeliver(deliveryId: string, nowMs: number): Promise<Delivery | undefined>;
  list(query: DeliveryQuery): Promise<Delivery[]>;
  /** Delete delivered rows delivered before `beforeMs` and dead rows last tried before it; how many. */
  prune(beforeMs: number): Promise<number>;
}

export interface AttemptInfo {
  nowMs: number;
  firstAttemptMs: number;
  attempts: number;
}

const fromRow = (row: Row): Delivery => ({
  deliveryId: row.delivery_id,
  endpointId: row.endpoint_id,
  endpoint: row.endpoint,
  eventId: row.event_id,
  seq: Number(row.seq),
  eventIndex: Number(row.event_index),
  eventName: row.event_name,
  body: row.body,
  status: row.status as DeliveryStatus,
  attempts: Number(row.attempts),
  createdMs: Number(row.created_ms),
  nextAttemptMs: Number(row.next_attempt_ms),
  firstAttemptMs: row.first_attempt_ms === null ? null : Number(row.first_attempt_ms),
  lastAttemptMs: row.last_attempt_ms === null ? null : Number(row.last_attempt_ms),
  lastError: row.last_error,
  deliveredMs: row.delivered_ms === null ? null : Number(row.delivered_ms),
});

/**
 * `source`: a cluster node's own share of the shared outbox — its checkpoint, and the deliveries of
 * its events (ids `<source>~…`), which only it delivers. Without it: the whole table (one machine).
 */
export async function openWebhookStore(
  database: SqlDatabase,
  opts: { source?: string } = {},
): Promise<WebhookStore> {
  await database.migrate(WEBHOOKS_MIGRATION_NAMESPACE, provider);
  const db = database.kysely as unknown as Kysely<Db>;
  const { source } = opts;
  const CHECKPOINT = source === undefined ? 'feed' : `feed:${source}`;
  const store: WebhookStore = {
    async checkpoint() {
      const row = await db
        .selectFrom('webhook_checkpoint')
        .select('seq')
        .where('name', '=', CHECKPOINT)
        .executeTakeFirst();
      return row === undefined ? undefined : Number(row.seq);
    },
    async enqueue(rows, checkpoint) {
      await db.transaction().execute(async (tx) => {
        for (const row of rows) {
          await tx
            .insertInto('webhook_deliveries')
            .values({
              delivery_id: row.deliveryId,
              endpoint_id: row.endpointId,
              endpoint: row.endpoint,
              event_id: row.eventId,
              seq: row.seq,
              event_index: row.eventIndex,
              event_name: row.eventName,
              body: row.body,
              status: 'pending',
              attempts: 0,
              created_ms: row.createdMs,
              next_attempt_ms: row.nextAttemptMs,
              first_attempt_ms: null,
              last_attempt_ms: null,
              last_error: null,
              delivered_ms: null,
            })
            .onConflict((conflict) => conflict.column('delivery_id').doNothing())
            .execute();
        }
        await tx
          .insertInto('webhook_checkpoint')
          .values({ name: CHECKPOINT, seq: checkpoint })
          .onConflict((conflict) => conflict.column('name').doUpdateSet({ seq: checkpoint }))
          .execute();
      });
    },
    async head(endpointId) {
      let select = db
        .selectFrom('webhook_deliveries')
        .selectAll()
        .where('endpoint_id', '=', endpointId)
        .where('status', '=', 'pending');
      if (source !== undefined) select = select.where('event_id', 'like', `${source}~%`);
      const row = await select.orderBy('seq').orderBy('event_index').limit(1).executeTakeFirst();
      return row === undefined ? undefined : fromRow(row);
    },
    async get(deliveryId) {
      const row = await db
        .selectFrom('webhook_deliveries')
        .selectAll()
        .where('delivery_id', '=', deliveryId)
        .executeTakeFirst();
      return row === undefined ? undefined : fromRow(row);
    },
    async markDelivered(deliveryId, attempt) {
      await db
        .updateTable('webhook_deliveries')
        .set({
          status: 'delivered',
          attempts: attempt.attempts,
          first_attempt_ms: attempt.firstAttemptMs,
          last_attempt_ms: attempt.nowMs,
          last_error: null,
          delivered_ms: attempt.nowMs,
        })
        .where('delivery_id', '=', deliveryId)
        .execute();
    },
    async markFailed(deliveryId, attempt) {
      await db
        .updateTable('webhook_deliveries')
        .set({
          status: attempt.dead ? 'dead' : 'pending',
          attempts: attempt.attempts,
          first_attempt_ms: attempt.firstAttemptMs,
          last_attempt_ms: attempt.nowMs,
          last_error: attempt.error.slice(0, 500),
          next_attempt_ms: attempt.nextAttemptMs,
        })
        .where('delivery_id', '=', deliveryId)
        .execute();
    },
    async redeliver(deliveryId, nowMs) {
      await db
        .updateTable('webhook_deliveries')
        .set({
          status: 'pending',
          attempts: 0,
          first_attempt_ms: null,
          next_attempt_ms: nowMs,
          delivered_ms: null,
        })
        .where('delivery_id', '=', deliveryId)
        .execute();
      return store.get(deliveryId);
    },
    async list(query) {
      let select = db.selectFrom('webhook_deliveries').selectAll();
      if (query.status !== undefined) select = select.where('status', '=', query.status);
      if (query.endpointId !== undefined) select = select.where('endpoint_id', '=', query.endpointId);
      if (query.eventName !== undefined) select = select.where('event_name', '=', query.eventName);
      const rows = await select
        .orderBy('seq', 'desc')
        .orderBy('event_index', 'desc')
        .orderBy('endpoint_id')
        .limit(query.limit)
        .execute();
      return rows.map(fromRow);
    },
    async prune(beforeMs) {
      const result = await db
        .deleteFrom('webhook_deliveries')
        .where((eb) =>
          eb.or([
            eb.and([eb('status', '=', 'delivered'), eb('delivered_ms', '<', beforeMs)]),
            eb.and([eb('status', '=', 'dead'), eb('last_attempt_ms', '<', beforeMs)]),
          ]),
        )
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
  return store;
}
