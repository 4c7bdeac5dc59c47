import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sleep } from '../testing/wait.js';
import type { JournalError } from './errors.js';
import { runJournalContract } from './journal.case.js';
import { openSqliteJournal, type SqliteJournal } from './sqlite-journal.js';
import { legCreatedFact, ringingFact } from './testing.js';

runJournalContract('SQLite', () => {
  const harnessDir = mkdtempSync(join(tmpdir(), 'journal-contract-'));
  const harnessPath = join(harnessDir, 'journal.db');
  return {
    open: (opts = {}) =>
      openSqliteJournal(harnessPath, {
        onError: opts.onError,
        legacyRouting: opts.legacyRouting,
        groupCommitMs: opts.holdWrites ? 60_000 : undefined,
      }),
    pendingEntries: (journal) => journal.stats().pending,
    writeStoredFact(entry) {
      // Opening a journal once creates the table an older build would have left.
      void openSqliteJournal(harnessPath).close();
      const db = new Database(harnessPath);
      try {
        db.prepare(
          'INSERT INTO journal (seq, time_ms, call_id, call_leg_id, type, fact) VALUES (?, ?, ?, NULL, ?, ?)',
        ).run(entry.seq, entry.timeMs, entry.callId, entry.type, entry.text);
      } finally {
        db.close();
      }
    },
    async dispose() {
      rmSync(harnessDir, { recursive: true, force: true });
    },
  };
});

let dir: string;
let path: string;
const opened: SqliteJournal[] = [];

function open(opts?: Parameters<typeof openSqliteJournal>[1]): SqliteJournal {
  const journal = openSqliteJournal(path, opts);
  opened.push(journal);
  return journal;
}

/** Rows visible to another connection: what a crash right now would leave behind. */
function durableRows(): number {
  const reader = new Database(path, { readonly: true });
  try {
    return (reader.prepare('SELECT count(*) AS n FROM journal').get() as { n: number }).n;
  } finally {
    reader.close();
  }
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'journal-test-'));
  path = join(dir, 'journal.db');
});

