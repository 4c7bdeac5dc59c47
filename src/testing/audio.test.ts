import { describe, expect, it } from 'vitest';
import {
  alawToLinear,
  decodeG711,
  decodeWav,
  detectTone,
  dominantTone,
  encodeG711,
  encodeWav,
  goertzelPower,
  linearToAlaw,
  linearToMulaw,
  meanSquare,
  mulawToLinear,
  sineTone,
  ToneGenerator,
} from './audio.js';

/** Signal-to-noise ratio (dB) of `decoded` against `original`. */
function snrDb(original: Int16Array, decoded: Int16Array): number {
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < original.length; i++) {
    signal += original[i]! ** 2;
    noise += (original[i]! - decoded[i]!) ** 2;
  }
  return 10 * Math.log10(signal / noise);
}

describe('G.711 μ-law', () => {
  it('encodes and decodes the reference points', () => {
    expect(linearToMulaw(0)).toBe(0xff);
    expect(mulawToLinear(0xff)).toBe(0);
    expect(mulawToLinear(0x7f)).toBe(0); // negative zero
    expect(mulawToLinear(0x80)).toBe(32124);
    expect(mulawToLinear(0x00)).toBe(-32124);
    expect(linearToMulaw(32767)).toBe(0x80);
    expect(linearToMulaw(-32768)).toBe(0x00);
  });

  it('decodes every code to a value that encodes back to an equivalent code', () => {
    for (let code = 0; code < 256; code++) {
      const linear = mulawToLinear(code);
      expect(mulawToLinear(linearToMulaw(linear))).toBe(linear);
    }
  });

  it('round-trips every 16-bit value within half a quantisation step', () => {
    for (let x = -32768; x <= 32767; x++) {
      const error = Math.abs(mulawToLinear(linearToMulaw(x)) - x);
      const magnitude = Math.min(Math.abs(x), 32635);
      // Segment e has steps of 8·2^e and starts at 128·2^e − 132: half a step ≤ (|x| + 132) / 32.
      const bound = (magnitude + 132) / 32 + 1 + (Math.abs(x) - magnitude);
      if (error > bound) throw new Error(`μ-law error ${error} for ${x} exceeds ${bound}`);
    }
  });

  it('is monotonic', () => {
    let previous = Number.NEGATIVE_INFINITY;
    for (let x = -32768; x <= 32767; x += 7) {
      const y = mulawToLinear(linearToMulaw(x));
      expect(y).toBeGreaterThanOrEqual(previous);
      previous = y;
    }
  });
});

describe('G.711 A-law', () => {
  it('encodes and decodes the reference points', () => {
    expect(linearToAlaw(0)).toBe(0xd5);
    expect(alawToLinear(0xd5)).toBe(8);
    expect(alawToLinear(0x55)).toBe(-8);
    expect(alawToLinear(0xaa)).toBe(32256);
    expect(alawToLinear(0x2a)).toBe(-32256);
    expect(linearToAlaw(32767)).toBe(0xaa);
    expect(linearToAlaw(-32768)).toBe(0x2a);
  });

  it('decodes every code to a value that encodes back to the same code', () => {
    for (let code = 0; code < 256; code++) expect(linearToAlaw(alawToLinear(code))).toBe(code);
  });

  it('round-trips every 16-bit value within half a quantisation step', () => {
    for (let x = -32768; x <= 32767; x++) {
      const error = Math.abs(alawToLinear(linearToAlaw(x)) - x);
      // Segments 0 and 1 have steps of 16; segment s ≥ 1 starts at 256·2^(s−1) with steps of 16·2^(s−1).
      const bound = Math.max(8, Math.abs(x) / 32) + 1 + Math.max(0, Math.abs(x) - 32256);
      if (error > bound) throw new Error(`A-law error ${error} for ${x} exceeds ${bound}`);
    }
  });
});

