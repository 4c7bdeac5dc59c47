/**
 * What every journal does in memory, whatever it writes to: numbering and stamping appends, the
 * buffer of entries not yet durable, the recent entries a follower reads without touching storage,
 * and delivery to subscribers. One implementation, so the SQLite and JetStream journals cannot
 * drift apart on the contract's ordering and re-entrancy rules (journal.case.ts).
 */
import { JournalError } from './errors.js';
import type { JournalEntry, JournalFact, LegLocation } from './types.js';

/** Durable entries kept in memory for readers just behind the writer (see `JournalTail.recent`). */
const RECENT_ENTRIES = 1024;

export class JournalTail {
  private seq: number;
  /** Times never go backwards, even if the wall clock does: consumers order by seq but reason in time. */
  private timeMs: number;
  private durable: number;
  /** Appended, not yet durable, in seq order: seqs durableSeq+1 … lastSeq. */
  private buffer: JournalEntry[] = [];
  /**
   * The last entries made durable by this process, in seq order up to durableSeq: a follower
   * reading just behind the writer (post-processing) gets them from memory instead of decoding
   * what it was handed moments ago. Only entries this process appended, so never a stored fact
   * that needs validating.
   */
  private recent: JournalEntry[] = [];
  private readonly listeners = new Set<(entry: JournalEntry) => void>();
  /** Entries waiting for delivery: a listener that appends must not see its entry early. */
  private readonly deliveryQueue: JournalEntry[] = [];
  private delivering = false;

  constructor(
    tail: { seq: number; timeMs: number },
    private readonly reportError: (error: JournalError) => void,
  ) {
    this.seq = tail.seq;
    this.timeMs = tail.timeMs;
    this.durable = tail.seq;
  }

  get lastSeq(): number {
    return this.seq;
  }

  get durableSeq(): number {
    return this.durable;
  }

  /** The entries not yet durable, oldest first. Read-only for callers. */
  get pending(): readonly JournalEntry[] {
    return this.buffer;
  }

  /** Number and stamp a fact and buffer it; the caller delivers it (`deliver`) once it is stored. */
  append(fact: JournalFact): JournalEntry {
    this.seq += 1;
    this.timeMs = Math.max(this.timeMs, Date.now());
    const entry: JournalEntry = { seq: this.seq, timeMs: this.timeMs, fact };
    this.buffer.push(entry);
    return entry;
  }

  /** Everything up to `seq` is durable: move it from the buffer to the recent entries. */
  markDurable(seq: number): void {
    if (seq <= this.durable) return;
    const count = Math.min(seq - this.durable, this.buffer.length);
    const done = this.buffer.splice(0, count);
    if (this.recent.length + done.length > 2 * RECENT_ENTRIES)
      this.recent = this.recent.slice(-RECENT_ENTRIES);
    for (const entry of done) this.recent.push(entry);
    this.durable = seq;
  }

  /**
   * `read(afterSeq, limit)` served from memory when the recent entries reach back to `afterSeq`
   * (recent and buffer are contiguous seqs, sliced by position); undefined when storage is needed.
   */
  readFromMemory(afterSeq: number, limit: number): JournalEntry[] | undefined {
    const firstRecent = this.recent[0]?.seq;
    if (firstRecent !== undefined && afterSeq >= firstRecent - 1) {
      const recentStart = afterSeq - firstRecent + 1;
      const fromRecent = this.recent.slice(recentStart, recentStart + limit);
      const pendingStart = Math.max(0, afterSeq - this.durable);
      return fromRecent.concat(this.buffer.slice(pendingStart, pendingStart + limit - fromRecent.length));
    }
    return undefined;
  }

  /** Buffered entries above `afterSeq`, at most `limit`: what a storage read adds after its rows. */
  pendingAfter(afterSeq: number, limit: number): JournalEntry[] {
    const start = Math.max(0, afterSeq - this.durable);
    return this.buffer.slice(start, start + Math.max(0, limit));
  }

  subscribe(listener: (entry: JournalEntry) => void): () => void {
    // Wrap so that subscribing the same function twice yields two independent subscriptions.
    const wrapped = (entry: JournalEntry) => listener(entry);
    this.listeners.add(wrapped);
    return () => {
      this.listeners.delete(wrapped);
    };
  }

  /**
   * Hand an entry to every subscriber, in append order. A subscriber that appends sees its new
   * entry only after the current one reached everybody; a throwing one is reported and skipped.
   */
  deliver(entry: JournalEntry): void {
    this.deliveryQueue.push(entry);
    if (this.delivering) return;
    this.delivering = true;
    try {
      for (let next = this.deliveryQueue.shift(); next; next = this.deliveryQueue.shift()) {
        for (const listener of this.listeners) {
          try {
            listener(next);
          } catch (cause) {
            this.reportError(
              new JournalError('JOURNAL_WRITE_FAILED', `journal subscriber threw: ${String(cause)}`, {
                cause,
              }),
            );
          }
        }
      }
    } finally {
      this.delivering = false;
    }
  }

  /** Drop every subscriber (close). */
  clearSubscribers(): void {
    this.listeners.clear();
  }
}

/** Identifiers per kind in one `findLegs` call: keeps lookups (and SQL IN lists) bounded. */
export const MAX_LOOKUP_IDS = 200;

/** A `findLegs` query, checked and deduplicated, and which entries answer it. */
export interface LegQuery {
  callLegIds: string[];
  sipCallIds: string[];
  /** The entry is a `LegCreated` of one of the identifiers. */
  matches(entry: JournalEntry): boolean;
}

export function legQuery(query: {
  callLegIds?: readonly string[];
  sipCallIds?: readonly string[];
}): LegQuery {
  const callLegIds = [...new Set(query.callLegIds ?? [])];
  const sipCallIds = [...new Set(query.sipCallIds ?? [])];
  if (callLegIds.length > MAX_LOOKUP_IDS || sipCallIds.length > MAX_LOOKUP_IDS) {
    throw new JournalError(
      'JOURNAL_BAD_OPTION',
      `findLegs takes at most ${MAX_LOOKUP_IDS} identifiers of each kind`,
    );
  }
  const wantedLegs = new Set(callLegIds);
  const wantedSip = new Set(sipCallIds);
  return {
    callLegIds,
    sipCallIds,
    matches: (entry) =>
      entry.fact.type === 'LegCreated' &&
      (wantedLegs.has(entry.fact.callLegId) || wantedSip.has(entry.fact.sip.sipCallId)),
  };
}

/** The legs of `entries` (durable and buffered), in journal order, each once. */
export function legLocations(entries: Iterable<JournalEntry>): LegLocation[] {
  const bySeq = new Map<number, JournalEntry>();
  for (const entry of entries) bySeq.set(entry.seq, entry);
  return [...bySeq.values()]
    .sort((a, b) => a.seq - b.seq)
    .map(legLocationOf)
    .filter((leg): leg is LegLocation => leg !== undefined);
}

/** The leg a `LegCreated` entry names (what `findLegs` returns); undefined for any other fact. */
export function legLocationOf(entry: JournalEntry): LegLocation | undefined {
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
