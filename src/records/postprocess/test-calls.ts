/**
 * Test support: a tenant and fact sequences that follow call control's journaling order
 * (src/calls/call.ts), appended to a real journal.
 */
import { randomUUID } from 'node:crypto';
import { defaultSipSettings } from '../../config/schema.js';
import type { Grants, Tenant, User } from '../../config/types.js';
import type {
  AllocationRejectReason,
  CallRoute,
  Journal,
  JournalEntry,
  LegEndCause,
} from '../../journal/types.js';

export const USER_A = '0a000000-0000-4000-8000-00000000000a';
export const USER_B = '0b000000-0000-4000-8000-00000000000b';
export const USER_C = '0c000000-0000-4000-8000-00000000000c';
export const QUEUE_SUPPORT = '5a000000-0000-4000-8000-000000000001';
export const QUEUE_SALES = '5a000000-0000-4000-8000-000000000002';
export const LIST_SUPPORT = 'cb000000-0000-4000-8000-000000000001';

function grants(): Grants {
  return { directCalls: new Set(), agentCalls: new Set(), serviceCalls: new Set(), callbackLists: new Set() };
}

function user(userId: string, letter: string, extension: string): User {
  return {
    userId,
    username: `${letter}@example.com`,
    extension,
    password: `secret-${letter}`,
    recordDirectCalls: false,
    role: 'agent',
    grants: grants(),
  };
}

export const TEST_TENANT: Tenant = {
  domain: 'switchboard.local',
  publicUrl: 'http://127.0.0.1:8080/',
  postProcessing: { delaySeconds: 0 },
  sip: defaultSipSettings(),
  users: [user(USER_A, 'a', '1001'), user(USER_B, 'b', '1002'), user(USER_C, 'c', '1003')],
  queues: [
    {
      queueId: QUEUE_SUPPORT,
      name: 'Support',
      extension: '100',
      number: '+35810100100',
      memberUserIds: [USER_B, USER_C],
      strategy: 'sequential',
      allocationTimeoutSeconds: 15,
      maxWaitSeconds: 120,
      wrapUpSeconds: 0,
      recordInbound: false,
      recordOutbound: true,
      callbackListId: LIST_SUPPORT,
      overflowTarget: 'Sales',
    },
    {
      queueId: QUEUE_SALES,
      name: 'Sales',
      extension: '200',
      memberUserIds: [USER_C],
      strategy: 'sequential',
      allocationTimeoutSeconds: 15,
      maxWaitSeconds: 120,
      wrapUpSeconds: 0,
      recordInbound: false,
      recordOutbound: false,
    },
  ],
  callbackLists: [
    {
      callbackListId: LIST_SUPPORT,
      name: 'Support callbacks',
      queueId: QUEUE_SUPPORT,
      memberUserIds: [USER_B],
    },
  ],
  trunks: [{ name: 'pstn', host: '127.0.0.1', port: 5080, transport: 'udp' }],
};

/** The numbers of outbound calls: Support's number calls an external one. */
export const OUTBOUND_NUMBERS = { aNum: '+35810100100', bNum: '+358409999999' } as const;

/** Where call control routes a dialled number in TEST_TENANT: a user's extension or number, else the trunk. */
function routeOf(dialled: string): CallRoute {
  const user = TEST_TENANT.users.find(
    (candidate) => candidate.extension === dialled || candidate.number === dialled,
  );
  return user
    ? { kind: 'user', userId: user.userId }
    : { kind: 'trunk', uri: `sip:${dialled}@127.0.0.1:5080` };
}

const sip = () => ({ sipCallId: `${randomUUID()}@127.0.0.1`, localTag: randomUUID().slice(0, 8) });

/** One call, journaled step by step the way call control does it. */
export class ScriptedCall {
  readonly callId = randomUUID();
  readonly callerLegId = randomUUID();
  private readonly connectedLegs: string[] = [];
  private answeredBy: string | undefined;

  constructor(private journal: Journal) {}

  /** Continue the call on a reopened journal (a restart in the middle of a call). */
  rebind(journal: Journal): this {
    this.journal = journal;
    return this;
  }

