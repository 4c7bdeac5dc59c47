/**
 * Tone WAV files for Chromium's fake microphone: `--use-file-for-fake-audio-capture=<path>` makes
 * every getUserMedia audio track of that browser play the file, looped. The flag is per browser
 * process, so pages that must send different tones need browsers of their own (one per tone).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { encodeWav, sineTone } from './audio.js';

export interface ToneWavOptions {
  /** Hz. */
  frequency: number;
  /** Default 48000, Chromium's usual capture rate (no resampling). */
  sampleRate?: number;
  /** Length of the file before it loops; rounded to whole cycles of the tone. Default 2000. */
  durationMs?: number;
  /** Peak amplitude as a fraction of full scale. Default 0.5 (−6 dBFS). */
  amplitude?: number;
  /** Directory to write into; default a fresh one under the system's temp directory. */
  dir?: string;
}

const TEMP_PREFIX = 'switchboard-tone-';

function greatestCommonDivisor(a: number, b: number): number {
  return b === 0 ? a : greatestCommonDivisor(b, a % b);
}

/**
 * The tone's samples, as many as make whole cycles closest to `durationMs`: the file loops
 * without a click (for integer frequency and rate; otherwise simply `durationMs` long).
 */
export function loopableTone({
  frequency,
  sampleRate = 48000,
  durationMs = 2000,
  amplitude = 0.5,
}: Omit<ToneWavOptions, 'dir'>): Int16Array {
  let count = Math.round((durationMs * sampleRate) / 1000);
  if (Number.isInteger(frequency) && Number.isInteger(sampleRate) && frequency > 0) {
    // The waveform repeats exactly every sampleRate / gcd(sampleRate, frequency) samples.
    const period = sampleRate / greatestCommonDivisor(sampleRate, frequency);
    count = Math.max(period, Math.round(count / period) * period);
  }
  return sineTone({ frequency, sampleRate, amplitude, durationMs: (count * 1000) / sampleRate });
}

/** Write a 16-bit mono PCM WAV of a tone; returns its absolute path (`tone-<Hz>hz.wav`). */
export async function writeToneWav(options: ToneWavOptions): Promise<string> {
  const sampleRate = options.sampleRate ?? 48000;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), TEMP_PREFIX)));
  const path = join(dir, `tone-${options.frequency}hz-${sampleRate}.wav`);
  await writeFile(path, encodeWav(loopableTone({ ...options, sampleRate }), sampleRate));
  return path;
}

/** Remove a file `writeToneWav` wrote, with its temporary directory when it made one. */
export async function removeToneWav(path: string): Promise<void> {
  const dir = dirname(path);
  if (basename(dir).startsWith(TEMP_PREFIX)) await rm(dir, { recursive: true, force: true });
  else await rm(path, { force: true });
}

/** The Chromium flag that makes the fake microphone play `path`. */
export function fakeAudioCaptureFlag(path: string): string {
  return `--use-file-for-fake-audio-capture=${path}`;
}
