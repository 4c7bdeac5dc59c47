/**
 * The refactoring to one definition per record kind (issue 11) must not change the schema on disk:
 * SQLite files and PostgreSQL schemas made by earlier versions keep working, and new ones are made
 * alike. ./on-disk-schema.json was dumped from stores created by the code before the refactoring,
 * plus exactly what later migrations added (0003: `user_call_events.transferred_to`, nullable text,
 * appended last); fresh stores must match it exactly, and each kind's columns must be its table's,
 * in order.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { callbackRequestTable } from '../kinds/callback-request/row.js';
import { outboundCallbackCallTable } from '../kinds/outbound-callback-call/row.js';
import { outboundServiceCallTable } from '../kinds/outbound-service-call/row.js';
import { serviceCallTable } from '../kinds/service-call/row.js';
import { serviceCallDetailTable } from '../kinds/service-call-detail/row.js';
import { userCallEventTable } from '../kinds/user-call-event/row.js';
import { columnName } from './camel-case.js';
import { openStore } from './index.js';
import { callProgressTable, checkpointTable } from './schema.js';
import { TEST_DATABASE_URL } from './test-stores.js';

interface SchemaDump {
  sqlite: unknown[];
  postgresColumns: unknown[];
  postgresIndexes: unknown[];
  postgresConstraints: unknown[];
}
const before: SchemaDump = JSON.parse(readFileSync(join(import.meta.dirname, 'on-disk-schema.json'), 'utf8'));

const KIND_TABLES = [
  userCallEventTable,
  serviceCallTable,
  serviceCallDetailTable,
  outboundServiceCallTable,
  outboundCallbackCallTable,
  callbackRequestTable,
  callProgressTable,
  checkpointTable,
];

describe('the record store on disk', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'records-schema-'));
  const schema = `t_${randomUUID().replaceAll('-', '').slice(0, 12)}_schema`;

  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => client.end());
  });

  it('is the SQLite schema of before, and each kind’s columns are its table’s', async () => {
    await (await openStore({ dataDir })).close();
    const file = new Database(join(dataDir, 'records.db'), { readonly: true });
    try {
      const objects = file
        .prepare(
          "select type, name, tbl_name, sql from sqlite_master where name not like 'sqlite_%' order by type, name",
        )
        .all();
      expect(objects).toEqual(before.sqlite);
      for (const { table, columns } of KIND_TABLES) {
        const onDisk = file.prepare(`select name from pragma_table_info('${table}') order by cid`).all();
        expect(onDisk.map((column) => (column as { name: string }).name)).toEqual(columns.map(columnName));
      }
    } finally {
      file.close();
    }
  });

  it('is the PostgreSQL schema of before', async () => {
    await (await openStore({ databaseUrl: TEST_DATABASE_URL, dataDir: '', schema, poolSize: 1 })).close();
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    try {
      const query = async (text: string, values: unknown[]) => (await client.query(text, values)).rows;
      expect(
        await query(
          `select table_name, column_name, ordinal_position, data_type, is_nullable, column_default
           from information_schema.columns where table_schema = $1 order by table_name, ordinal_position`,
          [schema],
        ),
      ).toEqual(before.postgresColumns);
      expect(
        await query(
          `select tablename, indexname, replace(indexdef, $1, 'S.') as indexdef
           from pg_indexes where schemaname = $2 order by tablename, indexname`,
          [`${schema}.`, schema],
        ),
      ).toEqual(before.postgresIndexes);
      expect(
        await query(
          `select replace(conrelid::regclass::text, $1, '') as rel, conname, pg_get_constraintdef(c.oid) as def
           from pg_constraint c join pg_namespace n on n.oid = c.connamespace
           where n.nspname = $2 order by rel, conname`,
          [`${schema}.`, schema],
        ),
      ).toEqual(before.postgresConstraints);
    } finally {
      await client.end();
    }
  });
});
