/**
 * An RTP endpoint for tests: binds a UDP socket, describes itself in SDP, sends a G.711 tone in
 * 20 ms packets to the address the remote SDP names, and decodes everything it receives so that a
 * test can tell which tone arrived — media verified by listening, not by trusting signalling.
 *
 * Only G.711 is spoken (PCMU, payload type 0; PCMA, payload type 8) at 8 kHz, plus
 * telephone-event (payload type 101) offered and counted when it arrives.
 */
import { randomInt } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import {
  type DetectionOptions,
  type DominantTone,
  decodeG711,
  dominantTone,
  encodeG711,
  type G711Law,
  ToneGenerator,
} from './audio.js';

export const RTP_SAMPLE_RATE = 8000;
/** Samples per 20 ms packet at 8 kHz. */
export const SAMPLES_PER_PACKET = 160;
export const PACKET_INTERVAL_MS = 20;

export type G711Codec = 'PCMU' | 'PCMA';

/** The static payload types of RFC 3551 for G.711, and the dynamic one offered for DTMF. */
export const PAYLOAD_TYPE = { PCMU: 0, PCMA: 8, TELEPHONE_EVENT: 101 } as const;

const LAW_OF: Record<G711Codec, G711Law> = { PCMU: 'mulaw', PCMA: 'alaw' };

/** Where to send, and in which codec. */
export interface RemoteMedia {
  address: string;
  port: number;
  payloadType: number;
  codec: G711Codec;
  /** The remote's a=sendrecv/sendonly/recvonly/inactive (sendrecv when absent). */
  direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
  /** The payload type the remote uses for telephone-event, when it offered one. */
  telephoneEventPayloadType?: number;
}

/** The fixed part of an RTP header (RFC 3550 §5.1) and where the payload lies. */
export interface RtpHeader {
  version: number;
  padding: boolean;
  extension: boolean;
  csrcCount: number;
  marker: boolean;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  csrcs: number[];
  /** Offset of the payload in the packet, after CSRCs and any header extension. */
  payloadOffset: number;
  /** Payload length, without padding. */
  payloadLength: number;
}

/** Parse an RTP packet's header, or return null when the datagram is not a well-formed RTP packet. */
export function parseRtpHeader(packet: Uint8Array): RtpHeader | null {
  if (packet.length < 12) return null;
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const first = packet[0]!;
  const version = first >> 6;
  if (version !== 2) return null;
  const padding = (first & 0x20) !== 0;
  const extension = (first & 0x10) !== 0;
  const csrcCount = first & 0x0f;
  const second = packet[1]!;
  let offset = 12 + 4 * csrcCount;
  if (offset > packet.length) return null;
  const csrcs: number[] = [];
  for (let i = 0; i < csrcCount; i++) csrcs.push(view.getUint32(12 + 4 * i));
  if (extension) {
    if (offset + 4 > packet.length) return null;
    const words = view.getUint16(offset + 2); // length in 32-bit words, after the 4-byte extension header
    offset += 4 + 4 * words;
    if (offset > packet.length) return null;
  }
  let end = packet.length;
  if (padding) {
    const padLength = packet[packet.length - 1]!;
    if (padLength === 0 || end - padLength < offset) return null;
    end -= padLength;
  }
  return {
    version,
    padding,
    extension,
    csrcCount,
    marker: (second & 0x80) !== 0,
    payloadType: second & 0x7f,
    sequenceNumber: view.getUint16(2),
    timestamp: view.getUint32(4),
    ssrc: view.getUint32(8),
    csrcs,
    payloadOffset: offset,
    payloadLength: end - offset,
  };
}

/** An RTP packet with no CSRCs, extension or padding. */
export function buildRtpPacket(fields: {
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  marker?: boolean;
  payload: Uint8Array;
}): Buffer {
  const packet = Buffer.alloc(12 + fields.payload.length);
  packet[0] = 0x80; // version 2
  packet[1] = (fields.marker ? 0x80 : 0) | (fields.payloadType & 0x7f);
  packet.writeUInt16BE(fields.sequenceNumber & 0xffff, 2);
  packet.writeUInt32BE(fields.timestamp >>> 0, 4);
  packet.writeUInt32BE(fields.ssrc >>> 0, 8);
  packet.set(fields.payload, 12);
  return packet;
}

