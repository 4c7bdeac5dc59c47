import Database from 'better-sqlite3';
import { JournalError } from './errors.js';
import { decodeFact, encodeFact, type LegacyRouting } from './facts.js';
import { JournalTail, legLocations, legQuery } from './journal-tail.js';
import type { Journal, JournalEntry, JournalFact, JournalLookup, LegLocation } from './types.js';

export interface SqliteJournalOptions {
  /**
   * Longest time an appended fact waits in memory before its group commit (default 5 ms).
   * 0 commits every append synchronously. This is the window a process crash can lose.
   */
  groupCommitMs?: number;
  /** Pending entries that force an immediate group commit (default 256). */
  maxBatch?: number;
  /** Told about failed group commits (retried) and throwing subscribers (skipped). */
  onError?: (error: JournalError) => void;
  /** Routing for facts of schema version 1, which did not journal the route (facts.ts). */
  legacyRouting?: LegacyRouting;
}

export interface SqliteJournalStats {
  /** Group-commit transactions written since open. */
  commits: number;
  /** Entries appended but not yet durable. */
  pending: number;
  /** Highest durable sequence. */
  durableSeq: number;
}

export interface SqliteJournal extends Journal, JournalLookup {
  stats(): SqliteJournalStats;
}

interface JournalRow {
  seq: number;
  time_ms: number;
  fact: string;
}

const DEFAULT_GROUP_COMMIT_MS = 5;
const DEFAULT_MAX_BATCH = 256;
/** After a failed commit, wait this long before retrying so a full disk is not hammered. */
const RETRY_MS = 1000;
/** Identifiers per kind in one `findLegs` call: keeps the IN lists (and prepared statements) bounded. */
/** The `journal_marks` row of `settledSeq` / `markSettled`. */
const SETTLED_MARK = 'settled';

/**
 * The durable journal on one SQLite file. Appends are synchronous and cheap (memory only); a group
 * commit writes everything pending in one transaction, so call control never waits for the disk.
 */
