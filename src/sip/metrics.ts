/**
 * Counters for what the SIP server saw and did with bad input. Read by /metrics and by tests; bad
 * input must always be counted (and logged) rather than silently lost.
 */
export type SipCounterName =
  | 'messagesReceived'
  | 'messagesSent'
  | 'parseErrors'
  | 'badRequestsAnswered'
  | 'keepAlives'
  | 'oversizeMessages'
  | 'droppedMessages'
  | 'badWebSocketFrames'
  | 'webSocketConnections'
  | 'webSocketRejected'
  | 'retransmissionsSent'
  | 'transactionTimeouts'
  | 'strayResponses'
  | 'registrations'
  | 'authFailures'
  /** Requests refused with 403 without digest work because their source address is cooling down. */
  | 'authThrottled'
  /** Requests over UDP larger than the datagram limit, answered with 513. */
  | 'messagesTooLarge'
  /** TCP/TLS: connections accepted, opened by us, refused at the cap, closed for idleness or a stall. */
  | 'streamConnectionsAccepted'
  | 'streamConnectionsOpened'
  | 'streamConnectionsRefused'
  | 'streamConnectionsTimedOut'
  | 'streamConnectFailures'
  | 'streamFramingErrors'
  | 'tlsHandshakeFailures';

export class SipMetrics {
  private readonly counters = new Map<SipCounterName, number>();

  inc(name: SipCounterName, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  get(name: SipCounterName): number {
    return this.counters.get(name) ?? 0;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counters);
  }
}
