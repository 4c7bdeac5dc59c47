/**
 * SIP transactions (RFC 3261 §17, with the RFC 6026 "Accepted" state for INVITE 2xx).
 *
 * Server transactions absorb request retransmissions and retransmit final responses over UDP;
 * client transactions retransmit requests over UDP and time out. Over WebSocket (reliable) no
 * retransmission happens and the wait timers D, I, J, K are zero.
 */
import { getTag } from './headers.js';
import type { SipRequest, SipResponse } from './message.js';
import { serializeMessage } from './serializer.js';
import { type Flow, isReliable } from './transport/types.js';

export interface TimerConfig {
  /** RTT estimate (ms). */
  T1: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses (ms). */
  T2: number;
  /** Maximum time a message remains in the network (ms). */
  T4: number;
}

export const DEFAULT_TIMERS: TimerConfig = { T1: 500, T2: 4000, T4: 5000 };

/** What a transaction needs from the stack: sending bytes and forgetting itself. */
export interface TransactionHost {
  readonly timers: TimerConfig;
  sendRaw(data: Buffer, flow: Flow): boolean;
  countRetransmission(): void;
  countTimeout(): void;
  removeServerTransaction(key: string): void;
  removeClientTransaction(key: string): void;
}

type ServerState = 'trying' | 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

export class ServerTransaction {
  state: ServerState;
  /** The last response sent, serialized, for retransmission. */
  private lastResponse?: Buffer;
  private lastStatus = 0;
  private retransmitTimer?: NodeJS.Timeout;
  private timeoutTimer?: NodeJS.Timeout;
  private retransmitInterval: number;
  /** INVITE only: set by the TU to learn of a CANCEL matching this transaction. */
  onCancel?: (cancel: SipRequest) => void;
  /** Called once when the transaction ends (e.g. Timer H fired without ACK: `timedOut`). */
  onTerminated?: (reason: 'normal' | 'timedOut' | 'transportError') => void;
  cancelled = false;
  /**
   * The To tag of the responses sent so far (RFC 3261 §8.2.6.2: all responses but 100 carry the
   * same one), so that a response the stack makes on the TU's behalf (487 to a CANCEL) matches.
   */
  localTag?: string;

  constructor(
    private readonly host: TransactionHost,
    readonly key: string,
    readonly request: SipRequest,
    readonly flow: Flow,
  ) {
    this.state = request.method === 'INVITE' ? 'proceeding' : 'trying';
    this.retransmitInterval = host.timers.T1;
  }

  get isInvite(): boolean {
    return this.request.method === 'INVITE';
  }

  get finalStatus(): number {
    return this.lastStatus >= 200 ? this.lastStatus : 0;
  }

  /** Whether a final response was sent. */
  get isFinal(): boolean {
    return this.lastStatus >= 200;
  }

  /** The TU sends a response through the transaction. */
  respond(response: SipResponse): void {
    if (this.state === 'terminated' || this.state === 'completed' || this.state === 'confirmed') return;
    if (this.state === 'accepted' && !(response.status >= 200 && response.status < 300)) return;
    const data = serializeMessage(response);
    this.lastResponse = data;
    this.lastStatus = response.status;
    if (response.status > 100 && this.localTag === undefined)
      this.localTag = getTag(response.headers.get('To') ?? '');
    if (!this.host.sendRaw(data, this.flow)) {
      this.terminate('transportError');
      return;
    }
    const reliable = isReliable(this.flow);
    const { T1, T2, T4 } = this.host.timers;
    if (response.status < 200) {
      if (this.state === 'trying') this.state = 'proceeding';
      return;
    }
    if (this.isInvite) {
      if (response.status < 300) {
        // RFC 6026: stay to absorb INVITE retransmissions; 2xx retransmission is the TU's job.
        if (this.state !== 'accepted') {
          this.state = 'accepted';
          this.timeoutTimer = setTimeout(() => this.terminate('normal'), 64 * T1);
        }
        return;
      }
      this.state = 'completed';
      if (!reliable) this.scheduleResponseRetransmit(T2);
      // Timer H: give up waiting for the ACK.
      this.timeoutTimer = setTimeout(() => {
        this.host.countTimeout();
        this.terminate('timedOut');
      }, 64 * T1);
      return;
    }
    this.state = 'completed';
    // Timer J: absorb request retransmissions.
    if (reliable) this.terminate('normal');
    else this.timeoutTimer = setTimeout(() => this.terminate('normal'), 64 * T1);
    void T4;
  }

