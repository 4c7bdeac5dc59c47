/**
 * One call through the back-to-back user agent: the caller's leg, every leg placed for it, the
 * queue it waits in, and the journal facts that record what happened. A call has exactly one
 * `callId` for its whole life, whatever legs, queues and allocations it goes through.
 */
import { randomUUID } from 'node:crypto';
import type { Directory, Queue, User } from '../config/types.js';
import type {
  AllocationRejectReason,
  CallEndReason,
  CallKind,
  CallRoute,
  Journal,
  JournalFact,
  LegEndCause,
  LegRole,
} from '../journal/types.js';
import type { Logger } from '../logger.js';
import { isMediaError, type MediaErrorCode } from '../media/errors.js';
import type { RecordingOwner } from '../recordings/types.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import type { SipStack } from '../sip/stack.js';
import type { InviteServerTransaction, ServerTransaction } from '../sip/transaction/index.js';
import {
  type DialogTable,
  type InviteClientEvents,
  type InviteClientSetup,
  InviteClientUsage,
  type InviteServerEvents,
  type InviteServerSetup,
  InviteServerUsage,
  type InviteTarget,
} from '../sip/ua/index.js';
import type { AgentStates } from './agents.js';
import { CALL_HEADERS } from './headers.js';
import { branchOf, endpointKind, isSdp, type MediaEngine } from './media.js';

/** Engine failures that mean "not there" rather than "refused this SDP". */
const UNREACHABLE: ReadonlySet<MediaErrorCode> = new Set([
  'MEDIA_ENGINE_TIMEOUT',
  'MEDIA_ENGINE_UNAVAILABLE',
]);

import { QueueSession } from './queue.js';

/** Services a call uses; provided by CallControl. */
export interface CallServices {
  stack: SipStack;
  directory: Directory;
  journal: Journal;
  agents: AgentStates;
  logger: Logger;
  domain: string;
  now(): number;
  /** Contacts of a user's registered devices. */
  targetsOfUser(user: User): InviteTarget[];
  /** The UA's dialog table: a bound leg gets the requests of its dialog. */
  dialogs: DialogTable;
  callEnded(call: Call): void;
  queueRetryDelayMs?: number;
  /** How long a direct call may ring before the caller gets 480 (no answer). */
  ringTimeoutMs?: number;
  /** Interval of the in-dialog OPTIONS that detects vanished parties (ms; 0 = off; default 60 s). */
  probeIntervalMs?: number;
  /** The media engine that anchors every call's media; absent: signalling only. */
  media?: MediaEngine;
}

export interface CallSetup {
  kind: CallKind;
  aNum: string;
  bNum: string;
  callerUser?: User;
  /** Display name to present to callees. */
  callerDisplayName?: string;
  invite: SipRequest;
  transaction: InviteServerTransaction;
  /** Outbound service / callback calls: the queue (and list, request) the call is made for. */
  onBehalfOf?: OnBehalfOfIds;
}

export interface OnBehalfOfIds {
  queueId: string;
  callbackListId?: string;
  callbackRequestId?: string;
}

type CallState = 'routing' | 'queued' | 'connected' | 'ended';

/** Headers of an in-dialog request that travel to the other side unchanged. */
const RELAYED_HEADERS = [
  'Content-Disposition',
  'Info-Package',
  'Event',
  'Subscription-State',
  'Reason',
  'Session-Expires',
  'Supported',
  'Require',
];

/**
 * The caller's leg: the UAS INVITE usage (sip/ua) of the call's first dialog, with the call's
 * own identity of it. Every 18x/2xx to the caller carries the call's identifiers.
 */
export class InboundLeg extends InviteServerUsage<InboundLeg> {
  readonly callLegId: string = randomUUID();
  readonly role: LegRole = 'caller';

  constructor(
    stack: SipStack,
    setup: InviteServerSetup,
    readonly userId: string | undefined,
    call: Call,
  ) {
    super(stack, setup, call);
    this.responseHeaders = [
      [CALL_HEADERS.serverCallId, call.callId],
      [CALL_HEADERS.callLegId, this.callLegId],
    ];
  }

  protected get self(): InboundLeg {
    return this;
  }
}

/** A leg the call places (to a user's devices or a trunk): a UAC INVITE usage forking to its targets. */
export class OutboundLeg extends InviteClientUsage<OutboundLeg> {
  readonly callLegId: string = randomUUID();

