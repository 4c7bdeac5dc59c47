/**
 * Call throughput and the things measured under call load:
 *
 * - direct calls: sipp places INVITE→200→ACK→BYE calls to a user registered (with digest auth) by
 *   another sipp instance, through Switchboard; the rate is ramped to the highest that keeps
 *   failed calls under 0.1 % for 10 s. The same load then goes through a Kamailio stateful proxy
 *   (bench/kamailio/kamailio.cfg) in the same run, and Switchboard's rate is reported as a ratio;
 * - the same direct calls over TCP, against both servers: the callee registers a Contact with
 *   ;transport=tcp and listens on TCP, the caller sends its INVITEs over TCP. sipp runs with
 *   `-t t1`, one connection per peer carrying every call, as a trunk or an SBC (and a phone) keeps
 *   one connection: so the figure is SIP over a stream, message framing included, not TCP
 *   handshakes and TIME_WAIT churn in the loopback kernel (that `-t tn`, one connection per call,
 *   would mostly measure, the same for both servers, and at 1,000 calls/s would run into
 *   connection limits and sipp's open-file limit rather than the servers' call handling);
 * - queue calls: sipp callers → a queue → registered sipp agents answering; then with one decline
 *   before each answer;
 * - post-processing freshness at 50 % of the highest direct rate: a call's end (fact time) → its
 *   record visible over REST, p50/p99;
 * - memory: resident and heap bytes per established call with N calls up.
 *
 * Switchboard runs as its own process (`switchboard start`), as in production. Everything talks
 * over loopback; every load is bounded in count and time.
 * `npx tsx bench/calls.bench.ts [--quick] [--only kamailio,direct,kamailio-tcp,direct-tcp,…]
 * [--rates 100,200,…]` prints a table.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { spawnKamailio } from '../test/support/kamailio.js';
import { freeTcpPort, RestClient } from '../test/support/platform.js';
import {
  freeUdpPort,
  loadScenario,
  runSipp,
  type SippResult,
  type SippTransport,
  startSipp,
} from '../test/support/sipp.js';
import type { BenchResult } from './records.bench.js';

const ROOT = join(import.meta.dirname, '..');
export const DOMAIN = 'switchboard.local';
export const PASSWORD = 'bench';
const STEP_SECONDS = 10;
/** The extension called over TCP (3000 is called over UDP; agents are 3001…). */
const TCP_CALLEE = '4000';

const scenario = (name: string) => readFileSync(join(ROOT, 'bench', 'scenarios', `${name}.xml`), 'utf8');

export interface BenchCallsOptions {
  /** Rates (calls/s) tried in order until one fails. */
  rates?: number[];
  /** Agents in the queue benchmark. */
  agents?: number;
  /** Calls held up for the memory measurement. */
  memoryCalls?: number;
  /** Which parts to run (default all). */
  phases?: ReadonlySet<Phase>;
  log?: (line: string) => void;
}

export const PHASES = [
  'kamailio',
  'direct',
  'kamailio-tcp',
  'direct-tcp',
  'freshness',
  'queue',
  'memory',
] as const;
export type Phase = (typeof PHASES)[number];
const ALL_PHASES: ReadonlySet<Phase> = new Set(PHASES);

export function isPhase(name: string): name is Phase {
  return (PHASES as readonly string[]).includes(name);
}

/** The transport a sipp peer uses, with what it needs to be reached over it. */
export type Transport = 'udp' | 'tcp';
function sippTransport(transport: Transport): {
  transport: SippTransport;
  variables: Record<string, string>;
} {
  // -t t1: one connection, sipp listens on its -p port; its Contact says TCP so that requests
  // for it (the INVITE to the callee, ACK and BYE in dialog) come over TCP. Over UDP the variable
  // is unset (sipp makes it empty), so those messages are byte for byte what they always were.
  return transport === 'tcp'
    ? { transport: 't1', variables: { contactParams: ';transport=tcp' } }
    : { transport: 'u1', variables: {} };
}

