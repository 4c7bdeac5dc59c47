import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseIntrospector,
  Kysely,
  type MigrationProvider,
  Migrator,
  PostgresDialect,
  type PostgresDialectConfig,
  type SchemaMetadata,
  SqliteDialect,
  sql,
  type TableMetadata,
} from 'kysely';
import pg from 'pg';
import { RecordsError } from '../errors.js';
import type { StoreDialect } from '../types.js';

export interface OpenDatabaseOptions {
  /** postgres:// or postgresql:// selects PostgreSQL; anything else (or nothing) SQLite. */
  databaseUrl?: string;
  /** SQLite: the store is `<dataDir>/records.db` (created with its folder when missing). */
  dataDir: string;
  /** PostgreSQL: keep every table in this schema (created when missing), e.g. to isolate tests. */
  schema?: string;
  /** PostgreSQL pool size (default 10). */
  poolSize?: number;
  /** Told about errors of idle pooled connections, which otherwise nobody awaits. */
  onError?: (error: RecordsError) => void;
}

const PG_INT8_OID = 20;
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export function isPostgresUrl(databaseUrl: string | undefined): databaseUrl is string {
  return databaseUrl !== undefined && /^postgres(ql)?:\/\//i.test(databaseUrl);
}

/**
 * One SQL database (SQLite file or PostgreSQL schema) that several packages keep tables in: the
 * record store (./store.ts) and the API's credential store (src/api/credentials/). Each package
 * migrates its own tables, with its own bookkeeping tables, and wraps `kysely` with the plugins it
 * wants; nobody but the opener closes it.
 */
export interface SqlDatabase {
  readonly dialect: StoreDialect;
  /** Plain Kysely (no plugins): table and column names are the ones on disk. */
  readonly kysely: Kysely<unknown>;
  /**
   * Bring one package's tables to its latest migration. `namespace` names its bookkeeping tables
   * (`<namespace>_migration`, `<namespace>_migration_lock`) so packages' migrations cannot collide.
   */
  migrate(namespace: string, provider: MigrationProvider): Promise<void>;
  /** Close the connection (pool); idempotent. */
  close(): Promise<void>;
}

/** Open the database: `<dataDir>/records.db` on SQLite, or a PostgreSQL pool (see `databaseUrl`). */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<SqlDatabase> {
  if (isPostgresUrl(opts.databaseUrl)) return openPostgresDatabase(opts.databaseUrl, opts);
  return openSqliteDatabase(opts.dataDir);
}

