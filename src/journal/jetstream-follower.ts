/**
 * Another node's journal partition, followed as it grows: what a cluster node needs to derive the
 * realtime events of the calls other nodes run (src/cluster/realtime.ts). It is read-only — it
 * never appends — and delivers to its subscribers, in order, every entry the partition's writer
 * stores from the moment it is opened. Entries are read from the stream (what is stored is
 * durable by definition); the writer's publishes on the partition's subjects only wake the reader
 * up, and a slow poll catches anything a wake-up missed (a reconnect).
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { JournalError } from './errors.js';
import {
  type JetStreamJournal,
  type JetStreamJournalOptions,
  journalNames,
  openJetStreamJournal,
} from './jetstream-journal.js';
import type { JournalEntry } from './types.js';

export interface FollowerOptions
  extends Pick<JetStreamJournalOptions, 'nodeId' | 'streamPrefix' | 'subjectPrefix' | 'legacyRouting'> {
  /** Poll interval when no publish woke the follower (default 1000 ms). */
  pollMs?: number;
  /** Entries per read (default 500). */
  pageSize?: number;
  /** Told about failed reads (retried at the next wake-up or poll). */
  onError?: (error: unknown) => void;
}

/** The part of the `Journal` a realtime feed needs, for a partition this node does not write. */
export interface FollowedPartition {
  readonly nodeId: string;
  subscribe(listener: (entry: JournalEntry) => void): () => void;
  /** Entries are durable once delivered: nothing to wait for. */
  flush(): Promise<void>;
  read(afterSeq: number, limit: number): Promise<JournalEntry[]>;
  /** The last seq delivered to subscribers. */
  lastSeq(): number;
  append(): never;
  close(): Promise<void>;
}

export async function followJetStreamPartition(
  nc: NatsConnection,
  opts: FollowerOptions,
): Promise<FollowedPartition> {
  const reader: JetStreamJournal = await openJetStreamJournal(nc, {
    nodeId: opts.nodeId,
    ...(opts.streamPrefix ? { streamPrefix: opts.streamPrefix } : {}),
    ...(opts.subjectPrefix ? { subjectPrefix: opts.subjectPrefix } : {}),
    ...(opts.legacyRouting ? { legacyRouting: opts.legacyRouting } : {}),
  });
  const names = journalNames(opts);
  const pageSize = opts.pageSize ?? 500;
  const listeners = new Set<(entry: JournalEntry) => void>();
  let deliveredSeq = reader.lastSeq();
  let pumping = false;
  let again = false;
  let closed = false;

  async function pump(): Promise<void> {
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      do {
        again = false;
        for (;;) {
          const entries = await reader.readStored(deliveredSeq, pageSize);
          if (closed || entries.length === 0) break;
          for (const entry of entries) {
            if (entry.seq <= deliveredSeq) continue;
            deliveredSeq = entry.seq;
            for (const listener of listeners) {
              try {
                listener(entry);
              } catch (error) {
                opts.onError?.(error);
              }
            }
          }
          if (entries.length < pageSize) break;
        }
      } while (again && !closed);
    } catch (error) {
      opts.onError?.(error);
    } finally {
      pumping = false;
    }
  }

  const wake: Subscription = nc.subscribe(`${names.subjectPrefix}.${names.nodeId}.>`, {
    callback: () => void pump(),
  });
  const poll = setInterval(() => void pump(), opts.pollMs ?? 1000);
  poll.unref();

  return {
    nodeId: opts.nodeId,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    flush: async () => {},
    read: (afterSeq, limit) => reader.readStored(afterSeq, limit),
    lastSeq: () => deliveredSeq,
    append(): never {
      throw new JournalError(
        'JOURNAL_BAD_OPTION',
        `the partition of node ${opts.nodeId} is followed here, never written`,
      );
    },
    async close() {
      closed = true;
      clearInterval(poll);
      wake.unsubscribe();
      listeners.clear();
      await reader.close();
    },
  };
}
