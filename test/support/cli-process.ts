/**
 * `switchboard start` as a child process (src/cli.ts through tsx), for the suites that kill and
 * restart the platform: its combined output, its exit, and a wait for its ready line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from './platform.js';

const ROOT = join(import.meta.dirname, '..', '..');

export interface CliChild {
  process: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** `start` with a tenant file, a data directory and both ports: how the suites run the platform. */
export function startArgs(opts: {
  configPath: string;
  dataDir: string;
  httpPort: number;
  sipPort: number;
}): string[] {
  return [
    'start',
    '--config',
    opts.configPath,
    '--data',
    opts.dataDir,
    '--http-port',
    String(opts.httpPort),
    '--sip-port',
    String(opts.sipPort),
  ];
}

/** `env` is added to this process's environment (DATABASE_URL, the cluster's settings). */
export function startCli(args: string[], env: Record<string, string> = {}): CliChild {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', VITEST: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { process: child, output: () => output, exited };
}

export async function waitForReady(child: CliChild, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    async () => (child.output().includes('switchboard ready') ? true : undefined),
    timeoutMs,
    'ready line',
  );
}
