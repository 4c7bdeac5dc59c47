import { v5 as uuidv5 } from 'uuid';
import type { Direction } from '../types.js';

/**
 * Namespace of every record id. Fixed forever: changing it would give every record a new id on
 * the next replay, which integrations would see as duplicates.
 */
export const RECORD_ID_NAMESPACE = '2153f0ba-548d-5d9d-b621-df023b1ee992';

/**
 * Natural keys of the records (see src/records/README.md). A record's id is the UUID v5 of its
 * key, so re-running post-processing yields the same ids and upserts instead of duplicating.
 */
export const recordKey = {
  /** A user's event for one queue allocation (one per allocation leg, even for the same user). */
  allocationEvent: (callLegId: string) => `usercall:${callLegId}`,
  /** The event of the user a call was transferred to (one per transfer leg, even for the same user). */
  transferEvent: (callLegId: string) => `transfercall:${callLegId}`,
  /** A user's DirectCall event: one per user and direction of a call, whatever its devices. */
  directCallEvent: (callId: string, userId: string, direction: Direction) =>
    `directcall:${callId}:${userId}:${direction}`,
  /** The header of a service call in one queue. */
  serviceCall: (callId: string, queueId: string) => `servicecall:${callId}:${queueId}`,
  /** The subSeq-th detail produced by the journal fact at seq. */
  serviceCallDetail: (callId: string, seq: number, subSeq: number) => `detail:${callId}:${seq}:${subSeq}`,
  outboundServiceCall: (callId: string) => `outboundservicecall:${callId}`,
  outboundCallbackCall: (callId: string) => `outboundcallbackcall:${callId}`,
  /** The callback request a missed service call leaves (at most one per call). */
  missedCallCallbackRequest: (callId: string) => `callbackrequest:${callId}`,
} as const;

export function recordId(key: string): string {
  return uuidv5(key, RECORD_ID_NAMESPACE);
}
