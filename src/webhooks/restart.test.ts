/**
 * At least once across a crash: an outbox process SIGKILLed while a delivery is in flight
 * delivers it again (same webhook-id) when started again over the same database, then the rest.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verify } from './signature.js';
import { Receiver } from './test-support.js';

const CHILD = join(import.meta.dirname, 'outbox-child.ts');

/** `node --import tsx`, not the tsx CLI: its pid is the outbox's own process, not a wrapper's. */
function start(dataDir: string, url: string, count: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dataDir, url, String(count)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`outbox child exited with ${code}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('started')) resolve(child);
    });
  });
}

describe('webhook outbox process killed with SIGKILL mid-delivery', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'webhooks-restart-'));
  const children: ChildProcess[] = [];
  const hooks = new Receiver();
  afterAll(async () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await hooks.down();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('redelivers after the restart, in order, nothing lost', async () => {
    await hooks.up();
    hooks.mode = 'hang';
    const inFlight = hooks.nextRequest();
    const first = await start(dataDir, hooks.url, 5);
    children.push(first);
    await inFlight;
    const exited = new Promise((resolve) => first.once('exit', (_code, signal) => resolve(signal)));
    first.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    hooks.mode = 'ok';
    children.push(await start(dataDir, hooks.url, 5));
    await hooks.until(() => hooks.received.length >= 5, 20_000);
    const ids = hooks.received.map((r) => String(r.headers['webhook-id']));
    expect(ids).toEqual(['1-0', '2-0', '3-0', '4-0', '5-0']);
    for (const received of hooks.received)
      expect(
        verify(
          'whsec_AAAA',
          {
            id: String(received.headers['webhook-id']),
            timestamp: String(received.headers['webhook-timestamp']),
            signature: String(received.headers['webhook-signature']),
          },
          received.body,
        ),
      ).toBe(true);
  }, 40_000);
});
