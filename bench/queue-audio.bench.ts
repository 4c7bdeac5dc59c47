/**
 * Queue audio under load (issue 14: "queue calls per second and concurrent waiting callers hearing
 * music on this machine, with zero failed calls and packet loss < 0.1 %"), all on loopback:
 *
 * - queue-waiting: N callers reach a queue that has no agent. Each is answered by the queue (200
 *   with the engine's SDP), hears the greeting once, then the music on hold in a loop (rtpengine
 *   `play media`; the music file, 4 s, is shorter than the window, so the loop restarts within it).
 *   Once every greeting is over, what arrives at each caller during a fixed window (10 s) is
 *   counted and listened to: packets lost (sequence gaps: sent by the engine, never received),
 *   packets received against those due at 50 a second, jitter and the longest pause between two
 *   packets, and in every whole second of the window the music's tone must be the dominant
 *   frequency of the caller's audio. Also measured: answer latency (INVITE → 200), the CPU of the
 *   engine (/proc) and of this process, and after the hang-ups the engine's call count back to 0.
 *   N is stepped up (25, 50, 100, …) until a step has a failed call (no 200, no audio, not music
 *   in every second, fell behind by more than a burst of packets, BYE not answered 200), loses
 *   ≥ 0.1 % of the packets, or leaves calls behind; the highest passing step is the figure.
 * - queue-rate: callers arrive at R calls/s for a fixed time (10 s) into a queue of registered
 *   agents (UDP test UAs) who answer after ringing 700 ms. Each call: answered by the queue, the
 *   greeting heard (its tone must be what the caller hears first), an agent answers, the caller is
 *   re-INVITEd to the agent's media, then the caller must hear the agent's tone and the agent the
 *   caller's, then the caller hangs up. R is stepped up (10, 20, 40, …) until a step has a failed
 *   call or leaves calls behind; the highest passing R is the figure.
 *
 * The platform runs in this process (startPlatform with `mediaDefault: 'auto'`: its own rtpengine
 * child, given RTP ports 10000–19999 so that no step is capped by the default 1,000-port window).
 * The callers come from a carrier at the trunk's address (one SIP socket for every call, as a
 * carrier has; one RTP socket per call, which answers the bridging re-INVITE with its own SDP).
 * So the CPU figure of "this process" is Switchboard and the load generator together (RTP sending,
 * receiving and decoding every party's audio): read it as an upper bound for Switchboard; the
 * event loop delay is logged too. The engine's figure is its own. Whatever the platform logs at
 * warn or above is counted and shown after each phase.
 *
 * rtpengine (10.5) plays a file in bursts, a 256 ms block of an 8 kHz WAV at a time (≈13 packets
 * 10 ms apart, then a pause of ≈100 ms), so a caller's longest pause between packets is ≈150 ms
 * with no packet lost; the figures show it (jitter, longest pause), and the received/due count
 * allows a burst's worth of packets at the window's edges.
 *
 * `npx tsx bench/queue-audio.bench.ts [--quick] [--only queue-waiting,queue-rate] [--steps 25,50]
 * [--rates 10,20]` prints a table (`--steps`: waiting callers; `--rates`: calls/s, else `--steps`).
 */
import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { parseTenantYaml } from '../src/config/load.js';
import { findRtpEngineBinary } from '../src/media/rtpengine-process.js';
import { type Platform, startPlatform } from '../src/platform.js';
import { Dialog } from '../src/sip/dialog.js';
import { getTag } from '../src/sip/headers.js';
import type { SipRequest, SipResponse } from '../src/sip/message.js';
import type { ServerTransaction } from '../src/sip/transaction/index.js';
import { decodeG711, dominantTone, encodeG711, sineTone } from '../src/testing/audio.js';
import {
  buildRtpPacket,
  parseRemoteSdp,
  parseRtpHeader,
  type RemoteMedia,
  RTP_SAMPLE_RATE,
} from '../src/testing/rtp-peer.js';
import { type IncomingCall, type OutgoingCall, TestUa, withTimeout } from '../src/testing/test-ua.js';
import { writeToneWav } from '../src/testing/tone-wav.js';
import { freeTcpPort } from '../test/support/platform.js';
import { freeUdpPort } from '../test/support/sipp.js';
import { parseRates } from './calls.bench.js';
import { parseSteps, processCpuSeconds } from './media.bench.js';
import type { BenchResult } from './records.bench.js';

const DOMAIN = 'switchboard.local';
const PASSWORD = 'bench';
/** The queue nobody answers (queue-waiting) and the agents' queue (queue-rate). */
const WAITING_QUEUE = '100';
const AGENT_QUEUE = '200';
/** The tones of the audio files and of the parties, told apart by frequency. */
const HZ = { greeting: 700, music: 450, caller: 1000, agent: 500 } as const;
const TONES: readonly number[] = Object.values(HZ);
const GREETING_MS = 500;
/** Shorter than the waiting window: the loop restarts within it (what a caller hears then counts). */
const MUSIC_MS = 4000;
const PACKET_MS = 20;
const PACKETS_PER_SECOND = 1000 / PACKET_MS;
/** A step passes when fewer than this share of the packets due did not arrive. */
const MAX_LOSS = 0.001;
/** RTP ports of the platform's engine: 10,000 (≥ 1,250 calls at 8 ports a bridged call). */
const RTP_PORTS = { min: 10_000, max: 19_999 };
/** The agents ring this long before answering: the caller hears the whole greeting, then music. */
const RING_MS = GREETING_MS + 200;
/**
 * A queue-rate step is a sustained rate only if its calls did not queue up: 99 % of them reached an
 * agent (the re-INVITE) within the ring and this much more after the queue answered.
 */
const MAX_EXTRA_WAIT_MS = 1000;
/** A queue-rate step counts only if this process placed its calls at ≥ 95 % of the rate asked. */
const MIN_OFFERED_SHARE = 0.95;

export const QUEUE_AUDIO_PHASES = ['queue-waiting', 'queue-rate'] as const;
export type QueueAudioPhase = (typeof QUEUE_AUDIO_PHASES)[number];

export function isQueueAudioPhase(name: string): name is QueueAudioPhase {
  return (QUEUE_AUDIO_PHASES as readonly string[]).includes(name);
}