/** A port free for both UDP and TCP right now (SIP servers listen on both; sipp peers on either). */
export async function freeSipPort(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = await freeUdpPort();
    try {
      await new Promise<void>((resolve, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
      });
      return port;
    } catch (err) {
      if (attempt >= 20) throw err;
    }
  }
}

export interface Server {
  sipPort: number;
  httpPort?: number;
  process: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

function benchTenant(trunkPort: number, agents: number): string {
  const users = [
    `  - { username: admin@bench.local, extension: "1000", password: ${PASSWORD}, role: admin }`,
    `  - { username: admin2@bench.local, extension: "1010", password: ${PASSWORD}, role: admin }`,
    `  - { username: admin3@bench.local, extension: "1020", password: ${PASSWORD}, role: admin }`,
    `  - { username: callee@bench.local, extension: "3000", password: ${PASSWORD}, number: "+35830000" }`,
    // The callee over TCP: its own extension, so that its binding never forks calls to the UDP one.
    `  - { username: tcpcallee@bench.local, extension: "${TCP_CALLEE}", password: ${PASSWORD} }`,
    `  - { username: decliner@bench.local, extension: "3999", password: ${PASSWORD} }`,
  ];
  const agentNames: string[] = [];
  for (let i = 1; i <= agents; i++) {
    users.push(`  - { username: agent${i}@bench.local, extension: "${3000 + i}", password: ${PASSWORD} }`);
    agentNames.push(`agent${i}@bench.local`);
  }
  return `domain: ${DOMAIN}
postProcessing: { delaySeconds: 0 }
users:
${users.join('\n')}
queues:
  - { name: Bench, extension: "200", members: [${agentNames.join(', ')}], strategy: longest-idle, allocationTimeoutSeconds: 10, maxWaitSeconds: 30 }
  - { name: BenchDecline, extension: "201", members: [decliner@bench.local, ${agentNames.join(', ')}], strategy: sequential, allocationTimeoutSeconds: 10, maxWaitSeconds: 30 }
trunks:
  - { name: loadgen, host: 127.0.0.1, port: ${trunkPort} }
`;
}

async function startSwitchboard(dir: string, trunkPort: number, agents: number): Promise<Server> {
  const config = join(dir, 'bench.yaml');
  writeFileSync(config, benchTenant(trunkPort, agents));
  const sipPort = await freeSipPort();
  const httpPort = await freeTcpPort();
  const child = spawn(
    process.execPath,
    [
      // --expose-gc lets the memory measurement ask for a full collection (GET /metrics?gc=1).
      '--expose-gc',
      ...(process.env.SWITCHBOARD_CPU_PROF
        ? ['--cpu-prof', '--cpu-prof-dir', process.env.SWITCHBOARD_CPU_PROF]
        : []),
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
  return waitForServer(child, sipPort, httpPort, 'switchboard ready');
}

async function startKamailio(): Promise<Server> {
  // Memory for the benchmark's load: thousands of transactions and registrations in flight.
  const kamailio = await spawnKamailio({
    cfg: join(ROOT, 'bench/kamailio/kamailio.cfg'),
    memoryMb: { shared: 256, private: 32 },
  });
  return { sipPort: kamailio.port, process: kamailio.process, output: kamailio.output, stop: kamailio.stop };
}

export function waitForServer(
  child: ChildProcess,
  sipPort: number,
  httpPort: number | undefined,
  readyText: string | undefined,
): Promise<Server> {
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output = (output + chunk).slice(-20_000);
  });
  child.stderr?.on('data', (chunk) => {
    output = (output + chunk).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const server: Server = {
    sipPort,
    httpPort,
    process: child,
    output: () => output,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
  if (!readyText) return Promise.resolve(server);
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`not ready in 30 s: ${output}`)), 30_000);
    const check = setInterval(() => {
      if (output.includes(readyText)) {
        clearInterval(check);
        clearTimeout(deadline);
        resolve(server);
      } else if (child.exitCode !== null) {
        clearInterval(check);
        clearTimeout(deadline);
        reject(new Error(`exited before ready: ${output}`));
      }
    }, 50);
  });
}

