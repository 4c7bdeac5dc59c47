/**
 * sipp (the SIP traffic generator, Debian package `sip-tester`) as a real SIP peer in tests.
 *
 * `runSipp` runs a scenario to completion (a user agent client: REGISTER, INVITE, …) and returns
 * sipp's own verdict — exit code, successful/failed call counts from its statistics file — with its
 * error and message logs for assertions. `startSipp` starts a long-running sipp (a user agent server)
 * and resolves once its socket is bound; `sippUas` is that with test/scenarios/uas-answer.xml.
 *
 * Every run gets its own temporary directory (scenario file, logs), its own local port, sipp's own
 * global timeout (so an orphaned sipp still exits) and a hard kill timer here. A missing sipp binary
 * is an error, never a skip: the suite claims to test against real peers (CI installs sip-tester).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { accessSync, constants, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from '../../src/testing/wait.js';

/** test/scenarios/, where the project's sipp scenarios live. */
export const SCENARIO_DIR = fileURLToPath(new URL('../scenarios/', import.meta.url));

/** sipp transport modes: one socket, or one socket per call; UDP or TCP. */
export type SippTransport = 'u1' | 'un' | 't1' | 'tn';

export interface SippOptions {
  /** Scenario XML text (see `loadScenario`); written to the run's temporary directory. */
  scenario: string;
  /** Base name for the scenario file and logs; shows up in sipp's screens. */
  name?: string;
  /** The peer to send to. Omitted for a UAS that only answers. */
  remote?: { host: string; port: number };
  /** -i: local address used in Via/Contact/From. Default 127.0.0.1. */
  localIp?: string;
  /** -p: local port. Default: a free port picked here (so that tests know the Contact). */
  localPort?: number;
  /** -t. Default u1 (UDP, one socket). */
  transport?: SippTransport;
  /** -s: the Request-URI / To user ([service] in scenarios). */
  service?: string;
  /** -au / -ap: digest credentials for [authentication]. */
  authUser?: string;
  authPassword?: string;
  /** -m: stop after this many calls. Default 1. */
  calls?: number;
  /** -r: calls per second. */
  rate?: number;
  /** -l: most simultaneous calls. */
  callLimit?: number;
  /** -set name value: scenario globals (declared in the scenario's <Global variables="…"/>). */
  variables?: Record<string, string | number>;
  /** -recv_timeout: an expected message that does not come within this fails the call. Default 5000. */
  recvTimeoutMs?: number;
  /** Hard limit on the whole run: sipp is killed after it. Default 30000. */
  timeoutMs?: number;
  /** Further command-line arguments, passed through unchanged. */
  args?: string[];
  /** -trace_msg into messageLog (default true; benchmarks turn it off: it costs sipp dearly). */
  traceMessages?: boolean;
  /** -trace_rtt: every response time the scenario measures (its rtd), into `responseTimesMs`. */
  responseTimes?: boolean;
}

export interface SippResult {
  /** sipp's exit code: 0 all calls succeeded, 1 at least one failed, 97/99 other ends, 255/254 fatal. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The run hit `timeoutMs` and was killed. */
  timedOut: boolean;
  /** The run was ended by `stop()` (sipp then exits 0 whatever happened, so this is never `ok`). */
  stopped: boolean;
  /** Exit code 0, neither timed out nor stopped. */
  ok: boolean;
  /** From the statistics file (SuccessfulCall(C)/FailedCall(C)); derived from the exit code if sipp wrote none. */
  successfulCalls: number;
  failedCalls: number;
  /** Whether the counts came from sipp's statistics file. */
  countsFromStats: boolean;
  /** sipp's error log (-trace_err): unexpected messages, failed checks, timeouts. */
  errorLog: string;
  /** Every message sent and received (-trace_msg). */
  messageLog: string;
  /** With `responseTimes`: each response time sipp measured (ms), in the order it wrote them. */
  responseTimesMs: number[];
  stdout: string;
  stderr: string;
  localPort: number;
  commandLine: string[];
  durationMs: number;
}