export interface BenchQueueAudioOptions {
  /** Concurrent waiting callers tried in order until a step fails (queue-waiting). */
  waitingSteps?: number[];
  /** Seconds of music measured per waiting step. */
  windowSeconds?: number;
  /** Arrival rates (calls/s) tried in order until one fails (queue-rate). */
  rates?: number[];
  /** Seconds callers arrive at each rate. */
  rateSeconds?: number;
  /** Agents registered for queue-rate (default 2 × the highest rate, 10 to 200). */
  agents?: number;
  /** A phase stops starting steps after this many seconds. */
  budgetSeconds?: number;
  phases?: ReadonlySet<QueueAudioPhase>;
  log?: (line: string) => void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const percent = (share: number) => Math.round(share * 100_000) / 1000;
const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

// ---- the platform --------------------------------------------------------------------------------

interface Bench {
  platform: Platform;
  carrier: Carrier;
  agents: Agent[];
  /** The agent who answered each call, by X-Server-Call-Id. */
  answeredBy: Map<string, Agent>;
  /** Warnings and errors the platform logged (pino JSON lines). */
  logFile: string;
  close(): Promise<void>;
}

function tenantYaml(trunkPort: number, agents: number, files: { greeting: string; music: string }): string {
  const agentNames = Array.from({ length: agents }, (_, i) => `agent${i + 1}@bench.local`);
  const audio = `    greeting: ${files.greeting}\n    musicOnHold: ${files.music}\n`;
  return `domain: ${DOMAIN}
postProcessing: { delaySeconds: 0 }
users:
  - { username: admin@bench.local, extension: "1000", password: ${PASSWORD}, role: admin }
${agentNames.map((name, i) => `  - { username: ${name}, extension: "${2001 + i}", password: ${PASSWORD} }`).join('\n')}
trunks:
  - { name: carrier, host: 127.0.0.1, port: ${trunkPort} }
queues:
  - name: Waiting
    extension: "${WAITING_QUEUE}"
    members: []
    maxWaitSeconds: 3600
${audio}  - name: Agents
    extension: "${AGENT_QUEUE}"
    members: [${agentNames.join(', ')}]
    strategy: longest-idle
    maxWaitSeconds: 120
${audio}`;
}

async function startBench(dir: string, agentCount: number): Promise<Bench> {
  const greeting = await writeToneWav({
    frequency: HZ.greeting,
    durationMs: GREETING_MS,
    sampleRate: 8000,
    dir,
  });
  const music = await writeToneWav({ frequency: HZ.music, durationMs: MUSIC_MS, sampleRate: 8000, dir });
  const trunkPort = await freeUdpPort();
  const logFile = join(dir, 'platform.log');
  const platform = await startPlatform({
    tenant: parseTenantYaml(tenantYaml(trunkPort, agentCount, { greeting, music }), 'queue-audio-bench.yaml'),
    dataDir: join(dir, 'data'),
    host: '127.0.0.1',
    httpPort: await freeTcpPort(),
    sipPort: 0,
    mediaDefault: 'auto',
    mediaPorts: RTP_PORTS,
    logger: pino({ level: 'warn', base: undefined }, pino.destination({ dest: logFile, sync: true })),
  });
  const opened: { close(): Promise<void> }[] = [];
  try {
    if (!platform.media || !platform.mediaProcess)
      throw new Error(`the platform did not start its own rtpengine: ${readFileSync(logFile, 'utf8')}`);
    const carrier = await Carrier.open(platform.sipPort, trunkPort);
    opened.push(carrier.ua);
    const answeredBy = new Map<string, Agent>();
    const agents: Agent[] = [];
    for (let i = 0; i < agentCount; i++) {
      const agent = await openAgent(platform.sipPort, String(2001 + i), answeredBy);
      opened.push(agent.ua, agent.media);
      agents.push(agent);
    }
    return {
      platform,
      carrier,
      agents,
      answeredBy,
      logFile,
      async close() {
        for (const item of opened.reverse()) await item.close();
        await platform.close();
      },
    };
  } catch (err) {
    for (const item of opened.reverse()) await item.close();
    await platform.close();
    throw err;
  }
}

/** Warnings and errors the platform logged, by message, most frequent first. */
function platformComplaints(logFile: string): string[] {
  let text = '';
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return [];
  }
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line) continue;
    let message = line.slice(0, 200);
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
      message = `${entry.level === 40 ? 'warn' : 'error'}: ${entry.msg ?? '?'}${entry.err?.message ? ` (${entry.err.message})` : ''}`;
    } catch {
      // not JSON: the line as is
    }
    counts.set(message, (counts.get(message) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).map(([message, count]) => `${count}× ${message}`);
}

/** Wait until neither call control nor the engine holds a call; resolves with what is left. */
async function drain(bench: Bench, timeoutMs = 15_000): Promise<{ calls: number; engineCalls: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const calls = bench.platform.callControl.activeCalls.length;
    const engineCalls = (await bench.platform.media!.listCalls()).length;
    if ((calls === 0 && engineCalls === 0) || Date.now() > deadline) return { calls, engineCalls };
    await sleep(200);
  }
}

// ---- the parties ---------------------------------------------------------------------------------

/** The direction an answer takes for an offer's (RFC 3264 §6.1). */
const MIRRORED = {
  sendrecv: 'sendrecv',
  sendonly: 'recvonly',
  recvonly: 'sendonly',
  inactive: 'inactive',
} as const;

/** 20 ms of a tone in PCMU: 1000 Hz and 500 Hz are whole periods in 160 samples, so packets join seamlessly. */
const tonePayload = (frequency: number) =>
  Buffer.from(
    encodeG711(sineTone({ frequency, sampleRate: RTP_SAMPLE_RATE, durationMs: PACKET_MS }), 'mulaw'),
  );
const CALLER_PAYLOAD = tonePayload(HZ.caller);
const AGENT_PAYLOAD = tonePayload(HZ.agent);
/** Packets a late pacer sends at once for one stream; an older backlog is skipped. */
const MAX_BURST = 10;

/** What a caller received while counting (see PartyMedia.count). */
interface Reception {
  packets: number;
  /** Packets missing by sequence number (forward gaps within one SSRC). */
  gaps: number;
  /** Consecutive packets whose RTP timestamps differ by other than 160 × the sequence step. */
  timestampJumps: number;
  /**
   * The time between two such jumps (a new file starting: the music's loop restarting), ms, summed,
   * and how many: their mean less the file's length is what each restart costs.
   */
  jumpIntervalMs: number;
  jumpIntervals: number;
  /** The longest time between two packets, ms. */
  maxGapMs: number;
  /** RFC 3550 §6.4.1 interarrival jitter, averaged over the packets, ms. */
  meanJitterMs: number;
  ssrcs: number;
  sources: number;
}

/**
 * One party's RTP (a caller's or an agent's): a socket, a PCMU tone sent every 20 ms (by one pacer
 * for every party), and what arrives — counted per packet with its arrival time (gaps, timestamp
 * jumps, jitter) and decoded into samples for listening. RtpPeer (src/testing/rtp-peer.ts) does the
 * same for one phone; this one keeps arrival times, which the engine's bursts (see the top of the
 * file) make worth reporting, keeps audio only while counting, and stays cheap for hundreds.
 */
