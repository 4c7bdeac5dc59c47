/**
 * Types of the diagnostics package: a call's identifier map as built from the journal and the
 * records (camelCase, internal), and its wire format (PascalCase, like the REST API it extends).
 */

import type { CredentialStore } from '../api/credentials/index.js';
import type { RateLimits } from '../api/types.js';
import type { Directory, GrantKind } from '../config/types.js';
import type { CallEndReason, CallKind, JournalFactType, JournalLookup, LegRole } from '../journal/types.js';
import type { RecordKind, RecordLookup, RecordReader } from '../records/types.js';

/** What the diagnostics plugin reads. */
export interface DiagnosticsDeps {
  directory: Directory;
  journal: JournalLookup;
  records: RecordReader & RecordLookup;
  credentials: CredentialStore;
  rateLimits?: Partial<RateLimits>;
  now?: () => number;
  /** Rendered recordings (src/recordings): a RecordingId is looked up through them. */
  recordings?: { getRecording(recordingId: string): Promise<{ callId: string } | undefined> };
}

// ---- the identifier map (internal) ---------------------------------------------------------------

export interface AllocationOutcome {
  offeredAtMs: number;
  /** Pending while the offer rings; Connected when the member answered; Rejected otherwise. */
  outcome: 'Pending' | 'Connected' | 'Rejected';
  /** Timeout, CallDisconnected, GenericUserRejected, OtherConnected. */
  rejectReason: string | null;
  /** 1 for the call's first allocation, 2 for the second, … (across members). */
  ordinal: number;
}

export interface LegMap {
  callLegId: string;
  role: LegRole;
  direction: 'inbound' | 'outbound';
  userId: string | null;
  queueId: string | null;
  /** Contact or trunk address. */
  target: string;
  sipCallId: string;
  localTag: string;
  remoteTag: string | null;
  /**
   * The client `callId` the device on this leg saw: its INVITE's Call-ID followed by the From tag.
   * On legs we place the From tag is ours (localTag); on the caller's leg it is the caller's (remoteTag).
   */
  sessionId: string | null;
  createdAtMs: number;
  ringingAtMs: number | null;
  answeredAtMs: number | null;
  endedAtMs: number | null;
  endSipStatus: number | null;
  endCause: string | null;
  allocation: AllocationOutcome | null;
}

export interface RecordEntry {
  kind: RecordKind;
  eventId: string;
  /** The REST call that returns it, e.g. `GET /calls?CallId=…`. */
  endpoint: string;
  /** The grant that shows it (DESIGN.md §4). */
  permission: { kind: GrantKind; entityId: string };
  callLegId: string | null;
  userId: string | null;
  queueId: string | null;
  callbackListId: string | null;
  /** The record exactly as its REST endpoint serves it. */
  record: Record<string, unknown>;
}

export type ParticipantKind = 'caller' | 'switchboard' | 'queue' | 'user' | 'trunk';

export interface Participant {
  key: string;
  kind: ParticipantKind;
  userId: string | null;
  queueId: string | null;
}

/** One arrow (or note) of the sequence diagram. */
export interface TimelineStep {
  seq: number;
  timeMs: number;
  factType: JournalFactType;
  kind: 'message' | 'note';
  /** Participant keys; a note has from === to. */
  from: string;
  to: string;
  /** e.g. `INVITE`, `180 Ringing`, `603`, `CANCEL`, `BYE`, `queued`. */
  label: string;
  detail: string | null;
  callLegId: string | null;
}

export interface CallMap {
  callId: string;
  callKind: CallKind;
  aNum: string;
  bNum: string;
  callerUserId: string | null;
  queueIds: string[];
  startedAtMs: number;
  endedAtMs: number | null;
  endReason: CallEndReason | null;
  endCause: string | null;
  legs: LegMap[];
  records: RecordEntry[];
  /** Recordings made of the call (RecordingStarted): channel 0 = aLegId, channel 1 = bLegId. */
  recordings: {
    recordingId: string;
    ownerKind: 'queue' | 'user';
    ownerId: string;
    aLegId: string;
    bLegId: string;
    startedAtMs: number;
  }[];
  participants: Participant[];
  timeline: TimelineStep[];
}