  constructor(
    stack: SipStack,
    setup: InviteClientSetup,
    readonly role: LegRole,
    readonly userId: string | undefined,
    readonly queueId: string | undefined,
    call: Call,
  ) {
    super(stack, setup, call);
  }

  protected get self(): OutboundLeg {
    return this;
  }
}

export class Call implements InviteServerEvents<InboundLeg>, InviteClientEvents<OutboundLeg> {
  readonly callId: string = randomUUID();
  readonly kind: CallKind;
  readonly aNum: string;
  readonly bNum: string;
  readonly callerUser?: User;
  readonly onBehalfOf?: OnBehalfOfIds;
  readonly callerLeg: InboundLeg;
  readonly legs = new Map<string, OutboundLeg>();
  state: CallState = 'routing';
  connectedLeg?: OutboundLeg;
  queueSession?: QueueSession;
  private readonly callerDisplayName?: string;
  /** userIds whose agent-busy count this call holds, per leg, so every increment is released once. */
  private readonly heldUsers = new Map<string, { userId: string; wrapUpSeconds: number }>();

  constructor(
    private readonly services: CallServices,
    setup: CallSetup,
  ) {
    this.kind = setup.kind;
    this.aNum = setup.aNum;
    this.bNum = setup.bNum;
    this.callerUser = setup.callerUser;
    this.onBehalfOf = setup.onBehalfOf;
    this.callerDisplayName = setup.callerDisplayName;
    this.callerLeg = new InboundLeg(
      services.stack,
      { invite: setup.invite, transaction: setup.transaction, now: services.now() },
      setup.callerUser?.userId,
      this,
    );
    // A call without an offer in its INVITE (late offer) is relayed as without an engine.
    this.media = isSdp(setup.invite.body, setup.invite.headers.get('Content-Type'))
      ? services.media
      : undefined;
  }

  /**
   * The engine anchoring this call's media, if any. Dropped (the call goes on signalling-only) when
   * the engine does not answer the call's first offer: a call is worth more than its anchoring.
   */
  media?: MediaEngine;
  /** Whether the engine has taken any of this call's SDP (then it cannot be dropped any more). */
  private anchored = false;

  /** The media engine failed this call: log, and end it with a clear cause. */
  private mediaFailed(err: unknown, leg: InboundLeg | OutboundLeg | undefined, what: string): void {
    this.services.logger.error(
      { err, callId: this.callId, callLegId: leg?.callLegId },
      `call: media engine ${what} failed`,
    );
    if (this.state === 'ended') return;
    if (this.state === 'connected') this.hangup(undefined, 'MediaError', 500);
    else this.fail(503, 'Failed', 'Service Unavailable (media engine)');
  }

  private append(fact: JournalFact): void {
    this.services.journal.append(fact);
  }

  /** Journal the call, where it is routed (so nothing downstream routes again), and its caller leg. */
  begin(route: CallRoute, extra: { queueId?: string } = {}): void {
    this.append({
      type: 'CallStarted',
      callId: this.callId,
      callKind: this.kind,
      aNum: this.aNum,
      bNum: this.bNum,
      route,
      callerUserId: this.callerUser?.userId,
      queueId: extra.queueId ?? this.onBehalfOf?.queueId,
      callbackListId: this.onBehalfOf?.callbackListId,
      callbackRequestId: this.onBehalfOf?.callbackRequestId,
    });
    this.append({
      type: 'LegCreated',
      callId: this.callId,
      callLegId: this.callerLeg.callLegId,
      role: 'caller',
      direction: 'inbound',
      userId: this.callerUser?.userId,
      target: flowText(this.callerLeg.flow),
      sip: this.callerLeg.identifiers,
    });
    if (this.callerUser) this.hold(this.callerLeg.callLegId, this.callerUser.userId);
  }

  private hold(callLegId: string, userId: string): void {
    this.heldUsers.set(callLegId, { userId, wrapUpSeconds: 0 });
    this.services.agents.legStarted(userId);
  }

  private release(callLegId: string, wrapUpSeconds?: number): void {
    const held = this.heldUsers.get(callLegId);
    if (!held) return;
    this.heldUsers.delete(callLegId);
    this.services.agents.legEnded(held.userId, wrapUpSeconds ?? held.wrapUpSeconds);
  }

  // ---- placing legs ----------------------------------------------------------------------------

