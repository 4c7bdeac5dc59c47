/**
 * The journal: an append-only, durable log of what call control did. It is the only thing call
 * control hands to post-processing (DESIGN.md §7: data flows one way). Facts are small, flat and
 * self-describing so that post-processing can rebuild every record from sequence 0.
 */

/** SIP identifiers of one leg's dialog, as seen on the wire. */
export interface SipLegIdentifiers {
  /** The dialog's Call-ID header value. */
  sipCallId: string;
  /** Our tag on this dialog (From tag on legs we originate, To tag on legs we answer). */
  localTag: string;
  /** The peer's tag once known. */
  remoteTag?: string;
}

export type CallKind = 'direct' | 'inbound-service' | 'outbound-service' | 'outbound-callback';

/** Who a leg connects call control to. */
export type LegRole =
  | 'caller' // the leg of the party that placed the call (a user's device or a trunk)
  | 'callee' // a direct call's leg to a user's device
  | 'allocation' // a queue's offer of the call to a member
  | 'trunk'; // an outgoing leg to a trunk (external number)

export type AllocationRejectReason =
  | 'Timeout'
  | 'CallDisconnected'
  | 'GenericUserRejected'
  | 'OtherConnected';

export type QueueLeaveReason =
  | 'Answered'
  | 'CallerHungUp'
  | 'MaxWaitExceeded'
  | 'Overflow'
  | 'NoMembers'
  | 'Failed';

export type CallEndReason =
  | 'Normal' // a party hung up after answer
  | 'CallerCancelled' // caller hung up before answer
  | 'NoAnswer'
  | 'Busy'
  | 'Rejected'
  | 'Unavailable' // e.g. 480: nobody registered / queue closed
  | 'NotFound'
  | 'Failed'; // errors, and calls ended by crash recovery

interface FactBase {
  /** The server CallId of the call (UUID). */
  callId: string;
}

export type JournalFact =
  | (FactBase & {
      type: 'CallStarted';
      callKind: CallKind;
      /** Calling number/extension (A number) and called number (B number) as routed. */
      aNum: string;
      bNum: string;
      /** The calling user, when the call comes from one of our users. */
      callerUserId?: string;
      /** The queue for service calls (inbound or on behalf of), else absent. */
      queueId?: string;
      callbackListId?: string;
      callbackRequestId?: string;
    })
  | (FactBase & {
      type: 'LegCreated';
      callLegId: string;
      role: LegRole;
      /** inbound = towards us (the caller's leg), outbound = we placed it. */
      direction: 'inbound' | 'outbound';
      userId?: string;
      queueId?: string;
      /** Contact or trunk address the leg goes to / comes from. */
      target: string;
      sip: SipLegIdentifiers;
    })
  | (FactBase & { type: 'LegRinging'; callLegId: string; sipStatus: number })
  | (FactBase & { type: 'LegAnswered'; callLegId: string; sip: SipLegIdentifiers })
  | (FactBase & {
      type: 'LegEnded';
      callLegId: string;
      /** SIP status that ended the leg (e.g. 200 for a BYE after answer, 486, 487, 408). */
      sipStatus: number;
      cause: string;
    })
  | (FactBase & { type: 'QueueEntered'; queueId: string })
  | (FactBase & { type: 'QueueLeft'; queueId: string; reason: QueueLeaveReason; overflowTarget?: string })
  | (FactBase & { type: 'AllocationOffered'; callLegId: string; queueId: string; userId: string })
  | (FactBase & {
      type: 'AllocationRejected';
      callLegId: string;
      queueId: string;
      userId: string;
      reason: AllocationRejectReason;
      sipStatus?: number;
    })
  | (FactBase & { type: 'AllocationConnected'; callLegId: string; queueId: string; userId: string })
  | (FactBase & {
      type: 'CallEnded';
      reason: CallEndReason;
      /** Final SIP status of the call as the caller saw it. */
      sipStatus: number;
      /** For direct calls: the user who answered (if any). */
      answeredByUserId?: string;
      /** Finer cause than `reason`, e.g. 'ServerRestart' when crash recovery ended the call. */
      cause?: string;
      /**
       * When the call really ended, if that is earlier than the entry's time: crash recovery
       * appends the fact at start-up but ends the call at the last time it was known to be alive.
       */
      endedAtMs?: number;
    });

export type JournalFactType = JournalFact['type'];

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
