/**
 * INVITE client transaction (RFC 3261 §17.1.1 with RFC 6026): Calling retransmits with Timer A
 * until a response; Timer B (64·T1) runs only in Calling. A 2xx moves it to Accepted, where every
 * 2xx (forked answers, retransmissions) goes to the TU, which ACKs them itself; a non-2xx final
 * is ACKed here (§17.1.1.3) and Completed absorbs its retransmissions for Timer D.
 */
import { EMPTY_BODY, SipHeaders, type SipRequest, type SipResponse } from '../message.js';
import { serializeMessage } from '../serializer.js';
import { isReliable } from '../transport/types.js';
import { ClientTransactionBase } from './client-base.js';
import type { ClientTransaction } from './index.js';

type InviteClientState = 'calling' | 'proceeding' | 'completed' | 'accepted';

export class InviteClientTransaction extends ClientTransactionBase<InviteClientState> {
  state: InviteClientState | 'terminated' = 'calling';
  /** RFC 3261 §9.1: after a CANCEL, give the INVITE 64·T1 to get its final response. */
  private cancelTimer?: NodeJS.Timeout;
  /** The ACK sent for a non-2xx final response, kept to answer retransmitted finals. */
  private ackData?: Buffer;

  get isInvite(): true {
    return true;
  }

  /** Whether a provisional response has been received (CANCEL may be sent only then). */
  get hasProvisional(): boolean {
    return this.lastStatus >= 100;
  }

  protected get self(): ClientTransaction {
    return this;
  }

  protected retransmitCap(): number {
    return Number.POSITIVE_INFINITY;
  }

  protected retransmitsIn(state: InviteClientState | 'terminated'): boolean {
    return state === 'calling';
  }

  protected hasFinal(): boolean {
    return this.state === 'completed' || this.state === 'accepted';
  }

  protected override clearTimers(): void {
    super.clearTimers();
    clearTimeout(this.cancelTimer);
  }

  receive(response: SipResponse): void {
    const { status } = response;
    if (this.state === 'terminated') return;
    if (status < 200) {
      if (this.state !== 'calling' && this.state !== 'proceeding') return;
      if (this.state === 'calling') {
        // Timer A stops; Timer B only runs in Calling (§17.1.1.2): a ringing INVITE waits for
        // its final response, or for the TU to CANCEL it, however long that takes.
        clearTimeout(this.retransmitTimer);
        clearTimeout(this.timeoutTimer);
      }
      this.state = 'proceeding';
      this.lastStatus = Math.max(this.lastStatus, status);
      this.deliver(response);
      return;
    }
    if (status < 300) {
      // RFC 6026 Accepted: every 2xx (including retransmissions from forked UAS) goes to the TU.
      if (this.state !== 'accepted') {
        this.clearTimers();
        this.state = 'accepted';
        this.lastStatus = status;
        this.timeoutTimer = setTimeout(() => this.terminate(), 64 * this.host.timers.T1);
      }
      this.deliver(response);
      return;
    }
    if (this.state === 'completed') {
      // A retransmitted final: answer it with the same ACK, tell nobody.
      if (this.ackData) this.host.sendRaw(this.ackData, this.flow);
      return;
    }
    if (this.state === 'accepted') return;
    this.clearTimers();
    this.lastStatus = status;
    this.state = 'completed';
    this.ackData = serializeMessage(buildNon2xxAck(this.request, response));
    this.host.sendRaw(this.ackData, this.flow);
    // Timer D: 32 s on UDP (at least 64·T1 with shrunk timers), zero over a reliable transport.
    const wait = isReliable(this.flow) ? 0 : Math.max(32_000, 64 * this.host.timers.T1);
    this.timeoutTimer = setTimeout(() => this.terminate(), wait);
    this.deliver(response);
  }

  /**
   * A CANCEL for this INVITE was sent: if no final response arrives within 64·T1, the transaction
   * is destroyed and the TU told of a timeout (RFC 3261 §9.1).
   */
  cancelSent(): void {
    if (this.cancelTimer || (this.state !== 'calling' && this.state !== 'proceeding')) return;
    this.cancelTimer = setTimeout(() => {
      this.host.countTimeout();
      this.fail('timeout');
    }, 64 * this.host.timers.T1);
  }
}

/** Headers the ACK of a non-2xx copies from its INVITE as they are (RFC 3261 §17.1.1.3). */
const ACK_COPIED_BEFORE_TO = ['Max-Forwards', 'Route', 'From'];

/**
 * RFC 3261 §17.1.1.3: the ACK for a non-2xx final response belongs to the INVITE transaction. It
 * is built from what that section lists — the original Request-URI, its top Via only, From, the
 * response's To (with its tag), Call-ID, the CSeq number with method ACK, the original's Route
 * headers and Max-Forwards — so nothing else of the INVITE (body, Contact, extension headers) leaks in.
 */
export function buildNon2xxAck(invite: SipRequest, response: SipResponse): SipRequest {
  const headers = new SipHeaders();
  const topVia = invite.headers.getAll('Via')[0];
  if (topVia) headers.append('Via', topVia);
  for (const name of ACK_COPIED_BEFORE_TO)
    for (const value of invite.headers.getLines(name)) headers.append(name, value);
  const to = response.headers.get('To') ?? invite.headers.get('To');
  if (to) headers.append('To', to);
  headers.append('Call-ID', invite.headers.get('Call-ID') ?? '');
  const cseq = invite.headers.get('CSeq') ?? '1 INVITE';
  headers.append('CSeq', `${cseq.trim().split(/\s+/)[0]} ACK`);
  return { kind: 'request', method: 'ACK', uri: invite.uri, version: 'SIP/2.0', headers, body: EMPTY_BODY };
}