  private append(fact: Parameters<Journal['append']>[0]): JournalEntry {
    return this.journal.append(fact);
  }

  private legEnded(callLegId: string, sipStatus: number, cause: LegEndCause, sipReason?: string): void {
    this.append({ type: 'LegEnded', callId: this.callId, callLegId, sipStatus, cause, sipReason });
  }

  /** A call into a queue (inbound service call). */
  startService(queueId: string, callerUserId?: string, aNum = '1001'): this {
    this.append({
      type: 'CallStarted',
      callId: this.callId,
      callKind: 'inbound-service',
      aNum,
      bNum: '100',
      route: { kind: 'queue', queueId },
      callerUserId,
      queueId,
    });
    this.callerLeg(callerUserId);
    this.append({ type: 'QueueEntered', callId: this.callId, queueId });
    return this;
  }

  startDirect(bNum: string, callerUserId?: string, aNum = '1001'): this {
    this.append({
      type: 'CallStarted',
      callId: this.callId,
      callKind: 'direct',
      aNum,
      bNum,
      route: routeOf(bNum),
      callerUserId,
    });
    this.callerLeg(callerUserId);
    return this;
  }

  startOutbound(
    kind: 'outbound-service' | 'outbound-callback',
    callerUserId: string,
    extra: { queueId?: string; callbackListId?: string; callbackRequestId?: string },
  ): this {
    this.append({
      type: 'CallStarted',
      callId: this.callId,
      callKind: kind,
      ...OUTBOUND_NUMBERS,
      route: routeOf(OUTBOUND_NUMBERS.bNum),
      callerUserId,
      ...extra,
    });
    this.callerLeg(callerUserId);
    return this;
  }

  private callerLeg(userId: string | undefined): void {
    this.append({
      type: 'LegCreated',
      callId: this.callId,
      callLegId: this.callerLegId,
      role: 'caller',
      direction: 'inbound',
      userId,
      target: 'ws:127.0.0.1:50000',
      sip: sip(),
    });
  }

  /** A direct call's leg to a user (all their devices), or a trunk leg. */
  placeLeg(role: 'callee' | 'trunk', userId?: string): string {
    const callLegId = randomUUID();
    this.append({
      type: 'LegCreated',
      callId: this.callId,
      callLegId,
      role,
      direction: 'outbound',
      userId,
      target: role === 'trunk' ? 'sip:+358409999999@127.0.0.1:5080' : 'sip:1002@127.0.0.1:5062',
      sip: sip(),
    });
    return callLegId;
  }

  offer(queueId: string, userId: string): string {
    const callLegId = randomUUID();
    this.append({
      type: 'LegCreated',
      callId: this.callId,
      callLegId,
      role: 'allocation',
      direction: 'outbound',
      userId,
      queueId,
      target: 'sip:1002@127.0.0.1:5062',
      sip: sip(),
    });
    this.append({ type: 'AllocationOffered', callId: this.callId, callLegId, queueId, userId });
    return callLegId;
  }

  /** An offer whose device rings at once: `offer` then `ring`. */
  ringingOffer(queueId: string, userId: string): string {
    const callLegId = this.offer(queueId, userId);
    this.ring(callLegId);
    return callLegId;
  }

  ring(callLegId: string): this {
    this.append({ type: 'LegRinging', callId: this.callId, callLegId, sipStatus: 180 });
    return this;
  }

  /** The member's device refused the offer (call.ts onFailed). */
  decline(callLegId: string, queueId: string, userId: string, sipStatus = 486): this {
    this.append({
      type: 'AllocationRejected',
      callId: this.callId,
      callLegId,
      queueId,
      userId,
      reason: 'GenericUserRejected',
      sipStatus,
    });
    this.legEnded(callLegId, sipStatus, 'Refused', 'Busy Here');
    return this;
  }

  /** The queue took the offer back (call.ts withdrawAllocation). */
  withdraw(callLegId: string, queueId: string, userId: string, reason: AllocationRejectReason): this {
    this.append({ type: 'AllocationRejected', callId: this.callId, callLegId, queueId, userId, reason });
    this.legEnded(callLegId, 487, reason);
    return this;
  }

