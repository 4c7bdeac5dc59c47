import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeWav } from '../testing/audio.js';
import { AudioFileError, probeAudioFile } from './audio-file.js';
import { BUILTIN_AUDIO_DIR, builtinAudio, PromptComposer, positionAnnouncementParts } from './prompts.js';

const root = mkdtempSync(join(tmpdir(), 'switchboard-prompts-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('built-in audio paths', () => {
  it('BUILTIN_AUDIO_DIR is <package root>/assets/audio, and exists', () => {
    const packageRoot = fileURLToPath(new URL('../../', import.meta.url));
    expect(BUILTIN_AUDIO_DIR).toBe(resolve(packageRoot, 'assets', 'audio'));
    expect(existsSync(join(packageRoot, 'package.json'))).toBe(true);
    expect(statSync(BUILTIN_AUDIO_DIR).isDirectory()).toBe(true);
  });

  it('builtinAudio names absolute paths of playable files', () => {
    expect(Object.keys(builtinAudio).sort()).toEqual([
      'closed',
      'goodbye',
      'greeting',
      'music',
      'whisperQueueCall',
    ]);
    for (const path of Object.values(builtinAudio)) {
      expect(isAbsolute(path)).toBe(true);
      expect(probeAudioFile(path)).toMatchObject({ format: 'wav', sampleRate: 8000, channels: 1 });
    }
    expect(basename(builtinAudio.music)).toBe('music.wav');
    expect(basename(builtinAudio.whisperQueueCall)).toBe('whisper-queue-call.wav');
  });
});

describe('positionAnnouncementParts', () => {
  const names = (position: number, wait?: number) =>
    positionAnnouncementParts(position, wait).map((path) => basename(path, '.wav'));

  it('says the position, then the expected wait', () => {
    expect(names(3)).toEqual(['you-are-caller-number', 'number-3']);
    expect(names(3, 4)).toEqual([
      'you-are-caller-number',
      'number-3',
      'pause',
      'expected-wait',
      'number-4',
      'minutes',
    ]);
    expect(names(1, 1)).toEqual([
      'you-are-caller-number',
      'number-1',
      'pause',
      'expected-wait',
      'number-1',
      'minute',
    ]);
    expect(names(2, 0)).toEqual(['you-are-caller-number', 'number-2', 'pause', 'less-than-a-minute']);
  });

  it('composes 21–99 from tens and ones, and says anything larger as 99', () => {
    expect(names(20)).toEqual(['you-are-caller-number', 'number-20']);
    expect(names(23)).toEqual(['you-are-caller-number', 'number-20', 'number-3']);
    expect(names(40)).toEqual(['you-are-caller-number', 'number-40']);
    expect(names(99)).toEqual(['you-are-caller-number', 'number-90', 'number-9']);
    expect(names(250, 130)).toEqual(names(99, 99));
  });

  it('rounds the wait to whole minutes', () => {
    expect(names(1, 0.4)).toEqual(names(1, 0));
    expect(names(1, 2.6)).toEqual(names(1, 3));
  });

  it('refuses positions below 1 or not whole, and negative or non-finite waits', () => {
    for (const position of [0, -1, 1.5, Number.NaN]) expect(() => names(position)).toThrow(RangeError);
    for (const wait of [-1, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => names(1, wait)).toThrow(RangeError);
  });

  it('every part it can name exists', () => {
    for (let n = 1; n <= 99; n++)
      for (const path of positionAnnouncementParts(n, n - 1)) expect(existsSync(path), path).toBe(true);
  });
});

describe('PromptComposer', () => {
  it('writes one WAV whose audio is its parts one after another', () => {
    const cacheDir = join(root, 'cache-a', 'nested');
    const composer = new PromptComposer(cacheDir);
    const path = composer.positionAnnouncement(23, 4);
    expect(path).toBe(join(cacheDir, 'position-23-wait-4.wav'));
    const parts = positionAnnouncementParts(23, 4);
    const sum = parts.reduce((ms, part) => ms + probeAudioFile(part).durationMs, 0);
    expect(probeAudioFile(path)).toEqual({
      path,
      format: 'wav',
      sampleRate: 8000,
      channels: 1,
      durationMs: sum,
    });
    const samples = [...decodeWav(readFileSync(path)).channels[0]!];
    const expected = parts.flatMap((part) => [...decodeWav(readFileSync(part)).channels[0]!]);
    expect(samples).toEqual(expected);
  });

  it('names files by what they say, position alone or with the wait', () => {
    const composer = new PromptComposer(join(root, 'cache-b'));
    expect(basename(composer.positionAnnouncement(3))).toBe('position-3.wav');
    expect(basename(composer.positionAnnouncement(3, 0))).toBe('position-3-wait-0.wav');
    expect(basename(composer.positionAnnouncement(3, 1.2))).toBe('position-3-wait-1.wav');
    expect(basename(composer.positionAnnouncement(120, 0))).toBe('position-99-wait-0.wav');
    // Only the finished files are left: the temporary files were renamed.
    expect(readdirSync(join(root, 'cache-b')).sort()).toEqual([
      'position-3-wait-0.wav',
      'position-3-wait-1.wav',
      'position-3.wav',
      'position-99-wait-0.wav',
    ]);
  });

  it('returns a cached file without writing it again, also from another composer', () => {
    const cacheDir = join(root, 'cache-c');
    const composer = new PromptComposer(cacheDir);
    const path = composer.positionAnnouncement(5, 2);
    const past = new Date('2020-01-01T00:00:00Z');
    utimesSync(path, past, past);
    expect(composer.positionAnnouncement(5, 2)).toBe(path);
    expect(new PromptComposer(cacheDir).positionAnnouncement(5, 2)).toBe(path);
    expect(statSync(path).mtimeMs).toBe(past.getTime());
  });

  it('fails with AudioFileError when a prompt is missing, leaving no file behind', () => {
    const cacheDir = join(root, 'cache-d');
    const composer = new PromptComposer(cacheDir, join(root, 'no-prompts-here'));
    expect(() => composer.positionAnnouncement(2)).toThrow(AudioFileError);
    expect(readdirSync(cacheDir)).toEqual([]);
    expect(() => composer.positionAnnouncement(0)).toThrow(RangeError);
  });
});
