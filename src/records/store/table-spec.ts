/**
 * Tables as data, built with Kysely's schema builder: one definition per table serves SQLite and
 * PostgreSQL alike (the builder picks each dialect's DDL). Used by the migrations of every package
 * that keeps tables in the shared database (the record store, the API's credential store).
 */
import type { Kysely } from 'kysely';

/** Each column kind: its SQL type and constraint. `?` marks nullable columns. */
const COLUMN_KINDS = {
  'text key': ['text', 'primaryKey'],
  text: ['text', 'notNull'],
  'text?': ['text', 'nullable'],
  bigint: ['bigint', 'notNull'],
  'bigint?': ['bigint', 'nullable'],
  integer: ['integer', 'notNull'],
} as const satisfies Record<
  string,
  readonly ['text' | 'bigint' | 'integer', 'primaryKey' | 'notNull' | 'nullable']
>;

export interface TableSpec {
  /** Column name → kind, in table order. */
  columns: Record<string, keyof typeof COLUMN_KINDS>;
  /** A named composite primary key, for tables without a `text key` column. */
  primaryKey?: { name: string; columns: string[] };
  /** Index name → indexed columns, in creation order. */
  indexes: Record<string, string[]>;
  /**
   * Create table and indexes only when missing: for tables another package may have created first
   * on a shared database (SQLite drops the clause from the stored DDL, so the schema is the same).
   */
  ifNotExists?: boolean;
}

export async function createTable(db: Kysely<unknown>, table: string, spec: TableSpec): Promise<void> {
  let builder = db.schema.createTable(table);
  if (spec.ifNotExists) builder = builder.ifNotExists();
  for (const [column, kind] of Object.entries(spec.columns)) {
    const [dataType, constraint] = COLUMN_KINDS[kind];
    builder = builder.addColumn(column, dataType, (c) =>
      constraint === 'primaryKey' ? c.primaryKey() : constraint === 'notNull' ? c.notNull() : c,
    );
  }
  if (spec.primaryKey) {
    // Kysely types constraint columns as the builder's own column literals; ours come from the spec.
    builder = builder.addPrimaryKeyConstraint(spec.primaryKey.name, spec.primaryKey.columns as never[]);
  }
  await builder.execute();
  await createIndexes(db, table, spec.indexes, spec.ifNotExists);
}

export async function createIndexes(
  db: Kysely<unknown>,
  table: string,
  indexes: TableSpec['indexes'],
  ifNotExists = false,
): Promise<void> {
  for (const [index, columns] of Object.entries(indexes)) {
    let builder = db.schema.createIndex(index).on(table);
    if (ifNotExists) builder = builder.ifNotExists();
    // Kysely types index columns as literals ("name" or "name desc"); a string[] from a spec has to
    // be passed as such. The names are plain column names.
    await builder.columns(columns as never[]).execute();
  }
}
