/**
 * Crash recovery on a real SQLite journal: only calls started and not ended get a CallEnded, dated
 * at their last fact (or the floor given), and a second run appends nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { foldCall, inProgress } from './fold.js';
import { INTERRUPTED_CAUSE, recoverInterruptedCalls } from './recovery.js';
import { openSqliteJournal, type SqliteJournal } from './sqlite-journal.js';
import { legCreatedFact } from './testing.js';
import type { JournalFact } from './types.js';

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
let dir: string;
let journal: SqliteJournal;

function started(callId: string): JournalFact {
  return {
    type: 'CallStarted',
    callId,
    callKind: 'inbound-service',
    aNum: '1001',
    bNum: '100',
    route: { kind: 'queue', queueId: 'queue-1' },
    queueId: 'queue-1',
  };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
  dir = mkdtempSync(join(tmpdir(), 'journal-recovery-'));
  journal = openSqliteJournal(join(dir, 'journal.db'));
});

afterEach(async () => {
  try {
    await journal.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    vi.useRealTimers();
  }
});

describe('recoverInterruptedCalls', () => {
  it('ends every call in progress at its last known time, once', async () => {
    journal.append(started('ended'));
    journal.append({ type: 'CallEnded', callId: 'ended', reason: 'Normal', sipStatus: 200 });
    journal.append(started('queued'));
    vi.setSystemTime(T0 + 2000);
    journal.append(legCreatedFact('queued', 'leg-1', 'sip-1', 'allocation'));
    journal.append(started('late'));
    // A fact of a call whose start is not in the journal (already ended elsewhere) is no call in progress.
    journal.append({ type: 'LegRinging', callId: 'unknown', callLegId: 'leg-x', sipStatus: 180 });
    vi.setSystemTime(T0 + 60_000);

    expect(await recoverInterruptedCalls(journal, { atMs: T0 + 1000, pageSize: 2 })).toEqual([
      'queued',
      'late',
    ]);
    const appended = (await journal.read(6, 10)).map((entry) => entry.fact);
    expect(appended).toEqual([
      {
        type: 'CallEnded',
        callId: 'queued',
        reason: 'Failed',
        sipStatus: 500,
        cause: INTERRUPTED_CAUSE,
        endedAtMs: T0 + 2000,
      },
      {
        type: 'CallEnded',
        callId: 'late',
        reason: 'Failed',
        sipStatus: 500,
        cause: INTERRUPTED_CAUSE,
        endedAtMs: T0 + 2000,
      },
    ]);
    expect(journal.stats().pending).toBe(0);
    const queued = foldCall('queued', await journal.readCall('queued'));
    expect(inProgress(queued)).toBe(false);
    expect(queued.ended).toMatchObject({ reason: 'Failed', cause: 'ServerRestart', endedMs: T0 + 2000 });

    expect(await recoverInterruptedCalls(journal)).toEqual([]);
    expect(journal.lastSeq()).toBe(8);
  });

  it('scans only what follows the settled mark it leaves behind', async () => {
    journal.append(started('before-mark'));
    await recoverInterruptedCalls(journal);
    expect(await journal.settledSeq()).toBe(2);
    journal.append(started('after-mark'));
    const read = vi.spyOn(journal, 'read');
    expect(await recoverInterruptedCalls(journal)).toEqual(['after-mark']);
    expect(read.mock.calls[0]![0]).toBe(2);
    expect(await journal.settledSeq()).toBe(4);
  });

  it('dates the end no earlier than atMs', async () => {
    journal.append(started('call-1'));
    await recoverInterruptedCalls(journal, { atMs: T0 + 5000 });
    expect((await journal.read(1, 1))[0]!.fact).toMatchObject({ type: 'CallEnded', endedAtMs: T0 + 5000 });
  });
});
