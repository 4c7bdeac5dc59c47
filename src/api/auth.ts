/**
 * Authentication: the /authuser password exchange that mints secret keys, HTTP Basic
 * `email:SecretKey` on every other endpoint, and the keys' lifecycle.
 *
 * Secret keys are stored only as scrypt hashes with a per-key salt, next to a public key id and a
 * short SHA-256 lookup tag that finds the key's row, so that a request costs one scrypt however
 * many keys the user has. Even one scrypt is too slow for every request of a busy integration, so
 * a verified key is remembered for a short while under an HMAC with a per-process random key (the
 * plain key is never kept). Wrong passwords and wrong keys are throttled per user.
 *
 * A key stays valid until it is revoked: by DELETE /authuser/{email}/keys/{keyId}, or by a password
 * change. The password is configuration (the tenant file; SIP digest uses the same one), so a
 * password change is the configured password of a user differing from the one their keys were
 * minted under: the store keeps a scrypt hash of that password, and the first authentication or
 * login of the user after the change (a restart with the new configuration) revokes every key the
 * user had before it.
 */
import { createHash, createHmac, randomBytes, randomUUID, scrypt, timingSafeEqual } from 'node:crypto';
import type { Directory, User } from '../config/types.js';
import type { CredentialStore, StoredSecretKey } from './credentials/index.js';
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

/**
 * The lookup tag of a key: 16 base64url characters (96 bits) of its SHA-256. It finds the key's row
 * without trying every hash; a key is 256 random bits, so the tag tells nothing usable about it.
 */
export function secretKeyLookup(secretKey: string): string {
  return createHash('sha256').update(secretKey, 'utf8').digest('base64url').slice(0, 16);
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
  verifiedKeyCacheMs: number;
}

/** A key as listed: never its secret or hash. */
export interface SecretKeyInfo {
  keyId: string;
  userId: string;
  createdMs: number;
  lastUsedMs: number | null;
}

/** Who a request authenticated as, and with which key. */
export interface Authenticated {
  user: User;
  keyId: string;
}

interface VerifiedKey {
  expiresMs: number;
  userId: string;
  keyId: string;
}

const toKeyInfo = ({ keyId, userId, createdMs, lastUsedMs }: StoredSecretKey): SecretKeyInfo => ({
  keyId,
  userId,
  createdMs,
  lastUsedMs,
});

export class Authenticator {
  private readonly passwordFailures: TokenBuckets;
  private readonly keyFailures: TokenBuckets;
  private readonly cacheKey = randomBytes(32);
  /** HMAC(userId, key) → the key and until when. Map order = insertion order, used to bound its size. */
  private readonly verified = new Map<string, VerifiedKey>();
  /** Verifications under way, by the same cache key: parallel requests with one key wait for one. */
  private readonly verifying = new Map<string, Promise<string | undefined>>();
  private static readonly MAX_CACHED = 10_000;
  /** userId → HMAC of the configured password whose keys are known to be current in this process. */
  private readonly passwordsChecked = new Map<string, string>();
  /** userId → the password check under way (one at a time per user). */
  private readonly passwordChecks = new Map<string, Promise<void>>();

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
  async issueSecretKey(
    email: string,
    password: string,
  ): Promise<{ user: User; secretKey: string; keyId: string }> {
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
    // Keys of a previous password are revoked before the new one is saved.
    await this.revokeKeysOfOldPasswords(user);
    const secretKey = generateSecretKey();
    const keyId = randomUUID();
    await this.options.credentials.saveSecretKey({
      keyId,
      userId: user.userId,
      keyHash: await hashSecretKey(secretKey),
      lookup: secretKeyLookup(secretKey),
      createdMs: this.options.now(),
    });
    return { user, secretKey, keyId };
  }

  /**
   * HTTP Basic `email:SecretKey` → the user; 401, or 429 while the user's failed logins are
   * throttled. The request budget is the rate-limit plugin's (./auth-plugin.ts).
   */
  async authenticate(authorization: string | undefined): Promise<User> {
    return (await this.authenticateKey(authorization)).user;
  }

  /** As `authenticate`, with the id of the key that authenticated. */
  async authenticateKey(authorization: string | undefined): Promise<Authenticated> {
    const credentials = parseBasicAuthorization(authorization);
    if (credentials === undefined) {
      throw unauthorized('Authentication required: HTTP Basic with your user name and secret key');
    }
    const user = this.options.directory.userByUsername(credentials.username.trim());
    // Requests presenting a key that is being verified right now share that verification (an
    // integration's burst of parallel requests with a fresh key): it was admitted by the throttle,
    // and the same key gains nothing from being checked again.
    const inFlight = user && this.verifying.get(this.verifiedCacheKey(user, credentials.secret));
    if (user !== undefined && inFlight !== undefined) {
      const keyId = await inFlight;
      if (keyId === undefined) throw unauthorized();
      return { user, keyId };
    }
    const throttleKey = this.throttleKey(user, credentials.username);
    const allowed = this.keyFailures.take(throttleKey);
    if (!allowed.ok) {
      throw tooManyRequests(
        'Too many failed logins for this user; try again later',
        allowed.retryAfterSeconds,
      );
    }
    if (user === undefined) throw unauthorized();
    // A key verified within the cache period (under the current password) is given its token back
    // at once, before anything else runs: parallel requests never pile up taken tokens.
    const known =
      this.passwordsChecked.get(user.userId) === this.passwordTag(user)
        ? this.cachedKeyId(user, credentials.secret)
        : undefined;
    if (known !== undefined) {
      this.keyFailures.refund(throttleKey);
      return { user, keyId: known };
    }
    await this.revokeKeysOfOldPasswords(user);
    const keyId = await this.verifyOnce(user, credentials.secret);
    if (keyId === undefined) throw unauthorized();
    this.keyFailures.refund(throttleKey);
    return { user, keyId };
  }

