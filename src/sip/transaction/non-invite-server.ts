/**
 * Non-INVITE server transaction (RFC 3261 §17.2.2): Trying → Proceeding → Completed, where it
 * absorbs request retransmissions for Timer J (64·T1 over UDP, zero over a reliable transport).
 */
import type { SipResponse } from '../message.js';
import { isReliable } from '../transport/types.js';
import { ServerTransactionBase } from './server-base.js';

type NonInviteServerState = 'trying' | 'proceeding' | 'completed';

export class NonInviteServerTransaction extends ServerTransactionBase<NonInviteServerState> {
  state: NonInviteServerState | 'terminated' = 'trying';

  get isInvite(): false {
    return false;
  }

  respond(response: SipResponse): void {
    if (this.state === 'terminated' || this.state === 'completed') return;
    if (!this.send(response)) return;
    if (response.status < 200) {
      this.state = 'proceeding';
      return;
    }
    this.state = 'completed';
    // Timer J: absorb request retransmissions.
    if (isReliable(this.flow)) this.terminate('normal');
    else this.timeoutTimer = setTimeout(() => this.terminate('normal'), 64 * this.host.timers.T1);
  }
}
