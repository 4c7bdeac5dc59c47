/**
 * Test support for the recordings package: a renderer that stands in for the real one (which has
 * its own tests over real rtpengine captures), a tiny but valid MP3, and an MP3 decoder (mpg123 in
 * WebAssembly, a dev dependency) to check what the renderer made.
 */
import { MPEGDecoder } from 'mpg123-decoder';
import type { RecordingJob, RecordingRenderer } from './types.js';

/**
 * `frames` MPEG-1 Layer III frames of silence: header FF FB 90 00 (no CRC, 128 kbit/s, 44.1 kHz,
 * stereo), 417 bytes each (144 × 128000 / 44100), each 26 ms long.
 */
export function tinyMp3(frames = 2): Buffer {
  const frame = Buffer.alloc(417);
  frame.set([0xff, 0xfb, 0x90, 0x00]);
  return Buffer.concat(Array.from({ length: frames }, () => frame));
}

/** Renders every job into `tinyMp3()` unless told to fail; remembers the jobs it was given. */
export class FakeRenderer implements RecordingRenderer {
  readonly jobs: RecordingJob[] = [];
  /** Jobs of these recordings throw (while the count is positive; -1 = always). */
  readonly failures = new Map<string, number>();
  /** Every job throws this many more times (-1 = always). */
  failAll = 0;

  async render(job: RecordingJob): Promise<{ mp3: Buffer; durationMs: number }> {
    this.jobs.push(job);
    const left = this.failures.get(job.recordingId) ?? this.failAll;
    if (left !== 0) {
      if (this.failures.has(job.recordingId)) this.failures.set(job.recordingId, left - 1);
      else this.failAll = left - 1;
      throw new Error(`no capture for ${job.recordingId}`);
    }
    return { mp3: tinyMp3(), durationMs: job.endedMs - job.startedMs };
  }
}

/** Decode an MP3 file into float channels (−1…1) at its sample rate. */
export async function decodeMp3(mp3: Uint8Array): Promise<{ sampleRate: number; channels: Float32Array[] }> {
  const decoder = new MPEGDecoder();
  await decoder.ready;
  try {
    const out = decoder.decode(mp3);
    return { sampleRate: out.sampleRate, channels: out.channelData };
  } finally {
    decoder.free();
  }
}