class PartyMedia {
  remote?: RemoteMedia;
  private sequence = randomInt(0, 0x10000);
  private timestamp = randomInt(0, 2 ** 32);
  private readonly ssrc = randomInt(1, 2 ** 32 - 1);
  private sdpVersion = 0;
  private sendingSince?: number;
  private sentTicks = 0;
  private counting = false;
  private r = PartyMedia.emptyCounts();
  private jitterSum = 0;
  private last?: { ssrc: number; sequence: number; timestamp: number; arrival: number; transit: number };
  private jitter = 0;
  private lastJump?: number;
  private readonly ssrcSet = new Set<number>();
  private readonly sourceSet = new Set<string>();
  /** Decoded audio since count(), in arrival order (kept only while counting). */
  private chunks: Int16Array[] = [];
  private samples = 0;

  private constructor(
    private readonly socket: Socket,
    readonly port: number,
    /** 20 ms of this party's tone, PCMU. */
    private readonly payload: Buffer,
  ) {
    socket.on('message', (message, from) => this.onDatagram(message, `${from.address}:${from.port}`));
    socket.on('error', () => {});
  }

  static async open(payload: Buffer): Promise<PartyMedia> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new PartyMedia(socket, socket.address().port, payload);
  }

  private static emptyCounts() {
    return { packets: 0, gaps: 0, timestampJumps: 0, jumpIntervalMs: 0, jumpIntervals: 0, maxGapMs: 0 };
  }

  /** An offer or answer of PCMU only (so what this party sends is always payload type 0). */
  sdp(user: string, direction: RemoteMedia['direction'] = 'sendrecv'): Buffer {
    this.sdpVersion++;
    return Buffer.from(
      [
        'v=0',
        `o=${user} ${this.ssrc} ${this.sdpVersion} IN IP4 127.0.0.1`,
        's=-',
        'c=IN IP4 127.0.0.1',
        't=0 0',
        `m=audio ${this.port} RTP/AVP 0`,
        'a=rtpmap:0 PCMU/8000',
        'a=ptime:20',
        `a=${direction}`,
        '',
      ].join('\r\n'),
    );
  }

  setRemote(sdp: Uint8Array): RemoteMedia {
    this.remote = parseRemoteSdp(sdp);
    return this.remote;
  }

  /** Send this party's tone from now on (one packet per 20 ms, by the shared pacer). */
  startSending(): void {
    if (this.sendingSince !== undefined) return;
    this.sendingSince = performance.now();
    this.sentTicks = 0;
    pacer.add(this);
  }

  stopSending(): void {
    this.sendingSince = undefined;
    pacer.remove(this);
  }

  /** Called by the pacer: send the packets due by `now`. */
  sendDue(now: number): void {
    const remote = this.remote;
    if (this.sendingSince === undefined || !remote) return;
    const due = Math.floor((now - this.sendingSince) / PACKET_MS) + 1;
    let owed = due - this.sentTicks;
    if (owed > MAX_BURST) {
      this.timestamp = (this.timestamp + 160 * (owed - MAX_BURST)) >>> 0;
      owed = MAX_BURST;
    }
    for (let k = 0; k < owed; k++) {
      const packet = buildRtpPacket({
        payloadType: 0,
        sequenceNumber: this.sequence,
        timestamp: this.timestamp,
        ssrc: this.ssrc,
        marker: this.sentTicks === 0 && k === 0,
        payload: this.payload,
      });
      this.sequence = (this.sequence + 1) & 0xffff;
      this.timestamp = (this.timestamp + 160) >>> 0;
      this.socket.send(packet, remote.port, remote.address);
    }
    this.sentTicks = due;
  }

  /** Count (and keep the audio of) what arrives from now on, forgetting what came before. */
  count(): void {
    this.counting = true;
    this.r = PartyMedia.emptyCounts();
    this.jitter = 0;
    this.jitterSum = 0;
    this.last = undefined;
    this.lastJump = undefined;
    this.ssrcSet.clear();
    this.sourceSet.clear();
    this.chunks = [];
    this.samples = 0;
  }

  /** Stop counting and keeping audio. */
  stopCounting(): void {
    this.counting = false;
  }

  get reception(): Reception {
    return {
      ...this.r,
      maxGapMs: Math.round(this.r.maxGapMs),
      meanJitterMs: this.r.packets === 0 ? 0 : this.jitterSum / this.r.packets / (RTP_SAMPLE_RATE / 1000),
      ssrcs: this.ssrcSet.size,
      sources: this.sourceSet.size,
    };
  }

  /** Samples kept so far: a mark for heard(). */
  get sampleCount(): number {
    return this.samples;
  }

  /** The audio kept, from sample `from` on. */
  audio(from = 0): Int16Array {
    const out = new Int16Array(Math.max(0, this.samples - from));
    let at = 0;
    let written = 0;
    for (const chunk of this.chunks) {
      const end = at + chunk.length;
      if (end > from) {
        const skip = Math.max(0, from - at);
        out.set(chunk.subarray(skip), written);
        written += chunk.length - skip;
      }
      at = end;
    }
    return out;
  }

  /** The tone among TONES that dominates the last `windowMs` since `from`, if that much arrived. */
  heard(from: number, windowMs: number): number | null {
    const needed = (windowMs * RTP_SAMPLE_RATE) / 1000;
    if (this.samples - from < needed) return null;
    const samples = this.audio(this.samples - needed);
    return dominantTone(samples, RTP_SAMPLE_RATE, TONES).frequency;
  }

  private onDatagram(message: Buffer, source: string): void {
    const header = parseRtpHeader(message);
    // RTCP's packet types 200–204 read as marker + payload type 72–76.
    if (!header || (header.payloadType >= 72 && header.payloadType <= 76)) return;
    if (!this.counting) return;
    const arrival = performance.now();
    const r = this.r;
    r.packets++;
    this.ssrcSet.add(header.ssrc);
    this.sourceSet.add(source);
    const transit = arrival * (RTP_SAMPLE_RATE / 1000) - header.timestamp;
    const last = this.last;
    if (last && last.ssrc === header.ssrc) {
      const step = (header.sequenceNumber - last.sequence) & 0xffff;
      if (step >= 0x8000 || step === 0) return; // late or duplicate
      if (step > 1) r.gaps += step - 1;
      if ((header.timestamp - last.timestamp) >>> 0 !== 160 * step) {
        r.timestampJumps++;
        if (this.lastJump !== undefined) {
          r.jumpIntervalMs += arrival - this.lastJump;
          r.jumpIntervals++;
        }
        this.lastJump = arrival;
      }
      r.maxGapMs = Math.max(r.maxGapMs, arrival - last.arrival);
      // RFC 3550 A.8: J += (|D| − J) / 16, D the change in transit time.
      this.jitter += (Math.abs(transit - last.transit) - this.jitter) / 16;
      this.jitterSum += this.jitter;
    } else if (last) {
      r.maxGapMs = Math.max(r.maxGapMs, arrival - last.arrival);
    }
    this.last = {
      ssrc: header.ssrc,
      sequence: header.sequenceNumber,
      timestamp: header.timestamp,
      arrival,
      transit,
    };
    const law = header.payloadType === 0 ? 'mulaw' : header.payloadType === 8 ? 'alaw' : undefined;
    if (!law) return;
    const payload = message.subarray(header.payloadOffset, header.payloadOffset + header.payloadLength);
    const decoded = decodeG711(payload, law);
    this.chunks.push(decoded);
    this.samples += decoded.length;
  }

  async close(): Promise<void> {
    this.stopSending();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}