  private scheduleResponseRetransmit(cap: number): void {
    this.retransmitTimer = setTimeout(() => {
      if (this.state !== 'completed' || !this.lastResponse) return;
      this.host.countRetransmission();
      this.host.sendRaw(this.lastResponse, this.flow);
      this.retransmitInterval = Math.min(this.retransmitInterval * 2, cap);
      this.scheduleResponseRetransmit(cap);
    }, this.retransmitInterval);
  }

  /** A retransmission of the request arrived: resend the latest response (if any). */
  onRetransmission(): void {
    if (this.lastResponse && this.state !== 'terminated' && this.state !== 'confirmed') {
      this.host.countRetransmission();
      this.host.sendRaw(this.lastResponse, this.flow);
    }
  }

  /** An ACK for a non-2xx final response (matched by branch). */
  onAck(): void {
    if (this.state !== 'completed') return;
    this.state = 'confirmed';
    clearTimeout(this.retransmitTimer);
    clearTimeout(this.timeoutTimer);
    // Timer I: absorb ACK retransmissions.
    const wait = isReliable(this.flow) ? 0 : this.host.timers.T4;
    this.timeoutTimer = setTimeout(() => this.terminate('normal'), wait);
  }

  terminate(reason: 'normal' | 'timedOut' | 'transportError' = 'normal'): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    clearTimeout(this.retransmitTimer);
    clearTimeout(this.timeoutTimer);
    this.host.removeServerTransaction(this.key);
    this.onTerminated?.(reason);
  }
}

export interface ClientTransactionHandlers {
  /** Every response the transaction passes up (1xx, and finals once; INVITE 2xx retransmissions too). */
  onResponse(response: SipResponse, transaction: ClientTransaction): void;
  /** Timer B/F fired, or the transport refused the request: the TU sees a 408 / 503 equivalent. */
  onFailure?(reason: 'timeout' | 'transportError', transaction: ClientTransaction): void;
}

type ClientState = 'calling' | 'trying' | 'proceeding' | 'completed' | 'accepted' | 'terminated';

export class ClientTransaction {
  state: ClientState;
  private readonly data: Buffer;
  private retransmitTimer?: NodeJS.Timeout;
  private timeoutTimer?: NodeJS.Timeout;
  /** RFC 3261 §9.1: after a CANCEL, give the INVITE 64·T1 to get its final response. */
  private cancelTimer?: NodeJS.Timeout;
  private retransmitInterval: number;
  /** The ACK sent for a non-2xx final response, kept to answer retransmitted finals. */
  private ackData?: Buffer;
  /** Highest response status seen. */
  lastStatus = 0;

  constructor(
    private readonly host: TransactionHost,
    readonly key: string,
    readonly request: SipRequest,
    readonly flow: Flow,
    private readonly handlers: ClientTransactionHandlers,
  ) {
    this.state = request.method === 'INVITE' ? 'calling' : 'trying';
    this.data = serializeMessage(request);
    this.retransmitInterval = host.timers.T1;
  }

  get isInvite(): boolean {
    return this.request.method === 'INVITE';
  }

  /** Whether a provisional response has been received (CANCEL may be sent only then). */
  get hasProvisional(): boolean {
    return this.lastStatus >= 100;
  }

  start(): void {
    if (!this.host.sendRaw(this.data, this.flow)) {
      // Defer so the caller has the transaction object before hearing of the failure.
      queueMicrotask(() => this.fail('transportError'));
      return;
    }
    const { T1, T2 } = this.host.timers;
    if (!isReliable(this.flow)) this.scheduleRetransmit(this.isInvite ? Number.POSITIVE_INFINITY : T2);
    // Timer B / F.
    this.timeoutTimer = setTimeout(() => {
      this.host.countTimeout();
      this.fail('timeout');
    }, 64 * T1);
  }

  private scheduleRetransmit(cap: number): void {
    this.retransmitTimer = setTimeout(
      () => {
        if (
          this.state !== 'calling' &&
          this.state !== 'trying' &&
          !(this.state === 'proceeding' && !this.isInvite)
        )
          return;
        this.host.countRetransmission();
        this.host.sendRaw(this.data, this.flow);
        this.retransmitInterval = Math.min(this.retransmitInterval * 2, cap);
        this.scheduleRetransmit(cap);
      },
      this.state === 'proceeding' && !this.isInvite ? this.host.timers.T2 : this.retransmitInterval,
    );
  }

