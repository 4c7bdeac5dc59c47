/**
 * In-memory token buckets keyed by user or client address: the failed-login throttle of ./auth.ts
 * and, behind @fastify/rate-limit (./auth-plugin.ts), the request budget. One process serves the
 * API (DESIGN.md §6), so memory is the right place; the number of keys is bounded so that a flood
 * of made-up user names cannot grow it without limit.
 */
import type { BucketConfig } from './types.js';

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export type TakeResult = { ok: true } | { ok: false; retryAfterSeconds: number };

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly config: BucketConfig,
    private readonly now: () => number,
    private readonly maxKeys = 10_000,
  ) {
    if (!(config.capacity >= 1) || !(config.refillPerSecond > 0)) {
      throw new RangeError('a bucket needs capacity >= 1 and refillPerSecond > 0');
    }
  }

  /** Tokens now in the key's bucket (a full bucket for an unseen key). */
  private current(key: string): Bucket {
    const nowMs = this.now();
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return { tokens: this.config.capacity, updatedMs: nowMs };
    const elapsedSeconds = Math.max(0, nowMs - bucket.updatedMs) / 1000;
    return {
      tokens: Math.min(this.config.capacity, bucket.tokens + elapsedSeconds * this.config.refillPerSecond),
      updatedMs: nowMs,
    };
  }

  private retryAfter(tokens: number): number {
    return Math.max(1, Math.ceil((1 - tokens) / this.config.refillPerSecond));
  }

  /** Takes a token if there is one. */
  take(key: string): TakeResult {
    const bucket = this.current(key);
    if (bucket.tokens < 1) {
      this.store(key, bucket);
      return { ok: false, retryAfterSeconds: this.retryAfter(bucket.tokens) };
    }
    bucket.tokens -= 1;
    this.store(key, bucket);
    return { ok: true };
  }

  /** Gives back a token taken by take() (for an attempt that turned out not to count). */
  refund(key: string): void {
    const bucket = this.current(key);
    bucket.tokens = Math.min(this.config.capacity, bucket.tokens + 1);
    if (bucket.tokens >= this.config.capacity) this.buckets.delete(key);
    else this.store(key, bucket);
  }

  get size(): number {
    return this.buckets.size;
  }

  private store(key: string, bucket: Bucket): void {
    // Re-inserting keeps Map order = least recently used first, for eviction below.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxKeys) this.evict();
  }

  private evict(): void {
    // Full buckets carry no information; drop them first, then the least recently used.
    for (const [key] of this.buckets) {
      if (this.current(key).tokens >= this.config.capacity) this.buckets.delete(key);
    }
    for (const [key] of this.buckets) {
      if (this.buckets.size <= this.maxKeys) break;
      this.buckets.delete(key);
    }
  }
}