/** One timer for every caller's sending: each sends what is due at its own 20 ms phase. */
const pacer = {
  legs: new Set<PartyMedia>(),
  timer: undefined as NodeJS.Timeout | undefined,
  add(leg: PartyMedia) {
    this.legs.add(leg);
    leg.sendDue(performance.now());
    if (!this.timer) this.tick();
  },
  remove(leg: PartyMedia) {
    this.legs.delete(leg);
  },
  tick() {
    if (this.legs.size === 0) {
      this.timer = undefined;
      return;
    }
    const now = performance.now();
    for (const leg of this.legs) leg.sendDue(now);
    this.timer = setTimeout(() => this.tick(), 4);
  },
};

/** One caller's call: its media, and what happened when. */
interface CallerCall {
  media: PartyMedia;
  call: OutgoingCall;
  sipCallId: string;
  startedMs: number;
  final?: SipResponse;
  /** INVITE → final response, ms. */
  answerMs?: number;
  /** The bridging re-INVITE: when it came, and the caller's sample mark then. */
  reinvite?: { atMs: number; mark: number };
  reinvited: Promise<void>;
}

/**
 * The carrier: one test UA at the trunk's address places every call (no digest: a trunk), each
 * with its own RTP socket. The UA has no media of its own, so the re-INVITE that bridges a caller
 * to the agent is answered here, with the SDP of that call's media (which then sends to the
 * agent's side of the engine); every other request goes to the UA as usual.
 */
class Carrier {
  private readonly calls = new Map<string, CallerCall>();
  private readonly reinviteWaiters = new Map<string, () => void>();

  private constructor(readonly ua: TestUa) {
    const relay = ua.stack.onRequest!;
    ua.stack.onRequest = (request, tx) => {
      const entry =
        request.method === 'INVITE' && getTag(request.headers.get('To') ?? '') !== undefined
          ? this.calls.get(request.headers.get('Call-ID') ?? '')
          : undefined;
      if (entry) this.answerReinvite(entry, request, tx);
      else relay(request, tx);
    };
  }

  static async open(sipPort: number, trunkPort: number): Promise<Carrier> {
    const ua = await TestUa.overUdp(
      { host: '127.0.0.1', port: sipPort },
      { extension: '+358501000001', password: 'none', domain: DOMAIN },
      { port: trunkPort },
    );
    return new Carrier(ua);
  }

  /**
   * Call `target`; once answered the caller sends its tone (as a phone always does, heard by
   * nobody while it waits). `count`: count and keep what arrives from the start (queue-rate).
   */
  async place(target: string, count: boolean): Promise<CallerCall> {
    const media = await PartyMedia.open(CALLER_PAYLOAD);
    if (count) media.count();
    const startedMs = performance.now();
    const call = this.ua.call(target, [], media.sdp('caller'));
    const sipCallId = call.invite.headers.get('Call-ID')!;
    let reinvited!: () => void;
    const entry: CallerCall = {
      media,
      call,
      sipCallId,
      startedMs,
      reinvited: new Promise<void>((resolve) => {
        reinvited = resolve;
      }),
    };
    this.reinviteWaiters.set(sipCallId, reinvited);
    this.calls.set(sipCallId, entry);
    void call.finalResponse.then((response) => {
      entry.final = response;
      entry.answerMs = performance.now() - startedMs;
      if (response.status !== 200) return;
      try {
        media.setRemote(response.body);
        media.startSending();
      } catch {
        // no usable SDP: the caller hears nothing, which the step counts
      }
    });
    return entry;
  }

  /** The call is over: its re-INVITEs go to the UA again, its socket is closed. */
  async forget(entry: CallerCall): Promise<void> {
    this.calls.delete(entry.sipCallId);
    this.reinviteWaiters.delete(entry.sipCallId);
    await entry.media.close();
  }

  private answerReinvite(entry: CallerCall, request: SipRequest, tx: ServerTransaction): void {
    let body: Buffer | undefined;
    if (request.body.length > 0) {
      try {
        const remote = entry.media.setRemote(request.body);
        body = entry.media.sdp('caller', MIRRORED[remote.direction]);
      } catch {
        tx.respond(this.ua.stack.createResponse(request, 488));
        return;
      }
    }
    tx.respond(
      this.ua.stack.createResponse(request, 200, 'OK', {
        headers: [['Contact', `<${this.ua.contactUri}>`]],
        body,
      }),
    );
    entry.reinvite ??= {
      atMs: performance.now(),
      mark: entry.media.sampleCount,
    };
    this.reinviteWaiters.get(entry.sipCallId)?.();
  }
}

/** A registered agent whose phone rings RING_MS, answers, and sends its tone until the BYE. */
interface Agent {
  ua: TestUa;
  media: PartyMedia;
  current?: IncomingCall;
}

async function openAgent(sipPort: number, extension: string, answeredBy: Map<string, Agent>): Promise<Agent> {
  const media = await PartyMedia.open(AGENT_PAYLOAD);
  const ua = await TestUa.overUdp(
    { host: '127.0.0.1', port: sipPort },
    { extension, password: PASSWORD, domain: DOMAIN },
  );
  const registered = await ua.register(3600);
  if (registered.status !== 200) throw new Error(`REGISTER ${extension} → ${registered.status}`);
  const agent: Agent = { ua, media };
  ua.onIncoming((call) => {
    call.ring();
    setTimeout(() => {
      if (call.cancelled) return;
      try {
        media.setRemote(call.invite.body);
      } catch {
        call.reject(488);
        return;
      }
      // Answer with this agent's media (IncomingCall.answer would answer with the UA's, it has none).
      call.transaction.respond(
        ua.stack.createResponse(call.invite, 200, 'OK', {
          toTag: call.localTag,
          headers: [['Contact', `<${ua.contactUri}>`]],
          body: media.sdp('agent'),
        }),
      );
      call.dialog = Dialog.fromUas(call.invite, call.localTag, call.transaction.flow, ua.contactUri);
      ua.trackDialog(call.dialog, call);
      agent.current = call;
      media.count();
      media.startSending();
      const callId = call.header('X-Server-Call-Id');
      if (callId) answeredBy.set(callId, agent);
      void call
        .waitForBye(300_000)
        .catch(() => {})
        .finally(() => {
          if (agent.current !== call) return;
          media.stopSending();
          media.stopCounting();
          agent.current = undefined;
          if (callId) answeredBy.delete(callId);
        });
    }, RING_MS);
  });
  return agent;
}

