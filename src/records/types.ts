/**
 * Call records produced by post-processing (DESIGN.md §2–3). Internal names are camelCase and say
 * which identifier they hold; the REST layer maps them to the EnreachAPI PascalCase fields.
 * Times are epoch milliseconds (UTC); absent times are null.
 */

export type CallResult = 'Handled' | 'Allocated' | 'Missed' | 'Rejected' | 'Busy' | 'Cancelled' | 'Failed';
export type CallType = 'DirectCall' | 'ServiceCall';
export type Direction = 'inbound' | 'outbound';

export interface UserCallEvent {
  /** Record Id: UUID v5 of the natural key (callLegId or callId+userId, see post-processing). */
  eventId: string;
  callId: string;
  callLegId: string;
  userId: string;
  userName: string;
  callType: CallType;
  direction: Direction;
  result: CallResult;
  aNum: string;
  bNum: string;
  queueId: string | null;
  queueName: string | null;
  timestampMs: number;
  answerTimeMs: number | null;
  endTimeMs: number | null;
  durationSeconds: number;
  recordingIds: string[];
  modifiedMs: number;
}

export interface ServiceCall {
  eventId: string;
  callId: string;
  queueId: string;
  queueName: string;
  aNum: string;
  bNum: string;
  arrivalTimeMs: number;
  answerTimeMs: number | null;
  endTimeMs: number | null;
  waitTimeSeconds: number;
  durationSeconds: number;
  /** Null while the call is in progress. */
  result: CallResult | null;
  answeredByUserId: string | null;
  answeredByUserName: string | null;
  allocationCount: number;
  recordingIds: string[];
  modifiedMs: number;
}

/** EventType codes of service call details. 2 and 1xx/2xx codes above 100 follow EnreachVoice; see docs. */
export const ServiceCallEventType = {
  CallArrival: 1,
  CallDisconnect: 2,
  QueueReject: 101,
  QueueScheduleClosed: 102,
  QueueOverflow: 103,
  UserAllocation: 201,
  UserConnect: 202,
  UserReject: 203,
  UserTransfer: 204,
  UserPark: 205,
} as const;
export type ServiceCallEventTypeName = keyof typeof ServiceCallEventType;

export interface ServiceCallDetail {
  eventId: string;
  callId: string;
  callLegId: string | null;
  queueId: string;
  queueName: string;
  userId: string | null;
  userName: string | null;
  eventType: ServiceCallEventTypeName;
  reason: string | null;
  timestampMs: number;
  modifiedMs: number;
  /** Journal sequence of the fact that produced it: orders details deterministically. */
  seq: number;
}

export interface OutboundServiceCall {
  eventId: string;
  callId: string;
  callLegId: string;
  queueId: string;
  queueName: string;
  userId: string;
  userName: string;
  aNum: string;
  bNum: string;
  timestampMs: number;
  answerTimeMs: number | null;
  endTimeMs: number | null;
  durationSeconds: number;
  result: CallResult | null;
  recordingIds: string[];
  modifiedMs: number;
}

export interface OutboundCallbackCall {
  eventId: string;
  callId: string;
  callLegId: string;
  callbackListId: string;
  callbackListName: string;
  callbackRequestId: string;
  queueId: string | null;
  userId: string;
  userName: string;
  aNum: string;
  bNum: string;
  timestampMs: number;
  answerTimeMs: number | null;
  endTimeMs: number | null;
  durationSeconds: number;
  result: CallResult | null;
  recordingIds: string[];
  modifiedMs: number;
}

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

/** Hashed REST secret keys, kept by the store so that they survive restarts. */
export interface CredentialStore {
  saveSecretKeyHash(userId: string, keyHash: string, createdMs: number): Promise<void>;
  /** Hashes of the user's current keys, newest first. */
  listSecretKeyHashes(userId: string): Promise<string[]>;
}

/** A detail as written: `subSeq` orders the details that one journal fact produced. */
export interface ServiceCallDetailWrite extends ServiceCallDetail {
  subSeq: number;
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

/**
 * Where a callback request stands. `Open` is the only status that can get callback calls; the
 * others are closed with the handling outcome (see src/records/README.md for the rules).
 */
export type CallbackRequestStatus =
  | 'Open'
  | 'ClosedSuccessfully'
  | 'ClosedBusy'
  | 'ClosedNoAnswer'
  | 'ClosedInvalidNumber'
  | 'Cancelled';
export type CallbackClosedStatus = Exclude<CallbackRequestStatus, 'Open'>;

export const CALLBACK_CLOSED_STATUSES: readonly CallbackClosedStatus[] = [
  'ClosedSuccessfully',
  'ClosedBusy',
  'ClosedNoAnswer',
  'ClosedInvalidNumber',
  'Cancelled',
];
export const CALLBACK_REQUEST_STATUSES: readonly CallbackRequestStatus[] = [
  'Open',
  ...CALLBACK_CLOSED_STATUSES,
];

/**
 * Closed statuses that may be re-opened: the customer may be reachable later (busy, no answer) or
 * the cancellation was a mistake. A request closed successfully is done, and one with an invalid
 * number cannot be called: a new contact is a new request.
 */
export const CALLBACK_REOPENABLE_STATUSES: readonly CallbackClosedStatus[] = [
  'ClosedBusy',
  'ClosedNoAnswer',
  'Cancelled',
];

/** How the request came to be: a missed queue call (post-processing) or the REST API. */
export type CallbackRequestOrigin = 'MissedCall' | 'Api';

export interface CallbackRequest {
  callbackRequestId: string;
  callbackListId: string;
  /** The queue that missed the call (or the one named on creation); null if none. */
  queueId: string | null;
  /** The number to call back. */
  number: string;
  /** CallId of the missed call, for requests made from one. */
  callId: string | null;
  origin: CallbackRequestOrigin;
  note: string | null;
  status: CallbackRequestStatus;
  createdMs: number;
  /** Who created it through the API; null for missed calls. */
  createdByUserId: string | null;
  /** When and by whom it was last closed; null while open. */
  closedMs: number | null;
  closedByUserId: string | null;
  /** Wall-clock time of the last change of the request itself (attempts have their own Modified). */
  modifiedMs: number;
}

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
export interface RecordStore
  extends RecordReader,
    RecordWriter,
    CredentialStore,
    RecordLookup,
    CallbackRequestStore {
  readonly dialect: StoreDialect;
  close(): Promise<void>;
}