/**
 * REGISTER `extension` (digest) with the contact at `port`, from that port. Over TCP the Contact
 * carries ;transport=tcp: the server reaches the binding by opening a connection to it.
 */
export async function register(
  server: Server,
  extension: string,
  port: number,
  transport: Transport = 'udp',
): Promise<void> {
  const sipp = sippTransport(transport);
  const result = await runSipp({
    scenario: loadScenario('register'),
    name: `register-${extension}`,
    remote: { host: '127.0.0.1', port: server.sipPort },
    localPort: port,
    transport: sipp.transport,
    service: extension,
    authUser: extension,
    authPassword: PASSWORD,
    variables: { domain: DOMAIN, expires: 3600, ...sipp.variables },
    traceMessages: false,
  });
  if (!result.ok)
    throw new Error(
      `REGISTER ${extension} failed (exit ${result.exitCode}): ${result.errorLog.slice(0, 2000)}`,
    );
}

export interface StepResult {
  rate: number;
  calls: number;
  failed: number;
  seconds: number;
  passed: boolean;
  /** The start of sipp's complaints (stderr, error log) when the step failed. */
  errors: string;
  /** With `setupTimes`: INVITE sent → 200 received (ms) of each answered call, sorted. */
  setupMs: number[];
}

/** `--rates 100,200,400`: the rates a ramp tries, in order. */
export function parseRates(text: string | undefined): number[] {
  const rates = (text ?? '').split(',').map(Number);
  if (rates.length === 0 || rates.some((rate) => !Number.isInteger(rate) || rate <= 0))
    throw new Error(`--rates expects calls per second such as 100,200,400, not ${text}`);
  return rates;
}

/** A sipp peer: its port and the transport it talks over. */
export interface Peer {
  port: number;
  transport: Transport;
}

export interface StepOptions {
  /** How long calls are placed (default 10 s). */
  seconds?: number;
  /** ACK → BYE (ms, default 0). */
  holdMs?: number;
  /** Collect each call's setup time (sipp's INVITE → 200 rtd) into `setupMs`. */
  setupTimes?: boolean;
}

/**
 * `rate` calls/s for `seconds` from `caller` to `service` at `server`. Sustained: fewer than
 * 0.1 % failed and the calls fit in the step (sipp kept up with the rate).
 */
export async function loadStep(
  server: Server,
  caller: Peer,
  service: string,
  rate: number,
  opts: StepOptions = {},
): Promise<StepResult> {
  const seconds = opts.seconds ?? STEP_SECONDS;
  const hold = opts.holdMs ?? 0;
  const calls = Math.round(rate * seconds);
  const started = performance.now();
  const sipp = sippTransport(caller.transport);
  const result: SippResult = await runSipp({
    scenario: scenario('bench-uac'),
    name: 'bench-uac',
    remote: { host: '127.0.0.1', port: server.sipPort },
    localPort: caller.port,
    transport: sipp.transport,
    service,
    rate,
    calls,
    callLimit: Math.max(200, rate * 4),
    variables: { domain: DOMAIN, ...sipp.variables },
    recvTimeoutMs: 8000,
    timeoutMs: (seconds + 40) * 1000,
    traceMessages: false,
    responseTimes: opts.setupTimes,
    args: ['-d', String(hold), '-max_recv_loops', '10000', '-max_sched_loops', '10000'],
  });
  const elapsed = (performance.now() - started) / 1000;
  const done = result.successfulCalls + result.failedCalls;
  const failed = result.failedCalls + Math.max(0, calls - done);
  // Sustained: fewer than 0.1 % failures and the calls fit in the step (sipp kept up with the rate).
  // The last call starts at `seconds` and lasts milliseconds (plus the hold): a step that needs much
  // longer means sipp could not place calls at the rate (the server answered too slowly).
  const passed = failed / calls < 0.001 && elapsed <= seconds * 1.1 + 1.5 + hold / 1000;
  // sipp's error log when it has one (unexpected messages, timeouts), else its stderr (it could not
  // connect, bad arguments…); its first lines tell why calls failed.
  const complaint = (result.errorLog.trim() || result.stderr.trim()).slice(0, 800);
  const errors = passed ? '' : `sipp exit ${result.exitCode ?? result.signal}; ${complaint}`;
  const setupMs = [...result.responseTimesMs].sort((a, b) => a - b);
  return { rate, calls, failed, seconds: Math.round(elapsed * 10) / 10, passed, errors, setupMs };
}

