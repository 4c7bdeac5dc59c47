/**
 * The journal's facts as zod schemas: the one definition of what call control writes and what
 * every reader may rely on. The TypeScript types (`types.ts`) are inferred from these schemas, and
 * every fact read back from storage goes through `decodeFact`, so a corrupt or foreign row becomes
 * a coded `JournalError` instead of a crash deep inside post-processing or diagnostics.
 *
 * Versions. Facts are stored with `schemaVersion`; facts written before it existed are version 1.
 * Version 2 journals the routing decision (`CallStarted.route`) and closes `LegEnded.cause` to an
 * enum (the free text of a SIP reason phrase moved to `sipReason`). `upgradeV1Fact` turns a
 * version-1 fact into the current shape; it is the only place that still derives a route from the
 * dialled number, because version-1 facts never said what call control decided.
 */
import { z } from 'zod';
import { JournalError } from './errors.js';

/** The version `encodeFact` stamps on every stored fact. */
export const FACT_SCHEMA_VERSION = 2;

export const CallKindSchema = z.enum(['direct', 'inbound-service', 'outbound-service', 'outbound-callback']);

/** Who a leg connects call control to. */
export const LegRoleSchema = z.enum([
  'caller', // the leg of the party that placed the call (a user's device or a trunk)
  'callee', // a direct call's leg to a user's device
  'allocation', // a queue's offer of the call to a member
  'trunk', // an outgoing leg to a trunk (external number)
  'transfer', // an outgoing leg to the target of a blind transfer (a user's devices or a trunk)
]);

export const AllocationRejectReasonSchema = z.enum([
  'Timeout',
  'CallDisconnected',
  'GenericUserRejected',
  'OtherConnected',
]);

export const QueueLeaveReasonSchema = z.enum([
  'Answered',
  'CallerHungUp',
  'MaxWaitExceeded',
  'Overflow',
  'NoMembers',
  'Failed',
  'ScheduleClosed', // the queue's opening hours say closed: the call never waited (detail 102)
]);

export const CallEndReasonSchema = z.enum([
  'Normal', // a party hung up after answer
  'CallerCancelled', // caller hung up before answer
  'NoAnswer',
  'Busy',
  'Rejected',
  'Unavailable', // e.g. 480: nobody registered / queue closed
  'NotFound',
  'Failed', // errors, and calls ended by crash recovery
]);

/**
 * Why call control ended a leg. The call's end reasons appear too: the caller's leg ends with the
 * call, for the call's reason.
 */
export const LegEndCauseSchema = z.enum([
  ...CallEndReasonSchema.options,
  ...AllocationRejectReasonSchema.options,
  'CallerHangup', // BYE from the caller
  'CalleeHangup', // BYE from the answered party
  'CompletedElsewhere', // another leg of the call answered; this one was cancelled
  'CallFailed', // the call failed before answer; this leg was cancelled
  'AnsweredTooLate', // a 2xx after the call ended or left the queue; BYE sent at once
  'PartyGone', // the liveness probe got no answer (or 481)
  'AckTimeout', // the caller never ACKed our 2xx
  'PeerUnreachable', // a relayed in-dialog request could not be delivered
  'ConnectionLost', // the WebSocket of one of the parties closed
  'ServerShutdown', // the process shut down cleanly
  'Refused', // the device or trunk answered with a final non-2xx (the phrase is in `sipReason`)
  'TransportError', // the INVITE could not be sent
  'MediaError', // the media engine refused or did not answer an offer/answer for this leg
  'MediaEngineRestarted', // the media engine restarted: its calls' media was lost
  'Transferred', // the party transferred the call away (its leg released once the target answered)
  'TransferFailed', // the transfer target did not take the call and nobody was left to keep it
]);

/** A finer cause than `CallEnded.reason`. */
export const CallEndCauseSchema = z.enum([
  'ServerRestart', // crash recovery ended a call the previous process left in progress
  'NodeFailure', // the cluster node running the call died; another node's janitor ended it
  'Transferred', // an attended transfer joined this (consultation) call's party into another call
]);

