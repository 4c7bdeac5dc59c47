import type { Migration, MigrationProvider } from 'kysely';
import { createTable } from '../../records/store/table-spec.js';

/**
 * The credential store's tables, migrated in their own namespace (`api_credentials_migration`).
 * `secret_keys` was first created by the record store's migration 0001 and is kept as it is on
 * disk: on databases where it exists this migration changes nothing.
 */
const migrations: Record<string, Migration> = {
  '0001_secret_keys': {
    async up(db) {
      await createTable(db, 'secret_keys', {
        columns: { user_id: 'text', key_hash: 'text', created_ms: 'bigint' },
        primaryKey: { name: 'secret_keys_pk', columns: ['user_id', 'key_hash'] },
        indexes: { secret_keys_user_created: ['user_id', 'created_ms'] },
        ifNotExists: true,
      });
    },
    // Nothing to undo: the table may be the record store's (see above), and keys must not be lost.
    async down() {},
  },
};

export const credentialMigrations: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};

export const CREDENTIALS_MIGRATION_NAMESPACE = 'api_credentials';
