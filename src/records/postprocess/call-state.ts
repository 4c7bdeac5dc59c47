/**
 * Post-processing's picture of one call: the journal's fold of the call (src/journal/fold.ts) plus
 * what was last written for each of its records. It is persisted (as JSON in the store's
 * call_progress) with the records each batch produces, so processing resumes after a restart
 * without re-reading the call's earlier facts.
 */
import { type FoldedCall, foldEntry, newFoldedCall } from '../../journal/fold.js';
import type { JournalEntry } from '../../journal/types.js';
import { RecordsError } from '../errors.js';
import type { ServiceCallEventTypeName } from '../types.js';

/** What was last written for a record: a digest of its content and its Modified. */
export interface WrittenRecord {
  digest: string;
  modifiedMs: number;
}

export const CALL_STATE_VERSION = 1;

export interface CallState extends FoldedCall {
  version: typeof CALL_STATE_VERSION;
  written: Record<string, WrittenRecord>;
}

/** A service call detail before naming and ids. */
export interface DetailDraft {
  queueId: string;
  callLegId: string | null;
  userId: string | null;
  eventType: ServiceCallEventTypeName;
  reason: string | null;
  timestampMs: number;
}

export function newCallState(callId: string): CallState {
  return { version: CALL_STATE_VERSION, ...newFoldedCall(callId), written: {} };
}

export function encodeCallState(state: CallState): string {
  return JSON.stringify(state);
}

export function decodeCallState(text: string): CallState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new RecordsError('RECORDS_CORRUPT_STATE', 'stored call state is not JSON', { cause });
  }
  if (
    typeof value !== 'object' ||
    value === null ||
    (value as { version?: unknown }).version !== CALL_STATE_VERSION ||
    typeof (value as { callId?: unknown }).callId !== 'string'
  ) {
    throw new RecordsError('RECORDS_CORRUPT_STATE', 'stored call state has an unknown shape or version');
  }
  const state = value as CallState;
  // States persisted before the route was journaled have none: derive treats it as unknown.
  if (state.started) state.started.route ??= null;
  return state;
}

/**
 * Apply one journal entry to the call's state (the journal's fold) and return the service call
 * details it produces, in order.
 */
export function applyEntry(state: CallState, entry: JournalEntry): DetailDraft[] {
  return foldEntry(state, entry).map((event) => ({
    queueId: event.queueId,
    callLegId: event.callLegId,
    userId: event.userId,
    eventType: event.kind,
    reason: event.reason,
    timestampMs: event.atMs,
  }));
}
