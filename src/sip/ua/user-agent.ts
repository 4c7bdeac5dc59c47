/**
 * The user agent core (RFC 3261 §8, §12, §13): the stack's transaction user. It answers what needs
 * no application (OPTIONS outside a dialog, 481 for unknown dialogs, 405), routes requests inside
 * a confirmed dialog to the usage bound to it in the dialog table, ACKs retransmitted 2xx, and hands
 * every new out-of-dialog request to the delegate method for its method.
 */
import { getTag } from '../headers.js';
import type { SipRequest, SipResponse } from '../message.js';
import type { SipStack } from '../stack.js';
import type {
  InviteServerTransaction,
  NonInviteServerTransaction,
  ServerTransaction,
} from '../transaction/index.js';
import type { Flow } from '../transport/types.js';
import { DialogTable } from './dialog-table.js';
import { ALLOW } from './usage.js';

/**
 * What the application does with requests outside any dialog, one method each. A method left out
 * is answered by the UA: OPTIONS with 200 and Allow, anything else with 405.
 */
export interface UserAgentDelegate {
  /** A new INVITE (no To tag). 100 Trying has been sent. */
  onInvite?(request: SipRequest, transaction: InviteServerTransaction): void;
  /** REGISTER, with or without a To tag. */
  onRegister?(request: SipRequest, transaction: NonInviteServerTransaction): void;
  /** OPTIONS outside a dialog (a capability query or keep-alive). */
  onOptions?(request: SipRequest, transaction: NonInviteServerTransaction): void;
  /** A connection-oriented flow went away (its registrations and dialogs with it). */
  onFlowClosed?(flow: Flow): void;
}

export interface UserAgentOptions {
  stack: SipStack;
  delegate?: UserAgentDelegate;
}

export class UserAgent {
  readonly stack: SipStack;
  readonly dialogs = new DialogTable();
  /** Set at construction or later (the application is usually built after the UA). */
  delegate: UserAgentDelegate;

  constructor(opts: UserAgentOptions) {
    this.stack = opts.stack;
    this.delegate = opts.delegate ?? {};
    const { stack } = opts;
    stack.onRequest = (request, transaction) => this.onRequest(request, transaction);
    stack.onAck = (ack) => this.onAck(ack);
    stack.onStrayResponse = (response) => this.onStrayResponse(response);
    stack.onFlowClosed = (flow) => this.delegate.onFlowClosed?.(flow);
  }

  private onRequest(request: SipRequest, tx: ServerTransaction): void {
    const { stack, delegate } = this;
    if (!tx.isInvite && request.method === 'REGISTER') {
      if (delegate.onRegister) delegate.onRegister(request, tx);
      else this.notAllowed(request, tx);
      return;
    }
    const localTag = getTag(request.headers.get('To') ?? '');
    if (localTag) {
      this.onInDialogRequest(request, tx, localTag);
      return;
    }
    if (tx.isInvite) {
      if (delegate.onInvite) delegate.onInvite(request, tx);
      else this.notAllowed(request, tx);
      return;
    }
    switch (request.method) {
      case 'OPTIONS':
        if (delegate.onOptions) delegate.onOptions(request, tx);
        else tx.respond(stack.createResponse(request, 200, 'OK', { headers: OPTIONS_HEADERS }));
        return;
      case 'BYE':
      case 'INFO':
      case 'UPDATE':
        tx.respond(stack.createResponse(request, 481, 'Call/Transaction Does Not Exist'));
        return;
      default:
        this.notAllowed(request, tx);
    }
  }

  private notAllowed(request: SipRequest, tx: ServerTransaction): void {
    tx.respond(
      this.stack.createResponse(request, 405, 'Method Not Allowed', { headers: [['Allow', ALLOW]] }),
    );
  }

  /** RFC 3261 §12.2.2: a request whose To has our tag belongs to a dialog, or gets 481. */
  private onInDialogRequest(request: SipRequest, tx: ServerTransaction, localTag: string): void {
    const { stack } = this;
    const usage = this.dialogs.find(
      request.headers.get('Call-ID') ?? '',
      localTag,
      getTag(request.headers.get('From') ?? '') ?? '',
    );
    const dialog = usage?.dialog;
    if (!usage || !dialog) {
      tx.respond(stack.createResponse(request, 481, 'Call/Transaction Does Not Exist'));
      return;
    }
    if (!dialog.acceptRemoteSeq(request)) {
      tx.respond(stack.createResponse(request, 500, 'Server Internal Error (CSeq out of order)'));
      return;
    }
    switch (request.method) {
      case 'BYE':
        tx.respond(stack.createResponse(request, 200, 'OK'));
        usage.onBye(request);
        return;
      case 'OPTIONS':
        tx.respond(stack.createResponse(request, 200, 'OK', { headers: [['Allow', ALLOW]] }));
        return;
      case 'INVITE':
      case 'UPDATE':
        // Target refresh requests (§12.2.2): later requests go to the Contact they carry.
        dialog.refreshTarget(request);
        break;
    }
    usage.onRequest(request, tx);
  }

  /** An ACK that matched no server transaction: the ACK of a 2xx, for its dialog. */
  private onAck(ack: SipRequest): void {
    const localTag = getTag(ack.headers.get('To') ?? '');
    if (!localTag) return;
    const usage = this.dialogs.find(
      ack.headers.get('Call-ID') ?? '',
      localTag,
      getTag(ack.headers.get('From') ?? '') ?? '',
    );
    usage?.onAck();
  }

  /** A 2xx to INVITE retransmitted after its transaction ended: ACK it again (§13.2.2.4). */
  private onStrayResponse(response: SipResponse): void {
    if (response.status < 200 || response.status >= 300) return;
    const cseq = response.headers.get('CSeq') ?? '';
    if (!/INVITE/i.test(cseq)) return;
    const dialog = this.dialogs.find(
      response.headers.get('Call-ID') ?? '',
      getTag(response.headers.get('From') ?? '') ?? '',
      getTag(response.headers.get('To') ?? '') ?? '',
    )?.dialog;
    if (dialog)
      this.stack.sendAck(
        dialog.createRequest('ACK', { ackFor: Number.parseInt(cseq || '1', 10) }),
        dialog.flow,
      );
  }
}

/** OPTIONS outside a dialog: what we accept (RFC 3261 §11.2). */
const OPTIONS_HEADERS: [string, string][] = [
  ['Allow', ALLOW],
  ['Accept', 'application/sdp'],
];
