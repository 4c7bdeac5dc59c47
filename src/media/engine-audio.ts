/**
 * Audio files as the media engine plays them best. rtpengine 10.5 `play media` paces a WAV at a
 * low sample rate badly: an 8 kHz file comes out in bursts of ~13 packets every ~256 ms (pauses of
 * 100 ms and more, which a phone's jitter buffer may not hide), a 16 kHz file with 40 ms gaps, while
 * 22.05 kHz and up come out evenly every 20 ms (measured: bench/queue-audio.bench.ts). Telephony
 * prompts are very often 8 kHz WAVs — the built-in ones too — so each 16-bit PCM WAV below
 * 22.05 kHz is played from a 48 kHz copy, made once per file (linear interpolation: the engine
 * band-limits to G.711's 8 kHz again on the way out) and kept in a cache directory the engine can
 * read. Other files are played as they are.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { decodePcm16Wav, encodePcm16Wav, probeAudioFile } from './audio-file.js';

/** Below this rate a WAV is played from a resampled copy. */
export const EVEN_PACING_MIN_RATE = 22_050;
/** The rate of the copies. */
export const ENGINE_PLAYBACK_RATE = 48_000;

/** Linear interpolation to `toRate` (upsampling only needs no filter before G.711 band-limits it). */
export function resampleLinear(samples: Int16Array, fromRate: number, toRate: number): Int16Array {
  if (fromRate === toRate || samples.length === 0) return samples;
  const length = Math.max(1, Math.round((samples.length * toRate) / fromRate));
  const out = new Int16Array(length);
  const step = fromRate / toRate;
  for (let i = 0; i < length; i++) {
    const position = i * step;
    const index = Math.floor(position);
    const next = Math.min(index + 1, samples.length - 1);
    const fraction = position - index;
    out[i] = Math.round(samples[index]! * (1 - fraction) + samples[next]! * fraction);
  }
  return out;
}

export class EngineAudioCache {
  readonly dir: string;
  private readonly prepared = new Map<string, string>();

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  /**
   * The file to hand the engine for `path`: a 48 kHz copy of a 16-bit PCM WAV below 22.05 kHz
   * (written once, atomically, named by the source's path, size and mtime), else `path` itself.
   * Never throws: a file it cannot read or convert is played as it is (the loader checked it).
   */
  playable(path: string): string {
    const known = this.prepared.get(path);
    if (known) return known;
    let result = path;
    try {
      const info = probeAudioFile(path);
      if (info.format === 'wav' && info.sampleRate < EVEN_PACING_MIN_RATE) {
        const stat = statSync(path);
        const key = createHash('sha256')
          .update(`${resolve(path)}\0${stat.size}\0${stat.mtimeMs}`)
          .digest('hex')
          .slice(0, 16);
        const target = join(this.dir, `${basename(path).replace(/\.wav$/i, '')}-${key}-48k.wav`);
        if (!existsSync(target)) {
          const { sampleRate, samples } = decodePcm16Wav(readFileSync(path), path);
          mkdirSync(this.dir, { recursive: true });
          const temporary = `${target}.${process.pid}.tmp`;
          writeFileSync(
            temporary,
            encodePcm16Wav(resampleLinear(samples, sampleRate, ENGINE_PLAYBACK_RATE), ENGINE_PLAYBACK_RATE),
          );
          renameSync(temporary, target);
        }
        result = target;
      }
    } catch {
      result = path;
    }
    this.prepared.set(path, result);
    return result;
  }
}
