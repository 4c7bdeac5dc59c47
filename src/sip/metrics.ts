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
  | 'authFailures';

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
