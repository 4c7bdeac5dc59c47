import Database from 'better-sqlite3';
import { JournalError } from './errors.js';
import { decodeFact, encodeFact, type LegacyRouting } from './facts.js';
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
/** Committed entries kept in memory for readers just behind the writer (see `recent`). */
const RECENT_ENTRIES = 1024;
/** Identifiers per kind in one `findLegs` call: keeps the IN lists (and prepared statements) bounded. */
const MAX_LOOKUP_IDS = 200;
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

  const writeBatch = db.transaction((entries: JournalEntry[]) => {
    for (const entry of entries) {
      const { fact } = entry;
      const callLegId = 'callLegId' in fact ? fact.callLegId : null;
      insert.run(entry.seq, entry.timeMs, fact.callId, callLegId, fact.type, encodeFact(fact));
    }
  });

  let lastSeq = tail?.seq ?? 0;
  let durableSeq = lastSeq;
  // Times never go backwards, even if the wall clock does: consumers order by seq but reason in time.
  let lastTimeMs = tail?.time_ms ?? 0;
  let pending: JournalEntry[] = [];
  /**
   * The entries of the last commits, in seq order up to durableSeq: a follower reading just behind
   * the writer (post-processing) gets them from memory instead of decoding rows it was handed
   * moments ago. Only entries this process appended, so never a stored fact that needs validating.
   */
  let recent: JournalEntry[] = [];
  let timer: NodeJS.Timeout | undefined;
  let commits = 0;
  let closed = false;
  /** A commit failed and a retry is scheduled. */
  let retrying = false;
  const listeners = new Set<(entry: JournalEntry) => void>();
  // Entries waiting for delivery: a listener that appends must not see its entry before the
  // current one has reached every other listener.
  const deliveryQueue: JournalEntry[] = [];
  let delivering = false;

  function commit(): void {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (pending.length === 0) return;
    const batch = pending;
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
    pending = [];
    recent = recent.length + batch.length > 2 * RECENT_ENTRIES ? recent.slice(-RECENT_ENTRIES) : recent;
    recent.push(...batch);
    retrying = false;
    durableSeq = batch[batch.length - 1]!.seq;
    commits += 1;
  }

  function commitFromTimer(): void {
    try {
      commit();
    } catch (error) {
      reportError(error as JournalError);
    }
  }

  function deliver(entry: JournalEntry): void {
    deliveryQueue.push(entry);
    if (delivering) return;
    delivering = true;
    try {
      for (let next = deliveryQueue.shift(); next; next = deliveryQueue.shift()) {
        for (const listener of listeners) {
          try {
            listener(next);
          } catch (cause) {
            reportError(
              new JournalError('JOURNAL_WRITE_FAILED', `journal subscriber threw: ${String(cause)}`, {
                cause,
              }),
            );
          }
        }
      }
    } finally {
      delivering = false;
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

  function legLocation(entry: JournalEntry): LegLocation | undefined {
    const { fact } = entry;
    if (fact.type !== 'LegCreated') return undefined;
    return {
      callId: fact.callId,
      callLegId: fact.callLegId,
      role: fact.role,
      userId: fact.userId,
      queueId: fact.queueId,
      sip: fact.sip,
    };
  }

  return {
    async readCall(callId: string): Promise<JournalEntry[]> {
      assertOpen('readCall');
      const entries = readRows(selectCall, [callId]).map(decode);
      // Rows hold seqs up to durableSeq, the buffer only above it: no overlap.
      for (const entry of pending) if (entry.fact.callId === callId) entries.push(entry);
      return entries;
    },

    async findLegs(query: {
      callLegIds?: readonly string[];
      sipCallIds?: readonly string[];
    }): Promise<LegLocation[]> {
      assertOpen('findLegs');
      const callLegIds = [...new Set(query.callLegIds ?? [])];
      const sipCallIds = [...new Set(query.sipCallIds ?? [])];
      if (callLegIds.length > MAX_LOOKUP_IDS || sipCallIds.length > MAX_LOOKUP_IDS) {
        throw new JournalError(
          'JOURNAL_BAD_OPTION',
          `findLegs takes at most ${MAX_LOOKUP_IDS} identifiers of each kind`,
        );
      }
      const bySeq = new Map<number, JournalEntry>();
      if (callLegIds.length > 0) {
        for (const row of readRows(legStatement('leg', callLegIds.length), callLegIds))
          bySeq.set(row.seq, decode(row));
      }
      if (sipCallIds.length > 0) {
        for (const row of readRows(legStatement('sip', sipCallIds.length), sipCallIds))
          bySeq.set(row.seq, decode(row));
      }
      const wantedLegs = new Set(callLegIds);
      const wantedSip = new Set(sipCallIds);
      for (const entry of pending) {
        const { fact } = entry;
        if (
          fact.type === 'LegCreated' &&
          (wantedLegs.has(fact.callLegId) || wantedSip.has(fact.sip.sipCallId))
        ) {
          bySeq.set(entry.seq, entry);
        }
      }
      return [...bySeq.values()]
        .sort((a, b) => a.seq - b.seq)
        .map(legLocation)
        .filter((leg): leg is LegLocation => leg !== undefined);
    },

    append(fact: JournalFact): JournalEntry {
      assertOpen('append');
      lastSeq += 1;
      lastTimeMs = Math.max(lastTimeMs, Date.now());
      const entry: JournalEntry = { seq: lastSeq, timeMs: lastTimeMs, fact };
      pending.push(entry);
      if (retrying) {
        // The last commit failed: the retry timer owns the next attempt; don't hit the disk per append.
      } else if (groupCommitMs === 0 || pending.length >= maxBatch) {
        // A failed forced commit is retried by the timer; the append itself has succeeded.
        commitFromTimer();
      } else if (!timer) {
        timer = setTimeout(commitFromTimer, groupCommitMs);
      }
      deliver(entry);
      return entry;
    },

    async flush(): Promise<void> {
      if (closed) return;
      commit();
    },

    async read(afterSeq: number, limit: number): Promise<JournalEntry[]> {
      assertOpen('read');
      if (limit <= 0) return [];
      const firstRecent = recent[0]?.seq;
      if (firstRecent !== undefined && afterSeq >= firstRecent - 1) {
        // Recent commits and the buffer are contiguous seqs: slice them by position.
        const recentStart = afterSeq - firstRecent + 1;
        const fromRecent = recent.slice(recentStart, recentStart + limit);
        const pendingStart = Math.max(0, afterSeq - durableSeq);
        return fromRecent.concat(pending.slice(pendingStart, pendingStart + limit - fromRecent.length));
      }
      let rows: JournalRow[];
      try {
        rows = selectAfter.all(afterSeq, limit) as JournalRow[];
      } catch (cause) {
        throw new JournalError('JOURNAL_READ_FAILED', `journal read failed: ${String(cause)}`, {
          cause,
        });
      }
      const entries = rows.map(decode);
      if (entries.length < limit) {
        // Rows and the buffer never overlap: the buffer only holds seqs above durableSeq.
        const from = Math.max(afterSeq, durableSeq);
        for (const entry of pending) {
          if (entries.length >= limit) break;
          if (entry.seq > from) entries.push(entry);
        }
      }
      return entries;
    },

    subscribe(listener: (entry: JournalEntry) => void): () => void {
      // Wrap so that subscribing the same function twice yields two independent subscriptions.
      const wrapped = (entry: JournalEntry) => listener(entry);
      listeners.add(wrapped);
      return () => {
        listeners.delete(wrapped);
      };
    },

    lastSeq(): number {
      return lastSeq;
    },

    async settledSeq(): Promise<number> {
      assertOpen('settledSeq');
      const row = selectMark.get(SETTLED_MARK) as { seq: number } | undefined;
      return row?.seq ?? 0;
    },

    async markSettled(seq: number): Promise<void> {
      assertOpen('markSettled');
      commit();
      upsertMark.run(SETTLED_MARK, Math.min(seq, durableSeq));
    },

    stats(): SqliteJournalStats {
      return { commits, pending: pending.length, durableSeq };
    },

    async close(): Promise<void> {
      if (closed) return;
      try {
        commit();
      } finally {
        closed = true;
        if (timer) clearTimeout(timer);
        timer = undefined;
        listeners.clear();
        db.close();
      }
    },
  };
}