export interface SippProcess {
  readonly pid: number;
  readonly localPort: number;
  /** Settles when sipp exits (on its own, by `stop`, or by the hard timeout). */
  readonly done: Promise<SippResult>;
  /** Ask sipp to quit (SIGTERM, then SIGKILL) and wait for its result. */
  stop(): Promise<SippResult>;
}

export class SippUnavailableError extends Error {
  readonly code = 'SippUnavailable';
}

const OUTPUT_LIMIT = 256 * 1024;
const LOG_LIMIT = 4 * 1024 * 1024;

/** Read a scenario of test/scenarios by name (without .xml). */
export function loadScenario(name: string): string {
  return readFileSync(join(SCENARIO_DIR, `${name}.xml`), 'utf8');
}

/**
 * The sipp executable: $SIPP_BIN, else `sipp` on PATH. Throws when there is none — under CI=true
 * as well as locally, because a skipped interop test would be a false pass.
 */
export function sippBinary(): string {
  const explicit = process.env.SIPP_BIN;
  const candidates = explicit
    ? [explicit]
    : (process.env.PATH ?? '/usr/bin').split(delimiter).map((dir) => join(dir, 'sipp'));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // try the next one
    }
  }
  const where = explicit ? `SIPP_BIN=${explicit} is not executable` : 'no sipp on PATH';
  const ci = process.env.CI === 'true' ? ' (CI=true: real SIP peers are required)' : '';
  throw new SippUnavailableError(
    `sipp is required for the SIP interop tests: ${where}; install the Debian package sip-tester${ci}`,
  );
}

/** A UDP port that is free on `host` right now (bound and released). */
export function freeUdpPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, host, () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

/** A TCP port that is free on `host` right now. */
export function freeTcpPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Run a scenario to completion. Never rejects for a failed scenario: the verdict is in the result. */
export async function runSipp(opts: SippOptions): Promise<SippResult> {
  const run = await launch(opts);
  return run.done;
}

/**
 * Start sipp and resolve once its socket is bound (so that a peer may send to it at once). For a
 * UAS: pass no `remote`. Rejects if sipp exits before it is ready.
 */
export async function startSipp(opts: SippOptions, readyTimeoutMs = 5000): Promise<SippProcess> {
  const run = await launch(opts);
  const tcp = (opts.transport ?? 'u1').startsWith('t');
  const deadline = Date.now() + readyTimeoutMs;
  let exited: SippResult | undefined;
  void run.done.then((result) => {
    exited = result;
  });
  for (;;) {
    if (exited) throw new Error(`sipp exited before it was ready:\n${describeSippResult(exited)}`);
    if (await isPortBound(run.localPort, tcp)) return run;
    if (Date.now() > deadline) {
      const result = await run.stop();
      throw new Error(
        `sipp did not bind port ${run.localPort} within ${readyTimeoutMs} ms:\n${describeSippResult(result)}`,
      );
    }
    await sleep(25);
  }
}

/**
 * A sipp user agent server that answers INVITE with 180 and 200 + SDP, takes the ACK and answers
 * the BYE (test/scenarios/uas-answer.xml unless `scenario` is given). `calls` (default 1) answered
 * calls end it. Ready when the promise resolves.
 */
export function sippUas(
  opts: Omit<SippOptions, 'scenario' | 'remote'> & { scenario?: string } = {},
): Promise<SippProcess> {
  return startSipp({ name: 'uas-answer', ...opts, scenario: opts.scenario ?? loadScenario('uas-answer') });
}

