/**
 * The MediaEngine (./types.ts) over rtpengine's ng protocol (./ng-client.ts).
 *
 * Every offer and answer is rewritten for the party that receives it (`toward`):
 * - 'webrtc': `transport-protocol=UDP/TLS/RTP/SAVPF`, `ICE=force` (the engine is the only
 *   candidate), `rtcp-mux=[offer,require]`, `SDES=[off]` (DTLS-SRTP only, rtpengine's default for
 *   SAVPF), flag `generate-mid` (browsers want `a=mid`).
 * - 'rtp': `transport-protocol=RTP/AVP`, `ICE=remove`, `DTLS=off`, `rtcp-mux=[demux]`, flag
 *   `strip-extmap` (RTP header extensions mean nothing to a phone).
 * - Always `replace=[origin, session-connection]`: the engine's own address (its `--interface`)
 *   goes into `o=` and `c=`, its ports into `m=`.
 * - Offers (only offers: rtpengine ignores codec options in answers) carry
 *   `codec.transcode=[PCMU, PCMA]`: G.711 is always offered, added (and transcoded by the engine)
 *   when the offerer did not list it, so a browser offering Opus first and a G.711-only phone still
 *   agree on PCMU; codecs the engine cannot transcode are dropped from such an offer.
 * - `via-branch` = `branch` on offer and answer when given, so that the branches of a forked offer
 *   get their own ports and the answer picks its branch.
 */
import { type Logger, silentLogger } from '../logger.js';
import { type BencodeDict, type BencodeValue, bencodeText, isBencodeDict } from './bencode.js';
import { isMediaError } from './errors.js';
import { NgClient, type NgSdpRequest } from './ng-client.js';
import type {
  MediaAnswer,
  MediaEndpointKind,
  MediaEngine,
  MediaOffer,
  RecordingStreamPorts,
} from './types.js';

export interface RtpEngineOptions {
  /** rtpengine's ng address: `host:port`, `[v6]:port` or `udp:host:port` (tenant `media.rtpengine`). */
  address?: string;
  host?: string;
  port?: number;
  /** Overall time per ng command, retransmissions included (default 3000 ms). */
  timeoutMs?: number;
  /** Retransmission steps (default [500, 1000]). */
  retransmitMs?: readonly number[];
  /** Codecs always offered to each kind of party (default PCMU, PCMA for both). */
  transcode?: Partial<Record<MediaEndpointKind, string[]>>;
  logger?: Logger;
}

