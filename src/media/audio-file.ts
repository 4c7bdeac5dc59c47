/**
 * Audio files that rtpengine plays to callers (queue greeting, music on hold, announcements,
 * whisper; DESIGN.md §9 "Queue audio"). rtpengine decodes the files itself (WAV at any rate, MP3
 * through ffmpeg) when told `play media` with an absolute path, so the platform only checks, once at
 * start-up, that each configured file exists and is audio rtpengine can play: `probeAudioFile` reads
 * the header (never the whole file) and reports what is wrong in words an operator can act on.
 *
 * Accepted:
 * - WAV (RIFF/WAVE), **mono**: PCM 8/16/24/32-bit (format 1, or WAVE_FORMAT_EXTENSIBLE with the PCM
 *   sub-format), IEEE float 32-bit (format 3, or extensible), G.711 A-law / µ-law (6 / 7); any rate
 *   from 8000 to 48000 Hz. A data chunk that claims more bytes than the file holds (a streamed or
 *   truncated file) counts for the bytes that are there.
 * - MP3 (MPEG-1, -2 or -2.5 Layer III), mono **or stereo**: rtpengine's decoder downmixes to the call's
 *   single channel, so stereo MP3s are fine (stereo WAVs are refused only because they are easy to
 *   convert and usually a mistake). An ID3v2 tag at the start is skipped; the duration is taken from
 *   a Xing/Info or VBRI header when there is one, else estimated from the size and the first frame's
 *   bitrate (exact for CBR).
 *
 * `concatWavFiles` joins 16-bit PCM mono WAVs of one rate (the position announcements of
 * ./prompts.ts are composed from number prompts this way).
 *
 * The error catalog lives here rather than in ./errors.ts: these errors are about files, raised at
 * start-up and by the composer, never by the engine.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { SwitchboardError } from '../errors.js';

export const AUDIO_FILE_ERRORS = {
  /** There is no file at the path (or a part of the path is not a directory). */
  AUDIO_FILE_MISSING: { message: 'no such file' },
  /** The file exists but cannot be read: permissions, a directory, a device. */
  AUDIO_FILE_UNREADABLE: { message: 'cannot read the file' },
  /** The file was read but is not audio rtpengine can play (format, channels, rate, truncated). */
  AUDIO_FILE_INVALID: { message: 'not a usable audio file' },
} as const satisfies Record<string, { message: string }>;

export type AudioFileErrorCode = keyof typeof AUDIO_FILE_ERRORS;

/**
 * `message` names the path and what is wrong:
 * `cannot read /etc/x.wav: no such file`, `/srv/hold.wav is not a usable audio file: must be mono …`.
 */
export class AudioFileError extends SwitchboardError<AudioFileErrorCode> {
  /** The path as given. */
  readonly path: string;
  /** What is wrong, without the path: `no such file`, `must be mono (it has 2 channels) …`. */
  readonly reason: string;

  constructor(code: AudioFileErrorCode, path: string, reason: string, cause?: unknown) {
    super(
      code,
      code === 'AUDIO_FILE_INVALID'
        ? `${path} is not a usable audio file: ${reason}`
        : `cannot read ${path}: ${reason}`,
      cause === undefined ? undefined : { cause },
    );
    this.path = path;
    this.reason = reason;
  }
}

export function isAudioFileError(value: unknown): value is AudioFileError {
  return value instanceof AudioFileError;
}

export interface AudioFileInfo {
  /** The path as given to `probeAudioFile`. */
  path: string;
  format: 'wav' | 'mp3';
  /** Samples per second. */
  sampleRate: number;
  /** 1 (mono); 2 only for MP3 (stereo, joint stereo or dual channel). */
  channels: number;
  /** Milliseconds, not rounded (exact for WAV and for MP3 with a Xing/Info/VBRI header). */
  durationMs: number;
}

/** The rates rtpengine's decoder and our telephony legs handle without surprises. */
export const MIN_SAMPLE_RATE = 8000;
export const MAX_SAMPLE_RATE = 48_000;

// ---- reading -------------------------------------------------------------------------------------

/** Random access to the bytes of a file or a buffer; `read` returns fewer bytes at the end. */
interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Buffer;
}

