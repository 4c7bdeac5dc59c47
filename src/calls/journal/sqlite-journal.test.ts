import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JournalError } from './errors.js';
import { openSqliteJournal, type SqliteJournal } from './sqlite-journal.js';
import type { JournalEntry, JournalFact } from './types.js';

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

function legFact(callId: string, n: number): JournalFact {
  return { type: 'LegRinging', callId, callLegId: `leg-${n}`, sipStatus: 180 };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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
  it('assigns gap-free sequences from 1 and non-decreasing times, and delivers to subscribers in order', async () => {
    const journal = open();
    expect(journal.lastSeq()).toBe(0);
    const seen: number[] = [];
    const unsubscribe = journal.subscribe((entry) => seen.push(entry.seq));
    const callId = randomUUID();
    const entries: JournalEntry[] = [];
    for (let n = 0; n < 1000; n += 1) entries.push(journal.append(legFact(callId, n)));
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    for (let i = 1; i < entries.length; i += 1) {
      expect(entries[i]!.timeMs).toBeGreaterThanOrEqual(entries[i - 1]!.timeMs);
    }
    expect(seen).toEqual(entries.map((e) => e.seq));
    expect(journal.lastSeq()).toBe(1000);
    unsubscribe();
    journal.append(legFact(callId, 1000));
    expect(seen).toHaveLength(1000);
  });

  it('delivers an entry appended by a subscriber after the current entry reached every subscriber', () => {
    const journal = open();
    const callId = randomUUID();
    const first: number[] = [];
    const second: number[] = [];
    journal.subscribe((entry) => {
      first.push(entry.seq);
      if (entry.seq === 1) journal.append(legFact(callId, 2));
    });
    journal.subscribe((entry) => second.push(entry.seq));
    journal.append(legFact(callId, 1));
    expect(first).toEqual([1, 2]);
    expect(second).toEqual([1, 2]);
  });

  it('keeps a throwing subscriber from breaking appends or other subscribers', () => {
    const errors: JournalError[] = [];
    const journal = open({ onError: (error) => errors.push(error) });
    const seen: number[] = [];
    journal.subscribe(() => {
      throw new Error('boom');
    });
    journal.subscribe((entry) => seen.push(entry.seq));
    journal.append(legFact(randomUUID(), 1));
    expect(seen).toEqual([1]);
    expect(errors).toHaveLength(1);
  });

  it('read sees buffered entries before they are durable; flush makes them durable', async () => {
    const journal = open({ groupCommitMs: 60_000 });
    const callId = randomUUID();
    const appended = Array.from({ length: 10 }, (_, n) => journal.append(legFact(callId, n)));
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
    for (let n = 0; n < 5; n += 1) journal.append(legFact(callId, n));
    expect(durableRows()).toBe(0);
    for (let waited = 0; durableRows() < 5 && waited < 2000; waited += 10) await sleep(10);
    expect(durableRows()).toBe(5);
    expect(journal.stats().commits).toBe(1);
  });

  it('batches: one transaction per full group of maxBatch, the rest at the next group commit', async () => {
    const journal = open({ groupCommitMs: 60_000 });
    const callId = randomUUID();
    for (let n = 0; n < 600; n += 1) journal.append(legFact(callId, n));
    expect(journal.stats()).toMatchObject({ commits: 2, pending: 88, durableSeq: 512 });
    expect(durableRows()).toBe(512);
    await journal.flush();
    expect(journal.stats()).toMatchObject({ commits: 3, pending: 0, durableSeq: 600 });
  });

  it('groupCommitMs 0 makes every append durable at once', () => {
    const journal = open({ groupCommitMs: 0 });
    journal.append(legFact(randomUUID(), 1));
    expect(durableRows()).toBe(1);
  });

  it('pages reads across durable rows and the buffer', async () => {
    const journal = open({ groupCommitMs: 60_000 });
    const callId = randomUUID();
    for (let n = 0; n < 7; n += 1) journal.append(legFact(callId, n));
    await journal.flush();
    for (let n = 7; n < 12; n += 1) journal.append(legFact(callId, n));
    const pages: number[][] = [];
    for (let after = 0; ; ) {
      const page = await journal.read(after, 5);
      if (page.length === 0) break;
      pages.push(page.map((e) => e.seq));
      after = page[page.length - 1]!.seq;
    }
    expect(pages).toEqual([
      [1, 2, 3, 4, 5],
      [6, 7, 8, 9, 10],
      [11, 12],
    ]);
    expect(await journal.read(12, 5)).toEqual([]);
    expect(await journal.read(3, 0)).toEqual([]);
  });

  it('survives close and reopen: same entries, lastSeq, and numbering continues', async () => {
    const callId = randomUUID();
    const facts: JournalFact[] = [
      { type: 'CallStarted', callId, callKind: 'direct', aNum: '1001', bNum: '1002', callerUserId: 'u-a' },
      {
        type: 'LegCreated',
        callId,
        callLegId: randomUUID(),
        role: 'callee',
        direction: 'outbound',
        userId: 'u-b',
        target: 'sip:1002@127.0.0.1:5062',
        sip: { sipCallId: 'abc@host', localTag: 't1' },
      },
      { type: 'CallEnded', callId, reason: 'NoAnswer', sipStatus: 480 },
    ];
    const first = open({ groupCommitMs: 60_000 });
    const appended = facts.map((fact) => first.append(fact));
    await first.close();
    opened.splice(0);

    const second = open();
    expect(second.lastSeq()).toBe(3);
    expect(await second.read(0, 10)).toEqual(appended);
    const next = second.append({ type: 'CallEnded', callId, reason: 'Normal', sipStatus: 200 });
    expect(next.seq).toBe(4);
    expect(next.timeMs).toBeGreaterThanOrEqual(appended[2]!.timeMs);
    await second.close();
    opened.splice(0);

    const third = open();
    expect(third.lastSeq()).toBe(4);
    const raw = new Database(path, { readonly: true });
    const row = raw.prepare('SELECT call_id, call_leg_id, type FROM journal WHERE seq = 2').get();
    raw.close();
    expect(row).toEqual({
      call_id: callId,
      call_leg_id: (facts[1] as { callLegId: string }).callLegId,
      type: 'LegCreated',
    });
  });

  it('keeps entries buffered when a commit fails, and retries them', async () => {
    const errors: JournalError[] = [];
    const journal = open({ groupCommitMs: 5, onError: (error) => errors.push(error) });
    const other = new Database(path);
    try {
      // Another connection takes the table away: a real failure of the next group commit.
      other.exec('ALTER TABLE journal RENAME TO journal_away');
      const callId = randomUUID();
      journal.append(legFact(callId, 1));
      journal.append(legFact(callId, 2));
      await expect(journal.flush()).rejects.toMatchObject({ code: 'JOURNAL_WRITE_FAILED' });
      expect(journal.stats()).toMatchObject({ pending: 2, durableSeq: 0 });
      await expect(journal.read(0, 10)).rejects.toMatchObject({ code: 'JOURNAL_READ_FAILED' });
      expect(journal.append(legFact(callId, 3)).seq).toBe(3);
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

  it('refuses use after close with a coded error, and close is idempotent', async () => {
    const journal = open();
    await journal.close();
    await journal.close();
    expect(() => journal.append(legFact(randomUUID(), 1))).toThrowError(
      expect.objectContaining({ code: 'JOURNAL_CLOSED' }),
    );
    await expect(journal.read(0, 1)).rejects.toBeInstanceOf(JournalError);
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
  function legCreated(
    callId: string,
    callLegId: string,
    sipCallId: string,
    role: 'caller' | 'allocation',
  ): JournalFact {
    return {
      type: 'LegCreated',
      callId,
      callLegId,
      role,
      direction: role === 'caller' ? 'inbound' : 'outbound',
      userId: `user-${callLegId}`,
      target: 'ws:127.0.0.1:5000',
      sip: {
        sipCallId,
        localTag: `local-${callLegId}`,
        remoteTag: role === 'caller' ? `remote-${callLegId}` : undefined,
      },
    };
  }

  it('reads one call in order across durable rows and the buffer, and finds legs by CallLegId and SIP Call-ID', async () => {
    const journal = open({ groupCommitMs: 60_000 });
    const [callA, callB] = [randomUUID(), randomUUID()];
    journal.append(legCreated(callA, 'leg-a1', 'sip-a1', 'caller'));
    journal.append(legCreated(callB, 'leg-b1', 'sip-b1', 'caller'));
    journal.append(legFact(callA, 1));
    await journal.flush();
    // These stay in the buffer: lookups must see them too.
    journal.append(legCreated(callA, 'leg-a2', 'sip-a2', 'allocation'));
    journal.append(legFact(callB, 2));
    expect(journal.stats().pending).toBe(2);

    expect((await journal.readCall(callA)).map((entry) => entry.seq)).toEqual([1, 3, 4]);
    expect((await journal.readCall(callB)).map((entry) => entry.seq)).toEqual([2, 5]);
    expect(await journal.readCall(randomUUID())).toEqual([]);

    const byLeg = await journal.findLegs({ callLegIds: ['leg-a2', 'leg-b1', 'leg-unknown'] });
    expect(byLeg.map((leg) => [leg.callId, leg.callLegId, leg.role])).toEqual([
      [callB, 'leg-b1', 'caller'],
      [callA, 'leg-a2', 'allocation'],
    ]);
    const bySip = await journal.findLegs({ sipCallIds: ['sip-a1', 'sip-a2'] });
    expect(bySip.map((leg) => leg.callLegId)).toEqual(['leg-a1', 'leg-a2']);
    expect(bySip[0]).toMatchObject({
      userId: 'user-leg-a1',
      sip: { sipCallId: 'sip-a1', localTag: 'local-leg-a1', remoteTag: 'remote-leg-a1' },
    });
    // Both kinds at once, a leg matching both is returned once.
    expect(
      (await journal.findLegs({ callLegIds: ['leg-a1'], sipCallIds: ['sip-a1', 'sip-b1'] })).map(
        (leg) => leg.callLegId,
      ),
    ).toEqual(['leg-a1', 'leg-b1']);
    expect(await journal.findLegs({})).toEqual([]);

    // After the buffer is committed the same answers come from the indexes.
    await journal.flush();
    expect((await journal.findLegs({ callLegIds: ['leg-a2'] })).map((leg) => leg.callId)).toEqual([callA]);
    expect((await journal.readCall(callB)).map((entry) => entry.seq)).toEqual([2, 5]);
  });

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

  it('bounds the number of identifiers per lookup and refuses lookups after close', async () => {
    const journal = open();
    const many = Array.from({ length: 201 }, (_, n) => `leg-${n}`);
    await expect(journal.findLegs({ callLegIds: many })).rejects.toMatchObject({
      code: 'JOURNAL_BAD_OPTION',
    });
    await journal.close();
    await expect(journal.readCall(randomUUID())).rejects.toMatchObject({ code: 'JOURNAL_CLOSED' });
    await expect(journal.findLegs({ callLegIds: ['x'] })).rejects.toMatchObject({ code: 'JOURNAL_CLOSED' });
  });
});