  private fromHeader(): string {
    const display = this.callerDisplayName ? `"${this.callerDisplayName.replace(/["\\]/g, '')}" ` : '';
    return `${display}<sip:${this.aNum}@${this.services.domain}>`;
  }

  /** Ring every registered device of a user (a direct call's callee leg). */
  placeUserLeg(user: User, queue?: Queue): OutboundLeg | undefined {
    const targets = this.services.targetsOfUser(user);
    if (targets.length === 0) return undefined;
    return this.placeLeg({
      role: queue ? 'allocation' : 'callee',
      user,
      queue,
      targets,
      to: `<sip:${user.extension}@${this.services.domain}>`,
    });
  }

  placeTrunkLeg(target: InviteTarget): OutboundLeg {
    return this.placeLeg({ role: 'trunk', targets: [target], to: `<${target.uri}>` })!;
  }

  private placeLeg(opts: {
    role: 'callee' | 'allocation' | 'trunk';
    user?: User;
    queue?: Queue;
    targets: InviteTarget[];
    to: string;
  }): OutboundLeg {
    const invite = this.callerLeg.invite;
    const extraHeaders: [string, string][] = [[CALL_HEADERS.serverCallId, this.callId]];
    const leg = new OutboundLeg(
      this.services.stack,
      {
        targets: opts.targets,
        from: this.fromHeader(),
        to: opts.to,
        body: invite.body,
        contentType: invite.headers.get('Content-Type'),
        extraHeaders,
        now: this.services.now(),
      },
      opts.role,
      opts.user?.userId,
      opts.queue?.queueId,
      this,
    );
    extraHeaders.push([CALL_HEADERS.callLegId, leg.callLegId]);
    if (opts.queue)
      extraHeaders.push(
        [CALL_HEADERS.queueId, opts.queue.queueId],
        [CALL_HEADERS.queueName, opts.queue.name],
      );
    if (opts.role === 'trunk') extraHeaders.push(['P-Asserted-Identity', this.fromHeader()]);
    this.legs.set(leg.callLegId, leg);
    this.append({
      type: 'LegCreated',
      callId: this.callId,
      callLegId: leg.callLegId,
      role: opts.role,
      direction: 'outbound',
      userId: opts.user?.userId,
      queueId: opts.queue?.queueId,
      target: opts.targets.map((t) => t.uri).join(', '),
      sip: leg.identifiers,
    });
    if (opts.user) this.hold(leg.callLegId, opts.user.userId);
    if (this.media) void this.startAnchored(leg, this.media);
    else leg.start();
    return leg;
  }

  /** One engine offer per target, made for that device's kind, then the INVITEs. */
  private async startAnchored(leg: OutboundLeg, media: MediaEngine): Promise<void> {
    const offer = this.callerLeg.invite.body;
    try {
      const bodies = await Promise.all(
        leg.targets.map((target, index) =>
          media.offer({
            callId: this.callId,
            fromTag: this.callerLeg.callLegId,
            branch: branchOf(leg.callLegId, index),
            sdp: offer,
            toward: endpointKind(target.flow),
          }),
        ),
      );
      this.anchored = true;
      leg.targets.forEach((target, index) => {
        target.body = bodies[index];
      });
    } catch (err) {
      if (!leg.isActive) return;
      if (!this.anchored && isMediaError(err) && UNREACHABLE.has(err.code)) {
        this.services.logger.error(
          { err, callId: this.callId },
          'call: media engine unreachable; this call goes on signalling-only',
        );
        this.media = undefined;
        for (const target of leg.targets) target.body = undefined;
        if (!leg.abandoned && this.state !== 'ended') leg.start();
        return;
      }
      this.services.logger.error(
        { err, callId: this.callId, callLegId: leg.callLegId },
        'call: media engine offer failed',
      );
      this.endLeg(leg, 500, 'MediaError');
      if (leg.role === 'allocation' && this.queueSession?.pendingLegs.includes(leg))
        this.queueSession.allocationFailed(leg);
      else if (this.state === 'routing' && ![...this.legs.values()].some((l) => l.isActive))
        this.fail(503, 'Failed', 'Service Unavailable (media engine)');
      return;
    }
    // The call may have moved on while the engine answered (caller gone, allocation cancelled).
    if (leg.isActive && !leg.abandoned && this.state !== 'ended') leg.start();
  }

