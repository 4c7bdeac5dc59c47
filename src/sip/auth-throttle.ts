/**
 * Failed SIP authentications per source address (DESIGN.md §6: no user enumeration, and no
 * unlimited password guessing either).
 *
 * After `maxFailures` failures from one address within `windowSeconds`, the address cools down for
 * `cooldownSeconds`: the registrar answers every request from it that needs authentication with 403
 * at once, without digest work and without a challenge. When the cooldown ends the address starts
 * afresh.
 *
 * Memory is bounded: at most `maxAddresses` addresses are tracked. Past that, addresses with
 * nothing worth remembering (no failure in the window, no cooldown) go first, then the least
 * recently failed ones, so a flood of made-up sources cannot grow the table.
 */

export interface AuthThrottleConfig {
  /** Failures within the window that start a cooldown (at least 1). */
  maxFailures: number;
  windowSeconds: number;
  cooldownSeconds: number;
}

export const DEFAULT_AUTH_THROTTLE: Readonly<AuthThrottleConfig> = Object.freeze({
  maxFailures: 10,
  windowSeconds: 60,
  cooldownSeconds: 300,
});

export interface AuthFailureThrottleOptions extends Partial<AuthThrottleConfig> {
  now?: () => number;
  /** How many source addresses are tracked at most (default 10,000). */
  maxAddresses?: number;
}

interface Entry {
  /** Times (ms) of the failures still inside the window, oldest first; at most maxFailures. */
  failures: number[];
  /** While cooling down: when the cooldown ends (ms). */
  blockedUntilMs?: number;
}

export class AuthFailureThrottle {
  readonly config: Readonly<AuthThrottleConfig>;
  private readonly windowMs: number;
  private readonly cooldownMs: number;
  private readonly now: () => number;
  private readonly maxAddresses: number;
  /** address → entry; Map order = least recently failed first, for eviction. */
  private readonly entries = new Map<string, Entry>();

  constructor(options: AuthFailureThrottleOptions = {}) {
    const config = {
      maxFailures: options.maxFailures ?? DEFAULT_AUTH_THROTTLE.maxFailures,
      windowSeconds: options.windowSeconds ?? DEFAULT_AUTH_THROTTLE.windowSeconds,
      cooldownSeconds: options.cooldownSeconds ?? DEFAULT_AUTH_THROTTLE.cooldownSeconds,
    };
    if (!Number.isSafeInteger(config.maxFailures) || config.maxFailures < 1) {
      throw new RangeError('authThrottle.maxFailures must be a whole number >= 1');
    }
    if (!(config.windowSeconds > 0) || !(config.cooldownSeconds > 0)) {
      throw new RangeError('authThrottle.windowSeconds and cooldownSeconds must be > 0');
    }
    const maxAddresses = options.maxAddresses ?? 10_000;
    if (!Number.isSafeInteger(maxAddresses) || maxAddresses < 1) {
      throw new RangeError('maxAddresses must be a whole number >= 1');
    }
    this.config = Object.freeze(config);
    this.windowMs = config.windowSeconds * 1000;
    this.cooldownMs = config.cooldownSeconds * 1000;
    this.now = options.now ?? Date.now;
    this.maxAddresses = maxAddresses;
  }

  /** Whether requests from `address` are refused without authentication right now. */
  isBlocked(address: string): boolean {
    const entry = this.entries.get(address);
    if (entry?.blockedUntilMs === undefined) return false;
    if (entry.blockedUntilMs > this.now()) return true;
    // The cooldown is over: the address starts afresh.
    this.entries.delete(address);
    return false;
  }

  /**
   * Counts a failed authentication from `address`. Returns true when this failure started a
   * cooldown (log it once, then), false otherwise.
   */
  recordFailure(address: string): boolean {
    const nowMs = this.now();
    let entry = this.entries.get(address);
    if (entry?.blockedUntilMs !== undefined) {
      if (entry.blockedUntilMs > nowMs) return false;
      entry = undefined;
    }
    const failures = (entry?.failures ?? []).filter((at) => nowMs - at < this.windowMs);
    failures.push(nowMs);
    // Re-inserting keeps Map order = least recently failed first.
    this.entries.delete(address);
    if (failures.length >= this.config.maxFailures) {
      this.entries.set(address, { failures: [], blockedUntilMs: nowMs + this.cooldownMs });
      this.bound();
      return true;
    }
    this.entries.set(address, { failures });
    this.bound();
    return false;
  }

  /** How many addresses are cooling down now. */
  get blockedCount(): number {
    const nowMs = this.now();
    let n = 0;
    for (const entry of this.entries.values()) {
      if (entry.blockedUntilMs !== undefined && entry.blockedUntilMs > nowMs) n++;
    }
    return n;
  }

  /** How many addresses are tracked (cooling down or with failures in the window). */
  get size(): number {
    return this.entries.size;
  }

  private bound(): void {
    if (this.entries.size <= this.maxAddresses) return;
    // Make room for a tenth more at once, so that eviction is not paid on every failure.
    const target = Math.max(1, Math.floor(this.maxAddresses * 0.9));
    const nowMs = this.now();
    const idle = (entry: Entry) =>
      entry.blockedUntilMs !== undefined
        ? entry.blockedUntilMs <= nowMs
        : entry.failures.every((at) => nowMs - at >= this.windowMs);
    for (const [address, entry] of this.entries) {
      if (this.entries.size <= target) return;
      if (idle(entry)) this.entries.delete(address);
    }
    for (const [address, entry] of this.entries) {
      if (this.entries.size <= target) return;
      if (entry.blockedUntilMs === undefined) this.entries.delete(address);
    }
    for (const address of this.entries.keys()) {
      if (this.entries.size <= target) return;
      this.entries.delete(address);
    }
  }
}