describe('G.711 buffers', () => {
  it.each(['mulaw', 'alaw'] as const)('keeps a %s tone at better than 30 dB SNR', (law) => {
    const tone = sineTone({ frequency: 1000, sampleRate: 8000, durationMs: 200, amplitude: 0.5 });
    const bytes = encodeG711(tone, law);
    expect(bytes).toHaveLength(tone.length);
    const decoded = decodeG711(bytes, law);
    expect(snrDb(tone, decoded)).toBeGreaterThan(30);
    expect(dominantTone(decoded, 8000, [500, 1000, 1500]).frequency).toBe(1000);
  });
});

describe('tones', () => {
  it('generates a sine of the asked amplitude and frequency', () => {
    const tone = sineTone({ frequency: 1000, sampleRate: 8000, durationMs: 1000, amplitude: 0.5 });
    expect(tone).toHaveLength(8000);
    expect(Math.max(...tone)).toBeLessThanOrEqual(16384);
    expect(Math.max(...tone)).toBeGreaterThan(16300);
    // mean square of a sine of peak A is A²/2
    expect(meanSquare(tone) / (16383.5 ** 2 / 2)).toBeCloseTo(1, 2);
  });

  it('continues without a phase jump across pieces', () => {
    const whole = sineTone({ frequency: 997.3, sampleRate: 8000, durationMs: 100 });
    const generator = new ToneGenerator({ frequency: 997.3, sampleRate: 8000 });
    const pieces = [generator.next(160), generator.next(160), generator.next(480)];
    const joined = new Int16Array(800);
    let at = 0;
    for (const piece of pieces) {
      joined.set(piece, at);
      at += piece.length;
    }
    expect(Array.from(joined)).toEqual(Array.from(whole));
  });

  it('wraps its index after whole seconds without a jump', () => {
    const generator = new ToneGenerator({ frequency: 440, sampleRate: 8000 });
    const longer = sineTone({ frequency: 440, sampleRate: 8000, durationMs: 2500 });
    const pieces = Array.from({ length: 125 }, () => generator.next(160));
    expect(Array.from(pieces[124]!)).toEqual(Array.from(longer.subarray(124 * 160, 125 * 160)));
  });

  it('rejects a tone above the Nyquist frequency', () => {
    expect(() => new ToneGenerator({ frequency: 4000, sampleRate: 8000 })).toThrow(RangeError);
  });
});

