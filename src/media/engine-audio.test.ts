import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dominantTone, encodeWav, sineTone } from '../testing/audio.js';
import { decodePcm16Wav, probeAudioFile } from './audio-file.js';
import { EngineAudioCache, resampleLinear } from './engine-audio.js';

const dir = mkdtempSync(join(tmpdir(), 'engine-audio-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('resampleLinear', () => {
  it('keeps the tone and the duration', () => {
    const tone = sineTone({ frequency: 450, sampleRate: 8000, durationMs: 500 });
    const up = resampleLinear(tone, 8000, 48_000);
    expect(up.length).toBe(tone.length * 6);
    expect(dominantTone(up, 48_000, [350, 450, 700]).frequency).toBe(450);
    expect(resampleLinear(tone, 8000, 8000)).toBe(tone);
  });
});

describe('EngineAudioCache', () => {
  const wav = (name: string, rate: number) => {
    const path = join(dir, name);
    writeFileSync(path, encodeWav(sineTone({ frequency: 700, sampleRate: rate, durationMs: 300 }), rate));
    return path;
  };

  it('plays a low-rate WAV from a 48 kHz copy, made once; a 48 kHz one as it is', () => {
    const cache = new EngineAudioCache(join(dir, 'cache'));
    const narrow = wav('narrow.wav', 8000);
    const copy = cache.playable(narrow);
    expect(copy).not.toBe(narrow);
    expect(probeAudioFile(copy)).toMatchObject({ format: 'wav', sampleRate: 48_000, channels: 1 });
    expect(Math.round(probeAudioFile(copy).durationMs)).toBe(300);
    const { samples } = decodePcm16Wav(new Uint8Array(readFileSync(copy)));
    expect(dominantTone(samples, 48_000, [450, 700]).frequency).toBe(700);
    const written = statSync(copy).mtimeMs;
    expect(new EngineAudioCache(join(dir, 'cache')).playable(narrow)).toBe(copy);
    expect(statSync(copy).mtimeMs).toBe(written);
    const wide = wav('wide.wav', 48_000);
    expect(cache.playable(wide)).toBe(wide);
  });

  it('plays what it cannot read or convert as it is', () => {
    const cache = new EngineAudioCache(join(dir, 'cache'));
    expect(cache.playable(join(dir, 'missing.wav'))).toBe(join(dir, 'missing.wav'));
  });
});
