import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useRtpEngine } from '../media/testing.js';
import { dominantTone, encodeG711, sineTone } from '../testing/audio.js';
import { buildRtpPacket, RtpPeer } from '../testing/rtp-peer.js';
import { isRecordingsError } from './errors.js';
import { buildIpUdpPacket, readPcap, writePcap } from './pcap.js';
import {
  buildTimeline,
  escapeCallId,
  findCaptures,
  parseRtp,
  parseStreamMetadata,
  type RtpArrival,
  RtpEnginePcapRenderer,
} from './render.js';
import { decodeMp3 } from './testing.js';
import type { RecordingJob } from './types.js';

// ---- synthetic packets ---------------------------------------------------------------------------

interface StreamSpec {
  frequency: number;
  ssrc: number;
  seq: number;
  ts: number;
  pt?: 0 | 8;
}

/** `count` 20 ms packets of a tone, arriving every 20 ms from `startMs`. */
function stream(spec: StreamSpec, startMs: number, count: number, skipFirstSamples = 0): RtpArrival[] {
  const law = spec.pt === 8 ? 'alaw' : 'mulaw';
  const tone = sineTone({
    frequency: spec.frequency,
    sampleRate: 8000,
    durationMs: count * 20 + skipFirstSamples / 8,
  }).subarray(skipFirstSamples);
  return Array.from({ length: count }, (_, i) => ({
    arrivalMs: startMs + 20 * i,
    ssrc: spec.ssrc,
    sequenceNumber: (spec.seq + i) & 0xffff,
    timestamp: (spec.ts + 160 * i) >>> 0,
    payloadType: spec.pt ?? 0,
    payload: encodeG711(tone.subarray(160 * i, 160 * (i + 1)), law),
  }));
}

const tone = (samples: Int16Array | Float32Array, from: number, to: number) =>
  dominantTone(samples.subarray(from, to), 8000, [500, 1000, 1500]);

const isSilent = (samples: Int16Array, from: number, to: number) =>
  samples.subarray(from, to).every((s) => Math.abs(s) <= 8);

