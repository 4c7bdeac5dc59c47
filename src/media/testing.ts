/**
 * Test support: a real rtpengine child for one suite (started before its tests, stopped and its
 * data directory removed after), with an `RtpEngine` over it. A missing rtpengine fails the suite
 * (startRtpEngineProcess says so): nothing skips; CI installs rtpengine-daemon.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { RtpEngine } from './rtpengine.js';
import { type RtpEngineProcess, startRtpEngineProcess } from './rtpengine-process.js';

export interface SuiteEngine {
  readonly proc: RtpEngineProcess;
  readonly media: RtpEngine;
}

/** Call inside a `describe`: the suite's engine, readable from its tests once `beforeAll` ran. */
export function useRtpEngine(prefix: string): SuiteEngine {
  let dataDir: string | undefined;
  let proc: RtpEngineProcess | undefined;
  let media: RtpEngine | undefined;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), prefix));
    proc = await startRtpEngineProcess({ dataDir });
    media = proc.createEngine();
  });
  afterAll(async () => {
    await media?.close();
    await proc?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });
  return {
    get proc() {
      if (!proc) throw new Error('useRtpEngine: the engine starts in beforeAll');
      return proc;
    },
    get media() {
      if (!media) throw new Error('useRtpEngine: the engine starts in beforeAll');
      return media;
    },
  };
}