// ---- queue-waiting -------------------------------------------------------------------------------

interface WaitingStep {
  callers: number;
  answered: number;
  failed: number;
  /** Why calls failed: reason → count. */
  reasons: Map<string, number>;
  windowSeconds: number;
  /** Packets received, and due at 50 a second over the window, by every answered caller. */
  received: number;
  due: number;
  /** Packets missing by sequence number: sent by the engine, never received. */
  gaps: number;
  /** The lowest share of its packets due that one caller received. */
  worstCallerShare: number;
  /** Each caller's share of its packets due: the median and best caller's. */
  callerShare: { median: number; best: number };
  /** RFC 3550 jitter (mean over the callers, and the highest caller's), ms. */
  jitterMs: { mean: number; max: number };
  /** The longest silence between two packets any caller saw, ms, and the median caller's. */
  maxGapMs: { median: number; max: number };
  /** RTP timestamp discontinuities (the loop restarting, the greeting giving way to the music). */
  timestampJumps: number;
  /** How much longer than the music file one pass of the loop took (the restart's cost), mean, ms. */
  loopOverrunMs: number;
  /** Callers that saw more than one SSRC, or packets from more than one address. */
  multiSsrc: number;
  multiSource: number;
  answerMs: { p50: number; p99: number; max: number };
  cpu: { engine?: number; process: number };
  loopDelayMs: { p99: number; max: number };
  left: { calls: number; engineCalls: number };
  drainMs: number;
  passed: boolean;
}

/** Packets sent by the engine that never arrived (sequence gaps), as a share. */
const lossOf = (step: { received: number; gaps: number }) =>
  step.received + step.gaps === 0 ? 1 : step.gaps / (step.received + step.gaps);
/** Packets received against those due at 50 a second over the window. */
const deliveredOf = (step: { received: number; due: number }) =>
  step.due === 0 ? 0 : step.received / step.due;
/**
 * The engine plays a file in bursts (a 256 ms block of an 8 kHz WAV at a time: ~13 packets at twice
 * the pace, then a pause), so a fixed window catches up to a burst's worth of packets more or fewer
 * than are due, the same for callers answered together. A caller fails ("fell behind") only when it
 * got more than this many packets fewer than are due; the share received of those due is reported.
 */
const BURST_ALLOWANCE = 15;

async function waitingStep(bench: Bench, callers: number, windowSeconds: number): Promise<WaitingStep> {
  const { carrier, platform } = bench;
  const entries: CallerCall[] = [];
  const reasons = new Map<string, number>();
  const fail = (reason: string) => reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  try {
    // Set up at ≤ 100 calls/s: the figure is callers waiting, not the arrival rate.
    for (let i = 0; i < callers; i++) {
      entries.push(await carrier.place(WAITING_QUEUE, false));
      if (i % 10 === 9) await sleep(100);
    }
    await Promise.all(entries.map((entry) => entry.call.waitForFinal(15_000).catch(() => undefined)));
    const answered = entries.filter((entry) => entry.final?.status === 200);
    for (const entry of entries)
      if (entry.final?.status !== 200) fail(`answer ${entry.final?.status ?? 'none in 15 s'}`);
    // Every greeting is over: the window hears music only.
    await sleep(GREETING_MS + 1000);

    const cpuBefore = { engine: processCpuSeconds(platform.mediaProcess!.pid), process: process.cpuUsage() };
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    for (const entry of answered) entry.media.count();
    const windowStarted = performance.now();
    await sleep(windowSeconds * 1000);
    for (const entry of answered) entry.media.stopCounting();
    const seconds = (performance.now() - windowStarted) / 1000;
    loop.disable();
    const engineAfter = processCpuSeconds(platform.mediaProcess!.pid);
    const processUsed = process.cpuUsage(cpuBefore.process);

    const due = seconds * PACKETS_PER_SECOND;
    const receptions = answered.map((entry) => entry.media.reception);
    answered.forEach((entry, i) => {
      const reception = receptions[i]!;
      if (reception.packets === 0) {
        fail('no audio');
        return;
      }
      if (reception.packets < due - BURST_ALLOWANCE) fail('fell behind (packets due never came)');
      // The music must be what the caller hears in every whole second of the window.
      const samples = entry.media.audio();
      const wholeSeconds = Math.floor(samples.length / RTP_SAMPLE_RATE);
      let musicSeconds = 0;
      for (let s = 0; s < wholeSeconds; s++) {
        const second = samples.subarray(s * RTP_SAMPLE_RATE, (s + 1) * RTP_SAMPLE_RATE);
        if (dominantTone(second, RTP_SAMPLE_RATE, TONES).frequency === HZ.music) musicSeconds++;
      }
      if (musicSeconds < Math.floor(seconds) - 1)
        fail(`music in ${musicSeconds} of ${Math.floor(seconds)} s`);
    });

    // Hang up every answered call (the caller sends BYE), ≤ 100 per second.
    const hangups: Promise<void>[] = [];
    for (const [i, entry] of answered.entries()) {
      hangups.push(
        entry.call.hangup().then((response) => {
          if (response.status !== 200) fail(`BYE ${response.status}`);
        }),
      );
      if (i % 10 === 9) await sleep(100);
    }
    await Promise.all(hangups);
    const drainStarted = performance.now();
    const left = await drain(bench);
    const drainMs = Math.round(performance.now() - drainStarted);

    const sum = (pick: (reception: Reception) => number) => receptions.reduce((n, r) => n + pick(r), 0);
    const answerMs = answered.map((entry) => entry.answerMs!);
    const jitters = receptions.map((r) => r.meanJitterMs);
    const gapsMs = receptions.map((r) => r.maxGapMs);
    const failed = [...reasons.values()].reduce((a, b) => a + b, 0);
    const step: WaitingStep = {
      callers,
      answered: answered.length,
      failed,
      reasons,
      windowSeconds: seconds,
      received: sum((r) => r.packets),
      due: due * answered.length,
      gaps: sum((r) => r.gaps),
      worstCallerShare: receptions.length === 0 ? 0 : Math.min(...receptions.map((r) => r.packets / due)),
      callerShare: {
        median: quantile(
          receptions.map((r) => r.packets / due),
          0.5,
        ),
        best: receptions.length === 0 ? 0 : Math.max(...receptions.map((r) => r.packets / due)),
      },
      jitterMs: {
        mean: round(jitters.reduce((a, b) => a + b, 0) / Math.max(1, jitters.length)),
        max: round(Math.max(0, ...jitters)),
      },
      maxGapMs: { median: round(quantile(gapsMs, 0.5)), max: round(Math.max(0, ...gapsMs)) },
      timestampJumps: sum((r) => r.timestampJumps),
      loopOverrunMs: round(
        sum((r) => r.jumpIntervalMs) /
          Math.max(
            1,
            sum((r) => r.jumpIntervals),
          ) -
          MUSIC_MS,
      ),
      multiSsrc: receptions.filter((r) => r.ssrcs > 1).length,
      multiSource: receptions.filter((r) => r.sources > 1).length,
      answerMs: {
        p50: round(quantile(answerMs, 0.5)),
        p99: round(quantile(answerMs, 0.99)),
        max: round(Math.max(0, ...answerMs)),
      },
      cpu: {
        engine:
          engineAfter === undefined || cpuBefore.engine === undefined
            ? undefined
            : round((engineAfter - cpuBefore.engine) / seconds, 2),
        process: round((processUsed.user + processUsed.system) / 1e6 / seconds, 2),
      },
      loopDelayMs: { p99: round(loop.percentile(99) / 1e6), max: round(loop.max / 1e6) },
      left,
      drainMs,
      passed: false,
    };
    step.passed = failed === 0 && lossOf(step) < MAX_LOSS && left.calls === 0 && left.engineCalls === 0;
    return step;
  } finally {
    await Promise.all(
      entries.map(async (entry) => {
        if (!entry.call.ended && entry.call.dialog) await entry.call.hangup().catch(() => undefined);
        await carrier.forget(entry);
      }),
    );
  }
}

