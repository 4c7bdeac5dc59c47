/**
 * The INVITE usage on the UAS side (RFC 3261 §13.3): answering an INVITE we received with
 * provisional and final responses, retransmitting our 2xx until the ACK arrives (§13.3.1.4), and
 * giving up when it never does (64·T1). Once ACKed the usage keeps only its dialog: the INVITE
 * and its transaction are released, so an established call stays small.
 */

import { Dialog } from '../dialog.js';
import { getTag } from '../headers.js';
import type { SipRequest, SipResponse } from '../message.js';
import { dialogFlow } from '../reach.js';
import { newTag, type SipStack } from '../stack.js';
import type { InviteServerTransaction } from '../transaction/index.js';
import { type Flow, isReliable } from '../transport/types.js';
import { ALLOW, type DialogIdentifiers, type InDialogEvents, UsageBase } from './usage.js';

export interface InviteServerEvents<Usage> extends InDialogEvents<Usage> {
  /** The caller CANCELled the INVITE before its final response. */
  onCancel(usage: Usage): void;
  /** Our 2xx was never ACKed (64·T1): the dialog is dead on arrival. */
  onAckTimeout(usage: Usage): void;
}

export interface InviteServerSetup {
  invite: SipRequest;
  transaction: InviteServerTransaction;
  now: number;
}

const NO_HEADERS: readonly (readonly [string, string])[] = [];

export abstract class InviteServerUsage<Self> extends UsageBase<Self, InviteServerEvents<Self>> {
  readonly localTag = newTag();
  private ackTimer?: NodeJS.Timeout;
  private retransmitTimer?: NodeJS.Timeout;
  private acked = false;
  /** Headers the owner adds to every response but 100 (identifiers of its own). */
  responseHeaders: readonly (readonly [string, string])[] = NO_HEADERS;

  /** The INVITE and its transaction: released once the usage is established (ACKed). */
  private request?: SipRequest;
  private tx?: InviteServerTransaction;
  readonly flow: Flow;
  private readonly dialogIdentifiers: DialogIdentifiers;

  constructor(stack: SipStack, setup: InviteServerSetup, events: InviteServerEvents<Self>) {
    super(stack, events, setup.now);
    this.request = setup.invite;
    this.tx = setup.transaction;
    this.flow = setup.transaction.flow;
    setup.transaction.onCancel = () => this.events.onCancel(this.self);
    this.dialogIdentifiers = {
      sipCallId: setup.invite.headers.get('Call-ID') ?? '',
      localTag: this.localTag,
      remoteTag: getTag(setup.invite.headers.get('From') ?? ''),
    };
  }

  /** The INVITE; only while the usage is being set up. */
  get invite(): SipRequest {
    if (!this.request) throw new Error('the INVITE is released once the dialog is established');
    return this.request;
  }

  private get transaction(): InviteServerTransaction {
    if (!this.tx) throw new Error('the INVITE transaction is released once the dialog is established');
    return this.tx;
  }

  get identifiers(): DialogIdentifiers {
    return this.dialogIdentifiers;
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

  /** Answer with a session description (late answer: the one the other side gave us). */
  answer(body: Buffer, contentType: string | undefined, now: number): Dialog {
    const response = this.stack.createResponse(this.invite, 200, 'OK', {
      toTag: this.localTag,
      headers: [['Contact', this.contact()], ['Allow', ALLOW], ...this.responseHeaders],
      body,
      contentType,
    });
    this.transaction.respond(response);
    const flow = dialogFlow(this.invite, this.flow);
    this.dialog = Dialog.fromUas(this.invite, this.localTag, flow, this.stack.contactUri(this.flow));
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
      if (!this.acked && this.state !== 'ended') this.events.onAckTimeout(this.self);
    }, 64 * T1);
  }

  override onAck(): void {
    this.acked = true;
    clearTimeout(this.retransmitTimer);
    clearTimeout(this.ackTimer);
    // Established: the dialog is all an ongoing call needs (keeps memory per call small).
    this.request = undefined;
    this.tx = undefined;
  }

  /** Refuse the INVITE (final non-2xx) unless it already has its answer. */
  reject(
    status: number,
    reason?: string,
    headers: readonly (readonly [string, string])[] = NO_HEADERS,
  ): void {
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
