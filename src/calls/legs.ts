/**
 * The two kinds of leg a back-to-back user agent has: the caller's leg, on which we are the UAS,
 * and the legs we place (to users' devices or a trunk), on which we are the UAC. They do the SIP
 * mechanics (provisional and final responses, 2xx retransmission until ACK, forking an INVITE to
 * every contact of a user, CANCEL, ACK, BYE) and report what happened to their call.
 */
import { randomUUID } from 'node:crypto';
import { Dialog } from '../sip/dialog.js';
import { getTag } from '../sip/headers.js';
import { EMPTY_BODY, SipHeaders, type SipRequest, type SipResponse } from '../sip/message.js';
import { newSipCallId, newTag, type SipStack } from '../sip/stack.js';
import type { ClientTransaction, ServerTransaction } from '../sip/transaction.js';
import { type Flow, isReliable } from '../sip/transport/types.js';
import type { LegRole, SipLegIdentifiers } from './journal/types.js';

export const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REGISTER';

export type LegState = 'trying' | 'ringing' | 'answered' | 'ended';

/** What a leg tells the call it belongs to. */
export interface LegEvents {
  onRinging(leg: OutboundLeg, response: SipResponse): void;
  onAnswered(leg: OutboundLeg, response: SipResponse): void;
  /** The leg failed before answer (final non-2xx, timeout, transport error). */
  onFailed(leg: OutboundLeg, status: number, cause: string): void;
  /** The caller's 2xx was never ACKed. */
  onAckTimeout(leg: InboundLeg): void;
}

abstract class LegBase {
  readonly callLegId: string = randomUUID();
  state: LegState = 'trying';
  dialog?: Dialog;
  createdAtMs: number;
  answeredAtMs?: number;
  endedAtMs?: number;

  constructor(
    readonly stack: SipStack,
    readonly role: LegRole,
    readonly userId: string | undefined,
    now: number,
  ) {
    this.createdAtMs = now;
  }

  abstract get sip(): SipLegIdentifiers;
  abstract get flow(): Flow;

  get isActive(): boolean {
    return this.state !== 'ended';
  }

  /** Send BYE on the confirmed dialog (best effort; the peer may be gone). */
  sendBye(reason?: string): void {
    if (!this.dialog) return;
    const bye = this.dialog.createRequest('BYE', { headers: reason ? [['Reason', reason]] : [] });
    this.stack.sendRequest(bye, this.dialog.flow, { onResponse: () => {}, onFailure: () => {} });
  }
}

/** The caller's leg: we answer the caller's INVITE. */
export class InboundLeg extends LegBase {
  readonly localTag = newTag();
  private ackTimer?: NodeJS.Timeout;
  private retransmitTimer?: NodeJS.Timeout;
  private acked = false;
  /** Headers added to every 18x/2xx we send the caller (X-Server-Call-Id, X-Call-Leg-Id). */
  responseHeaders: [string, string][] = [];

  /** The caller's INVITE and its transaction: released once the call is established (ACKed). */
  private request?: SipRequest;
  private tx?: ServerTransaction;
  readonly flow: Flow;
  private readonly identifiers: SipLegIdentifiers;

  constructor(
    stack: SipStack,
    invite: SipRequest,
    transaction: ServerTransaction,
    userId: string | undefined,
    now: number,
    private readonly events: Pick<LegEvents, 'onAckTimeout'>,
  ) {
    super(stack, 'caller', userId, now);
    this.request = invite;
    this.tx = transaction;
    this.flow = transaction.flow;
    this.identifiers = {
      sipCallId: invite.headers.get('Call-ID') ?? '',
      localTag: this.localTag,
      remoteTag: getTag(invite.headers.get('From') ?? ''),
    };
  }

  /** The caller's INVITE; only while the call is being set up. */
  get invite(): SipRequest {
    if (!this.request) throw new Error('the caller INVITE is released once the call is established');
    return this.request;
  }

  private get transaction(): ServerTransaction {
    if (!this.tx) throw new Error('the caller INVITE transaction is released once the call is established');
    return this.tx;
  }

  get sip(): SipLegIdentifiers {
    return this.identifiers;
  }

  /** Whether the INVITE still awaits its final response. */
  get pending(): boolean {
    return this.tx !== undefined && !this.tx.isFinal && this.state !== 'ended';
  }

  private contact(): string {
    return `<${this.stack.contactUri(this.flow)}>`;
  }

  provisional(status: number, body?: Buffer, contentType?: string): void {
    if (!this.pending) return;
    const response = this.stack.createResponse(this.invite, status, undefined, {
      toTag: this.localTag,
      headers: [['Contact', this.contact()], ...this.responseHeaders],
      body,
      contentType,
    });
    this.transaction.respond(response);
    if (this.state === 'trying') this.state = 'ringing';
  }

