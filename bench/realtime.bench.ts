/**
 * RTE hub fan-out: `subscribers` WebSocket clients (speaking the SignalR JSON hub protocol, raw
 * `ws` — the official client is too heavy to open a thousand of in one process) subscribe to one
 * queue's events; service calls are appended to a SQLite journal at `callsPerSecond`; each event
 * is timed from the fact's append (its journal time, which includes the group commit the feed
 * waits for) to its arrival at each client. Clients and hub share the process (and its cores), so
 * the figures are a floor. `benchRealtime()` is for bench/run.ts;
 * `npx tsx bench/realtime.bench.ts [--subscribers N] [--seconds S] [--rate CALLS_PER_S]` prints them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Fastify from 'fastify';
import WebSocket from 'ws';
import type { User } from '../src/config/types.js';
import { openSqliteJournal } from '../src/journal/sqlite-journal.js';
import { createRealtimeFeed } from '../src/realtime/feed.js';
import { attachRteHub } from '../src/realtime/hub.js';
import { fixtureDirectory, Q, serviceCallFacts } from '../src/realtime/scenario.fixture.js';
import { createRteTokens } from '../src/realtime/token.js';
import type { BenchResult } from './records.bench.js';

export interface BenchRealtimeOptions {
  subscribers?: number;
  seconds?: number;
  /** Service calls per second appended (each is 18 facts, 9 queue events). */
  callsPerSecond?: number;
  log?: (line: string) => void;
}

const SEP = '\u001e';

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function benchRealtime(opts: BenchRealtimeOptions = {}): Promise<BenchResult[]> {
  const subscribers = opts.subscribers ?? 1000;
  const seconds = opts.seconds ?? 10;
  const rate = opts.callsPerSecond ?? 20;
  const log = opts.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'rte-bench-'));
  const journal = openSqliteJournal(join(dir, 'journal.db'));
  const feed = createRealtimeFeed({ journal, directory: fixtureDirectory });
  const tokens = createRteTokens({ key: { file: join(dir, 'rte.key') } });
  const admin = { userId: 'admin', username: 'admin@x', role: 'admin' } as unknown as User;
  const directory = {
    userById: (id: string) => (id === 'admin' ? admin : undefined),
    tenant: { users: [admin], queues: [], callbackLists: [] } as never,
  };
  const app = Fastify();
  await attachRteHub(app, { feed, directory, tokens, maxBufferedBytes: 64 * 1024 * 1024 });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const { token } = await tokens.issue('admin');

  const latencies: number[] = [];
  let delivered = 0;
  const clients: WebSocket[] = [];
  log(`connecting ${subscribers} subscribers`);
  const subscribe = JSON.stringify({
    type: 1,
    invocationId: '1',
    target: 'Subscribe',
    arguments: [
      [
        'QueueCallInArrived',
        'QueueCallInUserAllocated',
        'QueueCallInUserCancelled',
        'QueueCallInUserConnected',
        'QueueCallInDisconnected',
        'QueueStatus',
      ].map((EventName) => ({ EntityId: Q, EventName })),
    ],
  });
  for (let i = 0; i < subscribers; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, subscribers - i) }, async () => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/rte?access_token=${token}`);
        clients.push(ws);
        await new Promise<void>((resolve, reject) => {
          ws.once('error', reject);
          ws.on('message', (data) => {
            const text = data.toString();
            if (text.startsWith('{}')) {
              ws.send(subscribe + SEP);
              return;
            }
            // Only what the measurement needs: no full parse per event (the clients share the process).
            if (text.includes('"type":3')) resolve();
            for (const match of text.matchAll(/"timestamp":"([^"]+)"/g)) {
              delivered++;
              latencies.push(Date.now() - Date.parse(match[1]!));
            }
          });
          ws.once('open', () => ws.send(`{"protocol":"json","version":1}${SEP}`));
        });
      }),
    );
  }
  log(`appending ${rate} service calls/s for ${seconds} s`);
  latencies.length = 0;
  delivered = 0;
  const started = Date.now();
  let n = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.floor(((Date.now() - started) / 1000) * rate);
      while (n < due) for (const fact of serviceCallFacts(`bench-${n++}`)) journal.append(fact);
      if (Date.now() - started >= seconds * 1000) {
        clearInterval(timer);
        resolve();
      }
    }, 10);
  });
  await journal.flush();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const elapsed = (Date.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  for (const ws of clients) ws.terminate();
  await app.close();
  feed.close();
  await journal.close();
  rmSync(dir, { recursive: true, force: true });
  return [
    {
      name: `RTE fan-out: events delivered/s (${subscribers} subscribers)`,
      value: Math.round(delivered / elapsed),
      unit: 'events/s',
    },
    {
      name: `RTE fan-out: p50 latency commit→client (${subscribers} subscribers)`,
      value: percentile(latencies, 50),
      unit: 'ms',
    },
    {
      name: `RTE fan-out: p99 latency commit→client (${subscribers} subscribers)`,
      value: percentile(latencies, 99),
      unit: 'ms',
      target: '< 100 ms',
    },
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const results = await benchRealtime({
    subscribers: arg('--subscribers'),
    seconds: arg('--seconds'),
    callsPerSecond: arg('--rate'),
    log: (line) => console.error(`  ${line}`),
  });
  console.table(results);
}