  // ---- routing outcomes ------------------------------------------------------------------------

  /** A direct call to a user: every device rings; 480 when none is registered. */
  routeToUser(user: User): void {
    this.begin({ kind: 'user', userId: user.userId });
    const leg = this.placeUserLeg(user);
    if (!leg) this.fail(480, 'Unavailable', 'Temporarily Unavailable');
    else this.startRingTimer();
  }

  routeToTrunk(target: InviteTarget): void {
    this.begin({ kind: 'trunk', uri: target.uri });
    this.placeTrunkLeg(target);
    this.startRingTimer();
  }

  /** Nobody answers a direct call forever: after the ring timeout the caller gets 480. */
  private startRingTimer(): void {
    const timer = setTimeout(() => {
      if (this.state === 'routing') this.fail(480, 'NoAnswer', 'No Answer');
    }, this.services.ringTimeoutMs ?? 60_000);
    timer.unref();
  }

  /** An inbound service call: the caller waits in the queue and hears ringing. */
  routeToQueue(queue: Queue): void {
    this.begin({ kind: 'queue', queueId: queue.queueId }, { queueId: queue.queueId });
    this.enterQueue(queue);
  }

  private enterQueue(queue: Queue): void {
    this.state = 'queued';
    this.append({ type: 'QueueEntered', callId: this.callId, queueId: queue.queueId });
    this.callerLeg.provisional(180);
    const session = new QueueSession(queue, this.queueHost(), this.services.agents, {
      retryDelayMs: this.services.queueRetryDelayMs,
    });
    this.queueSession = session;
    session.start();
  }

  private queueHost() {
    return {
      callId: this.callId,
      offer: (user: User, queue: Queue) => {
        const leg = this.placeUserLeg(user, queue);
        if (leg)
          this.append({
            type: 'AllocationOffered',
            callId: this.callId,
            callLegId: leg.callLegId,
            queueId: queue.queueId,
            userId: user.userId,
          });
        return leg;
      },
      connect: (leg: OutboundLeg) => this.connect(leg),
      withdraw: (leg: OutboundLeg, reason: AllocationRejectReason) => this.withdrawAllocation(leg, reason),
      maxWaitExceeded: (queue: Queue) => this.onMaxWait(queue),
      userById: (userId: string) => this.services.directory.userById(userId),
      now: () => this.services.now(),
    };
  }

  private withdrawAllocation(leg: OutboundLeg, reason: AllocationRejectReason): void {
    const text =
      reason === 'OtherConnected' ? 'SIP;cause=200;text="OtherConnected"' : `SIP;cause=487;text="${reason}"`;
    leg.cancel(text, this.services.now());
    this.appendAllocationRejected(leg, reason);
    this.endLeg(leg, 487, reason);
  }

  /** The member of an allocation leg did not take the call, for `reason`. */
  private appendAllocationRejected(
    leg: OutboundLeg,
    reason: AllocationRejectReason,
    sipStatus?: number,
  ): void {
    this.append({
      type: 'AllocationRejected',
      callId: this.callId,
      callLegId: leg.callLegId,
      queueId: leg.queueId!,
      userId: leg.userId!,
      reason,
      sipStatus,
    });
  }

  private onMaxWait(queue: Queue): void {
    const overflow = queue.overflowTarget
      ? this.services.directory.queueByReference(queue.overflowTarget)
      : undefined;
    if (overflow && overflow.queueId !== queue.queueId) {
      this.append({
        type: 'QueueLeft',
        callId: this.callId,
        queueId: queue.queueId,
        reason: 'Overflow',
        overflowTarget: overflow.queueId,
      });
      this.enterQueue(overflow);
      return;
    }
    this.append({
      type: 'QueueLeft',
      callId: this.callId,
      queueId: queue.queueId,
      reason: 'MaxWaitExceeded',
    });
    this.fail(480, 'Unavailable', 'Temporarily Unavailable');
  }

  // ---- what the legs report (InviteClientEvents, InviteServerEvents) ---------------------------