// ---- queue-rate ----------------------------------------------------------------------------------

interface CallOutcome {
  failure?: string;
  answerMs?: number;
  /** The queue's 200 → the bridging re-INVITE (ring and answer of the agent, bridging). */
  bridgeMs?: number;
  /** The re-INVITE → both parties hear each other's tone. */
  audioMs?: number;
}

/** How long after the re-INVITE both must hear the other's tone. */
const TWO_WAY_TIMEOUT_MS = 3000;
/** The audio judged: the last this many ms since the re-INVITE. */
const TWO_WAY_WINDOW_MS = 300;

async function queueCall(bench: Bench): Promise<CallOutcome> {
  const entry = await bench.carrier.place(AGENT_QUEUE, true);
  const outcome: CallOutcome = {};
  try {
    const final = await entry.call.waitForFinal(10_000).catch(() => undefined);
    if (final?.status !== 200) return { failure: `answer ${final?.status ?? 'none in 10 s'}` };
    outcome.answerMs = entry.answerMs;
    const reinvited = await withTimeout(entry.reinvited, 15_000, 're-INVITE').then(
      () => true,
      () => false,
    );
    if (!reinvited || !entry.reinvite) return { ...outcome, failure: 'no re-INVITE in 15 s' };
    const reinvite = entry.reinvite;
    outcome.bridgeMs = reinvite.atMs - entry.startedMs - entry.answerMs!;
    // Before the agent: the greeting, from its start.
    const first = entry.media
      .audio()
      .subarray(0, Math.min(reinvite.mark, (GREETING_MS * RTP_SAMPLE_RATE) / 1000));
    const greeting = dominantTone(first, RTP_SAMPLE_RATE, TONES).frequency;
    if (first.length < (TWO_WAY_WINDOW_MS * RTP_SAMPLE_RATE) / 1000 || greeting !== HZ.greeting)
      return {
        ...outcome,
        failure: `greeting not heard before the agent (${first.length / 8} ms of audio, ${greeting ?? 'no'} tone)`,
      };
    const agent = bench.answeredBy.get(final.headers.get('X-Server-Call-Id') ?? '');
    if (!agent) return { ...outcome, failure: 'no agent answered' };
    const agentMark = agent.media.sampleCount;
    for (;;) {
      const callerHearsAgent = entry.media.heard(reinvite.mark, TWO_WAY_WINDOW_MS) === HZ.agent;
      const agentHearsCaller = agent.media.heard(agentMark, TWO_WAY_WINDOW_MS) === HZ.caller;
      if (callerHearsAgent && agentHearsCaller) {
        outcome.audioMs = performance.now() - reinvite.atMs;
        break;
      }
      if (performance.now() - reinvite.atMs > TWO_WAY_TIMEOUT_MS)
        return {
          ...outcome,
          failure:
            !callerHearsAgent && !agentHearsCaller
              ? 'no audio either way'
              : !callerHearsAgent
                ? 'caller hears no agent'
                : 'agent hears no caller',
        };
      await sleep(50);
    }
    const bye = await entry.call.hangup();
    if (bye.status !== 200) return { ...outcome, failure: `BYE ${bye.status}` };
    return outcome;
  } finally {
    if (!entry.call.ended && entry.call.dialog) await entry.call.hangup().catch(() => undefined);
    await bench.carrier.forget(entry);
  }
}

interface RateStep {
  rate: number;
  calls: number;
  /** Calls/s this process managed to place. */
  offeredRate: number;
  failed: number;
  reasons: Map<string, number>;
  answerMs: { p50: number; p99: number };
  bridgeMs: { p50: number; p99: number };
  audioMs: { p50: number; p99: number };
  cpu: { engine?: number; process: number };
  loopDelayMs: { p99: number; max: number };
  left: { calls: number; engineCalls: number };
  passed: boolean;
  generatorLimited: boolean;
  /** Calls waited for an agent longer than the ring + MAX_EXTRA_WAIT_MS (p99): the rate is not sustained. */
  backlog: boolean;
}

async function rateStep(bench: Bench, rate: number, seconds: number): Promise<RateStep> {
  const { platform } = bench;
  const total = Math.max(1, Math.round(rate * seconds));
  const runs: Promise<CallOutcome>[] = [];
  const cpuBefore = { engine: processCpuSeconds(platform.mediaProcess!.pid), process: process.cpuUsage() };
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    runs.push(queueCall(bench).catch((err: unknown) => ({ failure: `error ${(err as Error).message}` })));
  }
  const placedSeconds = (performance.now() - started) / 1000;
  const outcomes = await Promise.all(runs);
  const elapsed = (performance.now() - started) / 1000;
  loop.disable();
  const engineAfter = processCpuSeconds(platform.mediaProcess!.pid);
  const processUsed = process.cpuUsage(cpuBefore.process);
  const left = await drain(bench);

  const reasons = new Map<string, number>();
  for (const outcome of outcomes)
    if (outcome.failure) reasons.set(outcome.failure, (reasons.get(outcome.failure) ?? 0) + 1);
  const failed = outcomes.filter((outcome) => outcome.failure).length;
  const figures = (pick: (outcome: CallOutcome) => number | undefined) => {
    const values = outcomes.map(pick).filter((value): value is number => value !== undefined);
    return { p50: round(quantile(values, 0.5)), p99: round(quantile(values, 0.99)) };
  };
  // The first call is placed at 0 s, the last at (total − 1) / rate s.
  const offeredRate = total > 1 ? (total - 1) / placedSeconds : rate;
  const generatorLimited = offeredRate < MIN_OFFERED_SHARE * rate;
  const bridgeMs = figures((outcome) => outcome.bridgeMs);
  const backlog = !(bridgeMs.p99 <= RING_MS + MAX_EXTRA_WAIT_MS);
  return {
    rate,
    calls: total,
    offeredRate: round(offeredRate),
    failed,
    reasons,
    answerMs: figures((outcome) => outcome.answerMs),
    bridgeMs,
    audioMs: figures((outcome) => outcome.audioMs),
    cpu: {
      engine: engineAfter === undefined ? undefined : round((engineAfter - cpuBefore.engine!) / elapsed, 2),
      process: round((processUsed.user + processUsed.system) / 1e6 / elapsed, 2),
    },
    loopDelayMs: { p99: round(loop.percentile(99) / 1e6), max: round(loop.max / 1e6) },
    left,
    passed: failed === 0 && left.calls === 0 && left.engineCalls === 0 && !generatorLimited && !backlog,
    generatorLimited,
    backlog,
  };
}

