/**
 * Audio helpers for tests that verify media by listening to it: G.711 (ITU-T G.711 μ-law and
 * A-law) codecs, a sine tone generator, tone detection with the Goertzel algorithm, and a WAV
 * (RIFF, 16-bit PCM) writer and reader.
 *
 * Samples are 16-bit linear PCM (`Int16Array`, full scale 32768) unless a `Float32Array` is
 * given to the detectors, which then take full scale as 1.0.
 */
import { alawToLinear, decodeG711, type G711Law, mulawToLinear } from '../recordings/g711.js';

// Decoding is the production codec's (src/recordings/g711.ts); tests and the RTP peer use it from here.
export { alawToLinear, decodeG711, type G711Law, mulawToLinear };

// ---- G.711 ---------------------------------------------------------------------------------------

/** μ-law: the bias added before finding the segment, and the largest magnitude that is encoded. */
const MULAW_BIAS = 0x84;
const MULAW_CLIP = 32635;

/** Encode one 16-bit linear sample as a G.711 μ-law byte. */
export function linearToMulaw(sample: number): number {
  let magnitude = Math.round(sample);
  const sign = magnitude < 0 ? 0x80 : 0;
  if (sign) magnitude = -magnitude;
  if (magnitude > MULAW_CLIP) magnitude = MULAW_CLIP;
  magnitude += MULAW_BIAS;
  // The segment (exponent) is the position of the highest set bit above bit 7, 0..7.
  let exponent = 7;
  for (let mask = 0x4000; (magnitude & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (magnitude >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** Upper ends of the A-law segments, on the 13-bit magnitude scale. */
const ALAW_SEGMENT_ENDS = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];

/** Encode one 16-bit linear sample as a G.711 A-law byte (even bits inverted, as transmitted). */
export function linearToAlaw(sample: number): number {
  let magnitude = Math.round(sample) >> 3; // 13-bit
  let signAndInversion: number;
  if (magnitude >= 0) {
    signAndInversion = 0xd5; // sign bit set for positive values, then the 0x55 inversion
  } else {
    signAndInversion = 0x55;
    magnitude = -magnitude - 1;
  }
  let segment = 0;
  while (segment < 8 && magnitude > ALAW_SEGMENT_ENDS[segment]!) segment++;
  if (segment >= 8) return 0x7f ^ signAndInversion;
  const mantissa = segment < 2 ? (magnitude >> 1) & 0x0f : (magnitude >> segment) & 0x0f;
  return ((segment << 4) | mantissa) ^ signAndInversion;
}

/** Encode 16-bit linear samples as G.711 bytes (one byte per sample). */
export function encodeG711(samples: ArrayLike<number>, law: G711Law): Uint8Array {
  const encode = law === 'mulaw' ? linearToMulaw : linearToAlaw;
  const out = new Uint8Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = encode(samples[i]!);
  return out;
}

// ---- tones ---------------------------------------------------------------------------------------

export interface ToneOptions {
  /** Hz. */
  frequency: number;
  /** Samples per second. */
  sampleRate: number;
  /** Peak amplitude as a fraction of full scale (0..1). Default 0.5 (−6 dBFS). */
  amplitude?: number;
}

/**
 * A continuous sine tone, produced in pieces of any length with no phase jump between them (an RTP
 * sender asks for one 20 ms packet at a time).
 */
export class ToneGenerator {
  readonly frequency: number;
  readonly sampleRate: number;
  readonly amplitude: number;
  /** Samples produced so far. */
  private position = 0;

  constructor({ frequency, sampleRate, amplitude = 0.5 }: ToneOptions) {
    if (!(sampleRate > 0)) throw new RangeError(`sample rate must be positive, not ${sampleRate}`);
    if (!(frequency >= 0 && frequency < sampleRate / 2))
      throw new RangeError(
        `tone of ${frequency} Hz is not below the Nyquist frequency of ${sampleRate / 2} Hz`,
      );
    if (!(amplitude >= 0 && amplitude <= 1)) throw new RangeError(`amplitude must be 0..1, not ${amplitude}`);
    this.frequency = frequency;
    this.sampleRate = sampleRate;
    this.amplitude = amplitude;
  }

  /** The next `count` samples, 16-bit. */
  next(count: number): Int16Array {
    const out = new Int16Array(count);
    const peak = this.amplitude * 32767;
    const step = (2 * Math.PI * this.frequency) / this.sampleRate;
    // The phase comes from the absolute sample index, so rounding does not accumulate over a long
    // stream. One second holds whole cycles when both rates are integers: the index then wraps.
    const wrap = Number.isInteger(this.frequency) && Number.isInteger(this.sampleRate);
    for (let i = 0; i < count; i++) {
      out[i] = Math.round(peak * Math.sin(step * this.position));
      this.position++;
      if (wrap && this.position === this.sampleRate) this.position = 0;
    }
    return out;
  }
}

/** `durationMs` of a sine tone, 16-bit. */
export function sineTone(options: ToneOptions & { durationMs: number }): Int16Array {
  const count = Math.round((options.durationMs * options.sampleRate) / 1000);
  return new ToneGenerator(options).next(count);
}

// ---- detection -----------------------------------------------------------------------------------

/** Full scale of a sample buffer: 1.0 for floating point, 32768 for integers. */
function fullScaleOf(samples: ArrayLike<number>): number {
  return samples instanceof Float32Array || samples instanceof Float64Array ? 1 : 32768;
}

/** Hann window value `i` of `n`. */
function hann(i: number, n: number): number {
  return n <= 1 ? 1 : 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1));
}

/**
 * The power (mean square, in squared sample units) of the component of `samples` at `frequency`,
 * estimated with a Hann-windowed Goertzel filter. For a pure sine of peak A it is A²/2, the same
 * as the whole signal's mean square; the window keeps a tone's leakage into bins a few tens of
 * Hz away (over a window of 100 ms or more) negligible.
 */
export function goertzelPower(samples: ArrayLike<number>, sampleRate: number, frequency: number): number {
  const n = samples.length;
  if (n === 0) return 0;
  const omega = (2 * Math.PI * frequency) / sampleRate;
  const coefficient = 2 * Math.cos(omega);
  let previous = 0;
  let beforePrevious = 0;
  let windowSum = 0;
  for (let i = 0; i < n; i++) {
    const w = hann(i, n);
    windowSum += w;
    const current = w * samples[i]! + coefficient * previous - beforePrevious;
    beforePrevious = previous;
    previous = current;
  }
  const magnitudeSquared =
    previous * previous + beforePrevious * beforePrevious - coefficient * previous * beforePrevious;
  if (windowSum === 0) return 0;
  // |X|² ≈ (A·Σw/2)² for a sine of peak A: scale to A²/2.
  return (2 * Math.max(0, magnitudeSquared)) / (windowSum * windowSum);
}

/** Mean square of `samples` (squared sample units). */
export function meanSquare(samples: ArrayLike<number>): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
  return sum / samples.length;
}

