/**
 * One call through the back-to-back user agent: the caller's leg, every leg placed for it, the
 * queue it waits in, and the journal facts that record what happened. A call has exactly one
 * `callId` for its whole life, whatever legs, queues and allocations it goes through.
 */
import { randomUUID } from 'node:crypto';
import type { Directory, Queue, User } from '../config/types.js';
import type { Logger } from '../logger.js';
import type { Dialog } from '../sip/dialog.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import type { SipStack } from '../sip/stack.js';
import type { ServerTransaction } from '../sip/transaction.js';
import type { AgentStates } from './agents.js';
import type {
  AllocationRejectReason,
  CallEndReason,
  CallKind,
  Journal,
  JournalFact,
} from './journal/types.js';
import { ALLOW, InboundLeg, type LegEvents, OutboundLeg, type OutboundTarget } from './legs.js';
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
  targetsOfUser(user: User): OutboundTarget[];
  /** Make in-dialog requests for `dialog` reach this call. */
  bindDialog(dialog: Dialog, call: Call, leg: InboundLeg | OutboundLeg): void;
  unbindDialog(dialog: Dialog): void;
  callEnded(call: Call): void;
  queueRetryDelayMs?: number;
  /** How long a direct call may ring before the caller gets 480 (no answer). */
  ringTimeoutMs?: number;
  /** Interval of the in-dialog OPTIONS that detects vanished parties (ms; 0 = off; default 60 s). */
  probeIntervalMs?: number;
}

