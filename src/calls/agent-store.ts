/**
 * Where agents' settings survive a restart: each user's current availability and each switched
 * membership (serving a queue or not), one row each, in the platform's database (SQLite or
 * PostgreSQL, next to the record store) under their own migrations (`agents_migration`). The
 * journal keeps the history (`AvailabilityChanged`, `ServingChanged`); this keeps the latest, so
 * that start-up reads a few rows instead of scanning the journal (./README.md "Agents").
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import type { Availability } from '../journal/types.js';
import type { SqlDatabase } from '../records/store/database.js';
import { createTable } from '../records/store/table-spec.js';

export interface StoredAvailability {
  userId: string;
  availability: Availability;
  note: string | null;
  endTimeMs: number | null;
  modifiedMs: number;
}

export interface StoredServing {
  userId: string;
  queueId: string;
  serving: boolean;
  modifiedMs: number;
}

export interface AgentStateStore {
  /** Replace the user's availability. */
  saveAvailability(row: StoredAvailability): Promise<void>;
  /** Every user whose availability was ever set. */
  listAvailability(): Promise<StoredAvailability[]>;
  /** Replace one membership's serving. */
  saveServing(row: StoredServing): Promise<void>;
  listServing(): Promise<StoredServing[]>;
}

const AVAILABILITIES: ReadonlySet<string> = new Set(['Available', 'Busy', 'DoNotDisturb', 'OffWork']);

type AgentTables = {
  agent_availability: {
    user_id: string;
    availability: string;
    note: string | null;
    end_time_ms: number | null;
    modified_ms: number;
  };
  agent_serving: { user_id: string; queue_id: string; serving: number; modified_ms: number };
};

const migrations: Record<string, Migration> = {
  '0001_agent_states': {
    async up(db) {
      await createTable(db, 'agent_availability', {
        columns: {
          user_id: 'text key',
          availability: 'text',
          note: 'text?',
          end_time_ms: 'bigint?',
          modified_ms: 'bigint',
        },
        indexes: {},
      });
      await createTable(db, 'agent_serving', {
        columns: { user_id: 'text', queue_id: 'text', serving: 'integer', modified_ms: 'bigint' },
        primaryKey: { name: 'agent_serving_pk', columns: ['user_id', 'queue_id'] },
        indexes: {},
      });
    },
    async down(db) {
      await db.schema.dropTable('agent_serving').execute();
      await db.schema.dropTable('agent_availability').execute();
    },
  },
};

export const AGENTS_MIGRATION_NAMESPACE = 'agents';

const agentMigrations: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};

/** The agent store on the platform's database; brings its tables to the latest migration first. */
export async function openAgentStateStore(database: SqlDatabase): Promise<AgentStateStore> {
  await database.migrate(AGENTS_MIGRATION_NAMESPACE, agentMigrations);
  return createKyselyAgentStateStore(database.kysely.withTables<AgentTables>());
}

function createKyselyAgentStateStore(db: Kysely<AgentTables>): AgentStateStore {
  return {
    async saveAvailability(row) {
      const values = {
        availability: row.availability,
        note: row.note,
        end_time_ms: row.endTimeMs,
        modified_ms: row.modifiedMs,
      };
      await db
        .insertInto('agent_availability')
        .values({ user_id: row.userId, ...values })
        .onConflict((conflict) => conflict.column('user_id').doUpdateSet(values))
        .execute();
    },

    async listAvailability() {
      const rows = await db.selectFrom('agent_availability').selectAll().orderBy('user_id').execute();
      // A row this build cannot read (written by a newer one) is left out: the user is Available.
      return rows
        .filter((row) => AVAILABILITIES.has(row.availability))
        .map((row) => ({
          userId: row.user_id,
          availability: row.availability as Availability,
          note: row.note,
          endTimeMs: row.end_time_ms === null ? null : Number(row.end_time_ms),
          modifiedMs: Number(row.modified_ms),
        }));
    },

    async saveServing(row) {
      const values = { serving: row.serving ? 1 : 0, modified_ms: row.modifiedMs };
      await db
        .insertInto('agent_serving')
        .values({ user_id: row.userId, queue_id: row.queueId, ...values })
        .onConflict((conflict) => conflict.columns(['user_id', 'queue_id']).doUpdateSet(values))
        .execute();
    },

    async listServing() {
      const rows = await db
        .selectFrom('agent_serving')
        .selectAll()
        .orderBy('user_id')
        .orderBy('queue_id')
        .execute();
      return rows.map((row) => ({
        userId: row.user_id,
        queueId: row.queue_id,
        serving: Number(row.serving) !== 0,
        modifiedMs: Number(row.modified_ms),
      }));
    },
  };
}

/** An in-memory store (unit tests, and tools that run call control without a database). */
export function memoryAgentStateStore(): AgentStateStore {
  const availability = new Map<string, StoredAvailability>();
  const serving = new Map<string, StoredServing>();
  return {
    async saveAvailability(row) {
      availability.set(row.userId, { ...row });
    },
    async listAvailability() {
      return [...availability.values()].map((row) => ({ ...row }));
    },
    async saveServing(row) {
      serving.set(`${row.userId} ${row.queueId}`, { ...row });
    },
    async listServing() {
      return [...serving.values()].map((row) => ({ ...row }));
    },
  };
}
