/**
 * HTTP Digest authentication for SIP (RFC 3261 §22, RFC 2617 with qop=auth, MD5).
 *
 * Nonces are stateless: `<issued-ms>.<salt>.<hmac>` signed with a per-process secret, so any number
 * of challenges costs no memory. The random salt makes every nonce unique even when many challenges
 * are issued in the same millisecond (nonce counts are tracked per nonce, so two UAs must never
 * share one). A nonce older than `nonceTtlSeconds` is answered with `stale=true`, which makes
 * clients retry with the same credentials and a fresh nonce. Nonce counts are
 * remembered per nonce (bounded) to refuse replays. An unknown username costs the same digest work
 * as a known one (a per-process random stand-in password), so timing does not reveal which exist.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseAuthParams } from './headers.js';

export interface DigestChallengeOptions {
  realm: string;
  stale?: boolean;
}

export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm?: string;
  qop?: string;
  nc?: string;
  cnonce?: string;
  opaque?: string;
}

export type DigestVerdict =
  | { ok: true; username: string }
  | {
      ok: false;
      reason:
        | 'missing'
        | 'malformed'
        | 'unknown-user'
        | 'wrong-realm'
        | 'bad-nonce'
        | 'stale'
        | 'replay'
        | 'wrong-password'
        | 'unsupported';
    };

export interface DigestAuthenticatorOptions {
  realm: string;
  nonceTtlSeconds?: number;
  now?: () => number;
}

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

export function digestHa1(username: string, realm: string, password: string): string {
  return md5(`${username}:${realm}:${password}`);
}

/** The expected `response` value for credentials (RFC 2617 §3.2.2.1). */
export function digestResponse(
  ha1: string,
  method: string,
  creds: Pick<DigestCredentials, 'nonce' | 'uri' | 'qop' | 'nc' | 'cnonce'>,
): string {
  const ha2 = md5(`${method}:${creds.uri}`);
  if (creds.qop) return md5(`${ha1}:${creds.nonce}:${creds.nc}:${creds.cnonce}:${creds.qop}:${ha2}`);
  return md5(`${ha1}:${creds.nonce}:${ha2}`);
}

export class DigestAuthenticator {
  readonly realm: string;
  private readonly secret = randomBytes(32);
  private readonly nonceTtlMs: number;
  private readonly now: () => number;
  /**
   * Stands in for the password of an unknown user, so that refusing one costs the same digest work
   * as refusing a wrong password (no timing difference tells whether a username exists).
   */
  private readonly dummyPassword = randomBytes(24).toString('base64url');
  /** nonce → highest nc seen; bounded so that a flood of nonces cannot grow memory. */
  private readonly nonceCounts = new Map<string, number>();

  constructor(opts: DigestAuthenticatorOptions) {
    this.realm = opts.realm;
    this.nonceTtlMs = (opts.nonceTtlSeconds ?? 300) * 1000;
    this.now = opts.now ?? Date.now;
  }

  private sign(issued: string): string {
    return createHmac('sha256', this.secret).update(issued).digest('base64url').slice(0, 22);
  }

  newNonce(): string {
    const payload = `${this.now().toString(36)}.${randomBytes(9).toString('base64url')}`;
    return `${payload}.${this.sign(payload)}`;
  }

  /** The value of a WWW-Authenticate / Proxy-Authenticate header. */
  challenge(opts: { stale?: boolean } = {}): string {
    const stale = opts.stale ? ', stale=true' : '';
    return `Digest realm="${this.realm}", nonce="${this.newNonce()}", algorithm=MD5, qop="auth"${stale}`;
  }

  private checkNonce(nonce: string): 'ok' | 'bad' | 'stale' {
    const lastDot = nonce.lastIndexOf('.');
    const firstDot = nonce.indexOf('.');
    if (firstDot <= 0 || lastDot === firstDot) return 'bad';
    const payload = nonce.slice(0, lastDot);
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(nonce.slice(lastDot + 1));
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'bad';
    const issuedMs = Number.parseInt(nonce.slice(0, firstDot), 36);
    if (!Number.isFinite(issuedMs)) return 'bad';
    if (this.now() - issuedMs > this.nonceTtlMs) return 'stale';
    return 'ok';
  }

  /**
   * Verify an Authorization / Proxy-Authorization header value for `method`.
   * `passwordFor` returns the user's password (or undefined for an unknown user).
   */
  verify(
    headerValue: string | undefined,
    method: string,
    passwordFor: (username: string) => string | undefined,
  ): DigestVerdict {
    if (!headerValue) return { ok: false, reason: 'missing' };
    const parsed = parseAuthParams(headerValue);
    if (parsed?.scheme.toLowerCase() !== 'digest') return { ok: false, reason: 'malformed' };
    const p = parsed.params;
    const username = p.get('username');
    const nonce = p.get('nonce');
    const uri = p.get('uri');
    const response = p.get('response');
    const realm = p.get('realm');
    if (!username || !nonce || !uri || !response || realm === undefined)
      return { ok: false, reason: 'malformed' };
    const algorithm = p.get('algorithm');
    if (algorithm && algorithm.toUpperCase() !== 'MD5') return { ok: false, reason: 'unsupported' };
    const qop = p.get('qop');
    if (qop && qop !== 'auth') return { ok: false, reason: 'unsupported' };
    if (qop && (!p.get('nc') || !p.get('cnonce'))) return { ok: false, reason: 'malformed' };
    if (realm !== this.realm) return { ok: false, reason: 'wrong-realm' };
    const nonceState = this.checkNonce(nonce);
    if (nonceState === 'bad') return { ok: false, reason: 'bad-nonce' };
    const password = passwordFor(username);
    const known = password !== undefined;
    const expected = digestResponse(digestHa1(username, realm, password ?? this.dummyPassword), method, {
      nonce,
      uri,
      qop,
      nc: p.get('nc'),
      cnonce: p.get('cnonce'),
    });
    const a = Buffer.from(expected);
    const b = Buffer.from(response.toLowerCase());
    const matches = a.length === b.length && timingSafeEqual(a, b);
    // An unknown user is refused only now, after the same work as a known one.
    if (!known) return { ok: false, reason: 'unknown-user' };
    if (!matches) return { ok: false, reason: 'wrong-password' };
    // Correct credentials on an expired nonce: ask again with stale=true (no password prompt).
    if (nonceState === 'stale') return { ok: false, reason: 'stale' };
    if (qop) {
      const nc = Number.parseInt(p.get('nc') ?? '', 16);
      const seen = this.nonceCounts.get(nonce) ?? 0;
      if (!Number.isFinite(nc) || nc <= seen) return { ok: false, reason: 'replay' };
      this.rememberNonceCount(nonce, nc);
    }
    return { ok: true, username };
  }

  private rememberNonceCount(nonce: string, nc: number): void {
    this.nonceCounts.delete(nonce);
    this.nonceCounts.set(nonce, nc);
    if (this.nonceCounts.size > 100_000) {
      // Drop the oldest entries (Map keeps insertion order).
      const drop = this.nonceCounts.size - 90_000;
      let i = 0;
      for (const key of this.nonceCounts.keys()) {
        if (i++ >= drop) break;
        this.nonceCounts.delete(key);
      }
    }
  }
}
