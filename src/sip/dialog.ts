/**
 * Dialog state (RFC 3261 §12) for a user agent: enough to build in-dialog requests (BYE,
 * re-INVITE, INFO, UPDATE, ACK) and to recognise requests that belong to a dialog.
 *
 * The peer is reached over the flow its messages came from (or the flow we sent the INVITE on),
 * which is what RFC 7118 requires for WebSocket clients and what works through NAT for UDP.
 */
import { getTag, parseNameAddr } from './headers.js';
import { EMPTY_BODY, SipHeaders, type SipRequest, type SipResponse } from './message.js';
import type { Flow } from './transport/types.js';

/** What a dialog is made of: its fields, without the methods and the derived key. */
export type DialogState = { [Name in DialogField]: Dialog[Name] };
type DialogField = {
  [Name in keyof Dialog]: Dialog[Name] extends (...args: never[]) => unknown ? never : Name;
}[Exclude<keyof Dialog, 'key'>];

export class Dialog {
  sipCallId!: string;
  localTag!: string;
  remoteTag!: string;
  /** Our From/To value including our tag. */
  localParty!: string;
  /** The peer's From/To value including its tag. */
  remoteParty!: string;
  localSeq!: number;
  remoteSeq!: number;
  /** The peer's Contact URI: Request-URI of in-dialog requests. */
  remoteTarget!: string;
  /** Route set (URIs with brackets) in the order to put in Route headers. */
  routeSet!: string[];
  flow!: Flow;
  /** Our Contact URI for this dialog. */
  localContact!: string;

  constructor(state: DialogState) {
    Object.assign(this, state);
  }

  /** The key under which a dialog is found from an inbound request: Call-ID + our tag + peer tag. */
  get key(): string {
    return dialogKey(this.sipCallId, this.localTag, this.remoteTag);
  }

  /** UAS side: the dialog our 2xx/18x (with `localTag`) to `invite` creates. */
  static fromUas(invite: SipRequest, localTag: string, flow: Flow, localContact: string): Dialog {
    const contact = parseNameAddr(invite.headers.getAll('Contact')[0] ?? '');
    const to = invite.headers.get('To') ?? '';
    return new Dialog({
      sipCallId: invite.headers.get('Call-ID') ?? '',
      localTag,
      remoteTag: getTag(invite.headers.get('From') ?? '') ?? '',
      localParty: getTag(to) ? to : `${to};tag=${localTag}`,
      remoteParty: invite.headers.get('From') ?? '',
      localSeq: 0,
      remoteSeq: cseqNumber(invite),
      remoteTarget: contact?.uriText ?? invite.uri,
      routeSet: invite.headers.getAll('Record-Route'),
      flow,
      localContact,
    });
  }

  /** UAC side: the dialog a 2xx (or 1xx with a To tag) to our `invite` creates. */
  static fromUac(invite: SipRequest, response: SipResponse, flow: Flow, localContact: string): Dialog {
    const contact = parseNameAddr(response.headers.getAll('Contact')[0] ?? '');
    return new Dialog({
      sipCallId: invite.headers.get('Call-ID') ?? '',
      localTag: getTag(invite.headers.get('From') ?? '') ?? '',
      remoteTag: getTag(response.headers.get('To') ?? '') ?? '',
      localParty: invite.headers.get('From') ?? '',
      remoteParty: response.headers.get('To') ?? '',
      localSeq: cseqNumber(invite),
      remoteSeq: 0,
      remoteTarget: contact?.uriText ?? invite.uri,
      routeSet: response.headers.getAll('Record-Route').reverse(),
      flow,
      localContact,
    });
  }

  /** Update the remote target from a target-refresh request/response (re-INVITE, UPDATE). */
  refreshTarget(message: SipRequest | SipResponse): void {
    const contact = parseNameAddr(message.headers.getAll('Contact')[0] ?? '');
    if (contact) this.remoteTarget = contact.uriText;
  }

  /**
   * Accept the CSeq of an inbound in-dialog request. False = out of order (RFC 3261 §12.2.2: 500).
   */
  acceptRemoteSeq(request: SipRequest): boolean {
    const seq = cseqNumber(request);
    if (request.method === 'ACK' || request.method === 'CANCEL') return true;
    if (this.remoteSeq && seq <= this.remoteSeq) return false;
    this.remoteSeq = seq;
    return true;
  }

  /** Build an in-dialog request. ACK reuses the INVITE's CSeq number (`ackFor`). */
  createRequest(
    method: string,
    opts: {
      body?: Buffer;
      contentType?: string;
      headers?: Iterable<readonly [string, string]>;
      ackFor?: number;
    } = {},
  ): SipRequest {
    const headers = new SipHeaders();
    for (const route of this.routeSet) headers.append('Route', route);
    headers.append('From', this.localParty);
    headers.append('To', this.remoteParty);
    headers.append('Call-ID', this.sipCallId);
    let seq: number;
    if (method === 'ACK') seq = opts.ackFor ?? this.localSeq;
    else seq = ++this.localSeq;
    headers.append('CSeq', `${seq} ${method}`);
    headers.append('Max-Forwards', '70');
    if (method === 'INVITE' || method === 'UPDATE') headers.append('Contact', `<${this.localContact}>`);
    if (opts.headers) for (const [name, value] of opts.headers) headers.append(name, value);
    const body = opts.body ?? EMPTY_BODY;
    if (body.length > 0) headers.set('Content-Type', opts.contentType ?? 'application/sdp');
    return { kind: 'request', method, uri: this.remoteTarget, version: 'SIP/2.0', headers, body };
  }
}

export function dialogKey(sipCallId: string, localTag: string, remoteTag: string): string {
  return `${sipCallId}|${localTag}|${remoteTag}`;
}

export function cseqNumber(message: SipRequest | SipResponse): number {
  const value = (message.headers.get('CSeq') ?? '').trim();
  const n = Number.parseInt(value, 10);
  return Number.isFinite(n) ? n : 0;
}
