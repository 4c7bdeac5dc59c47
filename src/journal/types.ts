/**
 * The journal: an append-only, durable log of what call control did. It is the only thing call
 * control hands to post-processing (DESIGN.md §7: data flows one way). Facts are small, flat and
 * self-describing so that post-processing can rebuild every record from sequence 0.
 */

import type { z } from 'zod';
import type {
  AgentChangeCauseSchema,
  AllocationRejectReasonSchema,
  AudioKindSchema,
  AvailabilitySchema,
  CallEndCauseSchema,
  CallEndReasonSchema,
  CallKindSchema,
  CallRouteSchema,
  JournalFactSchema,
  LegEndCauseSchema,
  LegRoleSchema,
  QueueLeaveReasonSchema,
  SipLegIdentifiersSchema,
} from './facts.js';

// The types of the facts are inferred from their schemas (facts.ts): one definition, no drift.
export type SipLegIdentifiers = z.infer<typeof SipLegIdentifiersSchema>;
export type CallKind = z.infer<typeof CallKindSchema>;
export type LegRole = z.infer<typeof LegRoleSchema>;
export type AllocationRejectReason = z.infer<typeof AllocationRejectReasonSchema>;
export type QueueLeaveReason = z.infer<typeof QueueLeaveReasonSchema>;
export type CallEndReason = z.infer<typeof CallEndReasonSchema>;
export type LegEndCause = z.infer<typeof LegEndCauseSchema>;
export type CallEndCause = z.infer<typeof CallEndCauseSchema>;
export type CallRoute = z.infer<typeof CallRouteSchema>;
export type AudioKind = z.infer<typeof AudioKindSchema>;
export type Availability = z.infer<typeof AvailabilitySchema>;
export type AgentChangeCause = z.infer<typeof AgentChangeCauseSchema>;
export type JournalFact = z.infer<typeof JournalFactSchema>;
export type JournalFactType = JournalFact['type'];
/** The fact of one type, e.g. `FactOf<'LegEnded'>`. */
export type FactOf<T extends JournalFactType> = Extract<JournalFact, { type: T }>;

/** A fact as stored: with its position and time. */
export type JournalEntry = {
  /** Monotonic, gap-free sequence starting at 1. */
  seq: number;
  /** Epoch milliseconds when call control appended the fact. */
  timeMs: number;
  fact: JournalFact;
};

export interface Journal {
  /**
   * Append a fact. The sequence number and time are assigned synchronously; the write becomes
   * durable at the next group commit (see `flush`).
   */
  append(fact: JournalFact): JournalEntry;
  /** Resolve once every fact appended so far is durable. */
  flush(): Promise<void>;
  /** Entries with seq > afterSeq, in order, at most `limit`. Includes entries not yet flushed. */
  read(afterSeq: number, limit: number): Promise<JournalEntry[]>;
  /** Called for every entry after it is appended (in order). Returns an unsubscribe function. */
  subscribe(listener: (entry: JournalEntry) => void): () => void;
  /** Highest sequence appended (0 when empty). */
  lastSeq(): number;
  /**
   * The highest seq as of which no call was in progress (0 when never marked). Crash recovery
   * starts its scan after it, so start-up reads only what came since the last clean point.
   */
  settledSeq(): Promise<number>;
  /**
   * Record, durably, that no call is in progress as of `seq` (after crash recovery, and at a clean
   * shutdown). Flushes first: the mark never runs ahead of the durable facts.
   */
  markSettled(seq: number): Promise<void>;
  /** Flush and release resources. */
  close(): Promise<void>;
}

/** One leg as call control created it: what the identifier lookups of `JournalLookup` return. */
export interface LegLocation {
  callId: string;
  callLegId: string;
  role: LegRole;
  userId?: string;
  queueId?: string;
  sip: SipLegIdentifiers;
}

/**
 * Reads by identifier, for diagnostics (which call does this CallLegId or SIP Call-ID belong to?).
 * Separate from `Journal` so that a journal that cannot index (a stream) need not offer it.
 */
export interface JournalLookup {
  /** Every entry of one call, in order (durable and buffered). Empty for an unknown CallId. */
  readCall(callId: string): Promise<JournalEntry[]>;
  /**
   * The legs created with any of these CallLegIds or SIP Call-IDs (from `LegCreated` facts).
   * At most 200 identifiers per kind per call.
   */
  findLegs(query: { callLegIds?: readonly string[]; sipCallIds?: readonly string[] }): Promise<LegLocation[]>;
}
