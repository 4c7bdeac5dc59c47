/**
 * Renders a recording job from rtpengine's pcap capture into a stereo MP3 (DESIGN.md §9: the
 * caller on channel 0, the agent / callee on channel 1, 8 kHz).
 *
 * What rtpengine 10.5 writes with `--recording-method=pcap` (daemon/recording.c, and seen here):
 * - `start recording` (RtpEngine.startRecording) opens `<dir>/pcaps/<call-id>-<16 hex>.pcap`
 *   (the call-id escaped like glib's g_uri_escape_string: all but `A-Za-z0-9-._~` as %XX) and
 *   `<dir>/tmp/rtpengine-meta-<same>.tmp`; deleting the call closes the pcap and moves the
 *   metadata to `<dir>/metadata/rtpengine-meta-<same>.txt`. Both are written through stdio buffers,
 *   so until the delete (or after a crash) the pcap lacks its last few kB and the metadata is empty.
 * - Every packet a party sends is written as received (after SRTP decryption, before any
 *   transcoding), framed with a made-up IP + UDP header: source = the party's address and port,
 *   destination = the engine's own address and port for that party (LINKTYPE_RAW, µs timestamps
 *   from the engine's clock). RTCP is captured too. What the engine sends is not captured.
 * - The pcap itself does not say whose port is whose: RtpEngine.startRecording queries the call and
 *   gives rtpengine `metadata` = `switchboard-streams {"v":1,"tags":{CallLegId:[{address,port}]}}`,
 *   which rtpengine appends to the metadata file when the call is deleted. The A side's packets are
 *   those sent to the A tag's ports, the B side's those sent to the B tag's ports.
 *
 * Each side's RTP is laid on a timeline from RTP timestamps (sequence numbers and timestamps
 * unwrapped; a new SSRC, or timestamps that disagree with arrival times by more than the jitter
 * window, start a new segment anchored by arrival time); each segment is anchored at its
 * least-delayed packet, so both channels share the capture's clock. Duplicates are dropped, late
 * out-of-order packets placed where they belong (or dropped beyond the jitter window), gaps are
 * silence. PCMU and PCMA are decoded; any other payload type (telephone-event, comfort noise, Opus)
 * is silence, with a warning for codecs.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type Logger, silentLogger } from '../logger.js';
import { RECORDING_METADATA_PREFIX, type RecordingStream } from '../media/rtpengine.js';
import { RecordingsError, type RecordingsErrorCode } from './errors.js';
import { decodeG711Into, type G711Law } from './g711.js';
import { encodeMp3 } from './mp3.js';
import { type PcapUdpPacket, readPcap } from './pcap.js';
import type { RecordingJob, RecordingRenderer } from './types.js';

// ---- errors --------------------------------------------------------------------------------------

/** A RecordingsError (./errors.ts) with a cause given plainly, as the renderer's call sites do. */
function recordingError(code: RecordingsErrorCode, message: string, cause?: unknown): RecordingsError {
  return new RecordingsError(code, message, cause === undefined ? undefined : { cause });
}

// ---- capture files -------------------------------------------------------------------------------