/** SIP identifiers of one leg's dialog, as seen on the wire. */
export const SipLegIdentifiersSchema = z.object({
  /** The dialog's Call-ID header value. */
  sipCallId: z.string(),
  /** Our tag on this dialog (From tag on legs we originate, To tag on legs we answer). */
  localTag: z.string(),
  /** The peer's tag once known. */
  remoteTag: z.string().optional(),
});

/** Where call control sent the call: decided once, at the start, from the dialled number. */
export const CallRouteSchema = z.discriminatedUnion('kind', [
  /** A user's devices (direct calls, or outbound calls to an internal number). */
  z.object({ kind: z.literal('user'), userId: z.string() }),
  /** A queue (inbound service calls). */
  z.object({ kind: z.literal('queue'), queueId: z.string() }),
  /**
   * The trunk, for an external number. `uri` is the Request-URI sent to it; absent on facts
   * upgraded from version 1, which did not record it.
   */
  z.object({ kind: z.literal('trunk'), uri: z.string().optional() }),
  /** Version-1 facts read without a directory to route them with (`LegacyRouting`). */
  z.object({ kind: z.literal('unknown') }),
]);

const callId = z.string().min(1);
const callLegId = z.string().min(1);
const sipStatus = z.number().int();

export const CallStartedSchema = z.object({
  type: z.literal('CallStarted'),
  callId,
  callKind: CallKindSchema,
  /** Calling number/extension (A number) and called number (B number) as routed. */
  aNum: z.string(),
  bNum: z.string(),
  /** What call control decided to do with the call (the resolved callee). */
  route: CallRouteSchema,
  /** The calling user, when the call comes from one of our users. */
  callerUserId: z.string().optional(),
  /** The queue for service calls (inbound or on behalf of), else absent. */
  queueId: z.string().optional(),
  callbackListId: z.string().optional(),
  callbackRequestId: z.string().optional(),
});

export const LegCreatedSchema = z.object({
  type: z.literal('LegCreated'),
  callId,
  callLegId,
  role: LegRoleSchema,
  /** inbound = towards us (the caller's leg), outbound = we placed it. */
  direction: z.enum(['inbound', 'outbound']),
  userId: z.string().optional(),
  queueId: z.string().optional(),
  /** Contact or trunk address the leg goes to / comes from. */
  target: z.string(),
  sip: SipLegIdentifiersSchema,
});

export const LegRingingSchema = z.object({ type: z.literal('LegRinging'), callId, callLegId, sipStatus });

export const LegAnsweredSchema = z.object({
  type: z.literal('LegAnswered'),
  callId,
  callLegId,
  sip: SipLegIdentifiersSchema,
});

export const LegEndedSchema = z.object({
  type: z.literal('LegEnded'),
  callId,
  callLegId,
  /** SIP status that ended the leg (e.g. 200 for a BYE after answer, 486, 487, 408). */
  sipStatus,
  cause: LegEndCauseSchema,
  /** For cause 'Refused': the reason phrase of the final response (or `SIP <status>`). */
  sipReason: z.string().optional(),
});

export const QueueEnteredSchema = z.object({ type: z.literal('QueueEntered'), callId, queueId: z.string() });

export const QueueLeftSchema = z.object({
  type: z.literal('QueueLeft'),
  callId,
  queueId: z.string(),
  reason: QueueLeaveReasonSchema,
  overflowTarget: z.string().optional(),
});

/** The fields every allocation fact names. */
const allocation = { callId, callLegId, queueId: z.string(), userId: z.string() };

export const AllocationOfferedSchema = z.object({ type: z.literal('AllocationOffered'), ...allocation });

export const AllocationRejectedSchema = z.object({
  type: z.literal('AllocationRejected'),
  ...allocation,
  reason: AllocationRejectReasonSchema,
  sipStatus: sipStatus.optional(),
});

export const AllocationConnectedSchema = z.object({ type: z.literal('AllocationConnected'), ...allocation });

export const CallEndedSchema = z.object({
  type: z.literal('CallEnded'),
  callId,
  reason: CallEndReasonSchema,
  /** Final SIP status of the call as the caller saw it. */
  sipStatus,
  /** For direct calls: the user who answered (if any). */
  answeredByUserId: z.string().optional(),
  cause: CallEndCauseSchema.optional(),
  /**
   * When the call really ended, if that is earlier than the entry's time: crash recovery
   * appends the fact at start-up but ends the call at the last time it was known to be alive.
   */
  endedAtMs: z.number().optional(),
});

