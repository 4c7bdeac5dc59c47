import type { Kysely, Migration, MigrationProvider } from 'kysely';
import { createIndexes, createTable, type TableSpec } from './table-spec.js';

/**
 * Versioned schema migrations of the record tables, defined in code so that the built package
 * needs no migration files on disk. Names sort in application order; never edit a released
 * migration, add one.
 *
 * Tables are written as data (`TableSpec`, ./table-spec.ts), so each table is defined once and
 * SQLite and PostgreSQL get their DDL from the same Kysely schema builder calls. A spec is frozen
 * with its migration: a later change to a record is a new migration (`alterTable`), never an edit
 * here. ./on-disk-schema.test.ts checks the resulting tables against the schema the original
 * migrations created and against the records' row types.
 */

/**
 * The indexes of a call record table: windows per owner (the common REST query: one user's,
 * queue's or list's records by time or by Modified), windows without an owner filter (admins),
 * and the records of one call.
 */
function recordIndexes(table: string, owner: { short: string; column: string }, timeColumn: string) {
  return {
    [`${table}_${owner.short}_time`]: [owner.column, timeColumn],
    [`${table}_${owner.short}_modified`]: [owner.column, 'modified_ms'],
    [`${table}_time`]: [timeColumn],
    [`${table}_modified`]: ['modified_ms'],
    [`${table}_call`]: ['call_id'],
  };
}

/** The columns every outbound call record (service and callback) of migration 0001 ends with. */
const OUTBOUND_CALL_COLUMNS_0001 = {
  user_id: 'text',
  user_name: 'text',
  a_num: 'text',
  b_num: 'text',
  timestamp_ms: 'bigint',
  answer_time_ms: 'bigint?',
  end_time_ms: 'bigint?',
  duration_seconds: 'integer',
  result: 'text?',
  recording_ids: 'text',
  modified_ms: 'bigint',
} as const satisfies TableSpec['columns'];

const TABLES_0001: Record<string, TableSpec> = {
  user_call_events: {
    columns: {
      event_id: 'text key',
      call_id: 'text',
      call_leg_id: 'text',
      user_id: 'text',
      user_name: 'text',
      call_type: 'text',
      direction: 'text',
      result: 'text',
      a_num: 'text',
      b_num: 'text',
      queue_id: 'text?',
      queue_name: 'text?',
      timestamp_ms: 'bigint',
      answer_time_ms: 'bigint?',
      end_time_ms: 'bigint?',
      duration_seconds: 'integer',
      recording_ids: 'text',
      modified_ms: 'bigint',
    },
    indexes: recordIndexes('user_call_events', { short: 'user', column: 'user_id' }, 'timestamp_ms'),
  },
  service_calls: {
    columns: {
      event_id: 'text key',
      call_id: 'text',
      queue_id: 'text',
      queue_name: 'text',
      a_num: 'text',
      b_num: 'text',
      arrival_time_ms: 'bigint',
      answer_time_ms: 'bigint?',
      end_time_ms: 'bigint?',
      wait_time_seconds: 'integer',
      duration_seconds: 'integer',
      result: 'text?',
      answered_by_user_id: 'text?',
      answered_by_user_name: 'text?',
      allocation_count: 'integer',
      recording_ids: 'text',
      modified_ms: 'bigint',
    },
    indexes: recordIndexes('service_calls', { short: 'queue', column: 'queue_id' }, 'arrival_time_ms'),
  },
  service_call_details: {
    columns: {
      event_id: 'text key',
      call_id: 'text',
      call_leg_id: 'text?',
      queue_id: 'text',
      queue_name: 'text',
      user_id: 'text?',
      user_name: 'text?',
      event_type: 'integer',
      reason: 'text?',
      timestamp_ms: 'bigint',
      modified_ms: 'bigint',
      seq: 'bigint',
      sub_seq: 'integer',
    },
    indexes: { service_call_details_call: ['call_id', 'seq', 'sub_seq'] },
  },
  outbound_service_calls: {
    columns: {
      event_id: 'text key',
      call_id: 'text',
      call_leg_id: 'text',
      queue_id: 'text',
      queue_name: 'text',
      ...OUTBOUND_CALL_COLUMNS_0001,
    },
    indexes: recordIndexes('outbound_service_calls', { short: 'queue', column: 'queue_id' }, 'timestamp_ms'),
  },
  outbound_callback_calls: {
    columns: {
      event_id: 'text key',
      call_id: 'text',
      call_leg_id: 'text',
      callback_list_id: 'text',
      callback_list_name: 'text',
      callback_request_id: 'text',
      queue_id: 'text?',
      ...OUTBOUND_CALL_COLUMNS_0001,
    },
    indexes: recordIndexes(
      'outbound_callback_calls',
      { short: 'list', column: 'callback_list_id' },
      'timestamp_ms',
    ),
  },
  checkpoints: {
    columns: { consumer: 'text key', seq: 'bigint' },
    indexes: {},
  },
  // API credentials. src/api/credentials/ owns them now and creates this same table when missing
  // (hence ifNotExists here too: either package may come first on a new database).
  secret_keys: {
    columns: { user_id: 'text', key_hash: 'text', created_ms: 'bigint' },
    primaryKey: { name: 'secret_keys_pk', columns: ['user_id', 'key_hash'] },
    indexes: { secret_keys_user_created: ['user_id', 'created_ms'] },
    ifNotExists: true,
  },
  call_progress: {
    columns: {
      call_id: 'text key',
      state: 'text',
      ended: 'integer',
      last_seq: 'bigint',
      last_time_ms: 'bigint',
    },
    indexes: { call_progress_open: ['ended', 'last_time_ms'] },
  },
};

