/**
 * The media plane under load (issue 13), all on loopback:
 *
 * - anchored calls with RTP flowing both ways: N calls are set up through the server (the caller
 *   stands where a trunk is, the callee is a registered user), every party then sends G.711 in
 *   20 ms packets to the address its SDP names (the engine's) for a hold period, and what arrives
 *   at each party is counted — packets and sequence gaps per stream — so loss is measured from
 *   what arrives, per direction, not from signalling. N is stepped up (10, 25, 50, 100, …) until a
 *   step has a failed call or loses ≥ 0.1 % of the packets in either direction; the highest passing
 *   step is the figure. Switchboard runs as its own process (`switchboard start`) with its own
 *   rtpengine child; the reference is Kamailio with the rtpengine module
 *   (bench/kamailio/kamailio-rtpengine.cfg) and a separate rtpengine child started with the same
 *   flags (startRtpEngineProcess), under the same load in the same run. Both engines then have the
 *   platform's 1,000-port window (4 ports a call: 250 calls at most), so phase `wide` runs both
 *   again with engines of 20,000 ports (Switchboard's named by the tenant, `media: { rtpengine }`),
 *   to find where the media path itself gives; a step at which this process cannot send every
 *   packet on time (the generator is the limit, not the server) ends a ramp without failing it;
 * - recording post-processing: calls of known length are recorded by an rtpengine child
 *   (`start recording`, pcap), then each capture is rendered into a stereo MP3 with
 *   RtpEnginePcapRenderer, and process.cpuUsage() around render() gives CPU seconds per recorded
 *   minute (and MP3 bytes per minute).
 *
 * The SIP parties are TestUa (src/testing/test-ua.ts) on Switchboard's own SIP stack; the RTP
 * parties are one UDP socket each, paced by one timer for all (the packets of a tick spread over
 * the 20 ms), in this process. The load generator shares the 2 cores with the server and the
 * engine, the same for both servers: compare the two, and see the CPU lines the log prints.
 *
 * `npx tsx bench/media.bench.ts [--quick] [--only kamailio-media,anchored,wide,recording]
 * [--steps 10,25,50]` prints a table.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import {
  findRtpEngineBinary,
  type RtpEngineProcess,
  startRtpEngineProcess,
} from '../src/media/rtpengine-process.js';
import { RtpEnginePcapRenderer } from '../src/recordings/render.js';
import type { RecordingJob } from '../src/recordings/types.js';
import { Dialog } from '../src/sip/dialog.js';
import type { SipResponse } from '../src/sip/message.js';
import { encodeG711, sineTone } from '../src/testing/audio.js';
import { buildRtpPacket, parseRemoteSdp, parseRtpHeader, RtpPeer } from '../src/testing/rtp-peer.js';
import { type IncomingCall, type OutgoingCall, TestUa } from '../src/testing/test-ua.js';
import { freeTcpPort } from '../test/support/platform.js';
import { freeUdpPort } from '../test/support/sipp.js';
import { freeSipPort, type Server, waitForServer } from './calls.bench.js';
import type { BenchResult } from './records.bench.js';

const ROOT = join(import.meta.dirname, '..');
const DOMAIN = 'switchboard.local';
const PASSWORD = 'bench';
const CALLEE = '3000';
/** A step passes when it loses fewer than this share of the packets sent, in each direction. */
const MAX_LOSS = 0.001;
/** A step counts only if the generator sent at least 99 % of the packets due (see generatorLimited). */
const GENERATOR_SLACK = 0.01;
const PACKET_MS = 20;
const KAMAILIO_RTPENGINE_MODULE = '/usr/lib/x86_64-linux-gnu/kamailio/modules/rtpengine.so';
/** Packets a late timer sends at once for one stream; an older backlog is skipped (not sent). */
const MAX_BURST = 10;

export const MEDIA_PHASES = ['kamailio-media', 'anchored', 'wide', 'recording'] as const;
export type MediaPhase = (typeof MEDIA_PHASES)[number];

export function isMediaPhase(name: string): name is MediaPhase {
  return (MEDIA_PHASES as readonly string[]).includes(name);
}

export interface BenchMediaOptions {
  /** Concurrent calls tried in order until one fails. */
  steps?: number[];
  /** The same for the "wide" phase (engines with 20,000 RTP ports). */
  wideSteps?: number[];
  /** Seconds RTP flows on every call of a step. */
  holdSeconds?: number;
  /** A server's ramp stops starting steps after this many seconds. */
  budgetSeconds?: number;
  /** Calls recorded at once, and for how long, for the post-processing figure. */
  recordCalls?: number;
  recordSeconds?: number;
  phases?: ReadonlySet<MediaPhase>;
  log?: (line: string) => void;
}

