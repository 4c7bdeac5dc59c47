import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RtpPeer } from '../testing/rtp-peer.js';
import { isMediaError } from './errors.js';
import { RECORDING_METADATA_PREFIX, recordingMetadata, recordingStreamsOf } from './rtpengine.js';
import { useRtpEngine } from './testing.js';

describe('recording metadata', () => {
  it('takes each tagged party’s audio ports from a query reply', () => {
    const stream = (port: number, flags: string[]) => ({
      'local port': port,
      'local address': Buffer.from('127.0.0.1'),
      flags: flags.map((f) => Buffer.from(f)),
    });
    const map = recordingStreamsOf({
      result: 'ok',
      tags: {
        A: {
          tag: Buffer.from('A'),
          medias: [
            { type: Buffer.from('audio'), streams: [stream(30000, ['RTP']), stream(30001, ['RTCP'])] },
            { type: Buffer.from('video'), streams: [stream(30002, ['RTP'])] },
          ],
        },
        '<untagged 3>': {
          tag: Buffer.from(''),
          medias: [{ type: 'audio', streams: [stream(30010, ['RTP'])] }],
        },
        B: { tag: 'B', medias: [{ type: 'audio', streams: [stream(30020, ['RTP', 'RTCP'])] }] },
      },
    });
    expect(map).toEqual({
      v: 1,
      tags: {
        A: [
          { address: '127.0.0.1', port: 30000, rtcp: false },
          { address: '127.0.0.1', port: 30001, rtcp: true },
        ],
        B: [{ address: '127.0.0.1', port: 30020, rtcp: false }],
      },
    });
    expect(recordingMetadata(map)).toBe(`${RECORDING_METADATA_PREFIX}${JSON.stringify(map)}`);
    expect(recordingStreamsOf({ result: 'ok' })).toEqual({ v: 1, tags: {} });
  });
});

describe('RtpEngine.startRecording against rtpengine', () => {
  const engine = useRtpEngine('sb-rtpe-rec-');

  it('an unknown call: MEDIA_ENGINE_ERROR', async () => {
    const err = await engine.media.startRecording('no-such-call').catch((e: unknown) => e);
    expect(isMediaError(err) && err.code).toBe('MEDIA_ENGINE_ERROR');
  });

  it('writes a pcap, and on delete a metadata file naming the port each tag sends to', async () => {
    const callId = `rec/${process.pid}`;
    const caller = await RtpPeer.open();
    const callee = await RtpPeer.open();
    try {
      const offer = await engine.media.offer({
        callId,
        fromTag: 'A',
        sdp: Buffer.from(caller.sdp()),
        toward: 'rtp',
      });
      const toCallee = callee.setRemote(offer);
      const answer = await engine.media.answer({
        callId,
        fromTag: 'A',
        toTag: 'B',
        sdp: Buffer.from(callee.sdp()),
        toward: 'rtp',
      });
      const toCaller = caller.setRemote(answer);
      await engine.media.startRecording(callId);
      await engine.media.startRecording(callId); // again: harmless
      const name = `rec%2F${process.pid}`;
      const pcaps = readdirSync(join(engine.proc.recordingDir, 'pcaps')).filter((f) =>
        f.startsWith(`${name}-`),
      );
      expect(pcaps).toHaveLength(1);
      expect(pcaps[0]).toMatch(/^rec%2F\d+-[0-9a-f]{16}\.pcap$/);
      const base = pcaps[0]!.slice(0, -'.pcap'.length);
      expect(readdirSync(join(engine.proc.recordingDir, 'tmp'))).toContain(`rtpengine-meta-${base}.tmp`);
      await engine.media.delete(callId);
      expect(readdirSync(join(engine.proc.recordingDir, 'tmp'))).not.toContain(`rtpengine-meta-${base}.tmp`);
      const metadata = readFileSync(
        join(engine.proc.recordingDir, 'metadata', `rtpengine-meta-${base}.txt`),
        'utf8',
      );
      expect(metadata.split('\n')[0]).toBe(join(engine.proc.recordingDir, 'pcaps', pcaps[0]!));
      const line = metadata.split('\n').find((l) => l.startsWith(RECORDING_METADATA_PREFIX));
      const map = JSON.parse(line!.slice(RECORDING_METADATA_PREFIX.length));
      // The caller sends to the port in the answer it got, the callee to the port in the offer.
      expect(map.tags.A).toContainEqual({ address: '127.0.0.1', port: toCaller.port, rtcp: false });
      expect(map.tags.B).toContainEqual({ address: '127.0.0.1', port: toCallee.port, rtcp: false });
      expect(map.tags.A).toContainEqual({ address: '127.0.0.1', port: toCaller.port + 1, rtcp: true });
    } finally {
      await engine.media.delete(callId);
      await caller.close();
      await callee.close();
    }
  });
});
