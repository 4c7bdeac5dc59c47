/**
 * Runs rtpengine as a child process (DESIGN.md §9: without `media:` the platform starts its own
 * engine when the binary is on PATH). Userspace only (`--table=-1`, no kernel module), in the
 * foreground, logging to stderr, which is piped line by line into the logger at debug.
 *
 * `startRtpEngineProcess` resolves once the engine answers an ng ping; a crash is followed by a
 * restart after a backoff (at most `maxRestartsPerMinute`, then it gives up), and call control
 * learns of it through `onRestart` / the `restart` event: the new engine knows none of the calls in
 * progress, so their media is gone and they must be ended with a clear cause.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { accessSync, constants as fsConstants, mkdirSync, readFileSync, statSync } from 'node:fs';
import { delimiter, join, resolve as resolvePath } from 'node:path';
import { createInterface } from 'node:readline';
import { type Logger, silentLogger } from '../logger.js';
import { MediaError } from './errors.js';
import { NgClient } from './ng-client.js';
import { RtpEngine, type RtpEngineOptions } from './rtpengine.js';

export interface RtpEngineProcessOptions {
  /** rtpengine's --delete-delay: seconds a deleted call is kept (default 0, see the args). */
  deleteDelaySeconds?: number;
  /** The executable (default `rtpengine`, looked up on PATH by spawn). */
  binary?: string;
  /** Holds the pid file and, unless `recordingDir` is given, the recording spool (`recordings/`). */
  dataDir: string;
  /** The address for media and ng control (`--interface`, `--listen-ng`; default 127.0.0.1). */
  host?: string;
  /** The ng UDP port (default 0: a free port is picked). */
  ngPort?: number;
  /** RTP port range; default a 1,000-port window in 20000–31999 (below Linux's ephemeral range). */
  portMin?: number;
  portMax?: number;
  /** `--recording-dir` (pcap recordings); default `<dataDir>/recordings`. */
  recordingDir?: string;
  /** rtpengine `--log-level` (syslog levels; default 6 = info. 7 dumps the DTLS private key.) */
  logLevel?: number;
  /** `--num-threads` (default 2). */
  numThreads?: number;
  /** More command-line arguments, appended as given. */
  extraArgs?: string[];
  /** How long the engine may take to answer its first ping (default 10 s). */
  startTimeoutMs?: number;
  /** Restarts allowed within any 60 s; one more and the manager gives up (default 5). */
  maxRestartsPerMinute?: number;
  /** Delay before the n-th consecutive restart (default [250, 1000, 2000, 5000]; the last repeats). */
  restartBackoffMs?: readonly number[];
  /** Called once a restarted engine answers a ping; every call it carried has lost its media. */
  onRestart?: (info: RtpEngineRestartInfo) => void;
  /** Called when the engine died and will not be restarted any more. */
  onGiveUp?: (info: { reason: string }) => void;
  logger?: Logger;
}

export interface RtpEngineExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RtpEngineRestartInfo extends RtpEngineExitInfo {
  /** Restarts so far in this manager's lifetime. */
  restarts: number;
  pid: number | undefined;
}

export interface RtpEngineProcessEvents {
  /** The engine died unexpectedly (a restart follows unless the limit is reached). */
  exit: [RtpEngineExitInfo];
  /** A restarted engine answers pings. */
  restart: [RtpEngineRestartInfo];
  /** No more restarts: the engine is down for good. */
  'give-up': [{ reason: string }];
}

const STDERR_TAIL_LINES = 30;
let windowCounter = 0;

