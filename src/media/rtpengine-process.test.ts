import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../logger.js';
import { waitUntil } from '../testing/wait.js';
import { isMediaError } from './errors.js';
import { NgClient } from './ng-client.js';
import {
  findRtpEngineBinary,
  pickFreeUdpPort,
  type RtpEngineProcess,
  type RtpEngineRestartInfo,
  startRtpEngineProcess,
  stopStaleEngine,
} from './rtpengine-process.js';

let dataDir: string;
beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'sb-rtpe-proc-'));
});
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('findRtpEngineBinary', () => {
  it('finds an executable on PATH, else undefined', () => {
    const bin = join(dataDir, 'bin');
    rmSync(bin, { recursive: true, force: true });
    writeFileSync(join(dataDir, 'not-a-dir'), '');
    expect(
      findRtpEngineBinary({ PATH: `${join(dataDir, 'nowhere')}:${join(dataDir, 'not-a-dir')}` }),
    ).toBeUndefined();
    expect(findRtpEngineBinary({})).toBeUndefined();
    const dir = mkdtempSync(join(dataDir, 'path-'));
    writeFileSync(join(dir, 'rtpengine'), '#!/bin/sh\n');
    chmodSync(join(dir, 'rtpengine'), 0o644);
    expect(findRtpEngineBinary({ PATH: dir })).toBeUndefined();
    chmodSync(join(dir, 'rtpengine'), 0o755);
    expect(findRtpEngineBinary({ PATH: `/nonexistent:${dir}` })).toBe(join(dir, 'rtpengine'));
  });
});