  onRinging(leg: OutboundLeg, response: SipResponse): void {
    if (this.state === 'ended') return;
    this.append({
      type: 'LegRinging',
      callId: this.callId,
      callLegId: leg.callLegId,
      sipStatus: response.status,
    });
    if (this.state === 'routing') {
      // Direct calls pass ringing (and early media from a single trunk leg) through.
      const early = leg.role === 'trunk' && response.body.length > 0;
      if (early && this.media) {
        void this.answerThroughEngine(leg, response.body).then(
          (body) => {
            if (this.state === 'routing') this.callerLeg.provisional(183, body, 'application/sdp');
          },
          (err: unknown) => this.mediaFailed(err, leg, 'answer (early media)'),
        );
        return;
      }
      this.callerLeg.provisional(
        early ? 183 : 180,
        early ? response.body : undefined,
        response.headers.get('Content-Type'),
      );
    }
  }

  /** The callee's answer on `leg`, rewritten by the engine for the caller. */
  private answerThroughEngine(leg: OutboundLeg, sdp: Buffer): Promise<Buffer> {
    return this.media!.answer({
      callId: this.callId,
      fromTag: this.callerLeg.callLegId,
      toTag: leg.callLegId,
      branch: branchOf(leg.callLegId, leg.answeredTargetIndex ?? 0),
      sdp,
      toward: endpointKind(this.callerLeg.flow),
    });
  }

  onAnswered(leg: OutboundLeg, response: SipResponse): void {
    void response;
    if (this.state === 'ended' || this.state === 'connected' || !this.callerLeg.pending) {
      leg.sendBye('SIP;cause=487;text="Call already ended"');
      this.endLeg(leg, 487, 'AnsweredTooLate');
      return;
    }
    this.append({ type: 'LegAnswered', callId: this.callId, callLegId: leg.callLegId, sip: leg.identifiers });
    if (this.queueSession && leg.role === 'allocation') {
      if (!this.queueSession.allocationAnswered(leg)) {
        leg.sendBye('SIP;cause=487;text="Call left the queue"');
        this.endLeg(leg, 487, 'AnsweredTooLate');
      }
      return;
    }
    this.connect(leg);
  }

  onFailed(leg: OutboundLeg, status: number, cause: string): void {
    if (this.state === 'ended') return;
    // The UA reports its own failures by name, a final response by its reason phrase.
    const ended: [LegEndCause, string?] =
      cause === 'Timeout' || cause === 'TransportError' ? [cause] : ['Refused', cause];
    if (leg.role === 'allocation' && this.queueSession) {
      if (!this.queueSession.pendingLegs.includes(leg)) return;
      this.appendAllocationRejected(leg, 'GenericUserRejected', status);
      this.endLeg(leg, status, ...ended);
      this.queueSession.allocationFailed(leg);
      return;
    }
    this.endLeg(leg, status, ...ended);
    if (this.state === 'routing' && ![...this.legs.values()].some((l) => l.isActive)) {
      const reason: CallEndReason =
        status === 486 || status === 600
          ? 'Busy'
          : status === 603
            ? 'Rejected'
            : status === 404
              ? 'NotFound'
              : status === 408 || status === 480
                ? 'NoAnswer'
                : 'Failed';
      this.fail(status === 408 ? 480 : status, reason);
    }
  }

  onAckTimeout(): void {
    this.services.logger.warn({ callId: this.callId }, 'call: caller never ACKed the 2xx; hanging up');
    this.hangup(undefined, 'AckTimeout', 408);
  }

  // ---- connecting and relaying -----------------------------------------------------------------

  connect(leg: OutboundLeg): void {
    this.state = 'connected';
    this.connectedLeg = leg;
    if (this.queueSession) {
      this.append({
        type: 'AllocationConnected',
        callId: this.callId,
        callLegId: leg.callLegId,
        queueId: leg.queueId!,
        userId: leg.userId!,
      });
      this.append({ type: 'QueueLeft', callId: this.callId, queueId: leg.queueId!, reason: 'Answered' });
      const held = this.heldUsers.get(leg.callLegId);
      const queue = this.services.directory.queueById(leg.queueId!);
      if (held && queue) held.wrapUpSeconds = queue.wrapUpSeconds;
    }
    for (const other of this.legs.values()) {
      if (other !== leg && other.isActive) {
        other.cancel('SIP;cause=200;text="Call completed elsewhere"', this.services.now());
        this.endLeg(other, 487, 'CompletedElsewhere');
      }
    }
    const { body, contentType } = leg.answerBody;
    this.services.dialogs.bind(leg);
    if (this.media && body.length > 0) {
      this.answerThroughEngine(leg, body).then(
        (anchored) => this.answerCaller(anchored, 'application/sdp'),
        (err: unknown) => this.mediaFailed(err, leg, 'answer'),
      );
      return;
    }
    this.answerCaller(body, contentType);
  }

