import { describe, expect, it } from 'vitest';
import { TokenBuckets } from './token-buckets.js';

describe('TokenBuckets', () => {
  it('allows a burst of `capacity`, then refuses with the seconds until a token is back', () => {
    let nowMs = 0;
    const buckets = new TokenBuckets({ capacity: 2, refillPerSecond: 0.25 }, () => nowMs);
    expect(buckets.take('k')).toEqual({ ok: true });
    expect(buckets.take('k')).toEqual({ ok: true });
    expect(buckets.take('k')).toEqual({ ok: false, retryAfterSeconds: 4 });
    nowMs += 3000;
    expect(buckets.take('k')).toEqual({ ok: false, retryAfterSeconds: 1 });
    nowMs += 1000;
    expect(buckets.take('k')).toEqual({ ok: true });
    expect(buckets.take('other')).toEqual({ ok: true });
  });

  it('never refills past capacity', () => {
    let nowMs = 0;
    const buckets = new TokenBuckets({ capacity: 1, refillPerSecond: 10 }, () => nowMs);
    buckets.take('k');
    nowMs += 3_600_000;
    expect(buckets.take('k').ok).toBe(true);
    expect(buckets.take('k').ok).toBe(false);
  });

  it('gives a refunded token back', () => {
    const buckets = new TokenBuckets({ capacity: 1, refillPerSecond: 0.001 }, () => 0);
    expect(buckets.take('k').ok).toBe(true);
    buckets.refund('k');
    expect(buckets.take('k').ok).toBe(true);
    expect(buckets.take('k').ok).toBe(false);
  });

  it('keeps at most maxKeys keys, dropping full buckets first, then the least recently used', () => {
    let nowMs = 0;
    const buckets = new TokenBuckets({ capacity: 2, refillPerSecond: 1 }, () => nowMs, 3);
    buckets.take('old');
    buckets.take('old');
    nowMs += 5000; // 'old' is full again
    buckets.take('a');
    buckets.take('a');
    buckets.take('b');
    buckets.take('c');
    expect(buckets.size).toBeLessThanOrEqual(3);
    expect(buckets.take('a').ok).toBe(false); // 'a' was kept: it still holds information
  });

  it('refuses a configuration that would never allow anything', () => {
    expect(() => new TokenBuckets({ capacity: 0, refillPerSecond: 1 }, () => 0)).toThrow(RangeError);
    expect(() => new TokenBuckets({ capacity: 1, refillPerSecond: 0 }, () => 0)).toThrow(RangeError);
  });
});