/**
 * The audio stream of an SDP body: the connection address (media-level c= before session-level),
 * the m=audio port, and the first of its payload types that is PCMU or PCMA (by rtpmap, or the
 * static numbers 0 and 8 when there is none). Throws when there is no usable audio stream.
 */
export function parseRemoteSdp(sdp: string | Uint8Array): RemoteMedia {
  const text = typeof sdp === 'string' ? sdp : Buffer.from(sdp).toString('utf8');
  const lines = text.split(/\r?\n/).map((line) => line.trim());
  let sessionAddress: string | undefined;
  let sessionDirection: RemoteMedia['direction'] | undefined;
  let audio:
    | {
        port: number;
        formats: number[];
        address?: string;
        direction?: RemoteMedia['direction'];
        rtpmap: Map<number, string>;
      }
    | undefined;
  let inOtherMedia = false;
  for (const line of lines) {
    if (line.startsWith('m=')) {
      if (audio) break; // only the first audio stream
      const [media, port, , ...formats] = line.slice(2).split(/\s+/);
      if (media === 'audio') {
        audio = { port: Number(port), formats: formats.map(Number), rtpmap: new Map() };
        inOtherMedia = false;
      } else {
        inOtherMedia = true;
      }
      continue;
    }
    if (inOtherMedia) continue;
    const target = audio;
    if (line.startsWith('c=')) {
      const [network, addressType, address] = line.slice(2).split(/\s+/);
      if (network !== 'IN' || (addressType !== 'IP4' && addressType !== 'IP6') || !address)
        throw new Error(`unsupported connection line: ${line}`);
      const host = address.split('/')[0]!; // drop a multicast TTL
      if (target) target.address = host;
      else sessionAddress = host;
    } else if (/^a=(sendrecv|sendonly|recvonly|inactive)$/.test(line)) {
      const direction = line.slice(2) as RemoteMedia['direction'];
      if (target) target.direction = direction;
      else sessionDirection = direction;
    } else if (line.startsWith('a=rtpmap:') && target) {
      const match = /^a=rtpmap:(\d+)\s+([^/\s]+)/.exec(line);
      if (match) target.rtpmap.set(Number(match[1]), match[2]!.toUpperCase());
    }
  }
  if (!audio) throw new Error('the SDP has no m=audio line');
  if (!Number.isInteger(audio.port) || audio.port <= 0 || audio.port > 65535)
    throw new Error(`the SDP's audio stream is rejected or invalid (port ${audio.port})`);
  const address = audio.address ?? sessionAddress;
  if (!address) throw new Error('the SDP has no connection address for its audio stream');
  const codecOf = (payloadType: number): G711Codec | undefined => {
    const name = audio.rtpmap.get(payloadType);
    if (name === 'PCMU' || name === 'PCMA') return name;
    if (name === undefined && payloadType === PAYLOAD_TYPE.PCMU) return 'PCMU';
    if (name === undefined && payloadType === PAYLOAD_TYPE.PCMA) return 'PCMA';
    return undefined;
  };
  const payloadType = audio.formats.find((format) => codecOf(format) !== undefined);
  if (payloadType === undefined)
    throw new Error(`the SDP offers neither PCMU nor PCMA (payload types ${audio.formats.join(' ')})`);
  const telephoneEvent = [...audio.rtpmap].find(([, name]) => name === 'TELEPHONE-EVENT');
  return {
    address,
    port: audio.port,
    payloadType,
    codec: codecOf(payloadType)!,
    direction: audio.direction ?? sessionDirection ?? 'sendrecv',
    telephoneEventPayloadType: telephoneEvent?.[0],
  };
}

