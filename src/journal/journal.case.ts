/**
 * The journal contract: what every journal does, spoken only through the `Journal` and
 * `JournalLookup` interfaces. The SQLite journal (sqlite-journal.test.ts) and the NATS JetStream
 * journal (jetstream-journal.test.ts) run it, each with its own harness.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JournalError } from './errors.js';
import { type LegacyRouting, legacyRoutingOf } from './facts.js';
import { legCreatedFact, ringingFact } from './testing.js';
import type { Journal, JournalEntry, JournalFact, JournalLookup } from './types.js';

export type ContractJournal = Journal & JournalLookup;

export interface ContractOpenOptions {
  /** Told about failures the journal survives (a throwing subscriber, a failed background write). */
  onError?: (error: JournalError) => void;
  /** Keep appended entries unwritten until flush/close (SQLite: a long group-commit interval). */
  holdWrites?: boolean;
}

/** One journal's storage for one test: opened, closed and reopened on the same data. */
export interface JournalHarness<J extends ContractJournal = ContractJournal> {
  /** May resolve asynchronously (a journal on a network store opens with round trips). */
  open(opts?: ContractOpenOptions & { legacyRouting?: LegacyRouting }): J | Promise<J>;
  /** Entries appended but not yet written, where the journal can tell (checked when present). */
  pendingEntries?(journal: J): number;
  /**
   * Store one entry's fact as exactly this text, bypassing `append`: what an older build or a
   * damaged disk left behind. Called while no journal of the harness is open.
   */
  writeStoredFact(entry: {
    seq: number;
    timeMs: number;
    callId: string;
    type: string;
    text: string;
  }): void | Promise<void>;
  /** Close what is open and remove the storage. */
  dispose(): Promise<void>;
}

