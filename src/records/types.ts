/**
 * The records package's contracts: the store interfaces and their queries. The records themselves
 * are defined once each, in their kind's folder (src/records/kinds/<kind>/: zod schema, row
 * mapping, wire format); they are re-exported here for the packages that read and write them.
 * Internal names are camelCase and say which identifier they hold; times are epoch milliseconds
 * (UTC); absent times are null.
 */
export {
  CALLBACK_CLOSED_STATUSES,
  CALLBACK_REOPENABLE_STATUSES,
  CALLBACK_REQUEST_STATUSES,
  type CallbackClosedStatus,
  type CallbackRequest,
  type CallbackRequestOrigin,
  type CallbackRequestStatus,
} from './kinds/callback-request/record.js';
export type { OutboundCallbackCall } from './kinds/outbound-callback-call/record.js';
export type { OutboundServiceCall } from './kinds/outbound-service-call/record.js';
export type { ServiceCall } from './kinds/service-call/record.js';
export {
  type ServiceCallDetail,
  type ServiceCallDetailWrite,
  ServiceCallEventType,
  type ServiceCallEventTypeName,
} from './kinds/service-call-detail/record.js';
export type { CallResult } from './kinds/shared.js';
export type { CallType, Direction, UserCallEvent } from './kinds/user-call-event/record.js';

import type {
  CallbackClosedStatus,
  CallbackRequest,
  CallbackRequestStatus,
} from './kinds/callback-request/record.js';
import type { OutboundCallbackCall } from './kinds/outbound-callback-call/record.js';
import type { OutboundServiceCall } from './kinds/outbound-service-call/record.js';
import type { ServiceCall } from './kinds/service-call/record.js';
import type { ServiceCallDetail, ServiceCallDetailWrite } from './kinds/service-call-detail/record.js';
import type { UserCallEvent } from './kinds/user-call-event/record.js';

/** '*' = no restriction; an array = only these ids (possibly empty = nothing). */
export type IdScope = '*' | readonly string[];

/** Selection common to every listing: exactly one of a time window, a modified window or a CallId. */
export type RecordSelection =
  | { by: 'time'; fromMs: number; toMs: number }
  | { by: 'modified'; fromMs: number; toMs: number }
  | { by: 'callId'; callId: string };

export interface UserCallEventQuery {
  selection: RecordSelection;
  /** Explicit UserIDs filter, if given. */
  userIds?: readonly string[];
  /** Visibility: whose DirectCall events and whose ServiceCall (agent) events the caller may see. */
  visibleDirectCallUserIds: IdScope;
  visibleAgentCallUserIds: IdScope;
  limit?: number;
}

export interface QueueOwnedQuery {
  selection: RecordSelection;
  queueIds?: readonly string[];
  visibleQueueIds: IdScope;
  limit?: number;
}

export interface CallbackOwnedQuery {
  selection: RecordSelection;
  callbackListIds?: readonly string[];
  visibleCallbackListIds: IdScope;
  limit?: number;
}

/** What the REST API reads. Implemented by the Kysely store over SQLite and PostgreSQL. */
export interface RecordReader {
  listUserCallEvents(query: UserCallEventQuery): Promise<UserCallEvent[]>;
  getUserCallEvent(eventId: string): Promise<UserCallEvent | undefined>;
  listServiceCalls(query: QueueOwnedQuery): Promise<ServiceCall[]>;
  /** Details of one service call in event order. */
  listServiceCallDetails(callId: string): Promise<ServiceCallDetail[]>;
  listOutboundServiceCalls(query: QueueOwnedQuery): Promise<OutboundServiceCall[]>;
  listOutboundCallbackCalls(query: CallbackOwnedQuery): Promise<OutboundCallbackCall[]>;
}

/**
 * Post-processing's durable per-call state. The store keeps `state` opaque (JSON text owned by
 * post-processing); `ended` and the times let it find calls that a crash interrupted.
 */
export interface CallProgress {
  callId: string;
  state: string;
  ended: boolean;
  /** Highest journal seq applied to this call: facts at or below it are already in the records. */
  lastSeq: number;
  /** Journal time of the last fact of this call: its last known sign of life. */
  lastTimeMs: number;
}

/**
 * Everything one post-processing batch produced. Written in ONE transaction together with the
 * consumer's checkpoint, so records and checkpoint can never disagree after a crash.
 * Records are upserted by eventId (last write wins); details are insert-once.
 */
