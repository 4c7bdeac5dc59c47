/**
 * Benchmark (for bench/run.ts): webhook deliveries per second from the outbox to a local receiver
 * on 127.0.0.1 — events committed to an in-memory feed, enqueued and delivered one endpoint at a
 * time (per-endpoint order means one request in flight per endpoint), on a real database.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../src/records/store/database.js';
import { endpointIdOf } from '../src/webhooks/config.js';
import { createWebhookOutbox } from '../src/webhooks/outbox.js';
import { openWebhookStore } from '../src/webhooks/store.js';
import { MemoryFeed, Receiver } from '../src/webhooks/test-support.js';

export interface WebhookBenchOptions {
  /** Events committed (default 5,000). */
  events?: number;
  /** Receivers, each subscribed to every event (default 1). */
  endpoints?: number;
  /** A PostgreSQL URL; absent: SQLite in a temp directory. */
  databaseUrl?: string;
}

export async function benchWebhooks(
  opts: WebhookBenchOptions = {},
): Promise<Array<{ name: string; value: number; unit: string }>> {
  const events = opts.events ?? 5_000;
  const endpointCount = opts.endpoints ?? 1;
  const dataDir = mkdtempSync(join(tmpdir(), 'webhooks-bench-'));
  const schema = `webhooks_bench_${process.pid}_${Date.now()}`;
  const database = await openDatabase(
    opts.databaseUrl ? { databaseUrl: opts.databaseUrl, dataDir: '', schema } : { dataDir },
  );
  const receivers: Receiver[] = [];
  try {
    for (let i = 0; i < endpointCount; i++) {
      const receiver = new Receiver();
      await receiver.up();
      receivers.push(receiver);
    }
    const feed = new MemoryFeed(false);
    const outbox = createWebhookOutbox({
      store: await openWebhookStore(database),
      feed,
      endpoints: receivers.map((r) => ({
        endpointId: endpointIdOf(r.url),
        endpoint: r.url,
        secret: 'whsec_YmVuY2htYXJr',
        events: ['*'],
      })),
    });
    await outbox.start();
    const started = performance.now();
    for (let i = 0; i < events; i++) feed.commit({ name: 'UserCallInComing' });
    for (const receiver of receivers) await receiver.until(() => receiver.received.length >= events, 600_000);
    const seconds = (performance.now() - started) / 1000;
    await outbox.stop();
    const where = opts.databaseUrl ? 'PostgreSQL' : 'SQLite';
    return [
      {
        name: `webhook deliveries/s (${where}, ${endpointCount} endpoint${endpointCount > 1 ? 's' : ''})`,
        value: Math.round((events * endpointCount) / seconds),
        unit: 'deliveries/s',
      },
    ];
  } finally {
    for (const receiver of receivers) await receiver.down();
    await database.close();
    rmSync(dataDir, { recursive: true, force: true });
    if (opts.databaseUrl) {
      const pg = (await import('pg')).default;
      const client = new pg.Client({ connectionString: opts.databaseUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => client.end());
    }
  }
}