/** `--steps 10,25,50`: the concurrent call counts a ramp tries, in order. */
export function parseSteps(text: string | undefined): number[] {
  const steps = (text ?? '').split(',').map(Number);
  if (steps.length === 0 || steps.some((step) => !Number.isInteger(step) || step <= 0))
    throw new Error(`--steps expects concurrent calls such as 10,25,50, not ${text}`);
  return steps;
}

// ---- RTP parties ---------------------------------------------------------------------------------

/** 20 ms of a 1000 Hz tone in PCMU: 20 whole periods, so packet after packet is a seamless tone. */
const PAYLOAD = Buffer.from(
  encodeG711(sineTone({ frequency: 1000, sampleRate: 8000, durationMs: PACKET_MS }), 'mulaw'),
);

/** One party's RTP: a socket, the stream it sends, and counts of what it receives. */
class RtpLeg {
  remote?: { address: string; port: number; payloadType: number };
  /** Send offset within the 20 ms period, so that a tick's packets spread over it. */
  offsetMs = 0;
  sent = 0;
  /** Packets owed by a stalled timer beyond MAX_BURST, never sent (so not lost either). */
  skipped = 0;
  sendErrors = 0;
  received = 0;
  gaps = 0;
  /** Datagrams that were not RTP (RTCP) or came from an unexpected source. */
  other = 0;
  private sequence = Math.floor(Math.random() * 0x10000);
  private timestamp = Math.floor(Math.random() * 2 ** 32);
  private readonly ssrc = 1 + Math.floor(Math.random() * (2 ** 32 - 2));
  private readonly lastSequence = new Map<number, number>();
  private counting = false;

  private constructor(
    private readonly socket: Socket,
    readonly port: number,
  ) {
    socket.on('message', (message) => this.onDatagram(message));
    socket.on('error', () => {
      this.sendErrors++;
    });
  }

  static async open(): Promise<RtpLeg> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new RtpLeg(socket, socket.address().port);
  }

  sdp(user: string): Buffer {
    return Buffer.from(
      [
        'v=0',
        `o=${user} ${this.ssrc} 1 IN IP4 127.0.0.1`,
        's=-',
        'c=IN IP4 127.0.0.1',
        't=0 0',
        `m=audio ${this.port} RTP/AVP 0`,
        'a=rtpmap:0 PCMU/8000',
        'a=ptime:20',
        'a=sendrecv',
        '',
      ].join('\r\n'),
    );
  }

  setRemote(sdp: Buffer): void {
    const media = parseRemoteSdp(sdp);
    this.remote = { address: media.address, port: media.port, payloadType: media.payloadType };
  }

  /** Count from now on (what arrived before, e.g. during set-up, is not part of the hold). */
  startCounting(): void {
    this.counting = true;
  }

  stopCounting(): void {
    this.counting = false;
  }

  send(): void {
    const remote = this.remote;
    if (!remote) return;
    const packet = buildRtpPacket({
      payloadType: remote.payloadType,
      sequenceNumber: this.sequence,
      timestamp: this.timestamp,
      ssrc: this.ssrc,
      marker: this.sent === 0,
      payload: PAYLOAD,
    });
    this.sequence = (this.sequence + 1) & 0xffff;
    this.timestamp = (this.timestamp + 160) >>> 0;
    this.sent++;
    this.socket.send(packet, remote.port, remote.address);
  }

  /**
   * Advance the timestamp over packets a stalled timer could not send in time. The sequence number
   * goes on without a gap (RFC 3550: it counts packets sent), so a gap at the receiver is a loss.
   */
  dropOwed(packets: number): void {
    this.skipped += packets;
    this.timestamp = (this.timestamp + 160 * packets) >>> 0;
  }

  private onDatagram(message: Buffer): void {
    const header = parseRtpHeader(message);
    // RTCP's packet types 200–204 read as marker + payload type 72–76.
    if (!header || (header.payloadType >= 72 && header.payloadType <= 76)) {
      this.other++;
      return;
    }
    if (!this.counting) return;
    this.received++;
    const previous = this.lastSequence.get(header.ssrc);
    if (previous !== undefined) {
      const step = (header.sequenceNumber - previous) & 0xffff;
      if (step > 1 && step < 0x8000) this.gaps += step - 1;
      if (step >= 0x8000) return; // late or duplicate: keep the highest
    }
    this.lastSequence.set(header.ssrc, header.sequenceNumber);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/**
 * Every leg sends one packet per 20 ms for `seconds`, each at its own offset in the period; one
 * timer drives them all. Resolves with the worst lateness of the timer.
 */
async function pace(legs: readonly RtpLeg[], seconds: number): Promise<{ maxLateMs: number }> {
  const started = performance.now();
  const endMs = seconds * 1000;
  const sentTicks = new Array<number>(legs.length).fill(0);
  legs.forEach((leg, i) => {
    leg.offsetMs = (i * PACKET_MS) / legs.length;
  });
  let maxLateMs = 0;
  let lastTick = started;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      maxLateMs = Math.max(maxLateMs, now - lastTick - 4);
      lastTick = now;
      const elapsed = Math.min(now - started, endMs);
      legs.forEach((leg, i) => {
        if (elapsed < leg.offsetMs) return;
        const due = Math.min(
          Math.floor((elapsed - leg.offsetMs) / PACKET_MS) + 1,
          Math.floor(endMs / PACKET_MS),
        );
        let owed = due - sentTicks[i]!;
        if (owed > MAX_BURST) {
          leg.dropOwed(owed - MAX_BURST);
          owed = MAX_BURST;
        }
        for (let k = 0; k < owed; k++) leg.send();
        sentTicks[i] = due;
      });
      if (now - started >= endMs) resolve();
      else setTimeout(tick, 4);
    };
    tick();
  });
  return { maxLateMs: Math.round(maxLateMs) };
}

