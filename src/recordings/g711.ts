/**
 * G.711 decoding (ITU-T G.711 μ-law = RTP payload type 0 PCMU, A-law = 8 PCMA) to 16-bit linear
 * PCM, for rendering recordings. src/testing/audio.ts re-exports it and adds the encoder tests need.
 */

/** Decode one G.711 μ-law byte to a 16-bit linear sample (range ±32124). */
export function mulawToLinear(byte: number): number {
  const code = ~byte & 0xff;
  const exponent = (code >> 4) & 0x07;
  const mantissa = code & 0x0f;
  const magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
  return code & 0x80 ? 0 - magnitude : magnitude;
}

/** Decode one G.711 A-law byte to a 16-bit linear sample (range ±32256). */
export function alawToLinear(byte: number): number {
  const code = (byte ^ 0x55) & 0xff;
  const segment = (code >> 4) & 0x07;
  let magnitude = (code & 0x0f) << 4;
  if (segment === 0) magnitude += 8;
  else magnitude = (magnitude + 0x108) << (segment - 1);
  return code & 0x80 ? magnitude : -magnitude;
}

const MULAW = Int16Array.from({ length: 256 }, (_, byte) => mulawToLinear(byte));
const ALAW = Int16Array.from({ length: 256 }, (_, byte) => alawToLinear(byte));

export type G711Law = 'mulaw' | 'alaw';

/** Decode G.711 bytes into `out` from `at` (one sample per byte); returns the samples written. */
export function decodeG711Into(bytes: Uint8Array, law: G711Law, out: Int16Array, at: number): number {
  const table = law === 'mulaw' ? MULAW : ALAW;
  const n = Math.min(bytes.length, out.length - at);
  for (let i = 0; i < n; i++) out[at + i] = table[bytes[i]!]!;
  return Math.max(0, n);
}

/** Decode G.711 bytes to 16-bit linear samples. */
export function decodeG711(bytes: ArrayLike<number>, law: G711Law): Int16Array {
  const table = law === 'mulaw' ? MULAW : ALAW;
  const out = new Int16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = table[bytes[i]! & 0xff]!;
  return out;
}