/** A multi-line summary of a run for assertion messages. */
export function describeSippResult(result: SippResult): string {
  const lines = [
    `sipp ${result.commandLine.join(' ')}`,
    `exit ${result.exitCode ?? result.signal}${result.timedOut ? ' (killed: timeout)' : result.stopped ? ' (stopped)' : ''}; ` +
      `${result.successfulCalls} successful, ${result.failedCalls} failed call(s); ${result.durationMs} ms`,
  ];
  if (result.stderr.trim()) lines.push(`stderr:\n${result.stderr.trim()}`);
  if (result.errorLog.trim()) lines.push(`error log:\n${tail(result.errorLog.trim(), 4000)}`);
  if (result.messageLog.trim()) lines.push(`messages:\n${tail(result.messageLog.trim(), 6000)}`);
  return lines.join('\n');
}

// ---- internals ---------------------------------------------------------------------------------

interface Launched extends SippProcess {
  readonly localPort: number;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test worker that dies mid-run must not leave sipp processes behind.
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

async function launch(opts: SippOptions): Promise<Launched> {
  const binary = sippBinary();
  installExitHook();
  const transport = opts.transport ?? 'u1';
  const localIp = opts.localIp ?? '127.0.0.1';
  const localPort =
    opts.localPort ?? (transport.startsWith('t') ? await freeTcpPort(localIp) : await freeUdpPort(localIp));
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const name = (opts.name ?? 'scenario').replace(/[^A-Za-z0-9_-]/g, '_');
  const workDir = await mkdtemp(join(tmpdir(), 'sipp-'));
  const scenarioFile = join(workDir, `${name}.xml`);
  await writeFile(scenarioFile, opts.scenario);
  const files = {
    stats: join(workDir, 'stats.csv'),
    errors: join(workDir, 'errors.log'),
    messages: join(workDir, 'messages.log'),
  };

  const args: string[] = [];
  if (opts.remote) args.push(formatHostPort(opts.remote.host, opts.remote.port));
  args.push('-sf', scenarioFile, '-t', transport, '-i', localIp, '-p', String(localPort));
  args.push('-m', String(opts.calls ?? 1));
  if (opts.service !== undefined) args.push('-s', opts.service);
  if (opts.authUser !== undefined) args.push('-au', opts.authUser);
  if (opts.authPassword !== undefined) args.push('-ap', opts.authPassword);
  if (opts.rate !== undefined) args.push('-r', String(opts.rate));
  if (opts.callLimit !== undefined) args.push('-l', String(opts.callLimit));
  for (const [variable, value] of Object.entries(opts.variables ?? {}))
    args.push('-set', variable, String(value));
  args.push('-recv_timeout', String(opts.recvTimeoutMs ?? 5000));
  // sipp's own global timeout, a little after ours: an orphaned sipp (test worker killed) still exits.
  args.push('-timeout', `${Math.ceil(timeoutMs / 1000) + 5}s`, '-timeout_error');
  args.push('-nostdin', '-trace_stat', '-stf', files.stats, '-trace_err', '-error_file', files.errors);
  if (opts.traceMessages !== false) args.push('-trace_msg', '-message_file', files.messages);
  // sipp writes <scenario>_<pid>_rtt.csv in the run's directory, in batches of -rtt_freq calls.
  if (opts.responseTimes) args.push('-trace_rtt', '-rtt_freq', '100');
  args.push(...(opts.args ?? []));

  const startedAt = Date.now();
  const child = spawn(binary, args, { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout = tail(stdout + chunk, OUTPUT_LIMIT);
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = tail(stderr + chunk, OUTPUT_LIMIT);
  });

  let timedOut = false;
  let stopped = false;
  let killTimer: NodeJS.Timeout | undefined;
  const terminate = (): void => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    killTimer ??= setTimeout(() => child.kill('SIGKILL'), 2000);
  };
  const hardTimer = setTimeout(() => {
    timedOut = true;
    terminate();
  }, timeoutMs);