const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<unknown>): Promise<void> {
      for (const [table, spec] of Object.entries(TABLES_0001)) await createTable(db, table, spec);
    },
    async down(db: Kysely<unknown>): Promise<void> {
      for (const table of Object.keys(TABLES_0001).reverse()) {
        await db.schema.dropTable(table).ifExists().execute();
      }
    },
  },
  '0002_callback_requests': {
    async up(db: Kysely<unknown>): Promise<void> {
      await createTable(db, 'callback_requests', {
        columns: {
          callback_request_id: 'text key',
          callback_list_id: 'text',
          queue_id: 'text?',
          number: 'text',
          call_id: 'text?',
          origin: 'text',
          note: 'text?',
          status: 'text',
          created_ms: 'bigint',
          created_by_user_id: 'text?',
          closed_ms: 'bigint?',
          closed_by_user_id: 'text?',
          modified_ms: 'bigint',
        },
        // A list's requests in creation order, all of them or those of one status (the open ones).
        indexes: {
          callback_requests_list_created: ['callback_list_id', 'created_ms'],
          callback_requests_list_status_created: ['callback_list_id', 'status', 'created_ms'],
        },
      });
      // The attempt history of a request is its callback call records.
      await createIndexes(db, 'outbound_callback_calls', {
        outbound_callback_calls_request: ['callback_request_id', 'timestamp_ms'],
      });
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropIndex('outbound_callback_calls_request').ifExists().execute();
      await db.schema.dropTable('callback_requests').ifExists().execute();
    },
  },
  '0003_transferred_to': {
    // Transfers (DESIGN.md §10): where the user of an event transferred the call, null when they
    // did not (and in every row written before). Added last, after modified_ms, on both dialects.
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('user_call_events').addColumn('transferred_to', 'text').execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('user_call_events').dropColumn('transferred_to').execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};

/**
 * Names our own migration bookkeeping tables (`records_migration`, `records_migration_lock`), so
 * other packages' Kysely migrations on the same database cannot collide.
 */
export const RECORDS_MIGRATION_NAMESPACE = 'records';