  /** A member answers an allocation (call.ts onAnswered + connect). */
  connectAllocation(callLegId: string, queueId: string, userId: string): this {
    this.append({ type: 'LegAnswered', callId: this.callId, callLegId, sip: sip() });
    this.append({ type: 'AllocationConnected', callId: this.callId, callLegId, queueId, userId });
    this.append({ type: 'QueueLeft', callId: this.callId, queueId, reason: 'Answered' });
    this.append({ type: 'LegAnswered', callId: this.callId, callLegId: this.callerLegId, sip: sip() });
    this.connectedLegs.push(callLegId);
    this.answeredBy = userId;
    return this;
  }

  /** Call control started recording the connected call (call.ts startRecordingIfConfigured). */
  record(owner: { kind: 'queue'; queueId: string } | { kind: 'user'; userId: string }): string {
    const recordingId = randomUUID();
    const bLegId = this.connectedLegs.at(-1);
    if (!bLegId) throw new Error('record(): nobody is connected');
    this.append({
      type: 'RecordingStarted',
      callId: this.callId,
      recordingId,
      owner,
      aLegId: this.callerLegId,
      bLegId,
    });
    return recordingId;
  }

  /** A callee or trunk leg answers (call.ts onAnswered + connect). */
  answer(callLegId: string, userId?: string): this {
    this.append({ type: 'LegAnswered', callId: this.callId, callLegId, sip: sip() });
    this.append({ type: 'LegAnswered', callId: this.callId, callLegId: this.callerLegId, sip: sip() });
    this.connectedLegs.push(callLegId);
    this.answeredBy = userId;
    return this;
  }

  /** Either side hangs up a connected call (call.ts hangup + finish). */
  hangup(cause: LegEndCause = 'CallerHangup'): JournalEntry {
    for (const callLegId of this.connectedLegs) {
      this.legEnded(callLegId, 200, cause);
    }
    this.legEnded(this.callerLegId, 200, cause);
    return this.append({
      type: 'CallEnded',
      callId: this.callId,
      reason: 'Normal',
      sipStatus: 200,
      answeredByUserId: this.answeredBy,
    });
  }

  /** The caller CANCELs before answer (call.ts onCallerCancel); `ringingLegs` are cancelled. */
  callerCancels(ringingLegs: string[], queueId?: string): JournalEntry {
    if (queueId) this.append({ type: 'QueueLeft', callId: this.callId, queueId, reason: 'CallerHungUp' });
    for (const callLegId of ringingLegs) {
      this.legEnded(callLegId, 487, 'CallerCancelled');
    }
    this.legEnded(this.callerLegId, 487, 'CallerCancelled');
    return this.append({ type: 'CallEnded', callId: this.callId, reason: 'CallerCancelled', sipStatus: 487 });
  }

  /** A direct call's callee leg fails (call.ts onFailed with no other leg left). */
  calleeFails(callLegId: string, sipStatus: number, reason: 'Busy' | 'Rejected' | 'NoAnswer'): JournalEntry {
    this.legEnded(callLegId, sipStatus, 'Refused', `SIP ${sipStatus}`);
    this.legEnded(this.callerLegId, sipStatus, reason);
    return this.append({ type: 'CallEnded', callId: this.callId, reason, sipStatus });
  }

  /** Nobody to ring (call.ts fail(480, 'Unavailable')). */
  unavailable(): JournalEntry {
    this.legEnded(this.callerLegId, 480, 'Unavailable');
    return this.append({ type: 'CallEnded', callId: this.callId, reason: 'Unavailable', sipStatus: 480 });
  }

  overflow(fromQueueId: string, toQueueId: string): this {
    this.append({
      type: 'QueueLeft',
      callId: this.callId,
      queueId: fromQueueId,
      reason: 'Overflow',
      overflowTarget: toQueueId,
    });
    this.append({ type: 'QueueEntered', callId: this.callId, queueId: toQueueId });
    return this;
  }
}
