/**
 * The credential store contract, run on SQLite and PostgreSQL by ./sqlite.test.ts and
 * ./postgres.test.ts. The store shares its database with the record store, as the platform runs it.
 */
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRecordStore, type SqlDatabase } from '../../records/store/index.js';
import type { DatabaseFactory } from '../../records/store/test-stores.js';
import { openCredentialStore } from './kysely-store.js';
import type { CredentialStore, NewSecretKey } from './types.js';

const T0 = Date.UTC(2030, 0, 15, 12, 0, 0);

const key = (userId: string, n: number, lookup: string | null = `tag-${userId}-${n}`): NewSecretKey => ({
  keyId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  userId,
  keyHash: `hash-${userId}-${n}`,
  lookup,
  createdMs: T0 + n * 1000,
});

export function runCredentialStoreContract(name: string, makeFactory: () => DatabaseFactory): void {
  describe(`credential store contract: ${name}`, () => {
    let factory: DatabaseFactory;
    let databaseCount = 0;

    /** The credential store on a database of its own, next to a record store (as the platform has it). */
    async function openStores(
      databaseName?: string,
    ): Promise<{ database: SqlDatabase; credentials: CredentialStore }> {
      databaseCount += 1;
      const database = await factory.open(databaseName ?? `c${databaseCount}`);
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

    it('lists keys newest first, per user, with no use recorded', async () => {
      const { credentials: store } = await openStores();
      await store.saveSecretKey(key('user-a', 1));
      await store.saveSecretKey(key('user-a', 2));
      await store.saveSecretKey(key('user-b', 3));
      const listed = await store.listSecretKeys('user-a');
      expect(listed.map((stored) => stored.keyHash)).toEqual(['hash-user-a-2', 'hash-user-a-1']);
      expect(listed[0]).toEqual({ ...key('user-a', 2), lastUsedMs: null });
      expect((await store.listSecretKeys('user-b')).map((stored) => stored.keyId)).toEqual([
        key('user-b', 3).keyId,
      ]);
      expect(await store.listSecretKeys('nobody')).toEqual([]);
    });

    it('finds the candidates of a presented key: its lookup tag, and untagged keys', async () => {
      const { credentials: store } = await openStores();
      await store.saveSecretKey(key('user-a', 1));
      await store.saveSecretKey(key('user-a', 2, null));
      await store.saveSecretKey(key('user-a', 3));
      await store.saveSecretKey(key('user-b', 4, 'tag-user-a-1'));
      const candidates = await store.findSecretKeyCandidates('user-a', 'tag-user-a-1');
      expect(candidates.map((stored) => stored.keyHash)).toEqual(['hash-user-a-2', 'hash-user-a-1']);
      expect(await store.findSecretKeyCandidates('user-c', 'tag-user-a-1')).toEqual([]);
    });

    it('records a use and tags an untagged key', async () => {
      const { credentials: store } = await openStores();
      await store.saveSecretKey(key('user-a', 1, null));
      await store.markSecretKeyUsed(key('user-a', 1).keyId, T0 + 60_000, 'tag-now');
      expect(await store.listSecretKeys('user-a')).toEqual([
        { ...key('user-a', 1), lookup: 'tag-now', lastUsedMs: T0 + 60_000 },
      ]);
      expect(await store.findSecretKeyCandidates('user-a', 'other-tag')).toEqual([]);
    });

    it('deletes one key of a user, or all of them', async () => {
      const { credentials: store } = await openStores();
      for (const n of [1, 2, 3]) await store.saveSecretKey(key('user-a', n));
      await store.saveSecretKey(key('user-b', 4));
      // Another user's key id does not delete it.
      expect(await store.deleteSecretKey('user-a', key('user-b', 4).keyId)).toBe(false);
      expect(await store.deleteSecretKey('user-a', key('user-a', 2).keyId)).toBe(true);
      expect(await store.deleteSecretKey('user-a', key('user-a', 2).keyId)).toBe(false);
      expect((await store.listSecretKeys('user-a')).map((stored) => stored.keyHash)).toEqual([
        'hash-user-a-3',
        'hash-user-a-1',
      ]);
      expect(await store.deleteSecretKeys('user-a')).toBe(2);
      expect(await store.listSecretKeys('user-a')).toEqual([]);
      expect(await store.listSecretKeys('user-b')).toHaveLength(1);
    });

    it('keeps one password hash per user, replaced when set again', async () => {
      const { credentials: store } = await openStores();
      expect(await store.getPasswordHash('user-a')).toBeUndefined();
      await store.setPasswordHash('user-a', 'scrypt-old', T0);
      await store.setPasswordHash('user-b', 'scrypt-b', T0);
      await store.setPasswordHash('user-a', 'scrypt-new', T0 + 1);
      expect(await store.getPasswordHash('user-a')).toBe('scrypt-new');
      expect(await store.getPasswordHash('user-b')).toBe('scrypt-b');
    });

    it('keeps keys and password hashes across close and reopen (migrations run once)', async () => {
      const first = await openStores('reopen');
      await first.credentials.saveSecretKey(key('user-z', 1));
      await first.credentials.setPasswordHash('user-z', 'scrypt-z', T0);
      await first.database.close();
      const second = await openStores('reopen');
      expect((await second.credentials.listSecretKeys('user-z')).map((stored) => stored.keyHash)).toEqual([
        'hash-user-z-1',
      ]);
      expect(await second.credentials.getPasswordHash('user-z')).toBe('scrypt-z');
    });

    it('works on a database where it comes before the record store', async () => {
      const database = await factory.open('credentials-first');
      const store = await openCredentialStore(database);
      await store.saveSecretKey(key('user-y', 1));
      await openRecordStore(database);
      expect(await store.listSecretKeys('user-y')).toHaveLength(1);
    });

    it("carries over each user's ten newest keys of before key ids, untagged, and drops the rest", async () => {
      // A database of the previous version: the record store's `secret_keys`, newest ten valid.
      const database = await factory.open('legacy');
      await openRecordStore(database);
      const legacy = database.kysely as unknown as Kysely<{
        secret_keys: { user_id: string; key_hash: string; created_ms: number };
      }>;
      for (let n = 1; n <= 12; n += 1) {
        await legacy
          .insertInto('secret_keys')
          .values({ user_id: 'user-old', key_hash: `legacy-${n}`, created_ms: T0 + n })
          .execute();
      }
      await legacy
        .insertInto('secret_keys')
        .values({ user_id: 'user-other', key_hash: 'legacy-other', created_ms: T0 })
        .execute();

      const store = await openCredentialStore(database);
      const carried = await store.listSecretKeys('user-old');
      expect(carried.map((stored) => stored.keyHash)).toEqual(
        Array.from({ length: 10 }, (_, index) => `legacy-${12 - index}`),
      );
      for (const stored of carried) {
        expect(stored).toMatchObject({ userId: 'user-old', lookup: null, lastUsedMs: null });
        expect(stored.keyId).toMatch(/^[0-9a-f-]{36}$/);
      }
      expect(new Set(carried.map((stored) => stored.keyId)).size).toBe(10);
      expect((await store.listSecretKeys('user-other')).map((stored) => stored.createdMs)).toEqual([T0]);
      // Untagged keys are candidates for any presented key until their first use tags them.
      expect(await store.findSecretKeyCandidates('user-old', 'any-tag')).toHaveLength(10);
      expect(await legacy.selectFrom('secret_keys').selectAll().execute()).toEqual([]);
    });
  });
}
