/**
 * Post-processing: consumes the journal from a durable checkpoint and turns call-control facts
 * into call records (DESIGN.md §2). It only reads the journal (crash recovery, which appends, is
 * the journal's: src/journal/recovery.ts). Each batch's records, the calls' progress and the checkpoint
 * are written in one transaction, so a crash at any point neither loses nor duplicates a record.
 */
import { createHash } from 'node:crypto';
import type { Directory } from '../../config/types.js';
import { isAgentFact } from '../../journal/facts.js';
import type { Journal, JournalEntry } from '../../journal/types.js';
import { RecordsError } from '../errors.js';
import type * as records from '../types.js';
import { applyEntry, type CallState, decodeCallState, encodeCallState, newCallState } from './call-state.js';
import { deriveRecords, type Names } from './derive.js';
import { recordId, recordKey } from './ids.js';

export interface PostProcessorOptions {
  journal: Journal;
  store: records.RecordStore;
  directory: Directory;
  /** Hold each fact back until its journal time + this delay (EnreachVoice shows ~10 s). 0 = at once. */
  delaySeconds: number;
  /** Checkpoint name (default 'records'). */
  consumerName?: string;
  /** Wall clock for the delay and for Modified (default Date.now). */
  now?: () => number;
  /** Facts per transaction (default 500). */
  batchSize?: number;
  /** How long a pass waits for more facts after the first one arrives (ms, default 10). */
  coalesceMs?: number;
  /** Told about failures of background processing, which is retried from the checkpoint. */
  onError?: (error: RecordsError) => void;
}

export interface PostProcessor {
  /** Follow the journal: process each fact once it is due. Call after catchUp. */
  start(): void;
  /** Stop following; resolves when the batch in flight (if any) is committed. */
  stop(): Promise<void>;
  /** Process every fact that is due now (honours the delay). Resolves with the number processed. */
  runOnce(): Promise<number>;
  /** Process every fact appended so far, ignoring the delay (start-up, tests, shutdown). */
  catchUp(): Promise<void>;
  /** The seq up to which records are committed (the checkpoint), once known. */
  processedSeq(): number;
}

const DEFAULT_CONSUMER = 'records';
const DEFAULT_BATCH_SIZE = 500;
const DEFAULT_COALESCE_MS = 10;
/** Open calls kept decoded in memory; beyond this they are re-read from the store when needed. */
const MAX_CACHED_CALLS = 10_000;
const RETRY_BASE_MS = 250;
const RETRY_MAX_MS = 30_000;

