/**
 * The credential store contract, run on SQLite and PostgreSQL by ./sqlite.test.ts and
 * ./postgres.test.ts. The store shares its database with the record store, as the platform runs it.
 * (These assertions were the record store's while it kept the credentials.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRecordStore, type SqlDatabase } from '../../records/store/index.js';
import type { DatabaseFactory } from '../../records/store/test-stores.js';
import { openCredentialStore } from './kysely-store.js';
import type { CredentialStore } from './types.js';

const T0 = Date.UTC(2030, 0, 15, 12, 0, 0);

export function runCredentialStoreContract(name: string, makeFactory: () => DatabaseFactory): void {
  describe(`credential store contract: ${name}`, () => {
    let factory: DatabaseFactory;
    let databaseCount = 0;

    /** The credential store on a database of its own, next to a record store (as the platform has it). */
    async function openStores(
      databaseName: string,
    ): Promise<{ database: SqlDatabase; credentials: CredentialStore }> {
      const database = await factory.open(databaseName);
      await openRecordStore(database);
      return { database, credentials: await openCredentialStore(database) };
    }

    // No I/O here: with the database down every test must fail on its own, not be skipped.
    beforeAll(() => {
      factory = makeFactory();
    });

    afterAll(async () => {
      await factory?.cleanup();
    });

    it('stores secret key hashes newest first, idempotently', async () => {
      databaseCount += 1;
      const { credentials: store } = await openStores(`c${databaseCount}`);
      await store.saveSecretKeyHash('user-a', 'hash-old', T0);
      await store.saveSecretKeyHash('user-a', 'hash-new', T0 + 1000);
      await store.saveSecretKeyHash('user-a', 'hash-old', T0);
      await store.saveSecretKeyHash('user-b', 'hash-b', T0);
      expect(await store.listSecretKeyHashes('user-a')).toEqual(['hash-new', 'hash-old']);
      expect(await store.listSecretKeyHashes('user-b')).toEqual(['hash-b']);
      expect(await store.listSecretKeyHashes('nobody')).toEqual([]);
    });

    it('keeps keys across close and reopen (migrations run once)', async () => {
      const first = await openStores('reopen');
      await first.credentials.saveSecretKeyHash('user-z', 'hash-z', T0);
      await first.database.close();
      const second = await openStores('reopen');
      expect(await second.credentials.listSecretKeyHashes('user-z')).toEqual(['hash-z']);
    });

    it('works on a database where it comes before the record store', async () => {
      const database = await factory.open('credentials-first');
      const store = await openCredentialStore(database);
      await store.saveSecretKeyHash('user-y', 'hash-y', T0);
      await openRecordStore(database);
      expect(await store.listSecretKeyHashes('user-y')).toEqual(['hash-y']);
    });
  });
}