/**
 * Wait until the server has no call left (a failed step can leave calls queued or unacknowledged
 * for up to maxWaitSeconds / 64·T1), so that one phase's leftovers do not load the next.
 */
export async function drain(server: Server, log: (line: string) => void, timeoutMs = 150_000): Promise<void> {
  if (!server.httpPort) return;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`);
    const { calls } = (await response.json()) as { calls: { active: number } };
    if (calls.active === 0) return;
    if (Date.now() > deadline) {
      log(`drain: ${calls.active} calls still up after ${timeoutMs / 1000} s`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

export interface RampOptions extends Omit<StepOptions, 'seconds'> {
  /** A step also fails when its setup time p99 exceeds this (ms; needs `setupTimes`). */
  maxSetupP99Ms?: number;
  /** Wait for the servers to be idle between steps (default: `drain(server)`). */
  settle?: () => Promise<void>;
  /** Called before each step is placed, and with each step's result. */
  beforeStep?: (rate: number) => void;
  afterStep?: (step: StepResult) => void;
}

/** The highest of `rates` (tried in order until one fails) that `server` sustains. */
export async function ramp(
  label: string,
  server: Server,
  caller: Peer,
  service: string,
  rates: number[],
  log: (line: string) => void,
  opts: RampOptions = {},
): Promise<number> {
  let best = 0;
  for (const rate of rates) {
    opts.beforeStep?.(rate);
    const step = await loadStep(server, caller, service, rate, opts);
    const p99 = percentile(step.setupMs, 99);
    let latency = '';
    if (opts.setupTimes) {
      latency = `, setup p50 ${percentile(step.setupMs, 50).toFixed(1)} ms p99 ${p99.toFixed(1)} ms`;
      if (opts.maxSetupP99Ms !== undefined && step.passed && !(p99 <= opts.maxSetupP99Ms)) {
        step.passed = false;
        step.errors = `setup p99 ${p99.toFixed(1)} ms over ${opts.maxSetupP99Ms} ms`;
      }
    }
    opts.afterStep?.(step);
    log(
      `${label}: ${rate} calls/s → ${step.failed} of ${step.calls} failed in ${step.seconds} s${latency} ${step.passed ? 'ok' : 'FAIL'}`,
    );
    if (!step.passed && step.errors) log(`${label}: ${step.errors}`);
    // Let calls, retransmission timers and wait states drain between steps.
    await (opts.settle ? opts.settle() : drain(server, log));
    await new Promise((resolve) => setTimeout(resolve, 2000));
    if (!step.passed) break;
    best = rate;
  }
  return best;
}

/** A long-running sipp user agent server (answering or declining) on `port`, until stopped. */
export function startAnswering(
  scenarioName: string,
  name: string,
  port: number,
  transport: Transport = 'udp',
) {
  const sipp = sippTransport(transport);
  return startSipp({
    scenario: scenario(scenarioName),
    name,
    localPort: port,
    transport: sipp.transport,
    variables: sipp.variables,
    calls: 10_000_000,
    callLimit: 100_000,
    timeoutMs: 3_600_000,
    traceMessages: false,
  });
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Poll REST for records modified since the load began; note when each call's record first shows. */
async function measureFreshness(
  server: Server,
  callerPort: number,
  rate: number,
  log: (line: string) => void,
): Promise<{ p50: number; p99: number; samples: number }> {
  // Three admins poll in turn every 20 ms: the API's per-credential limit is 20 requests/s each.
  const base = `http://127.0.0.1:${server.httpPort}/`;
  const admins = await Promise.all(
    ['admin', 'admin2', 'admin3'].map((name) => RestClient.signIn(base, `${name}@bench.local`, PASSWORD)),
  );
  const firstSeen = new Map<string, { seenMs: number; endMs: number }>();
  let polling = true;
  const sinceMs = Date.now();
  const since = new Date(sinceMs - 1000).toISOString();
  const poller = (async () => {
    for (let turn = 0; polling; turn++) {
      const until = new Date(Date.now() + 60_000).toISOString();
      const events = await admins[turn % admins.length]!.list<{ CallId: string; EndTime: string | null }>(
        '/calls',
        { ModifiedAfter: since, ModifiedBefore: until },
      );
      const now = Date.now();
      for (const event of events) {
        if (!event.EndTime || firstSeen.has(event.CallId)) continue;
        const endMs = Date.parse(event.EndTime);
        // Only calls that ended while we watched: stragglers of earlier steps would skew it.
        if (endMs < sinceMs) continue;
        firstSeen.set(event.CallId, { seenMs: now, endMs });
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const step = await loadStep(server, { port: callerPort, transport: 'udp' }, '3000', rate);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  polling = false;
  await poller;
  const lags = [...firstSeen.values()].map((s) => s.seenMs - s.endMs).sort((a, b) => a - b);
  log(
    `freshness at ${rate} calls/s: ${lags.length} records seen (${step.calls} calls placed, ${step.failed} failed)`,
  );
  return { p50: percentile(lags, 50), p99: percentile(lags, 99), samples: lags.length };
}

async function metrics(server: Server): Promise<{ rss: number; heapUsed: number; active: number }> {
  // A full collection first, so that the figures are live memory, not garbage not yet collected.
  const response = await fetch(`http://127.0.0.1:${server.httpPort}/metrics?gc=1`);
  const body = (await response.json()) as {
    memory: { rss: number; heapUsed: number };
    calls: { active: number };
  };
  return { rss: body.memory.rss, heapUsed: body.memory.heapUsed, active: body.calls.active };
}

async function measureMemory(
  server: Server,
  callerPort: number,
  calls: number,
  log: (line: string) => void,
): Promise<{ rssPerCall: number; heapPerCall: number; established: number }> {
  // Transactions of earlier phases linger up to 64·T1 = 32 s: let them drain for a clean baseline.
  const gcSettle = () => new Promise((resolve) => setTimeout(resolve, 35_000));
  await gcSettle();
  const before = await metrics(server);
  const rate = 500;
  // Calls stay up long enough to be sampled after the set-up transactions are gone (64·T1 after
  // the last call started), so the figure is what an established call costs.
  const rampMs = Math.ceil(calls / rate) * 1000;
  const holdMs = rampMs + 50_000;
  const load = runSipp({
    scenario: scenario('bench-uac'),
    name: 'bench-hold',
    remote: { host: '127.0.0.1', port: server.sipPort },
    localPort: callerPort,
    service: '3000',
    rate,
    calls,
    callLimit: calls,
    variables: { domain: DOMAIN },
    recvTimeoutMs: 10_000,
    timeoutMs: holdMs + 120_000,
    traceMessages: false,
    args: ['-d', String(holdMs)],
  });
  // Wait until every call is up (or the count stops growing), then sample.
  let last = -1;
  let peak = before;
  for (let i = 0; i < 120; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    peak = await metrics(server);
    if (peak.active >= calls || (peak.active === last && peak.active > 0)) break;
    last = peak.active;
  }
  await new Promise((resolve) => setTimeout(resolve, 36_000));
  const up = await metrics(server);
  if (up.active === 0) {
    const result = await load;
    log(
      `memory load: ${result.successfulCalls} ok, ${result.failedCalls} failed; ${result.errorLog.slice(0, 1500)}`,
    );
  }
  log(
    `memory: ${up.active} calls up; rss ${(before.rss / 1e6).toFixed(1)} → ${(up.rss / 1e6).toFixed(1)} MB, heap ${(before.heapUsed / 1e6).toFixed(1)} → ${(up.heapUsed / 1e6).toFixed(1)} MB`,
  );
  await load;
  return {
    rssPerCall: Math.round((up.rss - before.rss) / Math.max(1, up.active)),
    heapPerCall: Math.round((up.heapUsed - before.heapUsed) / Math.max(1, up.active)),
    established: up.active,
  };
}

export async function benchCalls(opts: BenchCallsOptions = {}): Promise<BenchResult[]> {
  const log = opts.log ?? (() => {});
  const rates = opts.rates ?? [100, 200, 300, 400, 500, 600, 800, 1000, 1200, 1500, 2000];
  const agents = opts.agents ?? 20;
  const results: BenchResult[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'bench-calls-'));
  // The caller's port is also the trunk's (Switchboard trusts a trunk by address and port; over TCP
  // by the top Via's sent-by port, the port sipp listens on): free for UDP and TCP both.
  const callerPort = await freeSipPort();
  const calleePort = await freeUdpPort();
  const calleeTcpPort = await freeTcpPort();
  const declinePort = await freeUdpPort();
  /** Where the direct calls come from and go to, per transport, and the extension they call. */
  const direct = {
    udp: {
      caller: { port: callerPort, transport: 'udp' },
      callee: { port: calleePort, transport: 'udp' },
      extension: '3000',
    },
    tcp: {
      caller: { port: callerPort, transport: 'tcp' },
      callee: { port: calleeTcpPort, transport: 'tcp' },
      extension: TCP_CALLEE,
    },
  } satisfies Record<Transport, { caller: Peer; callee: Peer; extension: string }>;
  /** The highest direct-call rate through `server` over `transport`, the callee registered first. */
  const directRamp = async (label: string, server: Server, transport: Transport): Promise<number> => {
    const { caller, callee, extension } = direct[transport];
    await register(server, extension, callee.port, callee.transport);
    const uas = await startAnswering('bench-uas', `bench-uas-${transport}`, callee.port, callee.transport);
    try {
      return await ramp(label, server, caller, extension, rates, log);
    } finally {
      await uas.stop();
    }
  };
  const over = (transport: Transport) => (transport === 'udp' ? '' : ' over TCP');
  try {
    // ---- Kamailio reference, over UDP and over TCP (a fresh process for each) ----
    const kamailioRates: Partial<Record<Transport, number>> = {};
    const phases = opts.phases ?? ALL_PHASES;
    for (const transport of ['udp', 'tcp'] as const) {
      if (!phases.has(transport === 'udp' ? 'kamailio' : 'kamailio-tcp')) continue;
      const kamailio = await startKamailio();
      let rate: number;
      try {
        rate = await directRamp(`kamailio direct${over(transport)}`, kamailio, transport);
      } finally {
        await kamailio.stop();
      }
      kamailioRates[transport] = rate;
      results.push({
        name: `direct calls${over(transport)}, Kamailio stateful proxy (reference)`,
        value: rate,
        unit: 'calls/s',
      });
    }
    const switchboardPhases: Phase[] = ['direct', 'direct-tcp', 'freshness', 'queue', 'memory'];
    if (!switchboardPhases.some((phase) => phases.has(phase))) return results;

    // ---- Switchboard ----
    const switchboard = await startSwitchboard(dir, callerPort, agents);
    try {
      let directRate = rates[0]!;
      for (const transport of ['udp', 'tcp'] as const) {
        if (!phases.has(transport === 'udp' ? 'direct' : 'direct-tcp')) continue;
        const rate = await directRamp(`switchboard direct${over(transport)}`, switchboard, transport);
        if (transport === 'udp') directRate = rate;
        results.push({
          name: `direct calls${over(transport)}, Switchboard B2BUA`,
          value: rate,
          unit: 'calls/s',
        });
        const reference = kamailioRates[transport];
        if (reference)
          results.push({
            name: `direct calls${over(transport)}, Switchboard / Kamailio`,
            value: Math.round((rate / reference) * 100),
            unit: '%',
          });
      }
      // Freshness: at half the highest direct rate over UDP, calling the UDP callee.
      if (phases.has('freshness')) {
        await register(switchboard, '3000', calleePort);
        const uas = await startAnswering('bench-uas', 'bench-uas', calleePort);
        try {
          const freshness = await measureFreshness(
            switchboard,
            callerPort,
            Math.max(10, Math.round(directRate / 2)),
            log,
          );
          results.push(
            {
              name: `post-processing freshness at ${Math.round(directRate / 2)} calls/s, p50`,
              value: freshness.p50,
              unit: 'ms',
            },
            {
              name: `post-processing freshness at ${Math.round(directRate / 2)} calls/s, p99`,
              value: freshness.p99,
              unit: 'ms',
            },
          );
        } finally {
          await uas.stop();
        }
      }

      // Queue calls: the agents all register their contact at one sipp UAS.
      if (phases.has('queue'))
        for (let i = 1; i <= agents; i++) await register(switchboard, String(3000 + i), calleePort);
      const agentsUas = !phases.has('queue')
        ? undefined
        : await startAnswering('bench-uas', 'bench-agents', calleePort);
      if (agentsUas)
        try {
          const queueRate = await ramp(
            'switchboard queue',
            switchboard,
            direct.udp.caller,
            '200',
            rates,
            log,
          );
          results.push({
            name: `queue calls (${agents} agents, longest-idle)`,
            value: queueRate,
            unit: 'calls/s',
          });
          await register(switchboard, '3999', declinePort);
          const decliner = await startAnswering('bench-uas-decline', 'bench-decliner', declinePort);
          try {
            const declineRate = await ramp(
              'switchboard queue with a decline',
              switchboard,
              direct.udp.caller,
              '201',
              rates,
              log,
            );
            results.push({
              name: 'queue calls with one decline before each answer',
              value: declineRate,
              unit: 'calls/s',
            });
          } finally {
            await decliner.stop();
          }
        } finally {
          await agentsUas.stop();
        }

      // Memory per established call, in a fresh process: resident memory never shrinks back after
      // the load phases, so only a process that has done nothing else gives a clean baseline.
      if (phases.has('memory')) {
        await switchboard.stop();
        const fresh = await startSwitchboard(mkdtempSync(join(dir, 'memory-')), callerPort, agents);
        await register(fresh, '3000', calleePort);
        const memoryUas = await startAnswering('bench-uas', 'bench-uas-hold', calleePort);
        try {
          const memory = await measureMemory(fresh, callerPort, opts.memoryCalls ?? 10_000, log);
          results.push(
            {
              name: `memory per established call (${memory.established} up), resident`,
              value: memory.rssPerCall,
              unit: 'bytes',
            },
            {
              name: `memory per established call (${memory.established} up), JS heap`,
              value: memory.heapPerCall,
              unit: 'bytes',
            },
          );
        } finally {
          await memoryUas.stop();
          await fresh.stop();
        }
      }
    } finally {
      await switchboard.stop();
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
  const unknown = phases?.filter((name) => !isPhase(name)) ?? [];
  if (unknown.length > 0)
    throw new Error(`unknown phase ${unknown.join(', ')}: expected ${PHASES.join(', ')}`);
  const ratesIndex = process.argv.indexOf('--rates');
  const rows = await benchCalls({
    phases: phases ? new Set(phases as Phase[]) : undefined,
    rates: ratesIndex >= 0 ? parseRates(process.argv[ratesIndex + 1]) : quick ? [50, 100] : undefined,
    memoryCalls: quick ? 500 : undefined,
    agents: quick ? 5 : undefined,
    log: (line) => console.error(line),
  });
  console.table(rows);
}