export interface CallSetup {
  kind: CallKind;
  aNum: string;
  bNum: string;
  callerUser?: User;
  /** Display name to present to callees. */
  callerDisplayName?: string;
  invite: SipRequest;
  transaction: ServerTransaction;
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

export class Call implements LegEvents {
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
      setup.invite,
      setup.transaction,
      setup.callerUser?.userId,
      services.now(),
      this,
    );
    this.callerLeg.responseHeaders = [
      ['X-Server-Call-Id', this.callId],
      ['X-Call-Leg-Id', this.callerLeg.callLegId],
    ];
    setup.transaction.onCancel = () => this.onCallerCancel();
  }

  private append(fact: JournalFact): void {
    this.services.journal.append(fact);
  }

  /** Journal the call and its caller leg. */
  begin(extra: { queueId?: string } = {}): void {
    this.append({
      type: 'CallStarted',
      callId: this.callId,
      callKind: this.kind,
      aNum: this.aNum,
      bNum: this.bNum,
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
      sip: this.callerLeg.sip,
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

  placeTrunkLeg(target: OutboundTarget): OutboundLeg {
    return this.placeLeg({ role: 'trunk', targets: [target], to: `<${target.uri}>` })!;
  }

  private placeLeg(opts: {
    role: 'callee' | 'allocation' | 'trunk';
    user?: User;
    queue?: Queue;
    targets: OutboundTarget[];
    to: string;
  }): OutboundLeg {
    const invite = this.callerLeg.invite;
    const extraHeaders: [string, string][] = [['X-Server-Call-Id', this.callId]];
    const leg = new OutboundLeg(
      this.services.stack,
      {
        role: opts.role,
        userId: opts.user?.userId,
        queueId: opts.queue?.queueId,
        targets: opts.targets,
        from: this.fromHeader(),
        to: opts.to,
        body: invite.body,
        contentType: invite.headers.get('Content-Type'),
        extraHeaders,
        now: this.services.now(),
      },
      this,
    );
    extraHeaders.push(['X-Call-Leg-Id', leg.callLegId]);
    if (opts.queue) extraHeaders.push(['X-Queue-Id', opts.queue.queueId], ['X-Queue-Name', opts.queue.name]);
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
      sip: leg.sip,
    });
    if (opts.user) this.hold(leg.callLegId, opts.user.userId);
    leg.start();
    return leg;
  }

  // ---- routing outcomes ------------------------------------------------------------------------

  /** A direct call to a user: every device rings; 480 when none is registered. */
  routeToUser(user: User): void {
    this.begin();
    const leg = this.placeUserLeg(user);
    if (!leg) this.fail(480, 'Unavailable', 'Temporarily Unavailable');
    else this.startRingTimer();
  }

  routeToTrunk(target: OutboundTarget): void {
    this.begin();
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
    this.begin({ queueId: queue.queueId });
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
    this.append({
      type: 'AllocationRejected',
      callId: this.callId,
      callLegId: leg.callLegId,
      queueId: leg.queueId!,
      userId: leg.userId!,
      reason,
    });
    this.endLeg(leg, 487, reason);
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

  // ---- LegEvents -------------------------------------------------------------------------------

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
      this.callerLeg.provisional(
        early ? 183 : 180,
        early ? response.body : undefined,
        response.headers.get('Content-Type'),
      );
    }
  }

  onAnswered(leg: OutboundLeg, response: SipResponse): void {
    void response;
    if (this.state === 'ended' || this.state === 'connected' || !this.callerLeg.pending) {
      leg.sendBye('SIP;cause=487;text="Call already ended"');
      this.endLeg(leg, 487, 'AnsweredTooLate');
      return;
    }
    this.append({ type: 'LegAnswered', callId: this.callId, callLegId: leg.callLegId, sip: leg.sip });
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
    if (leg.role === 'allocation' && this.queueSession) {
      if (!this.queueSession.pendingLegs.includes(leg)) return;
      this.append({
        type: 'AllocationRejected',
        callId: this.callId,
        callLegId: leg.callLegId,
        queueId: leg.queueId!,
        userId: leg.userId!,
        reason: 'GenericUserRejected',
        sipStatus: status,
      });
      this.endLeg(leg, status, cause);
      this.queueSession.allocationFailed(leg);
      return;
    }
    this.endLeg(leg, status, cause);
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
    const callerDialog = this.callerLeg.answer(body, contentType, this.services.now());
    this.append({
      type: 'LegAnswered',
      callId: this.callId,
      callLegId: this.callerLeg.callLegId,
      sip: this.callerLeg.sip,
    });
    this.services.bindDialog(callerDialog, this, this.callerLeg);
    this.services.bindDialog(leg.dialog!, this, leg);
    this.startLivenessProbe();
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
        const dialog = leg?.dialog;
        if (!leg || !dialog) continue;
        const options = dialog.createRequest('OPTIONS');
        this.services.stack.sendRequest(options, dialog.flow, {
          onResponse: (response) => {
            if (response.status === 481 || response.status === 408) this.hangup(leg, 'PartyGone', 408);
          },
          onFailure: () => this.hangup(leg, 'PartyGone', 408),
        });
      }
      this.probeTimer = setTimeout(probe, interval);
      this.probeTimer.unref();
    };
    this.probeTimer = setTimeout(probe, interval);
    this.probeTimer.unref();
  }

  private probeTimer?: NodeJS.Timeout;

  /** The ACK of the caller's 2xx (or of a relayed re-INVITE's 2xx). */
  onAck(leg: InboundLeg | OutboundLeg): void {
    if (leg instanceof InboundLeg) leg.onAck();
  }

  /** Requests inside a confirmed dialog of this call. */
  onInDialogRequest(leg: InboundLeg | OutboundLeg, request: SipRequest, tx: ServerTransaction): void {
    const { stack } = this.services;
    const dialog = leg.dialog!;
    if (!dialog.acceptRemoteSeq(request)) {
      tx.respond(stack.createResponse(request, 500, 'Server Internal Error (CSeq out of order)'));
      return;
    }
    if (request.method === 'BYE') {
      tx.respond(stack.createResponse(request, 200, 'OK'));
      this.hangup(leg, leg === this.callerLeg ? 'CallerHangup' : 'CalleeHangup', 200);
      return;
    }
    if (request.method === 'OPTIONS') {
      tx.respond(stack.createResponse(request, 200, 'OK', { headers: [['Allow', ALLOW]] }));
      return;
    }
    const peer = leg === this.callerLeg ? this.connectedLeg : this.callerLeg;
    if (!peer?.dialog || this.state !== 'connected') {
      tx.respond(stack.createResponse(request, 481, 'Call/Transaction Does Not Exist'));
      return;
    }
    if (request.method === 'INVITE' || request.method === 'UPDATE') dialog.refreshTarget(request);
    this.relay(request, tx, leg, peer);
  }

  private relay(
    request: SipRequest,
    tx: ServerTransaction,
    from: InboundLeg | OutboundLeg,
    to: InboundLeg | OutboundLeg,
  ): void {
    const { stack } = this.services;
    const peerDialog = to.dialog!;
    const headers: [string, string][] = [];
    for (const name of RELAYED_HEADERS)
      for (const value of request.headers.getLines(name)) headers.push([name, value]);
    const out = peerDialog.createRequest(request.method, {
      body: request.body,
      contentType: request.headers.get('Content-Type'),
      headers,
    });
    const outSeq = peerDialog.localSeq;
    stack.sendRequest(out, peerDialog.flow, {
      onResponse: (response) => {
        if (response.status < 200) return;
        if (request.method === 'INVITE' && response.status < 300) {
          stack.sendAck(peerDialog.createRequest('ACK', { ackFor: outSeq }), peerDialog.flow);
          peerDialog.refreshTarget(response);
        }
        const relayed: [string, string][] = [];
        if (request.method === 'INVITE' || request.method === 'UPDATE')
          relayed.push(['Contact', `<${stack.contactUri(from.flow)}>`]);
        for (const name of RELAYED_HEADERS)
          for (const value of response.headers.getLines(name)) relayed.push([name, value]);
        tx.respond(
          stack.createResponse(request, response.status, response.reason, {
            headers: relayed,
            body: response.body,
            contentType: response.headers.get('Content-Type'),
          }),
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
  private onCallerCancel(): void {
    if (this.state === 'ended' || this.state === 'connected') return;
    if (this.queueSession) {
      this.queueSession.callerGone();
      this.append({
        type: 'QueueLeft',
        callId: this.callId,
        queueId: this.queueSession.queue.queueId,
        reason: 'CallerHungUp',
      });
    }
    for (const leg of this.legs.values()) {
      if (!leg.isActive) continue;
      leg.cancel('SIP;cause=487;text="Caller cancelled"', this.services.now());
      this.endLeg(leg, 487, 'CallerCancelled');
    }
    this.callerLeg.reject(487, 'Request Terminated');
    this.finish(487, 'CallerCancelled', 'CallerCancelled');
  }

  /** The call fails before answer: the caller gets `status`. */
  fail(status: number, reason: CallEndReason, phrase?: string): void {
    if (this.state === 'ended') return;
    if (this.queueSession?.active) {
      this.queueSession.callerGone();
      this.append({
        type: 'QueueLeft',
        callId: this.callId,
        queueId: this.queueSession.queue.queueId,
        reason: 'Failed',
      });
    }
    for (const leg of this.legs.values()) {
      if (!leg.isActive) continue;
      leg.cancel('SIP;cause=487;text="Call failed"', this.services.now());
      this.endLeg(leg, 487, 'CallFailed');
    }
    this.callerLeg.reject(status, phrase);
    this.finish(status, reason, reason);
  }

  /** End a connected call from one side (or from neither: `from` undefined). */
  hangup(from: InboundLeg | OutboundLeg | undefined, cause: string, status: number): void {
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
  private endLeg(leg: OutboundLeg, status: number, cause: string): void {
    leg.end(this.services.now());
    if (leg.dialog) this.services.unbindDialog(leg.dialog);
    if (this.endedLegs.has(leg.callLegId)) return;
    this.endedLegs.add(leg.callLegId);
    this.append({
      type: 'LegEnded',
      callId: this.callId,
      callLegId: leg.callLegId,
      sipStatus: status,
      cause,
    });
    this.release(leg.callLegId);
  }

  private readonly endedLegs = new Set<string>();

  private finish(status: number, reason: CallEndReason, cause: string): void {
    if (this.state === 'ended') return;
    const now = this.services.now();
    this.state = 'ended';
    clearTimeout(this.probeTimer);
    this.callerLeg.end(now);
    if (this.callerLeg.dialog) this.services.unbindDialog(this.callerLeg.dialog);
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
