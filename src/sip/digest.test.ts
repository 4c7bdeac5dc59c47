/**
 * Digest authentication (RFC 2617 as used by RFC 3261 §22): stateless nonces, stale=true on expiry,
 * nonce-count replay protection. The client side is computed here independently with node:crypto
 * so that the verifier is not checked against itself.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DigestAuthenticator, digestHa1, digestResponse } from './digest.js';
import { parseAuthParams } from './headers.js';

const REALM = 'switchboard.local';
const USERS: Record<string, string> = { '1001': 'secret-a', '1002': 'secret-b' };
const passwordFor = (username: string): string | undefined => USERS[username];

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

interface ClientCredentials {
  username?: string;
  password?: string;
  realm?: string;
  nonce: string;
  method?: string;
  uri?: string;
  qop?: string | null;
  nc?: string;
  cnonce?: string;
  /** Replace the computed response. */
  response?: string;
  algorithm?: string;
}

/** An Authorization header value as a UA computes it (RFC 2617 §3.2.2). */
function authorization(c: ClientCredentials): string {
  const username = c.username ?? '1001';
  const realm = c.realm ?? REALM;
  const method = c.method ?? 'REGISTER';
  const uri = c.uri ?? `sip:${REALM}`;
  const qop = c.qop === undefined ? 'auth' : c.qop;
  const nc = c.nc ?? '00000001';
  const cnonce = c.cnonce ?? '0a4f113b';
  const ha1 = md5(`${username}:${realm}:${c.password ?? USERS[username] ?? 'nobody'}`);
  const ha2 = md5(`${method}:${uri}`);
  const response =
    c.response ??
    (qop ? md5(`${ha1}:${c.nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : md5(`${ha1}:${c.nonce}:${ha2}`));
  let value = `Digest username="${username}", realm="${realm}", nonce="${c.nonce}", uri="${uri}", response="${response}"`;
  if (c.algorithm !== undefined) value += `, algorithm=${c.algorithm}`;
  if (qop) value += `, qop=${qop}, nc=${nc}, cnonce="${cnonce}"`;
  return value;
}

function nonceOf(challenge: string): string {
  const params = parseAuthParams(challenge)?.params;
  const nonce = params?.get('nonce');
  if (!nonce) throw new Error(`no nonce in ${challenge}`);
  return nonce;
}

/** An authenticator on a clock the test moves. */
function withClock(startMs = 1_700_000_000_000, nonceTtlSeconds = 300) {
  const clock = { now: startMs };
  const auth = new DigestAuthenticator({ realm: REALM, nonceTtlSeconds, now: () => clock.now });
  return { auth, clock };
}

describe('DigestAuthenticator', () => {
  it('computes the RFC 2617 §3.5 example response, as 32 lowercase hex digits', () => {
    const ha1 = digestHa1('Mufasa', 'testrealm@host.com', 'Circle Of Life');
    const response = digestResponse(ha1, 'GET', {
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      uri: '/dir/index.html',
      qop: 'auth',
      nc: '00000001',
      cnonce: '0a4f113b',
    });
    expect(response).toBe('6629fae49393a05397450978507c4ef1');
    expect(ha1).toMatch(/^[0-9a-f]{32}$/);
    // Without qop: the RFC 2069 form, H(HA1:nonce:HA2).
    const legacy = digestResponse(ha1, 'GET', { nonce: 'abc', uri: '/x' });
    expect(legacy).toBe(md5(`${ha1}:abc:${md5('GET:/x')}`));
    expect(legacy).toMatch(/^[0-9a-f]{32}$/);
  });

  it('challenges with realm, a fresh nonce, MD5 and qop="auth" (and no stale unless asked)', () => {
    const { auth } = withClock();
    const challenge = auth.challenge();
    const parsed = parseAuthParams(challenge);
    expect(parsed?.scheme).toBe('Digest');
    expect(parsed?.params.get('realm')).toBe(REALM);
    expect(parsed?.params.get('algorithm')).toBe('MD5');
    expect(parsed?.params.get('qop')).toBe('auth');
    expect(parsed?.params.has('stale')).toBe(false);
    expect(nonceOf(auth.challenge())).not.toBe(''); // every challenge parses
    expect(parseAuthParams(auth.challenge({ stale: true }))?.params.get('stale')).toBe('true');
  });

  it('accepts correct credentials (qop=auth and the RFC 2069 form without qop)', () => {
    const { auth } = withClock();
    const nonce = nonceOf(auth.challenge());
    expect(auth.verify(authorization({ nonce }), 'REGISTER', passwordFor)).toEqual({
      ok: true,
      username: '1001',
    });
    const other = nonceOf(auth.challenge());
    expect(
      auth.verify(authorization({ nonce: other, qop: null, username: '1002' }), 'REGISTER', passwordFor),
    ).toEqual({
      ok: true,
      username: '1002',
    });
    expect(
      auth.verify(authorization({ nonce, algorithm: 'MD5', nc: '00000002' }), 'REGISTER', passwordFor).ok,
    ).toBe(true);
  });

  it('binds the response to the method: REGISTER credentials do not authorize an INVITE', () => {
    const { auth } = withClock();
    const nonce = nonceOf(auth.challenge());
    expect(auth.verify(authorization({ nonce, method: 'REGISTER' }), 'INVITE', passwordFor)).toEqual({
      ok: false,
      reason: 'wrong-password',
    });
  });

  it('refuses a wrong password', () => {
    const { auth } = withClock();
    const nonce = nonceOf(auth.challenge());
    expect(auth.verify(authorization({ nonce, password: 'guess' }), 'REGISTER', passwordFor)).toEqual({
      ok: false,
      reason: 'wrong-password',
    });
  });

  it('refuses an unknown user', () => {
    const { auth } = withClock();
    const nonce = nonceOf(auth.challenge());
    expect(
      auth.verify(authorization({ nonce, username: '9999', password: 'x' }), 'REGISTER', passwordFor),
    ).toEqual({ ok: false, reason: 'unknown-user' });
  });

  it('treats an unknown user like a known one up to the password check (no enumeration)', () => {
    const { auth, clock } = withClock();
    const nonce = nonceOf(auth.challenge());
    // Whatever password a guesser computes with — even an empty one — an unknown user never passes.
    for (const password of ['', 'x', 'undefined', 'secret-a']) {
      expect(
        auth.verify(authorization({ nonce, username: '9999', password }), 'REGISTER', passwordFor),
      ).toEqual({ ok: false, reason: 'unknown-user' });
    }
    // Checks that come before the password check answer alike for known and unknown users.
    const forged = `${nonce.slice(0, -1)}${nonce.endsWith('A') ? 'B' : 'A'}`;
    for (const username of ['1001', '9999']) {
      expect(auth.verify(authorization({ nonce: forged, username }), 'REGISTER', passwordFor)).toEqual({
        ok: false,
        reason: 'bad-nonce',
      });
      expect(
        auth.verify(authorization({ nonce, username, realm: 'elsewhere.example' }), 'REGISTER', passwordFor),
      ).toEqual({ ok: false, reason: 'wrong-realm' });
    }
    // On an expired nonce an unknown user is refused, never asked to retry (stale is for correct credentials).
    clock.now += 301_000;
    expect(
      auth.verify(authorization({ nonce, username: '9999', password: 'x' }), 'REGISTER', passwordFor),
    ).toEqual({ ok: false, reason: 'unknown-user' });
    expect(
      auth.verify(authorization({ nonce, username: '1001', password: 'guess' }), 'REGISTER', passwordFor),
    ).toEqual({ ok: false, reason: 'wrong-password' });
  });

  it('looks the password up once per verification, for known and unknown users alike', () => {
    const { auth } = withClock();
    const asked: string[] = [];
    const lookup = (username: string) => {
      asked.push(username);
      return USERS[username];
    };
    for (const username of ['1001', '9999']) {
      const nonce = nonceOf(auth.challenge());
      auth.verify(authorization({ nonce, username, password: 'guess' }), 'REGISTER', lookup);
    }
    expect(asked).toEqual(['1001', '9999']);
  });

  it('refuses credentials for another realm', () => {
    const { auth } = withClock();
    const nonce = nonceOf(auth.challenge());
    expect(
      auth.verify(authorization({ nonce, realm: 'elsewhere.example' }), 'REGISTER', passwordFor),
    ).toEqual({ ok: false, reason: 'wrong-realm' });
  });

  it('refuses a nonce it did not issue or that was tampered with', () => {
    const { auth } = withClock();
    const nonce = nonceOf(auth.challenge());
    const [issued, salt, signature] = nonce.split('.') as [string, string, string];
    expect(signature).toBeTruthy();
    // Pretend it was issued later (to extend its life): the signature no longer matches.
    const forgedTime = `${(Number.parseInt(issued, 36) + 3_600_000).toString(36)}.${salt}.${signature}`;
    const flipped = `${issued}.${salt}.${signature.slice(0, -1)}${signature.endsWith('A') ? 'B' : 'A'}`;
    const otherSalt = `${issued}.${salt.slice(1)}x.${signature}`;
    for (const bad of [
      forgedTime,
      flipped,
      otherSalt,
      `${issued}.${salt}.`,
      `${issued}.${signature}`,
      'abc',
      '.',
      '..',
      `${nonce}x`,
    ]) {
      expect(auth.verify(authorization({ nonce: bad }), 'REGISTER', passwordFor)).toEqual({
        ok: false,
        reason: 'bad-nonce',
      });
    }
    // A nonce of another authenticator (another process, another secret) is not ours either.
    const stranger = new DigestAuthenticator({ realm: REALM });
    expect(
      auth.verify(authorization({ nonce: nonceOf(stranger.challenge()) }), 'REGISTER', passwordFor),
    ).toEqual({
      ok: false,
      reason: 'bad-nonce',
    });
  });

  it('answers correct credentials on an expired nonce with "stale", and the new challenge carries stale=true', () => {
    const { auth, clock } = withClock(1_700_000_000_000, 300);
    const nonce = nonceOf(auth.challenge());
    clock.now += 299_000;
    expect(auth.verify(authorization({ nonce }), 'REGISTER', passwordFor).ok).toBe(true);
    clock.now += 2_000; // 301 s after issue
    expect(auth.verify(authorization({ nonce, nc: '00000002' }), 'REGISTER', passwordFor)).toEqual({
      ok: false,
      reason: 'stale',
    });
    // A wrong password on an expired nonce is a wrong password: no stale (RFC 2617 §3.2.1).
    expect(
      auth.verify(authorization({ nonce, nc: '00000003', password: 'guess' }), 'REGISTER', passwordFor),
    ).toEqual({
      ok: false,
      reason: 'wrong-password',
    });
    const challenge = parseAuthParams(auth.challenge({ stale: true }));
    expect(challenge?.params.get('stale')).toBe('true');
    const fresh = challenge?.params.get('nonce') ?? '';
    expect(auth.verify(authorization({ nonce: fresh }), 'REGISTER', passwordFor).ok).toBe(true);
  });

  it('issues a different nonce for every challenge, even within one millisecond', () => {
    const { auth } = withClock(); // the clock stands still
    const nonces = new Set(Array.from({ length: 1000 }, () => nonceOf(auth.challenge())));
    expect(nonces.size).toBe(1000);
    // Two UAs challenged at the same instant both start their counts at 1.
    const [n1, n2] = [...nonces] as [string, string];
    expect(auth.verify(authorization({ nonce: n1, username: '1001' }), 'REGISTER', passwordFor).ok).toBe(
      true,
    );
    expect(auth.verify(authorization({ nonce: n2, username: '1002' }), 'REGISTER', passwordFor).ok).toBe(
      true,
    );
  });

  it('refuses a replayed nonce count and accepts increasing ones', () => {
    const { auth } = withClock();
    const nonce = nonceOf(auth.challenge());
    const first = authorization({ nonce, nc: '00000001', cnonce: 'c1' });
    expect(auth.verify(first, 'REGISTER', passwordFor).ok).toBe(true);
    expect(auth.verify(first, 'REGISTER', passwordFor)).toEqual({ ok: false, reason: 'replay' });
    expect(
      auth.verify(authorization({ nonce, nc: '00000003', cnonce: 'c2' }), 'REGISTER', passwordFor).ok,
    ).toBe(true);
    expect(
      auth.verify(authorization({ nonce, nc: '00000002', cnonce: 'c3' }), 'REGISTER', passwordFor),
    ).toEqual({ ok: false, reason: 'replay' });
    expect(
      auth.verify(authorization({ nonce, nc: '0000000a', cnonce: 'c4' }), 'REGISTER', passwordFor).ok,
    ).toBe(true); // hex
    // Counts are per nonce: a fresh nonce starts again at 1.
    expect(
      auth.verify(
        authorization({ nonce: nonceOf(auth.challenge()), nc: '00000001' }),
        'REGISTER',
        passwordFor,
      ).ok,
    ).toBe(true);
  });

  it('refuses qop=auth-int and other algorithms as unsupported', () => {
    const { auth } = withClock();
    const nonce = nonceOf(auth.challenge());
    expect(auth.verify(authorization({ nonce, qop: 'auth-int' }), 'REGISTER', passwordFor)).toEqual({
      ok: false,
      reason: 'unsupported',
    });
    expect(auth.verify(authorization({ nonce, algorithm: 'SHA-256' }), 'REGISTER', passwordFor)).toEqual({
      ok: false,
      reason: 'unsupported',
    });
    expect(auth.verify(authorization({ nonce, algorithm: 'MD5-sess' }), 'REGISTER', passwordFor)).toEqual({
      ok: false,
      reason: 'unsupported',
    });
  });

  it('compares responses in one format: hex case does not matter, other lengths or characters never match', () => {
    const { auth } = withClock();
    const nonce = nonceOf(auth.challenge());
    const ha1 = md5(`1001:${REALM}:secret-a`);
    const ha2 = md5(`REGISTER:sip:${REALM}`);
    const correct = md5(`${ha1}:${nonce}:00000001:0a4f113b:auth:${ha2}`);
    expect(correct).toMatch(/^[0-9a-f]{32}$/);
    expect(
      auth.verify(authorization({ nonce, response: correct.toUpperCase() }), 'REGISTER', passwordFor).ok,
    ).toBe(true);
    for (const [i, response] of [
      correct.slice(0, 31),
      `${correct}0`,
      '',
      `${correct.slice(0, 31)}g`,
      Buffer.from(correct).toString('base64'),
    ].entries()) {
      const verdict = auth.verify(
        authorization({ nonce, response, nc: `0000000${i + 2}` }),
        'REGISTER',
        passwordFor,
      );
      expect(verdict.ok).toBe(false);
    }
  });

  it('refuses missing or malformed credentials without throwing', () => {
    const { auth } = withClock();
    const nonce = nonceOf(auth.challenge());
    expect(auth.verify(undefined, 'REGISTER', passwordFor)).toEqual({ ok: false, reason: 'missing' });
    for (const bad of [
      'Basic MTAwMTpzZWNyZXQ=',
      'Digest',
      'Digest username="1001"',
      `Digest username="1001", realm="${REALM}", nonce="${nonce}", uri="sip:x"`, // no response
      `Digest username="1001", realm="${REALM}", nonce="${nonce}", uri="sip:x", response="00", qop=auth`, // qop without nc/cnonce
      'Digest username="unterminated',
      '',
    ]) {
      const verdict = auth.verify(bad || undefined, 'REGISTER', passwordFor);
      expect(verdict.ok).toBe(false);
      if (!verdict.ok) expect(['missing', 'malformed']).toContain(verdict.reason);
    }
  });
});
