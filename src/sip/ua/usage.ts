/**
 * What every dialog usage (RFC 5057: the INVITE usage of a dialog) shares, whichever side we are
 * on: its state, the dialog once confirmed, the in-dialog requests it sends (BYE, re-INVITE,
 * UPDATE, INFO, OPTIONS), and the hooks the dialog table calls for requests that arrive in it.
 */
import type { Dialog } from '../dialog.js';
import type { SipRequest, SipResponse } from '../message.js';
import type { SipStack } from '../stack.js';
import type { ClientFailureReason, ServerTransaction } from '../transaction/index.js';
import type { Flow } from '../transport/types.js';

/** The methods this user agent accepts (Allow of OPTIONS answers, 2xx and 405). */
export const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REGISTER';

export type UsageState = 'trying' | 'ringing' | 'answered' | 'ended';

/** The SIP identity of one usage's dialog: Call-ID and both tags (the remote one once known). */
export interface DialogIdentifiers {
  sipCallId: string;
  localTag: string;
  remoteTag?: string;
}

/** What the owner of a usage hears about requests the peer sends inside the confirmed dialog. */
export interface InDialogEvents<Usage> {
  /** The peer hung up; the UA has answered the BYE with 200 already. */
  onBye(usage: Usage, request: SipRequest): void;
  /**
   * re-INVITE, UPDATE, INFO and whatever else is not BYE, ACK or OPTIONS (the UA answers those),
   * in CSeq order; a target refresh (INVITE, UPDATE) has been applied to the dialog already.
   */
  onRequest(usage: Usage, request: SipRequest, transaction: ServerTransaction): void;
}

/** What the dialog table routes to: a usage with a confirmed dialog. */
export interface DialogUsage {
  readonly dialog?: Dialog;
  /** The ACK of our 2xx (a 2xx ACK is a request of its own, outside any transaction). */
  onAck(): void;
  onBye(request: SipRequest): void;
  onRequest(request: SipRequest, transaction: ServerTransaction): void;
}

/** Final outcome of a request sent inside the dialog. */
export interface InDialogRequestHandlers {
  /** The final response (1xx are not passed on). */
  onFinal(response: SipResponse): void;
  onFailure(reason: ClientFailureReason): void;
}

/**
 * Base of both INVITE usages. `Self` is the concrete usage an owner knows (the call's leg), so
 * that the events it receives name it without a cast.
 */
export abstract class UsageBase<Self, Events extends InDialogEvents<Self>> implements DialogUsage {
  state: UsageState = 'trying';
  dialog?: Dialog;
  createdAtMs: number;
  answeredAtMs?: number;
  endedAtMs?: number;

  constructor(
    readonly stack: SipStack,
    protected events: Events,
    now: number,
  ) {
    this.createdAtMs = now;
  }

  /**
   * Hand the usage to another owner: from now on its events go to `events` (a B2BUA moving an
   * established dialog from one call to another, e.g. an attended transfer).
   */
  adopt(events: Events): void {
    this.events = events;
  }

  /** The usage as its owner knows it (`this`, typed as the subclass). */
  protected abstract get self(): Self;
  abstract get identifiers(): DialogIdentifiers;
  abstract get flow(): Flow;

  get isActive(): boolean {
    return this.state !== 'ended';
  }

  /** The ACK of our 2xx. Only the UAS side sends a 2xx that is ACKed to it; it overrides this. */
  onAck(): void {}

  onBye(request: SipRequest): void {
    this.events.onBye(this.self, request);
  }

  onRequest(request: SipRequest, transaction: ServerTransaction): void {
    this.events.onRequest(this.self, request, transaction);
  }

  /** Send BYE on the confirmed dialog (best effort; the peer may be gone). */
  sendBye(reason?: string): void {
    if (!this.dialog) return;
    const bye = this.dialog.createRequest('BYE', { headers: reason ? [['Reason', reason]] : [] });
    this.stack.sendRequest(bye, this.dialog.flow, IGNORE_RESPONSES);
  }

  /**
   * Send a request inside the confirmed dialog. The 2xx of a re-INVITE is ACKed here (RFC 3261
   * §13.2.2.4: the ACK of a 2xx is the UAC core's) and refreshes the remote target.
   */
  sendInDialog(
    method: string,
    options: { body?: Buffer; contentType?: string; headers?: Iterable<readonly [string, string]> },
    handlers: InDialogRequestHandlers,
  ): void {
    const dialog = this.dialog;
    if (!dialog) return;
    const request = dialog.createRequest(method, options);
    const seq = dialog.localSeq;
    this.stack.sendRequest(request, dialog.flow, {
      onResponse: (response) => {
        if (response.status < 200) return;
        if (method === 'INVITE' && response.status < 300) {
          this.stack.sendAck(dialog.createRequest('ACK', { ackFor: seq }), dialog.flow);
          dialog.refreshTarget(response);
        }
        handlers.onFinal(response);
      },
      onFailure: (reason) => handlers.onFailure(reason),
    });
  }
}

/** For requests whose responses change nothing (BYE of a call that is over, CANCEL). */
export const IGNORE_RESPONSES = { onResponse: (): void => {}, onFailure: (): void => {} };
