/**
 * The realtime event model (DESIGN.md §12): what integrations are told while a call happens,
 * derived from journal facts as they are committed — so nothing is missed and every event has a
 * stable id from the journal position. The RTE hub (SignalR) and webhooks both deliver these.
 */

/** Who an event is about: a user, a queue or a callback list (EnreachVoice EntityType). */
export type RealtimeEntityType = 'User' | 'Queue' | 'CallbackList';

export interface RealtimeEvent {
  /**
   * Stable across restarts and redeliveries: `<seq>-<n>`, the journal sequence of the fact that
   * produced it and its index among that fact's events.
   */
  eventId: string;
  /** The journal sequence of the fact that produced it (resume from here). */
  seq: number;
  /** EnreachVoice's number where known (1 UserAvailability, 10 UserCallInComing, 102 QueueCallInUserAllocated, 140 QueueStatus, 141 UserStatus); ours otherwise (documented). */
  eventType: number;
  /** e.g. `UserCallInComing`, `QueueCallInArrived`. */
  eventName: string;
  entityType: RealtimeEntityType;
  /** The user's, queue's or list's id. */
  entityId: string;
  /** When the fact was committed (epoch ms). */
  timestampMs: number;
  /** camelCase fields of the event (for call events: callId, callLegId, callerNumber, targetNumber, queueId, queueName, userId, …). */
  data: Record<string, unknown>;
}

/** The events as they are committed, and from a position (resume after a reconnect or a restart). */
export interface RealtimeFeed {
  /** Every event after journal sequence `afterSeq`, in order (bounded by the journal's own retention). */
  since(afterSeq: number, limit?: number): Promise<RealtimeEvent[]>;
  /** Events as they are committed from now on; returns the unsubscribe function. */
  subscribe(listener: (event: RealtimeEvent) => void): () => void;
  /** The journal sequence the feed has delivered up to. */
  lastSeq(): number;
}
