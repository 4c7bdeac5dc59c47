import { randomUUID } from 'node:crypto';
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import { createTable } from '../../records/store/table-spec.js';

/**
 * How many of a user's newest keys were accepted before keys had ids (each /authuser call minted one
 * and only these stayed valid): the keys carried over by migration 0002, so that no key that had
 * already stopped working comes back.
 */
const LEGACY_ACTIVE_KEYS_PER_USER = 10;

interface LegacyKeyRow {
  user_id: string;
  key_hash: string;
  created_ms: number | string;
}

/**
 * The credential store's tables, migrated in their own namespace (`api_credentials_migration`).
 *
 * 0001: `secret_keys` was first created by the record store's migration 0001 and is kept as it is on
 * disk: on databases where it exists this migration changes nothing.
 *
 * 0002: keys get ids (to be listed and revoked) and lookup tags, and stay valid until revoked:
 * `api_secret_keys` replaces `secret_keys`. The keys that were still valid (each user's ten newest)
 * move over untagged; the rest, no longer accepted, are dropped with the old rows, so that no hash
 * of a key outlives its validity. `api_password_hashes` remembers the password keys were minted
 * under, so that a password change revokes them (../auth.ts).
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
  '0002_key_ids_and_password_hashes': {
    async up(plain) {
      await createTable(plain, 'api_secret_keys', {
        columns: {
          key_id: 'text key',
          user_id: 'text',
          key_hash: 'text',
          lookup: 'text?',
          created_ms: 'bigint',
          last_used_ms: 'bigint?',
        },
        indexes: {
          api_secret_keys_user_lookup: ['user_id', 'lookup'],
          api_secret_keys_user_created: ['user_id', 'created_ms'],
        },
      });
      await createTable(plain, 'api_password_hashes', {
        columns: { user_id: 'text key', password_hash: 'text', changed_ms: 'bigint' },
        indexes: {},
      });
      // Migrations see the tables as they are on disk, untyped.
      const db = plain as Kysely<{
        secret_keys: LegacyKeyRow;
        api_secret_keys: {
          key_id: string;
          user_id: string;
          key_hash: string;
          lookup: string | null;
          created_ms: number;
          last_used_ms: number | null;
        };
      }>;
      const legacy = await db
        .selectFrom('secret_keys')
        .select(['user_id', 'key_hash', 'created_ms'])
        .orderBy('user_id')
        .orderBy('created_ms', 'desc')
        .orderBy('key_hash')
        .execute();
      const kept = new Map<string, number>();
      for (const row of legacy) {
        const count = kept.get(row.user_id) ?? 0;
        if (count >= LEGACY_ACTIVE_KEYS_PER_USER) continue;
        kept.set(row.user_id, count + 1);
        await db
          .insertInto('api_secret_keys')
          .values({
            key_id: randomUUID(),
            user_id: row.user_id,
            key_hash: row.key_hash,
            lookup: null,
            created_ms: Number(row.created_ms),
            last_used_ms: null,
          })
          .execute();
      }
      await db.deleteFrom('secret_keys').execute();
    },
    async down(db) {
      await db.schema.dropTable('api_password_hashes').execute();
      await db.schema.dropTable('api_secret_keys').execute();
    },
  },
};

export const credentialMigrations: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};

export const CREDENTIALS_MIGRATION_NAMESPACE = 'api_credentials';