export function runJournalContract<J extends ContractJournal>(
  name: string,
  createHarness: () => JournalHarness<J>,
): void {
  describe(`journal contract: ${name}`, () => {
    let harness: JournalHarness<J>;
    const opened: J[] = [];
    const open = async (opts?: Parameters<JournalHarness<J>['open']>[0]): Promise<J> => {
      const journal = await harness.open(opts);
      opened.push(journal);
      return journal;
    };
    /** Close every journal opened so far (a journal's storage is then free to change). */
    const closeAll = async () => {
      for (const journal of opened.splice(0)) await journal.close();
    };

    beforeEach(() => {
      harness = createHarness();
    });
    afterEach(async () => {
      try {
        await closeAll();
      } finally {
        await harness.dispose();
      }
    });

    it('assigns gap-free sequences from 1 and non-decreasing times, and delivers to subscribers in order', async () => {
      const journal = await open();
      expect(journal.lastSeq()).toBe(0);
      const seen: number[] = [];
      const unsubscribe = journal.subscribe((entry) => seen.push(entry.seq));
      const callId = randomUUID();
      const entries: JournalEntry[] = [];
      for (let n = 0; n < 1000; n += 1) entries.push(journal.append(ringingFact(callId, n)));
      expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
      for (let i = 1; i < entries.length; i += 1) {
        expect(entries[i]!.timeMs).toBeGreaterThanOrEqual(entries[i - 1]!.timeMs);
      }
      expect(seen).toEqual(entries.map((e) => e.seq));
      expect(journal.lastSeq()).toBe(1000);
      unsubscribe();
      journal.append(ringingFact(callId, 1000));
      expect(seen).toHaveLength(1000);
    });

    it('delivers an entry appended by a subscriber after the current entry reached every subscriber', async () => {
      const journal = await open();
      const callId = randomUUID();
      const first: number[] = [];
      const second: number[] = [];
      journal.subscribe((entry) => {
        first.push(entry.seq);
        if (entry.seq === 1) journal.append(ringingFact(callId, 2));
      });
      journal.subscribe((entry) => second.push(entry.seq));
      journal.append(ringingFact(callId, 1));
      expect(first).toEqual([1, 2]);
      expect(second).toEqual([1, 2]);
    });

    it('keeps a throwing subscriber from breaking appends or other subscribers', async () => {
      const errors: JournalError[] = [];
      const journal = await open({ onError: (error) => errors.push(error) });
      const seen: number[] = [];
      journal.subscribe(() => {
        throw new Error('boom');
      });
      journal.subscribe((entry) => seen.push(entry.seq));
      journal.append(ringingFact(randomUUID(), 1));
      expect(seen).toEqual([1]);
      expect(errors).toHaveLength(1);
    });

    it('reads what was appended, before and after flush, in pages', async () => {
      const journal = await open({ holdWrites: true });
      const callId = randomUUID();
      const appended = Array.from({ length: 7 }, (_, n) => journal.append(ringingFact(callId, n)));
      expect(await journal.read(0, 100)).toEqual(appended);
      await journal.flush();
      for (let n = 7; n < 12; n += 1) appended.push(journal.append(ringingFact(callId, n)));
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
      await journal.flush();
      expect(await journal.read(0, 100)).toEqual(appended);
    });

    it('survives close and reopen: same entries, lastSeq, and numbering continues', async () => {
      const callId = randomUUID();
      const facts: JournalFact[] = [
        {
          type: 'CallStarted',
          callId,
          callKind: 'direct',
          aNum: '1001',
          bNum: '1002',
          route: { kind: 'user', userId: 'u-b' },
          callerUserId: 'u-a',
        },
        legCreatedFact(callId, randomUUID(), 'abc@host', 'allocation'),
        {
          type: 'LegEnded',
          callId,
          callLegId: 'leg-1',
          sipStatus: 486,
          cause: 'Refused',
          sipReason: 'Busy Here',
        },
        { type: 'CallEnded', callId, reason: 'NoAnswer', sipStatus: 480 },
      ];
      const first = await open({ holdWrites: true });
      const appended = facts.map((fact) => first.append(fact));
      await closeAll();

      const second = await open();
      expect(second.lastSeq()).toBe(4);
      expect(await second.read(0, 10)).toEqual(appended);
      expect(await second.readCall(callId)).toEqual(appended);
      const next = second.append({ type: 'CallEnded', callId, reason: 'Normal', sipStatus: 200 });
      expect(next.seq).toBe(5);
      expect(next.timeMs).toBeGreaterThanOrEqual(appended[3]!.timeMs);
      await closeAll();

      expect((await open()).lastSeq()).toBe(5);
    });

    it('keeps the settled mark durably, never ahead of what it has appended', async () => {
      const callId = randomUUID();
      const first = await open({ holdWrites: true });
      expect(await first.settledSeq()).toBe(0);
      first.append({ type: 'CallEnded', callId, reason: 'Normal', sipStatus: 200 });
      first.append({ type: 'CallEnded', callId, reason: 'Normal', sipStatus: 200 });
      await first.markSettled(2);
      expect(await first.settledSeq()).toBe(2);
      await first.markSettled(99);
      expect(await first.settledSeq()).toBe(2);
      await closeAll();

      const second = await open();
      expect(await second.settledSeq()).toBe(2);
      expect(await second.read(0, 10)).toHaveLength(2);
    });

    it('refuses use after close with a coded error, and close is idempotent', async () => {
      const journal = await open();
      await closeAll();
      await journal.close();
      expect(() => journal.append(ringingFact(randomUUID(), 1))).toThrowError(
        expect.objectContaining({ code: 'JOURNAL_CLOSED' }),
      );
      await expect(journal.read(0, 1)).rejects.toBeInstanceOf(JournalError);
      await expect(journal.readCall(randomUUID())).rejects.toMatchObject({ code: 'JOURNAL_CLOSED' });
      await expect(journal.findLegs({ callLegIds: ['x'] })).rejects.toMatchObject({ code: 'JOURNAL_CLOSED' });
    });

    it('reads one call in order across durable rows and the buffer, and finds legs by CallLegId and SIP Call-ID', async () => {
      const journal = await open({ holdWrites: true });
      const [callA, callB] = [randomUUID(), randomUUID()];
      journal.append(legCreatedFact(callA, 'leg-a1', 'sip-a1', 'caller'));
      journal.append(legCreatedFact(callB, 'leg-b1', 'sip-b1', 'caller'));
      journal.append(ringingFact(callA, 1));
      await journal.flush();
      // These stay in the buffer: lookups must see them too.
      journal.append(legCreatedFact(callA, 'leg-a2', 'sip-a2', 'allocation'));
      journal.append(ringingFact(callB, 2));
      if (harness.pendingEntries) expect(harness.pendingEntries(journal)).toBe(2);

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
      const many = Array.from({ length: 201 }, (_, n) => `leg-${n}`);
      await expect(journal.findLegs({ callLegIds: many })).rejects.toMatchObject({
        code: 'JOURNAL_BAD_OPTION',
      });
    });

    describe('validation of what is read', () => {
      const callId = randomUUID();
      /** A journal whose entry 2 is stored as `text`, after a valid entry 1. */
      async function withStored(text: string): Promise<J> {
        (await open()).append(ringingFact(callId, 1));
        await closeAll();
        await harness.writeStoredFact({ seq: 2, timeMs: Date.now(), callId, type: 'LegEnded', text });
        return open();
      }

      it('turns a fact that breaks its schema into JOURNAL_INVALID_FACT, on every read path', async () => {
        const journal = await withStored(
          JSON.stringify({
            schemaVersion: 2,
            type: 'LegEnded',
            callId,
            callLegId: 'leg-1',
            sipStatus: 'busy',
          }),
        );
        await expect(journal.read(0, 10)).rejects.toMatchObject({ code: 'JOURNAL_INVALID_FACT' });
        await expect(journal.readCall(callId)).rejects.toBeInstanceOf(JournalError);
        expect((await journal.read(0, 1)).map((entry) => entry.seq)).toEqual([1]);
      });

      it('turns text that is no fact into JOURNAL_CORRUPT_ENTRY, and a newer version into JOURNAL_UNSUPPORTED_VERSION', async () => {
        const corrupt = await withStored('{"type": "LegEnded", "callId": ');
        await expect(corrupt.read(0, 10)).rejects.toMatchObject({ code: 'JOURNAL_CORRUPT_ENTRY' });
        await closeAll();
        await harness.writeStoredFact({
          seq: 3,
          timeMs: Date.now(),
          callId,
          type: 'LegEnded',
          text: JSON.stringify({ ...ringingFact(callId, 3), schemaVersion: 99 }),
        });
        await expect((await open()).read(2, 10)).rejects.toMatchObject({
          code: 'JOURNAL_UNSUPPORTED_VERSION',
        });
      });

      it('reads facts of schema version 1 (no version field), upgraded: the route and the enum cause', async () => {
        // Exactly what the journal of the previous release stored for a direct call 1001 → 1002.
        const v1 = [
          {
            type: 'CallStarted',
            callId,
            callKind: 'direct',
            aNum: '1001',
            bNum: '1002',
            callerUserId: 'u-a',
          },
          { type: 'LegEnded', callId, callLegId: 'leg-b', sipStatus: 603, cause: 'Decline' },
          { type: 'LegEnded', callId, callLegId: 'leg-a', sipStatus: 603, cause: 'Rejected' },
        ];
        for (const [index, fact] of v1.entries()) {
          await harness.writeStoredFact({
            seq: index + 1,
            timeMs: 1000,
            callId,
            type: fact.type,
            text: JSON.stringify(fact),
          });
        }
        const routing = legacyRoutingOf({
          userByExtension: (extension) => (extension === '1002' ? { userId: 'u-b' } : undefined),
          userByNumber: () => undefined,
        });
        const facts = (await (await open({ legacyRouting: routing })).readCall(callId)).map(
          (entry) => entry.fact,
        );
        expect(facts).toEqual([
          { ...v1[0], route: { kind: 'user', userId: 'u-b' } },
          { ...v1[1], cause: 'Refused', sipReason: 'Decline' },
          v1[2],
        ]);
        await closeAll();
        // Without a directory to route with, the route is unknown rather than guessed.
        expect((await (await open()).read(0, 1))[0]!.fact).toMatchObject({ route: { kind: 'unknown' } });
      });
    });
  });
}