// ---- the servers ---------------------------------------------------------------------------------

interface MediaServer extends Server {
  label: string;
  /** The rtpengine anchoring its calls. */
  enginePid(): number | undefined;
  /** Calls the server still has up (Switchboard's /metrics), or undefined when it cannot say. */
  activeCalls(): Promise<number | undefined>;
}

/**
 * RTP ports of the engines the "wide" phase starts: 20,000 ports (5,000 calls of two legs), below
 * Linux's ephemeral range (32768–60999), where the load generator's sockets are.
 */
const WIDE_PORTS = { portMin: 10_000, portMax: 29_999 };

function mediaTenant(trunkPort: number, engine?: RtpEngineProcess): string {
  // No `media:` key: the platform starts its own rtpengine (the binary is on PATH). With one, the
  // tenant names an engine the benchmark started.
  const media = engine
    ? `media: { rtpengine: "${engine.address}", recordingDir: ${engine.recordingDir} }\n`
    : '';
  return `domain: ${DOMAIN}
${media}postProcessing: { delaySeconds: 0 }
users:
  - { username: admin@bench.local, extension: "1000", password: ${PASSWORD}, role: admin }
  - { username: callee@bench.local, extension: "${CALLEE}", password: ${PASSWORD} }
trunks:
  - { name: loadgen, host: 127.0.0.1, port: ${trunkPort} }
`;
}

async function startSwitchboardWithMedia(
  dir: string,
  trunkPort: number,
  ports?: { portMin: number; portMax: number },
): Promise<MediaServer> {
  // With a port range: an engine of ours with that range, named by the tenant; without, the
  // platform's own child (its range is not configurable: a 1,000-port window).
  const engine = ports
    ? await startRtpEngineProcess({ dataDir: join(dir, 'rtpengine'), ...ports })
    : undefined;
  const config = join(dir, 'media.yaml');
  writeFileSync(config, mediaTenant(trunkPort, engine));
  const sipPort = await freeSipPort();
  const httpPort = await freeTcpPort();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'src/cli.ts'),
      'start',
      '--config',
      config,
      '--data',
      join(dir, 'data'),
      '--sip-port',
      String(sipPort),
      '--http-port',
      String(httpPort),
    ],
    { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'info', VITEST: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let server: Server;
  try {
    server = await waitForServer(child, sipPort, httpPort, 'switchboard ready');
  } catch (err) {
    await engine?.stop();
    throw err;
  }
  // The platform says which engine it started: "media: own rtpengine (pid N) at …".
  const match = /own rtpengine \(pid (\d+)\)/.exec(server.output());
  if (!engine && !match) {
    await server.stop();
    throw new Error(`Switchboard started without its own rtpengine: ${server.output().slice(-3000)}`);
  }
  const pid = engine ? undefined : Number(match![1]);
  return {
    ...server,
    label: 'Switchboard',
    enginePid: () => engine?.pid ?? pid,
    async stop() {
      await server.stop();
      await engine?.stop();
    },
    async activeCalls() {
      const response = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
      const body = (await response.json()) as { calls: { active: number } };
      return body.calls.active;
    },
  };
}