/** The call-id as rtpengine puts it in file names (glib's g_uri_escape_string, nothing allowed). */
export function escapeCallId(callId: string): string {
  let out = '';
  for (const byte of Buffer.from(callId, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export interface CaptureFiles {
  /** The pcap's name without `.pcap` (`<escaped call-id>-<16 hex>`). */
  name: string;
  pcapPath: string;
  /** `metadata/rtpengine-meta-<name>.txt` when the call was deleted (the capture is complete). */
  metadataPath: string | undefined;
  /** `tmp/rtpengine-meta-<name>.tmp` while the engine still records. */
  unfinishedMetadataPath: string | undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The captures rtpengine wrote of a call under its recording directory (oldest name order). */
export async function findCaptures(recordingDir: string, callId: string): Promise<CaptureFiles[]> {
  const prefix = `${escapeCallId(callId)}-`;
  let names: string[];
  try {
    names = await readdir(join(recordingDir, 'pcaps'));
  } catch {
    return [];
  }
  const found: CaptureFiles[] = [];
  for (const file of names.sort()) {
    if (!file.startsWith(prefix) || !/^[0-9a-f]{16}\.pcap$/i.test(file.slice(prefix.length))) continue;
    const name = file.slice(0, -'.pcap'.length);
    const metadataPath = join(recordingDir, 'metadata', `rtpengine-meta-${name}.txt`);
    const unfinishedPath = join(recordingDir, 'tmp', `rtpengine-meta-${name}.tmp`);
    found.push({
      name,
      pcapPath: join(recordingDir, 'pcaps', file),
      metadataPath: (await exists(metadataPath)) ? metadataPath : undefined,
      unfinishedMetadataPath: (await exists(unfinishedPath)) ? unfinishedPath : undefined,
    });
  }
  return found;
}

/** The stream map RtpEngine.startRecording left in a metadata file (the last one), or undefined. */
export function parseStreamMetadata(text: string): Map<string, RecordingStream[]> | undefined {
  const lines = text.split(/\r?\n/).filter((line) => line.startsWith(RECORDING_METADATA_PREFIX));
  const line = lines[lines.length - 1];
  if (line === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(line.slice(RECORDING_METADATA_PREFIX.length));
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const tags = (parsed as { tags?: unknown }).tags;
    if (typeof tags !== 'object' || tags === null) return undefined;
    const map = new Map<string, RecordingStream[]>();
    for (const [tag, streams] of Object.entries(tags)) {
      if (!Array.isArray(streams)) continue;
      map.set(
        tag,
        streams.filter(
          (s): s is RecordingStream =>
            typeof s === 'object' &&
            s !== null &&
            typeof s.port === 'number' &&
            typeof s.address === 'string',
        ),
      );
    }
    return map;
  } catch {
    return undefined;
  }
}

// ---- RTP -----------------------------------------------------------------------------------------

/** One RTP packet as captured: who sent it is decided by the caller. */
export interface RtpArrival {
  /** Capture time, epoch ms. */
  arrivalMs: number;
  ssrc: number;
  sequenceNumber: number;
  timestamp: number;
  payloadType: number;
  payload: Uint8Array;
}

/** An RTP packet's fields, or undefined for RTCP and anything that is not RTP version 2. */
export function parseRtp(packet: Uint8Array, arrivalMs: number): RtpArrival | undefined {
  if (packet.length < 12 || packet[0]! >> 6 !== 2) return undefined;
  const payloadType = packet[1]! & 0x7f;
  if (payloadType >= 72 && payloadType <= 76) return undefined; // RTCP (SR, RR, SDES, BYE, APP)
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  let offset = 12 + 4 * (packet[0]! & 0x0f);
  if ((packet[0]! & 0x10) !== 0) {
    if (offset + 4 > packet.length) return undefined;
    offset += 4 + 4 * view.getUint16(offset + 2);
  }
  let end = packet.length;
  if ((packet[0]! & 0x20) !== 0) end -= packet[packet.length - 1]!;
  if (offset > end) return undefined;
  return {
    arrivalMs,
    ssrc: view.getUint32(8),
    sequenceNumber: view.getUint16(2),
    timestamp: view.getUint32(4),
    payloadType,
    payload: packet.subarray(offset, end),
  };
}

// ---- timeline ------------------------------------------------------------------------------------

export const SAMPLE_RATE = 8000;
const SAMPLES_PER_MS = SAMPLE_RATE / 1000;

export interface TimelineOptions {
  /**
   * How far (ms) a packet may stray from its stream's timing before its stream is taken to have
   * restarted (a new segment, anchored by arrival time) — or, for an out-of-order packet, before
   * it is dropped as too late. Default 500.
   */
  jitterWindowMs?: number;
}

export interface ChannelStats {
  /** G.711 packets placed. */
  packets: number;
  duplicates: number;
  /** Out-of-order packets that arrived more than the jitter window late. */
  late: number;
  /** Segments (each new SSRC or timing restart starts one). */
  segments: number;
  /** Packets of other payload types (rendered as silence), by payload type. */
  otherPayloadTypes: Record<number, number>;
}

export interface Timeline {
  /** Epoch ms of sample 0 (the first packet's place). */
  startMs: number;
  /** One Int16Array per channel, all of the same length, SAMPLE_RATE per second. */
  channels: Int16Array[];
  stats: ChannelStats[];
  /** What a person should know: codecs rendered as silence, clock rates that look like Opus. */
  warnings: string[];
}

const LAW_OF_PT: Record<number, G711Law> = { 0: 'mulaw', 8: 'alaw' };
/** Comfort noise: silence by definition, no warning. */
const PT_CN = 13;

interface Placed {
  /** Samples since the base, fractional. */
  position: number;
  law: G711Law;
  payload: Uint8Array;
}

interface SegmentState {
  ssrc: number;
  highestSeq: number;
  refExtTs: number;
  refRawTs: number;
  minOffset: number;
  seen: Set<number>;
  packets: Array<{ extTs: number; law: G711Law; payload: Uint8Array }>;
}

const int16 = (v: number) => ((v & 0xffff) << 16) >> 16;
const int32 = (v: number) => v | 0;

/** Lay one party's packets (any order) on a timeline of sample positions relative to `baseMs`. */
function placeChannel(
  packets: readonly RtpArrival[],
  baseMs: number,
  windowSamples: number,
  stats: ChannelStats,
): Placed[] {
  const sorted = [...packets].sort((x, y) => x.arrivalMs - y.arrivalMs);
  const segments: SegmentState[] = [];
  let seg: SegmentState | undefined;
  const start = (p: RtpArrival, arrival: number, law: G711Law): SegmentState => {
    const s: SegmentState = {
      ssrc: p.ssrc,
      highestSeq: p.sequenceNumber,
      refExtTs: 0,
      refRawTs: p.timestamp,
      minOffset: arrival,
      seen: new Set([p.sequenceNumber]),
      packets: [{ extTs: 0, law, payload: p.payload }],
    };
    segments.push(s);
    return s;
  };
  for (const p of sorted) {
    const law = LAW_OF_PT[p.payloadType];
    if (!law) {
      stats.otherPayloadTypes[p.payloadType] = (stats.otherPayloadTypes[p.payloadType] ?? 0) + 1;
      continue;
    }
    if (p.payload.length === 0) continue;
    const arrival = (p.arrivalMs - baseMs) * SAMPLES_PER_MS;
    if (!seg || p.ssrc !== seg.ssrc) {
      seg = start(p, arrival, law);
      continue;
    }
    const seqStep = int16(p.sequenceNumber - seg.highestSeq);
    const extSeq = seg.highestSeq + seqStep;
    if (seg.seen.has(extSeq)) {
      stats.duplicates++;
      continue;
    }
    const extTs = seg.refExtTs + int32(p.timestamp - seg.refRawTs);
    const offset = arrival - extTs;
    if (seqStep > 0) {
      if (offset > seg.minOffset + windowSamples || offset < seg.minOffset - windowSamples) {
        // The timestamps jumped (the sender restarted its clock) or the stream stalled: re-anchor.
        seg = start(p, arrival, law);
        continue;
      }
      seg.highestSeq = extSeq;
      seg.refExtTs = extTs;
      seg.refRawTs = p.timestamp;
    } else if (offset > seg.minOffset + windowSamples || offset < seg.minOffset - windowSamples) {
      stats.late++;
      continue;
    }
    seg.minOffset = Math.min(seg.minOffset, offset);
    seg.seen.add(extSeq);
    seg.packets.push({ extTs, law, payload: p.payload });
  }
  stats.segments = segments.length;
  const placed: Placed[] = [];
  for (const s of segments) {
    for (const p of s.packets)
      placed.push({ position: p.extTs + s.minOffset, law: p.law, payload: p.payload });
    stats.packets += s.packets.length;
  }
  return placed;
}

/** The RTP clock rate a stream of some payload type seems to run at (for a warning), or undefined. */
function estimateClockRate(packets: readonly RtpArrival[]): number | undefined {
  if (packets.length < 10) return undefined;
  const first = packets[0]!;
  const last = packets[packets.length - 1]!;
  if (first.ssrc !== last.ssrc) return undefined;
  const elapsedMs = last.arrivalMs - first.arrivalMs;
  if (elapsedMs < 100) return undefined;
  const ticks = (last.timestamp - first.timestamp) >>> 0;
  return (ticks * 1000) / elapsedMs;
}

/**
 * The channels of a recording: one per party's packets, aligned on the capture clock, from the
 * first packet of either to the end of the last. Gaps are silence.
 */
export function buildTimeline(
  parties: ReadonlyArray<readonly RtpArrival[]>,
  options: TimelineOptions = {},
): Timeline {
  const windowSamples = (options.jitterWindowMs ?? 500) * SAMPLES_PER_MS;
  let baseMs = Number.POSITIVE_INFINITY;
  for (const packets of parties) for (const p of packets) baseMs = Math.min(baseMs, p.arrivalMs);
  const stats: ChannelStats[] = parties.map(() => ({
    packets: 0,
    duplicates: 0,
    late: 0,
    segments: 0,
    otherPayloadTypes: {},
  }));
  const placed = parties.map((packets, i) =>
    Number.isFinite(baseMs) ? placeChannel(packets, baseMs, windowSamples, stats[i]!) : [],
  );
  let first = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  for (const list of placed)
    for (const p of list) {
      const at = Math.round(p.position);
      first = Math.min(first, at);
      end = Math.max(end, at + p.payload.length);
    }
  const warnings: string[] = [];
  parties.forEach((packets, i) => {
    for (const [pt, count] of Object.entries(stats[i]!.otherPayloadTypes)) {
      if (Number(pt) === PT_CN) continue;
      const rate = estimateClockRate(packets.filter((p) => p.payloadType === Number(pt)));
      const opus = rate !== undefined && rate > 40_000 && rate < 56_000;
      warnings.push(
        `channel ${i}: ${count} packets of payload type ${pt} rendered as silence (not PCMU/PCMA` +
          (opus
            ? '; a 48 kHz RTP clock: Opus?'
            : rate !== undefined
              ? `; RTP clock ≈${Math.round(rate)} Hz`
              : '') +
          ')',
      );
    }
  });
  if (!Number.isFinite(first)) {
    return {
      startMs: Number.isFinite(baseMs) ? baseMs : 0,
      channels: parties.map(() => new Int16Array(0)),
      stats,
      warnings,
    };
  }
  const length = end - first;
  const channels = placed.map((list) => {
    const out = new Int16Array(length);
    for (const p of list) decodeG711Into(p.payload, p.law, out, Math.round(p.position) - first);
    return out;
  });
  return { startMs: baseMs + first / SAMPLES_PER_MS, channels, stats, warnings };
}

// ---- the renderer --------------------------------------------------------------------------------

export interface RtpEnginePcapRendererOptions {
  /** rtpengine's `--recording-dir` (RtpEngineProcess.recordingDir, tenant `media.recordingDir`). */
  recordingDir: string;
  logger?: Logger;
  /** MP3 bit rate, kbps (default 32: 8 kHz stereo, MPEG-2.5 Layer III). */
  bitrateKbps?: number;
  /** See TimelineOptions (default 500 ms). */
  jitterWindowMs?: number;
  /**
   * Packets more than this long before the job's `startedMs` or after its `endedMs` are left out
   * (another recording of the same call; default 2000 ms, for clocks of two machines). When that
   * would leave nothing, the whole capture is used with a warning.
   */
  windowSlackMs?: number;
}

export interface RenderedAudio {
  sampleRate: number;
  /** [A side (caller), B side (agent / callee)], equal lengths. */
  channels: [Int16Array, Int16Array];
  /** Epoch ms (capture clock) of the first sample. */
  startMs: number;
  durationMs: number;
  /** Some capture ended mid-record (the engine stopped before the call ended, or a cut file). */
  truncated: boolean;
  warnings: string[];
  /** The pcaps read (names without `.pcap`). */
  captures: string[];
  stats: { a: ChannelStats; b: ChannelStats; otherPackets: number };
}

export class RtpEnginePcapRenderer implements RecordingRenderer {
  readonly recordingDir: string;
  private readonly logger: Logger;
  private readonly options: RtpEnginePcapRendererOptions;

  constructor(options: RtpEnginePcapRendererOptions) {
    this.recordingDir = options.recordingDir;
    this.logger = options.logger ?? silentLogger;
    this.options = options;
  }

  async render(job: RecordingJob): Promise<{ mp3: Buffer; durationMs: number }> {
    const audio = await this.renderAudio(job);
    const mp3 = await encodeMp3(audio.channels[0], audio.channels[1], {
      sampleRate: audio.sampleRate,
      bitrateKbps: this.options.bitrateKbps ?? 32,
    });
    return { mp3, durationMs: audio.durationMs };
  }

  /** The job's two channels as 16-bit PCM (what `render` encodes). Rejects with a RecordingsError (RECORDING_* codes). */
  async renderAudio(job: RecordingJob): Promise<RenderedAudio> {
    const log = { recordingId: job.recordingId, callId: job.callId };
    const captures = await findCaptures(this.recordingDir, job.callId);
    if (captures.length === 0)
      throw recordingError(
        'RECORDING_CAPTURE_NOT_FOUND',
        `no capture of call ${job.callId} under ${join(this.recordingDir, 'pcaps')}`,
      );
    const warnings: string[] = [];
    const a: RtpArrival[] = [];
    const b: RtpArrival[] = [];
    let otherPackets = 0;
    let truncated = false;
    const used: string[] = [];
    const problems: RecordingsError[] = [];
    // The ports journaled with the recording split the capture on their own: a crash's capture
    // (no metadata written) renders too. Without them, the capture's metadata must name them.
    const journaled =
      job.aEnginePorts?.length && job.bEnginePorts?.length
        ? {
            a: job.aEnginePorts.map((port) => ({ address: '', port, rtcp: false })),
            b: job.bEnginePorts.map((port) => ({ address: '', port, rtcp: false })),
          }
        : undefined;
    for (const capture of captures) {
      // rtpengine writes its metadata when the call is deleted; until then (and for a while after
      // the call ended, while the delete is on its way) the capture may still grow. Only a capture
      // that stays without metadata — its engine died — is rendered from the journaled ports.
      const settled = Date.now() - job.endedMs > INCOMPLETE_GRACE_MS;
      if (!capture.metadataPath && (!journaled || !settled)) {
        problems.push(
          recordingError(
            'RECORDING_CAPTURE_INCOMPLETE',
            `capture ${capture.name} has no finished metadata file: the engine still records call ${job.callId}, or stopped before it was deleted`,
          ),
        );
        continue;
      }
      const streams = journaled
        ? undefined
        : parseStreamMetadata(await readFile(capture.metadataPath!, 'utf8'));
      const aStreams = journaled?.a ?? streams?.get(job.aLegId);
      const bStreams = journaled?.b ?? streams?.get(job.bLegId);
      if (!aStreams || !bStreams) {
        problems.push(
          recordingError(
            'RECORDING_STREAMS_UNKNOWN',
            streams
              ? `capture ${capture.name} names the streams of ${[...streams.keys()].join(', ') || 'no tag'}, not of both ${job.aLegId} (A) and ${job.bLegId} (B)`
              : `capture ${capture.name} has no stream map in its metadata (recording not started by RtpEngine.startRecording?)`,
          ),
        );
        continue;
      }
      let file: Buffer;
      try {
        file = await readFile(capture.pcapPath);
      } catch (err) {
        problems.push(recordingError('RECORDING_CAPTURE_UNREADABLE', `cannot read ${capture.pcapPath}`, err));
        continue;
      }
      const pcap = readPcap(file);
      if (pcap.linkType === undefined || (pcap.problem && pcap.packets.length === 0 && !pcap.truncated)) {
        problems.push(
          recordingError(
            'RECORDING_CAPTURE_UNREADABLE',
            `${capture.pcapPath}: ${pcap.problem ?? 'unreadable'}`,
          ),
        );
        continue;
      }
      if (pcap.truncated) {
        truncated = true;
        warnings.push(
          `capture ${capture.name} is cut short${pcap.problem ? ` (${pcap.problem})` : ''}: rendered what it holds`,
        );
      }
      used.push(capture.name);
      const sideOf = streamMatcher(aStreams, bStreams);
      for (const packet of pcap.packets) {
        const side = sideOf(packet);
        const rtp = side ? parseRtp(packet.payload, packet.timestampMs) : undefined;
        if (!rtp) {
          otherPackets++;
          continue;
        }
        (side === 'a' ? a : b).push(rtp);
      }
    }
    if (used.length === 0) throw problems[0]!;
    for (const problem of problems) warnings.push(problem.message);

    const [aInWindow, bInWindow] = this.clipToJob(job, a, b, warnings);
    const timeline = buildTimeline([aInWindow, bInWindow], { jitterWindowMs: this.options.jitterWindowMs });
    warnings.push(...timeline.warnings);
    const [stA, stB] = timeline.stats as [ChannelStats, ChannelStats];
    if (stA.packets === 0 && stB.packets === 0) {
      throw recordingError(
        'RECORDING_NO_MEDIA',
        `capture ${used.join(', ')} holds no PCMU/PCMA audio of ${job.aLegId} or ${job.bLegId}` +
          (timeline.warnings.length > 0 ? ` (${timeline.warnings.join('; ')})` : ''),
      );
    }
    if (stA.packets === 0) warnings.push(`no audio of the A side (${job.aLegId}): channel 0 is silent`);
    if (stB.packets === 0) warnings.push(`no audio of the B side (${job.bLegId}): channel 1 is silent`);
    const channels = timeline.channels as [Int16Array, Int16Array];
    const durationMs = Math.round(channels[0].length / SAMPLES_PER_MS);
    for (const warning of warnings)
      this.logger.warn({ ...log, warning }, 'recording rendered with a problem');
    this.logger.debug(
      { ...log, captures: used, durationMs, a: stA, b: stB, otherPackets, truncated },
      'recording rendered',
    );
    return {
      sampleRate: SAMPLE_RATE,
      channels,
      startMs: timeline.startMs,
      durationMs,
      truncated,
      warnings,
      captures: used,
      stats: { a: stA, b: stB, otherPackets },
    };
  }

  private clipToJob(
    job: RecordingJob,
    a: RtpArrival[],
    b: RtpArrival[],
    warnings: string[],
  ): [RtpArrival[], RtpArrival[]] {
    if (!(Number.isFinite(job.startedMs) && Number.isFinite(job.endedMs) && job.endedMs >= job.startedMs))
      return [a, b];
    const slack = this.options.windowSlackMs ?? 2000;
    const from = job.startedMs - slack;
    const to = job.endedMs + slack;
    const inside = (p: RtpArrival) => p.arrivalMs >= from && p.arrivalMs <= to;
    const aIn = a.filter(inside);
    const bIn = b.filter(inside);
    if (aIn.length + bIn.length === 0 && a.length + b.length > 0) {
      warnings.push(
        `no packet within the job's time (${new Date(job.startedMs).toISOString()} – ${new Date(job.endedMs).toISOString()}): the engine's clock differs? rendered the whole capture`,
      );
      return [a, b];
    }
    return [aIn, bIn];
  }
}

/** How long after a call's end a capture without metadata counts as still being written. */
export const INCOMPLETE_GRACE_MS = 10_000;

/** Which party a captured datagram came from: by the engine address and port it was sent to. */
function streamMatcher(
  aStreams: readonly RecordingStream[],
  bStreams: readonly RecordingStream[],
): (packet: PcapUdpPacket) => 'a' | 'b' | undefined {
  const wildcard = (address: string) => address === '' || address === '0.0.0.0' || address === '::';
  const exact = new Map<string, 'a' | 'b'>();
  const anyAddress = new Map<number, 'a' | 'b'>();
  for (const [side, streams] of [
    ['a', aStreams],
    ['b', bStreams],
  ] as const) {
    for (const s of streams) {
      if (wildcard(s.address)) anyAddress.set(s.port, side);
      else exact.set(`${s.address.toLowerCase()}|${s.port}`, side);
    }
  }
  return (packet) => exact.get(`${packet.dstAddr}|${packet.dstPort}`) ?? anyAddress.get(packet.dstPort);
}