/** Who a recording belongs to: the queue of a service call, else the user whose call it is. */
export const RecordingOwnerSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('queue'), queueId: z.string() }),
  z.object({ kind: z.literal('user'), userId: z.string() }),
]);

/**
 * The media engine records the call from now on (it was just connected). The recording covers the
 * connected part: it ends with the call. `aLegId` (the caller's leg) is channel 0 of the file,
 * `bLegId` (the agent / callee leg) channel 1.
 */
export const RecordingStartedSchema = z.object({
  type: z.literal('RecordingStarted'),
  callId,
  recordingId: z.string(),
  owner: RecordingOwnerSchema,
  aLegId: z.string(),
  bLegId: z.string(),
  /** The media engine's ports each side sends to (its capture is split into channels by them). */
  aEnginePorts: z.array(z.number().int()).optional(),
  bEnginePorts: z.array(z.number().int()).optional(),
});

/**
 * The platform answered the caller's leg itself because the call waits in a queue with a media
 * engine (DESIGN.md §9 "Queue audio"): the caller hears the queue's audio from now on. Not an
 * agent's answer: a service call's AnswerTime stays the agent's (AllocationConnected).
 */
export const QueueAnsweredSchema = z.object({
  type: z.literal('QueueAnswered'),
  callId,
  /** The caller's leg. */
  callLegId,
  queueId: z.string(),
});

export const AudioKindSchema = z.enum([
  'greeting', // a queue's greeting, once on entry
  'music', // a queue's music on hold while the caller waits
  'position', // a position / expected-wait announcement
  'whisper', // the queue's whisper to the agent who answered, before connecting
  'goodbye', // before the platform hangs up a waiting call (max wait exceeded)
  'closed', // a closed queue's prompt (opening hours), before the platform hangs up
  'holdMusic', // music to a party whose peer put the call on hold
]);

/** The media engine started playing audio to one party (`callLegId`); loops are not repeated. */
export const AudioPlayedSchema = z.object({
  type: z.literal('AudioPlayed'),
  callId,
  callLegId,
  audio: AudioKindSchema,
  queueId: z.string().optional(),
});

/**
 * The caller, answered by a queue, was connected to the agent's media: the engine paired the
 * two and the caller accepted the new session description (re-INVITE).
 */
export const MediaBridgedSchema = z.object({
  type: z.literal('MediaBridged'),
  callId,
  /** The caller's leg. */
  callLegId,
  /** The agent's leg. */
  peerLegId: z.string(),
});

/** A party put the call on hold (re-INVITE `sendonly` / `inactive`) or took it off hold. */
export const HoldChangedSchema = z.object({
  type: z.literal('HoldChanged'),
  callId,
  /** The party that holds (or resumes). */
  callLegId,
  onHold: z.boolean(),
});

export const TransferTargetKindSchema = z.enum(['user', 'queue', 'number']);

/**
 * A party asked to transfer the call (REFER, blind): `callLegId` is the transferor's leg,
 * `target` what the Refer-To named, resolved to a user, queue or number.
 */
export const TransferRequestedSchema = z.object({
  type: z.literal('TransferRequested'),
  callId,
  callLegId,
  targetKind: TransferTargetKindSchema,
  /** As the records name it: `user b@example.com`, `queue Sales`, `number +358…`. */
  target: z.string(),
  userId: z.string().optional(),
  queueId: z.string().optional(),
});

/**
 * The transfer is done: the target answered (`newCallLegId`, its leg) or the call entered the
 * target queue; the transferor's leg is released.
 */
export const TransferCompletedSchema = z.object({
  type: z.literal('TransferCompleted'),
  callId,
  callLegId,
  newCallLegId: z.string().optional(),
});

/** The transfer target did not take the call; the call goes on with the transferor (if still there). */
export const TransferFailedSchema = z.object({
  type: z.literal('TransferFailed'),
  callId,
  callLegId,
  sipStatus,
  reason: z.string(),
});