  /** Answer the caller with the callee's session description (late answer). */
  answer(body: Buffer, contentType: string | undefined, now: number): Dialog {
    const response = this.stack.createResponse(this.invite, 200, 'OK', {
      toTag: this.localTag,
      headers: [['Contact', this.contact()], ['Allow', ALLOW], ...this.responseHeaders],
      body,
      contentType,
    });
    this.transaction.respond(response);
    this.dialog = Dialog.fromUas(this.invite, this.localTag, this.flow, this.stack.contactUri(this.flow));
    this.dialog.remoteSeq = Number.parseInt(this.invite.headers.get('CSeq') ?? '0', 10) || 0;
    this.state = 'answered';
    this.answeredAtMs = now;
    this.retransmit2xx(response);
    return this.dialog;
  }

  /** RFC 3261 §13.3.1.4: the UAS core retransmits its 2xx until the ACK arrives. */
  private retransmit2xx(response: SipResponse): void {
    const { T1, T2 } = this.stack.timers;
    if (!isReliable(this.flow)) {
      let interval = T1;
      const tick = (): void => {
        if (this.acked || this.state === 'ended') return;
        this.stack.metrics.inc('retransmissionsSent');
        this.stack.sendStatelessResponse(response, this.flow);
        interval = Math.min(interval * 2, T2);
        this.retransmitTimer = setTimeout(tick, interval);
      };
      this.retransmitTimer = setTimeout(tick, interval);
    }
    this.ackTimer = setTimeout(() => {
      if (!this.acked && this.state !== 'ended') this.events.onAckTimeout(this);
    }, 64 * T1);
  }

  onAck(): void {
    this.acked = true;
    clearTimeout(this.retransmitTimer);
    clearTimeout(this.ackTimer);
    // Established: the dialog is all an ongoing call needs (keeps memory per call small).
    this.request = undefined;
    this.tx = undefined;
  }

  /** Refuse the call (final non-2xx) unless it already has its answer. */
  reject(status: number, reason?: string, headers: [string, string][] = []): void {
    if (this.pending) {
      this.transaction.respond(
        this.stack.createResponse(this.invite, status, reason, {
          toTag: this.localTag,
          headers: [...headers, ...this.responseHeaders],
        }),
      );
    }
  }

  end(now: number): void {
    this.state = 'ended';
    this.endedAtMs ??= now;
    clearTimeout(this.retransmitTimer);
    clearTimeout(this.ackTimer);
  }
}

export interface OutboundTarget {
  /** Request-URI. */
  uri: string;
  flow: Flow;
}

interface Branch {
  target: OutboundTarget;
  transaction?: ClientTransaction;
  status: number;
  done: boolean;
}

export interface OutboundLegOptions {
  role: LegRole;
  userId?: string;
  queueId?: string;
  targets: OutboundTarget[];
  /** From and To header values (From without tag: the leg adds its own). */
  from: string;
  to: string;
  body: Buffer;
  contentType?: string;
  extraHeaders: [string, string][];
  now: number;
}

/**
 * A leg we place. One INVITE per target contact, all with the same Call-ID and From tag (like a
 * forking proxy): the first 2xx wins, the other branches are CANCELled, and a late 2xx on a
 * losing branch is ACKed and BYEd.
 */
export class OutboundLeg extends LegBase {
  readonly sipCallId: string;
  readonly fromTag = newTag();
  readonly queueId?: string;
  private readonly branches: Branch[];
  private readonly options: OutboundLegOptions;
  remoteTag?: string;
  /** Status that ended the leg (for the journal). */
  finalStatus = 0;
  /** The callee's answer (SDP), relayed to the caller; nothing else of the 2xx is kept. */
  private answer?: { body: Buffer; contentType?: string };
  /** Set when call control gave up on the leg (CANCEL sent): late answers are hung up. */
  abandoned = false;

  constructor(
    stack: SipStack,
    options: OutboundLegOptions,
    private readonly events: LegEvents,
  ) {
    super(stack, options.role, options.userId, options.now);
    this.options = options;
    this.queueId = options.queueId;
    this.sipCallId = newSipCallId();
    this.branches = options.targets.map((target) => ({ target, status: 0, done: false }));
  }

  get flow(): Flow {
    return this.dialog?.flow ?? this.branches[0]!.target.flow;
  }

  get sip(): SipLegIdentifiers {
    return { sipCallId: this.sipCallId, localTag: this.fromTag, remoteTag: this.remoteTag };
  }

  start(): void {
    for (const branch of this.branches) this.sendInvite(branch);
  }

  private buildInvite(branch: Branch): SipRequest {
    const headers = new SipHeaders();
    headers.append('From', `${this.options.from};tag=${this.fromTag}`);
    headers.append('To', this.options.to);
    headers.append('Call-ID', this.sipCallId);
    headers.append('CSeq', '1 INVITE');
    headers.append('Contact', `<${this.stack.contactUri(branch.target.flow)}>`);
    headers.append('Allow', ALLOW);
    for (const [name, value] of this.options.extraHeaders) headers.append(name, value);
    if (this.options.body.length > 0)
      headers.append('Content-Type', this.options.contentType ?? 'application/sdp');
    return {
      kind: 'request',
      method: 'INVITE',
      uri: branch.target.uri,
      version: 'SIP/2.0',
      headers,
      body: this.options.body,
    };
  }