  const done = new Promise<SippResult>((resolve) => {
    const finish = async (
      exitCode: number | null,
      signal: NodeJS.Signals | null,
      spawnError?: Error,
    ): Promise<void> => {
      clearTimeout(hardTimer);
      if (killTimer) clearTimeout(killTimer);
      running.delete(child);
      const [statsText, errorLog, messageLog, responseTimesMs] = await Promise.all([
        readOptional(files.stats),
        readOptional(files.errors),
        readOptional(files.messages),
        opts.responseTimes ? readResponseTimes(workDir) : [],
      ]);
      await rm(workDir, { recursive: true, force: true });
      const counts = parseStatCounts(statsText);
      const ok = exitCode === 0 && !timedOut && !stopped;
      resolve({
        exitCode,
        signal,
        timedOut,
        stopped,
        ok,
        successfulCalls: counts?.successful ?? (ok ? (opts.calls ?? 1) : 0),
        failedCalls: counts?.failed ?? (ok ? 0 : 1),
        countsFromStats: counts !== undefined,
        errorLog,
        messageLog,
        responseTimesMs,
        stdout,
        stderr: spawnError ? `${stderr}${spawnError.message}\n` : stderr,
        localPort,
        commandLine: args,
        durationMs: Date.now() - startedAt,
      });
    };
    let settled = false;
    child.once('error', (err) => {
      if (settled) return;
      settled = true;
      void finish(null, null, err);
    });
    child.once('close', (code, signal) => {
      if (settled) return;
      settled = true;
      void finish(code, signal);
    });
  });

  return {
    pid: child.pid ?? -1,
    localPort,
    done,
    stop() {
      if (child.exitCode === null && child.signalCode === null) stopped = true;
      terminate();
      return done;
    },
  };
}

/** The last data row's cumulative SuccessfulCall(C) and FailedCall(C) columns of a -trace_stat file. */
export function parseStatCounts(csv: string): { successful: number; failed: number } | undefined {
  const rows = csv.split('\n').filter((line) => line.trim().length > 0);
  if (rows.length < 2) return undefined;
  const header = rows[0]!.split(';');
  const last = rows[rows.length - 1]!.split(';');
  const successIndex = header.indexOf('SuccessfulCall(C)');
  const failedIndex = header.indexOf('FailedCall(C)');
  if (successIndex < 0 || failedIndex < 0) return undefined;
  const successful = Number.parseInt(last[successIndex] ?? '', 10);
  const failed = Number.parseInt(last[failedIndex] ?? '', 10);
  if (!Number.isFinite(successful) || !Number.isFinite(failed)) return undefined;
  return { successful, failed };
}

/** Whether something listens on `port` (Linux /proc; elsewhere assume ready after a short delay). */
async function isPortBound(port: number, tcp: boolean): Promise<boolean> {
  const tables = tcp ? ['/proc/net/tcp', '/proc/net/tcp6'] : ['/proc/net/udp', '/proc/net/udp6'];
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let readable = false;
  for (const table of tables) {
    let text: string;
    try {
      text = await readFile(table, 'utf8');
    } catch {
      continue;
    }
    readable = true;
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // fields: sl, local_address, rem_address, st, …; TCP listeners are in state 0A.
      if (fields[1]?.endsWith(hexPort) && (!tcp || fields[3] === '0A')) return true;
    }
  }
  if (!readable) {
    await sleep(500);
    return true;
  }
  return false;
}

async function readOptional(path: string): Promise<string> {
  try {
    const text = await readFile(path, 'latin1');
    return text.length > LOG_LIMIT ? tail(text, LOG_LIMIT) : text;
  } catch {
    return '';
  }
}

/** The response times (ms, the second field) of the -trace_rtt files in `dir`. */
async function readResponseTimes(dir: string): Promise<number[]> {
  const times: number[] = [];
  for (const file of await readdir(dir)) {
    if (!file.endsWith('_rtt.csv')) continue;
    for (const line of (await readFile(join(dir, file), 'latin1')).split('\n')) {
      const ms = Number.parseFloat(line.split(';')[1] ?? '');
      if (Number.isFinite(ms)) times.push(ms);
    }
  }
  return times;
}

function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function tail(text: string, limit: number): string {
  return text.length > limit ? text.slice(text.length - limit) : text;
}
