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

/** What a REFER names, resolved (call.ts resolveTransferTarget). */
export type TransferTarget =
  | { kind: 'user'; userId: string }
  | { kind: 'queue'; queueId: string }
  | { kind: 'number'; number: string };

/** The target as the journal (and the records) describe it: `user c@example.com`, `queue Sales`, … */
export function transferDescription(target: TransferTarget): string {
  switch (target.kind) {
    case 'user':
      return `user ${TEST_TENANT.users.find((user) => user.userId === target.userId)?.username ?? '?'}`;
    case 'queue':
      return `queue ${TEST_TENANT.queues.find((queue) => queue.queueId === target.queueId)?.name ?? '?'}`;
    case 'number':
      return `number ${target.number}`;
  }
}

const sip = () => ({ sipCallId: `${randomUUID()}@127.0.0.1`, localTag: randomUUID().slice(0, 8) });

/** One call, journaled step by step the way call control does it. */
export class ScriptedCall {
  readonly callId = randomUUID();
  readonly callerLegId = randomUUID();
  private readonly connectedLegs: string[] = [];
  private answeredBy: string | undefined;
  /** The caller transferred the call away (its leg is released; the call goes on without it). */
  private callerGone = false;

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
    if (!this.callerGone) this.legEnded(this.callerLegId, 200, cause);
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

  // ---- transfers (call.ts onRefer, completeTransfer, transferFailed, transferToQueue) ----------

  /** The party of `transferorLegId` sends a REFER (accepted) naming `target`. */
  requestTransfer(transferorLegId: string, target: TransferTarget): this {
    this.append({
      type: 'TransferRequested',
      callId: this.callId,
      callLegId: transferorLegId,
      targetKind: target.kind,
      target: transferDescription(target),
      ...(target.kind === 'user' ? { userId: target.userId } : {}),
      ...(target.kind === 'queue' ? { queueId: target.queueId } : {}),
    });
    return this;
  }

  /** The leg to a transfer's user (all their devices) or, without a user, to a number via the trunk. */
  placeTransferLeg(userId?: string): string {
    const callLegId = randomUUID();
    this.append({
      type: 'LegCreated',
      callId: this.callId,
      callLegId,
      role: 'transfer',
      direction: 'outbound',
      userId,
      target: userId ? 'sip:1003@127.0.0.1:5063' : 'sip:+358409999999@127.0.0.1:5080',
      sip: sip(),
    });
    return callLegId;
  }

  /**
   * The target answers: the transfer completes, the transferor is released and the caller is
   * connected to the target (call.ts onAnswered → completeTransfer).
   */
  transferAnswered(transferorLegId: string, targetLegId: string, targetUserId?: string): this {
    this.append({ type: 'LegAnswered', callId: this.callId, callLegId: targetLegId, sip: sip() });
    this.append({
      type: 'TransferCompleted',
      callId: this.callId,
      callLegId: transferorLegId,
      newCallLegId: targetLegId,
    });
    this.legEnded(transferorLegId, 200, 'Transferred');
    if (transferorLegId === this.callerLegId) {
      // The calling side transferred the party it talks to: that party stays, with the target.
      this.callerGone = true;
      this.connectedLegs.push(targetLegId);
      return this;
    }
    this.connectedLegs.splice(0, this.connectedLegs.length, targetLegId);
    this.answeredBy = targetUserId;
    return this;
  }

  /** The target's device refuses the transfer's INVITE: the call goes on with the transferor. */
  transferRefused(transferorLegId: string, targetLegId: string, sipStatus = 486, reason = 'Busy Here'): this {
    this.legEnded(targetLegId, sipStatus, 'Refused', reason);
    this.append({
      type: 'TransferFailed',
      callId: this.callId,
      callLegId: transferorLegId,
      sipStatus,
      reason,
    });
    return this;
  }

  /** Nobody answers the transfer's INVITE in time: it is cancelled (call.ts transfer timer). */
  transferTimedOut(transferorLegId: string, targetLegId: string): this {
    this.legEnded(targetLegId, 487, 'NoAnswer');
    this.append({
      type: 'TransferFailed',
      callId: this.callId,
      callLegId: transferorLegId,
      sipStatus: 480,
      reason: 'No Answer',
    });
    return this;
  }

  /** The transferor hangs up after its REFER was accepted, as phones do (call.ts onBye). */
  transferorHangsUp(transferorLegId: string): this {
    this.legEnded(transferorLegId, 200, 'Transferred');
    return this;
  }

  /** The transfer failed with its transferor gone: nobody is left to keep the call (call.ts hangup). */
  endAfterFailedTransfer(sipStatus: number): JournalEntry {
    this.legEnded(this.callerLegId, sipStatus, 'TransferFailed');
    return this.append({
      type: 'CallEnded',
      callId: this.callId,
      reason: 'Normal',
      sipStatus: 200,
      answeredByUserId: this.answeredBy,
    });
  }

  /** A blind transfer into a queue: it takes the call at once, the transferor is released. */
  transferToQueue(transferorLegId: string, queueId: string): this {
    this.requestTransfer(transferorLegId, { kind: 'queue', queueId });
    this.append({ type: 'TransferCompleted', callId: this.callId, callLegId: transferorLegId });
    this.legEnded(transferorLegId, 200, 'Transferred');
    this.connectedLegs.splice(0, this.connectedLegs.length);
    this.append({ type: 'QueueEntered', callId: this.callId, queueId });
    return this;
  }

  /**
   * An attended transfer joins `consultation`'s callee into this call (call 1, DESIGN.md §10), in
   * call control's order (call.ts joinConsultation): the request here; the consultation gives its
   * callee's leg away; the same dialog is adopted here as a new transfer leg, answered at once;
   * the consultation ends (cause 'Transferred', nobody connected any more); the transferor is
   * released here. Returns the adopted leg.
   */
  attendedTransfer(transferorLegId: string, consultation: ScriptedCall, target: { userId: string }): string {
    this.requestTransfer(transferorLegId, { kind: 'user', userId: target.userId });
    const [given] = consultation.connectedLegs.splice(0);
    if (given) consultation.legEnded(given, 200, 'Transferred');
    consultation.answeredBy = undefined;
    const adopted = this.placeTransferLeg(target.userId);
    this.append({ type: 'LegAnswered', callId: this.callId, callLegId: adopted, sip: sip() });
    consultation.legEnded(consultation.callerLegId, 200, 'Transferred');
    consultation.append({
      type: 'CallEnded',
      callId: consultation.callId,
      reason: 'Normal',
      sipStatus: 200,
      cause: 'Transferred',
    });
    this.append({
      type: 'TransferCompleted',
      callId: this.callId,
      callLegId: transferorLegId,
      newCallLegId: adopted,
    });
    this.legEnded(transferorLegId, 200, 'Transferred');
    this.connectedLegs.splice(0, this.connectedLegs.length, adopted);
    this.answeredBy = target.userId;
    return adopted;
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
