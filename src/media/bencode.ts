/**
 * Bencode (the dictionary format of rtpengine's ng control protocol): integers `i42e`, byte
 * strings `4:spam`, lists `l…e` and dictionaries `d…e`.
 *
 * - Encoding sorts dictionary keys by their raw bytes (the canonical form); JS strings are written
 *   as UTF-8, Buffers / Uint8Arrays byte for byte. `undefined` dictionary entries are left out.
 * - Decoding is strict (no leading zeros, no `-0`, no trailing bytes, no duplicate keys, keys must
 *   be byte strings, bounded nesting) and never throws on bad input: it returns an error value
 *   with the byte offset. Dictionary keys need not be sorted (rtpengine does not sort its replies).
 * - Byte strings decode to JS strings when they are valid UTF-8, except values of the dictionary
 *   keys listed in `binaryKeys` (by default `sdp`), which stay Buffers so that an SDP passes
 *   through byte for byte. With `text: false` every byte string stays a Buffer.
 */

export type BencodeValue = number | string | Uint8Array | BencodeValue[] | BencodeDict;

export interface BencodeDict {
  [key: string]: BencodeValue | undefined;
}

export interface BencodeDecodeOptions {
  /** Decode byte strings as UTF-8 text when valid (default true). */
  text?: boolean;
  /** Dictionary keys whose byte-string values stay Buffers (default `['sdp']`). */
  binaryKeys?: Iterable<string>;
  /** Deepest nesting of lists and dictionaries accepted (default 64). */
  maxDepth?: number;
}

export type BencodeDecodeResult =
  | { ok: true; value: BencodeValue }
  | { ok: false; error: { offset: number; message: string } };

const CH_I = 0x69; // i
const CH_L = 0x6c; // l
const CH_D = 0x64; // d
const CH_E = 0x65; // e
const CH_COLON = 0x3a;
const CH_MINUS = 0x2d;
const CH_0 = 0x30;
const CH_9 = 0x39;

// ---------------------------------------------------------------------------------------------
// encode

/** Encode a value; throws a TypeError for what bencode cannot represent (a programming error). */
export function encodeBencode(value: BencodeValue): Buffer {
  const parts: Buffer[] = [];
  encodeInto(value, parts, 0);
  return Buffer.concat(parts);
}

function encodeInto(value: BencodeValue, parts: Buffer[], depth: number): void {
  if (depth > 256) throw new TypeError('bencode: nesting too deep (cycle?)');
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError(`bencode: not a safe integer: ${value}`);
    parts.push(Buffer.from(`i${value}e`, 'latin1'));
  } else if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    parts.push(Buffer.from(`${bytes.length}:`, 'latin1'), bytes);
  } else if (value instanceof Uint8Array) {
    parts.push(Buffer.from(`${value.length}:`, 'latin1'), Buffer.from(value));
  } else if (Array.isArray(value)) {
    parts.push(Buffer.from('l', 'latin1'));
    for (const item of value) encodeInto(item, parts, depth + 1);
    parts.push(Buffer.from('e', 'latin1'));
  } else if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter((entry): entry is [string, BencodeValue] => entry[1] !== undefined)
      .map(([key, v]) => [Buffer.from(key, 'utf8'), v] as const)
      .sort((a, b) => Buffer.compare(a[0], b[0]));
    parts.push(Buffer.from('d', 'latin1'));
    for (const [key, v] of entries) {
      parts.push(Buffer.from(`${key.length}:`, 'latin1'), key);
      encodeInto(v, parts, depth + 1);
    }
    parts.push(Buffer.from('e', 'latin1'));
  } else {
    throw new TypeError(`bencode: cannot encode ${value === null ? 'null' : typeof value}`);
  }
}

// ---------------------------------------------------------------------------------------------
// decode

