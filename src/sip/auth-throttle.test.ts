/**
 * The failed-authentication throttle on its own, on a clock the test moves. Through the registrar
 * over real sockets: registrar.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { AuthFailureThrottle, DEFAULT_AUTH_THROTTLE } from './auth-throttle.js';

function withClock(options: ConstructorParameters<typeof AuthFailureThrottle>[0] = {}) {
  const clock = { now: 1_700_000_000_000 };
  const throttle = new AuthFailureThrottle({ ...options, now: () => clock.now });
  return { throttle, clock };
}

describe('AuthFailureThrottle', () => {
  it('defaults to 10 failures in 60 s, then 300 s of cooldown', () => {
    expect(DEFAULT_AUTH_THROTTLE).toEqual({ maxFailures: 10, windowSeconds: 60, cooldownSeconds: 300 });
    expect(new AuthFailureThrottle().config).toEqual(DEFAULT_AUTH_THROTTLE);
  });

  it('blocks an address at its maxFailures-th failure within the window, and says so once', () => {
    const { throttle, clock } = withClock();
    const started: boolean[] = [];
    for (let i = 0; i < 10; i++) {
      expect(throttle.isBlocked('10.0.0.1')).toBe(false);
      started.push(throttle.recordFailure('10.0.0.1'));
      clock.now += 5_000;
    }
    expect(started).toEqual([...Array<boolean>(9).fill(false), true]);
    expect(throttle.isBlocked('10.0.0.1')).toBe(true);
    expect(throttle.blockedCount).toBe(1);
    // Failures during the cooldown neither start another one nor extend it.
    expect(throttle.recordFailure('10.0.0.1')).toBe(false);
    expect(throttle.isBlocked('10.0.0.2')).toBe(false);
  });

  it('forgets failures older than the window (a sliding window)', () => {
    const { throttle, clock } = withClock({ maxFailures: 3, windowSeconds: 60 });
    throttle.recordFailure('a');
    clock.now += 30_000;
    throttle.recordFailure('a');
    clock.now += 30_000; // the first is now 60 s old: out
    expect(throttle.recordFailure('a')).toBe(false);
    expect(throttle.isBlocked('a')).toBe(false);
    clock.now += 1_000;
    expect(throttle.recordFailure('a')).toBe(true);
  });

  it('lifts the block when the cooldown ends, and the address starts afresh', () => {
    const { throttle, clock } = withClock({ maxFailures: 2, windowSeconds: 60, cooldownSeconds: 300 });
    throttle.recordFailure('a');
    expect(throttle.recordFailure('a')).toBe(true);
    clock.now += 299_999;
    expect(throttle.isBlocked('a')).toBe(true);
    clock.now += 1;
    expect(throttle.isBlocked('a')).toBe(false);
    expect(throttle.blockedCount).toBe(0);
    expect(throttle.size).toBe(0);
    // One failure after the cooldown is one failure, not the third.
    expect(throttle.recordFailure('a')).toBe(false);
    expect(throttle.isBlocked('a')).toBe(false);
    expect(throttle.recordFailure('a')).toBe(true);
  });

  it('tracks addresses separately', () => {
    const { throttle } = withClock({ maxFailures: 2 });
    throttle.recordFailure('a');
    throttle.recordFailure('b');
    expect(throttle.recordFailure('a')).toBe(true);
    expect(throttle.isBlocked('a')).toBe(true);
    expect(throttle.isBlocked('b')).toBe(false);
    expect(throttle.blockedCount).toBe(1);
  });

  it('bounds its memory, evicting idle and unblocked addresses before blocked ones', () => {
    const { throttle, clock } = withClock({ maxFailures: 2, maxAddresses: 100 });
    throttle.recordFailure('blocked');
    throttle.recordFailure('blocked');
    for (let i = 0; i < 1_000; i++) {
      throttle.recordFailure(`10.0.${i >> 8}.${i & 255}`);
      if (i === 500) clock.now += 120_000; // the first 500 go idle
      expect(throttle.size).toBeLessThanOrEqual(100);
    }
    expect(throttle.isBlocked('blocked')).toBe(true);
    // The most recent address is remembered.
    expect(throttle.recordFailure('10.0.3.231')).toBe(true);
  });

  it('refuses a configuration that would never or always block', () => {
    expect(() => new AuthFailureThrottle({ maxFailures: 0 })).toThrow(RangeError);
    expect(() => new AuthFailureThrottle({ maxFailures: 1.5 })).toThrow(RangeError);
    expect(() => new AuthFailureThrottle({ windowSeconds: 0 })).toThrow(RangeError);
    expect(() => new AuthFailureThrottle({ cooldownSeconds: -1 })).toThrow(RangeError);
    expect(() => new AuthFailureThrottle({ maxAddresses: 0 })).toThrow(RangeError);
  });
});