/** Level in dBFS of a mean square (a full-scale sine is about −3 dBFS); −Infinity for silence. */
function levelDbfs(power: number, fullScale: number): number {
  return power > 0 ? 10 * Math.log10(power / (fullScale * fullScale)) : Number.NEGATIVE_INFINITY;
}

export interface ToneMeasurement {
  /** Hz. */
  frequency: number;
  /** Estimated mean square of the component at `frequency` (squared sample units). */
  power: number;
  /**
   * The component's share of the signal's total power, 0..1 (≈1 for a pure tone at this frequency,
   * ≈0 when it is absent; 0 for silence).
   */
  relativePower: number;
  /** The component's level in dBFS. */
  levelDbfs: number;
}

export interface DetectionOptions {
  /** Below this level (dBFS) the signal is silence and no tone is present. Default −50. */
  silenceDbfs?: number;
  /** A tone is present when its share of the total power is at least this much. Default 0.5. */
  minRelativePower?: number;
  /**
   * `dominantTone` only: the strongest candidate must also be this many dB above the next
   * strongest to be named. Default 6.
   */
  minMarginDb?: number;
  /**
   * The signal is analysed in blocks of about this many ms whose powers are summed, so that a level
   * that changes over the window (a browser's automatic gain control settling, a stream starting
   * part-way) does not read as energy away from the tone. Frequency resolution is about
   * 2000 / blockMs Hz either side of a candidate. Default 100.
   */
  blockMs?: number;
}

const DEFAULT_SILENCE_DBFS = -50;
const DEFAULT_MIN_RELATIVE_POWER = 0.5;
const DEFAULT_MIN_MARGIN_DB = 6;
const DEFAULT_BLOCK_MS = 100;

