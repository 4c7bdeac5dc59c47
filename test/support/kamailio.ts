/**
 * Kamailio (deploy/kamailio/kamailio.cfg) as the front door of Switchboard nodes in tests: a real
 * Kamailio process in the foreground on a free loopback port (UDP and TCP), with its own
 * temporary directory for the dispatcher list, pid file and runtime files. `spawnKamailio` is the
 * process part alone, for any configuration (the call benchmark's reference proxy uses it).
 *
 * A missing kamailio binary fails the suites that need it, with the package to install: a skipped
 * interop test would be a false pass.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeUdpPort } from './sipp.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const KAMAILIO_CFG = join(ROOT, 'deploy/kamailio/kamailio.cfg');
const OUTPUT_LIMIT = 200_000;

export interface KamailioOptions {
  /** The Switchboard nodes: dispatcher set 1, probed with OPTIONS, chosen by Call-ID hash. */
  nodes: { host: string; port: number }[];
  /** Seconds between probes (default 1: tests wait for nodes to go down and come back). */
  probeIntervalS?: number;
  /** How long a node has for its first reply, and a probe for its answer (default 1000 ms). */
  nodeTimeoutMs?: number;
  /** Shared and private memory, MB (default 64 and 8; the cluster benchmark needs more). */
  memoryMb?: { shared: number; private: number };
}

export interface KamailioProcess {
  host: string;
  /** UDP and TCP. */
  port: number;
  /** The main process (its workers are its children). */
  pid: number;
  /** Everything Kamailio wrote on stdout and stderr so far (its log: -E). */
  output(): string;
  stop(): Promise<void>;
}

/** The kamailio executable: $KAMAILIO_BIN, else on PATH or in /usr/sbin; undefined when none. */
export function kamailioBinary(): string | undefined {
  const explicit = process.env.KAMAILIO_BIN;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  const candidates = explicit ? [explicit] : dirs.filter(Boolean).map((dir) => join(dir, 'kamailio'));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

/** A Kamailio process with any configuration: what the front door and the benchmark share. */
export interface KamailioSpawnOptions {
  /** The configuration file. */
  cfg: string;
  /**
   * Writes what the configuration reads into the process's own directory and returns the
   * defines (`-A NAME=value`; a string value is passed quoted, as the configuration's strings are).
   */
  setup?: (dir: string) => Promise<Record<string, string | number>>;
  /** Shared and private memory, MB (-m, -M). */
  memoryMb?: { shared: number; private: number };
}

export interface KamailioChild extends KamailioProcess {
  process: ChildProcess;
}

/**
 * Kamailio in the foreground (-DD, logging to stderr: -E) on a free loopback port for UDP and TCP,
 * with its own directory (working directory, runtime files, pid file) removed by `stop`. Resolves
 * once the sockets are bound.
 */
export async function spawnKamailio(opts: KamailioSpawnOptions): Promise<KamailioChild> {
  const binary = kamailioBinary();
  if (!binary)
    throw new Error('kamailio is required (Debian package kamailio; or set KAMAILIO_BIN): none found');
  const host = '127.0.0.1';
  const dir = await mkdtemp(join(tmpdir(), 'sb-kamailio-'));
  const defines = (await opts.setup?.(dir)) ?? {};
  const port = await freeSipPort(host);
  const memory = opts.memoryMb ?? { shared: 64, private: 8 };
  const child = spawn(
    binary,
    [
      '-f',
      opts.cfg,
      '-l',
      `udp:${host}:${port}`,
      '-l',
      `tcp:${host}:${port}`,
      ...Object.entries(defines).flatMap(([name, value]) => [
        '-A',
        typeof value === 'string' ? `${name}="${value}"` : `${name}=${value}`,
      ]),
      '-DD',
      '-E',
      '-m',
      String(memory.shared),
      '-M',
      String(memory.private),
      '-w',
      dir,
      '-Y',
      dir,
      '-P',
      join(dir, 'kamailio.pid'),
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    await terminate(child, exited);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await untilListening(host, port, child, () => output);
  } catch (err) {
    await stop();
    throw err;
  }
  return { host, port, pid: child.pid ?? -1, process: child, output: () => output, stop };
}

/** Kamailio as the front door of Switchboard nodes (deploy/kamailio/kamailio.cfg). */
export async function startKamailio(opts: KamailioOptions): Promise<KamailioProcess> {
  const { host, port, pid, output, stop } = await spawnKamailio({
    cfg: KAMAILIO_CFG,
    ...(opts.memoryMb ? { memoryMb: opts.memoryMb } : {}),
    async setup(dir) {
      const dispatcherList = join(dir, 'dispatcher.list');
      await writeFile(dispatcherList, opts.nodes.map((node) => `1 sip:${node.host}:${node.port}\n`).join(''));
      return {
        DISPATCHER_LIST: dispatcherList,
        PROBE_INTERVAL: opts.probeIntervalS ?? 1,
        NODE_TIMEOUT_MS: opts.nodeTimeoutMs ?? 1000,
      };
    },
  });
  return { host, port, pid, output, stop };
}

/**
 * Kamailio binds UDP and TCP before it forks its workers; a TCP connection accepted means the
 * sockets are bound (datagrams sent now wait in the socket's buffer for a worker).
 */
async function untilListening(
  host: string,
  port: number,
  child: ChildProcess,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`kamailio exited (${child.exitCode ?? child.signalCode}): ${output()}`);
    if (await accepts(host, port)) return;
    if (Date.now() > deadline) throw new Error(`kamailio not listening on ${port} in 10 s: ${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function terminate(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  // Kamailio's main process stops its children on SIGTERM; a wedged one gets SIGKILL.
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** A port free for both UDP and TCP on `host` right now (Kamailio listens on both). */
async function freeSipPort(host: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = await freeUdpPort(host);
    if (await tcpFree(host, port)) return port;
    if (attempt >= 20) throw new Error('no port free for both UDP and TCP');
  }
}

function tcpFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}
