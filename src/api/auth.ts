/**
 * Authentication: the /authuser password exchange that mints secret keys, and HTTP Basic
 * `email:SecretKey` on every other endpoint.
 *
 * Secret keys are stored only as scrypt hashes with a per-key salt. Verifying a key against the
 * store costs one scrypt per stored key, which is too slow for every request of a busy
 * integration, so a verified key is remembered for a short while under an HMAC with a per-process
 * random key (the plain key is never kept). Wrong passwords and wrong keys are throttled per user.
 */
import { createHash, createHmac, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { Directory, User } from '../config/types.js';
import type { CredentialStore } from './credentials/index.js';
import { tooManyRequests, unauthorized } from './errors.js';
import { TokenBuckets } from './token-buckets.js';
import type { RateLimits } from './types.js';

// ---------------------------------------------------------------------------------------------
// Hashing.

/** scrypt cost: N=2^14, r=8, p=1 (16 MiB, tens of milliseconds), 32-byte output. */
const SCRYPT = { N: 16_384, r: 8, p: 1, keyLength: 32, saltLength: 16 } as const;
/** Stored hashes with parameters beyond these are refused rather than run (a corrupt row must not stall the server). */
const MAX_SCRYPT_N = 1 << 20;

function scryptAsync(secret: string, salt: Buffer, N: number, r: number, p: number, keyLength: number) {
  return new Promise<Buffer>((resolve, reject) => {
    scrypt(secret, salt, keyLength, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (error, derived) =>
      error ? reject(error) : resolve(derived),
    );
  });
}

/** A new secret key: 32 random bytes, base64url (43 characters, safe in a Basic header). */
export function generateSecretKey(): string {
  return randomBytes(32).toString('base64url');
}

/** `scrypt$N$r$p$salt$hash` with base64url salt and hash. */
export async function hashSecretKey(secretKey: string): Promise<string> {
  const salt = randomBytes(SCRYPT.saltLength);
  const derived = await scryptAsync(secretKey, salt, SCRYPT.N, SCRYPT.r, SCRYPT.p, SCRYPT.keyLength);
  return [
    'scrypt',
    SCRYPT.N,
    SCRYPT.r,
    SCRYPT.p,
    salt.toString('base64url'),
    derived.toString('base64url'),
  ].join('$');
}

/** Whether the key matches the stored hash; false (never a throw) for a hash in an unknown format. */
export async function verifySecretKey(secretKey: string, storedHash: string): Promise<boolean> {
  const parts = storedHash.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (
    ![N, r, p].every(Number.isSafeInteger) ||
    N < 2 ||
    N > MAX_SCRYPT_N ||
    r < 1 ||
    r > 32 ||
    p < 1 ||
    p > 16
  ) {
    return false;
  }
  const salt = Buffer.from(parts[4]!, 'base64url');
  const expected = Buffer.from(parts[5]!, 'base64url');
  if (salt.length === 0 || expected.length < 16 || expected.length > 64) return false;
  const derived = await scryptAsync(secretKey, salt, N, r, p, expected.length);
  return timingSafeEqual(derived, expected);
}

/** Constant-time equality of two strings of any lengths (compares fixed-size digests). */
export function constantTimeEquals(a: string, b: string): boolean {
  const digestA = createHash('sha256').update(a, 'utf8').digest();
  const digestB = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(digestA, digestB);
}

// ---------------------------------------------------------------------------------------------
// HTTP Basic.

export interface BasicCredentials {
  username: string;
  secret: string;
}

/** The credentials of an `Authorization: Basic ...` header, or undefined if it is not one. */
export function parseBasicAuthorization(header: string | undefined): BasicCredentials | undefined {
  if (header === undefined) return undefined;
  const match = /^Basic[ \t]+([A-Za-z0-9+/_-]+={0,2})[ \t]*$/i.exec(header);
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { username: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

// ---------------------------------------------------------------------------------------------
// The authenticator.

export interface AuthenticatorOptions {
  directory: Directory;
  credentials: CredentialStore;
  /** Only `authFailures` is used here: the failed-login throttle. */
  rateLimits: Pick<RateLimits, 'authFailures'>;
  now: () => number;
  maxActiveKeysPerUser: number;
  verifiedKeyCacheMs: number;
}

export class Authenticator {
  private readonly passwordFailures: TokenBuckets;
  private readonly keyFailures: TokenBuckets;
  private readonly cacheKey = randomBytes(32);
  /** HMAC(userId, key) → expiry (epoch ms). Map order = insertion order, used to bound its size. */
  private readonly verified = new Map<string, number>();
  private static readonly MAX_CACHED = 10_000;

  constructor(private readonly options: AuthenticatorOptions) {
    const { rateLimits, now } = options;
    this.passwordFailures = new TokenBuckets(rateLimits.authFailures, now);
    this.keyFailures = new TokenBuckets(rateLimits.authFailures, now);
  }

  /** Throttle key: the user id when the name is known, else the name, so that guessing names is throttled too. */
  private throttleKey(user: User | undefined, username: string): string {
    return user === undefined ? `name:${username.trim().toLowerCase()}` : `user:${user.userId}`;
  }

  /**
   * POST /authuser/{email}: checks the configured password and mints a new secret key, stored hashed.
   * Every failure — unknown user or wrong password — is the same 401.
   */
  async issueSecretKey(email: string, password: string): Promise<{ user: User; secretKey: string }> {
    const user = this.options.directory.userByUsername(email.trim());
    const throttleKey = this.throttleKey(user, email);
    // A token is taken before checking and given back on success, so that a burst of parallel
    // guesses cannot all pass the check before the first failure is counted.
    const allowed = this.passwordFailures.take(throttleKey);
    if (!allowed.ok) {
      throw tooManyRequests(
        'Too many failed logins for this user; try again later',
        allowed.retryAfterSeconds,
      );
    }
    // Compared even for an unknown user, so that the answer takes the same time.
    const matches = constantTimeEquals(
      password,
      user?.password ?? `\0unknown\0${randomBytes(8).toString('hex')}`,
    );
    if (user === undefined || !matches) throw unauthorized('Invalid user name or password');
    this.passwordFailures.refund(throttleKey);
    const secretKey = generateSecretKey();
    await this.options.credentials.saveSecretKeyHash(
      user.userId,
      await hashSecretKey(secretKey),
      this.options.now(),
    );
    return { user, secretKey };
  }

  /**
   * HTTP Basic `email:SecretKey` → the user; 401, or 429 while the user's failed logins are
   * throttled. The request budget is the rate-limit plugin's (./auth-plugin.ts).
   */
  async authenticate(authorization: string | undefined): Promise<User> {
    const credentials = parseBasicAuthorization(authorization);
    if (credentials === undefined) {
      throw unauthorized('Authentication required: HTTP Basic with your user name and secret key');
    }
    const user = this.options.directory.userByUsername(credentials.username.trim());
    const throttleKey = this.throttleKey(user, credentials.username);
    const allowed = this.keyFailures.take(throttleKey);
    if (!allowed.ok) {
      throw tooManyRequests(
        'Too many failed logins for this user; try again later',
        allowed.retryAfterSeconds,
      );
    }
    if (user === undefined || !(await this.verifyKey(user, credentials.secret))) throw unauthorized();
    this.keyFailures.refund(throttleKey);
    return user;
  }

  private async verifyKey(user: User, secretKey: string): Promise<boolean> {
    if (secretKey === '') return false;
    const nowMs = this.options.now();
    const cacheKey = createHmac('sha256', this.cacheKey)
      .update(`${user.userId}\0${secretKey}`)
      .digest('base64');
    const expiresMs = this.verified.get(cacheKey);
    if (expiresMs !== undefined && expiresMs > nowMs) return true;
    if (expiresMs !== undefined) this.verified.delete(cacheKey);

    const hashes = await this.options.credentials.listSecretKeyHashes(user.userId);
    for (const storedHash of hashes.slice(0, this.options.maxActiveKeysPerUser)) {
      if (await verifySecretKey(secretKey, storedHash)) {
        this.remember(cacheKey, nowMs + this.options.verifiedKeyCacheMs);
        return true;
      }
    }
    return false;
  }

  private remember(cacheKey: string, expiresMs: number): void {
    this.verified.set(cacheKey, expiresMs);
    if (this.verified.size <= Authenticator.MAX_CACHED) return;
    const nowMs = this.options.now();
    for (const [key, expiry] of this.verified) {
      if (expiry <= nowMs || this.verified.size > Authenticator.MAX_CACHED) this.verified.delete(key);
    }
  }
}
