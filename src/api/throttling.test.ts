/** Throttling over real HTTP, with the API's clock under the test's control. */
import { afterEach, describe, expect, it } from 'vitest';
import { asRecord, basic, PASSWORDS, request, startTestApi, type TestApi } from './test-fixtures.js';
import type { RateLimits } from './types.js';

let api: TestApi | undefined;
let clockMs = Date.UTC(2024, 4, 1, 12, 0, 0);

afterEach(async () => {
  await api?.close();
  api = undefined;
});

async function start(rateLimits: Partial<RateLimits>): Promise<TestApi> {
  api = await startTestApi({ rateLimits, now: () => clockMs });
  return api;
}

const authUser = (target: TestApi, username: string, password: string) =>
  request(target.baseUrl, `/authuser/${username}`, {
    method: 'POST',
    body: { UserName: username, Password: password },
  });

describe('repeated wrong passwords', () => {
  it('are throttled per user with 429 and Retry-After, even for the right password, until the limit refills', async () => {
    const target = await start({ authFailures: { capacity: 3, refillPerSecond: 1 / 60 } });
    for (let attempt = 0; attempt < 3; attempt++) {
      expect((await authUser(target, 'a@example.com', 'guess')).status).toBe(401);
    }
    const throttled = await authUser(target, 'a@example.com', 'guess');
    expect(throttled.status).toBe(429);
    expect(asRecord(throttled.body).Code).toBe('TOO_MANY_REQUESTS');
    const retryAfter = Number(throttled.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);

    // The right password does not get through a lock-out (else guessing could go on).
    expect((await authUser(target, 'a@example.com', PASSWORDS['a@example.com']!)).status).toBe(429);
    // Other users are not affected.
    expect((await authUser(target, 'b@example.com', PASSWORDS['b@example.com']!)).status).toBe(200);

    clockMs += retryAfter * 1000;
    expect((await authUser(target, 'a@example.com', PASSWORDS['a@example.com']!)).status).toBe(200);
  });

  it('are throttled for unknown user names too, with the same answers', async () => {
    const target = await start({ authFailures: { capacity: 2, refillPerSecond: 1 / 60 } });
    expect((await authUser(target, 'ghost@example.com', 'x')).status).toBe(401);
    expect((await authUser(target, 'GHOST@example.com', 'x')).status).toBe(401);
    expect((await authUser(target, 'ghost@example.com', 'x')).status).toBe(429);
  });

  it('cannot be raced: parallel guesses beyond the limit are refused without being checked', async () => {
    const target = await start({ authFailures: { capacity: 3, refillPerSecond: 1 / 60 } });
    const statuses = await Promise.all(
      Array.from({ length: 12 }, () =>
        authUser(target, 'c@example.com', 'guess').then((response) => response.status),
      ),
    );
    expect(statuses.filter((status) => status === 401)).toHaveLength(3);
    expect(statuses.filter((status) => status === 429)).toHaveLength(9);
  });
});

describe('repeated wrong secret keys', () => {
  it('are throttled per user; the right key is refused while throttled; the password exchange is separate', async () => {
    const target = await start({ authFailures: { capacity: 3, refillPerSecond: 1 / 30 } });
    const key = await target.keyOf('b@example.com');
    const me = (secret: string) =>
      request(target.baseUrl, '/users/me', { headers: { authorization: basic('b@example.com', secret) } });
    expect((await me(key)).status).toBe(200);
    for (let attempt = 0; attempt < 3; attempt++) expect((await me(`${key}x`)).status).toBe(401);
    const throttled = await me(key);
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await authUser(target, 'b@example.com', PASSWORDS['b@example.com']!)).status).toBe(200);

    clockMs += 30_000;
    expect((await me(key)).status).toBe(200);
  });
});

describe('a burst of parallel requests with the right key', () => {
  it('is not taken for failed logins: a fresh key and a verified one both pass, 50 at once', async () => {
    const target = await start({
      authFailures: { capacity: 3, refillPerSecond: 1 / 60 },
      requests: { capacity: 1000, refillPerSecond: 1000 },
    });
    const key = await target.keyOf('c@example.com');
    const me = () =>
      request(target.baseUrl, '/users/me', { headers: { authorization: basic('c@example.com', key) } }).then(
        (response) => response.status,
      );
    // Fresh: the first request verifies the key, the others wait for that verification.
    expect(await Promise.all(Array.from({ length: 50 }, me))).toEqual(Array(50).fill(200));
    // Verified: each gives its token back before anything else runs.
    expect(await Promise.all(Array.from({ length: 50 }, me))).toEqual(Array(50).fill(200));
    // Wrong keys are still counted, and then lock the right one out too.
    const wrong = () =>
      request(target.baseUrl, '/users/me', { headers: { authorization: basic('c@example.com', `${key}x`) } });
    for (let attempt = 0; attempt < 3; attempt++) expect((await wrong()).status).toBe(401);
    expect(await me()).toBe(429);
  });
});

describe('the per-credential request limit', () => {
  it('answers 429 with Retry-After past the limit, per user, and recovers as the bucket refills', async () => {
    const target = await start({ requests: { capacity: 3, refillPerSecond: 0.5 } });
    for (let i = 0; i < 3; i++) expect((await target.get('/users/me', 'a@example.com')).status).toBe(200);
    const throttled = await target.get('/users/me', 'a@example.com');
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('2');
    expect(asRecord(throttled.body).Message).toMatch(/too many requests/i);
    expect((await target.get('/users/me', 'b@example.com')).status).toBe(200);
    clockMs += 2000;
    expect((await target.get('/users/me', 'a@example.com')).status).toBe(200);
    expect((await target.get('/users/me', 'a@example.com')).status).toBe(429);
  });
});

describe('unauthenticated endpoints', () => {
  it('are limited per client address', async () => {
    const target = await start({ anonymous: { capacity: 4, refillPerSecond: 1 } });
    for (let i = 0; i < 4; i++) {
      expect((await request(target.baseUrl, '/api/user?user=a@example.com')).status).toBe(200);
    }
    const throttled = await request(target.baseUrl, '/api/user?user=a@example.com');
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('1');
  });
});
