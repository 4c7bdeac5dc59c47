import { describe, expect, it } from 'vitest';
import { dominantTone, sineTone } from '../testing/audio.js';
import { encodeMp3, encodeMp3Sync } from './mp3.js';
import { decodeMp3 } from './testing.js';

describe('MP3 encoding', () => {
  it('8 kHz stereo at 32 kbps is MPEG-2.5 Layer III, left and right kept apart', async () => {
    const left = sineTone({ frequency: 1000, sampleRate: 8000, durationMs: 3000 });
    const right = sineTone({ frequency: 500, sampleRate: 8000, durationMs: 3000 });
    const mp3 = await encodeMp3(left, right);
    // Frame sync 11 bits, then version bits 00 = MPEG-2.5, layer bits 01 = Layer III.
    expect(mp3[0]).toBe(0xff);
    expect(mp3[1]! & 0xe0).toBe(0xe0);
    expect((mp3[1]! >> 3) & 0x03).toBe(0);
    expect((mp3[1]! >> 1) & 0x03).toBe(1);
    // 32 kbps for 3 s ≈ 12 kB.
    expect(mp3.length).toBeGreaterThan(10_000);
    expect(mp3.length).toBeLessThan(14_000);
    const decoded = await decodeMp3(mp3);
    expect(decoded.sampleRate).toBe(8000);
    expect(decoded.channels).toHaveLength(2);
    expect(Math.abs(decoded.channels[0]!.length - left.length)).toBeLessThan(2400);
    const middle = (c: Float32Array) => c.subarray(4000, 20000);
    const l = dominantTone(middle(decoded.channels[0]!), 8000, [500, 1000]);
    const r = dominantTone(middle(decoded.channels[1]!), 8000, [500, 1000]);
    expect(l.frequency).toBe(1000);
    expect(r.frequency).toBe(500);
    expect(l.marginDb).toBeGreaterThan(20);
    expect(r.marginDb).toBeGreaterThan(20);
  });

  it('the sync and async encoders give the same file; an empty input is a valid (tiny) file', async () => {
    const left = sineTone({ frequency: 700, sampleRate: 8000, durationMs: 5000 });
    const right = new Int16Array(left.length);
    expect((await encodeMp3(left, right)).equals(encodeMp3Sync(left, right))).toBe(true);
    expect(encodeMp3Sync(new Int16Array(0), new Int16Array(0)).length).toBeLessThan(1000);
    await expect(encodeMp3(new Int16Array(2), new Int16Array(3))).rejects.toThrow(RangeError);
  });

  it('encodes faster than real time (speed in the log)', () => {
    const seconds = 30;
    const left = sineTone({ frequency: 1000, sampleRate: 8000, durationMs: seconds * 1000 });
    const right = sineTone({ frequency: 500, sampleRate: 8000, durationMs: seconds * 1000 });
    const before = process.cpuUsage();
    const mp3 = encodeMp3Sync(left, right);
    const used = process.cpuUsage(before);
    const cpuSeconds = (used.user + used.system) / 1e6;
    const speed = seconds / cpuSeconds;
    console.log(
      `MP3 encode (lamejs, 8 kHz stereo, 32 kbps): ${seconds} s of audio in ${cpuSeconds.toFixed(2)} CPU s = ${speed.toFixed(0)}× real time, ${mp3.length} bytes`,
    );
    expect(speed).toBeGreaterThan(5);
  });
});
