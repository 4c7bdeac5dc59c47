/**
 * Test support: isolated record stores on SQLite (a temp dir each) and PostgreSQL (a fresh schema
 * each, dropped by cleanup). Shared by the store and post-processing contract suites.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { RecordStore } from '../types.js';
import { openStore } from './index.js';

export const TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** Opens stores by name: the same name reopens the same data (to test restarts). */
export interface StoreFactory {
  open(name: string): Promise<RecordStore>;
  /** Close every store opened and delete their data. */
  cleanup(): Promise<void>;
}

export function sqliteStoreFactory(): StoreFactory {
  const root = mkdtempSync(join(tmpdir(), 'records-store-'));
  const opened: RecordStore[] = [];
  return {
    async open(name) {
      const store = await openStore({ dataDir: join(root, name) });
      opened.push(store);
      return store;
    },
    async cleanup() {
      for (const store of opened.splice(0)) await store.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export function postgresStoreFactory(databaseUrl = TEST_DATABASE_URL): StoreFactory {
  // Other suites share the database concurrently: every schema name is unique to this run.
  const prefix = `t_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const schemas = new Set<string>();
  const opened: RecordStore[] = [];
  return {
    async open(name) {
      const schema = `${prefix}_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
      schemas.add(schema);
      const store = await openStore({ databaseUrl, dataDir: '', schema, poolSize: 4 });
      opened.push(store);
      return store;
    },
    async cleanup() {
      for (const store of opened.splice(0)) await store.close();
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
