/**
 * The INVITE usage on the UAC side (RFC 3261 §13.2), forking like a proxy would (§16.7): one
 * INVITE per target contact, all with the same Call-ID and From tag. The first 2xx wins and the
 * other branches are CANCELled; a 2xx that arrives later on another branch, or after the usage
 * was cancelled (the CANCEL-vs-200 race, §9.1), is ACKed and then BYEd. Every 2xx is ACKed here
 * (§13.2.2.4), retransmissions of the winning one included.
 */
import { Dialog } from '../dialog.js';
import { getTag } from '../headers.js';
import { EMPTY_BODY, SipHeaders, type SipRequest, type SipResponse } from '../message.js';
import { newSipCallId, newTag, type SipStack } from '../stack.js';
import type { ClientTransaction } from '../transaction/index.js';
import type { Flow } from '../transport/types.js';
import { ALLOW, type DialogIdentifiers, IGNORE_RESPONSES, type InDialogEvents, UsageBase } from './usage.js';

/** Where one branch of the INVITE goes. */
export interface InviteTarget {
  /** Request-URI. */
  uri: string;
  flow: Flow;
  /** A preloaded Route set (RFC 3261 §8.1.2; a binding's Path, RFC 3327), in order. */
  route?: readonly string[];
  /** This branch's body, when branches need different ones (a media engine's offer per device). */
  body?: Buffer;
}

export interface InviteClientEvents<Usage> extends InDialogEvents<Usage> {
  /** The first ringing (or early media) provisional of any branch. */
  onRinging(usage: Usage, response: SipResponse): void;
  /** The winning 2xx (already ACKed). */
  onAnswered(usage: Usage, response: SipResponse): void;
  /** Every branch failed before an answer (best final non-2xx, timeout, transport error). */
  onFailed(usage: Usage, status: number, cause: string): void;
}

export interface InviteClientSetup {
  targets: InviteTarget[];
  /** From and To header values (From without tag: the usage adds its own). */
  from: string;
  to: string;
  body: Buffer;
  contentType?: string;
  /** Headers for every branch's INVITE (the owner may still add to this list until `start`). */
  extraHeaders: [string, string][];
  now: number;
}

interface Branch {
  target: InviteTarget;
  transaction?: ClientTransaction;
  status: number;
  done: boolean;
}

const COMPLETED_ELSEWHERE = 'SIP;cause=200;text="Call completed elsewhere"';

export abstract class InviteClientUsage<Self> extends UsageBase<Self, InviteClientEvents<Self>> {
  readonly sipCallId: string;
  readonly fromTag = newTag();
  private readonly branches: Branch[];
  private readonly setup: InviteClientSetup;
  remoteTag?: string;
  /** Status that ended the usage. */
  finalStatus = 0;
  /** The answer (SDP) of the winning 2xx; nothing else of the 2xx is kept. */
  private answer?: { body: Buffer; contentType?: string };
  /** Which of the setup's targets gave the winning 2xx (index into `targets`). */
  answeredTargetIndex?: number;
  /** Set when the owner gave up on the usage (CANCEL sent): late answers are hung up. */
  abandoned = false;

  constructor(stack: SipStack, setup: InviteClientSetup, events: InviteClientEvents<Self>) {
    super(stack, events, setup.now);
    this.setup = setup;
    this.sipCallId = newSipCallId();
    this.branches = setup.targets.map((target) => ({ target, status: 0, done: false }));
  }

  get flow(): Flow {
    return this.dialog?.flow ?? this.branches[0]!.target.flow;
  }

  /** The targets as the setup gave them (the owner may set each one's `body` until `start`). */
  get targets(): readonly InviteTarget[] {
    return this.branches.map((branch) => branch.target);
  }

  get identifiers(): DialogIdentifiers {
    return { sipCallId: this.sipCallId, localTag: this.fromTag, remoteTag: this.remoteTag };
  }

  /** Send the INVITE to every target. */
  start(): void {
    for (const branch of this.branches) this.sendInvite(branch);
  }

  private buildInvite(branch: Branch): SipRequest {
    const { setup } = this;
    const headers = new SipHeaders();
    headers.append('From', `${setup.from};tag=${this.fromTag}`);
    headers.append('To', setup.to);
    headers.append('Call-ID', this.sipCallId);
    headers.append('CSeq', '1 INVITE');
    for (const hop of branch.target.route ?? []) headers.append('Route', hop);
    headers.append('Contact', `<${this.stack.contactUri(branch.target.flow)}>`);
    headers.append('Allow', ALLOW);
    for (const [name, value] of setup.extraHeaders) headers.append(name, value);
    const body = branch.target.body ?? setup.body;
    if (body.length > 0) headers.append('Content-Type', setup.contentType ?? 'application/sdp');
    return {
      kind: 'request',
      method: 'INVITE',
      uri: branch.target.uri,
      version: 'SIP/2.0',
      headers,
      body,
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
      this.events.onRinging(this.self, response);
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
      // Lost the race (another branch answered, or the usage was cancelled): hang this dialog up.
      const bye = dialog.createRequest('BYE', { headers: [['Reason', COMPLETED_ELSEWHERE]] });
      this.stack.sendRequest(bye, dialog.flow, IGNORE_RESPONSES);
      return;
    }
    this.dialog = dialog;
    this.remoteTag = remoteTag;
    this.answer = { body: response.body, contentType: response.headers.get('Content-Type') };
    this.answeredTargetIndex = this.branches.indexOf(branch);
    this.state = 'answered';
    this.answeredAtMs = Date.now();
    this.finalStatus = response.status;
    this.cancelBranches(COMPLETED_ELSEWHERE);
    // An established dialog keeps only itself: the INVITE transactions (and the messages they
    // hold for retransmission) can go once the CANCELs are out.
    for (const b of this.branches) b.transaction = undefined;
    this.events.onAnswered(this.self, response);
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
    if (!this.abandoned) this.events.onFailed(this.self, best, best === status ? cause : `SIP ${best}`);
  }

  private cancelBranches(reason: string): void {
    for (const branch of this.branches) {
      if (branch.done || !branch.transaction) continue;
      this.stack.cancel(branch.transaction, reason);
    }
  }

  /** Give up on an unanswered usage: CANCEL every branch. The usage is ended at once for its owner. */
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

/** The final response to report when every branch failed (RFC 3261 §16.7 step 6, simplified). */
export function bestFailure(statuses: number[]): number {
  const six = statuses.find((s) => s >= 600);
  if (six) return six;
  for (const preferred of FAILURE_PREFERENCE) if (statuses.includes(preferred)) return preferred;
  return statuses.find((s) => s >= 400 && s < 500) ?? statuses.find((s) => s >= 300) ?? 500;
}
