/**
 * Download tokens for recording files (DESIGN.md §9): `GET /calls/recordings/{id}` hands out a URL
 * whose `token` lets anyone holding it fetch that one file, without credentials, until it expires.
 *
 * Token = `<expiry, epoch seconds>.<base64url HMAC-SHA256(key, "<recordingId>\n<expiry>")>`: it
 * names no user, is bound to one recording id and cannot be extended without the key. Only
 * URL-safe characters, so clients may paste it into a URL as it is (the Python client does).
 *
 * The key is 32 random bytes in a file of the data directory, created with mode 0600 on first use;
 * keeping it on disk keeps URLs handed out before a restart valid. Deleting the file (and
 * restarting) revokes every outstanding URL.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { RecordingsError } from './errors.js';

/** Default lifetime of a token: 4 hours (the contract says at least 1). */
export const DEFAULT_TOKEN_LIFETIME_MS = 4 * 60 * 60 * 1000;
const KEY_BYTES = 32;
const TOKEN_PATTERN = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

export type TokenCheck = 'valid' | 'expired' | 'invalid';

export interface RecordingTokens {
  /** A token for one recording, valid for the lifetime from `nowMs`. */
  sign(recordingId: string, nowMs: number): string;
  /** `invalid` for a malformed, altered or foreign token (another recording's, another key's). */
  verify(recordingId: string, token: string, nowMs: number): TokenCheck;
}

export interface RecordingTokenOptions {
  /** The key itself, or the file that holds it (created on first use with mode 0600). */
  key: Buffer | { file: string };
  /** How long a token is valid (default 4 h). */
  lifetimeMs?: number;
}

/** Read the key file, or create it (mode 0600) when missing. Two processes racing agree on one key. */
export function loadOrCreateTokenKey(file: string): Buffer {
  try {
    mkdirSync(dirname(file), { recursive: true });
    try {
      writeFileSync(file, randomBytes(KEY_BYTES), { flag: 'wx', mode: 0o600 });
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'EEXIST') throw cause;
    }
    // Whatever the umask made of it: the key is the process owner's alone.
    chmodSync(file, 0o600);
    const key = readFileSync(file);
    if (key.length < KEY_BYTES) {
      throw new RecordingsError(
        'RECORDINGS_TOKEN_KEY_FAILED',
        `${file} holds ${key.length} bytes; a recording token key has at least ${KEY_BYTES} (delete the file to make a new one)`,
      );
    }
    return key;
  } catch (cause) {
    if (cause instanceof RecordingsError) throw cause;
    throw new RecordingsError(
      'RECORDINGS_TOKEN_KEY_FAILED',
      `cannot read or create ${file}: ${String(cause)}`,
      {
        cause,
      },
    );
  }
}

export function createRecordingTokens(opts: RecordingTokenOptions): RecordingTokens {
  const lifetimeSeconds = Math.ceil((opts.lifetimeMs ?? DEFAULT_TOKEN_LIFETIME_MS) / 1000);
  let key: Buffer | undefined = Buffer.isBuffer(opts.key) ? opts.key : undefined;
  // The file is read (or made) when the first token is signed or checked, not at start-up.
  const keyOf = (): Buffer => {
    key ??= loadOrCreateTokenKey((opts.key as { file: string }).file);
    return key;
  };
  const mac = (recordingId: string, expirySeconds: string): Buffer =>
    createHmac('sha256', keyOf()).update(`${recordingId}\n${expirySeconds}`).digest();

  return {
    sign(recordingId, nowMs) {
      const expirySeconds = String(Math.floor(nowMs / 1000) + lifetimeSeconds);
      return `${expirySeconds}.${mac(recordingId, expirySeconds).toString('base64url')}`;
    },
    verify(recordingId, token, nowMs) {
      const match = TOKEN_PATTERN.exec(token);
      if (!match) return 'invalid';
      const [, expirySeconds, signature] = match as unknown as [string, string, string];
      // Compared as text: the last base64url character carries 2 spare bits, so decoding would
      // accept four spellings of one signature.
      const given = Buffer.from(signature);
      const expected = Buffer.from(mac(recordingId, expirySeconds).toString('base64url'));
      // The signature is checked before the expiry, so an expired answer is never given for a forgery.
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
      return Number(expirySeconds) * 1000 > nowMs ? 'valid' : 'expired';
    },
  };
}
