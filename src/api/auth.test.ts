import { describe, expect, it } from 'vitest';
import {
  constantTimeEquals,
  generateSecretKey,
  hashSecretKey,
  parseBasicAuthorization,
  verifySecretKey,
} from './auth.js';

describe('secret keys', () => {
  it('are random, 256-bit, base64url', () => {
    const keys = new Set(Array.from({ length: 50 }, generateSecretKey));
    expect(keys.size).toBe(50);
    for (const key of keys) expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('are hashed with scrypt and a per-key salt, and verify only against their own hash', async () => {
    const key = generateSecretKey();
    const [first, second] = [await hashSecretKey(key), await hashSecretKey(key)];
    expect(first).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(first).not.toBe(second);
    expect(await verifySecretKey(key, first)).toBe(true);
    expect(await verifySecretKey(key, second)).toBe(true);
    expect(await verifySecretKey(`${key}x`, first)).toBe(false);
    expect(await verifySecretKey('', first)).toBe(false);
  });

  it.each([
    '',
    'plain-text-key',
    'bcrypt$10$abc',
    'scrypt$16384$8$1$$',
    'scrypt$99999999$8$1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g',
    'scrypt$abc$8$1$c2FsdA$aGFzaA',
  ])('treats the unusable stored hash %j as no match, without throwing', async (stored) => {
    expect(await verifySecretKey('anything', stored)).toBe(false);
  });
});

describe('constantTimeEquals', () => {
  it('compares strings of any length', () => {
    expect(constantTimeEquals('secret', 'secret')).toBe(true);
    expect(constantTimeEquals('secret', 'secreT')).toBe(false);
    expect(constantTimeEquals('secret', 'secret-longer')).toBe(false);
    expect(constantTimeEquals('', '')).toBe(true);
  });
});

describe('parseBasicAuthorization', () => {
  const encode = (text: string) => Buffer.from(text, 'utf8').toString('base64');

  it('reads user and key, splitting at the first colon', () => {
    expect(parseBasicAuthorization(`Basic ${encode('a@example.com:k:e:y')}`)).toEqual({
      username: 'a@example.com',
      secret: 'k:e:y',
    });
    expect(parseBasicAuthorization(`basic   ${encode('ä@example.com:x')}`)).toEqual({
      username: 'ä@example.com',
      secret: 'x',
    });
  });

  it.each([
    undefined,
    '',
    'Bearer abc',
    'Basic',
    'Basic !!!',
    `Basic ${encode('no-colon')}`,
    `Basic ${encode(':key')}`,
  ])('refuses %j', (header) => {
    expect(parseBasicAuthorization(header)).toBeUndefined();
  });
});