describe('buildTimeline', () => {
  const T0 = 1_800_000_000_000;

  it('aligns two channels by arrival time and fills before/after with silence', () => {
    const a = stream({ frequency: 1000, ssrc: 1, seq: 100, ts: 5000 }, T0, 50); // 0–1 s
    const b = stream({ frequency: 500, ssrc: 2, seq: 7, ts: 999 }, T0 + 500, 50); // 0.5–1.5 s
    const t = buildTimeline([a, b]);
    expect(t.startMs).toBe(T0);
    expect(t.channels[0]!.length).toBe(12000);
    expect(t.channels[1]!.length).toBe(12000);
    expect(tone(t.channels[0]!, 0, 8000).frequency).toBe(1000);
    expect(isSilent(t.channels[0]!, 8000, 12000)).toBe(true);
    expect(isSilent(t.channels[1]!, 0, 4000)).toBe(true);
    expect(tone(t.channels[1]!, 4000, 12000).frequency).toBe(500);
    expect(t.stats[0]).toMatchObject({ packets: 50, duplicates: 0, late: 0, segments: 1 });
  });

  it('unwraps sequence numbers and timestamps', () => {
    const a = stream({ frequency: 1000, ssrc: 1, seq: 0xffff - 10, ts: 0xffffffff - 800 }, T0, 50);
    const t = buildTimeline([a, []]);
    expect(t.stats[0]).toMatchObject({ packets: 50, segments: 1 });
    expect(t.channels[0]!.length).toBe(8000);
    // A phase-continuous tone: no jump where the counters wrap.
    expect(tone(t.channels[0]!, 0, 8000).relativePower).toBeGreaterThan(0.95);
  });

  it('places packets by RTP timestamp: jitter and reordering do not move audio, duplicates are dropped', () => {
    const a = stream({ frequency: 1000, ssrc: 1, seq: 10, ts: 0 }, T0, 50);
    const jittered = a.map((p, i) => ({ ...p, arrivalMs: p.arrivalMs + ((i * 37) % 60) }));
    // Swap neighbours, and send some twice.
    for (let i = 5; i < 45; i += 6) [jittered[i], jittered[i + 1]] = [jittered[i + 1]!, jittered[i]!];
    const withDuplicates = [
      ...jittered,
      jittered[3]!,
      jittered[20]!,
      { ...jittered[30]!, arrivalMs: jittered[30]!.arrivalMs + 5 },
    ];
    const t = buildTimeline([withDuplicates, []]);
    const clean = buildTimeline([a, []]);
    expect(t.stats[0]).toMatchObject({ packets: 50, duplicates: 3, segments: 1 });
    expect(Array.from(t.channels[0]!)).toEqual(Array.from(clean.channels[0]!));
  });

  it('a lost packet is 20 ms of silence in its place', () => {
    const a = stream({ frequency: 1000, ssrc: 1, seq: 10, ts: 0 }, T0, 50).filter((_, i) => i !== 20);
    const t = buildTimeline([a, []]);
    expect(t.channels[0]!.length).toBe(8000);
    expect(isSilent(t.channels[0]!, 3200, 3360)).toBe(true);
    expect(isSilent(t.channels[0]!, 3100, 3200)).toBe(false);
  });

  it('a new SSRC is a new segment placed by arrival time', () => {
    const first = stream({ frequency: 1000, ssrc: 1, seq: 10, ts: 0 }, T0, 25); // 0–0.5 s
    const second = stream({ frequency: 1500, ssrc: 99, seq: 40000, ts: 123_456_789 }, T0 + 1000, 25); // 1–1.5 s
    const t = buildTimeline([[...first, ...second], []]);
    expect(t.stats[0]!.segments).toBe(2);
    expect(t.channels[0]!.length).toBe(12000);
    expect(tone(t.channels[0]!, 0, 4000).frequency).toBe(1000);
    expect(isSilent(t.channels[0]!, 4000, 8000)).toBe(true);
    expect(tone(t.channels[0]!, 8000, 12000).frequency).toBe(1500);
  });

  it('a timestamp jump within one SSRC re-anchors by arrival time', () => {
    const first = stream({ frequency: 1000, ssrc: 1, seq: 10, ts: 0 }, T0, 25);
    const second = stream({ frequency: 1000, ssrc: 1, seq: 35, ts: 8_000_000 }, T0 + 500, 25);
    const t = buildTimeline([[...first, ...second], []]);
    expect(t.stats[0]!.segments).toBe(2);
    expect(t.channels[0]!.length).toBe(8000);
  });

  it('an out-of-order packet later than the jitter window is dropped', () => {
    const a = stream({ frequency: 1000, ssrc: 1, seq: 10, ts: 0 }, T0, 50);
    const stale = { ...a[5]!, arrivalMs: T0 + 990 };
    const t = buildTimeline([[...a.filter((_, i) => i !== 5), stale], []], { jitterWindowMs: 300 });
    expect(t.stats[0]).toMatchObject({ packets: 49, late: 1, segments: 1 });
  });

  it('other payload types are silence with a warning that names a 48 kHz clock as Opus?', () => {
    const opus = Array.from({ length: 50 }, (_, i) => ({
      arrivalMs: T0 + 20 * i,
      ssrc: 5,
      sequenceNumber: i,
      timestamp: 960 * i,
      payloadType: 111,
      payload: Buffer.alloc(60, 1),
    }));
    const b = stream({ frequency: 500, ssrc: 2, seq: 0, ts: 0 }, T0, 50);
    const t = buildTimeline([opus, b]);
    expect(t.warnings).toHaveLength(1);
    expect(t.warnings[0]).toMatch(/channel 0: 50 packets of payload type 111 .*Opus\?/);
    expect(isSilent(t.channels[0]!, 0, 8000)).toBe(true);
    expect(tone(t.channels[1]!, 0, 8000).frequency).toBe(500);
  });

  it('PCMA and PCMU mixed in one stream decode each by payload type', () => {
    const a = stream({ frequency: 1000, ssrc: 1, seq: 10, ts: 0, pt: 8 }, T0, 50);
    const t = buildTimeline([a, []]);
    expect(tone(t.channels[0]!, 0, 8000).frequency).toBe(1000);
  });

  it('no packets at all: empty channels', () => {
    expect(buildTimeline([[], []]).channels.map((c) => c.length)).toEqual([0, 0]);
  });
});