function bufferSource(buf: Buffer): ByteSource {
  return {
    size: buf.length,
    read: (offset, length) =>
      buf.subarray(Math.min(offset, buf.length), Math.min(offset + length, buf.length)),
  };
}

function fileSource(fd: number, size: number): ByteSource {
  return {
    size,
    read(offset, length) {
      const want = Math.max(0, Math.min(length, size - offset));
      const out = Buffer.alloc(want);
      let done = 0;
      while (done < want) {
        const n = readSync(fd, out, done, want - done, offset + done);
        if (n === 0) break;
        done += n;
      }
      return done === want ? out : out.subarray(0, done);
    },
  };
}

/** MISSING or UNREADABLE for an error of open/read/stat. */
function fileSystemError(path: string, cause: unknown): AudioFileError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return new AudioFileError('AUDIO_FILE_MISSING', path, 'no such file', cause);
    case 'ENOTDIR':
      return new AudioFileError(
        'AUDIO_FILE_MISSING',
        path,
        'no such file (a part of the path is not a directory)',
        cause,
      );
    case 'EACCES':
    case 'EPERM':
      return new AudioFileError('AUDIO_FILE_UNREADABLE', path, 'permission denied', cause);
    case 'EISDIR':
      return new AudioFileError('AUDIO_FILE_UNREADABLE', path, 'is a directory, not a file', cause);
    case 'ELOOP':
      return new AudioFileError('AUDIO_FILE_UNREADABLE', path, 'too many levels of symbolic links', cause);
    default:
      return new AudioFileError(
        'AUDIO_FILE_UNREADABLE',
        path,
        cause instanceof Error ? cause.message : String(cause),
        cause,
      );
  }
}

/** Opens `path` as a regular, non-empty file and hands its bytes to `use`. */
function withFile<T>(path: string, use: (source: ByteSource) => T): T {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (cause) {
    throw fileSystemError(path, cause);
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory())
      throw new AudioFileError('AUDIO_FILE_UNREADABLE', path, 'is a directory, not a file');
    if (!stat.isFile())
      throw new AudioFileError('AUDIO_FILE_UNREADABLE', path, 'is not a regular file (a device or a pipe?)');
    if (stat.size === 0) throw new AudioFileError('AUDIO_FILE_INVALID', path, 'the file is empty');
    return use(fileSource(fd, stat.size));
  } catch (cause) {
    if (cause instanceof AudioFileError) throw cause;
    throw fileSystemError(path, cause);
  } finally {
    closeSync(fd);
  }
}

/**
 * What the file is: format, rate, channels and duration, from its header. Synchronous (it runs at
 * start-up). Throws AudioFileError: AUDIO_FILE_MISSING, AUDIO_FILE_UNREADABLE (permissions, a
 * directory) or AUDIO_FILE_INVALID (empty, not WAV/MP3, an encoding or channel count rtpengine's
 * playback does not take, a rate outside 8000–48000 Hz, no audio).
 */
export function probeAudioFile(path: string): AudioFileInfo {
  return withFile(path, (source) => {
    const head = source.read(0, 4);
    const magic = head.toString('latin1');
    if (magic === 'RIFF' || magic === 'RIFX' || magic === 'RF64') {
      const wav = walkWav(source, (reason) => invalid(path, reason));
      return {
        path,
        format: 'wav' as const,
        sampleRate: wav.sampleRate,
        channels: wav.channels,
        durationMs: (wav.frames * 1000) / wav.sampleRate,
      };
    }
    return { path, ...probeMp3(source, (reason) => invalid(path, reason)) };
  });
}

function invalid(path: string, reason: string): never {
  throw new AudioFileError('AUDIO_FILE_INVALID', path, reason);
}

type Fail = (reason: string) => never;

// ---- WAV -----------------------------------------------------------------------------------------

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_ALAW = 6;
const WAVE_FORMAT_MULAW = 7;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
/** The sub-format GUID of WAVE_FORMAT_EXTENSIBLE after its first two bytes (the format code). */
const KSDATAFORMAT_SUFFIX = Buffer.from([
  0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
]);

/** Encodings that are not playable as they are, named so that the message says what the file is. */
const KNOWN_WAVE_FORMATS = new Map<number, string>([
  [0x0002, 'Microsoft ADPCM'],
  [0x0011, 'IMA ADPCM'],
  [0x0022, 'TrueSpeech'],
  [0x0031, 'GSM 6.10'],
  [0x0040, 'G.721 ADPCM'],
  [0x0050, 'MPEG'],
  [0x0055, 'MP3'],
  [0x0064, 'G.726 ADPCM'],
]);

