import type { Kysely } from 'kysely';
import { CamelCaseColumnsPlugin } from '../../records/store/camel-case.js';
import type { SqlDatabase } from '../../records/store/database.js';
import { CREDENTIALS_MIGRATION_NAMESPACE, credentialMigrations } from './migrations.js';
import type { CredentialStore, NewSecretKey, StoredSecretKey } from './types.js';

const SECRET_KEY_COLUMNS = ['keyId', 'userId', 'keyHash', 'lookup', 'createdMs', 'lastUsedMs'] as const;

/** The tables named by fields (snake_case on disk; see camel-case.ts). */
type CredentialsDatabase = {
  api_secret_keys: StoredSecretKey;
  api_password_hashes: { userId: string; passwordHash: string; changedMs: number };
};

/**
 * The credential store on the platform's database (SQLite or PostgreSQL), next to the record
 * store; the caller opens and closes the database. Brings its tables to the latest migration first.
 */
export async function openCredentialStore(database: SqlDatabase): Promise<CredentialStore> {
  await database.migrate(CREDENTIALS_MIGRATION_NAMESPACE, credentialMigrations);
  return createKyselyCredentialStore(
    database.kysely
      .withPlugin(
        new CamelCaseColumnsPlugin({
          api_secret_keys: SECRET_KEY_COLUMNS,
          api_password_hashes: ['userId', 'passwordHash', 'changedMs'],
        }),
      )
      .withTables<CredentialsDatabase>(),
  );
}

/** PostgreSQL returns bigint columns as numbers here (the database's type parser), SQLite too. */
function toStoredKey(row: StoredSecretKey): StoredSecretKey {
  return {
    ...row,
    createdMs: Number(row.createdMs),
    lastUsedMs: row.lastUsedMs === null ? null : Number(row.lastUsedMs),
  };
}

export function createKyselyCredentialStore(db: Kysely<CredentialsDatabase>): CredentialStore {
  const keysOf = (userId: string) =>
    db
      .selectFrom('api_secret_keys')
      .select(SECRET_KEY_COLUMNS)
      .where('userId', '=', userId)
      .orderBy('createdMs', 'desc')
      .orderBy('keyId');

  return {
    async saveSecretKey(key: NewSecretKey): Promise<void> {
      await db
        .insertInto('api_secret_keys')
        .values({ ...key, lastUsedMs: null })
        .execute();
    },

    async listSecretKeys(userId: string): Promise<StoredSecretKey[]> {
      return (await keysOf(userId).execute()).map(toStoredKey);
    },

    async findSecretKeyCandidates(userId: string, lookup: string): Promise<StoredSecretKey[]> {
      const rows = await keysOf(userId)
        .where((where) => where.or([where('lookup', '=', lookup), where('lookup', 'is', null)]))
        .execute();
      return rows.map(toStoredKey);
    },

    async markSecretKeyUsed(keyId: string, usedMs: number, lookup: string): Promise<void> {
      await db
        .updateTable('api_secret_keys')
        .set({ lastUsedMs: usedMs, lookup })
        .where('keyId', '=', keyId)
        .execute();
    },

    async deleteSecretKey(userId: string, keyId: string): Promise<boolean> {
      const result = await db
        .deleteFrom('api_secret_keys')
        .where('userId', '=', userId)
        .where('keyId', '=', keyId)
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    async deleteSecretKeys(userId: string): Promise<number> {
      const result = await db.deleteFrom('api_secret_keys').where('userId', '=', userId).executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    async getPasswordHash(userId: string): Promise<string | undefined> {
      const row = await db
        .selectFrom('api_password_hashes')
        .select('passwordHash')
        .where('userId', '=', userId)
        .executeTakeFirst();
      return row?.passwordHash;
    },

    async setPasswordHash(userId: string, passwordHash: string, changedMs: number): Promise<void> {
      await db
        .insertInto('api_password_hashes')
        .values({ userId, passwordHash, changedMs })
        .onConflict((conflict) => conflict.column('userId').doUpdateSet({ passwordHash, changedMs }))
        .execute();
    },
  };
}