describe('helpers', () => {
  it('escapes a call-id as rtpengine names its files (glib URI escaping, unreserved kept)', () => {
    expect(escapeCallId('exp call/1!*()')).toBe('exp%20call%2F1%21%2A%28%29');
    expect(escapeCallId('a-b.c_d~e')).toBe('a-b.c_d~e');
    expect(escapeCallId('ä@x')).toBe('%C3%A4%40x');
  });

  it('parses the stream map from a metadata file, ignoring what is not ours', () => {
    const text =
      '/x/pcaps/c-0123456789abcdef.pcap\n\n\nTimestamp terminated ms(first monologue): 1.000\n\ncall start time: 2026-01-01T00:00:00\n\n\n' +
      'switchboard-streams {"v":1,"tags":{"A":[{"address":"127.0.0.1","port":30000,"rtcp":false},{"address":"127.0.0.1","port":30001,"rtcp":true}],"B":[{"address":"127.0.0.1","port":30010,"rtcp":false}]}}\n';
    const map = parseStreamMetadata(text);
    expect(map?.get('A')).toHaveLength(2);
    expect(map?.get('B')?.[0]).toMatchObject({ port: 30010 });
    expect(parseStreamMetadata('nothing here')).toBeUndefined();
    expect(parseStreamMetadata('switchboard-streams {broken')).toBeUndefined();
  });

  it('parseRtp skips RTCP and non-RTP, honours CSRCs, extensions and padding', () => {
    const payload = Buffer.from([1, 2, 3, 4]);
    const plain = buildRtpPacket({ payloadType: 0, sequenceNumber: 1, timestamp: 2, ssrc: 3, payload });
    expect(parseRtp(plain, 0)).toMatchObject({ payloadType: 0, sequenceNumber: 1, timestamp: 2, ssrc: 3 });
    const rtcp = Buffer.from(plain);
    rtcp[1] = 200;
    expect(parseRtp(rtcp, 0)).toBeUndefined();
    expect(parseRtp(Buffer.from([0x16, 0xfe, 0xfd]), 0)).toBeUndefined();
    const extended = Buffer.concat([
      Buffer.from([0xb1, 0x00]), // V=2, padding, extension, 1 CSRC
      plain.subarray(2, 12),
      Buffer.alloc(4), // CSRC
      Buffer.from([0xbe, 0xde, 0x00, 0x01, 0, 0, 0, 0]), // extension of 1 word
      payload,
      Buffer.from([0, 0, 3]), // 3 bytes of padding
    ]);
    expect(Buffer.from(parseRtp(extended, 0)!.payload).equals(payload)).toBe(true);
  });
});

// ---- a synthetic capture on disk ---------------------------------------------------------------