describe('tone detection', () => {
  const candidates = [350, 440, 500, 697, 1000, 1209, 2000, 3000];

  it('measures a pure tone as all of the signal and other frequencies as none of it', () => {
    const tone = sineTone({ frequency: 1000, sampleRate: 8000, durationMs: 200 });
    expect(goertzelPower(tone, 8000, 1000) / meanSquare(tone)).toBeCloseTo(1, 1);
    const present = detectTone(tone, 8000, 1000);
    expect(present.present).toBe(true);
    expect(present.relativePower).toBeGreaterThan(0.9);
    const absent = detectTone(tone, 8000, 500);
    expect(absent.present).toBe(false);
    expect(absent.relativePower).toBeLessThan(1e-3);
  });

  it.each(candidates)('picks %d Hz among the candidates', (frequency) => {
    for (const sampleRate of [8000, 48000]) {
      const tone = sineTone({ frequency, sampleRate, durationMs: 160, amplitude: 0.3 });
      const result = dominantTone(tone, sampleRate, candidates);
      expect(result.frequency).toBe(frequency);
      expect(result.relativePower).toBeGreaterThan(0.9);
      expect(result.marginDb).toBeGreaterThan(30);
    }
  });

  it('finds a tone in noise and reports its share', () => {
    const tone = sineTone({ frequency: 1000, sampleRate: 8000, durationMs: 500, amplitude: 0.3 });
    let seed = 12345;
    const noisy = tone.map((sample) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return sample + ((seed / 0x7fffffff) * 2 - 1) * 2000; // about −27 dB below the tone
    });
    const result = dominantTone(noisy, 8000, [500, 1000]);
    expect(result.frequency).toBe(1000);
    expect(result.relativePower).toBeGreaterThan(0.9);
    expect(result.candidates[0]!.relativePower).toBeLessThan(0.01);
  });

  it('names no tone when two are equally loud', () => {
    const a = sineTone({ frequency: 500, sampleRate: 8000, durationMs: 200, amplitude: 0.3 });
    const b = sineTone({ frequency: 1000, sampleRate: 8000, durationMs: 200, amplitude: 0.3 });
    const mixed = a.map((sample, i) => sample + b[i]!);
    const result = dominantTone(mixed, 8000, [500, 1000]);
    expect(result.frequency).toBeNull();
    expect(result.marginDb).toBeLessThan(1);
    for (const candidate of result.candidates) expect(candidate.relativePower).toBeCloseTo(0.5, 1);
  });

  it('detects nothing in silence, digital or near', () => {
    for (const silence of [new Int16Array(1600), new Int16Array(1600).fill(3), new Float32Array(4800)]) {
      const result = dominantTone(silence, 8000, [500, 1000]);
      expect(result.frequency).toBeNull();
      expect(result.relativePower).toBe(0);
      expect(detectTone(silence, 8000, 1000).present).toBe(false);
    }
    expect(dominantTone(new Int16Array(0), 8000, [1000]).frequency).toBeNull();
  });

  it('takes full scale as 1.0 for floating-point samples', () => {
    const tone = Float32Array.from(
      sineTone({ frequency: 1000, sampleRate: 48000, durationMs: 100 }),
      (s) => s / 32768,
    );
    const result = dominantTone(tone, 48000, [500, 1000]);
    expect(result.frequency).toBe(1000);
    expect(result.signalDbfs).toBeCloseTo(-9, 0); // peak 0.5: −6 dB, sine: −3 dB
  });
});

describe('WAV', () => {
  it('writes 16-bit PCM mono and reads it back', () => {
    const tone = sineTone({ frequency: 1000, sampleRate: 48000, durationMs: 50 });
    const file = encodeWav(tone, 48000);
    expect(file.toString('ascii', 0, 4)).toBe('RIFF');
    expect(file.readUInt32LE(4)).toBe(file.length - 8);
    expect(file.readUInt32LE(24)).toBe(48000);
    expect(file.readUInt16LE(34)).toBe(16);
    expect(file.length).toBe(44 + tone.length * 2);
    const read = decodeWav(file);
    expect(read.sampleRate).toBe(48000);
    expect(read.channels).toHaveLength(1);
    expect(Array.from(read.channels[0]!)).toEqual(Array.from(tone));
  });

  it('reads stereo, skipping unknown and odd-sized chunks', () => {
    const header = encodeWav(new Int16Array(0), 22050);
    header.writeUInt16LE(2, 22); // stereo
    header.writeUInt32LE(22050 * 4, 28);
    header.writeUInt16LE(4, 32);
    const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([3, 0, 0, 0]), Buffer.from('abc\0')]);
    const data = Buffer.alloc(8 + 8);
    data.write('data', 0, 'ascii');
    data.writeUInt32LE(8, 4);
    for (const [i, value] of [1, -1, 2, -2].entries()) data.writeInt16LE(value, 8 + 2 * i);
    const file = Buffer.concat([header.subarray(0, 36), list, data]);
    const read = decodeWav(file);
    expect(read.sampleRate).toBe(22050);
    expect(Array.from(read.channels[0]!)).toEqual([1, 2]);
    expect(Array.from(read.channels[1]!)).toEqual([-1, -2]);
  });

  it('rejects what is not 16-bit PCM WAV', () => {
    expect(() => decodeWav(Buffer.from('not a wav file at all'))).toThrow(/RIFF/);
    const eightBit = encodeWav(new Int16Array(4), 8000);
    eightBit.writeUInt16LE(8, 34);
    expect(() => decodeWav(eightBit)).toThrow(/16-bit/);
  });
});