/** The absolute path of `rtpengine` on PATH, or undefined when it is not there. */
export function findRtpEngineBinary(
  env: NodeJS.ProcessEnv = process.env,
  name = 'rtpengine',
): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = resolvePath(dir, name);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A UDP port free on `host` right now (bind to 0, read, close). */
export async function pickFreeUdpPort(host = '127.0.0.1'): Promise<number> {
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  return new Promise<number>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

/**
 * A 1,000-port window for RTP that differs between processes started at the same time (pid and a
 * counter choose it). Two engines that still share ports only skip each other's busy ports.
 */
function defaultPortWindow(): { portMin: number; portMax: number } {
  const windows = 12; // 20000–31999
  const k = (process.pid + windowCounter++ * 5 + Math.floor(Math.random() * windows)) % windows;
  const portMin = 20000 + k * 1000;
  return { portMin, portMax: portMin + 999 };
}

export class RtpEngineProcess extends EventEmitter<RtpEngineProcessEvents> {
  readonly host: string;
  readonly ngPort: number;
  readonly portMin: number;
  readonly portMax: number;
  readonly recordingDir: string;
  readonly pidFile: string;
  readonly binary: string;
  /** The command-line arguments the engine runs with. */
  readonly args: readonly string[];
  private readonly options: RtpEngineProcessOptions;
  private readonly logger: Logger;
  private child: ChildProcess | undefined;
  private readonly stderrTail: string[] = [];
  private stopping: Promise<void> | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly restartTimes: number[] = [];
  private consecutiveFailures = 0;
  private starting = false;
  private restarts = 0;
  private readonly killOnExit = () => {
    this.child?.kill('SIGKILL');
  };

  /** Use `startRtpEngineProcess`. */
  constructor(
    options: RtpEngineProcessOptions & {
      ngPort: number;
      portMin: number;
      portMax: number;
      recordingDir: string;
    },
  ) {
    super();
    this.options = options;
    this.logger = options.logger ?? silentLogger;
    this.binary = options.binary ?? 'rtpengine';
    this.host = options.host ?? '127.0.0.1';
    this.ngPort = options.ngPort;
    this.portMin = options.portMin;
    this.portMax = options.portMax;
    this.recordingDir = options.recordingDir;
    this.pidFile = join(options.dataDir, 'rtpengine.pid');
    const listen = this.host.includes(':') ? `[${this.host}]:${this.ngPort}` : `${this.host}:${this.ngPort}`;
    this.args = [
      '--config-file=none',
      '--foreground',
      '--log-stderr',
      '--no-log-timestamps',
      '--table=-1',
      `--interface=${this.host}`,
      `--listen-ng=${listen}`,
      `--port-min=${this.portMin}`,
      `--port-max=${this.portMax}`,
      `--recording-dir=${this.recordingDir}`,
      '--recording-method=pcap',
      `--pidfile=${this.pidFile}`,
      `--log-level=${options.logLevel ?? 6}`,
      `--num-threads=${options.numThreads ?? 2}`,
      // rtpengine keeps a deleted call 30 s by default for a proxy's late forked answers; the B2BUA
      // deletes a call only once both sides are gone, so its ports go back to the pool at once.
      `--delete-delay=${options.deleteDelaySeconds ?? 0}`,
      ...(options.extraArgs ?? []),
    ];
  }

  /** `host:port` of the ng listener, as tenant `media.rtpengine` would name it. */
  get address(): string {
    return this.host.includes(':') ? `[${this.host}]:${this.ngPort}` : `${this.host}:${this.ngPort}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Whether the child is running (it may still be starting up). */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines rtpengine wrote to stderr. */
  get recentStderr(): readonly string[] {
    return [...this.stderrTail];
  }

  /** A MediaEngine talking to this process. */
  createEngine(options: Omit<RtpEngineOptions, 'address' | 'host' | 'port'> = {}): RtpEngine {
    return new RtpEngine({ logger: this.logger, ...options, host: this.host, port: this.ngPort });
  }

  /** Spawn and wait until the engine answers a ping. Rejects with MEDIA_ENGINE_START_FAILED. */
  async start(): Promise<void> {
    const timeoutMs = this.options.startTimeoutMs ?? 10_000;
    this.starting = true;
    const child = this.spawnChild();
    let exited: RtpEngineExitInfo | undefined;
    let spawnError: Error | undefined;
    child.once('error', (err) => {
      spawnError = err;
    });
    // 'close' (not 'exit'): stderr has been read to the end, so the error can quote it.
    child.once('close', (code, signal) => {
      exited = { code, signal };
    });

    const client = new NgClient({ host: this.host, port: this.ngPort, timeoutMs: 250, retransmitMs: [] });
    const started = Date.now();
    try {
      for (;;) {
        if (spawnError)
          throw this.startFailed(`cannot run '${this.binary}': ${spawnError.message}`, spawnError);
        if (exited) {
          throw this.startFailed(
            `rtpengine exited during start-up (${exited.signal ?? `code ${exited.code}`})`,
            undefined,
          );
        }
        if (Date.now() - started > timeoutMs) {
          throw this.startFailed(`rtpengine did not answer a ping on ${this.address} within ${timeoutMs} ms`);
        }
        try {
          await client.ping();
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    } catch (err) {
      if (!exited && !spawnError) await this.killChild(child);
      throw err;
    } finally {
      this.starting = false;
      await client.close();
    }
    this.logger.info(
      { pid: child.pid, ng: this.address, ports: `${this.portMin}-${this.portMax}` },
      'rtpengine started',
    );
  }

  /** SIGTERM, then SIGKILL after 2 s; no more restarts. Idempotent. */
  stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = (async () => {
        if (this.restartTimer) clearTimeout(this.restartTimer);
        this.restartTimer = undefined;
        const child = this.child;
        if (child) await this.killChild(child);
        process.off('exit', this.killOnExit);
      })();
    }
    return this.stopping;
  }

  private spawnChild(): ChildProcess {
    this.stderrTail.length = 0;
    // Its working directory is its data directory: whatever it leaves there (a core dump if it
    // crashes) stays out of the directory the platform was started from.
    const child = spawn(this.binary, this.args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: this.options.dataDir,
    });
    this.child = child;
    process.off('exit', this.killOnExit);
    process.on('exit', this.killOnExit);
    const onLine = (line: string) => {
      if (line === '') return;
      this.stderrTail.push(line);
      if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
      if (/^(ERR|CRIT|ALERT|EMERG)/.test(line)) this.logger.warn({ rtpengine: line }, 'rtpengine');
      else this.logger.debug({ rtpengine: line }, 'rtpengine');
    };
    if (child.stderr) createInterface({ input: child.stderr }).on('line', onLine);
    if (child.stdout) createInterface({ input: child.stdout }).on('line', onLine);
    child.on('error', (err) => this.logger.debug({ err }, 'rtpengine spawn error'));
    child.once('exit', (code, signal) => this.onChildExit(child, { code, signal }));
    return child;
  }

  private onChildExit(child: ChildProcess, info: RtpEngineExitInfo): void {
    if (this.child !== child || this.stopping) return;
    // An exit during start() is reported by start() itself.
    if (this.starting) return;
    this.logger.error(
      { ...info, stderr: this.stderrTail.slice(-5) },
      'rtpengine exited unexpectedly; calls in progress have lost their media',
    );
    this.emit('exit', info);
    this.scheduleRestart(info);
  }

  private scheduleRestart(info: RtpEngineExitInfo): void {
    const now = Date.now();
    while (this.restartTimes.length > 0 && now - this.restartTimes[0]! > 60_000) this.restartTimes.shift();
    const max = this.options.maxRestartsPerMinute ?? 5;
    if (this.restartTimes.length >= max) {
      this.giveUp(`rtpengine died ${max + 1} times within a minute`);
      return;
    }
    const backoff = this.options.restartBackoffMs ?? [250, 1000, 2000, 5000];
    const delay = backoff[Math.min(this.consecutiveFailures, backoff.length - 1)] ?? 1000;
    this.restartTimes.push(now);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.restart(info);
    }, delay);
  }

  private async restart(info: RtpEngineExitInfo): Promise<void> {
    if (this.stopping) return;
    try {
      await this.start();
    } catch (err) {
      if (this.stopping) return;
      this.consecutiveFailures++;
      this.logger.error({ err }, 'rtpengine restart failed');
      this.emit('exit', info);
      this.scheduleRestart(info);
      return;
    }
    if (this.stopping) return;
    this.consecutiveFailures = 0;
    this.restarts++;
    const restartInfo: RtpEngineRestartInfo = { ...info, restarts: this.restarts, pid: this.child?.pid };
    this.logger.warn(restartInfo, 'rtpengine restarted');
    this.emit('restart', restartInfo);
    try {
      this.options.onRestart?.(restartInfo);
    } catch (err) {
      this.logger.error({ err }, 'onRestart callback threw');
    }
  }

  private giveUp(reason: string): void {
    this.logger.error({ reason }, 'rtpengine will not be restarted');
    this.emit('give-up', { reason });
    try {
      this.options.onGiveUp?.({ reason });
    } catch (err) {
      this.logger.error({ err }, 'onGiveUp callback threw');
    }
  }

  private startFailed(message: string, cause?: unknown): MediaError {
    const tail = this.stderrTail.slice(-10);
    const full = tail.length > 0 ? `${message}; rtpengine stderr:\n  ${tail.join('\n  ')}` : message;
    return new MediaError('MEDIA_ENGINE_START_FAILED', full, cause === undefined ? {} : { cause });
  }

  private async killChild(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * Start an rtpengine child; resolves once it answers an ng ping. Rejects with a MediaError
 * MEDIA_ENGINE_START_FAILED (binary missing, bad option, no pong in time) whose message ends with
 * rtpengine's last stderr lines.
 */
export async function startRtpEngineProcess(options: RtpEngineProcessOptions): Promise<RtpEngineProcess> {
  const host = options.host ?? '127.0.0.1';
  const dataDir = resolvePath(options.dataDir);
  const recordingDir = resolvePath(options.recordingDir ?? join(dataDir, 'recordings'));
  try {
    mkdirSync(dataDir, { recursive: true });
    mkdirSync(recordingDir, { recursive: true });
  } catch (err) {
    throw new MediaError(
      'MEDIA_ENGINE_START_FAILED',
      `cannot create the rtpengine directories: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  const ngPort = options.ngPort && options.ngPort > 0 ? options.ngPort : await pickFreeUdpPort(host);
  const window =
    options.portMin !== undefined && options.portMax !== undefined
      ? { portMin: options.portMin, portMax: options.portMax }
      : defaultPortWindow();
  if (!(window.portMin > 0 && window.portMax <= 65535 && window.portMax - window.portMin >= 3)) {
    throw new MediaError(
      'MEDIA_ENGINE_START_FAILED',
      `bad RTP port range ${window.portMin}-${window.portMax} (need at least 4 ports within 1-65535)`,
    );
  }
  const proc = new RtpEngineProcess({ ...options, dataDir, host, ngPort, recordingDir, ...window });
  await stopStaleEngine(proc.pidFile, options.logger ?? silentLogger);
  try {
    await proc.start();
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return proc;
}

/**
 * A platform killed with SIGKILL leaves its rtpengine child running (Node cannot ask the kernel to
 * end a child with its parent): it still holds its ports and, for a recorded call, the pcap it was
 * writing. The next start with the same data directory ends it first — SIGTERM, so that rtpengine
 * closes its files (a crash's recording is then rendered from what was captured), SIGKILL after 2 s.
 * Only a process whose command line is rtpengine's with this very pid file is touched.
 */
export async function stopStaleEngine(pidFile: string, logger: Logger): Promise<boolean> {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 1) return false;
  let commandLine: string;
  try {
    commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return false; // not running any more
  }
  if (!commandLine.includes('rtpengine') || !commandLine.includes(`--pidfile=${pidFile}`)) return false;
  logger.warn({ pid, pidFile }, 'media: stopping the rtpengine a previous run left behind');
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return false;
  }
  const deadline = Date.now() + 2000;
  while (alive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  if (alive()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone in between
    }
  }
  return true;
}
