/**
 * What INVITE and non-INVITE client transactions share (RFC 3261 §17.1): the serialized request,
 * sending it with its retransmission and timeout timers, and failing towards the TU once.
 */
import type { SipRequest, SipResponse } from '../message.js';
import { serializeMessage } from '../serializer.js';
import { type Flow, isReliable } from '../transport/types.js';
import type { ClientTransaction } from './index.js';
import {
  type ClientFailureReason,
  type ClientTransactionHandlers,
  TransactionBase,
  type TransactionHost,
} from './types.js';

export abstract class ClientTransactionBase<State extends string> extends TransactionBase<State> {
  protected readonly data: Buffer;
  /** Highest response status seen. */
  lastStatus = 0;

  constructor(
    host: TransactionHost,
    key: string,
    request: SipRequest,
    flow: Flow,
    protected readonly handlers: ClientTransactionHandlers,
  ) {
    super(host, key, request, flow);
    this.data = serializeMessage(request);
  }

  /** The concrete transaction, as handlers receive it. */
  protected abstract get self(): ClientTransaction;

  /** Whether the request is still being retransmitted in the current state, and how often. */
  protected abstract retransmitCap(): number;
  protected abstract retransmitsIn(state: State | 'terminated'): boolean;
  /** Interval until the next retransmission (Timer A/E). */
  protected nextRetransmitInterval(): number {
    return this.retransmitInterval;
  }

  abstract receive(response: SipResponse): void;

  start(): void {
    if (!this.host.sendRaw(this.data, this.flow)) {
      // Defer so the caller has the transaction object before hearing of the failure.
      queueMicrotask(() => this.fail('transportError'));
      return;
    }
    if (!isReliable(this.flow)) this.scheduleRetransmit(this.retransmitCap());
    // Timer B / F.
    this.timeoutTimer = setTimeout(() => {
      this.host.countTimeout();
      this.fail('timeout');
    }, 64 * this.host.timers.T1);
  }

  private scheduleRetransmit(cap: number): void {
    this.retransmitTimer = setTimeout(() => {
      if (!this.retransmitsIn(this.state)) return;
      this.resend(this.data);
      this.retransmitInterval = Math.min(this.retransmitInterval * 2, cap);
      this.scheduleRetransmit(cap);
    }, this.nextRetransmitInterval());
  }

  /** The transport could not deliver the request (a connection it opened failed): RFC 3261 §17.1.4. */
  transportFailed(): void {
    this.fail('transportError');
  }

  /** States in which a timeout no longer concerns the TU (it has its final response). */
  protected abstract hasFinal(): boolean;

  protected fail(reason: ClientFailureReason): void {
    if (this.state === 'terminated') return;
    if (this.hasFinal()) {
      if (reason === 'timeout') this.terminate();
      return;
    }
    this.terminate();
    this.handlers.onFailure?.(reason, this.self);
  }

  /** Pass a response up to the TU. */
  protected deliver(response: SipResponse): void {
    this.handlers.onResponse(response, this.self);
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.clearTimers();
    this.host.removeClientTransaction(this.key);
  }
}