  private fail(reason: 'timeout' | 'transportError'): void {
    if (this.state === 'terminated' || this.state === 'completed' || this.state === 'accepted') {
      if (this.state !== 'terminated' && reason === 'timeout') this.terminate();
      return;
    }
    this.terminate();
    this.handlers.onFailure?.(reason, this);
  }

  receive(response: SipResponse): void {
    const status = response.status;
    if (this.state === 'terminated') return;
    if (status < 200) {
      if (this.state === 'calling' || this.state === 'trying' || this.state === 'proceeding') {
        if (this.isInvite && this.state === 'calling') {
          // Timer A stops; Timer B only runs in Calling (§17.1.1.2): a ringing INVITE waits for
          // its final response, or for the TU to CANCEL it, however long that takes.
          clearTimeout(this.retransmitTimer);
          clearTimeout(this.timeoutTimer);
        }
        this.state = 'proceeding';
        this.lastStatus = Math.max(this.lastStatus, status);
        this.handlers.onResponse(response, this);
      }
      return;
    }
    if (this.isInvite && status < 300) {
      // RFC 6026 Accepted: every 2xx (including retransmissions from forked UAS) goes to the TU.
      const first = this.state !== 'accepted';
      if (first) {
        clearTimeout(this.retransmitTimer);
        clearTimeout(this.timeoutTimer);
        clearTimeout(this.cancelTimer);
        this.state = 'accepted';
        this.lastStatus = status;
        this.timeoutTimer = setTimeout(() => this.terminate(), 64 * this.host.timers.T1);
      }
      this.handlers.onResponse(response, this);
      return;
    }
    if (this.state === 'completed') {
      // A retransmitted final: answer it with the same ACK, tell nobody.
      if (this.ackData) this.host.sendRaw(this.ackData, this.flow);
      return;
    }
    if (this.state === 'accepted') return;
    clearTimeout(this.retransmitTimer);
    clearTimeout(this.timeoutTimer);
    clearTimeout(this.cancelTimer);
    this.lastStatus = status;
    this.state = 'completed';
    if (this.isInvite) {
      this.ackData = serializeMessage(buildNon2xxAck(this.request, response));
      this.host.sendRaw(this.ackData, this.flow);
    }
    const reliable = isReliable(this.flow);
    // Timer D (INVITE, 32 s on UDP) / Timer K (non-INVITE, T4).
    const wait = reliable
      ? 0
      : this.isInvite
        ? Math.max(32_000, 64 * this.host.timers.T1)
        : this.host.timers.T4;
    this.timeoutTimer = setTimeout(() => this.terminate(), wait);
    this.handlers.onResponse(response, this);
  }

  /**
   * A CANCEL for this INVITE was sent: if no final response arrives within 64·T1, the transaction
   * is destroyed and the TU told of a timeout (RFC 3261 §9.1).
   */
  cancelSent(): void {
    if (!this.isInvite || this.cancelTimer || (this.state !== 'calling' && this.state !== 'proceeding'))
      return;
    this.cancelTimer = setTimeout(() => {
      this.host.countTimeout();
      this.fail('timeout');
    }, 64 * this.host.timers.T1);
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    clearTimeout(this.retransmitTimer);
    clearTimeout(this.timeoutTimer);
    clearTimeout(this.cancelTimer);
    this.host.removeClientTransaction(this.key);
  }
}

/** RFC 3261 §17.1.1.3: the ACK for a non-2xx final response belongs to the INVITE transaction. */
export function buildNon2xxAck(invite: SipRequest, response: SipResponse): SipRequest {
  const headers = invite.headers.clone();
  // Only the top Via; To from the response (it carries the tag); CSeq with method ACK.
  const topVia = invite.headers.getAll('Via')[0];
  headers.delete('Via');
  if (topVia) headers.append('Via', topVia);
  const to = response.headers.get('To');
  if (to) headers.set('To', to);
  const cseq = invite.headers.get('CSeq') ?? '1 INVITE';
  headers.set('CSeq', `${cseq.trim().split(/\s+/)[0]} ACK`);
  for (const name of [
    'Content-Type',
    'Contact',
    'Allow',
    'Supported',
    'X-Server-Call-Id',
    'X-Call-Leg-Id',
    'X-Queue-Id',
    'X-Queue-Name',
    'P-Asserted-Identity',
  ]) {
    headers.delete(name);
  }
  return {
    kind: 'request',
    method: 'ACK',
    uri: invite.uri,
    version: 'SIP/2.0',
    headers,
    body: Buffer.alloc(0),
  };
}