describe('RtpEnginePcapRenderer on files', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sb-rec-'));
    for (const sub of ['pcaps', 'metadata', 'tmp']) mkdirSync(join(dir, sub));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const job = (callId: string, over: Partial<RecordingJob> = {}): RecordingJob => ({
    recordingId: `rec-${callId}`,
    callId,
    owner: { kind: 'queue', queueId: 'q1' },
    aLegId: 'legA',
    bLegId: 'legB',
    partyUserIds: [],
    startedMs: 1_800_000_000_000,
    endedMs: 1_800_000_002_000,
    ...over,
  });

  /** Writes a capture as rtpengine would: A → engine port 30000, B → 30010, a third tag → 30020. */
  function writeCapture(
    callId: string,
    options: { metadata?: string | null; ports?: [number, number] } = {},
  ) {
    const T0 = 1_800_000_000_000;
    const [aPort, bPort] = options.ports ?? [30000, 30010];
    const frames = [
      ...stream({ frequency: 1000, ssrc: 11, seq: 1, ts: 1 }, T0, 100).map((p) => ({
        p,
        src: 40000,
        dst: aPort,
      })),
      ...stream({ frequency: 500, ssrc: 22, seq: 1, ts: 1 }, T0 + 10, 100).map((p) => ({
        p,
        src: 40010,
        dst: bPort,
      })),
      ...stream({ frequency: 1500, ssrc: 33, seq: 1, ts: 1 }, T0 + 5, 100).map((p) => ({
        p,
        src: 40020,
        dst: 30020,
      })),
    ]
      .sort((x, y) => x.p.arrivalMs - y.p.arrivalMs)
      .map(({ p, src, dst }) => ({
        timestampMs: p.arrivalMs,
        frame: buildIpUdpPacket({
          srcAddr: '127.0.0.1',
          srcPort: src,
          dstAddr: '127.0.0.1',
          dstPort: dst,
          payload: buildRtpPacket({ ...p, payload: p.payload }),
        }),
      }));
    const name = `${escapeCallId(callId)}-0123456789abcdef`;
    writeFileSync(join(dir, 'pcaps', `${name}.pcap`), writePcap(frames));
    const map = {
      v: 1,
      tags: {
        legA: [{ address: '127.0.0.1', port: 30000, rtcp: false }],
        legB: [{ address: '127.0.0.1', port: 30010, rtcp: false }],
        legC: [{ address: '127.0.0.1', port: 30020, rtcp: false }],
      },
    };
    if (options.metadata !== null)
      writeFileSync(
        join(dir, 'metadata', `rtpengine-meta-${name}.txt`),
        options.metadata ??
          `${join(dir, 'pcaps', `${name}.pcap`)}\n\n\nswitchboard-streams ${JSON.stringify(map)}\n`,
      );
    return name;
  }

  it('picks the A and B tags by their engine ports, whatever else the capture holds', async () => {
    writeCapture('call 1');
    const renderer = new RtpEnginePcapRenderer({ recordingDir: dir });
    const audio = await renderer.renderAudio(job('call 1'));
    expect(audio.durationMs).toBe(2010);
    expect(tone(audio.channels[0], 800, 15000).frequency).toBe(1000);
    expect(tone(audio.channels[1], 800, 15000).frequency).toBe(500);
    expect(audio.stats.otherPackets).toBe(100);
    const swapped = await renderer.renderAudio(job('call 1', { aLegId: 'legC', bLegId: 'legA' }));
    expect(tone(swapped.channels[0], 800, 15000).frequency).toBe(1500);
    expect(tone(swapped.channels[1], 800, 15000).frequency).toBe(1000);
  });

  it('errors: no capture, unfinished capture, no stream map, unknown tag', async () => {
    const renderer = new RtpEnginePcapRenderer({ recordingDir: dir });
    const codeOf = (p: Promise<unknown>) =>
      p.then(
        () => 'resolved',
        (e: unknown) => (isRecordingsError(e) ? e.code : e),
      );
    expect(await codeOf(renderer.render(job('nobody')))).toBe('RECORDING_CAPTURE_NOT_FOUND');
    expect(
      await codeOf(new RtpEnginePcapRenderer({ recordingDir: join(dir, 'nope') }).render(job('x'))),
    ).toBe('RECORDING_CAPTURE_NOT_FOUND');
    const unfinished = writeCapture('call 2', { metadata: null });
    writeFileSync(join(dir, 'tmp', `rtpengine-meta-${unfinished}.tmp`), '');
    expect(await codeOf(renderer.render(job('call 2')))).toBe('RECORDING_CAPTURE_INCOMPLETE');
    expect((await findCaptures(dir, 'call 2'))[0]).toMatchObject({ metadataPath: undefined });
    writeCapture('call 3', { metadata: 'just a path\n' });
    expect(await codeOf(renderer.render(job('call 3')))).toBe('RECORDING_STREAMS_UNKNOWN');
    writeCapture('call 4');
    expect(await codeOf(renderer.render(job('call 4', { bLegId: 'someone else' })))).toBe(
      'RECORDING_STREAMS_UNKNOWN',
    );
    writeCapture('call 5', { ports: [31000, 31010] });
    expect(await codeOf(renderer.render(job('call 5')))).toBe('RECORDING_NO_MEDIA');
  });
});

