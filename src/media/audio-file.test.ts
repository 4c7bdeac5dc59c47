import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Mp3Encoder } from '@breezystack/lamejs';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeMp3 } from '../recordings/testing.js';
import { decodeWav, encodeWav, meanSquare, sineTone } from '../testing/audio.js';
import {
  AudioFileError,
  type AudioFileErrorCode,
  concatWavFiles,
  decodePcm16Wav,
  encodePcm16Wav,
  probeAudioFile,
} from './audio-file.js';
import { BUILTIN_AUDIO_DIR } from './prompts.js';

const dir = mkdtempSync(join(tmpdir(), 'switchboard-audio-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCounter = 0;
function file(data: Uint8Array | string, name = `f${++fileCounter}.wav`): string {
  const path = join(dir, name);
  writeFileSync(path, data);
  return path;
}

interface WavSpec {
  formatTag?: number;
  channels?: number;
  sampleRate?: number;
  bits?: number;
  /** Bytes of sample data (zeros). */
  dataBytes: number;
  /** WAVE_FORMAT_EXTENSIBLE with `formatTag` as the sub-format. */
  extensible?: boolean;
  /** Chunks written before `fmt `. */
  before?: Array<[string, Buffer]>;
  /** The size written in the data chunk's header, when it should lie. */
  declaredDataBytes?: number;
  /** Override of the block align field. */
  blockAlign?: number;
}

function chunk(id: string, body: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.write(id, 0, 'latin1');
  header.writeUInt32LE(body.length, 4);
  return Buffer.concat([header, body, body.length % 2 === 1 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}

/** A WAV written by hand, byte by byte, for the formats encodeWav does not make. */
function wav(spec: WavSpec): Buffer {
  const { formatTag = 1, channels = 1, sampleRate = 8000, bits = 16 } = spec;
  const blockAlign = spec.blockAlign ?? (channels * bits) / 8;
  const fmt = Buffer.alloc(spec.extensible ? 40 : 16);
  fmt.writeUInt16LE(spec.extensible ? 0xfffe : formatTag, 0);
  fmt.writeUInt16LE(channels, 2);
  fmt.writeUInt32LE(sampleRate, 4);
  fmt.writeUInt32LE(sampleRate * blockAlign, 8);
  fmt.writeUInt16LE(blockAlign, 12);
  fmt.writeUInt16LE(bits, 14);
  if (spec.extensible) {
    fmt.writeUInt16LE(22, 16); // cbSize
    fmt.writeUInt16LE(bits, 18); // valid bits
    fmt.writeUInt32LE(channels === 1 ? 0x4 : 0x3, 20); // channel mask
    fmt.writeUInt16LE(formatTag, 24);
    Buffer.from([0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71]).copy(fmt, 26);
  }
  const data = chunk('data', Buffer.alloc(spec.dataBytes));
  if (spec.declaredDataBytes !== undefined) data.writeUInt32LE(spec.declaredDataBytes, 4);
  const body = Buffer.concat([
    Buffer.from('WAVE', 'latin1'),
    ...(spec.before ?? []).map(([id, content]) => chunk(id, content)),
    chunk('fmt ', fmt),
    data,
  ]);
  const riff = Buffer.alloc(8);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(body.length, 4);
  return Buffer.concat([riff, body]);
}

function failure(run: () => unknown): AudioFileError {
  try {
    run();
  } catch (error) {
    if (error instanceof AudioFileError) return error;
    throw error;
  }
  throw new Error('expected an AudioFileError');
}

function expectFailure(path: string, code: AudioFileErrorCode, reason: RegExp): AudioFileError {
  const error = failure(() => probeAudioFile(path));
  expect(error.code).toBe(code);
  expect(error.path).toBe(path);
  expect(error.reason).toMatch(reason);
  expect(error.message).toContain(path);
  return error;
}

function mp3(channels: 1 | 2, sampleRate: number, kbps: number, durationMs: number): Buffer {
  const left = sineTone({ frequency: 440, sampleRate, durationMs, amplitude: 0.3 });
  const encoder = new Mp3Encoder(channels, sampleRate, kbps);
  const parts = [
    channels === 1 ? encoder.encodeBuffer(left) : encoder.encodeBuffer(left, left),
    encoder.flush(),
  ];
  return Buffer.concat(parts.map((part) => Buffer.from(part.buffer, part.byteOffset, part.byteLength)));
}

function id3v2(bodyBytes: number, footer = false): Buffer {
  const tag = Buffer.alloc(10 + bodyBytes + (footer ? 10 : 0));
  tag.write('ID3', 0, 'latin1');
  tag[3] = 4;
  tag[5] = footer ? 0x10 : 0;
  // Syncsafe: seven bits per byte.
  tag[6] = (bodyBytes >> 21) & 0x7f;
  tag[7] = (bodyBytes >> 14) & 0x7f;
  tag[8] = (bodyBytes >> 7) & 0x7f;
  tag[9] = bodyBytes & 0x7f;
  tag.write('TIT2', 10, 'latin1'); // a frame id, for realism; the content does not matter
  if (footer) tag.write('3DI', 10 + bodyBytes, 'latin1');
  return tag;
}

describe('probeAudioFile: WAV', () => {
  it.each([8000, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000])(
    '16-bit PCM mono at %i Hz: rate, channels and exact duration',
    (sampleRate) => {
      const samples = sineTone({ frequency: 400, sampleRate, durationMs: 1500 });
      const path = file(encodeWav(samples, sampleRate));
      expect(probeAudioFile(path)).toEqual({
        path,
        format: 'wav',
        sampleRate,
        channels: 1,
        durationMs: (samples.length * 1000) / sampleRate,
      });
    },
  );

  it.each([
    { name: '8-bit PCM', spec: { bits: 8, dataBytes: 8000 }, durationMs: 1000 },
    { name: '24-bit PCM', spec: { bits: 24, sampleRate: 16_000, dataBytes: 48_000 }, durationMs: 1000 },
    { name: '32-bit PCM', spec: { bits: 32, dataBytes: 16_000 }, durationMs: 500 },
    { name: '32-bit float', spec: { formatTag: 3, bits: 32, dataBytes: 32_000 }, durationMs: 1000 },
    { name: 'G.711 A-law', spec: { formatTag: 6, bits: 8, dataBytes: 4000 }, durationMs: 500 },
    { name: 'G.711 µ-law', spec: { formatTag: 7, bits: 8, dataBytes: 16_000 }, durationMs: 2000 },
    {
      name: 'WAVE_FORMAT_EXTENSIBLE, 24-bit PCM',
      spec: { extensible: true, bits: 24, sampleRate: 48_000, dataBytes: 144_000 },
      durationMs: 1000,
    },
    {
      name: 'WAVE_FORMAT_EXTENSIBLE, 32-bit float',
      spec: { extensible: true, formatTag: 3, bits: 32, dataBytes: 8000 },
      durationMs: 250,
    },
  ])('$name', ({ spec, durationMs }) => {
    const info = probeAudioFile(file(wav(spec)));
    expect(info).toMatchObject({ format: 'wav', channels: 1, sampleRate: spec.sampleRate ?? 8000 });
    expect(info.durationMs).toBe(durationMs);
  });

  it('walks past other chunks (odd sizes padded) to fmt and data', () => {
    const path = file(
      wav({
        dataBytes: 1600,
        before: [
          ['LIST', Buffer.from('INFOISFT\x05\x00\x00\x00sox!\x00', 'latin1')],
          ['junk', Buffer.alloc(7)],
        ],
      }),
    );
    expect(probeAudioFile(path).durationMs).toBe(100);
  });

  it('counts the bytes that are there when the data chunk claims more (streamed or cut-off files)', () => {
    const path = file(wav({ dataBytes: 8000, declaredDataBytes: 0x7ffff000 }));
    expect(probeAudioFile(path).durationMs).toBe(500);
  });

  it('refuses a stereo WAV: it must be mono', () => {
    const stereo = expectFailure(
      file(wav({ channels: 2, dataBytes: 32_000 })),
      'AUDIO_FILE_INVALID',
      /^must be mono \(it has 2 channels\)/,
    );
    expect(stereo.message).toMatch(/ is not a usable audio file: must be mono/);
  });

  it.each([
    {
      name: 'IMA ADPCM',
      spec: { formatTag: 0x11, bits: 4, dataBytes: 100, blockAlign: 1 },
      reason: /IMA ADPCM/,
    },
    {
      name: 'MP3 in a WAV',
      spec: { formatTag: 0x55, bits: 0, dataBytes: 100, blockAlign: 1 },
      reason: /MP3/,
    },
    {
      name: '64-bit float',
      spec: { formatTag: 3, bits: 64, dataBytes: 800 },
      reason: /64-bit floating point/,
    },
    { name: '12-bit PCM', spec: { bits: 12, dataBytes: 800, blockAlign: 2 }, reason: /12-bit PCM/ },
    { name: '16-bit A-law', spec: { formatTag: 6, bits: 16, dataBytes: 800 }, reason: /G\.711 with 16 bits/ },
    { name: 'a rate of 96 kHz', spec: { sampleRate: 96_000, dataBytes: 800 }, reason: /96000 Hz is outside/ },
    { name: 'a rate of 6 kHz', spec: { sampleRate: 6000, dataBytes: 800 }, reason: /6000 Hz is outside/ },
    { name: 'no channels', spec: { channels: 0, dataBytes: 800, blockAlign: 0 }, reason: /no channels/ },
    { name: 'a wrong block align', spec: { dataBytes: 800, blockAlign: 4 }, reason: /inconsistent/ },
    { name: 'an empty data chunk', spec: { dataBytes: 0 }, reason: /holds no audio/ },
  ])('refuses $name', ({ spec, reason }) => {
    expectFailure(file(wav(spec)), 'AUDIO_FILE_INVALID', reason);
  });

  it('refuses broken RIFF structures', () => {
    const good = wav({ dataBytes: 800 });
    // Cut inside the fmt chunk, and after it (no data chunk).
    expectFailure(file(good.subarray(0, 30)), 'AUDIO_FILE_INVALID', /fmt chunk runs past the end/);
    expectFailure(file(good.subarray(0, 36)), 'AUDIO_FILE_INVALID', /^no data chunk$/);
    expectFailure(file(good.subarray(0, 12)), 'AUDIO_FILE_INVALID', /no fmt chunk/);
    expectFailure(file(good.subarray(0, 8)), 'AUDIO_FILE_INVALID', /RIFF header is truncated/);
    const avi = Buffer.from(good);
    avi.write('AVI ', 8, 'latin1');
    expectFailure(file(avi), 'AUDIO_FILE_INVALID', /rather than WAVE/);
    const rifx = Buffer.from(good);
    rifx.write('RIFX', 0, 'latin1');
    expectFailure(file(rifx), 'AUDIO_FILE_INVALID', /big-endian/);
    // data before fmt
    const swapped = Buffer.concat([
      good.subarray(0, 12),
      chunk('data', Buffer.alloc(800)),
      good.subarray(12, 12 + 24),
    ]);
    expectFailure(file(swapped), 'AUDIO_FILE_INVALID', /data chunk comes before the fmt chunk/);
  });
});

describe('probeAudioFile: MP3', () => {
  it('8 kHz mono (MPEG-2.5): rate, channels, and the duration a decoder finds', async () => {
    const data = mp3(1, 8000, 32, 3000);
    const info = probeAudioFile(file(data, 'mono.mp3'));
    expect(info).toMatchObject({ format: 'mp3', sampleRate: 8000, channels: 1 });
    const decoded = await decodeMp3(data);
    const decodedMs = (decoded.channels[0]!.length * 1000) / decoded.sampleRate;
    // CBR without a Xing header: size / bitrate, which is what the frames hold.
    expect(Math.abs(info.durationMs - decodedMs)).toBeLessThan(80);
    expect(info.durationMs).toBeGreaterThan(2900);
    expect(info.durationMs).toBeLessThan(3300);
  });

  it('44.1 kHz stereo (MPEG-1) and 16 kHz stereo (MPEG-2): stereo is accepted for MP3', () => {
    const cd = probeAudioFile(file(mp3(2, 44_100, 128, 2000), 'cd.mp3'));
    expect(cd).toMatchObject({ format: 'mp3', sampleRate: 44_100, channels: 2 });
    expect(cd.durationMs).toBeGreaterThan(1950);
    expect(cd.durationMs).toBeLessThan(2200);
    const wide = probeAudioFile(file(mp3(2, 16_000, 48, 1000), 'wide.mp3'));
    expect(wide).toMatchObject({ sampleRate: 16_000, channels: 2 });
    expect(wide.durationMs).toBeGreaterThan(950);
    expect(wide.durationMs).toBeLessThan(1200);
  });

  it('skips an ID3v2 tag (with footer, and zero padding after it) and an ID3v1 tag at the end', () => {
    const audio = mp3(1, 8000, 32, 2000);
    const plain = probeAudioFile(file(audio, 'plain.mp3'));
    const id3v1 = Buffer.alloc(128);
    id3v1.write('TAG', 0, 'latin1');
    const tagged = probeAudioFile(file(Buffer.concat([id3v2(300), audio, id3v1]), 'tagged.mp3'));
    expect(tagged).toMatchObject({ format: 'mp3', sampleRate: 8000, channels: 1 });
    expect(tagged.durationMs).toBe(plain.durationMs);
    const footer = probeAudioFile(
      file(Buffer.concat([id3v2(1000, true), Buffer.alloc(64), audio]), 'footer.mp3'),
    );
    expect(footer.durationMs).toBe(plain.durationMs);
  });

  it('takes the duration from a Xing/Info frame count', () => {
    const audio = mp3(1, 8000, 32, 1000);
    // A first frame like lamejs's (MPEG-2.5, 32 kbps, 8 kHz, mono: 288 bytes), holding an Info tag
    // after the 9 bytes of side information: flags = frames present, 500 frames of 576 samples.
    const info = Buffer.alloc(288);
    audio.copy(info, 0, 0, 4);
    info.write('Info', 4 + 9, 'latin1');
    info.writeUInt32BE(0x1, 4 + 9 + 4);
    info.writeUInt32BE(500, 4 + 9 + 8);
    const probed = probeAudioFile(file(Buffer.concat([info, audio]), 'xing.mp3'));
    expect(probed.durationMs).toBe((500 * 576 * 1000) / 8000);
  });

  it('refuses MPEG layer II, free format, corrupt headers and a lone frame sync', () => {
    const audio = mp3(1, 8000, 32, 500);
    const layer2 = Buffer.from(audio);
    layer2[1] = (layer2[1]! & ~0x06) | 0x04;
    expectFailure(file(layer2, 'l2.mp3'), 'AUDIO_FILE_INVALID', /layer II/);
    const free = Buffer.from(audio);
    free[2] = free[2]! & 0x0f;
    expectFailure(file(free, 'free.mp3'), 'AUDIO_FILE_INVALID', /free-format/);
    const reserved = Buffer.from(audio);
    reserved[2] = reserved[2]! | 0x0c;
    expectFailure(file(reserved, 'reserved.mp3'), 'AUDIO_FILE_INVALID', /sample rate index is reserved/);
    const lone = Buffer.concat([audio.subarray(0, 4), Buffer.from('x'.repeat(600))]);
    expectFailure(file(lone, 'lone.mp3'), 'AUDIO_FILE_INVALID', /not followed by another/);
  });

  it('refuses an ID3 tag with no audio after it', () => {
    expectFailure(
      file(Buffer.concat([id3v2(100), Buffer.from('hello there, no audio here')]), 'tagonly.mp3'),
      'AUDIO_FILE_INVALID',
      /no MPEG audio frame follows the ID3v2 tag/,
    );
    expectFailure(file(id3v2(100), 'tagonly2.mp3'), 'AUDIO_FILE_INVALID', /no audio after it/);
  });
});

describe('probeAudioFile: files that are not audio', () => {
  it('a missing file is AUDIO_FILE_MISSING: "cannot read PATH: no such file"', () => {
    const path = join(dir, 'nope.wav');
    const error = expectFailure(path, 'AUDIO_FILE_MISSING', /^no such file$/);
    expect(error.message).toBe(`cannot read ${path}: no such file`);
    expectFailure(join(file('x', 'plain.txt'), 'below.wav'), 'AUDIO_FILE_MISSING', /not a directory/);
  });

  it('a directory is AUDIO_FILE_UNREADABLE', () => {
    const path = join(dir, 'a-directory.wav');
    mkdirSync(path);
    expectFailure(path, 'AUDIO_FILE_UNREADABLE', /is a directory/);
  });

  it('a device is AUDIO_FILE_UNREADABLE', () => {
    expectFailure('/dev/null', 'AUDIO_FILE_UNREADABLE', /not a regular file/);
  });

  it('an empty file is AUDIO_FILE_INVALID', () => {
    expectFailure(file(Buffer.alloc(0)), 'AUDIO_FILE_INVALID', /^the file is empty$/);
  });

  it('a text file named .wav is AUDIO_FILE_INVALID, quoting how it starts', () => {
    const path = file('Hello, this is not audio.\n', 'text.wav');
    const error = expectFailure(path, 'AUDIO_FILE_INVALID', /neither a WAV \(RIFF\/WAVE\) nor an MP3 file/);
    expect(error.message).toBe(
      `${path} is not a usable audio file: neither a WAV (RIFF/WAVE) nor an MP3 file (it starts with "Hello, t")`,
    );
    expectFailure(file(Buffer.from([0, 1, 2, 3, 4])), 'AUDIO_FILE_INVALID', /starts with 00 01 02 03 04/);
  });
});

describe('16-bit PCM WAV: decode, encode, concatWavFiles', () => {
  it('encodes and decodes the same samples', () => {
    const samples = sineTone({ frequency: 1000, sampleRate: 16_000, durationMs: 100 });
    const encoded = encodePcm16Wav(samples, 16_000);
    expect(encoded.equals(encodeWav(samples, 16_000))).toBe(true);
    expect(decodePcm16Wav(encoded)).toEqual({ sampleRate: 16_000, samples });
    expect(() => decodePcm16Wav(wav({ bits: 8, dataBytes: 10 }))).toThrow(
      /must be 16-bit PCM \(it is 8-bit PCM\)/,
    );
  });

  it('joins files of one rate: the samples follow each other, the duration is the sum', () => {
    const a = sineTone({ frequency: 500, sampleRate: 8000, durationMs: 250 });
    const b = sineTone({ frequency: 900, sampleRate: 8000, durationMs: 130 });
    const withList = wav({ dataBytes: 0, before: [['LIST', Buffer.alloc(20)]] });
    // A file with a LIST chunk and odd data (its extra chunks are dropped): 3 samples.
    const c = Buffer.concat([
      withList.subarray(0, withList.length - 8),
      chunk('data', Buffer.from([1, 0, 2, 0, 3, 0])),
    ]);
    c.writeUInt32LE(c.length - 8, 4);
    const out = join(dir, 'joined.wav');
    const paths = [file(encodeWav(a, 8000)), file(encodeWav(b, 8000)), file(c)];
    concatWavFiles(paths, out);
    const joined = decodeWav(readFileSync(out));
    expect(joined.sampleRate).toBe(8000);
    expect(joined.channels).toHaveLength(1);
    expect([...joined.channels[0]!]).toEqual([...a, ...b, 1, 2, 3]);
    const sum = paths.reduce((ms, path) => ms + probeAudioFile(path).durationMs, 0);
    expect(probeAudioFile(out).durationMs).toBe(sum);
  });

  it('refuses files whose formats differ, naming the file', () => {
    const first = file(encodeWav(new Int16Array(80), 8000));
    const other = file(encodeWav(new Int16Array(160), 16_000));
    const out = join(dir, 'never.wav');
    const rate = failure(() => concatWavFiles([first, other], out));
    expect(rate.code).toBe('AUDIO_FILE_INVALID');
    expect(rate.path).toBe(other);
    expect(rate.message).toContain(`cannot be joined to ${first}: 16000 Hz and 8000 Hz differ`);
    const eightBit = file(wav({ bits: 8, dataBytes: 80 }));
    expect(failure(() => concatWavFiles([first, eightBit], out)).reason).toMatch(/must be 16-bit PCM/);
    const stereo = file(wav({ channels: 2, dataBytes: 320 }));
    expect(failure(() => concatWavFiles([first, stereo], out)).reason).toMatch(/must be mono/);
    expect(failure(() => concatWavFiles([first, join(dir, 'gone.wav')], out)).code).toBe(
      'AUDIO_FILE_MISSING',
    );
    expect(() => concatWavFiles([], out)).toThrow(RangeError);
    expect(() => statSync(out)).toThrow();
  });
});

describe('the built-in audio in assets/audio', () => {
  const wavs = readdirSync(BUILTIN_AUDIO_DIR).filter((name) => name.endsWith('.wav'));
  const samplesOf = (name: string) => {
    const decoded = decodeWav(readFileSync(join(BUILTIN_AUDIO_DIR, name)));
    return decoded.channels[0]!;
  };
  /** RMS in dBFS of each window of `ms`. */
  const windowLevels = (samples: Int16Array, ms: number) => {
    const size = (8000 * ms) / 1000;
    const levels: number[] = [];
    for (let start = 0; start + size <= samples.length; start += size)
      levels.push(10 * Math.log10(meanSquare(samples.subarray(start, start + size)) / 32768 ** 2 + 1e-20));
    return levels;
  };

  it('holds every prompt the platform uses', () => {
    const expected = [
      'greeting.wav',
      'music.wav',
      'goodbye.wav',
      'closed.wav',
      'whisper-queue-call.wav',
      'you-are-caller-number.wav',
      'expected-wait.wav',
      'minutes.wav',
      'minute.wav',
      'less-than-a-minute.wav',
      'pause.wav',
      ...Array.from({ length: 21 }, (_, n) => `number-${n}.wav`),
      ...[30, 40, 50, 60, 70, 80, 90].map((n) => `number-${n}.wav`),
    ];
    expect([...wavs].sort()).toEqual([...expected].sort());
    expect(readdirSync(BUILTIN_AUDIO_DIR)).toContain('README.md');
  });

  it('every file is a WAV of 8000 Hz mono 16-bit PCM; the directory stays small', () => {
    let bytes = 0;
    for (const name of wavs) {
      const path = join(BUILTIN_AUDIO_DIR, name);
      const info = probeAudioFile(path);
      expect(info, name).toMatchObject({ format: 'wav', sampleRate: 8000, channels: 1 });
      expect(info.durationMs, name).toBeGreaterThan(300);
      expect(decodePcm16Wav(readFileSync(path)).samples.length, name).toBe((info.durationMs * 8000) / 1000);
      bytes += statSync(path).size;
    }
    expect(bytes).toBeLessThan(1.5 * 1024 * 1024);
  });

  it('music.wav: 30 s, peak about −6 dBFS, never silent for 200 ms, no click where it loops', () => {
    const music = samplesOf('music.wav');
    expect(music.length).toBe(30 * 8000);
    let peak = 0;
    for (const x of music) peak = Math.max(peak, Math.abs(x));
    const peakDb = 20 * Math.log10(peak / 32768);
    expect(peakDb).toBeGreaterThan(-6.5);
    expect(peakDb).toBeLessThan(-5.5);
    // Every 200 ms window, at every 100 ms offset, is well above silence.
    const levels = windowLevels(music, 100);
    for (let i = 0; i + 1 < levels.length; i++) {
      const twoWindows = 10 * Math.log10((10 ** (levels[i]! / 10) + 10 ** (levels[i + 1]! / 10)) / 2);
      expect(twoWindows, `200 ms from ${i * 100} ms`).toBeGreaterThan(-35);
    }
    // The step from the last sample to the first is no bigger than the steps inside the music.
    const steps = new Float64Array(music.length - 1);
    for (let i = 1; i < music.length; i++) steps[i - 1] = Math.abs(music[i]! - music[i - 1]!);
    steps.sort();
    const typical = steps[Math.floor(steps.length * 0.99)]!;
    expect(Math.abs(music[0]! - music[music.length - 1]!)).toBeLessThanOrEqual(typical);
  });

  it.each(['greeting.wav', 'goodbye.wav', 'closed.wav'])(
    '%s is speech: mostly voiced, at a good level',
    (name) => {
      const speech = samplesOf(name);
      expect(speech.length / 8000).toBeGreaterThan(3);
      expect(speech.length / 8000).toBeLessThan(15);
      const levels = windowLevels(speech, 100);
      const voiced = levels.filter((level) => level > -40);
      expect(voiced.length / levels.length).toBeGreaterThan(0.6);
      const overall = 10 * Math.log10(meanSquare(speech) / 32768 ** 2);
      expect(overall).toBeGreaterThan(-26);
      expect(overall).toBeLessThan(-14);
    },
  );
});
