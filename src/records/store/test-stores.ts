/**
 * Test support: isolated record stores and databases on SQLite (a temp dir each) and PostgreSQL (a
 * fresh schema each, dropped by cleanup). Shared by the store, post-processing and credential
 * store contract suites.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { RecordStore } from '../types.js';
import { type OpenDatabaseOptions, openDatabase, openStore, type SqlDatabase } from './index.js';

export const TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** Opens things by name: the same name reopens the same data (to test restarts). */
export interface TestFactory<Opened> {
  open(name: string): Promise<Opened>;
  /** Close everything opened and delete their data. */
  cleanup(): Promise<void>;
}

export type StoreFactory = TestFactory<RecordStore>;
export type DatabaseFactory = TestFactory<SqlDatabase>;

type Opener<Opened> = (opts: OpenDatabaseOptions) => Promise<Opened>;

function sqliteFactory<Opened extends { close(): Promise<void> }>(open: Opener<Opened>): TestFactory<Opened> {
  const root = mkdtempSync(join(tmpdir(), 'records-store-'));
  const opened: Opened[] = [];
  return {
    async open(name) {
      const one = await open({ dataDir: join(root, name) });
      opened.push(one);
      return one;
    },
    async cleanup() {
      for (const one of opened.splice(0)) await one.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

function postgresFactory<Opened extends { close(): Promise<void> }>(
  open: Opener<Opened>,
  databaseUrl: string,
): TestFactory<Opened> {
  // Other suites share the database concurrently: every schema name is unique to this run.
  const prefix = `t_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const schemas = new Set<string>();
  const opened: Opened[] = [];
  return {
    async open(name) {
      const schema = `${prefix}_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
      schemas.add(schema);
      const one = await open({ databaseUrl, dataDir: '', schema, poolSize: 4 });
      opened.push(one);
      return one;
    },
    async cleanup() {
      for (const one of opened.splice(0)) await one.close();
      if (schemas.size === 0) return;
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      try {
        for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

export function sqliteStoreFactory(): StoreFactory {
  return sqliteFactory(openStore);
}

export function postgresStoreFactory(databaseUrl = TEST_DATABASE_URL): StoreFactory {
  return postgresFactory(openStore, databaseUrl);
}

/** Bare databases (no migrations run), for stores that share one (src/api/credentials/). */
export function sqliteDatabaseFactory(): DatabaseFactory {
  return sqliteFactory(openDatabase);
}

export function postgresDatabaseFactory(databaseUrl = TEST_DATABASE_URL): DatabaseFactory {
  return postgresFactory(openDatabase, databaseUrl);
}