  private sendInvite(branch: Branch): void {
    const invite = this.buildInvite(branch);
    branch.transaction = this.stack.sendRequest(invite, branch.target.flow, {
      onResponse: (response) => this.onResponse(branch, invite, response),
      onFailure: (reason) =>
        this.onBranchFinal(
          branch,
          reason === 'timeout' ? 408 : 503,
          reason === 'timeout' ? 'Timeout' : 'TransportError',
        ),
    });
  }

  private onResponse(branch: Branch, invite: SipRequest, response: SipResponse): void {
    const status = response.status;
    if (status < 200) {
      if (status === 100 || this.state !== 'trying') return;
      this.state = 'ringing';
      this.events.onRinging(this, response);
      return;
    }
    if (status < 300) {
      this.on2xx(branch, invite, response);
      return;
    }
    this.onBranchFinal(branch, status, response.reason);
  }

  private on2xx(branch: Branch, invite: SipRequest, response: SipResponse): void {
    const remoteTag = getTag(response.headers.get('To') ?? '');
    // A retransmitted 2xx of the winning dialog: re-send the ACK.
    if (this.dialog && remoteTag === this.dialog.remoteTag) {
      this.sendAckFor(this.dialog);
      return;
    }
    const dialog = Dialog.fromUac(
      invite,
      response,
      branch.target.flow,
      this.stack.contactUri(branch.target.flow),
    );
    this.sendAckFor(dialog);
    branch.done = true;
    branch.status = response.status;
    if (this.dialog || this.abandoned || this.state === 'ended') {
      // Lost the race (another branch answered, or the leg was cancelled): hang this dialog up.
      const bye = dialog.createRequest('BYE', {
        headers: [['Reason', 'SIP;cause=200;text="Call completed elsewhere"']],
      });
      this.stack.sendRequest(bye, dialog.flow, { onResponse: () => {}, onFailure: () => {} });
      return;
    }
    this.dialog = dialog;
    this.remoteTag = remoteTag;
    this.answer = { body: response.body, contentType: response.headers.get('Content-Type') };
    this.state = 'answered';
    this.answeredAtMs = Date.now();
    this.finalStatus = response.status;
    this.cancelBranches('SIP;cause=200;text="Call completed elsewhere"');
    // An established call keeps only its dialog: the INVITE transactions (and the messages they
    // hold for retransmission) can go once the CANCELs are out.
    for (const b of this.branches) b.transaction = undefined;
    this.events.onAnswered(this, response);
  }

  private sendAckFor(dialog: Dialog): void {
    const ack = dialog.createRequest('ACK', { ackFor: 1 });
    this.stack.sendAck(ack, dialog.flow);
  }

  private onBranchFinal(branch: Branch, status: number, cause: string): void {
    if (branch.done) return;
    branch.done = true;
    branch.status = status;
    if (this.state === 'answered' || this.state === 'ended') return;
    if (this.branches.some((b) => !b.done)) return;
    // Every branch failed: report the best final response (RFC 3261 §16.7 in spirit).
    const best = bestFailure(this.branches.map((b) => b.status));
    this.finalStatus = best;
    this.state = 'ended';
    this.endedAtMs = Date.now();
    if (!this.abandoned) this.events.onFailed(this, best, best === status ? cause : `SIP ${best}`);
  }

  private cancelBranches(reason: string): void {
    for (const branch of this.branches) {
      if (branch.done || !branch.transaction) continue;
      this.stack.cancel(branch.transaction, reason);
    }
  }

  /** Give up on an unanswered leg: CANCEL every branch. The leg is ended at once for call control. */
  cancel(reason: string, now: number): void {
    if (this.state === 'answered' || this.state === 'ended') return;
    this.abandoned = true;
    this.state = 'ended';
    this.endedAtMs = now;
    this.finalStatus = 487;
    this.cancelBranches(reason);
  }

  end(now: number): void {
    this.state = 'ended';
    this.endedAtMs ??= now;
  }

  /** The answered session description (the callee's SDP answer). */
  get answerBody(): { body: Buffer; contentType?: string } {
    return { body: this.answer?.body ?? EMPTY_BODY, contentType: this.answer?.contentType };
  }
}

const FAILURE_PREFERENCE = [486, 600, 603, 480, 404, 487, 408];

export function bestFailure(statuses: number[]): number {
  const six = statuses.find((s) => s >= 600);
  if (six) return six;
  for (const preferred of FAILURE_PREFERENCE) if (statuses.includes(preferred)) return preferred;
  return statuses.find((s) => s >= 400 && s < 500) ?? statuses.find((s) => s >= 300) ?? 500;
}
