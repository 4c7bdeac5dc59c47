/**
 * RTE tokens (DESIGN.md §12): short-lived JWTs (HS256, subject = the user's id) signed with a key
 * kept in the data directory — generated once, file mode 600 — so that tokens survive a restart
 * and only this platform can mint them.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { jwtVerify, SignJWT } from 'jose';

export const RTE_TOKEN_AUDIENCE = 'switchboard-rte';
export const DEFAULT_TOKEN_TTL_SECONDS = 3600;

export interface RteTokens {
  /** A token for `userId`, valid `ttlSeconds` (default 1 h). */
  issue(userId: string, ttlSeconds?: number): Promise<{ token: string; expiresAtMs: number }>;
  /** The user id of a valid token, or null (garbage, wrong key, expired). */
  verify(token: string): Promise<string | null>;
}

/** The key file's 32 bytes, created (mode 600) when missing. */
export function loadOrCreateKey(file: string): Uint8Array {
  if (existsSync(file)) {
    const key = readFileSync(file);
    if (key.length >= 32) return new Uint8Array(key);
  }
  mkdirSync(dirname(file), { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, key, { mode: 0o600 });
  chmodSync(file, 0o600);
  return new Uint8Array(key);
}

export function createRteTokens(opts: {
  key: Uint8Array | { file: string };
  ttlSeconds?: number;
  now?: () => number;
}): RteTokens {
  const key = opts.key instanceof Uint8Array ? opts.key : loadOrCreateKey(opts.key.file);
  const now = opts.now ?? Date.now;
  return {
    async issue(userId, ttlSeconds = opts.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS) {
      const iat = Math.floor(now() / 1000);
      const exp = iat + ttlSeconds;
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(userId)
        .setAudience(RTE_TOKEN_AUDIENCE)
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .sign(key);
      return { token, expiresAtMs: exp * 1000 };
    },
    async verify(token) {
      if (typeof token !== 'string' || token.length === 0 || token.length > 4096) return null;
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: ['HS256'],
          audience: RTE_TOKEN_AUDIENCE,
          currentDate: new Date(now()),
        });
        return typeof payload.sub === 'string' && payload.sub.length > 0 ? payload.sub : null;
      } catch {
        return null;
      }
    },
  };
}
