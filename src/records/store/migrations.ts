import type { Kysely, Migration, MigrationProvider } from 'kysely';

/**
 * Versioned schema migrations, defined in code so that the built package needs no migration
 * files on disk. Names sort in application order; never edit a released migration, add one.
 */
const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('user_call_events')
        .addColumn('event_id', 'text', (c) => c.primaryKey())
        .addColumn('call_id', 'text', (c) => c.notNull())
        .addColumn('call_leg_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('user_name', 'text', (c) => c.notNull())
        .addColumn('call_type', 'text', (c) => c.notNull())
        .addColumn('direction', 'text', (c) => c.notNull())
        .addColumn('result', 'text', (c) => c.notNull())
        .addColumn('a_num', 'text', (c) => c.notNull())
        .addColumn('b_num', 'text', (c) => c.notNull())
        .addColumn('queue_id', 'text')
        .addColumn('queue_name', 'text')
        .addColumn('timestamp_ms', 'bigint', (c) => c.notNull())
        .addColumn('answer_time_ms', 'bigint')
        .addColumn('end_time_ms', 'bigint')
        .addColumn('duration_seconds', 'integer', (c) => c.notNull())
        .addColumn('recording_ids', 'text', (c) => c.notNull())
        .addColumn('modified_ms', 'bigint', (c) => c.notNull())
        .execute();
      // Per-user windows (the common REST query: UserIDs + StartTime/EndTime, or an agent's own calls).
      await db.schema
        .createIndex('user_call_events_user_time')
        .on('user_call_events')
        .columns(['user_id', 'timestamp_ms'])
        .execute();
      await db.schema
        .createIndex('user_call_events_user_modified')
        .on('user_call_events')
        .columns(['user_id', 'modified_ms'])
        .execute();
      // Admin windows without a UserIDs filter.
      await db.schema
        .createIndex('user_call_events_time')
        .on('user_call_events')
        .column('timestamp_ms')
        .execute();
      await db.schema
        .createIndex('user_call_events_modified')
        .on('user_call_events')
        .column('modified_ms')
        .execute();
      await db.schema.createIndex('user_call_events_call').on('user_call_events').column('call_id').execute();

      await db.schema
        .createTable('service_calls')
        .addColumn('event_id', 'text', (c) => c.primaryKey())
        .addColumn('call_id', 'text', (c) => c.notNull())
        .addColumn('queue_id', 'text', (c) => c.notNull())
        .addColumn('queue_name', 'text', (c) => c.notNull())
        .addColumn('a_num', 'text', (c) => c.notNull())
        .addColumn('b_num', 'text', (c) => c.notNull())
        .addColumn('arrival_time_ms', 'bigint', (c) => c.notNull())
        .addColumn('answer_time_ms', 'bigint')
        .addColumn('end_time_ms', 'bigint')
        .addColumn('wait_time_seconds', 'integer', (c) => c.notNull())
        .addColumn('duration_seconds', 'integer', (c) => c.notNull())
        .addColumn('result', 'text')
        .addColumn('answered_by_user_id', 'text')
        .addColumn('answered_by_user_name', 'text')
        .addColumn('allocation_count', 'integer', (c) => c.notNull())
        .addColumn('recording_ids', 'text', (c) => c.notNull())
        .addColumn('modified_ms', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('service_calls_queue_time')
        .on('service_calls')
        .columns(['queue_id', 'arrival_time_ms'])
        .execute();
      await db.schema
        .createIndex('service_calls_queue_modified')
        .on('service_calls')
        .columns(['queue_id', 'modified_ms'])
        .execute();
      await db.schema
        .createIndex('service_calls_time')
        .on('service_calls')
        .column('arrival_time_ms')
        .execute();
      await db.schema
        .createIndex('service_calls_modified')
        .on('service_calls')
        .column('modified_ms')
        .execute();
      await db.schema.createIndex('service_calls_call').on('service_calls').column('call_id').execute();

      await db.schema
        .createTable('service_call_details')
        .addColumn('event_id', 'text', (c) => c.primaryKey())
        .addColumn('call_id', 'text', (c) => c.notNull())
        .addColumn('call_leg_id', 'text')
        .addColumn('queue_id', 'text', (c) => c.notNull())
        .addColumn('queue_name', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text')
        .addColumn('user_name', 'text')
        .addColumn('event_type', 'integer', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('timestamp_ms', 'bigint', (c) => c.notNull())
        .addColumn('modified_ms', 'bigint', (c) => c.notNull())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('sub_seq', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('service_call_details_call')
        .on('service_call_details')
        .columns(['call_id', 'seq', 'sub_seq'])
        .execute();

      await db.schema
        .createTable('outbound_service_calls')
        .addColumn('event_id', 'text', (c) => c.primaryKey())
        .addColumn('call_id', 'text', (c) => c.notNull())
        .addColumn('call_leg_id', 'text', (c) => c.notNull())
        .addColumn('queue_id', 'text', (c) => c.notNull())
        .addColumn('queue_name', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('user_name', 'text', (c) => c.notNull())
        .addColumn('a_num', 'text', (c) => c.notNull())
        .addColumn('b_num', 'text', (c) => c.notNull())
        .addColumn('timestamp_ms', 'bigint', (c) => c.notNull())
        .addColumn('answer_time_ms', 'bigint')
        .addColumn('end_time_ms', 'bigint')
        .addColumn('duration_seconds', 'integer', (c) => c.notNull())
        .addColumn('result', 'text')
        .addColumn('recording_ids', 'text', (c) => c.notNull())
        .addColumn('modified_ms', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('outbound_service_calls_queue_time')
        .on('outbound_service_calls')
        .columns(['queue_id', 'timestamp_ms'])
        .execute();
      await db.schema
        .createIndex('outbound_service_calls_queue_modified')
        .on('outbound_service_calls')
        .columns(['queue_id', 'modified_ms'])
        .execute();
      await db.schema
        .createIndex('outbound_service_calls_time')
        .on('outbound_service_calls')
        .column('timestamp_ms')
        .execute();
      await db.schema
        .createIndex('outbound_service_calls_modified')
        .on('outbound_service_calls')
        .column('modified_ms')
        .execute();
      await db.schema
        .createIndex('outbound_service_calls_call')
        .on('outbound_service_calls')
        .column('call_id')
        .execute();

      await db.schema
        .createTable('outbound_callback_calls')
        .addColumn('event_id', 'text', (c) => c.primaryKey())
        .addColumn('call_id', 'text', (c) => c.notNull())
        .addColumn('call_leg_id', 'text', (c) => c.notNull())
        .addColumn('callback_list_id', 'text', (c) => c.notNull())
        .addColumn('callback_list_name', 'text', (c) => c.notNull())
        .addColumn('callback_request_id', 'text', (c) => c.notNull())
        .addColumn('queue_id', 'text')
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('user_name', 'text', (c) => c.notNull())
        .addColumn('a_num', 'text', (c) => c.notNull())
        .addColumn('b_num', 'text', (c) => c.notNull())
        .addColumn('timestamp_ms', 'bigint', (c) => c.notNull())
        .addColumn('answer_time_ms', 'bigint')
        .addColumn('end_time_ms', 'bigint')
        .addColumn('duration_seconds', 'integer', (c) => c.notNull())
        .addColumn('result', 'text')
        .addColumn('recording_ids', 'text', (c) => c.notNull())
        .addColumn('modified_ms', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('outbound_callback_calls_list_time')
        .on('outbound_callback_calls')
        .columns(['callback_list_id', 'timestamp_ms'])
        .execute();
      await db.schema
        .createIndex('outbound_callback_calls_list_modified')
        .on('outbound_callback_calls')
        .columns(['callback_list_id', 'modified_ms'])
        .execute();
      await db.schema
        .createIndex('outbound_callback_calls_time')
        .on('outbound_callback_calls')
        .column('timestamp_ms')
        .execute();
      await db.schema
        .createIndex('outbound_callback_calls_modified')
        .on('outbound_callback_calls')
        .column('modified_ms')
        .execute();
      await db.schema
        .createIndex('outbound_callback_calls_call')
        .on('outbound_callback_calls')
        .column('call_id')
        .execute();

      await db.schema
        .createTable('checkpoints')
        .addColumn('consumer', 'text', (c) => c.primaryKey())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('secret_keys')
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('key_hash', 'text', (c) => c.notNull())
        .addColumn('created_ms', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('secret_keys_pk', ['user_id', 'key_hash'])
        .execute();
      await db.schema
        .createIndex('secret_keys_user_created')
        .on('secret_keys')
        .columns(['user_id', 'created_ms'])
        .execute();

      await db.schema
        .createTable('call_progress')
        .addColumn('call_id', 'text', (c) => c.primaryKey())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('ended', 'integer', (c) => c.notNull())
        .addColumn('last_seq', 'bigint', (c) => c.notNull())
        .addColumn('last_time_ms', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('call_progress_open')
        .on('call_progress')
        .columns(['ended', 'last_time_ms'])
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      for (const table of [
        'call_progress',
        'secret_keys',
        'checkpoints',
        'outbound_callback_calls',
        'outbound_service_calls',
        'service_call_details',
        'service_calls',
        'user_call_events',
      ]) {
        await db.schema.dropTable(table).ifExists().execute();
      }
    },
  },
  '0002_callback_requests': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('callback_requests')
        .addColumn('callback_request_id', 'text', (c) => c.primaryKey())
        .addColumn('callback_list_id', 'text', (c) => c.notNull())
        .addColumn('queue_id', 'text')
        .addColumn('number', 'text', (c) => c.notNull())
        .addColumn('call_id', 'text')
        .addColumn('origin', 'text', (c) => c.notNull())
        .addColumn('note', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_ms', 'bigint', (c) => c.notNull())
        .addColumn('created_by_user_id', 'text')
        .addColumn('closed_ms', 'bigint')
        .addColumn('closed_by_user_id', 'text')
        .addColumn('modified_ms', 'bigint', (c) => c.notNull())
        .execute();
      // A list's requests in creation order, all of them or those of one status (the open ones).
      await db.schema
        .createIndex('callback_requests_list_created')
        .on('callback_requests')
        .columns(['callback_list_id', 'created_ms'])
        .execute();
      await db.schema
        .createIndex('callback_requests_list_status_created')
        .on('callback_requests')
        .columns(['callback_list_id', 'status', 'created_ms'])
        .execute();
      // The attempt history of a request is its callback call records.
      await db.schema
        .createIndex('outbound_callback_calls_request')
        .on('outbound_callback_calls')
        .columns(['callback_request_id', 'timestamp_ms'])
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropIndex('outbound_callback_calls_request').ifExists().execute();
      await db.schema.dropTable('callback_requests').ifExists().execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};

/** Our own migration bookkeeping tables, so other packages' Kysely migrations cannot collide. */
export const MIGRATION_TABLE = 'records_migration';
export const MIGRATION_LOCK_TABLE = 'records_migration_lock';