/** A database whose migrations run in `migrationTableSchema` (PostgreSQL) and report `where`. */
function sqlDatabase(
  kysely: Kysely<unknown>,
  dialect: StoreDialect,
  where: string,
  migrationTableSchema: string | undefined,
): SqlDatabase {
  let closed = false;
  return {
    dialect,
    kysely,
    async migrate(namespace, provider) {
      try {
        await migrate(kysely, where, migrationTableSchema, namespace, provider);
      } catch (error) {
        // A database that cannot be migrated is closed (see `migrate`); close() has nothing left to do.
        closed = true;
        throw error;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await kysely.destroy();
    },
  };
}

async function openSqliteDatabase(dataDir: string): Promise<SqlDatabase> {
  const path = join(dataDir, 'records.db');
  let database: Database.Database;
  try {
    mkdirSync(dataDir, { recursive: true });
    database = new Database(path);
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    database.pragma('busy_timeout = 5000');
    // 64 MiB of page cache instead of SQLite's 2 MiB: index pages of a year of records stay hot.
    database.pragma('cache_size = -65536');
  } catch (cause) {
    throw new RecordsError('RECORDS_STORE_OPEN_FAILED', `cannot open ${path}: ${String(cause)}`, {
      cause,
    });
  }
  const db = new Kysely<unknown>({
    dialect: new SqliteDialect({ database: withStatementCache(database) }),
  });
  return sqlDatabase(db, 'sqlite', path, undefined);
}

/**
 * Kysely prepares every query anew; post-processing runs the same few statements thousands of
 * times a second, and preparing them was a tenth of the process's CPU under call load. Prepared
 * statements are reused per SQL text (better-sqlite3 is synchronous, so a statement is never in
 * use twice at once; Kysely does not stream from SQLite).
 */
function withStatementCache(database: Database.Database): Database.Database {
  const cache = new Map<string, Database.Statement>();
  const prepare = database.prepare.bind(database);
  return new Proxy(database, {
    get(target, property, receiver) {
      if (property !== 'prepare') {
        const value = Reflect.get(target, property, receiver);
        // Native methods must see the real database as `this`, not the proxy.
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return (source: string) => {
        let statement = cache.get(source);
        if (!statement) {
          statement = prepare(source);
          if (cache.size >= 500) cache.delete(cache.keys().next().value!);
          cache.set(source, statement);
        }
        return statement;
      };
    },
  });
}

async function openPostgresDatabase(databaseUrl: string, opts: OpenDatabaseOptions): Promise<SqlDatabase> {
  const { schema } = opts;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new RecordsError('RECORDS_BAD_OPTION', `schema must be a plain SQL identifier, got "${schema}"`);
  }
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: opts.poolSize ?? 10,
    connectionTimeoutMillis: 10_000,
    // Scoped to this pool, not pg's global parser table: other pools in the process keep theirs.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === PG_INT8_OID && format !== 'binary'
          ? (value: string) => Number(value)
          : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  pool.on('error', (cause) => {
    opts.onError?.(
      new RecordsError('RECORDS_STORE_OPEN_FAILED', `idle PostgreSQL connection failed: ${cause.message}`, {
        cause,
      }),
    );
  });
  const where = schema ? `${redact(databaseUrl)} schema ${schema}` : redact(databaseUrl);
  let scope: string;
  try {
    if (schema) {
      await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      scope = schema;
    } else {
      const { rows } = await pool.query<{ schema: string | null }>('SELECT current_schema() AS schema');
      scope = rows[0]?.schema ?? 'public';
    }
  } catch (cause) {
    await pool.end().catch(() => {});
    throw new RecordsError('RECORDS_STORE_OPEN_FAILED', `cannot reach ${where}: ${String(cause)}`, {
      cause,
    });
  }
  const db = new Kysely<unknown>({
    dialect: new SchemaScopedPostgresDialect(
      {
        pool,
        onCreateConnection: schema
          ? async (connection) => {
              await connection.executeQuery(CompiledQuery.raw(`SET search_path TO "${schema}"`));
            }
          : undefined,
      },
      scope,
    ),
  });
  return sqlDatabase(db, 'postgres', where, scope);
}

/**
 * Kysely's Migrator asks the introspector whether its bookkeeping tables exist, and the stock
 * PostgreSQL introspector reads every column of every schema in the database: slow on a shared
 * server, and it fails outright when another client drops a schema meanwhile (tests do that all
 * the time). Ours looks at the store's own schema only.
 */
class SchemaScopedPostgresDialect extends PostgresDialect {
  constructor(
    config: PostgresDialectConfig,
    private readonly scope: string,
  ) {
    super(config);
  }

  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    const scope = this.scope;
    const getTables = async (): Promise<TableMetadata[]> => {
      const { rows } = await sql<{ name: string }>`
        select table_name as name from information_schema.tables where table_schema = ${scope}`.execute(db);
      return rows.map((row) => ({ name: row.name, schema: scope, isView: false, columns: [] }));
    };
    return {
      async getSchemas(): Promise<SchemaMetadata[]> {
        const { rows } = await sql<{ name: string }>`
          select nspname as name from pg_catalog.pg_namespace where nspname = ${scope}`.execute(db);
        return rows;
      },
      getTables,
      async getMetadata() {
        return { tables: await getTables() };
      },
    };
  }
}

/** One package's migrations; on failure the database is closed (nothing may use a half-migrated schema). */
async function migrate(
  db: Kysely<unknown>,
  where: string,
  migrationTableSchema: string | undefined,
  namespace: string,
  provider: MigrationProvider,
): Promise<void> {
  const migrator = new Migrator({
    db,
    migrationTableSchema,
    provider,
    migrationTableName: `${namespace}_migration`,
    migrationLockTableName: `${namespace}_migration_lock`,
  });
  let failure: unknown;
  try {
    ({ error: failure } = await migrator.migrateToLatest());
  } catch (cause) {
    failure = cause;
  }
  if (failure !== undefined) {
    await db.destroy().catch(() => {});
    throw new RecordsError(
      'RECORDS_STORE_OPEN_FAILED',
      `cannot migrate ${namespace} at ${where}: ${String(failure)}`,
      { cause: failure },
    );
  }
}

/** Connection strings may carry passwords; messages must not. */
function redact(databaseUrl: string): string {
  return databaseUrl.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