  /** `verifyKey`, shared by the requests that present the same key while it runs. */
  private verifyOnce(user: User, secretKey: string): Promise<string | undefined> {
    const cacheKey = this.verifiedCacheKey(user, secretKey);
    const running = this.verifyKey(user, secretKey).finally(() => this.verifying.delete(cacheKey));
    this.verifying.set(cacheKey, running);
    return running;
  }

  /** Which password of the user the keys were last checked against (an HMAC of it). */
  private passwordTag(user: User): string {
    return createHmac('sha256', this.cacheKey)
      .update(`password\0${user.userId}\0${user.password}`)
      .digest('base64');
  }

  private verifiedCacheKey(user: User, secretKey: string): string {
    return createHmac('sha256', this.cacheKey).update(`${user.userId}\0${secretKey}`).digest('base64');
  }

  /** The id of the key when this exact key was verified within the cache period. */
  private cachedKeyId(user: User, secretKey: string): string | undefined {
    const cached = this.verified.get(this.verifiedCacheKey(user, secretKey));
    return cached !== undefined && cached.expiresMs > this.options.now() ? cached.keyId : undefined;
  }

  /** The user's keys, newest first. */
  async listKeys(user: User): Promise<SecretKeyInfo[]> {
    await this.revokeKeysOfOldPasswords(user);
    return (await this.options.credentials.listSecretKeys(user.userId)).map(toKeyInfo);
  }

  /** Revokes one key of the user: it is refused from now on. Undefined when the user has no such key. */
  async revokeKey(user: User, keyId: string): Promise<SecretKeyInfo | undefined> {
    const key = (await this.options.credentials.listSecretKeys(user.userId)).find(
      (stored) => stored.keyId === keyId,
    );
    if (key === undefined || !(await this.options.credentials.deleteSecretKey(user.userId, keyId))) {
      return undefined;
    }
    this.forget((verified) => verified.keyId === keyId);
    return toKeyInfo(key);
  }

  /**
   * The id of the user's stored key that matches, or undefined. The candidates are the keys with
   * the presented key's lookup tag (and untagged keys from before tags); a match is remembered.
   */
  private async verifyKey(user: User, secretKey: string): Promise<string | undefined> {
    if (secretKey === '') return undefined;
    const nowMs = this.options.now();
    const cacheKey = this.verifiedCacheKey(user, secretKey);
    const cached = this.verified.get(cacheKey);
    if (cached !== undefined && cached.expiresMs > nowMs) return cached.keyId;
    if (cached !== undefined) this.verified.delete(cacheKey);

    const lookup = secretKeyLookup(secretKey);
    const candidates = await this.options.credentials.findSecretKeyCandidates(user.userId, lookup);
    for (const candidate of candidates) {
      if (await verifySecretKey(secretKey, candidate.keyHash)) {
        // Once per cache period at most: a write per request would be a write per request.
        await this.options.credentials.markSecretKeyUsed(candidate.keyId, nowMs, lookup);
        this.remember(cacheKey, {
          expiresMs: nowMs + this.options.verifiedKeyCacheMs,
          userId: user.userId,
          keyId: candidate.keyId,
        });
        return candidate.keyId;
      }
    }
    return undefined;
  }

  /**
   * Revokes every key of the user when the configured password is not the one their keys were
   * minted under (a password change), and records the current one. Checked against the store once
   * per user and password in this process; after that it costs one HMAC.
   */
  private async revokeKeysOfOldPasswords(user: User): Promise<void> {
    const passwordTag = this.passwordTag(user);
    if (this.passwordsChecked.get(user.userId) === passwordTag) return;
    let check = this.passwordChecks.get(user.userId);
    if (check === undefined) {
      check = this.checkPassword(user, passwordTag).finally(() => this.passwordChecks.delete(user.userId));
      this.passwordChecks.set(user.userId, check);
    }
    await check;
    // A check under way for an older password (a reconfiguration meanwhile) does not cover this one.
    if (this.passwordsChecked.get(user.userId) !== passwordTag) await this.revokeKeysOfOldPasswords(user);
  }

  private async checkPassword(user: User, passwordTag: string): Promise<void> {
    const { credentials, now } = this.options;
    const stored = await credentials.getPasswordHash(user.userId);
    if (stored === undefined || !(await verifySecretKey(user.password, stored))) {
      // First sight of the user (keys from before this check are kept), or a changed password.
      if (stored !== undefined) {
        await credentials.deleteSecretKeys(user.userId);
        this.forget((verified) => verified.userId === user.userId);
      }
      await credentials.setPasswordHash(user.userId, await hashSecretKey(user.password), now());
    }
    this.passwordsChecked.set(user.userId, passwordTag);
  }

  private forget(which: (verified: VerifiedKey) => boolean): void {
    for (const [key, verified] of this.verified) if (which(verified)) this.verified.delete(key);
  }

  private remember(cacheKey: string, verified: VerifiedKey): void {
    this.verified.set(cacheKey, verified);
    if (this.verified.size <= Authenticator.MAX_CACHED) return;
    const nowMs = this.options.now();
    for (const [key, entry] of this.verified) {
      if (entry.expiresMs <= nowMs || this.verified.size > Authenticator.MAX_CACHED)
        this.verified.delete(key);
    }
  }
}
