/**
 * What INVITE and non-INVITE server transactions share (RFC 3261 §17.2): the last response kept
 * for retransmission, the To tag of the responses, and answering a retransmitted request.
 */
import { getTag } from '../headers.js';
import type { SipResponse } from '../message.js';
import { serializeMessage } from '../serializer.js';
import { type ServerTerminationReason, TransactionBase } from './types.js';

export abstract class ServerTransactionBase<State extends string> extends TransactionBase<State> {
  /** The last response sent, serialized, for retransmission. */
  protected lastResponse?: Buffer;
  protected lastStatus = 0;
  /** Called once when the transaction ends (e.g. Timer H fired without ACK: `timedOut`). */
  onTerminated?: (reason: ServerTerminationReason) => void;
  /**
   * The To tag of the responses sent so far (RFC 3261 §8.2.6.2: all responses but 100 carry the
   * same one), so that a response the stack makes on the TU's behalf (487 to a CANCEL) matches.
   */
  localTag?: string;

  get finalStatus(): number {
    return this.lastStatus >= 200 ? this.lastStatus : 0;
  }

  /** Whether a final response was sent. */
  get isFinal(): boolean {
    return this.lastStatus >= 200;
  }

  /** The TU sends a response through the transaction. */
  abstract respond(response: SipResponse): void;

  /**
   * Serialize, remember and send `response`. False when the transport refused it: the
   * transaction is then terminated and the caller stops.
   */
  protected send(response: SipResponse): boolean {
    const data = serializeMessage(response);
    this.lastResponse = data;
    this.lastStatus = response.status;
    if (response.status > 100 && this.localTag === undefined)
      this.localTag = getTag(response.headers.get('To') ?? '');
    if (this.host.sendRaw(data, this.flow)) return true;
    this.terminate('transportError');
    return false;
  }

  /** A retransmission of the request arrived: resend the latest response (if any). */
  onRetransmission(): void {
    if (this.lastResponse && this.state !== 'terminated' && this.state !== 'confirmed')
      this.resend(this.lastResponse);
  }

  terminate(reason: ServerTerminationReason = 'normal'): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.clearTimers();
    this.host.removeServerTransaction(this.key);
    this.onTerminated?.(reason);
  }
}
