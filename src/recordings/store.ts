/**
 * The recording store: one row per recording (`RecordingRow`, ./types.ts) and the worker's journal
 * checkpoint, on the platform's shared database (SQLite or PostgreSQL, src/records/store/database.ts).
 * Its tables are migrated in their own namespace (`recordings_migration`), as the API's credential
 * store does, and defined as data with the same `TableSpec` builder (src/records/store/table-spec.ts),
 * so both dialects get their DDL from one definition. The caller opens and closes the database.
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import { CamelCaseColumnsPlugin } from '../records/store/camel-case.js';
import type { SqlDatabase } from '../records/store/database.js';
import { createTable } from '../records/store/table-spec.js';
import { RecordingsError } from './errors.js';
import type { RecordingRow, RecordingState } from './types.js';

export interface RecordingStore {
  /** Insert or replace the row of `row.recordingId` (the worker writes each attempt's outcome). */
  putRecording(row: RecordingRow): Promise<void>;
  getRecording(recordingId: string): Promise<RecordingRow | undefined>;
  /** The recordings of one call, oldest first. */
  recordingsOfCall(callId: string): Promise<RecordingRow[]>;
  /** Recordings that started before `iso` (ISO 8601), oldest first: what retention deletes. */
  listRecordingsOlderThan(iso: string, limit?: number): Promise<RecordingRow[]>;
  /** Failed recordings with fewer than `maxAttempts` attempts: what the worker retries. */
  listFailedRecordings(maxAttempts: number): Promise<RecordingRow[]>;
  /** Delete one row; resolves whether it existed. */
  deleteRecording(recordingId: string): Promise<boolean>;
  /** The last journal seq a consumer (the worker) has finished, 0 when never set. */
  readCheckpoint(consumer: string): Promise<number>;
  writeCheckpoint(consumer: string, seq: number): Promise<void>;
}

export const RECORDINGS_MIGRATION_NAMESPACE = 'recordings';

/**
 * `recordings`: times as epoch ms in BIGINT columns (like every record table), the id lists as
 * JSON text. Indexes: a call's recordings, retention by start time, the retry scan by state.
 */
const migrations: Record<string, Migration> = {
  '0001_recordings': {
    async up(db) {
      await createTable(db, 'recordings', {
        columns: {
          recording_id: 'text key',
          call_id: 'text',
          call_leg_ids: 'text',
          owner_kind: 'text',
          owner_id: 'text',
          party_user_ids: 'text',
          started_ms: 'bigint',
          duration_ms: 'bigint',
          size_bytes: 'bigint',
          content_type: 'text',
          file_name: 'text',
          state: 'text',
          error: 'text?',
          attempts: 'integer',
          created_ms: 'bigint',
          updated_ms: 'bigint',
        },
        indexes: {
          recordings_call: ['call_id', 'started_ms'],
          recordings_started: ['started_ms'],
          recordings_state: ['state', 'attempts'],
        },
      });
      await createTable(db, 'recording_checkpoints', {
        columns: { consumer: 'text key', seq: 'bigint' },
        indexes: {},
      });
    },
    async down(db) {
      await db.schema.dropTable('recording_checkpoints').ifExists().execute();
      await db.schema.dropTable('recordings').ifExists().execute();
    },
  },
};

export const recordingMigrations: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};

/** A row of `recordings` as Kysely sees it through `CamelCaseColumnsPlugin`. */
interface RecordingsTable {
  recordingId: string;
  callId: string;
  callLegIds: string;
  ownerKind: string;
  ownerId: string;
  partyUserIds: string;
  startedMs: number;
  durationMs: number;
  sizeBytes: number;
  contentType: string;
  fileName: string;
  state: string;
  error: string | null;
  attempts: number;
  createdMs: number;
  updatedMs: number;
}

type RecordingsDatabase = {
  recordings: RecordingsTable;
  recording_checkpoints: { consumer: string; seq: number };
};

const RECORDING_COLUMNS: readonly (keyof RecordingsTable)[] = [
  'recordingId',
  'callId',
  'callLegIds',
  'ownerKind',
  'ownerId',
  'partyUserIds',
  'startedMs',
  'durationMs',
  'sizeBytes',
  'contentType',
  'fileName',
  'state',
  'error',
  'attempts',
  'createdMs',
  'updatedMs',
];

/** The recording store on the platform's database; migrates its tables first. */
export async function openRecordingStore(database: SqlDatabase): Promise<RecordingStore> {
  await database.migrate(RECORDINGS_MIGRATION_NAMESPACE, recordingMigrations);
  return createKyselyRecordingStore(
    database.kysely
      .withPlugin(
        new CamelCaseColumnsPlugin({
          recordings: RECORDING_COLUMNS,
          recording_checkpoints: ['consumer', 'seq'],
        }),
      )
      .withTables<RecordingsDatabase>(),
  );
}