const CONVERT_HINT = 'convert it to 16-bit PCM mono, e.g. sox in.wav -b 16 -c 1 out.wav';

interface WavLayout {
  formatTag: number;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  blockAlign: number;
  /** Whole sample frames in the data chunk (as far as the file goes). */
  frames: number;
  /** Where the sample data starts, and how many bytes of it the file holds. */
  dataOffset: number;
  dataBytes: number;
}

function describeFormat(tag: number): string {
  const hex = `0x${tag.toString(16).padStart(4, '0')}`;
  const name = KNOWN_WAVE_FORMATS.get(tag);
  return name === undefined ? `format ${hex}` : `format ${hex}, ${name}`;
}

/** Checks a `fmt ` chunk's body; returns the effective format tag (the sub-format when extensible). */
function checkFmt(fmt: Buffer, fail: Fail): Omit<WavLayout, 'frames' | 'dataOffset' | 'dataBytes'> {
  let formatTag = fmt.readUInt16LE(0);
  const channels = fmt.readUInt16LE(2);
  const sampleRate = fmt.readUInt32LE(4);
  const blockAlign = fmt.readUInt16LE(12);
  const bitsPerSample = fmt.readUInt16LE(14);
  if (formatTag === WAVE_FORMAT_EXTENSIBLE) {
    if (fmt.length < 40) fail('the fmt chunk of a WAVE_FORMAT_EXTENSIBLE file is too short');
    const guidSuffix = fmt.subarray(26, 40);
    formatTag = fmt.readUInt16LE(24);
    if (!guidSuffix.equals(KSDATAFORMAT_SUFFIX))
      fail(`uses an unsupported WAVE_FORMAT_EXTENSIBLE sub-format; ${CONVERT_HINT}`);
  }
  switch (formatTag) {
    case WAVE_FORMAT_PCM:
      if (![8, 16, 24, 32].includes(bitsPerSample))
        fail(`${bitsPerSample}-bit PCM is not supported (8, 16, 24 or 32 bits); ${CONVERT_HINT}`);
      break;
    case WAVE_FORMAT_IEEE_FLOAT:
      if (bitsPerSample !== 32)
        fail(`${bitsPerSample}-bit floating point is not supported (32 bits only); ${CONVERT_HINT}`);
      break;
    case WAVE_FORMAT_ALAW:
    case WAVE_FORMAT_MULAW:
      if (bitsPerSample !== 8)
        fail(`G.711 with ${bitsPerSample} bits per sample is not valid (8 bits); ${CONVERT_HINT}`);
      break;
    default:
      fail(`uses an unsupported encoding (${describeFormat(formatTag)}); ${CONVERT_HINT}`);
  }
  if (channels === 0) fail('the fmt chunk says the file has no channels');
  if (channels !== 1)
    fail(`must be mono (it has ${channels} channels); convert it, e.g. sox in.wav -c 1 out.wav`);
  if (!(sampleRate >= MIN_SAMPLE_RATE && sampleRate <= MAX_SAMPLE_RATE))
    fail(
      `the sample rate ${sampleRate} Hz is outside ${MIN_SAMPLE_RATE}–${MAX_SAMPLE_RATE} Hz; convert it, e.g. sox in.wav -r 8000 out.wav`,
    );
  const expectedAlign = (channels * bitsPerSample) / 8;
  if (blockAlign !== expectedAlign)
    fail(
      `the fmt chunk is inconsistent: block align ${blockAlign} for ${channels} channel(s) of ${bitsPerSample} bits (expected ${expectedAlign})`,
    );
  return { formatTag, channels, sampleRate, bitsPerSample, blockAlign };
}

