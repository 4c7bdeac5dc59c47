import type { Kysely } from 'kysely';
import type { RecordStore } from '../types.js';
import { CamelCaseColumnsPlugin } from './camel-case.js';
import { type OpenDatabaseOptions, openDatabase, type SqlDatabase } from './database.js';
import { migrationProvider, RECORDS_MIGRATION_NAMESPACE } from './migrations.js';
import { RECORDS_COLUMNS, type RecordsDatabase } from './schema.js';
import { createKyselyStore } from './store.js';

export { isPostgresUrl, type OpenDatabaseOptions, openDatabase, type SqlDatabase } from './database.js';
export { createKyselyStore } from './store.js';

/**
 * The record store on a database someone else opened and closes (the platform shares one database
 * between the record store and the API's credential store). Brings the record tables to the latest
 * migration first.
 */
export async function openRecordStore(database: SqlDatabase): Promise<RecordStore> {
  await database.migrate(RECORDS_MIGRATION_NAMESPACE, migrationProvider);
  return createKyselyStore(recordsKysely(database), database.dialect);
}

export type OpenStoreOptions = OpenDatabaseOptions;

/** Open a database of its own and the record store on it; closing the store closes the database. */
export async function openStore(opts: OpenStoreOptions): Promise<RecordStore> {
  const database = await openDatabase(opts);
  await database.migrate(RECORDS_MIGRATION_NAMESPACE, migrationProvider);
  return createKyselyStore(recordsKysely(database), database.dialect, () => database.close());
}

/**
 * The record tables named by the records' own fields (./camel-case.ts); the on-disk snake_case
 * names stay as the migrations created them.
 */
function recordsKysely(database: SqlDatabase): Kysely<RecordsDatabase> {
  return database.kysely
    .withPlugin(new CamelCaseColumnsPlugin(RECORDS_COLUMNS))
    .withTables<RecordsDatabase>();
}