afterEach(async () => {
  try {
    for (const journal of opened.splice(0)) await journal.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('openSqliteJournal', () => {
  it('read sees buffered entries before they are durable; flush makes them durable', async () => {
    const journal = open({ groupCommitMs: 60_000 });
    const callId = randomUUID();
    const appended = Array.from({ length: 10 }, (_, n) => journal.append(ringingFact(callId, n)));
    expect(durableRows()).toBe(0);
    expect(await journal.read(0, 100)).toEqual(appended);
    expect(journal.stats()).toMatchObject({ pending: 10, durableSeq: 0, commits: 0 });
    await journal.flush();
    expect(durableRows()).toBe(10);
    expect(journal.stats()).toMatchObject({ pending: 0, durableSeq: 10, commits: 1 });
    expect(await journal.read(0, 100)).toEqual(appended);
  });

  it('commits a group after the group-commit interval without flush', async () => {
    const journal = open({ groupCommitMs: 5 });
    const callId = randomUUID();
    for (let n = 0; n < 5; n += 1) journal.append(ringingFact(callId, n));
    expect(durableRows()).toBe(0);
    for (let waited = 0; durableRows() < 5 && waited < 2000; waited += 10) await sleep(10);
    expect(durableRows()).toBe(5);
    expect(journal.stats().commits).toBe(1);
  });

  it('batches: one transaction per full group of maxBatch, the rest at the next group commit', async () => {
    const journal = open({ groupCommitMs: 60_000 });
    const callId = randomUUID();
    for (let n = 0; n < 600; n += 1) journal.append(ringingFact(callId, n));
    expect(journal.stats()).toMatchObject({ commits: 2, pending: 88, durableSeq: 512 });
    expect(durableRows()).toBe(512);
    await journal.flush();
    expect(journal.stats()).toMatchObject({ commits: 3, pending: 0, durableSeq: 600 });
  });

  it('groupCommitMs 0 makes every append durable at once', () => {
    const journal = open({ groupCommitMs: 0 });
    journal.append(ringingFact(randomUUID(), 1));
    expect(durableRows()).toBe(1);
  });

  it('stores each fact with its CallId, CallLegId and type in columns, stamped with its schema version', async () => {
    const callId = randomUUID();
    const callLegId = randomUUID();
    const journal = open({ groupCommitMs: 60_000 });
    journal.append(ringingFact(callId, 1));
    journal.append(legCreatedFact(callId, callLegId, 'abc@host', 'allocation'));
    await journal.close();
    const raw = new Database(path, { readonly: true });
    const row = raw.prepare('SELECT call_id, call_leg_id, type, fact FROM journal WHERE seq = 2').get() as {
      fact: string;
    };
    raw.close();
    expect(row).toEqual({
      call_id: callId,
      call_leg_id: callLegId,
      type: 'LegCreated',
      fact: expect.any(String),
    });
    expect(JSON.parse(row.fact)).toMatchObject({
      schemaVersion: 2,
      callLegId,
      sip: { sipCallId: 'abc@host' },
    });
  });

  it('reads the same entries whether recent commits come from memory or from the file', async () => {
    const journal = open({ groupCommitMs: 60_000 });
    const callId = randomUUID();
    // Full groups commit on their own: most of these are on disk only, the last ones also in memory.
    const appended = Array.from({ length: 3000 }, (_, n) => journal.append(ringingFact(callId, n)));
    const pages = async (reader: SqliteJournal) => {
      const seqs: number[] = [];
      for (let after = 0; ; ) {
        const page = await reader.read(after, 700);
        if (page.length === 0) return seqs;
        seqs.push(...page.map((entry) => entry.seq));
        after = page[page.length - 1]!.seq;
      }
    };
    expect(await pages(journal)).toEqual(appended.map((entry) => entry.seq));
    expect(await journal.read(2990, 100)).toEqual(appended.slice(2990));
    await journal.flush();
    expect(await journal.read(1500, 1000)).toEqual(appended.slice(1500, 2500));
    await journal.close();
    const reopened = open();
    expect(await reopened.read(1500, 1000)).toEqual(appended.slice(1500, 2500));
  });

  it('keeps entries buffered when a commit fails, and retries them', async () => {
    const errors: JournalError[] = [];
    const journal = open({ groupCommitMs: 5, onError: (error) => errors.push(error) });
    const other = new Database(path);
    try {
      // Another connection takes the table away: a real failure of the next group commit.
      other.exec('ALTER TABLE journal RENAME TO journal_away');
      const callId = randomUUID();
      journal.append(ringingFact(callId, 1));
      journal.append(ringingFact(callId, 2));
      await expect(journal.flush()).rejects.toMatchObject({ code: 'JOURNAL_WRITE_FAILED' });
      expect(journal.stats()).toMatchObject({ pending: 2, durableSeq: 0 });
      await expect(journal.read(0, 10)).rejects.toMatchObject({ code: 'JOURNAL_READ_FAILED' });
      expect(journal.append(ringingFact(callId, 3)).seq).toBe(3);
      for (let waited = 0; errors.length === 0 && waited < 3000; waited += 20) await sleep(20);
      expect(errors[0]?.code).toBe('JOURNAL_WRITE_FAILED');
      other.exec('ALTER TABLE journal_away RENAME TO journal');
      for (let waited = 0; durableRows() < 3 && waited < 3000; waited += 20) await sleep(20);
      expect(durableRows()).toBe(3);
      expect(journal.stats()).toMatchObject({ pending: 0, durableSeq: 3 });
      expect((await journal.read(0, 10)).map((entry) => entry.seq)).toEqual([1, 2, 3]);
    } finally {
      other.close();
    }
  });

  it('rejects bad options and unopenable paths with coded errors', () => {
    expect(() => openSqliteJournal(path, { groupCommitMs: -1 })).toThrowError(
      expect.objectContaining({ code: 'JOURNAL_BAD_OPTION' }),
    );
    expect(() => openSqliteJournal(join(dir, 'missing', 'dir', 'journal.db'))).toThrowError(
      expect.objectContaining({ code: 'JOURNAL_OPEN_FAILED' }),
    );
  });
});

describe('identifier lookups (readCall, findLegs)', () => {
  it('answers the leg lookups from the partial indexes, not a scan', () => {
    void open().close();
    const db = new Database(path, { readonly: true });
    try {
      const plan = (sql: string) =>
        (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all('x') as { detail: string }[])
          .map((row) => row.detail)
          .join('; ');
      expect(plan("SELECT seq FROM journal WHERE type = 'LegCreated' AND call_leg_id IN (?)")).toMatch(
        /journal_leg_created_leg_id/,
      );
      expect(
        plan(
          "SELECT seq FROM journal WHERE type = 'LegCreated' AND json_extract(fact, '$.sip.sipCallId') IN (?)",
        ),
      ).toMatch(/journal_leg_created_sip_call_id/);
    } finally {
      db.close();
    }
  });
});
