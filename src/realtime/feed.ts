/**
 * The realtime feed (DESIGN.md §12): events derived from journal facts once they are durable, and
 * the same events again from any journal position (resume after a reconnect or a restart).
 *
 * Live: the feed subscribes to the journal, and delivers an entry's events only after the group
 * commit that makes the entry durable (`journal.flush()`), so an event id never names a fact a
 * crash could lose. The last `bufferEvents` events are kept in memory and `since` serves from them
 * when it can; older positions are replayed from the journal with a fresh `EventDeriver`, each
 * call primed with its earlier entries (`readCall`) so that the ids and call fields come out as
 * they did live. (QueueStatus counts of a replay only count calls the replay saw enter.)
 */
import type { Directory } from '../config/types.js';
import { isAgentFact } from '../journal/facts.js';
import type { Journal, JournalEntry, JournalLookup } from '../journal/types.js';
import { type DeriverOptions, EventDeriver } from './events.js';
import type { RealtimeEvent, RealtimeFeed } from './types.js';

export interface RealtimeFeedDeps {
  /** The journal, or another node's partition followed (src/journal/jetstream-follower.ts). */
  journal: Pick<Journal, 'subscribe' | 'flush' | 'read' | 'lastSeq'> &
    Partial<Pick<JournalLookup, 'readCall'>>;
  directory: Pick<Directory, 'queueById' | 'userById'>;
  /** Events kept in memory for `since` (default 10 000). */
  bufferEvents?: number;
  /** Told about a failed flush or a throwing listener. */
  onError?: (error: unknown) => void;
  /** Live events' id prefix and shared queue counts (a cluster node's view of another partition). */
  derive?: Pick<DeriverOptions, 'idPrefix' | 'queueCounts'>;
}

export interface RealtimeFeedHandle extends RealtimeFeed {
  /** Stop following the journal. */
  close(): void;
}

/** The most `since` returns when no limit is given. */
export const DEFAULT_SINCE_LIMIT = 10_000;
const PAGE = 1_000;

export function createRealtimeFeed(deps: RealtimeFeedDeps): RealtimeFeedHandle {
  const { journal } = deps;
  const bufferMax = deps.bufferEvents ?? 10_000;
  const live = new EventDeriver({ directory: deps.directory, ...deps.derive });
  const listeners = new Set<(event: RealtimeEvent) => void>();
  const buffer: RealtimeEvent[] = [];
  /** The buffer holds every event of the entries after this seq. */
  let coveredFromSeq = journal.lastSeq();
  let deliveredSeq = journal.lastSeq();
  const pending: JournalEntry[] = [];
  let flushing = false;

  const report = (error: unknown) => deps.onError?.(error);

  function publish(entries: JournalEntry[]): void {
    for (const entry of entries) {
      const events = live.derive(entry);
      deliveredSeq = entry.seq;
      for (const event of events) {
        buffer.push(event);
        for (const listener of listeners) {
          try {
            listener(event);
          } catch (error) {
            report(error);
          }
        }
      }
    }
    if (buffer.length > bufferMax) {
      const cut = buffer[buffer.length - bufferMax - 1]!.seq;
      let drop = 0;
      while (drop < buffer.length && buffer[drop]!.seq <= cut) drop++;
      buffer.splice(0, drop);
      coveredFromSeq = Math.max(coveredFromSeq, cut);
    }
  }

  function drain(): void {
    if (flushing || pending.length === 0) return;
    flushing = true;
    const upTo = pending[pending.length - 1]!.seq;
    journal.flush().then(
      () => {
        flushing = false;
        let n = 0;
        while (n < pending.length && pending[n]!.seq <= upTo) n++;
        publish(pending.splice(0, n));
        drain();
      },
      (error: unknown) => {
        flushing = false;
        report(error);
        // The journal retries failed group commits: try again shortly.
        setTimeout(drain, 100).unref();
      },
    );
  }

  const unsubscribe = journal.subscribe((entry) => {
    pending.push(entry);
    drain();
  });

  async function replay(afterSeq: number, untilSeq: number, limit: number): Promise<RealtimeEvent[]> {
    const deriver = new EventDeriver({ directory: deps.directory, idPrefix: deps.derive?.idPrefix });
    const primed = new Set<string>();
    const out: RealtimeEvent[] = [];
    let from = afterSeq;
    while (from < untilSeq && out.length < limit) {
      const page = await journal.read(from, Math.min(PAGE, untilSeq - from));
      if (page.length === 0) break;
      for (const entry of page) {
        if (entry.seq > untilSeq) break;
        const fact = entry.fact;
        if (
          !isAgentFact(fact) &&
          fact.type !== 'CallStarted' &&
          !deriver.knows(fact.callId) &&
          !primed.has(fact.callId) &&
          journal.readCall !== undefined
        ) {
          primed.add(fact.callId);
          for (const earlier of await journal.readCall(fact.callId)) {
            if (earlier.seq <= afterSeq) deriver.prime(earlier);
          }
        }
        for (const event of deriver.derive(entry)) {
          out.push(event);
        }
        from = entry.seq;
        // Never cut an entry's events apart: stop at an entry boundary once the limit is reached.
        if (out.length >= limit) break;
      }
    }
    return out;
  }

  return {
    async since(afterSeq: number, limit = DEFAULT_SINCE_LIMIT): Promise<RealtimeEvent[]> {
      const until = deliveredSeq;
      if (afterSeq >= until) return [];
      if (afterSeq >= coveredFromSeq) {
        const out: RealtimeEvent[] = [];
        for (const event of buffer) {
          if (event.seq <= afterSeq || event.seq > until) continue;
          if (out.length >= limit && event.seq !== out[out.length - 1]!.seq) break;
          out.push(event);
        }
        return out;
      }
      const older = await replay(Math.max(0, afterSeq), coveredFromSeq, limit);
      if (older.length >= limit) return older;
      const rest: RealtimeEvent[] = [];
      for (const event of buffer) {
        if (event.seq <= coveredFromSeq || event.seq > until) continue;
        if (older.length + rest.length >= limit && event.seq !== rest[rest.length - 1]?.seq) break;
        rest.push(event);
      }
      return older.concat(rest);
    },
    subscribe(listener: (event: RealtimeEvent) => void): () => void {
      const wrapped = (event: RealtimeEvent) => listener(event);
      listeners.add(wrapped);
      return () => {
        listeners.delete(wrapped);
      };
    },
    lastSeq: () => deliveredSeq,
    close(): void {
      unsubscribe();
      listeners.clear();
    },
  };
}