  /** The 200 to the caller: the call is up on both sides. */
  private answerCaller(body: Buffer, contentType: string | undefined): void {
    // The caller may have gone while the media engine answered (CANCEL raced the answer).
    if (this.state !== 'connected' || !this.callerLeg.pending) return;
    this.callerLeg.answer(body, contentType, this.services.now());
    this.append({
      type: 'LegAnswered',
      callId: this.callId,
      callLegId: this.callerLeg.callLegId,
      sip: this.callerLeg.identifiers,
    });
    this.services.dialogs.bind(this.callerLeg);
    this.startLivenessProbe();
    this.startRecordingIfConfigured();
  }

  /**
   * Who this call's recording belongs to, if it is to be recorded (DESIGN.md §9): the queue of an
   * inbound service call (`recordInbound`) or of an outbound service / callback call
   * (`recordOutbound`); the user of a direct call who has `recordDirectCalls` (the caller first).
   */
  private recordingOwner(): RecordingOwner | undefined {
    const { directory } = this.services;
    if (this.kind === 'inbound-service') {
      const queueId = this.connectedLeg?.queueId ?? this.queueSession?.queue.queueId;
      const queue = queueId ? directory.queueById(queueId) : undefined;
      return queue?.recordInbound ? { kind: 'queue', queueId: queue.queueId } : undefined;
    }
    if (this.kind === 'outbound-service' || this.kind === 'outbound-callback') {
      const queue = this.onBehalfOf ? directory.queueById(this.onBehalfOf.queueId) : undefined;
      return queue?.recordOutbound ? { kind: 'queue', queueId: queue.queueId } : undefined;
    }
    if (this.callerUser?.recordDirectCalls) return { kind: 'user', userId: this.callerUser.userId };
    const callee = this.connectedLeg?.userId ? directory.userById(this.connectedLeg.userId) : undefined;
    return callee?.recordDirectCalls ? { kind: 'user', userId: callee.userId } : undefined;
  }

  /** The call is connected: record it from now on if its queue or user says so. */
  private startRecordingIfConfigured(): void {
    const owner = this.recordingOwner();
    const media = this.media;
    const bLeg = this.connectedLeg;
    if (!owner || !bLeg) return;
    if (!media) {
      this.services.logger.warn(
        { callId: this.callId, owner },
        'call: not recorded — no media engine anchors this call (signalling only)',
      );
      return;
    }
    const recordingId = randomUUID();
    const aLegId = this.callerLeg.callLegId;
    media.startRecording(this.callId).then(
      (ports) => {
        this.append({
          type: 'RecordingStarted',
          callId: this.callId,
          recordingId,
          owner,
          aLegId,
          bLegId: bLeg.callLegId,
          aEnginePorts: ports[aLegId],
          bEnginePorts: ports[bLeg.callLegId],
        });
      },
      (err: unknown) =>
        this.services.logger.error(
          { err, callId: this.callId },
          'call: the media engine did not start recording',
        ),
    );
  }

  /**
   * Without media Switchboard cannot tell that a party vanished without a BYE (crash, network
   * loss), and such a call would stay up forever. So every `probeIntervalMs` both dialogs get an
   * in-dialog OPTIONS: any answer but 481 means the party is there; 481, 408 or no answer at all
   * (Timer F) ends the call. (A lighter stand-in for RFC 4028 session timers.)
   */
  private startLivenessProbe(): void {
    const interval = this.services.probeIntervalMs ?? 60_000;
    if (interval <= 0) return;
    const probe = (): void => {
      if (this.state !== 'connected') return;
      for (const leg of [this.callerLeg, this.connectedLeg]) {
        if (!leg?.dialog) continue;
        leg.sendInDialog(
          'OPTIONS',
          {},
          {
            onFinal: (response) => {
              if (response.status === 481 || response.status === 408) this.hangup(leg, 'PartyGone', 408);
            },
            onFailure: () => this.hangup(leg, 'PartyGone', 408),
          },
        );
      }
      this.probeTimer = setTimeout(probe, interval);
      this.probeTimer.unref();
    };
    this.probeTimer = setTimeout(probe, interval);
    this.probeTimer.unref();
  }

