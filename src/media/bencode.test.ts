import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BencodeValue,
  bencodeBytes,
  bencodeText,
  decodeBencode,
  encodeBencode,
  isBencodeDict,
} from './bencode.js';

const enc = (v: BencodeValue) => encodeBencode(v).toString('latin1');
const dec = (s: string | Buffer, opts?: Parameters<typeof decodeBencode>[1]) =>
  decodeBencode(typeof s === 'string' ? Buffer.from(s, 'latin1') : s, opts);

describe('encodeBencode', () => {
  it('encodes integers, strings, lists and dictionaries', () => {
    expect(enc(42)).toBe('i42e');
    expect(enc(-7)).toBe('i-7e');
    expect(enc(0)).toBe('i0e');
    expect(enc('spam')).toBe('4:spam');
    expect(enc('')).toBe('0:');
    expect(enc(['a', 1, []])).toBe('l1:ai1elee');
    expect(enc({ command: 'ping' })).toBe('d7:command4:pinge');
  });

  it('sorts dictionary keys by bytes and leaves out undefined entries', () => {
    expect(enc({ 'to-tag': 'b', 'call-id': 'c', 'from-tag': 'a', sdp: undefined, ICE: 'force' })).toBe(
      'd3:ICE5:force7:call-id1:c8:from-tag1:a6:to-tag1:be',
    );
  });

  it('writes UTF-8 strings by byte length and Buffers byte for byte', () => {
    expect(enc('é')).toBe('2:\xc3\xa9');
    expect(encodeBencode(Buffer.from([0, 255, 0x3a]))).toEqual(Buffer.from([0x33, 0x3a, 0, 255, 0x3a]));
  });

  it('refuses what bencode cannot represent', () => {
    expect(() => encodeBencode(1.5)).toThrow(TypeError);
    expect(() => encodeBencode(Number.NaN)).toThrow(TypeError);
    expect(() => encodeBencode(null as unknown as BencodeValue)).toThrow(TypeError);
    expect(() => encodeBencode(true as unknown as BencodeValue)).toThrow(TypeError);
  });
});

describe('decodeBencode', () => {
  it('decodes an ng reply, keeping the SDP as exact bytes', () => {
    const sdp = Buffer.from('v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=\xff\r\n', 'latin1');
    const wire = Buffer.concat([
      Buffer.from('d6:result2:ok3:sdp', 'latin1'),
      Buffer.from(`${sdp.length}:`),
      sdp,
      Buffer.from('e'),
    ]);
    const r = dec(wire);
    expect(r.ok).toBe(true);
    if (!r.ok || !isBencodeDict(r.value)) throw new Error('no dict');
    expect(r.value.result).toBe('ok');
    expect(Buffer.isBuffer(r.value.sdp)).toBe(true);
    expect(Buffer.compare(r.value.sdp as Buffer, sdp)).toBe(0);
  });

  it('accepts unsorted keys (rtpengine does not sort) and nested values', () => {
    const r = dec('d6:result2:ok7:warning3:hmm4:listli1ei-2e0:ee');
    expect(r).toEqual({ ok: true, value: { result: 'ok', warning: 'hmm', list: [1, -2, ''] } });
  });

  it('keeps invalid UTF-8 as a Buffer, and every string with text: false', () => {
    const r = dec('2:\xff\xfe');
    expect(r.ok && Buffer.isBuffer(r.value)).toBe(true);
    const r2 = dec('d1:a1:be', { text: false });
    expect(r2.ok && isBencodeDict(r2.value) && Buffer.isBuffer(r2.value.a)).toBe(true);
  });

  it('treats __proto__ as a plain key', () => {
    const r = dec('d9:__proto__i1ee');
    expect(r.ok && isBencodeDict(r.value) && Object.hasOwn(r.value, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    ['', 'unexpected end of input'],
    ['i', 'expected a digit'],
    ['ie', 'expected a digit'],
    ['i01e', 'leading zero'],
    ['i-0e', 'negative zero'],
    ['i1', "expected 'e'"],
    ['i99999999999999999e', 'number too large'],
    ['01:a', 'leading zero'],
    ['5:abc', 'past the end'],
    ['3abc', "expected ':'"],
    ['l', 'unexpected end'],
    ['d1:a', 'unexpected end'],
    ['d1:ae', 'unexpected'],
    ['di1e1:ae', 'key must be a byte string'],
    ['d1:ai1e1:ai2ee', "duplicate dictionary key 'a'"],
    ['i1ei2e', 'trailing bytes'],
    ['x', 'unexpected byte 0x78'],
  ])('rejects %j (%s) without throwing', (input, message) => {
    const r = dec(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toContain(message);
  });

  it('bounds nesting depth', () => {
    const deep = `${'l'.repeat(100_000)}${'e'.repeat(100_000)}`;
    const r = dec(deep);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toBe('nesting too deep');
    expect(dec('llee', { maxDepth: 2 }).ok).toBe(true);
    expect(dec('llee', { maxDepth: 1 }).ok).toBe(false);
  });

  it('helpers read text and bytes', () => {
    expect(bencodeText(Buffer.from('x'))).toBe('x');
    expect(bencodeText(1)).toBeUndefined();
    expect(bencodeBytes('é')).toEqual(Buffer.from('é'));
    expect(bencodeBytes([])).toBeUndefined();
  });
});

describe('bencode properties (fast-check)', () => {
  const value: fc.Arbitrary<BencodeValue> = fc.letrec<{ v: BencodeValue }>((tie) => ({
    v: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.maxSafeInteger(),
      fc.string({ unit: 'binary' }),
      fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
      fc.array(tie('v'), { maxLength: 4 }),
      fc.dictionary(fc.string({ unit: 'binary', maxLength: 8 }), tie('v'), { maxKeys: 4 }),
    ),
  })).v;

  it('decode(encode(v)) gives back v, bytes for bytes', () => {
    fc.assert(
      fc.property(value, (v) => {
        const r = decodeBencode(encodeBencode(v), { text: false });
        expect(r.ok).toBe(true);
        if (r.ok) expect(Buffer.compare(encodeBencode(r.value), encodeBencode(v))).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on arbitrary bytes, and what decodes re-encodes canonically', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const r = decodeBencode(bytes, { text: false });
        if (r.ok) {
          // Re-encoding is canonical: decoding that gives the same canonical encoding.
          const again = decodeBencode(encodeBencode(r.value), { text: false });
          expect(again.ok).toBe(true);
        } else {
          expect(r.error.offset).toBeGreaterThanOrEqual(0);
          expect(r.error.offset).toBeLessThanOrEqual(bytes.length);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on mutations of valid encodings', () => {
    fc.assert(
      fc.property(value, fc.nat(), fc.integer({ min: 0, max: 255 }), (v, at, byte) => {
        const bytes = Buffer.from(encodeBencode(v));
        bytes[at % bytes.length] = byte;
        const r = decodeBencode(bytes);
        expect(typeof r.ok).toBe('boolean');
        decodeBencode(bytes.subarray(0, at % bytes.length));
      }),
      { numRuns: 1000 },
    );
  });
});