// ---- the suite -----------------------------------------------------------------------------------

const ALL: ReadonlySet<QueueAudioPhase> = new Set(QUEUE_AUDIO_PHASES);
const describeReasons = (reasons: Map<string, number>) =>
  [...reasons].map(([reason, count]) => `${count}× ${reason}`).join(', ');

export async function benchQueueAudio(opts: BenchQueueAudioOptions = {}): Promise<BenchResult[]> {
  const log = opts.log ?? (() => {});
  const waitingSteps = opts.waitingSteps ?? [25, 50, 100, 200, 300, 400];
  const windowSeconds = opts.windowSeconds ?? 10;
  const rates = opts.rates ?? [10, 20, 40, 60, 80];
  const rateSeconds = opts.rateSeconds ?? 10;
  const budgetSeconds = opts.budgetSeconds ?? 150;
  const phases = opts.phases ?? ALL;
  const results: BenchResult[] = [];
  if (!findRtpEngineBinary()) {
    log('queue audio: rtpengine is not installed (apt-get install rtpengine-daemon); nothing measured');
    return results;
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-queue-audio-'));
  const withBench = async <T>(agents: number, run: (bench: Bench) => Promise<T>): Promise<T> => {
    const bench = await startBench(mkdtempSync(join(dir, 'run-')), agents);
    try {
      return await run(bench);
    } finally {
      const complaints = platformComplaints(bench.logFile);
      if (complaints.length > 0) log(`the platform logged: ${complaints.slice(0, 8).join('; ')}`);
      await bench.close();
    }
  };
  try {
    if (phases.has('queue-waiting')) {
      const label = `${windowSeconds} s of music each, 0 failed, loss < ${MAX_LOSS * 100} %`;
      let best: WaitingStep | undefined;
      let failedStep: WaitingStep | undefined;
      await withBench(0, async (bench) => {
        const started = Date.now();
        for (const callers of waitingSteps) {
          if ((Date.now() - started) / 1000 > budgetSeconds) {
            log(`queue-waiting: ${Math.round((Date.now() - started) / 1000)} s spent, no more steps`);
            break;
          }
          log(`queue-waiting: ${callers} callers…`);
          const step = await waitingStep(bench, callers, windowSeconds);
          log(
            `queue-waiting: ${callers} callers → ${step.answered} answered, failed ${step.failed}${step.failed ? ` (${describeReasons(step.reasons)})` : ''}; ` +
              `music packets ${step.received} received of ${Math.round(step.due)} due in ${step.windowSeconds.toFixed(1)} s (${percent(deliveredOf(step))} %, callers: worst ${percent(step.worstCallerShare)} %, median ${percent(step.callerShare.median)} %, best ${percent(step.callerShare.best)} %), ` +
              `lost (sequence gaps) ${step.gaps} → loss ${percent(lossOf(step))} %; jitter mean ${step.jitterMs.mean} ms (worst caller ${step.jitterMs.max} ms), ` +
              `longest silence between packets median caller ${step.maxGapMs.median} ms, worst ${step.maxGapMs.max} ms; timestamp jumps (the loop restarting) ${step.timestampJumps}, each pass of the ${MUSIC_MS} ms music took ${step.loopOverrunMs} ms longer; ` +
              `callers with 2+ SSRCs ${step.multiSsrc}, 2+ sources ${step.multiSource}; ` +
              `answer p50 ${step.answerMs.p50} ms, p99 ${step.answerMs.p99} ms, max ${step.answerMs.max} ms; ` +
              `CPU (cores): rtpengine ${step.cpu.engine ?? '?'}, this process (Switchboard + load generator) ${step.cpu.process}; ` +
              `event loop delay p99 ${step.loopDelayMs.p99} ms, max ${step.loopDelayMs.max} ms; ` +
              `after hang-up: ${step.left.calls} calls, ${step.left.engineCalls} in the engine (${step.drainMs} ms); ` +
              `load average ${loadavg()[0]!.toFixed(1)} ${step.passed ? 'ok' : 'FAIL'}`,
          );
          if (!step.passed) {
            failedStep = step;
            break;
          }
          if (callers === waitingSteps.at(-1))
            log(`queue-waiting: every step passed, ${callers} is a lower bound`);
          best = step;
        }
      });
      results.push({
        name: `queue callers waiting, hearing music (${label})`,
        value: best?.callers ?? 0,
        unit: 'callers',
        target: `0 failed, loss < ${MAX_LOSS * 100} %`,
      });
      if (failedStep)
        results.push({
          name: 'queue callers waiting, first failing step',
          value: failedStep.callers,
          unit: 'callers',
        });
      if (best) {
        const at = `at ${best.callers} waiting callers`;
        results.push(
          { name: `queue waiting: failed calls ${at}`, value: best.failed, unit: 'calls', target: '0' },
          {
            name: `queue waiting: music packets lost (sequence gaps) ${at}`,
            value: percent(lossOf(best)),
            unit: '%',
            target: `< ${MAX_LOSS * 100} %`,
          },
          {
            name: `queue waiting: music packets received of those due at 50/s ${at}`,
            value: percent(deliveredOf(best)),
            unit: '%',
          },
          {
            name: `queue waiting: music jitter (RFC 3550, mean) ${at}`,
            value: best.jitterMs.mean,
            unit: 'ms',
          },
          {
            name: `queue waiting: longest pause between music packets, worst caller ${at}`,
            value: best.maxGapMs.max,
            unit: 'ms',
          },
          {
            name: `queue waiting: music loop restart, time each pass took beyond the ${MUSIC_MS} ms file ${at}`,
            value: best.loopOverrunMs,
            unit: 'ms',
          },
          {
            name: `queue waiting: answer latency (INVITE → 200) ${at}, p50`,
            value: best.answerMs.p50,
            unit: 'ms',
          },
          {
            name: `queue waiting: answer latency (INVITE → 200) ${at}, p99`,
            value: best.answerMs.p99,
            unit: 'ms',
          },
          ...(best.cpu.engine === undefined
            ? []
            : [{ name: `queue waiting: rtpengine CPU ${at}`, value: best.cpu.engine, unit: 'cores' }]),
          {
            name: `queue waiting: Switchboard + load generator CPU (one process) ${at}`,
            value: best.cpu.process,
            unit: 'cores',
          },
          {
            name: `queue waiting: engine calls left after the hang-ups ${at}`,
            value: best.left.engineCalls,
            unit: 'calls',
            target: '0',
          },
        );
      }
    }
    if (phases.has('queue-rate')) {
      // An agent is busy ≈ 1.1 s a call (ring, bridging, the audio check): twice the rate is plenty.
      const agents = opts.agents ?? Math.min(200, Math.max(10, Math.ceil(2 * Math.max(...rates))));
      const label = `${agents} agents ringing ${RING_MS} ms; greeting, bridge and audio both ways checked; 0 failed, no backlog`;
      let best: RateStep | undefined;
      let failedStep: RateStep | undefined;
      let generatorLimitedAt: number | undefined;
      await withBench(agents, async (bench) => {
        const started = Date.now();
        for (const rate of rates) {
          if ((Date.now() - started) / 1000 > budgetSeconds) {
            log(`queue-rate: ${Math.round((Date.now() - started) / 1000)} s spent, no more steps`);
            break;
          }
          log(`queue-rate: ${rate} calls/s for ${rateSeconds} s…`);
          const step = await rateStep(bench, rate, rateSeconds);
          log(
            `queue-rate: ${rate} calls/s → ${step.calls} calls placed at ${step.offeredRate}/s, failed ${step.failed}${step.failed ? ` (${describeReasons(step.reasons)})` : ''}; ` +
              `answer p50 ${step.answerMs.p50} ms, p99 ${step.answerMs.p99} ms; queue answer → re-INVITE p50 ${step.bridgeMs.p50} ms, p99 ${step.bridgeMs.p99} ms; ` +
              `re-INVITE → ${TWO_WAY_WINDOW_MS} ms of the other's tone heard both ways p50 ${step.audioMs.p50} ms, p99 ${step.audioMs.p99} ms; ` +
              `CPU (cores): rtpengine ${step.cpu.engine ?? '?'}, this process (Switchboard + load generator) ${step.cpu.process}; ` +
              `event loop delay p99 ${step.loopDelayMs.p99} ms, max ${step.loopDelayMs.max} ms; ` +
              `after: ${step.left.calls} calls, ${step.left.engineCalls} in the engine; ` +
              `load average ${loadavg()[0]!.toFixed(1)} ${step.passed ? 'ok' : step.generatorLimited ? 'GENERATOR LIMITED' : step.backlog && step.failed === 0 ? `FAIL (calls queued up: p99 wait for an agent > ${RING_MS + MAX_EXTRA_WAIT_MS} ms)` : 'FAIL'}`,
          );
          if (step.generatorLimited && step.failed === 0) {
            log(`queue-rate: this process could not place ${rate} calls/s: the ramp ends here`);
            generatorLimitedAt = rate;
            break;
          }
          if (!step.passed) {
            failedStep = step;
            break;
          }
          if (rate === rates.at(-1)) log(`queue-rate: every step passed, ${rate} calls/s is a lower bound`);
          best = step;
        }
      });
      results.push({
        name: `queue calls with audio (${label})`,
        value: best?.rate ?? 0,
        unit: 'calls/s',
        target: '0 failed',
      });
      if (failedStep)
        results.push({
          name: 'queue calls with audio, first failing rate',
          value: failedStep.rate,
          unit: 'calls/s',
        });
      if (generatorLimitedAt)
        results.push({
          name: 'queue calls with audio, rate the load generator could not place',
          value: generatorLimitedAt,
          unit: 'calls/s',
        });
      if (best) {
        const at = `at ${best.rate} calls/s`;
        results.push(
          { name: `queue calls: failed calls ${at}`, value: best.failed, unit: 'calls', target: '0' },
          {
            name: `queue calls: answer latency (INVITE → 200) ${at}, p99`,
            value: best.answerMs.p99,
            unit: 'ms',
          },
          {
            name: `queue calls: queue answer → bridging re-INVITE (agent rings ${RING_MS} ms) ${at}, p99`,
            value: best.bridgeMs.p99,
            unit: 'ms',
          },
          {
            name: `queue calls: re-INVITE → ${TWO_WAY_WINDOW_MS} ms of the other's tone heard both ways ${at}, p99`,
            value: best.audioMs.p99,
            unit: 'ms',
          },
          ...(best.cpu.engine === undefined
            ? []
            : [{ name: `queue calls: rtpengine CPU ${at}`, value: best.cpu.engine, unit: 'cores' }]),
          {
            name: `queue calls: Switchboard + load generator CPU (one process) ${at}`,
            value: best.cpu.process,
            unit: 'cores',
          },
          {
            name: `queue calls: engine calls left after the step ${at}`,
            value: best.left.engineCalls,
            unit: 'calls',
            target: '0',
          },
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

/** The options `--quick`, `--steps` and `--rates` give (shared with bench/run.ts). */
export function queueAudioOptions(args: {
  quick: boolean;
  steps?: number[];
  rates?: number[];
}): Pick<BenchQueueAudioOptions, 'waitingSteps' | 'windowSeconds' | 'rates' | 'rateSeconds'> {
  return {
    ...(args.quick ? { waitingSteps: [10, 25], windowSeconds: 5, rates: [5, 10], rateSeconds: 5 } : {}),
    ...(args.steps ? { waitingSteps: args.steps } : {}),
    ...((args.rates ?? args.steps) ? { rates: args.rates ?? args.steps } : {}),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const quick = process.argv.includes('--quick');
  const only = process.argv.indexOf('--only');
  const phases = only >= 0 ? process.argv[only + 1]!.split(',') : undefined;
  const unknown = phases?.filter((name) => !isQueueAudioPhase(name)) ?? [];
  if (unknown.length > 0)
    throw new Error(`unknown phase ${unknown.join(', ')}: expected ${QUEUE_AUDIO_PHASES.join(', ')}`);
  const stepsIndex = process.argv.indexOf('--steps');
  const steps = stepsIndex >= 0 ? parseSteps(process.argv[stepsIndex + 1]) : undefined;
  const ratesIndex = process.argv.indexOf('--rates');
  const rates = ratesIndex >= 0 ? parseRates(process.argv[ratesIndex + 1]) : undefined;
  const rows = await benchQueueAudio({
    phases: phases ? new Set(phases as QueueAudioPhase[]) : undefined,
    ...queueAudioOptions({ quick, steps, rates }),
    log: (line) => console.error(line),
  });
  console.table(rows);
}