/** What arrived, from whom. */
export interface ReceivedStats {
  /** RTP packets received (well-formed, any payload type). */
  packets: number;
  /** Audio packets decoded into the sample buffer (PCMU or PCMA). */
  audioPackets: number;
  /** telephone-event packets (RFC 4733). */
  telephoneEventPackets: number;
  /** Datagrams that were not RTP (RTCP, STUN, garbage). */
  otherDatagrams: number;
  /** Date.now() of the first and last RTP packet. */
  firstArrivalMs?: number;
  lastArrivalMs?: number;
  /** Every source address seen, as address:port, in order of first appearance. */
  sources: string[];
  /** Every SSRC seen. */
  ssrcs: number[];
  /** Every payload type seen. */
  payloadTypes: number[];
  /** Whether a packet with the marker bit arrived. */
  markerSeen: boolean;
  /** Packets missing by sequence number (forward gaps within one SSRC). */
  sequenceGaps: number;
}

export interface RtpPeerOptions {
  /** Address to bind and to put in the SDP. Default 127.0.0.1. */
  host?: string;
  /** Port to bind; default 0 (ephemeral). */
  port?: number;
  /** SSRC of the stream sent; random by default. */
  ssrc?: number;
}

export interface StartToneOptions {
  /** Peak amplitude as a fraction of full scale. Default 0.5. */
  amplitude?: number;
}

export interface ReceivedToneOptions extends DetectionOptions {
  /** Analyse this many ms of the most recently received audio. Default 400. */
  windowMs?: number;
  /**
   * Only audio received after this point of the sample buffer (a `receivedSampleCount` taken
   * earlier), e.g. to judge what was heard after a hold or a transfer.
   */
  fromSample?: number;
}

export interface ReceivedTone extends DominantTone {
  /** ms since the last audio packet arrived (Infinity when none did). */
  sinceLastPacketMs: number;
}

/** Packets a late timer sends at once to catch up (200 ms); a longer stall's audio is skipped. */
const MAX_BURST = 10;

/** Received audio is kept up to this many seconds (older samples are dropped). */
const MAX_BUFFER_SECONDS = 120;

export class RtpPeer {
  readonly host: string;
  readonly port: number;
  readonly ssrc: number;
  /** The remote's stream, once `setRemote` was called. */
  remote?: RemoteMedia;

  private readonly socket: Socket;
  private readonly sdpSessionId = randomInt(1, 2 ** 31);
  private sdpVersion = 0;
  private sequenceNumber = randomInt(0, 0x10000);
  private timestamp = randomInt(0, 2 ** 32);
  private sending?: {
    generator: ToneGenerator;
    startedAt: number;
    packetsSent: number;
    timer?: NodeJS.Timeout;
  };
  /** performance.now() when the last tone stopped, to advance the timestamp over the pause. */
  private stoppedAt?: number;
  private closed = false;
  /** Decoded audio: chunks in arrival order, with the total length. */
  private readonly chunks: Int16Array[] = [];
  private bufferedSamples = 0;
  private droppedSamples = 0;
  private readonly lastSequence = new Map<number, number>();
  private readonly stats: ReceivedStats = {
    packets: 0,
    audioPackets: 0,
    telephoneEventPackets: 0,
    otherDatagrams: 0,
    sources: [],
    ssrcs: [],
    payloadTypes: [],
    markerSeen: false,
    sequenceGaps: 0,
  };
  /** Packets sent so far. */
  packetsSent = 0;

  private constructor(socket: Socket, host: string, port: number, ssrc: number) {
    this.socket = socket;
    this.host = host;
    this.port = port;
    this.ssrc = ssrc;
    socket.on('message', (message, from) => this.onDatagram(message, from));
  }