/** Total power and each frequency's power, averaged over blocks of the signal (the last ones). */
function measureBlocks(
  samples: ArrayLike<number>,
  sampleRate: number,
  frequencies: readonly number[],
  blockMs: number,
): { total: number; powers: number[]; analysed: number } {
  const n = samples.length;
  const blockCount = Math.max(1, Math.floor((n * 1000) / sampleRate / blockMs));
  const blockLength = Math.floor(n / blockCount);
  const powers = frequencies.map(() => 0);
  let total = 0;
  if (blockLength === 0) return { total: 0, powers, analysed: 0 };
  // A remainder is left out at the start: the most recent audio is what matters.
  const first = n - blockCount * blockLength;
  const block =
    samples instanceof Float32Array || samples instanceof Int16Array || samples instanceof Float64Array;
  for (let b = 0; b < blockCount; b++) {
    const from = first + b * blockLength;
    const piece = block
      ? samples.subarray(from, from + blockLength)
      : Array.prototype.slice.call(samples, from, from + blockLength);
    total += meanSquare(piece);
    frequencies.forEach((frequency, i) => {
      powers[i]! += goertzelPower(piece, sampleRate, frequency);
    });
  }
  return {
    total: total / blockCount,
    powers: powers.map((p) => p / blockCount),
    analysed: blockCount * blockLength,
  };
}

export interface ToneDetection extends ToneMeasurement {
  /** Whether the tone is there: signal above silence and at least `minRelativePower` of it. */
  present: boolean;
  /** Level of the whole signal in dBFS. */
  signalDbfs: number;
  /** Number of samples analysed. */
  sampleCount: number;
}

/** Measure one frequency in `samples`. */
export function detectTone(
  samples: ArrayLike<number>,
  sampleRate: number,
  frequency: number,
  options: DetectionOptions = {},
): ToneDetection {
  const fullScale = fullScaleOf(samples);
  const { total, powers, analysed } = measureBlocks(
    samples,
    sampleRate,
    [frequency],
    options.blockMs ?? DEFAULT_BLOCK_MS,
  );
  const power = powers[0]!;
  const signalDbfs = levelDbfs(total, fullScale);
  const audible = signalDbfs >= (options.silenceDbfs ?? DEFAULT_SILENCE_DBFS);
  const relativePower = audible && total > 0 ? Math.min(1, power / total) : 0;
  return {
    frequency,
    power,
    relativePower,
    levelDbfs: levelDbfs(power, fullScale),
    present: relativePower >= (options.minRelativePower ?? DEFAULT_MIN_RELATIVE_POWER) && relativePower > 0,
    signalDbfs,
    sampleCount: analysed,
  };
}

export interface DominantTone {
  /**
   * The candidate that carries most of the signal, or null: silence, no candidate reaching
   * `minRelativePower` of the total power, or none standing `minMarginDb` above the others.
   */
  frequency: number | null;
  /** The strongest candidate's share of the total power, 0..1 (0 for silence). */
  relativePower: number;
  /**
   * How far the strongest candidate is above the next strongest, in dB (Infinity when the others
   * measure nothing or there is only one candidate; 0 for silence).
   */
  marginDb: number;
  /** Level of the whole signal in dBFS. */
  signalDbfs: number;
  /** Number of samples analysed. */
  sampleCount: number;
  /** Every candidate's measurement, in the order given. */
  candidates: ToneMeasurement[];
}

/**
 * Which of `candidates` (Hz) is the tone in `samples`. To assert "1 kHz present, 500 Hz absent":
 * `frequency === 1000`, plus the 500 Hz candidate's `relativePower` near 0 and a wide `marginDb`.
 */