class DecodeFailure {
  constructor(
    readonly offset: number,
    readonly message: string,
  ) {}
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decode exactly one value filling all of `input`; never throws. */
export function decodeBencode(input: Uint8Array, options: BencodeDecodeOptions = {}): BencodeDecodeResult {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const text = options.text ?? true;
  const binaryKeys = new Set(options.binaryKeys ?? ['sdp']);
  const maxDepth = options.maxDepth ?? 64;
  let pos = 0;

  const fail = (message: string, at = pos): never => {
    throw new DecodeFailure(at, message);
  };

  const readDigits = (): number => {
    // A non-negative decimal without leading zeros, up to Number.MAX_SAFE_INTEGER.
    const start = pos;
    while (pos < buf.length && buf[pos]! >= CH_0 && buf[pos]! <= CH_9) pos++;
    if (pos === start) fail('expected a digit');
    if (buf[start] === CH_0 && pos - start > 1) fail('leading zero', start);
    if (pos - start > 16) fail('number too large', start);
    const n = Number(buf.toString('latin1', start, pos));
    if (!Number.isSafeInteger(n)) fail('number too large', start);
    return n;
  };

  const readBytes = (): Buffer => {
    const length = readDigits();
    if (buf[pos] !== CH_COLON) fail("expected ':' after a string length");
    pos++;
    if (length > buf.length - pos) fail('string runs past the end of the input');
    const bytes = buf.subarray(pos, pos + length);
    pos += length;
    return bytes;
  };

  const asText = (bytes: Buffer): string | Buffer => {
    if (!text) return Buffer.from(bytes);
    try {
      return utf8.decode(bytes);
    } catch {
      return Buffer.from(bytes);
    }
  };

  const readValue = (depth: number, binary: boolean): BencodeValue => {
    if (pos >= buf.length) fail('unexpected end of input');
    const c = buf[pos]!;
    if (c === CH_I) {
      pos++;
      const negative = buf[pos] === CH_MINUS;
      if (negative) pos++;
      const start = pos;
      const n = readDigits();
      if (negative && n === 0) fail('negative zero', start);
      if (buf[pos] !== CH_E) fail("expected 'e' after an integer");
      pos++;
      return negative ? -n : n;
    }
    if (c >= CH_0 && c <= CH_9) {
      const bytes = readBytes();
      return binary ? Buffer.from(bytes) : asText(bytes);
    }
    if (c === CH_L || c === CH_D) {
      if (depth >= maxDepth) fail('nesting too deep');
      pos++;
      if (c === CH_L) {
        const list: BencodeValue[] = [];
        while (buf[pos] !== CH_E) list.push(readValue(depth + 1, false));
        pos++;
        return list;
      }
      // A null-prototype object: keys such as `__proto__` are plain data.
      const dict: BencodeDict = Object.create(null);
      while (buf[pos] !== CH_E) {
        if (pos >= buf.length) fail('unexpected end of input');
        const keyAt = pos;
        if (buf[pos]! < CH_0 || buf[pos]! > CH_9) fail('dictionary key must be a byte string');
        const keyBytes = readBytes();
        let key: string;
        try {
          key = utf8.decode(keyBytes);
        } catch {
          return fail('dictionary key is not UTF-8', keyAt);
        }
        if (Object.hasOwn(dict, key)) fail(`duplicate dictionary key '${key}'`, keyAt);
        dict[key] = readValue(depth + 1, binaryKeys.has(key));
      }
      pos++;
      return dict;
    }
    return fail(`unexpected byte 0x${c.toString(16).padStart(2, '0')}`);
  };

  try {
    const value = readValue(0, false);
    if (pos !== buf.length) fail('trailing bytes after the value');
    return { ok: true, value };
  } catch (err) {
    if (err instanceof DecodeFailure) {
      return { ok: false, error: { offset: err.offset, message: err.message } };
    }
    // readValue only throws DecodeFailure; anything else (e.g. a RangeError from a runaway input)
    // is still bad input, never a crash.
    return { ok: false, error: { offset: pos, message: err instanceof Error ? err.message : String(err) } };
  }
}

// ---------------------------------------------------------------------------------------------
// helpers for reading decoded values

export function isBencodeDict(value: BencodeValue | undefined): value is BencodeDict {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

/** A byte-string value as text (UTF-8), or undefined when it is not a byte string. */
export function bencodeText(value: BencodeValue | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  return undefined;
}

/** A byte-string value as exact bytes, or undefined when it is not a byte string. */
export function bencodeBytes(value: BencodeValue | undefined): Buffer | undefined {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (value instanceof Uint8Array) return Buffer.from(value);
  return undefined;
}