/** `127.0.0.1:22222`, `udp:127.0.0.1:22222`, `[::1]:22222` → host and port; undefined when malformed. */
export function parseNgAddress(address: string): { host: string; port: number } | undefined {
  const m = /^(?:udp:)?(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(address.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: (m[1] ?? m[2])!, port };
}

type SideFlags = Pick<NgSdpRequest, 'transportProtocol' | 'ice' | 'dtls' | 'sdes' | 'rtcpMux' | 'flags'>;

/** The ng options that make the SDP fit a party of this kind (exported for tests and docs). */
export function sideFlags(toward: MediaEndpointKind): SideFlags {
  return toward === 'webrtc'
    ? {
        transportProtocol: 'UDP/TLS/RTP/SAVPF',
        ice: 'force',
        rtcpMux: ['offer', 'require'],
        sdes: ['off'],
        flags: ['generate-mid'],
      }
    : {
        transportProtocol: 'RTP/AVP',
        ice: 'remove',
        dtls: 'off',
        rtcpMux: ['demux'],
        flags: ['strip-extmap'],
      };
}

const REPLACE = ['origin', 'session-connection'];
const G711 = ['PCMU', 'PCMA'];

export class RtpEngine implements MediaEngine {
  readonly client: NgClient;
  private readonly logger: Logger;
  private readonly transcode: Record<MediaEndpointKind, string[]>;

  constructor(options: RtpEngineOptions) {
    let host = options.host;
    let port = options.port;
    if (options.address !== undefined) {
      const parsed = parseNgAddress(options.address);
      if (!parsed) throw new TypeError(`not an rtpengine ng address (host:port): '${options.address}'`);
      ({ host, port } = parsed);
    }
    if (host === undefined || port === undefined)
      throw new TypeError('RtpEngine needs an address or host and port');
    this.logger = options.logger ?? silentLogger;
    this.client = new NgClient({
      host,
      port,
      timeoutMs: options.timeoutMs,
      retransmitMs: options.retransmitMs,
      logger: this.logger,
    });
    this.transcode = {
      webrtc: options.transcode?.webrtc ?? ['PCMU', 'PCMA'],
      rtp: options.transcode?.rtp ?? ['PCMU', 'PCMA'],
    };
  }

  get description(): string {
    return this.client.description;
  }

  async offer(offer: MediaOffer): Promise<Buffer> {
    const transcode = this.transcode[offer.toward];
    // Browsers are offered G.711 only (telephone-event kept): every leg then speaks G.711, which
    // recordings decode and phones and trunks understand without transcoding. rtpengine captures
    // what a party sends before it transcodes, so an Opus leg would record as Opus.
    const g711Only =
      offer.toward === 'webrtc' ? { strip: ['all'], except: [...G711, 'telephone-event'] } : {};
    const reply = await this.client.offer({
      callId: offer.callId,
      fromTag: offer.fromTag,
      toTag: offer.toTag,
      viaBranch: offer.branch,
      sdp: offer.sdp,
      replace: REPLACE,
      ...sideFlags(offer.toward),
      codec: transcode.length > 0 || offer.toward === 'webrtc' ? { ...g711Only, transcode } : undefined,
    });
    if (reply.warning)
      this.logger.info({ callId: offer.callId, warning: reply.warning }, 'rtpengine offer warning');
    return reply.sdp;
  }

  async answer(answer: MediaAnswer): Promise<Buffer> {
    const reply = await this.client.answer({
      callId: answer.callId,
      fromTag: answer.fromTag,
      toTag: answer.toTag,
      viaBranch: answer.branch,
      sdp: answer.sdp,
      replace: REPLACE,
      ...sideFlags(answer.toward),
    });
    if (reply.warning)
      this.logger.info({ callId: answer.callId, warning: reply.warning }, 'rtpengine answer warning');
    return reply.sdp;
  }

  /**
   * Deletes the whole call (all tags and branches). rtpengine answers an unknown call-id with
   * `ok` + warning (or `error` "Call-ID not found…" / "Unknown call-id" when `fatal`): both succeed.
   * Timeouts and an unreachable engine still reject.
   */
  async delete(callId: string): Promise<void> {
    try {
      await this.client.delete({ callId });
    } catch (err) {
      if (isMediaError(err) && err.code === 'MEDIA_ENGINE_ERROR' && isUnknownCall(err.reason)) return;
      throw err;
    }
  }

  /**
   * Starts recording the whole call (ng `start recording`; rtpengine 10.5 in pcap mode opens
   * `<recording-dir>/pcaps/<call-id>-<random>.pcap` and writes every packet each party sends to it,
   * as received, after SRTP decryption, until the call is deleted). First the call is queried, and
   * which engine ports each tag (CallLegId) sends to goes into the recording's metadata (see
   * `recordingMetadata`): rtpengine writes that string at the end of
   * `<recording-dir>/metadata/rtpengine-meta-<same name>.txt` when the call is deleted, and the
   * renderer (src/recordings/render.ts) tells the parties' streams apart by it. Calling it again
   * refreshes the metadata (the pcap goes on). Rejects with a MediaError (MEDIA_ENGINE_ERROR for an
   * unknown call).
   */
  async startRecording(callId: string): Promise<RecordingStreamPorts> {
    const reply = await this.client.query({ callId });
    const streams = recordingStreamsOf(reply);
    const metadata = recordingMetadata(streams);
    await this.client.command('start recording', { 'call-id': callId, metadata });
    this.logger.debug({ callId, metadata }, 'rtpengine recording started');
    const ports: RecordingStreamPorts = {};
    for (const [tag, list] of Object.entries(streams.tags))
      ports[tag] = list.filter((stream) => !stream.rtcp).map((stream) => stream.port);
    return ports;
  }

  async play(
    callId: string,
    toTag: string,
    file: string,
    options: { repeat?: number } = {},
  ): Promise<{ durationMs: number }> {
    const reply = await this.client.command('play media', {
      'call-id': callId,
      'from-tag': toTag,
      file,
      // The engine starts the file again itself (no gap, no command per pass).
      ...(options.repeat !== undefined ? { 'repeat-times': options.repeat } : {}),
    });
    const duration = reply.duration;
    return { durationMs: typeof duration === 'number' && duration > 0 ? duration : 0 };
  }

  async stopPlaying(callId: string, toTag: string): Promise<void> {
    try {
      await this.client.command('stop media', { 'call-id': callId, 'from-tag': toTag });
    } catch (err) {
      // Nothing playing (or the call already gone): the goal is reached.
      if (isMediaError(err) && err.code === 'MEDIA_ENGINE_ERROR') return;
      throw err;
    }
  }

  async blockMedia(callId: string, fromTag: string | undefined, blocked: boolean): Promise<void> {
    // Without a from-tag rtpengine blocks (unblocks) the entire call.
    await this.client.command(blocked ? 'block media' : 'unblock media', {
      'call-id': callId,
      ...(fromTag !== undefined ? { 'from-tag': fromTag } : {}),
    });
  }

  async listCalls(): Promise<string[]> {
    const reply = await this.client.command('list', { limit: 1_000_000 });
    const calls = reply.calls;
    return Array.isArray(calls) ? calls.map((c) => bencodeText(c) ?? '').filter((c) => c !== '') : [];
  }

  /** The engine's view of a call (ng `query`), e.g. for diagnostics; rejects for an unknown call. */
  async query(callId: string): Promise<Record<string, unknown>> {
    const reply = await this.client.query({ callId });
    return reply as Record<string, unknown>;
  }

  async ping(): Promise<boolean> {
    try {
      await this.client.ping();
      return true;
    } catch (err) {
      if (!isMediaError(err)) throw err;
      this.logger.debug({ err }, 'rtpengine ping failed');
      return false;
    }
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

function isUnknownCall(reason: string | undefined): boolean {
  return reason !== undefined && /unknown call|call-id not found|call not found/i.test(reason);
}

/** Prefix of the metadata that `startRecording` gives rtpengine (one line: prefix, then JSON). */
export const RECORDING_METADATA_PREFIX = 'switchboard-streams ';

/** Where a party's media enters the engine: the engine's own address and port it sends to. */
export interface RecordingStream {
  address: string;
  port: number;
  /** The engine's RTCP port of the party (false for RTP, also when RTCP is muxed onto it). */
  rtcp: boolean;
}

/** Each tag (CallLegId) with the engine ports that party sends to: the metadata of a recording. */
export interface RecordingStreamMap {
  v: 1;
  tags: Record<string, RecordingStream[]>;
}

/** The metadata line for a recording: `switchboard-streams {"v":1,"tags":{...}}`. */
export function recordingMetadata(map: RecordingStreamMap): string {
  return `${RECORDING_METADATA_PREFIX}${JSON.stringify(map)}`;
}

/** The engine ports of each tagged party's audio streams, from an ng `query` reply. */
export function recordingStreamsOf(reply: BencodeDict): RecordingStreamMap {
  const map: RecordingStreamMap = { v: 1, tags: {} };
  const tags = reply.tags;
  if (!isBencodeDict(tags)) return map;
  const list = (value: BencodeValue | undefined): BencodeValue[] => (Array.isArray(value) ? value : []);
  for (const monologue of Object.values(tags)) {
    if (!isBencodeDict(monologue)) continue;
    const tag = bencodeText(monologue.tag);
    if (!tag) continue; // an untagged monologue (an offer's unanswered side)
    const streams: RecordingStream[] = [];
    for (const media of list(monologue.medias)) {
      if (!isBencodeDict(media)) continue;
      const type = bencodeText(media.type);
      if (type !== undefined && type !== 'audio') continue;
      for (const stream of list(media.streams)) {
        if (!isBencodeDict(stream) || typeof stream['local port'] !== 'number') continue;
        const flags = list(stream.flags).map((f) => bencodeText(f));
        streams.push({
          address: bencodeText(stream['local address']) ?? '',
          port: stream['local port'],
          rtcp: flags.includes('RTCP') && !flags.includes('RTP'),
        });
      }
    }
    map.tags[tag] = streams;
  }
  return map;
}
