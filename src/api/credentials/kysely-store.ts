import type { Kysely } from 'kysely';
import { CamelCaseColumnsPlugin } from '../../records/store/camel-case.js';
import type { SqlDatabase } from '../../records/store/database.js';
import { CREDENTIALS_MIGRATION_NAMESPACE, credentialMigrations } from './migrations.js';
import type { CredentialStore } from './types.js';

/** `secret_keys` named by fields (columns user_id, key_hash, created_ms on disk; see camel-case.ts). */
type CredentialsDatabase = {
  secret_keys: { userId: string; keyHash: string; createdMs: number };
};

/**
 * The credential store on the platform's database (SQLite or PostgreSQL), next to the record
 * store; the caller opens and closes the database. Brings its table to the latest migration first.
 */
export async function openCredentialStore(database: SqlDatabase): Promise<CredentialStore> {
  await database.migrate(CREDENTIALS_MIGRATION_NAMESPACE, credentialMigrations);
  return createKyselyCredentialStore(
    database.kysely
      .withPlugin(new CamelCaseColumnsPlugin({ secret_keys: ['userId', 'keyHash', 'createdMs'] }))
      .withTables<CredentialsDatabase>(),
  );
}

export function createKyselyCredentialStore(db: Kysely<CredentialsDatabase>): CredentialStore {
  return {
    async saveSecretKeyHash(userId: string, keyHash: string, createdMs: number): Promise<void> {
      // Saving the same key twice keeps the first row (its creation time).
      await db
        .insertInto('secret_keys')
        .values({ userId, keyHash, createdMs })
        .onConflict((conflict) => conflict.columns(['userId', 'keyHash']).doNothing())
        .execute();
    },

    async listSecretKeyHashes(userId: string): Promise<string[]> {
      const rows = await db
        .selectFrom('secret_keys')
        .select('keyHash')
        .where('userId', '=', userId)
        .orderBy('createdMs', 'desc')
        .orderBy('keyHash')
        .execute();
      return rows.map((row) => row.keyHash);
    },
  };
}