/** Walks the RIFF chunks to `fmt ` and `data`; every problem goes to `fail`. */
function walkWav(source: ByteSource, fail: Fail): WavLayout {
  const header = source.read(0, 12);
  if (header.length < 12) fail('the RIFF header is truncated');
  const magic = header.toString('latin1', 0, 4);
  if (magic === 'RIFX') fail('big-endian RIFX WAV files are not supported; ' + CONVERT_HINT);
  if (magic === 'RF64') fail('RF64 (64-bit WAV) files are not supported; ' + CONVERT_HINT);
  if (header.toString('latin1', 8, 12) !== 'WAVE')
    fail(`a RIFF file, but of type "${header.toString('latin1', 8, 12)}" rather than WAVE`);
  let fmt: ReturnType<typeof checkFmt> | undefined;
  let offset = 12;
  while (offset + 8 <= source.size) {
    const chunk = source.read(offset, 8);
    const id = chunk.toString('latin1', 0, 4);
    const size = chunk.readUInt32LE(4);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16) fail(`the fmt chunk is too short (${size} bytes)`);
      if (body + size > source.size) fail('the fmt chunk runs past the end of the file');
      fmt = checkFmt(source.read(body, Math.min(size, 40)), fail);
    } else if (id === 'data') {
      if (fmt === undefined) fail('the data chunk comes before the fmt chunk');
      // A streamed or truncated file: count the bytes that are there.
      const dataBytes = Math.min(size, source.size - body);
      const frames = Math.floor(dataBytes / fmt.blockAlign);
      if (frames === 0) fail('it holds no audio (the data chunk is empty)');
      return { ...fmt, frames, dataOffset: body, dataBytes: frames * fmt.blockAlign };
    }
    offset = body + size + (size & 1); // chunks are padded to even sizes
  }
  return fail(fmt === undefined ? 'no fmt chunk (not a WAV file, or truncated)' : 'no data chunk');
}

// ---- MP3 -----------------------------------------------------------------------------------------

/** kbps by bitrate index for Layer III; 0 = free format, -1 = invalid. */
const MP3_BITRATES_V1 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, -1];
const MP3_BITRATES_V2 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, -1];
/** Hz by sample rate index, per version bits (0 = MPEG-2.5, 2 = MPEG-2, 3 = MPEG-1). */
const MP3_SAMPLE_RATES: Record<number, number[]> = {
  0: [11_025, 12_000, 8000],
  2: [22_050, 24_000, 16_000],
  3: [44_100, 48_000, 32_000],
};

interface FrameHeader {
  versionBits: number;
  sampleRate: number;
  bitrateKbps: number;
  channels: number;
  crc: boolean;
  /** Bytes of this frame, header included. */
  length: number;
  samplesPerFrame: number;
  /** Bytes of side information after the header (and CRC). */
  sideInfo: number;
}

function isFrameSync(bytes: Buffer): boolean {
  return bytes.length >= 2 && bytes[0] === 0xff && (bytes[1]! & 0xe0) === 0xe0;
}

/** Decodes a Layer III frame header; a reason string when it is not one. */
function parseFrameHeader(bytes: Buffer): FrameHeader | string {
  if (bytes.length < 4 || !isFrameSync(bytes)) return 'no MPEG frame sync';
  const b1 = bytes[1]!;
  const b2 = bytes[2]!;
  const b3 = bytes[3]!;
  const versionBits = (b1 >> 3) & 3;
  if (versionBits === 1) return 'the MPEG version bits are reserved (a corrupt frame header)';
  const layerBits = (b1 >> 1) & 3;
  if (layerBits === 0) return 'the MPEG layer bits are reserved (a corrupt frame header)';
  if (layerBits !== 1)
    return `MPEG audio layer ${layerBits === 2 ? 'II' : 'I'} (MP2/MP1) is not supported; MP3 (layer III) only`;
  const bitrateIndex = b2 >> 4;
  const srIndex = (b2 >> 2) & 3;
  if (bitrateIndex === 15) return 'the bitrate index is invalid (a corrupt frame header)';
  if (bitrateIndex === 0) return 'free-format MP3 (no bitrate in the header) is not supported';
  if (srIndex === 3) return 'the sample rate index is reserved (a corrupt frame header)';
  const v1 = versionBits === 3;
  const bitrateKbps = (v1 ? MP3_BITRATES_V1 : MP3_BITRATES_V2)[bitrateIndex]!;
  const sampleRate = MP3_SAMPLE_RATES[versionBits]![srIndex]!;
  const padding = (b2 >> 1) & 1;
  const mono = b3 >> 6 === 3;
  const samplesPerFrame = v1 ? 1152 : 576;
  return {
    versionBits,
    sampleRate,
    bitrateKbps,
    channels: mono ? 1 : 2,
    crc: (b1 & 1) === 0,
    length: Math.floor(((samplesPerFrame / 8) * bitrateKbps * 1000) / sampleRate) + padding,
    samplesPerFrame,
    sideInfo: v1 ? (mono ? 17 : 32) : mono ? 9 : 17,
  };
}