export function dominantTone(
  samples: ArrayLike<number>,
  sampleRate: number,
  candidates: readonly number[],
  options: DetectionOptions = {},
): DominantTone {
  if (candidates.length === 0) throw new RangeError('dominantTone needs at least one candidate frequency');
  const fullScale = fullScaleOf(samples);
  const { total, powers, analysed } = measureBlocks(
    samples,
    sampleRate,
    candidates,
    options.blockMs ?? DEFAULT_BLOCK_MS,
  );
  const signalDbfs = levelDbfs(total, fullScale);
  const audible = signalDbfs >= (options.silenceDbfs ?? DEFAULT_SILENCE_DBFS);
  const measurements: ToneMeasurement[] = candidates.map((frequency, i) => {
    const power = powers[i]!;
    return {
      frequency,
      power,
      relativePower: audible && total > 0 ? Math.min(1, power / total) : 0,
      levelDbfs: levelDbfs(power, fullScale),
    };
  });
  const ranked = [...measurements].sort((a, b) => b.power - a.power);
  const strongest = ranked[0]!;
  const runnerUp = ranked[1];
  const marginDb = !audible
    ? 0
    : !runnerUp || runnerUp.power <= 0
      ? Number.POSITIVE_INFINITY
      : 10 * Math.log10(strongest.power / runnerUp.power);
  const present =
    audible &&
    strongest.relativePower >= (options.minRelativePower ?? DEFAULT_MIN_RELATIVE_POWER) &&
    marginDb >= (options.minMarginDb ?? DEFAULT_MIN_MARGIN_DB);
  return {
    frequency: present ? strongest.frequency : null,
    relativePower: strongest.relativePower,
    marginDb,
    signalDbfs,
    sampleCount: analysed,
    candidates: measurements,
  };
}

// ---- WAV -----------------------------------------------------------------------------------------

/** A RIFF/WAVE file holding 16-bit PCM, mono, at `sampleRate`. */
export function encodeWav(samples: Int16Array, sampleRate: number): Buffer {
  const dataBytes = samples.length * 2;
  const out = Buffer.alloc(44 + dataBytes);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + dataBytes, 4);
  out.write('WAVE', 8, 'ascii');
  out.write('fmt ', 12, 'ascii');
  out.writeUInt32LE(16, 16); // fmt chunk size
  out.writeUInt16LE(1, 20); // PCM
  out.writeUInt16LE(1, 22); // channels
  out.writeUInt32LE(sampleRate, 24);
  out.writeUInt32LE(sampleRate * 2, 28); // byte rate
  out.writeUInt16LE(2, 32); // block align
  out.writeUInt16LE(16, 34); // bits per sample
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(dataBytes, 40);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i]!, 44 + 2 * i);
  return out;
}

export interface WavAudio {
  sampleRate: number;
  /** One array per channel (de-interleaved). */
  channels: Int16Array[];
}

/**
 * Read a RIFF/WAVE file of 16-bit PCM (any rate, any number of channels; WAVE_FORMAT_EXTENSIBLE
 * with a PCM sub-format too). Chunks other than `fmt ` and `data` are skipped.
 */
export function decodeWav(file: Uint8Array): WavAudio {
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE')
    throw new Error('not a RIFF/WAVE file');
  let format: { channels: number; sampleRate: number; bitsPerSample: number; formatTag: number } | undefined;
  let offset = 12;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('ascii', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (body + size > buf.length && id !== 'data') throw new Error(`WAV chunk '${id}' runs past the end`);
    if (id === 'fmt ') {
      if (size < 16) throw new Error('WAV fmt chunk too short');
      let formatTag = buf.readUInt16LE(body);
      // WAVE_FORMAT_EXTENSIBLE: the real format is the first two bytes of the sub-format GUID.
      if (formatTag === 0xfffe && size >= 40) formatTag = buf.readUInt16LE(body + 24);
      format = {
        formatTag,
        channels: buf.readUInt16LE(body + 2),
        sampleRate: buf.readUInt32LE(body + 4),
        bitsPerSample: buf.readUInt16LE(body + 14),
      };
    } else if (id === 'data') {
      if (!format) throw new Error('WAV data chunk before fmt chunk');
      if (format.formatTag !== 1 || format.bitsPerSample !== 16)
        throw new Error(
          `unsupported WAV format ${format.formatTag} / ${format.bitsPerSample} bits (16-bit PCM only)`,
        );
      if (format.channels < 1) throw new Error('WAV with no channels');
      // Tolerate a data size past the end (streamed files): read what is there.
      const available = Math.min(size, buf.length - body);
      const frames = Math.floor(available / (2 * format.channels));
      const channels = Array.from({ length: format.channels }, () => new Int16Array(frames));
      for (let frame = 0; frame < frames; frame++)
        for (let channel = 0; channel < format.channels; channel++)
          channels[channel]![frame] = buf.readInt16LE(body + 2 * (frame * format.channels + channel));
      return { sampleRate: format.sampleRate, channels };
    }
    offset = body + size + (size & 1); // chunks are padded to even sizes
  }
  throw new Error('WAV file has no data chunk');
}
