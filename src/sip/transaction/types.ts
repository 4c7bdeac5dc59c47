/**
 * What the four transaction kinds share: the host they run in (the stack), the handlers a client
 * transaction reports to, and the sending and terminating every transaction does alike.
 */
import type { SipRequest, SipResponse } from '../message.js';
import type { Flow } from '../transport/types.js';
import type { ClientTransaction } from './index.js';
import type { TimerConfig } from './timers.js';

/** What a transaction needs from the stack: sending bytes and forgetting itself. */
export interface TransactionHost {
  readonly timers: TimerConfig;
  sendRaw(data: Buffer, flow: Flow): boolean;
  countRetransmission(): void;
  countTimeout(): void;
  removeServerTransaction(key: string): void;
  removeClientTransaction(key: string): void;
}

/** Why a server transaction ended (Timer H without ACK is `timedOut`). */
export type ServerTerminationReason = 'normal' | 'timedOut' | 'transportError';

/** Why a client transaction gave up before a final response (Timer B/F, or the transport). */
export type ClientFailureReason = 'timeout' | 'transportError';

/** What the TU hears from a client transaction. */
export interface ClientTransactionHandlers {
  /** Every response the transaction passes up (1xx, and finals once; INVITE 2xx retransmissions too). */
  onResponse(response: SipResponse, transaction: ClientTransaction): void;
  /** Timer B/F fired, or the transport refused the request: the TU sees a 408 / 503 equivalent. */
  onFailure?(reason: ClientFailureReason, transaction: ClientTransaction): void;
}

/** The timers every transaction holds: at most one retransmission and one timeout at a time. */
export abstract class TransactionBase<State extends string> {
  abstract state: State | 'terminated';
  protected retransmitTimer?: NodeJS.Timeout;
  protected timeoutTimer?: NodeJS.Timeout;
  protected retransmitInterval: number;

  constructor(
    protected readonly host: TransactionHost,
    readonly key: string,
    readonly request: SipRequest,
    readonly flow: Flow,
  ) {
    this.retransmitInterval = host.timers.T1;
  }

  protected clearTimers(): void {
    clearTimeout(this.retransmitTimer);
    clearTimeout(this.timeoutTimer);
  }

  /** Send a serialized message again (a retransmission, counted as such). */
  protected resend(data: Buffer): void {
    this.host.countRetransmission();
    this.host.sendRaw(data, this.flow);
  }
}
