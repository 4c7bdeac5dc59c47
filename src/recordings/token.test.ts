import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRecordingTokens, DEFAULT_TOKEN_LIFETIME_MS, loadOrCreateTokenKey } from './token.js';

const RECORDING = '7e000000-0000-4000-8000-000000000001';
const OTHER = '7e000000-0000-4000-8000-000000000002';
const T0 = Date.UTC(2030, 0, 1);

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('recording download tokens', () => {
  it('creates the key file (0600) on first use only, and reuses it', () => {
    dir = mkdtempSync(join(tmpdir(), 'recording-token-'));
    const file = join(dir, 'sub', 'recording-token.key');
    const tokens = createRecordingTokens({ key: { file } });
    expect(existsSync(file)).toBe(false);
    const token = tokens.sign(RECORDING, T0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(file).size).toBe(32);
    expect(createRecordingTokens({ key: { file } }).verify(RECORDING, token, T0)).toBe('valid');
    expect(loadOrCreateTokenKey(file)).toEqual(loadOrCreateTokenKey(file));
  });

  it('refuses a key file that is too short', () => {
    dir = mkdtempSync(join(tmpdir(), 'recording-token-'));
    const file = join(dir, 'recording-token.key');
    writeFileSync(file, 'short');
    expect(() => loadOrCreateTokenKey(file)).toThrow(
      expect.objectContaining({ code: 'RECORDINGS_TOKEN_KEY_FAILED' }),
    );
  });

  it('is valid for its lifetime (4 h by default), for its recording only, and not when altered', () => {
    const tokens = createRecordingTokens({ key: Buffer.alloc(32, 1) });
    const token = tokens.sign(RECORDING, T0);
    expect(token).toMatch(/^\d+\.[A-Za-z0-9_-]{43}$/);
    expect(tokens.verify(RECORDING, token, T0 + DEFAULT_TOKEN_LIFETIME_MS - 1000)).toBe('valid');
    expect(tokens.verify(RECORDING, token, T0 + DEFAULT_TOKEN_LIFETIME_MS)).toBe('expired');
    expect(tokens.verify(OTHER, token, T0)).toBe('invalid');
    const [expiry, signature] = token.split('.') as [string, string];
    expect(tokens.verify(RECORDING, `${Number(expiry) + 3600}.${signature}`, T0)).toBe('invalid');
    // Every other spelling of the last character, including those that decode to the same bytes.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (const char of alphabet) {
      if (char === signature.at(-1)) continue;
      expect(tokens.verify(RECORDING, `${expiry}.${signature.slice(0, -1)}${char}`, T0)).toBe('invalid');
    }
    expect(tokens.verify(RECORDING, '', T0)).toBe('invalid');
    expect(createRecordingTokens({ key: Buffer.alloc(32, 2) }).verify(RECORDING, token, T0)).toBe('invalid');
    const short = createRecordingTokens({ key: Buffer.alloc(32, 1), lifetimeMs: 60_000 });
    expect(short.verify(RECORDING, short.sign(RECORDING, T0), T0 + 61_000)).toBe('expired');
  });
});