/** The frame count of a Xing/Info or VBRI header in the first frame, when there is one. */
function vbrFrameCount(source: ByteSource, start: number, frame: FrameHeader): number | undefined {
  const xingAt = [start + 4 + frame.sideInfo, start + 6 + frame.sideInfo];
  for (const at of xingAt) {
    const tag = source.read(at, 12);
    if (tag.length < 12) continue;
    const id = tag.toString('latin1', 0, 4);
    if ((id === 'Xing' || id === 'Info') && (tag.readUInt32BE(4) & 1) !== 0) return tag.readUInt32BE(8);
  }
  const vbri = source.read(start + 36, 18);
  if (vbri.length === 18 && vbri.toString('latin1', 0, 4) === 'VBRI') return vbri.readUInt32BE(14);
  return undefined;
}

/** A syncsafe integer: four bytes of seven bits each. */
function syncsafe(bytes: Buffer, fail: Fail): number {
  let value = 0;
  for (let i = 0; i < 4; i++) {
    const byte = bytes[i]!;
    if (byte & 0x80) fail('the ID3v2 tag has a corrupt size');
    value = (value << 7) | byte;
  }
  return value;
}

/** Zero bytes that some taggers leave after an ID3v2 tag are skipped, up to this many. */
const MAX_PADDING_SKIP = 64 * 1024;

function probeMp3(source: ByteSource, fail: Fail): Omit<AudioFileInfo, 'path'> {
  let start = 0;
  const head = source.read(0, 10);
  const hasId3 = head.toString('latin1', 0, 3) === 'ID3';
  if (hasId3) {
    if (head.length < 10) fail('the ID3v2 tag is truncated');
    const footer = (head[5]! & 0x10) !== 0;
    start = 10 + syncsafe(head.subarray(6, 10), fail) + (footer ? 10 : 0);
    if (start >= source.size) fail('an ID3v2 tag with no audio after it');
    const window = source.read(start, MAX_PADDING_SKIP);
    let skip = 0;
    while (skip < window.length && window[skip] === 0) skip++;
    start += skip;
  }
  const first = source.read(start, 4);
  if (!isFrameSync(first)) {
    if (hasId3) fail('no MPEG audio frame follows the ID3v2 tag');
    fail(`neither a WAV (RIFF/WAVE) nor an MP3 file (it starts with ${describeStart(source.read(0, 8))})`);
  }
  const frame = parseFrameHeader(first);
  if (typeof frame === 'string') fail(frame);
  // One frame header can occur by chance; the next frame must follow where this one ends.
  const nextAt = start + frame.length;
  if (nextAt + 4 <= source.size) {
    const next = source.read(nextAt, 4);
    const nextFrame = parseFrameHeader(next);
    const trailer = ['TAG', 'APE', 'LYR'].includes(next.toString('latin1', 0, 3));
    if (
      !trailer &&
      (typeof nextFrame === 'string' ||
        nextFrame.versionBits !== frame.versionBits ||
        nextFrame.sampleRate !== frame.sampleRate)
    )
      fail('the first MPEG frame is not followed by another (a corrupt file, or not an MP3)');
  }
  const frames = vbrFrameCount(source, start, frame);
  let durationMs: number;
  if (frames !== undefined && frames > 0) {
    durationMs = (frames * frame.samplesPerFrame * 1000) / frame.sampleRate;
  } else {
    const tail = source.size >= 128 ? source.read(source.size - 128, 3).toString('latin1') : '';
    const audioBytes = source.size - start - (tail === 'TAG' ? 128 : 0);
    durationMs = (audioBytes * 8) / frame.bitrateKbps;
  }
  if (!(durationMs > 0)) fail('it holds no audio');
  return { format: 'mp3', sampleRate: frame.sampleRate, channels: frame.channels, durationMs };
}