/**
 * A recording goes on with another party on channel 1 (the call was transferred and its caller
 * bridged to the target, or re-queued and answered by another agent): the engine's ports of the
 * new pairing join the recording's, so that one file covers the whole call.
 */
export const RecordingContinuedSchema = z.object({
  type: z.literal('RecordingContinued'),
  callId,
  recordingId: z.string(),
  /** The party now on channel 1. */
  bLegId: z.string(),
  aEnginePorts: z.array(z.number().int()).optional(),
  bEnginePorts: z.array(z.number().int()).optional(),
});

// ---------------------------------------------------------------------------------------------
// Agent facts: what users (or the platform for them) changed about their readiness for queue
// calls (src/calls/agent-service.ts). They belong to no call: their `callId` is the agent's
// stream key `agent:<userId>` (`agentStreamKey`), so one agent's facts stay in order the way one
// call's do, and readers that fold calls skip them (`isAgentFact`).

/** DESIGN.md §11: only `Available` users are offered queue calls. */
export const AvailabilitySchema = z.enum(['Available', 'Busy', 'DoNotDisturb', 'OffWork']);

/** Why an agent's state changed: set through the REST API, or an `EndTime` that passed. */
export const AgentChangeCauseSchema = z.enum(['Set', 'EndTimeReached']);

const agentStreamKeySchema = z.string().startsWith('agent:');

/** A user's availability is now `availability` (until `endTimeMs`, when given). */
export const AvailabilityChangedSchema = z.object({
  type: z.literal('AvailabilityChanged'),
  callId: agentStreamKeySchema,
  userId: z.string(),
  availability: AvailabilitySchema,
  note: z.string().optional(),
  /** Back to Available automatically at this time. */
  endTimeMs: z.number().optional(),
  cause: AgentChangeCauseSchema,
  /** Who set it (the user, or an admin); absent when the platform did (`EndTimeReached`). */
  changedByUserId: z.string().optional(),
});

/** A member switched serving one queue on or off: a member not serving it is not offered its calls. */
export const ServingChangedSchema = z.object({
  type: z.literal('ServingChanged'),
  callId: agentStreamKeySchema,
  userId: z.string(),
  queueId: z.string(),
  serving: z.boolean(),
  changedByUserId: z.string().optional(),
});

/** A user's wrap-up was ended before its time ("end wrap-up now"). */
export const WrapUpEndedSchema = z.object({
  type: z.literal('WrapUpEnded'),
  callId: agentStreamKeySchema,
  userId: z.string(),
  changedByUserId: z.string().optional(),
});

const AGENT_FACT_TYPES: ReadonlySet<string> = new Set([
  'AvailabilityChanged',
  'ServingChanged',
  'WrapUpEnded',
]);

/** The stream key (`callId` field) of an agent's facts. */
export function agentStreamKey(userId: string): string {
  return `agent:${userId}`;
}

/** Every fact of the current version. */
export const JournalFactSchema = z.discriminatedUnion('type', [
  CallStartedSchema,
  LegCreatedSchema,
  LegRingingSchema,
  LegAnsweredSchema,
  LegEndedSchema,
  QueueEnteredSchema,
  QueueLeftSchema,
  AllocationOfferedSchema,
  AllocationRejectedSchema,
  AllocationConnectedSchema,
  CallEndedSchema,
  RecordingStartedSchema,
  QueueAnsweredSchema,
  AudioPlayedSchema,
  MediaBridgedSchema,
  HoldChangedSchema,
  TransferRequestedSchema,
  TransferCompletedSchema,
  TransferFailedSchema,
  RecordingContinuedSchema,
  AvailabilityChangedSchema,
  ServingChangedSchema,
  WrapUpEndedSchema,
]);

type AnyFact = z.infer<typeof JournalFactSchema>;
/** The agent facts: they belong to no call (see `agentStreamKey`). */
export type AgentFact = Extract<AnyFact, { type: 'AvailabilityChanged' | 'ServingChanged' | 'WrapUpEnded' }>;

