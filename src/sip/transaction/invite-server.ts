/**
 * INVITE server transaction (RFC 3261 §17.2.1 with RFC 6026): Proceeding, then Accepted after a
 * 2xx (absorbing INVITE retransmissions; 2xx retransmission is the UAS core's job), or Completed
 * after a non-2xx, retransmitted with Timer G until the ACK (Confirmed, Timer I) or Timer H.
 */
import type { SipRequest, SipResponse } from '../message.js';
import { isReliable } from '../transport/types.js';
import { ServerTransactionBase } from './server-base.js';

type InviteServerState = 'proceeding' | 'completed' | 'confirmed' | 'accepted';

export class InviteServerTransaction extends ServerTransactionBase<InviteServerState> {
  state: InviteServerState | 'terminated' = 'proceeding';
  /** Set by the TU to learn of a CANCEL matching this transaction. */
  onCancel?: (cancel: SipRequest) => void;
  cancelled = false;

  get isInvite(): true {
    return true;
  }

  respond(response: SipResponse): void {
    const { state } = this;
    if (state === 'terminated' || state === 'completed' || state === 'confirmed') return;
    const is2xx = response.status >= 200 && response.status < 300;
    if (state === 'accepted' && !is2xx) return;
    if (!this.send(response) || response.status < 200) return;
    const { T1, T2 } = this.host.timers;
    if (is2xx) {
      // RFC 6026: stay to absorb INVITE retransmissions; 2xx retransmission is the TU's job.
      if (this.state !== 'accepted') {
        this.state = 'accepted';
        this.timeoutTimer = setTimeout(() => this.terminate('normal'), 64 * T1);
      }
      return;
    }
    this.state = 'completed';
    if (!isReliable(this.flow)) this.scheduleResponseRetransmit(T2);
    // Timer H: give up waiting for the ACK.
    this.timeoutTimer = setTimeout(() => {
      this.host.countTimeout();
      this.terminate('timedOut');
    }, 64 * T1);
  }

  /** Timer G: the non-2xx final again, doubling up to T2, until the ACK. */
  private scheduleResponseRetransmit(cap: number): void {
    this.retransmitTimer = setTimeout(() => {
      if (this.state !== 'completed' || !this.lastResponse) return;
      this.resend(this.lastResponse);
      this.retransmitInterval = Math.min(this.retransmitInterval * 2, cap);
      this.scheduleResponseRetransmit(cap);
    }, this.retransmitInterval);
  }

  /** An ACK for a non-2xx final response (matched by branch). */
  onAck(): void {
    if (this.state !== 'completed') return;
    this.state = 'confirmed';
    this.clearTimers();
    // Timer I: absorb ACK retransmissions.
    const wait = isReliable(this.flow) ? 0 : this.host.timers.T4;
    this.timeoutTimer = setTimeout(() => this.terminate('normal'), wait);
  }
}