async function startKamailioWithMedia(
  dir: string,
  ports?: { portMin: number; portMax: number },
): Promise<MediaServer> {
  // The platform's flags (startRtpEngineProcess), its default port window unless one is given.
  const engine = await startRtpEngineProcess({ dataDir: join(dir, 'rtpengine'), ...ports });
  const sipPort = await freeSipPort();
  let child: ChildProcess;
  try {
    child = spawn(
      'kamailio',
      [
        '-f',
        join(ROOT, 'bench/kamailio/kamailio-rtpengine.cfg'),
        '-A',
        `RTPENGINE_SOCK="udp:${engine.address}"`,
        '-l',
        `udp:127.0.0.1:${sipPort}`,
        '-DD',
        '-E',
        '-m',
        '256',
        '-M',
        '32',
        '-Y',
        dir,
        '-P',
        join(dir, 'kamailio.pid'),
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } catch (err) {
    await engine.stop();
    throw err;
  }
  const server = await waitForServer(child, sipPort, undefined, undefined);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  if (child.exitCode !== null) {
    await engine.stop();
    throw new Error(`kamailio exited: ${server.output()}`);
  }
  return {
    ...server,
    label: 'Kamailio + rtpengine',
    enginePid: () => engine.pid,
    activeCalls: async () => undefined,
    async stop() {
      await server.stop();
      await engine.stop();
    },
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

// ---- one step: N calls up, RTP both ways, counted --------------------------------------------------

interface StepResult {
  calls: number;
  answered: number;
  failed: number;
  hangupsFailed: number;
  /** Packets sent by the callers / received by the callees, and the other way. */
  aToB: { sent: number; received: number; gaps: number };
  bToA: { sent: number; received: number; gaps: number };
  /** Calls on which one party received nothing at all. */
  silentCalls: number;
  /** Parties whose SDP named another party's port, not the engine's. */
  unanchored: number;
  skipped: number;
  maxLateMs: number;
  /** CPU used during the hold, as a share of one core: the engine, the server, this process. */
  cpu: { engine?: number; server?: number; generator: number };
  passed: boolean;
  /**
   * The load generator (this process) could not send every packet on time (more than 1 % of them
   * skipped: the calls carried less than 99 % of their media): the step says more about the
   * generator, or whatever else loads the machine, than about the server, and ends the ramp.
   */
  generatorLimited: boolean;
  note: string;
}

const lossOf = (d: { sent: number; received: number }) => (d.sent === 0 ? 1 : 1 - d.received / d.sent);
const percent = (share: number) => Math.round(share * 100_000) / 1000;

/** Answer with our own SDP (one RTP leg per call), as IncomingCall.answer does with the UA's. */
function answerWith(ua: TestUa, call: IncomingCall, sdp: Buffer): void {
  call.transaction.respond(
    ua.stack.createResponse(call.invite, 200, 'OK', {
      toTag: call.localTag,
      headers: [['Contact', `<${ua.contactUri}>`]],
      body: sdp,
    }),
  );
  call.dialog = Dialog.fromUas(call.invite, call.localTag, call.transaction.flow, ua.contactUri);
  ua.trackDialog(call.dialog, call);
}

async function runStep(
  server: MediaServer,
  caller: TestUa,
  callee: TestUa,
  calls: number,
  holdSeconds: number,
): Promise<StepResult> {
  const callerLegs: RtpLeg[] = [];
  const calleeLegs: RtpLeg[] = [];
  const opening: Promise<unknown>[] = [];
  callee.onIncoming((call) => {
    opening.push(
      (async () => {
        const leg = await RtpLeg.open();
        calleeLegs.push(leg);
        try {
          leg.setRemote(call.invite.body);
        } catch {
          call.reject(488);
          return;
        }
        answerWith(callee, call, leg.sdp('callee'));
      })(),
    );
  });
  const outgoing: { call: OutgoingCall; leg: RtpLeg; final?: SipResponse }[] = [];
  try {
    // Set up at ≤ 100 calls/s: the figure is calls held, not the set-up rate.
    for (let i = 0; i < calls; i++) {
      const leg = await RtpLeg.open();
      callerLegs.push(leg);
      outgoing.push({ call: caller.call(CALLEE, [], leg.sdp('caller')), leg });
      if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await Promise.all(
      outgoing.map(async (entry) => {
        try {
          entry.final = await entry.call.waitForFinal(15_000);
        } catch {
          // no final answer: counted as failed
        }
      }),
    );
    await Promise.all(opening);
    const answered = outgoing.filter((entry) => entry.final?.status === 200);
    for (const entry of answered) entry.leg.setRemote(entry.final!.body);
    const legs = [...answered.map((entry) => entry.leg), ...calleeLegs.filter((leg) => leg.remote)];
    // Anchored: the SDP each party got names the engine, never another party of ours.
    const ours = new Set([...callerLegs, ...calleeLegs].map((leg) => leg.port));
    const unanchored = legs.filter((leg) => ours.has(leg.remote!.port)).length;
    for (const leg of legs) leg.startCounting();

    const cpuBefore = {
      engine: processCpuSeconds(server.enginePid()),
      server: processCpuSeconds(server.process.pid),
      generator: process.cpuUsage(),
    };
    const holdStarted = performance.now();
    const { maxLateMs } = await pace(legs, holdSeconds);
    const holdSeconds_ = (performance.now() - holdStarted) / 1000;
    const engineAfter = processCpuSeconds(server.enginePid());
    const serverAfter = processCpuSeconds(server.process.pid);
    const generator = process.cpuUsage(cpuBefore.generator);
    // What is still on its way arrives within a few ms on loopback; give it a second.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    for (const leg of legs) leg.stopCounting();
    const share = (before: number | undefined, after: number | undefined) =>
      before === undefined || after === undefined
        ? undefined
        : Math.round(((after - before) / holdSeconds_) * 100) / 100;

    const sum = (from: RtpLeg[], to: RtpLeg[]) => ({
      sent: from.reduce((n, leg) => n + leg.sent, 0),
      received: to.reduce((n, leg) => n + leg.received, 0),
      gaps: to.reduce((n, leg) => n + leg.gaps, 0),
    });
    const answeredCallerLegs = answered.map((entry) => entry.leg);
    const answeredCalleeLegs = calleeLegs.filter((leg) => leg.remote);
    const aToB = sum(answeredCallerLegs, answeredCalleeLegs);
    const bToA = sum(answeredCalleeLegs, answeredCallerLegs);
    const silentCalls =
      answeredCallerLegs.filter((leg) => leg.received === 0).length +
      answeredCalleeLegs.filter((leg) => leg.received === 0).length;
    const skipped = legs.reduce((n, leg) => n + leg.skipped, 0);

    // Hang up every answered call (the caller sends BYE), ≤ 100 per second.
    let hangupsFailed = 0;
    const hangups: Promise<void>[] = [];
    for (const [i, entry] of answered.entries()) {
      hangups.push(
        entry.call.hangup().then((response) => {
          if (response.status !== 200) hangupsFailed++;
        }),
      );
      if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await Promise.all(hangups);

    const failed = calls - answered.length;
    const passed =
      failed === 0 &&
      hangupsFailed === 0 &&
      unanchored === 0 &&
      lossOf(aToB) < MAX_LOSS &&
      lossOf(bToA) < MAX_LOSS;
    const statuses = new Map<string, number>();
    for (const entry of outgoing)
      if (entry.final?.status !== 200) {
        const key = String(entry.final?.status ?? 'no answer');
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
      }
    const note = [...statuses].map(([status, count]) => `${count}× ${status}`).join(', ');
    return {
      calls,
      answered: answered.length,
      failed,
      hangupsFailed,
      aToB,
      bToA,
      silentCalls,
      unanchored,
      skipped,
      maxLateMs,
      cpu: {
        engine: share(cpuBefore.engine, engineAfter),
        server: share(cpuBefore.server, serverAfter),
        generator: Math.round(((generator.user + generator.system) / 1e6 / holdSeconds_) * 100) / 100,
      },
      passed,
      generatorLimited: skipped / Math.max(1, skipped + aToB.sent + bToA.sent) > GENERATOR_SLACK,
      note,
    };
  } finally {
    callee.onIncoming((call) => call.reject(480));
    await Promise.all(opening);
    await Promise.all([...callerLegs, ...calleeLegs].map((leg) => leg.close()));
  }
}

/** Wait until the server has no call left (Switchboard says; for Kamailio a fixed pause). */
async function drain(server: MediaServer, log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const active = await server.activeCalls();
    if (active === undefined || active === 0) break;
    if (Date.now() > deadline) {
      log(`${server.label}: ${active} calls still up 30 s after the hang-ups`);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
}

interface RampResult {
  best: number;
  /** The passing step's figures (the highest), for the loss rows. */
  bestStep?: StepResult;
  /** The first failing step, if any. */
  failedStep?: StepResult;
  stoppedByBudget: boolean;
  /** The step at which the load generator fell behind (the ramp ended there). */
  generatorLimitedAt?: number;
}

async function ramp(
  server: MediaServer,
  callerPort: number | undefined,
  steps: number[],
  holdSeconds: number,
  budgetSeconds: number,
  log: (line: string) => void,
): Promise<RampResult> {
  const callee = await TestUa.overUdp(
    { host: '127.0.0.1', port: server.sipPort },
    { extension: CALLEE, password: PASSWORD, domain: DOMAIN },
  );
  const caller = await TestUa.overUdp(
    { host: '127.0.0.1', port: server.sipPort },
    { extension: '+358501000001', password: 'none', domain: DOMAIN },
    { port: callerPort },
  );
  const started = Date.now();
  const result: RampResult = { best: 0, stoppedByBudget: false };
  try {
    const registered = await callee.register(3600);
    if (registered.status !== 200)
      throw new Error(`${server.label}: REGISTER ${CALLEE} → ${registered.status}`);
    for (let i = 0, retried = false; i < steps.length; i++) {
      const calls = steps[i]!;
      if ((Date.now() - started) / 1000 > budgetSeconds) {
        log(`${server.label}: ${Math.round((Date.now() - started) / 1000)} s spent, no more steps`);
        result.stoppedByBudget = true;
        break;
      }
      const step = await runStep(server, caller, callee, calls, holdSeconds);
      const skippedShare = step.skipped / Math.max(1, step.skipped + step.aToB.sent + step.bToA.sent);
      const cpu = `CPU (cores): engine ${step.cpu.engine ?? '?'}, ${server.label === 'Switchboard' ? 'Switchboard' : 'Kamailio main'} ${step.cpu.server ?? '?'}, load generator ${step.cpu.generator}`;
      log(
        `${server.label}: ${calls} calls → ${step.answered} answered${step.note ? ` (${step.note})` : ''}, ` +
          `loss A→B ${percent(lossOf(step.aToB))} % (${step.aToB.received}/${step.aToB.sent}, gaps ${step.aToB.gaps}), ` +
          `B→A ${percent(lossOf(step.bToA))} % (${step.bToA.received}/${step.bToA.sent}, gaps ${step.bToA.gaps}), ` +
          `silent legs ${step.silentCalls}, unanchored ${step.unanchored}, BYE failures ${step.hangupsFailed}, skipped ${step.skipped} (${percent(skippedShare)} %), ` +
          `timer late ≤ ${step.maxLateMs} ms; ${cpu}; load average ${loadavg()[0]!.toFixed(1)} ${step.passed ? 'ok' : 'FAIL'}`,
      );
      await drain(server, log);
      if (step.generatorLimited && !retried) {
        // Something else on the machine may have stalled this process for a moment: once more.
        log(`${server.label}: at ${calls} calls the load generator fell behind: once more`);
        retried = true;
        i--;
        continue;
      }
      if (step.generatorLimited) {
        log(`${server.label}: at ${calls} calls the load generator fell behind again: the ramp ends here`);
        result.generatorLimitedAt = calls;
        break;
      }
      if (!step.passed) {
        result.failedStep = step;
        break;
      }
      if (calls === steps.at(-1)) log(`${server.label}: every step passed, ${calls} is a lower bound`);
      result.best = calls;
      result.bestStep = step;
    }
  } finally {
    await caller.close();
    await callee.close();
  }
  return result;
}

// ---- recording post-processing -------------------------------------------------------------------

interface RecordingFigures {
  recordedMinutes: number;
  cpuSeconds: number;
  wallSeconds: number;
  mp3Bytes: number;
  renders: number;
}

/**
 * `calls` calls of `seconds` recorded at once by an rtpengine child with the platform's flags
 * (RtpEngine offer/answer/startRecording/delete, as call control drives it; a tone each way), then
 * every capture rendered to MP3 in this process, one after the other, under process.cpuUsage().
 */
async function benchRecording(
  dir: string,
  calls: number,
  seconds: number,
  log: (line: string) => void,
): Promise<RecordingFigures> {
  const proc = await startRtpEngineProcess({ dataDir: join(dir, 'rtpengine-rec') });
  const media = proc.createEngine();
  const jobs: RecordingJob[] = [];
  try {
    await Promise.all(
      Array.from({ length: calls }, async (_, i) => {
        const callId = `bench-rec-${process.pid}-${i}`;
        const aLegId = `leg-A-${i}`;
        const bLegId = `leg-B-${i}`;
        const caller = await RtpPeer.open();
        const callee = await RtpPeer.open();
        try {
          callee.setRemote(
            await media.offer({
              callId,
              fromTag: aLegId,
              sdp: Buffer.from(caller.sdp('caller')),
              toward: 'rtp',
            }),
          );
          caller.setRemote(
            await media.answer({
              callId,
              fromTag: aLegId,
              toTag: bLegId,
              sdp: Buffer.from(callee.sdp('callee')),
              toward: 'rtp',
            }),
          );
          caller.startTone(1000);
          callee.startTone(500);
          const startedMs = Date.now();
          await media.startRecording(callId);
          await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
          caller.stop();
          callee.stop();
          await media.delete(callId);
          jobs.push({
            recordingId: `rec-${i}`,
            callId,
            owner: { kind: 'user', userId: 'bench' },
            aLegId,
            bLegId,
            partyUserIds: ['bench'],
            startedMs,
            endedMs: Date.now(),
          });
        } finally {
          await caller.close();
          await callee.close();
        }
      }),
    );
  } finally {
    await media.close();
    await proc.stop();
  }
  const renderer = new RtpEnginePcapRenderer({ recordingDir: proc.recordingDir });
  // One render first, not counted: the worker is a long-lived process, its code already compiled.
  await renderer.render(jobs[0]!);
  const figures: RecordingFigures = {
    recordedMinutes: 0,
    cpuSeconds: 0,
    wallSeconds: 0,
    mp3Bytes: 0,
    renders: 0,
  };
  for (const job of jobs) {
    const cpu = process.cpuUsage();
    const wall = performance.now();
    const { mp3, durationMs } = await renderer.render(job);
    const used = process.cpuUsage(cpu);
    figures.wallSeconds += (performance.now() - wall) / 1000;
    figures.cpuSeconds += (used.user + used.system) / 1e6;
    figures.recordedMinutes += durationMs / 60_000;
    figures.mp3Bytes += mp3.length;
    figures.renders++;
    log(
      `recording ${job.recordingId}: ${(durationMs / 1000).toFixed(1)} s → ${mp3.length} B MP3 in ${((used.user + used.system) / 1e6).toFixed(3)} CPU s`,
    );
  }
  return figures;
}

// ---- the suite -----------------------------------------------------------------------------------

const ALL: ReadonlySet<MediaPhase> = new Set(MEDIA_PHASES);

export async function benchMedia(opts: BenchMediaOptions = {}): Promise<BenchResult[]> {
  const log = opts.log ?? (() => {});
  const steps = opts.steps ?? [10, 25, 50, 100, 150, 200, 250, 300];
  const wideSteps = opts.wideSteps ?? [300, 500, 700, 900];
  const holdSeconds = opts.holdSeconds ?? 15;
  const budgetSeconds = opts.budgetSeconds ?? 180;
  const phases = opts.phases ?? ALL;
  const results: BenchResult[] = [];
  if (!findRtpEngineBinary()) {
    log('media: rtpengine is not installed (apt-get install rtpengine-daemon); nothing measured');
    return results;
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-media-'));
  const label = `${holdSeconds} s of RTP both ways, < ${MAX_LOSS * 100} % loss`;
  const lossRows = (who: string, step: StepResult | undefined): BenchResult[] =>
    step
      ? [
          {
            name: `RTP loss caller → callee at ${step.calls} calls, ${who}`,
            value: percent(lossOf(step.aToB)),
            unit: '%',
          },
          {
            name: `RTP loss callee → caller at ${step.calls} calls, ${who}`,
            value: percent(lossOf(step.bToA)),
            unit: '%',
          },
        ]
      : [];
  /** One ramp through Kamailio + rtpengine, then Switchboard; rows for each and their ratio. */
  const pair = async (
    variant: { kamailio: boolean; switchboard: boolean; steps: number[]; ports?: typeof WIDE_PORTS },
    names: { kamailio: string; switchboard: string; suffix: string },
  ) => {
    let reference: number | undefined;
    const rows = (who: string, ramped: RampResult): BenchResult[] => [
      // No step passed because the generator could not drive the first one: there is no figure.
      ...(ramped.best === 0 && ramped.generatorLimitedAt
        ? []
        : [{ name: `anchored calls (${label})${names.suffix}, ${who}`, value: ramped.best, unit: 'calls' }]),
      ...(ramped.failedStep
        ? [
            {
              name: `anchored calls${names.suffix}, first failing step, ${who}`,
              value: ramped.failedStep.calls,
              unit: 'calls',
            },
          ]
        : []),
      ...(ramped.generatorLimitedAt
        ? [
            {
              name: `anchored calls${names.suffix}, step the load generator could not drive, ${who}`,
              value: ramped.generatorLimitedAt,
              unit: 'calls',
            },
          ]
        : []),
      ...lossRows(`${who}${names.suffix}`, ramped.bestStep),
    ];
    if (variant.kamailio) {
      if (!existsSync(KAMAILIO_RTPENGINE_MODULE))
        log(
          `media: Kamailio's rtpengine module is not installed (${KAMAILIO_RTPENGINE_MODULE}): no reference`,
        );
      else {
        const kamailio = await startKamailioWithMedia(mkdtempSync(join(dir, 'kamailio-')), variant.ports);
        let ramped: RampResult;
        try {
          ramped = await ramp(kamailio, undefined, variant.steps, holdSeconds, budgetSeconds, log);
        } finally {
          await kamailio.stop();
        }
        reference = ramped.best;
        results.push(...rows(names.kamailio, ramped));
      }
    }
    if (variant.switchboard) {
      const trunkPort = await freeUdpPort();
      const switchboard = await startSwitchboardWithMedia(
        mkdtempSync(join(dir, 'switchboard-')),
        trunkPort,
        variant.ports,
      );
      let ramped: RampResult;
      try {
        ramped = await ramp(switchboard, trunkPort, variant.steps, holdSeconds, budgetSeconds, log);
      } finally {
        await switchboard.stop();
      }
      results.push(...rows(names.switchboard, ramped));
      if (reference)
        results.push({
          name: `anchored calls${names.suffix}, Switchboard / Kamailio + rtpengine`,
          value: Math.round((ramped.best / reference) * 100),
          unit: '%',
        });
    }
  };
  try {
    if (phases.has('kamailio-media') || phases.has('anchored'))
      await pair(
        { kamailio: phases.has('kamailio-media'), switchboard: phases.has('anchored'), steps },
        {
          kamailio: 'Kamailio + rtpengine (reference)',
          switchboard: 'Switchboard + own rtpengine',
          suffix: '',
        },
      );
    // The engines' 1,000-port window caps both at 250 calls: the same load again with 20,000 ports
    // (Switchboard's engine then named by the tenant), to find where the media path itself gives.
    if (phases.has('wide'))
      await pair(
        { kamailio: true, switchboard: true, steps: wideSteps, ports: WIDE_PORTS },
        {
          kamailio: 'Kamailio + rtpengine (reference)',
          switchboard: 'Switchboard + tenant-named rtpengine',
          suffix: ', 20,000 RTP ports',
        },
      );
    if (phases.has('recording')) {
      const calls = opts.recordCalls ?? 3;
      const seconds = opts.recordSeconds ?? 40;
      const figures = await benchRecording(dir, calls, seconds, log);
      const perMinute = (value: number) => value / figures.recordedMinutes;
      const what = `${figures.renders} recordings, ${figures.recordedMinutes.toFixed(2)} min, rtpengine pcap → stereo MP3`;
      results.push(
        {
          name: `recording post-processing CPU per recorded minute (${what})`,
          value: Math.round(perMinute(figures.cpuSeconds) * 1000) / 1000,
          unit: 'CPU s/min',
        },
        {
          name: 'recording post-processing wall time per recorded minute',
          value: Math.round(perMinute(figures.wallSeconds) * 1000) / 1000,
          unit: 's/min',
        },
        {
          name: 'recording MP3 size per recorded minute (32 kbps)',
          value: Math.round(perMinute(figures.mp3Bytes) / 1024),
          unit: 'KiB/min',
        },
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const quick = process.argv.includes('--quick');
  const only = process.argv.indexOf('--only');
  const phases = only >= 0 ? process.argv[only + 1]!.split(',') : undefined;
  const unknown = phases?.filter((name) => !isMediaPhase(name)) ?? [];
  if (unknown.length > 0)
    throw new Error(`unknown phase ${unknown.join(', ')}: expected ${MEDIA_PHASES.join(', ')}`);
  const stepsIndex = process.argv.indexOf('--steps');
  const steps = stepsIndex >= 0 ? parseSteps(process.argv[stepsIndex + 1]) : undefined;
  const rows = await benchMedia({
    phases: phases ? new Set(phases as MediaPhase[]) : undefined,
    steps: steps ?? (quick ? [10, 25] : undefined),
    wideSteps: steps ?? (quick ? [50] : undefined),
    holdSeconds: quick ? 5 : undefined,
    recordCalls: quick ? 2 : undefined,
    recordSeconds: quick ? 10 : undefined,
    log: (line) => console.error(line),
  });
  console.table(rows);
}