export function createPostProcessor(opts: PostProcessorOptions): PostProcessor {
  const { journal, store, directory } = opts;
  const consumer = opts.consumerName ?? DEFAULT_CONSUMER;
  const delayMs = Math.max(0, opts.delaySeconds * 1000);
  const now = opts.now ?? Date.now;
  const batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
  const coalesceMs = opts.coalesceMs ?? DEFAULT_COALESCE_MS;
  const reportError = opts.onError ?? (() => {});
  const names = namesFrom(directory);

  /** Committed state of calls not yet ended. */
  const cache = new Map<string, CallState>();
  let cursor: number | undefined;
  let chain: Promise<unknown> = Promise.resolve();
  let running = false;
  let unsubscribe: (() => void) | undefined;
  let wakeTimer: NodeJS.Timeout | undefined;
  let wakeAtMs = Number.POSITIVE_INFINITY;
  let kickQueued = false;
  let failures = 0;

  /** Passes never overlap: each sees the cursor the previous one committed. */
  function exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = chain.then(work, work);
    chain = run.catch(() => {});
    return run;
  }

  async function ensureCursor(): Promise<number> {
    if (cursor !== undefined) return cursor;
    const checkpoint = await store.readCheckpoint(consumer);
    if (checkpoint > journal.lastSeq()) {
      throw new RecordsError(
        'RECORDS_CHECKPOINT_AHEAD_OF_JOURNAL',
        `checkpoint '${consumer}' is at ${checkpoint} but the journal ends at ${journal.lastSeq()}: ` +
          'the journal was replaced or truncated; reset the checkpoint to replay it',
      );
    }
    cursor = checkpoint;
    return cursor;
  }

  /**
   * Process entries after the cursor up to `untilSeq`; with the delay honoured, stop at the first
   * entry not yet due (journal times never decrease). Resolves with the count and, when an entry
   * is waiting for its delay, when it becomes due.
   */
  async function pass(
    ignoreDelay: boolean,
    untilSeq: number,
  ): Promise<{ processed: number; nextDueMs: number | null }> {
    let position = await ensureCursor();
    let processed = 0;
    while (position < untilSeq) {
      const entries = await journal.read(position, batchSize);
      if (entries.length === 0) break;
      let due = entries.filter((entry) => entry.seq <= untilSeq);
      // Without a delay every appended fact is due: comparing journal times with the clock would
      // stall processing after the wall clock steps back (journal times never do).
      if (!ignoreDelay && delayMs > 0) {
        const nowMs = now();
        const firstNotDue = due.findIndex((entry) => entry.timeMs + delayMs > nowMs);
        if (firstNotDue >= 0) {
          const waiting = due[firstNotDue]!;
          due = due.slice(0, firstNotDue);
          if (due.length > 0) await applyBatch(due);
          return { processed: processed + due.length, nextDueMs: waiting.timeMs + delayMs };
        }
      }
      if (due.length === 0) break;
      await applyBatch(due);
      processed += due.length;
      position = cursor!;
    }
    return { processed, nextDueMs: null };
  }

  async function loadStates(callIds: string[]): Promise<Map<string, CallState>> {
    const states = new Map<string, CallState>();
    const missing: string[] = [];
    for (const callId of callIds) {
      const cached = cache.get(callId);
      // Work on copies: if the transaction fails, the cache still holds what is committed.
      if (cached) states.set(callId, structuredClone(cached));
      else missing.push(callId);
    }
    if (missing.length > 0) {
      const stored = await store.loadCallProgress(missing);
      for (const callId of missing) {
        const progress = stored.get(callId);
        states.set(callId, progress ? decodeCallState(progress.state) : newCallState(callId));
      }
    }
    return states;
  }

  async function applyBatch(entries: JournalEntry[]): Promise<void> {
    // Records must never get ahead of the journal's durable end: after a crash the journal would
    // hand out those seqs again for different facts, behind the checkpoint.
    await journal.flush();
    // Agents' facts (availability, serving) make no call records; the checkpoint passes them.
    const callEntries = entries.filter((entry) => !isAgentFact(entry.fact));
    const states = await loadStates([...new Set(callEntries.map((entry) => entry.fact.callId))]);
    const stampMs = now();
    const touched = new Set<string>();
    const details: records.ServiceCallDetailWrite[] = [];

    for (const entry of callEntries) {
      const state = states.get(entry.fact.callId)!;
      // Already applied (a replay from an earlier checkpoint, or a redelivery): nothing to do.
      if (entry.seq <= state.lastSeq) continue;
      const drafts = applyEntry(state, entry);
      drafts.forEach((draft, subSeq) => {
        details.push({
          eventId: recordId(recordKey.serviceCallDetail(state.callId, entry.seq, subSeq)),
          callId: state.callId,
          callLegId: draft.callLegId,
          queueId: draft.queueId,
          queueName: names.queueName(draft.queueId),
          userId: draft.userId,
          userName: draft.userId ? names.userName(draft.userId) : null,
          eventType: draft.eventType,
          reason: draft.reason,
          timestampMs: draft.timestampMs,
          modifiedMs: stampMs,
          seq: entry.seq,
          subSeq,
        });
      });
      touched.add(state.callId);
    }

    const userCallEvents: records.UserCallEvent[] = [];
    const serviceCalls: records.ServiceCall[] = [];
    const outboundServiceCalls: records.OutboundServiceCall[] = [];
    const outboundCallbackCalls: records.OutboundCallbackCall[] = [];
    const callbackRequests: records.CallbackRequest[] = [];
    const callProgress: records.CallProgress[] = [];
    for (const callId of touched) {
      const state = states.get(callId)!;
      const derived = deriveRecords(state, names);
      /** Only records whose content changed are written; they get a new Modified. */
      const pushChanged = <R extends object>(
        records: R[],
        into: (R & { modifiedMs: number })[],
        keyOf: (record: R) => string,
      ) => {
        for (const record of records) {
          const key = keyOf(record);
          const digest = createHash('sha256').update(JSON.stringify(record)).digest('base64url');
          const previous = state.written[key];
          if (previous?.digest === digest) continue;
          // Strictly later than the last Modified, so a ModifiedAfter poller sees every change.
          const modifiedMs = previous ? Math.max(stampMs, previous.modifiedMs + 1) : stampMs;
          state.written[key] = { digest, modifiedMs };
          into.push({ ...record, modifiedMs });
        }
      };
      const byEventId = (record: { eventId: string }) => record.eventId;
      pushChanged(derived.userCallEvents, userCallEvents, byEventId);
      pushChanged(derived.serviceCalls, serviceCalls, byEventId);
      pushChanged(derived.outboundServiceCalls, outboundServiceCalls, byEventId);
      pushChanged(derived.outboundCallbackCalls, outboundCallbackCalls, byEventId);
      pushChanged(derived.callbackRequests, callbackRequests, (request) => request.callbackRequestId);
      callProgress.push({
        callId,
        state: encodeCallState(state),
        ended: state.ended !== null,
        lastSeq: state.lastSeq,
        lastTimeMs: state.lastTimeMs,
      });
    }

    const lastSeq = entries[entries.length - 1]!.seq;
    await store.writeBatch({
      checkpoint: { consumer, seq: lastSeq },
      userCallEvents,
      serviceCalls,
      serviceCallDetails: details,
      outboundServiceCalls,
      outboundCallbackCalls,
      callProgress,
      callbackRequests,
    });

    cursor = lastSeq;
    for (const callId of touched) {
      const state = states.get(callId)!;
      if (state.ended) cache.delete(callId);
      else {
        // Re-insert to keep the map in least-recently-touched order for eviction.
        cache.delete(callId);
        cache.set(callId, state);
      }
    }
    while (cache.size > MAX_CACHED_CALLS) cache.delete(cache.keys().next().value!);
  }

  function armWake(atMs: number): void {
    if (!running || atMs >= wakeAtMs) return;
    if (wakeTimer) clearTimeout(wakeTimer);
    wakeAtMs = atMs;
    wakeTimer = setTimeout(
      () => {
        wakeTimer = undefined;
        wakeAtMs = Number.POSITIVE_INFINITY;
        kick();
      },
      Math.max(0, atMs - now()),
    );
  }

  /**
   * Schedule a background pass; appends within the coalescing window share it. Under load this
   * turns many tiny transactions (and journal flushes) into few larger ones — what bounds the
   * platform's call rate is this process's single thread — for a few ms of extra latency.
   */
  function kick(): void {
    if (!running || kickQueued) return;
    kickQueued = true;
    setTimeout(() => {
      kickQueued = false;
      void backgroundPass();
    }, coalesceMs);
  }

  async function backgroundPass(): Promise<void> {
    if (!running) return;
    try {
      const { nextDueMs } = await exclusive(() => pass(false, Number.POSITIVE_INFINITY));
      failures = 0;
      if (nextDueMs !== null) armWake(nextDueMs);
    } catch (cause) {
      failures += 1;
      reportError(asRecordsError(cause));
      // The checkpoint did not move: retry the same facts after a growing pause.
      armWake(now() + Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (failures - 1)));
    }
  }

  function start(): void {
    if (running) return;
    running = true;
    unsubscribe = journal.subscribe(() => {
      // A wake-up is armed either for an earlier entry's due time (later entries cannot be due
      // before it) or for a retry after a failure (appends must not bypass the backoff).
      if (wakeTimer) return;
      kick();
    });
    kick();
  }

  async function stop(): Promise<void> {
    running = false;
    unsubscribe?.();
    unsubscribe = undefined;
    if (wakeTimer) clearTimeout(wakeTimer);
    wakeTimer = undefined;
    wakeAtMs = Number.POSITIVE_INFINITY;
    await chain;
  }

  async function runOnce(): Promise<number> {
    const { processed, nextDueMs } = await exclusive(() => pass(false, Number.POSITIVE_INFINITY));
    if (nextDueMs !== null) armWake(nextDueMs);
    return processed;
  }

  async function catchUp(): Promise<void> {
    await exclusive(() => pass(true, journal.lastSeq()));
  }

  return { start, stop, runOnce, catchUp, processedSeq: () => cursor ?? 0 };
}

function asRecordsError(cause: unknown): RecordsError {
  if (cause instanceof RecordsError) return cause;
  return new RecordsError('RECORDS_POSTPROCESS_FAILED', `post-processing batch failed: ${String(cause)}`, {
    cause,
  });
}

function namesFrom(directory: Directory): Names {
  return {
    userName: (userId) => directory.userById(userId)?.username ?? '',
    queueName: (queueId) => directory.queueById(queueId)?.name ?? '',
    callbackListName: (callbackListId) => directory.callbackListById(callbackListId)?.name ?? '',
    callbackListQueueId: (callbackListId) => directory.callbackListById(callbackListId)?.queueId ?? null,
    queueCallbackListId: (queueId) => directory.queueById(queueId)?.callbackListId ?? null,
  };
}