  private probeTimer?: NodeJS.Timeout;

  /** A BYE in one of the call's dialogs (the UA answered it): the call ends on both sides. */
  onBye(leg: InboundLeg | OutboundLeg): void {
    this.hangup(leg, leg === this.callerLeg ? 'CallerHangup' : 'CalleeHangup', 200);
  }

  /** re-INVITE, UPDATE, INFO… inside a confirmed dialog of this call: relayed to the other party. */
  onRequest(leg: InboundLeg | OutboundLeg, request: SipRequest, tx: ServerTransaction): void {
    const peer = leg === this.callerLeg ? this.connectedLeg : this.callerLeg;
    if (!peer?.dialog || this.state !== 'connected') {
      tx.respond(this.services.stack.createResponse(request, 481, 'Call/Transaction Does Not Exist'));
      return;
    }
    this.relay(request, tx, leg, peer);
  }

  private relay(
    request: SipRequest,
    tx: ServerTransaction,
    from: InboundLeg | OutboundLeg,
    to: InboundLeg | OutboundLeg,
  ): void {
    const { stack } = this.services;
    const headers: [string, string][] = [];
    for (const name of RELAYED_HEADERS)
      for (const value of request.headers.getLines(name)) headers.push([name, value]);
    const contentType = request.headers.get('Content-Type');
    const anchored =
      this.media !== undefined &&
      (request.method === 'INVITE' || request.method === 'UPDATE') &&
      isSdp(request.body, contentType);
    const respond = (response: SipResponse, body: Buffer) => {
      const relayed: [string, string][] = [];
      if (request.method === 'INVITE' || request.method === 'UPDATE')
        relayed.push(['Contact', `<${stack.contactUri(from.flow)}>`]);
      for (const name of RELAYED_HEADERS)
        for (const value of response.headers.getLines(name)) relayed.push([name, value]);
      tx.respond(
        stack.createResponse(request, response.status, response.reason, {
          headers: relayed,
          body,
          contentType:
            body.length > 0 ? (response.headers.get('Content-Type') ?? 'application/sdp') : undefined,
        }),
      );
    };
    if (anchored) {
      // A re-offer (hold, codec change) from either party goes through the engine both ways.
      this.media!.offer({
        callId: this.callId,
        fromTag: from.callLegId,
        sdp: request.body,
        toward: endpointKind(to.flow),
      }).then(
        (offer) =>
          this.sendRelayed(
            request,
            tx,
            from,
            to,
            { body: offer, contentType: 'application/sdp', headers },
            respond,
          ),
        (err: unknown) => {
          tx.respond(stack.createResponse(request, 503, 'Service Unavailable (media engine)'));
          this.services.logger.error({ err, callId: this.callId }, 'call: media engine re-offer failed');
        },
      );
      return;
    }
    this.sendRelayed(request, tx, from, to, { body: request.body, contentType, headers }, respond);
  }

  private sendRelayed(
    request: SipRequest,
    tx: ServerTransaction,
    from: InboundLeg | OutboundLeg,
    to: InboundLeg | OutboundLeg,
    outgoing: { body: Buffer; contentType?: string; headers: [string, string][] },
    respond: (response: SipResponse, body: Buffer) => void,
  ): void {
    const { stack } = this.services;
    const anchored = this.media !== undefined && outgoing.body !== request.body;
    to.sendInDialog(request.method, outgoing, {
      onFinal: (response) => {
        if (
          !anchored ||
          response.status >= 300 ||
          !isSdp(response.body, response.headers.get('Content-Type'))
        ) {
          respond(response, response.body);
          return;
        }
        this.media!.answer({
          callId: this.callId,
          fromTag: from.callLegId,
          toTag: to.callLegId,
          sdp: response.body,
          toward: endpointKind(from.flow),
        }).then(
          (answer) => respond(response, answer),
          (err: unknown) => {
            tx.respond(stack.createResponse(request, 503, 'Service Unavailable (media engine)'));
            this.services.logger.error({ err, callId: this.callId }, 'call: media engine re-answer failed');
          },
        );
      },
      onFailure: (reason) => {
        tx.respond(stack.createResponse(request, reason === 'timeout' ? 408 : 503));
        if (request.method === 'INVITE' || request.method === 'BYE') this.hangup(to, 'PeerUnreachable', 408);
      },
    });
  }

  // ---- ending ----------------------------------------------------------------------------------