function epochMs(iso: string, field: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new RecordingsError('RECORDINGS_CORRUPT_ROW', `${field} is not a time: ${iso}`);
  return ms;
}

function toRow(row: RecordingRow): RecordingsTable {
  return {
    recordingId: row.recordingId,
    callId: row.callId,
    callLegIds: JSON.stringify(row.callLegIds),
    ownerKind: row.ownerKind,
    ownerId: row.ownerId,
    partyUserIds: JSON.stringify(row.partyUserIds),
    startedMs: epochMs(row.startedAt, 'startedAt'),
    durationMs: row.durationMs,
    sizeBytes: row.sizeBytes,
    contentType: row.contentType,
    fileName: row.fileName,
    state: row.state,
    error: row.error,
    attempts: row.attempts,
    createdMs: epochMs(row.createdAt, 'createdAt'),
    updatedMs: epochMs(row.updatedAt, 'updatedAt'),
  };
}

function stringList(text: string, field: string, recordingId: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new RecordingsError('RECORDINGS_CORRUPT_ROW', `${field} of ${recordingId} is not JSON`, { cause });
  }
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new RecordingsError('RECORDINGS_CORRUPT_ROW', `${field} of ${recordingId} is not a list of ids`);
  }
  return value;
}

function fromRow(row: RecordingsTable): RecordingRow {
  if (row.ownerKind !== 'queue' && row.ownerKind !== 'user') {
    throw new RecordingsError('RECORDINGS_CORRUPT_ROW', `owner kind of ${row.recordingId}: ${row.ownerKind}`);
  }
  if (row.state !== 'ready' && row.state !== 'failed') {
    throw new RecordingsError('RECORDINGS_CORRUPT_ROW', `state of ${row.recordingId}: ${row.state}`);
  }
  return {
    recordingId: row.recordingId,
    callId: row.callId,
    callLegIds: stringList(row.callLegIds, 'callLegIds', row.recordingId),
    ownerKind: row.ownerKind,
    ownerId: row.ownerId,
    partyUserIds: stringList(row.partyUserIds, 'partyUserIds', row.recordingId),
    startedAt: new Date(row.startedMs).toISOString(),
    durationMs: row.durationMs,
    sizeBytes: row.sizeBytes,
    contentType: row.contentType,
    fileName: row.fileName,
    state: row.state satisfies RecordingState,
    error: row.error,
    attempts: row.attempts,
    createdAt: new Date(row.createdMs).toISOString(),
    updatedAt: new Date(row.updatedMs).toISOString(),
  };
}

export function createKyselyRecordingStore(db: Kysely<RecordingsDatabase>): RecordingStore {
  return {
    async putRecording(row) {
      const values = toRow(row);
      const { recordingId: _key, createdMs: _created, ...changes } = values;
      // The first write's creation time stays: a retry rewrites everything else.
      await db
        .insertInto('recordings')
        .values(values)
        .onConflict((conflict) => conflict.column('recordingId').doUpdateSet(changes))
        .execute();
    },

    async getRecording(recordingId) {
      const row = await db
        .selectFrom('recordings')
        .selectAll()
        .where('recordingId', '=', recordingId)
        .executeTakeFirst();
      return row === undefined ? undefined : fromRow(row);
    },

    async recordingsOfCall(callId) {
      const rows = await db
        .selectFrom('recordings')
        .selectAll()
        .where('callId', '=', callId)
        .orderBy('startedMs')
        .orderBy('recordingId')
        .execute();
      return rows.map(fromRow);
    },

    async listRecordingsOlderThan(iso, limit = 1000) {
      const rows = await db
        .selectFrom('recordings')
        .selectAll()
        .where('startedMs', '<', epochMs(iso, 'the retention cut-off'))
        .orderBy('startedMs')
        .orderBy('recordingId')
        .limit(limit)
        .execute();
      return rows.map(fromRow);
    },

    async listFailedRecordings(maxAttempts) {
      const rows = await db
        .selectFrom('recordings')
        .selectAll()
        .where('state', '=', 'failed')
        .where('attempts', '<', maxAttempts)
        .orderBy('updatedMs')
        .orderBy('recordingId')
        .execute();
      return rows.map(fromRow);
    },

    async deleteRecording(recordingId) {
      const result = await db
        .deleteFrom('recordings')
        .where('recordingId', '=', recordingId)
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    async readCheckpoint(consumer) {
      const row = await db
        .selectFrom('recording_checkpoints')
        .select('seq')
        .where('consumer', '=', consumer)
        .executeTakeFirst();
      return row?.seq ?? 0;
    },

    async writeCheckpoint(consumer, seq) {
      await db
        .insertInto('recording_checkpoints')
        .values({ consumer, seq })
        .onConflict((conflict) => conflict.column('consumer').doUpdateSet({ seq }))
        .execute();
    },
  };
}