// ---- against rtpengine -------------------------------------------------------------------------

describe('RtpEnginePcapRenderer against rtpengine', () => {
  const engine = useRtpEngine('sb-rec-rtpe-');
  let renderer: RtpEnginePcapRenderer;
  let n = 0;

  beforeAll(() => {
    renderer = new RtpEnginePcapRenderer({ recordingDir: engine.proc.recordingDir });
  });

  /**
   * A caller (from-tag, 1000 Hz) and a callee (to-tag, 500 Hz) through the engine; recording
   * starts after the answer, ~2 s of audio, then the call is deleted.
   */
  async function recordCall(options: { payloadTypes?: number[]; seconds?: number } = {}) {
    const callId = `rec call ${process.pid}/${++n}`;
    const aLegId = `leg-A-${n}`;
    const bLegId = `leg-B-${n}`;
    const caller = await RtpPeer.open();
    const callee = await RtpPeer.open();
    try {
      const offer = await engine.media.offer({
        callId,
        fromTag: aLegId,
        sdp: Buffer.from(caller.sdp('caller', { payloadTypes: options.payloadTypes })),
        toward: 'rtp',
      });
      callee.setRemote(offer);
      const answer = await engine.media.answer({
        callId,
        fromTag: aLegId,
        toTag: bLegId,
        sdp: Buffer.from(callee.sdp('callee')),
        toward: 'rtp',
      });
      caller.setRemote(answer);
      caller.startTone(1000);
      callee.startTone(500);
      await caller.waitForTone(500, [500, 1000], { timeoutMs: 3000, windowMs: 200 });
      await callee.waitForTone(1000, [500, 1000], { timeoutMs: 3000, windowMs: 200 });
      const startedMs = Date.now();
      await engine.media.startRecording(callId);
      await new Promise((r) => setTimeout(r, (options.seconds ?? 2) * 1000));
      await engine.media.delete(callId);
      const endedMs = Date.now();
      const job: RecordingJob = {
        recordingId: `rec-${n}`,
        callId,
        owner: { kind: 'user', userId: 'u1' },
        aLegId,
        bLegId,
        partyUserIds: ['u1'],
        startedMs,
        endedMs,
      };
      return { job, codec: caller.remote!.codec };
    } finally {
      await caller.close();
      await callee.close();
    }
  }

  async function expectTones(mp3: Buffer, aHz: number, bHz: number) {
    const decoded = await decodeMp3(mp3);
    expect(decoded.sampleRate).toBe(8000);
    expect(decoded.channels).toHaveLength(2);
    // The encoder adds ~0.14 s of delay at the start; look past it and before the end.
    const from = 2400;
    const to = decoded.channels[0]!.length - 1600;
    expect(to - from).toBeGreaterThan(2000);
    const a = tone(decoded.channels[0]!, from, to);
    const b = tone(decoded.channels[1]!, from, to);
    expect(a.frequency, 'channel 0').toBe(aHz);
    expect(b.frequency, 'channel 1').toBe(bHz);
    expect(a.marginDb).toBeGreaterThan(20);
    expect(b.marginDb).toBeGreaterThan(20);
    return decoded;
  }

  it('PCMU: channel 0 is the caller (1000 Hz), channel 1 the callee (500 Hz), as long as the recording ran', async () => {
    const { job, codec } = await recordCall();
    expect(codec).toBe('PCMU');
    const captures = await findCaptures(engine.proc.recordingDir, job.callId);
    expect(captures).toHaveLength(1);
    expect(captures[0]!.metadataPath).toBeDefined();
    const { mp3, durationMs } = await renderer.render(job);
    console.log(
      `rendered ${durationMs} ms for ${job.endedMs - job.startedMs} ms between startRecording and delete; ${mp3.length} bytes of MP3`,
    );
    expect(Math.abs(durationMs - (job.endedMs - job.startedMs))).toBeLessThan(500);
    const decoded = await expectTones(mp3, 1000, 500);
    expect(Math.abs(decoded.channels[0]!.length / 8 - durationMs)).toBeLessThan(400);
    const audio = await renderer.renderAudio(job);
    expect(audio.truncated).toBe(false);
    expect(audio.warnings).toEqual([]);
    expect(audio.stats.a.segments).toBe(1);
    expect(audio.stats.b.segments).toBe(1);
    expect(audio.stats.a.packets).toBeGreaterThan(80);
    expect(audio.stats.b.packets).toBeGreaterThan(80);
    // Swap the legs in the job and the channels swap: the tags decide, not the order of packets.
    const swapped = await renderer.renderAudio({ ...job, aLegId: job.bLegId, bLegId: job.aLegId });
    expect(tone(swapped.channels[0], 800, swapped.channels[0].length - 800).frequency).toBe(500);
    expect(tone(swapped.channels[1], 800, swapped.channels[1].length - 800).frequency).toBe(1000);
  }, 15_000);

  it('PCMA works too', async () => {
    const { job, codec } = await recordCall({ payloadTypes: [8] });
    expect(codec).toBe('PCMA');
    const { mp3, durationMs } = await renderer.render(job);
    expect(Math.abs(durationMs - (job.endedMs - job.startedMs))).toBeLessThan(500);
    await expectTones(mp3, 1000, 500);
  }, 15_000);

  it('a pcap cut in half renders what it holds and says it was truncated', async () => {
    const { job } = await recordCall();
    const [capture] = await findCaptures(engine.proc.recordingDir, job.callId);
    // A copy of the recording directory with the pcap cut in half (mid-record).
    const copy = mkdtempSync(join(tmpdir(), 'sb-rec-cut-'));
    try {
      cpSync(engine.proc.recordingDir, copy, { recursive: true });
      const pcap = join(copy, 'pcaps', `${capture!.name}.pcap`);
      const size = readFileSync(pcap).length;
      truncateSync(pcap, Math.floor(size / 2) + 3);
      const audio = await new RtpEnginePcapRenderer({ recordingDir: copy }).renderAudio(job);
      expect(audio.truncated).toBe(true);
      expect(audio.warnings.join(' ')).toMatch(/cut short/);
      const full = job.endedMs - job.startedMs;
      expect(audio.durationMs).toBeGreaterThan(full / 2 - 400);
      expect(audio.durationMs).toBeLessThan(full / 2 + 400);
      expect(tone(audio.channels[0], 400, audio.channels[0].length - 400).frequency).toBe(1000);
      expect(tone(audio.channels[1], 400, audio.channels[1].length - 400).frequency).toBe(500);
      const { mp3 } = await new RtpEnginePcapRenderer({ recordingDir: copy }).render(job);
      await expectTones(mp3, 1000, 500);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }, 15_000);

  it('an SDES-SRTP leg is captured decrypted (as WebRTC DTLS-SRTP legs are: the same decrypt path)', async () => {
    const callId = `srtp ${process.pid}`;
    const masterKey = randomBytes(16);
    const masterSalt = randomBytes(14);
    const keys = srtpSessionKeys(masterKey, masterSalt);
    const caller = createSocket('udp4');
    await new Promise<void>((resolve) => caller.bind(0, '127.0.0.1', resolve));
    const callerPort = caller.address().port;
    const callee = await RtpPeer.open();
    try {
      const offerSdp = [
        'v=0',
        `o=- 1 1 IN IP4 127.0.0.1`,
        's=-',
        'c=IN IP4 127.0.0.1',
        't=0 0',
        `m=audio ${callerPort} RTP/SAVP 0`,
        'a=rtpmap:0 PCMU/8000',
        `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${Buffer.concat([masterKey, masterSalt]).toString('base64')}`,
        'a=sendrecv',
        '',
      ].join('\r\n');
      const offer = await engine.media.client.offer({
        callId,
        fromTag: 'srtp-A',
        sdp: offerSdp,
        transportProtocol: 'RTP/AVP',
        ice: 'remove',
        replace: ['origin', 'session-connection'],
      });
      expect(offer.sdp.toString()).toMatch(/RTP\/AVP/);
      callee.setRemote(offer.sdp);
      const answer = await engine.media.client.answer({
        callId,
        fromTag: 'srtp-A',
        toTag: 'srtp-B',
        sdp: callee.sdp(),
        transportProtocol: 'RTP/SAVP',
        ice: 'remove',
        replace: ['origin', 'session-connection'],
      });
      expect(answer.sdp.toString()).toMatch(/m=audio \d+ RTP\/SAVP/);
      const enginePort = Number(/m=audio (\d+)/.exec(answer.sdp.toString())![1]);
      callee.startTone(500);
      const ssrc = 0x5eed;
      const samples = sineTone({ frequency: 1000, sampleRate: 8000, durationMs: 3000 });
      let i = 0;
      const send = () => {
        const plain = buildRtpPacket({
          payloadType: 0,
          sequenceNumber: 1000 + i,
          timestamp: 160 * i,
          ssrc,
          payload: encodeG711(samples.subarray(160 * i, 160 * (i + 1)), 'mulaw'),
        });
        caller.send(srtpProtect(plain, keys), enginePort, '127.0.0.1');
        i++;
      };
      const timer = setInterval(send, 20);
      try {
        await callee.waitForTone(1000, [500, 1000], { timeoutMs: 3000, windowMs: 200 });
        const startedMs = Date.now();
        await engine.media.startRecording(callId);
        await new Promise((r) => setTimeout(r, 1500));
        await engine.media.delete(callId);
        const job: RecordingJob = {
          recordingId: 'srtp',
          callId,
          owner: { kind: 'user', userId: 'u' },
          aLegId: 'srtp-A',
          bLegId: 'srtp-B',
          partyUserIds: [],
          startedMs,
          endedMs: Date.now(),
        };
        // The caller's packets are in the pcap as plain RTP: 12 + 160 bytes, no SRTP auth tag.
        const [capture] = await findCaptures(engine.proc.recordingDir, callId);
        const fromCaller = readPcap(readFileSync(capture!.pcapPath)).packets.filter(
          (p) => p.dstPort === enginePort,
        );
        expect(fromCaller.length).toBeGreaterThan(50);
        expect(new Set(fromCaller.map((p) => p.payload.length))).toEqual(new Set([172]));
        const audio = await renderer.renderAudio(job);
        expect(audio.warnings).toEqual([]);
        expect(tone(audio.channels[0], 400, audio.channels[0].length - 400).frequency).toBe(1000);
        expect(tone(audio.channels[1], 400, audio.channels[1].length - 400).frequency).toBe(500);
      } finally {
        clearInterval(timer);
      }
    } finally {
      await engine.media.delete(callId);
      caller.close();
      await callee.close();
    }
  }, 15_000);

  it('no capture for the job: RECORDING_CAPTURE_NOT_FOUND; while the call still records: RECORDING_CAPTURE_INCOMPLETE', async () => {
    const err = await renderer
      .render({
        recordingId: 'r',
        callId: 'never-recorded',
        owner: { kind: 'user', userId: 'u' },
        aLegId: 'a',
        bLegId: 'b',
        partyUserIds: [],
        startedMs: Date.now() - 1000,
        endedMs: Date.now(),
      })
      .catch((e: unknown) => e);
    expect(isRecordingsError(err) && err.code).toBe('RECORDING_CAPTURE_NOT_FOUND');
    expect((err as Error).message).toContain('never-recorded');

    const callId = `live ${process.pid}`;
    const peer = await RtpPeer.open();
    try {
      await engine.media.offer({ callId, fromTag: 'A', sdp: Buffer.from(peer.sdp()), toward: 'rtp' });
      await engine.media.startRecording(callId);
      const live = await renderer
        .render({
          recordingId: 'r',
          callId,
          owner: { kind: 'user', userId: 'u' },
          aLegId: 'A',
          bLegId: 'B',
          partyUserIds: [],
          startedMs: 0,
          endedMs: 0,
        })
        .catch((e: unknown) => e);
      expect(isRecordingsError(live) && live.code).toBe('RECORDING_CAPTURE_INCOMPLETE');
      expect(
        readdirSync(join(engine.proc.recordingDir, 'tmp')).some((f) => f.includes(escapeCallId(callId))),
      ).toBe(true);
    } finally {
      await engine.media.delete(callId);
      await peer.close();
    }
  }, 15_000);
});

// ---- SRTP (RFC 3711, AES_CM_128_HMAC_SHA1_80) for the sender side of a test ---------------------

interface SrtpKeys {
  cipherKey: Buffer;
  authKey: Buffer;
  salt: Buffer;
}

function aesCmKeystream(key: Buffer, iv: Buffer, length: number): Buffer {
  const cipher = createCipheriv('aes-128-ctr', key, iv);
  return Buffer.concat([cipher.update(Buffer.alloc(length)), cipher.final()]);
}

function srtpSessionKeys(masterKey: Buffer, masterSalt: Buffer): SrtpKeys {
  const derive = (label: number, length: number) => {
    const iv = Buffer.alloc(16);
    masterSalt.copy(iv, 0);
    iv[7]! ^= label; // key_id = label || index DIV kdr (0), right-aligned in the 112-bit salt
    return aesCmKeystream(masterKey, iv, length);
  };
  return { cipherKey: derive(0, 16), authKey: derive(1, 20), salt: derive(2, 14) };
}

/** Encrypt and authenticate one RTP packet (12-byte header, ROC 0). */
function srtpProtect(packet: Buffer, keys: SrtpKeys): Buffer {
  const iv = Buffer.alloc(16);
  keys.salt.copy(iv, 0);
  packet.copy(iv, 4, 8, 12); // SSRC at bytes 4..7
  for (let k = 0; k < 4; k++) iv[4 + k]! ^= keys.salt[4 + k]!;
  // index (ROC 0 || SEQ) at bytes 8..13
  iv[12]! ^= packet[2]!;
  iv[13]! ^= packet[3]!;
  const header = packet.subarray(0, 12);
  const payload = packet.subarray(12);
  const stream = aesCmKeystream(keys.cipherKey, iv, payload.length);
  const encrypted = Buffer.from(payload.map((b, j) => b ^ stream[j]!));
  const authenticated = Buffer.concat([header, encrypted]);
  const tag = createHmac('sha1', keys.authKey)
    .update(Buffer.concat([authenticated, Buffer.alloc(4)]))
    .digest()
    .subarray(0, 10);
  return Buffer.concat([authenticated, tag]);
}
