/**
 * Non-INVITE client transaction (RFC 3261 §17.1.2): Trying retransmits with Timer E doubling up
 * to T2, Proceeding every T2; Timer F (64·T1) fails it; Completed absorbs retransmitted finals
 * for Timer K (T4 over UDP, zero over a reliable transport).
 */
import type { SipResponse } from '../message.js';
import { isReliable } from '../transport/types.js';
import { ClientTransactionBase } from './client-base.js';
import type { ClientTransaction } from './index.js';

type NonInviteClientState = 'trying' | 'proceeding' | 'completed';

export class NonInviteClientTransaction extends ClientTransactionBase<NonInviteClientState> {
  state: NonInviteClientState | 'terminated' = 'trying';

  get isInvite(): false {
    return false;
  }

  protected get self(): ClientTransaction {
    return this;
  }

  protected retransmitCap(): number {
    return this.host.timers.T2;
  }

  protected retransmitsIn(state: NonInviteClientState | 'terminated'): boolean {
    return state === 'trying' || state === 'proceeding';
  }

  protected override nextRetransmitInterval(): number {
    return this.state === 'proceeding' ? this.host.timers.T2 : this.retransmitInterval;
  }

  protected hasFinal(): boolean {
    return this.state === 'completed';
  }

  receive(response: SipResponse): void {
    const { status } = response;
    if (this.state === 'terminated') return;
    if (status < 200) {
      if (this.state === 'completed') return;
      this.state = 'proceeding';
      this.lastStatus = Math.max(this.lastStatus, status);
      this.deliver(response);
      return;
    }
    // A retransmitted final: absorbed.
    if (this.state === 'completed') return;
    this.clearTimers();
    this.lastStatus = status;
    this.state = 'completed';
    // Timer K.
    const wait = isReliable(this.flow) ? 0 : this.host.timers.T4;
    this.timeoutTimer = setTimeout(() => this.terminate(), wait);
    this.deliver(response);
  }
}