  /** The caller CANCELled before the call was answered. */
  onCancel(): void {
    if (this.state === 'ended' || this.state === 'connected') return;
    this.abandonSetup('CallerHungUp', 'SIP;cause=487;text="Caller cancelled"', 'CallerCancelled');
    this.callerLeg.reject(487, 'Request Terminated');
    this.finish(487, 'CallerCancelled', 'CallerCancelled');
  }

  /** The call fails before answer: the caller gets `status`. */
  fail(status: number, reason: CallEndReason, phrase?: string): void {
    if (this.state === 'ended') return;
    this.abandonSetup('Failed', 'SIP;cause=487;text="Call failed"', 'CallFailed');
    this.callerLeg.reject(status, phrase);
    this.finish(status, reason, reason);
  }

  /**
   * Before an answer: the call leaves its queue (a waiting call's session is always active) with
   * `queueLeft`, and every placed leg still ringing is CANCELled with `reasonHeader`.
   */
  private abandonSetup(
    queueLeft: 'CallerHungUp' | 'Failed',
    reasonHeader: string,
    legCause: LegEndCause,
  ): void {
    const session = this.queueSession;
    if (session?.active) {
      session.callerGone();
      this.append({
        type: 'QueueLeft',
        callId: this.callId,
        queueId: session.queue.queueId,
        reason: queueLeft,
      });
    }
    for (const leg of this.legs.values()) {
      if (!leg.isActive) continue;
      leg.cancel(reasonHeader, this.services.now());
      this.endLeg(leg, 487, legCause);
    }
  }

  /** End a connected call from one side (or from neither: `from` undefined). */
  hangup(from: InboundLeg | OutboundLeg | undefined, cause: LegEndCause, status: number): void {
    if (this.state === 'ended') return;
    const parties: (InboundLeg | OutboundLeg)[] = [this.callerLeg, ...this.legs.values()];
    for (const leg of parties) {
      if (!leg.isActive) continue;
      if (leg !== from) {
        if (leg.dialog) leg.sendBye();
        else if (leg instanceof OutboundLeg)
          leg.cancel('SIP;cause=487;text="Call ended"', this.services.now());
        else leg.reject(480);
      }
      if (leg instanceof OutboundLeg) this.endLeg(leg, status, cause);
    }
    this.finish(status, 'Normal', cause);
  }

  /** Mark a placed leg ended: journal it once and release its user. */
  private endLeg(leg: OutboundLeg, status: number, cause: LegEndCause, sipReason?: string): void {
    leg.end(this.services.now());
    this.services.dialogs.unbind(leg);
    if (this.endedLegs.has(leg.callLegId)) return;
    this.endedLegs.add(leg.callLegId);
    this.append({
      type: 'LegEnded',
      callId: this.callId,
      callLegId: leg.callLegId,
      sipStatus: status,
      cause,
      sipReason,
    });
    this.release(leg.callLegId);
  }

  private readonly endedLegs = new Set<string>();

  private finish(status: number, reason: CallEndReason, cause: LegEndCause): void {
    if (this.state === 'ended') return;
    const now = this.services.now();
    this.state = 'ended';
    clearTimeout(this.probeTimer);
    this.callerLeg.end(now);
    this.services.dialogs.unbind(this.callerLeg);
    this.append({
      type: 'LegEnded',
      callId: this.callId,
      callLegId: this.callerLeg.callLegId,
      sipStatus: status,
      cause,
    });
    this.release(this.callerLeg.callLegId);
    for (const callLegId of [...this.heldUsers.keys()]) this.release(callLegId);
    this.queueSession?.stop();
    if (this.media) {
      this.media
        .delete(this.callId)
        .catch((err: unknown) =>
          this.services.logger.warn({ err, callId: this.callId }, 'call: media engine delete failed'),
        );
    }
    const answeredBy = this.connectedLeg?.userId;
    const finalReason: CallEndReason = this.connectedLeg ? 'Normal' : reason;
    this.append({
      type: 'CallEnded',
      callId: this.callId,
      reason: finalReason,
      sipStatus: this.connectedLeg ? 200 : status,
      answeredByUserId: answeredBy,
    });
    this.services.callEnded(this);
  }
}

function flowText(flow: { protocol: string; address: string; port: number }): string {
  return `${flow.protocol}:${flow.address}:${flow.port}`;
}