  /** Bind a UDP socket (ephemeral port unless one is given). */
  static async open(options: RtpPeerOptions = {}): Promise<RtpPeer> {
    const host = options.host ?? '127.0.0.1';
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(options.port ?? 0, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    // A send error (e.g. ICMP port unreachable surfacing on Linux) must not crash the test process.
    socket.on('error', () => {});
    return new RtpPeer(socket, host, socket.address().port, options.ssrc ?? randomInt(1, 2 ** 32 - 1));
  }

  /**
   * An SDP body describing this peer: an offer of PCMU, PCMA and telephone-event, or — after
   * `setRemote` — an answer with the remote's offered formats that this peer supports, in the
   * remote's order. `payloadTypes` overrides the formats (e.g. [8, 101] to offer PCMA only).
   */
  sdp(
    user = '-',
    options: { payloadTypes?: readonly number[]; direction?: RemoteMedia['direction'] } = {},
  ): string {
    const formats =
      options.payloadTypes ??
      (this.remote
        ? [
            this.remote.payloadType,
            ...(this.remote.telephoneEventPayloadType !== undefined
              ? [this.remote.telephoneEventPayloadType]
              : []),
          ]
        : [PAYLOAD_TYPE.PCMU, PAYLOAD_TYPE.PCMA, PAYLOAD_TYPE.TELEPHONE_EVENT]);
    const addressType = this.host.includes(':') ? 'IP6' : 'IP4';
    const rtpmap = (format: number): string[] => {
      if (this.remote && format === this.remote.payloadType)
        return [`a=rtpmap:${format} ${this.remote.codec}/8000`];
      if (format === PAYLOAD_TYPE.PCMU) return ['a=rtpmap:0 PCMU/8000'];
      if (format === PAYLOAD_TYPE.PCMA) return ['a=rtpmap:8 PCMA/8000'];
      if (format === (this.remote?.telephoneEventPayloadType ?? PAYLOAD_TYPE.TELEPHONE_EVENT))
        return [`a=rtpmap:${format} telephone-event/8000`, `a=fmtp:${format} 0-16`];
      return [];
    };
    this.sdpVersion++;
    return [
      'v=0',
      `o=${user} ${this.sdpSessionId} ${this.sdpVersion} IN ${addressType} ${this.host}`,
      's=-',
      `c=IN ${addressType} ${this.host}`,
      't=0 0',
      `m=audio ${this.port} RTP/AVP ${formats.join(' ')}`,
      ...formats.flatMap(rtpmap),
      'a=ptime:20',
      `a=${options.direction ?? 'sendrecv'}`,
      '',
    ].join('\r\n');
  }

  /** Take the remote's address, port and codec from its SDP (offer or answer). */
  setRemote(sdp: string | Uint8Array): RemoteMedia {
    this.remote = parseRemoteSdp(sdp);
    return this.remote;
  }

  /** Send to an address directly, without SDP. */
  setRemoteAddress(address: string, port: number, codec: G711Codec = 'PCMU'): RemoteMedia {
    this.remote = { address, port, codec, payloadType: PAYLOAD_TYPE[codec], direction: 'sendrecv' };
    return this.remote;
  }

  /**
   * Send a continuous tone to the remote, one 20 ms packet at a time. Pacing follows the clock:
   * each packet is due at start + n·20 ms, and late timers send the packets they owe (up to a
   * few) at once, so the stream neither drifts nor bursts after a long stall. Replaces a tone
   * already playing (the RTP stream continues: same SSRC, sequence and timestamp run on).
   */
  startTone(frequencyHz: number, options: StartToneOptions = {}): void {
    if (this.closed) throw new Error('RtpPeer is closed');
    if (!this.remote) throw new Error('startTone before setRemote: no address to send to');
    this.stop();
    if (this.stoppedAt !== undefined) {
      // The timestamp counts sampling instants (RFC 3550 §5.1): it runs on through the pause.
      const pausedSamples = Math.round(((performance.now() - this.stoppedAt) * RTP_SAMPLE_RATE) / 1000);
      this.timestamp = (this.timestamp + pausedSamples) >>> 0;
    }
    this.sending = {
      generator: new ToneGenerator({
        frequency: frequencyHz,
        sampleRate: RTP_SAMPLE_RATE,
        amplitude: options.amplitude,
      }),
      startedAt: performance.now(),
      packetsSent: 0,
    };
    this.tick();
  }

  /** Stop sending (receiving goes on). */
  stop(): void {
    if (!this.sending) return;
    clearTimeout(this.sending.timer);
    this.sending = undefined;
    this.stoppedAt = performance.now();
  }

  /** Whether a tone is being sent. */
  get sendingTone(): boolean {
    return this.sending !== undefined;
  }

  private tick(): void {
    const sending = this.sending;
    if (!sending || this.closed) return;
    const elapsed = performance.now() - sending.startedAt;
    const due = Math.floor(elapsed / PACKET_INTERVAL_MS) + 1;
    // After a stall of more than MAX_BURST packets, skip the older backlog instead of bursting it.
    if (due - sending.packetsSent > MAX_BURST) {
      const skipped = due - MAX_BURST - sending.packetsSent;
      sending.generator.next(skipped * SAMPLES_PER_PACKET);
      this.timestamp = (this.timestamp + skipped * SAMPLES_PER_PACKET) >>> 0;
      sending.packetsSent += skipped;
    }
    while (sending.packetsSent < due) {
      // The marker bit flags the first packet of each talkspurt (RFC 3551 §4.1).
      this.sendPacket(sending.generator.next(SAMPLES_PER_PACKET), sending.packetsSent === 0);
      sending.packetsSent++;
    }
    const nextDueAt = sending.startedAt + sending.packetsSent * PACKET_INTERVAL_MS;
    sending.timer = setTimeout(() => this.tick(), Math.max(0, nextDueAt - performance.now()));
  }

  private sendPacket(samples: Int16Array, marker: boolean): void {
    const remote = this.remote!;
    const packet = buildRtpPacket({
      payloadType: remote.payloadType,
      sequenceNumber: this.sequenceNumber,
      timestamp: this.timestamp,
      ssrc: this.ssrc,
      marker,
      payload: encodeG711(samples, LAW_OF[remote.codec]),
    });
    this.sequenceNumber = (this.sequenceNumber + 1) & 0xffff;
    this.timestamp = (this.timestamp + samples.length) >>> 0;
    this.packetsSent++;
    this.socket.send(packet, remote.port, remote.address);
  }

  private onDatagram(message: Buffer, from: RemoteInfo): void {
    const header = parseRtpHeader(message);
    // RTCP shares version 2 but its packet types 200–204 read as marker + payload type 72–76.
    if (!header || (header.payloadType >= 72 && header.payloadType <= 76)) {
      this.stats.otherDatagrams++;
      return;
    }
    const now = Date.now();
    const stats = this.stats;
    stats.packets++;
    stats.firstArrivalMs ??= now;
    stats.lastArrivalMs = now;
    const source = `${from.address}:${from.port}`;
    if (!stats.sources.includes(source)) stats.sources.push(source);
    if (!stats.ssrcs.includes(header.ssrc)) stats.ssrcs.push(header.ssrc);
    if (!stats.payloadTypes.includes(header.payloadType)) stats.payloadTypes.push(header.payloadType);
    if (header.marker) stats.markerSeen = true;
    const previous = this.lastSequence.get(header.ssrc);
    if (previous !== undefined) {
      const step = (header.sequenceNumber - previous) & 0xffff;
      if (step > 1 && step < 0x8000) stats.sequenceGaps += step - 1;
    }
    if (previous === undefined || ((header.sequenceNumber - previous) & 0xffff) < 0x8000)
      this.lastSequence.set(header.ssrc, header.sequenceNumber);

    const law = this.lawOf(header.payloadType);
    if (law) {
      stats.audioPackets++;
      const payload = message.subarray(header.payloadOffset, header.payloadOffset + header.payloadLength);
      this.append(decodeG711(payload, law));
    } else if (
      header.payloadType === (this.remote?.telephoneEventPayloadType ?? PAYLOAD_TYPE.TELEPHONE_EVENT)
    ) {
      stats.telephoneEventPackets++;
    }
  }

  /** The G.711 law of a received payload type: the static numbers, or the remote's dynamic choice. */
  private lawOf(payloadType: number): G711Law | undefined {
    if (payloadType === PAYLOAD_TYPE.PCMU) return 'mulaw';
    if (payloadType === PAYLOAD_TYPE.PCMA) return 'alaw';
    if (this.remote && payloadType === this.remote.payloadType) return LAW_OF[this.remote.codec];
    return undefined;
  }

  private append(samples: Int16Array): void {
    this.chunks.push(samples);
    this.bufferedSamples += samples.length;
    const limit = MAX_BUFFER_SECONDS * RTP_SAMPLE_RATE;
    while (this.bufferedSamples - this.chunks[0]!.length >= limit) {
      const dropped = this.chunks.shift()!;
      this.bufferedSamples -= dropped.length;
      this.droppedSamples += dropped.length;
    }
  }

  /** What arrived so far (a copy). */
  get received(): ReceivedStats {
    return {
      ...this.stats,
      sources: [...this.stats.sources],
      ssrcs: [...this.stats.ssrcs],
      payloadTypes: [...this.stats.payloadTypes],
    };
  }

  /** Samples of audio received so far: a mark for `receivedTone({ fromSample })`. */
  get receivedSampleCount(): number {
    return this.droppedSamples + this.bufferedSamples;
  }

  /**
   * Received audio (8 kHz, 16-bit, packets in arrival order), from sample `fromSample` (a
   * `receivedSampleCount` mark) or the start of the buffer, limited to the last `lastMs`.
   */
  receivedSamples(options: { lastMs?: number; fromSample?: number } = {}): Int16Array {
    const end = this.receivedSampleCount;
    let start = Math.max(this.droppedSamples, options.fromSample ?? 0);
    if (options.lastMs !== undefined)
      start = Math.max(start, end - Math.round((options.lastMs * RTP_SAMPLE_RATE) / 1000));
    const out = new Int16Array(Math.max(0, end - start));
    let chunkStart = this.droppedSamples;
    let written = 0;
    for (const chunk of this.chunks) {
      const chunkEnd = chunkStart + chunk.length;
      if (chunkEnd > start) {
        const from = Math.max(0, start - chunkStart);
        out.set(chunk.subarray(from), written);
        written += chunk.length - from;
      }
      chunkStart = chunkEnd;
    }
    return out;
  }

  /**
   * Which of `frequencies` is in the last `windowMs` (default 400) of received audio; silence
   * or no audio names none.
   */
  receivedTone(frequencies: readonly number[], options: ReceivedToneOptions = {}): ReceivedTone {
    const samples = this.receivedSamples({ lastMs: options.windowMs ?? 400, fromSample: options.fromSample });
    const lastArrival = this.stats.lastArrivalMs;
    return {
      ...dominantTone(samples, RTP_SAMPLE_RATE, frequencies, options),
      sinceLastPacketMs: lastArrival === undefined ? Number.POSITIVE_INFINITY : Date.now() - lastArrival,
    };
  }

  /**
   * Resolve once `frequency` is the dominant tone of the last `windowMs` of received audio (and
   * that much audio has arrived since `fromSample`); reject with the last analysis after
   * `timeoutMs`.
   */
  async waitForTone(
    frequency: number,
    candidates: readonly number[],
    options: ReceivedToneOptions & { timeoutMs?: number } = {},
  ): Promise<ReceivedTone> {
    const windowMs = options.windowMs ?? 400;
    const deadline = Date.now() + (options.timeoutMs ?? 5000);
    const needed = Math.round((windowMs * RTP_SAMPLE_RATE) / 1000);
    const all = candidates.includes(frequency) ? candidates : [...candidates, frequency];
    for (;;) {
      const result = this.receivedTone(all, options);
      if (result.sampleCount >= needed && result.frequency === frequency) return result;
      if (Date.now() > deadline)
        throw new Error(
          `no ${frequency} Hz tone received within ${options.timeoutMs ?? 5000} ms: ${describeReceivedTone(result)}, ${this.stats.packets} packets from ${this.stats.sources.join(', ') || 'nobody'}`,
        );
      await new Promise((resolve) => setTimeout(resolve, PACKET_INTERVAL_MS));
    }
  }

  /** Stop sending and close the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.stop();
    this.closed = true;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}

/** One line on an analysis, for assertion messages. */
export function describeReceivedTone(result: DominantTone): string {
  const candidates = result.candidates
    .map((candidate) => `${candidate.frequency} Hz ${(candidate.relativePower * 100).toFixed(1)}%`)
    .join(', ');
  return `dominant ${result.frequency ?? 'none'} (${result.sampleCount} samples at ${result.signalDbfs.toFixed(1)} dBFS; ${candidates})`;
}