export function openSqliteJournal(path: string, opts: SqliteJournalOptions = {}): SqliteJournal {
  const groupCommitMs = opts.groupCommitMs ?? DEFAULT_GROUP_COMMIT_MS;
  const maxBatch = opts.maxBatch ?? DEFAULT_MAX_BATCH;
  if (!Number.isFinite(groupCommitMs) || groupCommitMs < 0) {
    throw new JournalError('JOURNAL_BAD_OPTION', `groupCommitMs must be >= 0, got ${groupCommitMs}`);
  }
  if (!Number.isInteger(maxBatch) || maxBatch < 1) {
    throw new JournalError('JOURNAL_BAD_OPTION', `maxBatch must be a positive integer, got ${maxBatch}`);
  }
  const reportError = opts.onError ?? (() => {});

  let db: Database.Database;
  try {
    db = new Database(path);
    // WAL + NORMAL: a commit is an append to the WAL without fsync; a process crash loses
    // nothing committed, a power loss may lose the commits since the last WAL checkpoint.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.exec(`
      CREATE TABLE IF NOT EXISTS journal (
        seq INTEGER PRIMARY KEY,
        time_ms INTEGER NOT NULL,
        call_id TEXT NOT NULL,
        call_leg_id TEXT,
        type TEXT NOT NULL,
        fact TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS journal_call_id ON journal (call_id, seq);
      -- Named positions in the journal (the settled mark of crash recovery).
      CREATE TABLE IF NOT EXISTS journal_marks (name TEXT PRIMARY KEY, seq INTEGER NOT NULL);
      -- Identifier lookups (diagnostics). Partial: only LegCreated facts name a leg's SIP ids, so
      -- the other facts cost these indexes nothing on append.
      CREATE INDEX IF NOT EXISTS journal_leg_created_leg_id ON journal (call_leg_id) WHERE type = 'LegCreated';
      CREATE INDEX IF NOT EXISTS journal_leg_created_sip_call_id
        ON journal (json_extract(fact, '$.sip.sipCallId')) WHERE type = 'LegCreated';
    `);
  } catch (cause) {
    throw new JournalError('JOURNAL_OPEN_FAILED', `cannot open journal ${path}: ${String(cause)}`, {
      cause,
    });
  }

  const insert = db.prepare(
    'INSERT INTO journal (seq, time_ms, call_id, call_leg_id, type, fact) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const selectAfter = db.prepare('SELECT seq, time_ms, fact FROM journal WHERE seq > ? ORDER BY seq LIMIT ?');
  const selectCall = db.prepare('SELECT seq, time_ms, fact FROM journal WHERE call_id = ? ORDER BY seq');
  const selectMark = db.prepare('SELECT seq FROM journal_marks WHERE name = ?');
  const upsertMark = db.prepare(
    'INSERT INTO journal_marks (name, seq) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq',
  );
  const tail = db.prepare('SELECT seq, time_ms FROM journal ORDER BY seq DESC LIMIT 1').get() as
    | { seq: number; time_ms: number }
    | undefined;

  const writeBatch = db.transaction((entries: readonly JournalEntry[]) => {
    for (const entry of entries) {
      const { fact } = entry;
      const callLegId = 'callLegId' in fact ? fact.callLegId : null;
      insert.run(entry.seq, entry.timeMs, fact.callId, callLegId, fact.type, encodeFact(fact));
    }
  });

  // Numbering, the buffer, the recent entries and subscribers: shared with every journal.
  const memory = new JournalTail({ seq: tail?.seq ?? 0, timeMs: tail?.time_ms ?? 0 }, reportError);
  let timer: NodeJS.Timeout | undefined;
  let commits = 0;
  let closed = false;
  /** A commit failed and a retry is scheduled. */
  let retrying = false;

  function commit(): void {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (memory.pending.length === 0) return;
    const batch = memory.pending;
    try {
      writeBatch(batch);
    } catch (cause) {
      const error = new JournalError(
        'JOURNAL_WRITE_FAILED',
        `journal group commit of ${batch.length} entries failed: ${String(cause)}`,
        { cause },
      );
      retrying = true;
      if (!closed) timer = setTimeout(commitFromTimer, RETRY_MS);
      throw error;
    }
    retrying = false;
    memory.markDurable(batch[batch.length - 1]!.seq);
    commits += 1;
  }

  function commitFromTimer(): void {
    try {
      commit();
    } catch (error) {
      reportError(error as JournalError);
    }
  }

  function assertOpen(operation: string): void {
    if (closed) throw new JournalError('JOURNAL_CLOSED', `journal ${path} is closed (${operation})`);
  }

  function decode(row: JournalRow): JournalEntry {
    const fact = decodeFact(row.fact, `journal entry ${row.seq}`, opts.legacyRouting);
    return { seq: row.seq, timeMs: row.time_ms, fact };
  }

  /** Durable rows of a read-only statement, with read failures as coded errors. */
  function readRows(statement: Database.Statement, params: readonly unknown[]): JournalRow[] {
    try {
      return statement.all(...params) as JournalRow[];
    } catch (cause) {
      throw new JournalError('JOURNAL_READ_FAILED', `journal read failed: ${String(cause)}`, { cause });
    }
  }

  /** Statements of the leg lookups, one per IN-list length (bounded by MAX_LOOKUP_IDS). */
  const legStatements = new Map<string, Database.Statement>();
  function legStatement(column: 'leg' | 'sip', count: number): Database.Statement {
    const key = `${column}:${count}`;
    let statement = legStatements.get(key);
    if (!statement) {
      // The literal `type = 'LegCreated'` lets SQLite use the partial indexes.
      const expression = column === 'leg' ? 'call_leg_id' : "json_extract(fact, '$.sip.sipCallId')";
      statement = db.prepare(
        `SELECT seq, time_ms, fact FROM journal WHERE type = 'LegCreated' AND ${expression} IN (${Array(count).fill('?').join(', ')}) ORDER BY seq`,
      );
      legStatements.set(key, statement);
    }
    return statement;
  }

  return {
    async readCall(callId: string): Promise<JournalEntry[]> {
      assertOpen('readCall');
      const entries = readRows(selectCall, [callId]).map(decode);
      // Rows hold seqs up to durableSeq, the buffer only above it: no overlap.
      for (const entry of memory.pending) if (entry.fact.callId === callId) entries.push(entry);
      return entries;
    },

    async findLegs(query: {
      callLegIds?: readonly string[];
      sipCallIds?: readonly string[];
    }): Promise<LegLocation[]> {
      assertOpen('findLegs');
      const { callLegIds, sipCallIds, matches } = legQuery(query);
      const found: JournalEntry[] = [];
      if (callLegIds.length > 0) {
        for (const row of readRows(legStatement('leg', callLegIds.length), callLegIds))
          found.push(decode(row));
      }
      if (sipCallIds.length > 0) {
        for (const row of readRows(legStatement('sip', sipCallIds.length), sipCallIds))
          found.push(decode(row));
      }
      return legLocations([...found, ...memory.pending.filter(matches)]);
    },

    append(fact: JournalFact): JournalEntry {
      assertOpen('append');
      const entry = memory.append(fact);
      if (retrying) {
        // The last commit failed: the retry timer owns the next attempt; don't hit the disk per append.
      } else if (groupCommitMs === 0 || memory.pending.length >= maxBatch) {
        // A failed forced commit is retried by the timer; the append itself has succeeded.
        commitFromTimer();
      } else if (!timer) {
        timer = setTimeout(commitFromTimer, groupCommitMs);
      }
      memory.deliver(entry);
      return entry;
    },

    async flush(): Promise<void> {
      if (closed) return;
      commit();
    },

    async read(afterSeq: number, limit: number): Promise<JournalEntry[]> {
      assertOpen('read');
      if (limit <= 0) return [];
      const fromMemory = memory.readFromMemory(afterSeq, limit);
      if (fromMemory) return fromMemory;
      let rows: JournalRow[];
      try {
        rows = selectAfter.all(afterSeq, limit) as JournalRow[];
      } catch (cause) {
        throw new JournalError('JOURNAL_READ_FAILED', `journal read failed: ${String(cause)}`, {
          cause,
        });
      }
      const entries = rows.map(decode);
      // Rows and the buffer never overlap: the buffer only holds seqs above durableSeq.
      return entries.concat(
        memory.pendingAfter(Math.max(afterSeq, memory.durableSeq), limit - entries.length),
      );
    },

    subscribe(listener: (entry: JournalEntry) => void): () => void {
      return memory.subscribe(listener);
    },

    lastSeq(): number {
      return memory.lastSeq;
    },

    async settledSeq(): Promise<number> {
      assertOpen('settledSeq');
      const row = selectMark.get(SETTLED_MARK) as { seq: number } | undefined;
      return row?.seq ?? 0;
    },

    async markSettled(seq: number): Promise<void> {
      assertOpen('markSettled');
      commit();
      upsertMark.run(SETTLED_MARK, Math.min(seq, memory.durableSeq));
    },

    stats(): SqliteJournalStats {
      return { commits, pending: memory.pending.length, durableSeq: memory.durableSeq };
    },

    async close(): Promise<void> {
      if (closed) return;
      try {
        commit();
      } finally {
        closed = true;
        if (timer) clearTimeout(timer);
        timer = undefined;
        memory.clearSubscribers();
        db.close();
      }
    },
  };
}