describe('startRtpEngineProcess failures', () => {
  it('a missing binary is MEDIA_ENGINE_START_FAILED', async () => {
    const err = await startRtpEngineProcess({ dataDir, binary: join(dataDir, 'no-such-rtpengine') }).catch(
      (e: unknown) => e,
    );
    expect(isMediaError(err) && err.code).toBe('MEDIA_ENGINE_START_FAILED');
    expect(String((err as Error).message)).toContain('no-such-rtpengine');
  });

  it('a bad interface fails fast with rtpengine stderr in the message', async () => {
    const started = Date.now();
    const err = await startRtpEngineProcess({ dataDir, extraArgs: ['--interface=999.0.0.1'] }).catch(
      (e: unknown) => e,
    );
    expect(isMediaError(err) && err.code).toBe('MEDIA_ENGINE_START_FAILED');
    expect((err as Error).message).toMatch(/exited during start-up \(code 255\)/);
    expect((err as Error).message).toMatch(/CRIT: .*Invalid interface specification: '999.0.0.1'/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('a program that never answers pings times out with a clear error, and is killed', async () => {
    const fake = join(dataDir, 'silent-rtpengine');
    writeFileSync(fake, '#!/bin/sh\necho "pretending to start" >&2\nexec sleep 30\n');
    chmodSync(fake, 0o755);
    const err = await startRtpEngineProcess({ dataDir, binary: fake, startTimeoutMs: 800 }).catch(
      (e: unknown) => e,
    );
    expect(isMediaError(err) && err.code).toBe('MEDIA_ENGINE_START_FAILED');
    expect((err as Error).message).toMatch(/did not answer a ping .* within 800 ms/);
    expect((err as Error).message).toContain('pretending to start');
  });

  it('rejects a bad port range', async () => {
    const err = await startRtpEngineProcess({ dataDir, portMin: 30000, portMax: 30001 }).catch(
      (e: unknown) => e,
    );
    expect(isMediaError(err) && err.code).toBe('MEDIA_ENGINE_START_FAILED');
  });
});

describe('a running rtpengine', () => {
  let proc: RtpEngineProcess;
  const restarts: RtpEngineRestartInfo[] = [];

  beforeAll(async () => {
    proc = await startRtpEngineProcess({
      dataDir: join(dataDir, 'engine'),
      restartBackoffMs: [100],
      onRestart: (info) => restarts.push(info),
    });
  });
  afterAll(async () => {
    await proc?.stop();
  });

  it('runs with the flags, pid file and recording spool it was given', () => {
    expect(proc.running).toBe(true);
    expect(proc.args).toEqual(
      expect.arrayContaining([
        '--table=-1',
        '--foreground',
        '--log-stderr',
        `--interface=127.0.0.1`,
        `--listen-ng=127.0.0.1:${proc.ngPort}`,
        '--recording-method=pcap',
      ]),
    );
    expect(proc.portMax - proc.portMin).toBe(999);
    expect(proc.portMax).toBeLessThan(32768);
    expect(Number(readFileSync(proc.pidFile, 'utf8').trim())).toBe(proc.pid);
    expect(existsSync(join(proc.recordingDir, 'pcaps'))).toBe(true);
    expect(proc.recentStderr.join('\n')).toMatch(/Startup complete/);
  });

  it('is restarted after it dies; onRestart and the restart event fire; ping works again', async () => {
    const client = new NgClient({ host: proc.host, port: proc.ngPort, timeoutMs: 500 });
    try {
      await client.ping();
      const oldPid = proc.pid!;
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      const restarted = new Promise<RtpEngineRestartInfo>((resolve) => proc.once('restart', resolve));
      process.kill(oldPid, 'SIGKILL');
      await expect(exited).resolves.toMatchObject({ signal: 'SIGKILL' });
      const info = await restarted;
      expect(info).toMatchObject({ restarts: 1, signal: 'SIGKILL' });
      expect(info.pid).not.toBe(oldPid);
      expect(restarts).toHaveLength(1);
      await expect(client.ping()).resolves.toBe(true);
    } finally {
      await client.close();
    }
  });

  it('stop() ends it (idempotent) and there is no restart after', async () => {
    const pid = proc.pid!;
    const before = restarts.length;
    await Promise.all([proc.stop(), proc.stop()]);
    await proc.stop();
    expect(proc.running).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow();
    await new Promise((r) => setTimeout(r, 300));
    expect(restarts).toHaveLength(before);
  });
});

describe('restart limits', () => {
  it('gives up after maxRestartsPerMinute', async () => {
    const proc = await startRtpEngineProcess({
      dataDir: join(dataDir, 'limits'),
      restartBackoffMs: [50],
      maxRestartsPerMinute: 1,
    });
    try {
      const gaveUp = new Promise<{ reason: string }>((resolve) => proc.once('give-up', resolve));
      const restarted = new Promise((resolve) => proc.once('restart', resolve));
      process.kill(proc.pid!, 'SIGKILL');
      await restarted;
      process.kill(proc.pid!, 'SIGKILL');
      await expect(gaveUp).resolves.toMatchObject({
        reason: expect.stringContaining('2 times within a minute'),
      });
      expect(proc.running).toBe(false);
    } finally {
      await proc.stop();
    }
  });
});

describe('a stale rtpengine left by a killed platform', () => {
  it('is stopped by the next start with the same data directory (its pid file), and only it', async () => {
    const engineDir = mkdtempSync(join(tmpdir(), 'sb-stale-'));
    const pidFile = join(engineDir, 'rtpengine.pid');
    // An rtpengine no platform object owns any more (its parent was SIGKILLed). Started again when
    // it dies at once: with suites running in parallel its ng port can be taken before it binds it.
    const spawnOrphan = async () => {
      for (let attempt = 1; ; attempt++) {
        const port = await pickFreeUdpPort();
        const child = spawn(
          'rtpengine',
          [
            '--config-file=none',
            '--foreground',
            '--table=-1',
            '--interface=127.0.0.1',
            `--listen-ng=127.0.0.1:${port}`,
            '--port-min=23000',
            '--port-max=23099',
            `--pidfile=${pidFile}`,
          ],
          { stdio: 'ignore' },
        );
        await waitUntil(() => existsSync(pidFile) || child.exitCode !== null, 5000, 'the orphan pid file');
        await new Promise((resolve) => setTimeout(resolve, 300));
        if (child.exitCode === null && child.signalCode === null) return child;
        rmSync(pidFile, { force: true });
        if (attempt === 3) throw new Error('the orphan rtpengine did not stay up in 3 attempts');
      }
    };
    const orphan = await spawnOrphan();
    const exited = new Promise((resolve) => orphan.once('exit', resolve));
    try {
      // A pid file naming some other process is left alone.
      const other = join(engineDir, 'other.pid');
      writeFileSync(other, String(process.pid));
      expect(await stopStaleEngine(other, silentLogger)).toBe(false);

      expect(await stopStaleEngine(pidFile, silentLogger)).toBe(true);
      await exited;
      expect(orphan.exitCode !== null || orphan.signalCode !== null).toBe(true);
    } finally {
      orphan.kill('SIGKILL');
      rmSync(engineDir, { recursive: true, force: true });
    }
  });
});