function describeStart(bytes: Buffer): string {
  const printable = [...bytes].every((byte) => byte >= 0x20 && byte < 0x7f);
  return printable
    ? `"${bytes.toString('latin1')}"`
    : [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join(' ');
}

// ---- 16-bit PCM mono WAV: decode, encode, join ---------------------------------------------------

export interface Pcm16Audio {
  sampleRate: number;
  samples: Int16Array;
}

function pcm16Layout(data: Buffer, path: string): WavLayout {
  const fail: Fail = (reason) => invalid(path, reason);
  if (data.length === 0) fail('the file is empty');
  if (data.toString('latin1', 0, 4) !== 'RIFF') fail('not a WAV (RIFF/WAVE) file');
  const layout = walkWav(bufferSource(data), fail);
  if (layout.formatTag !== WAVE_FORMAT_PCM || layout.bitsPerSample !== 16)
    fail(`must be 16-bit PCM (it is ${describeLayout(layout)})`);
  return layout;
}

function describeLayout(layout: WavLayout): string {
  if (layout.formatTag === WAVE_FORMAT_PCM) return `${layout.bitsPerSample}-bit PCM`;
  if (layout.formatTag === WAVE_FORMAT_IEEE_FLOAT) return `${layout.bitsPerSample}-bit float`;
  if (layout.formatTag === WAVE_FORMAT_ALAW) return 'G.711 A-law';
  if (layout.formatTag === WAVE_FORMAT_MULAW) return 'G.711 µ-law';
  return describeFormat(layout.formatTag);
}

/**
 * The samples of a 16-bit PCM mono WAV held in memory; `name` is used in messages. A data size past
 * the end (as `espeak-ng --stdout` writes) reads what is there. Throws AudioFileError
 * (AUDIO_FILE_INVALID) for anything else.
 */
export function decodePcm16Wav(data: Uint8Array, name = 'the WAV data'): Pcm16Audio {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const layout = pcm16Layout(buf, name);
  const samples = new Int16Array(layout.frames);
  for (let i = 0; i < layout.frames; i++) samples[i] = buf.readInt16LE(layout.dataOffset + 2 * i);
  return { sampleRate: layout.sampleRate, samples };
}

function wavHeader(dataBytes: number, sampleRate: number): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + dataBytes, 4);
  header.write('WAVE', 8, 'latin1');
  header.write('fmt ', 12, 'latin1');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(WAVE_FORMAT_PCM, 20);
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * 2, 28); // byte rate
  header.writeUInt16LE(2, 32); // block align
  header.writeUInt16LE(16, 34); // bits per sample
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(dataBytes, 40);
  return header;
}

/** A canonical 44-byte-header WAV of 16-bit PCM mono samples. */
export function encodePcm16Wav(samples: Int16Array, sampleRate: number): Buffer {
  const data = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) data.writeInt16LE(samples[i]!, 2 * i);
  return Buffer.concat([wavHeader(data.length, sampleRate), data]);
}

/**
 * Writes to `outPath` one WAV holding the audio of `paths` one after another. Every input must be a
 * 16-bit PCM mono WAV, all at one rate; otherwise AudioFileError (AUDIO_FILE_INVALID, naming the
 * file that differs; MISSING/UNREADABLE as `probeAudioFile`). Extra chunks (LIST, fact) are dropped.
 * `outPath` is written directly: write to a temporary name and rename for an atomic result.
 */
export function concatWavFiles(paths: readonly string[], outPath: string): void {
  if (paths.length === 0) throw new RangeError('concatWavFiles needs at least one file');
  const parts: Buffer[] = [];
  let rate: { sampleRate: number; path: string } | undefined;
  for (const path of paths) {
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch (cause) {
      throw fileSystemError(path, cause);
    }
    const layout = pcm16Layout(data, path);
    if (rate === undefined) rate = { sampleRate: layout.sampleRate, path };
    else if (layout.sampleRate !== rate.sampleRate)
      invalid(
        path,
        `cannot be joined to ${rate.path}: ${layout.sampleRate} Hz and ${rate.sampleRate} Hz differ (all files must have one sample rate)`,
      );
    parts.push(data.subarray(layout.dataOffset, layout.dataOffset + layout.dataBytes));
  }
  const dataBytes = parts.reduce((sum, part) => sum + part.length, 0);
  writeFileSync(outPath, Buffer.concat([wavHeader(dataBytes, rate!.sampleRate), ...parts]));
}