/** Whether a fact is an agent's rather than a call's: call folds and record writers skip these. */
export function isAgentFact(fact: AnyFact): fact is AgentFact {
  return AGENT_FACT_TYPES.has(fact.type);
}

/** What version 1 left unspecified that upgrading needs: the routing of that time. */
export interface LegacyRouting {
  /** The user a dialled extension or number belongs to, as call control routed version-1 calls. */
  userIdByDialled(dialled: string): string | null;
}

/** The routing call control did when it wrote version-1 facts: a user's extension, then number. */
export function legacyRoutingOf(directory: {
  userByExtension(extension: string): { userId: string } | undefined;
  userByNumber(number: string): { userId: string } | undefined;
}): LegacyRouting {
  return {
    userIdByDialled: (dialled) =>
      (directory.userByExtension(dialled) ?? directory.userByNumber(dialled))?.userId ?? null,
  };
}

type Json = Record<string, unknown>;

function isJsonObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Version 1 → current. Only `CallStarted` (no route) and `LegEnded` (free-text cause) differ.
 * The route is derived the way call control routed then: a queue for inbound service calls, else
 * the user the dialled number belongs to, else the trunk (numbers no user has went there).
 */
export function upgradeV1Fact(fact: Json, legacy: LegacyRouting | undefined): Json {
  if (fact.type === 'CallStarted' && fact.route === undefined) {
    const bNum = typeof fact.bNum === 'string' ? fact.bNum : '';
    const queueId = typeof fact.queueId === 'string' ? fact.queueId : undefined;
    let route: z.input<typeof CallRouteSchema>;
    const userId = legacy?.userIdByDialled(bNum) ?? null;
    if (fact.callKind === 'inbound-service' && queueId) route = { kind: 'queue', queueId };
    else if (userId !== null) route = { kind: 'user', userId };
    else if (legacy === undefined) route = { kind: 'unknown' };
    else route = { kind: 'trunk' };
    return { ...fact, route };
  }
  if (fact.type === 'LegEnded' && typeof fact.cause === 'string') {
    // Version 1 mixed call control's own causes with the reason phrases of SIP responses.
    const known = LegEndCauseSchema.safeParse(fact.cause);
    if (known.success) return fact;
    return { ...fact, cause: 'Refused', sipReason: fact.cause };
  }
  return fact;
}

/** The stored form of a fact: its JSON text, stamped with the current schema version. */
export function encodeFact(fact: z.infer<typeof JournalFactSchema>): string {
  return JSON.stringify({ ...fact, schemaVersion: FACT_SCHEMA_VERSION });
}

/**
 * A stored fact back to the current version, validated. `where` names the entry in errors.
 * Throws `JOURNAL_CORRUPT_ENTRY` (not a JSON object), `JOURNAL_UNSUPPORTED_VERSION` (written by a
 * newer version) or `JOURNAL_INVALID_FACT` (does not match its schema).
 */
export function decodeFact(
  text: string,
  where: string,
  legacy?: LegacyRouting,
): z.infer<typeof JournalFactSchema> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new JournalError('JOURNAL_CORRUPT_ENTRY', `${where} is not JSON`, { cause });
  }
  if (!isJsonObject(value) || !('type' in value)) {
    throw new JournalError('JOURNAL_CORRUPT_ENTRY', `${where} is not a fact`);
  }
  // The schema strips `schemaVersion` (it is the stored form's, not the fact's).
  const schemaVersion = value.schemaVersion ?? 1;
  let current: Json;
  if (schemaVersion === FACT_SCHEMA_VERSION) current = value;
  else if (schemaVersion === 1) current = upgradeV1Fact(value, legacy);
  else {
    throw new JournalError(
      'JOURNAL_UNSUPPORTED_VERSION',
      `${where} has schema version ${String(schemaVersion)}; this build reads up to ${FACT_SCHEMA_VERSION}`,
    );
  }
  const parsed = JournalFactSchema.safeParse(current);
  if (!parsed.success) {
    throw new JournalError(
      'JOURNAL_INVALID_FACT',
      `${where} is not a valid fact: ${z.prettifyError(parsed.error)}`,
      {
        cause: parsed.error,
      },
    );
  }
  return parsed.data;
}