// ---- lookup ----------------------------------------------------------------------------------------

export type IdentifierKind =
  | 'CallId'
  | 'CallLegId'
  | 'EventId'
  | 'SipCallId'
  | 'ClientCallId'
  | 'RecordingId';

export interface IdentifierMatch {
  kind: IdentifierKind;
  callId: string;
  callLegId: string | null;
  eventId: string | null;
  recordKind: RecordKind | null;
}

// ---- wire format -------------------------------------------------------------------------------------

export interface WireUserRef {
  UserId: string;
  UserName: string;
  DisplayName: string | null;
  Extension: string;
}

export interface WireLeg {
  CallLegId: string;
  Role: 'Caller' | 'Callee' | 'Allocation' | 'Trunk' | 'Transfer';
  Direction: 'Inbound' | 'Outbound';
  User: WireUserRef | null;
  QueueId: string | null;
  QueueName: string | null;
  Target: string;
  Sip: { CallId: string; LocalTag: string; RemoteTag: string | null };
  /** The webphone's `callId` on this leg (SIP Call-ID + From tag). */
  ClientCallId: string | null;
  CreatedTime: string;
  RingingTime: string | null;
  AnswerTime: string | null;
  EndTime: string | null;
  EndSipStatus: number | null;
  EndCause: string | null;
  Allocation: {
    Ordinal: number;
    OfferedTime: string;
    Outcome: AllocationOutcome['outcome'];
    RejectReason: string | null;
  } | null;
}

export interface WireRecord {
  Kind: RecordKind;
  Id: string;
  Endpoint: string;
  Permission: { Kind: GrantKind; EntityId: string; EntityName: string; Text: string };
  CallLegId: string | null;
  UserId: string | null;
  QueueId: string | null;
  CallbackListId: string | null;
  Record: Record<string, unknown>;
}

export interface WireParticipant {
  Key: string;
  Kind: ParticipantKind;
  Label: string;
  UserId: string | null;
  QueueId: string | null;
}

export interface WireTimelineStep {
  Seq: number;
  Time: string;
  /** Milliseconds since the call started. */
  OffsetMs: number;
  Fact: JournalFactType;
  Kind: 'message' | 'note';
  From: string;
  To: string;
  Label: string;
  Detail: string | null;
  CallLegId: string | null;
}

export interface WireCallMap {
  CallId: string;
  CallKind: 'DirectCall' | 'InboundServiceCall' | 'OutboundServiceCall' | 'OutboundCallbackCall';
  ANum: string;
  BNum: string;
  Caller: WireUserRef | null;
  Queues: { QueueId: string; QueueName: string }[];
  StartTime: string;
  EndTime: string | null;
  EndReason: string | null;
  EndCause: string | null;
  /** True when the viewer sees everything (admin); otherwise parts may be left out. */
  Complete: boolean;
  Legs: WireLeg[];
  Records: WireRecord[];
  /** The call's recordings; `Endpoint` is relative to apiEndpoint (GET it for the file URL). */
  Recordings: {
    RecordingId: string;
    Owner: { Kind: 'Queue' | 'User'; Id: string; Name: string };
    ALegId: string;
    BLegId: string;
    StartTime: string;
    Endpoint: string;
  }[];
  Participants: WireParticipant[];
  Timeline: WireTimelineStep[];
}

export interface WireLookupResult {
  Query: string;
  Matches: {
    Kind: IdentifierKind;
    CallId: string;
    CallLegId: string | null;
    EventId: string | null;
    RecordKind: RecordKind | null;
    Href: string;
  }[];
}
