/**
 * Crash recovery, on the journal's side: calls the previous process left in progress (it died
 * under them, so nothing ever journaled their end) are ended with a `CallEnded` fact. It runs at
 * start-up, after the journal is open and before call control takes calls or post-processing
 * follows the journal — so every call then seen in progress is a live one, and post-processing
 * only ever reads the journal.
 */
import { type FoldedCall, foldEntry, inProgress, newFoldedCall } from './fold.js';
import type { CallEndCause, Journal } from './types.js';

/** The cause of the `CallEnded` facts recovery appends: readers tell interrupted calls by it. */
export const INTERRUPTED_CAUSE: CallEndCause = 'ServerRestart';
/** Every cause recovery gives: after a restart of the node itself, or by a cluster's janitor. */
export const INTERRUPTED_CAUSES: ReadonlySet<CallEndCause> = new Set(['ServerRestart', 'NodeFailure']);

export interface RecoveryOptions {
  /**
   * A lower bound of the end time of the calls recovery ends (default: none). By default a call
   * ends at the last time the journal knew it alive.
   */
  atMs?: number;
  /** Entries per read while scanning the journal (default 5000). */
  pageSize?: number;
  /** The cause given (default ServerRestart; a cluster's janitor ends a dead node's calls with NodeFailure). */
  cause?: 'ServerRestart' | 'NodeFailure';
}

const DEFAULT_PAGE_SIZE = 5000;

/**
 * Fold the journal after its settled mark, keeping only calls in progress, and end each of them: reason Failed,
 * cause ServerRestart, SIP status 500, dated at the call's last known time (or `atMs` if later).
 * Resolves, once the new facts and the new settled mark are durable, with the CallIds it ended
 * (oldest activity first).
 * Idempotent: a second run finds nothing left to end.
 */
export async function recoverInterruptedCalls(
  journal: Journal,
  opts: RecoveryOptions = {},
): Promise<string[]> {
  const pageSize = opts.pageSize ?? DEFAULT_PAGE_SIZE;
  // Only calls in progress are kept: memory follows the calls up at the crash, not the journal.
  const open = new Map<string, FoldedCall>();
  // Calls that started at or before the settled mark had all ended by then: scan only what follows.
  for (let afterSeq = await journal.settledSeq(); ; ) {
    const entries = await journal.read(afterSeq, pageSize);
    if (entries.length === 0) break;
    for (const entry of entries) {
      const { callId } = entry.fact;
      let state = open.get(callId);
      if (!state) {
        // A call's first fact is its CallStarted; anything else belongs to a call already ended.
        if (entry.fact.type !== 'CallStarted') continue;
        state = newFoldedCall(callId);
        open.set(callId, state);
      }
      foldEntry(state, entry);
      if (!inProgress(state)) open.delete(callId);
    }
    afterSeq = entries[entries.length - 1]!.seq;
  }
  const interrupted = [...open.values()].sort((x, y) => x.lastTimeMs - y.lastTimeMs);
  for (const state of interrupted) {
    journal.append({
      type: 'CallEnded',
      callId: state.callId,
      reason: 'Failed',
      sipStatus: 500,
      cause: opts.cause ?? INTERRUPTED_CAUSE,
      endedAtMs: Math.max(state.lastTimeMs, opts.atMs ?? 0),
    });
  }
  // Every call is ended now and call control has not started: the next start scans from here.
  await journal.markSettled(journal.lastSeq());
  return interrupted.map((state) => state.callId);
}