export interface RecordBatch {
  checkpoint?: { consumer: string; seq: number };
  userCallEvents?: readonly UserCallEvent[];
  serviceCalls?: readonly ServiceCall[];
  serviceCallDetails?: readonly ServiceCallDetailWrite[];
  outboundServiceCalls?: readonly OutboundServiceCall[];
  outboundCallbackCalls?: readonly OutboundCallbackCall[];
  callProgress?: readonly CallProgress[];
  /**
   * Callback requests for missed calls: insert-once by callbackRequestId, so that a replay never
   * re-opens or rewrites a request that someone has handled since.
   */
  callbackRequests?: readonly CallbackRequest[];
}

/** What post-processing (and the benchmark's seeding) writes. */
export interface RecordWriter {
  writeBatch(batch: RecordBatch): Promise<void>;
  /** Last journal seq the consumer has fully applied (0 when it never ran). */
  readCheckpoint(consumer: string): Promise<number>;
  /** Move a consumer's checkpoint, e.g. back to 0 to replay the journal. */
  setCheckpoint(consumer: string, seq: number): Promise<void>;
  loadCallProgress(callIds: readonly string[]): Promise<Map<string, CallProgress>>;
  /** Calls started but not ended, oldest activity first: what crash recovery ends. */
  listOpenCallProgress(): Promise<CallProgress[]>;
}

export type StoreDialect = 'sqlite' | 'postgres';

/** The record tables an eventId can be in, named as the REST records they are. */
export type RecordKind =
  | 'UserCallEvent'
  | 'ServiceCall'
  | 'ServiceCallDetail'
  | 'OutboundServiceCall'
  | 'OutboundCallbackCall';

/** Where a record Id points: its table and the call it belongs to. */
export interface RecordLocation {
  kind: RecordKind;
  eventId: string;
  callId: string;
}

/** Finding a record by its Id alone, whatever its kind (diagnostics: "which call is this record of?"). */
export interface RecordLookup {
  /** Undefined for an unknown eventId. Record Ids are UUID v5 of distinct keys, so at most one matches. */
  locateRecord(eventId: string): Promise<RecordLocation | undefined>;
}

// ---- Callback requests -------------------------------------------------------------------------

export interface CallbackRequestQuery {
  callbackListId: string;
  status?: CallbackRequestStatus;
  limit?: number;
}

/** A status change as a value: the request after it, or why it could not be made. */
export type CallbackRequestChange =
  | { ok: true; request: CallbackRequest }
  | { ok: false; reason: 'NotFound' }
  | { ok: false; reason: 'Conflict'; request: CallbackRequest };

export interface CloseCallbackRequest {
  callbackRequestId: string;
  status: CallbackClosedStatus;
  byUserId: string;
  atMs: number;
  /** Replaces the request's note when given. */
  note?: string;
}

export interface ReopenCallbackRequest {
  callbackRequestId: string;
  byUserId: string;
  atMs: number;
  note?: string;
}

/**
 * Durable callback requests (they outlive restarts). A request's attempt history is the outbound
 * callback call records that name it: post-processing writes each one when the call is placed
 * and updates it with the outcome, so the history needs no table of its own.
 */
export interface CallbackRequestStore {
  /** Insert a request; when its id exists already, the stored one is returned unchanged. */
  createCallbackRequest(request: CallbackRequest): Promise<CallbackRequest>;
  getCallbackRequest(callbackRequestId: string): Promise<CallbackRequest | undefined>;
  /** One list's requests, oldest first. */
  listCallbackRequests(query: CallbackRequestQuery): Promise<CallbackRequest[]>;
  /** The callback calls made for these requests, oldest first. */
  listCallbackAttempts(callbackRequestIds: readonly string[]): Promise<OutboundCallbackCall[]>;
  /** Open → a closed status, atomically; Conflict when the request is not Open. */
  closeCallbackRequest(change: CloseCallbackRequest): Promise<CallbackRequestChange>;
  /** A re-openable closed status → Open, atomically; Conflict otherwise. */
  reopenCallbackRequest(change: ReopenCallbackRequest): Promise<CallbackRequestChange>;
}

/** The record store: read side for the REST API, write side for post-processing. */
export interface RecordStore extends RecordReader, RecordWriter, RecordLookup, CallbackRequestStore {
  readonly dialect: StoreDialect;
  close(): Promise<void>;
}
