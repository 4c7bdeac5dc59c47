/** RFC 3261 §17.1.1.1 timer values; every other timer (A–K, M) is derived from these three. */
export interface TimerConfig {
  /** RTT estimate (ms). */
  T1: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses (ms). */
  T2: number;
  /** Maximum time a message remains in the network (ms). */
  T4: number;
}

export const DEFAULT_TIMERS: TimerConfig = { T1: 500, T2: 4000, T4: 5000 };
