/**
 * Record store at scale: seeds user call events (default 1,000,000 over ~1000 users and 30 days)
 * into SQLite and PostgreSQL, then measures the REST API's most common query — one user's calls
 * of one day — as p50/p99 latency. `benchRecords()` is aggregated by bench/run.ts;
 * `npx tsx bench/records.bench.ts [--events N] [--queries N] [--only sqlite|postgres]` prints a table.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import pg from 'pg';
import { type CredentialStore, openCredentialStore } from '../src/api/credentials/index.js';
import { createApiServer } from '../src/api/server.js';
import { createDirectory } from '../src/config/directory.js';
import { parseTenantYaml } from '../src/config/load.js';
import { openDatabase, openRecordStore } from '../src/records/store/index.js';
import type { CallResult, RecordStore, StoreDialect, UserCallEvent } from '../src/records/types.js';

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  /** What the figure must reach, when the benchmark itself knows (else bench/run.ts targetOf). */
  target?: string;
}

export interface BenchRecordsOptions {
  /** User call events to seed (default 1,000,000). */
  events?: number;
  users?: number;
  days?: number;
  /** Measured queries per store (default 500, after 50 warm-up queries). */
  queries?: number;
  databaseUrl?: string;
  dialects?: readonly StoreDialect[];
  /** Progress lines go here (default: none). */
  log?: (line: string) => void;
  /** Also measure GET /calls over real HTTP (sequential p50/p99, then autocannon). Default true. */
  rest?: boolean;
  /** autocannon duration in seconds (default 10). */
  restSeconds?: number;
}

const DAY_MS = 86_400_000;
const SEED_BATCH = 10_000;
const RESULTS: readonly CallResult[] = [
  'Handled',
  'Handled',
  'Handled',
  'Allocated',
  'Missed',
  'Cancelled',
  'Busy',
];

/** Deterministic PRNG (mulberry32): both stores get the same data and the same queries. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function userIdOf(index: number): string {
  return `00000000-0000-4000-8000-${index.toString(16).padStart(12, '0')}`;
}

function* generateEvents(
  total: number,
  users: number,
  days: number,
  startMs: number,
): Generator<UserCallEvent[]> {
  const random = prng(42);
  let batch: UserCallEvent[] = [];
  for (let i = 0; i < total; i += 1) {
    const userIndex = Math.floor(random() * users);
    // Calls are recorded as they happen: times rise through the run, as in production.
    const timestampMs = startMs + Math.floor(((i + random()) / total) * days * DAY_MS);
    const service = random() < 0.6;
    const result = RESULTS[Math.floor(random() * RESULTS.length)]!;
    const answered = result === 'Handled';
    const talkSeconds = answered ? Math.floor(random() * 600) : 0;
    const queueIndex = Math.floor(random() * 20);
    batch.push({
      eventId: randomUUID(),
      callId: randomUUID(),
      callLegId: randomUUID(),
      userId: userIdOf(userIndex),
      userName: `user${userIndex}@example.com`,
      callType: service ? 'ServiceCall' : 'DirectCall',
      direction: service || random() < 0.5 ? 'inbound' : 'outbound',
      result,
      aNum: `+35840${(1_000_000 + i).toString().slice(-7)}`,
      bNum: service ? `+3581010${queueIndex.toString().padStart(4, '0')}` : `${1000 + userIndex}`,
      queueId: service ? `5a000000-0000-4000-8000-${queueIndex.toString(16).padStart(12, '0')}` : null,
      queueName: service ? `Queue ${queueIndex}` : null,
      timestampMs,
      answerTimeMs: answered ? timestampMs + 5000 : null,
      endTimeMs: timestampMs + 5000 + talkSeconds * 1000,
      durationSeconds: talkSeconds,
      recordingIds: [],
      transferredTo: null,
      modifiedMs: timestampMs + 15_000 + talkSeconds * 1000,
    });
    if (batch.length === SEED_BATCH) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

interface Target {
  dialect: StoreDialect;
  store: RecordStore;
  /** The API's credential store on the same database, as the platform runs it. */
  credentials: CredentialStore;
  /** Refresh planner statistics after the bulk load, as autovacuum/ANALYZE would in production. */
  analyze(): Promise<void>;
  dispose(): Promise<void>;
}

async function openTarget(dialect: StoreDialect, databaseUrl: string): Promise<Target> {
  if (dialect === 'sqlite') {
    const dataDir = mkdtempSync(join(tmpdir(), 'bench-records-'));
    const database = await openDatabase({ dataDir });
    const store = await openRecordStore(database);
    const credentials = await openCredentialStore(database);
    return {
      dialect,
      store,
      credentials,
      async analyze() {
        const db = new Database(join(dataDir, 'records.db'));
        db.exec('ANALYZE');
        db.close();
      },
      async dispose() {
        await store.close();
        await database.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  const schema = `bench_records_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const database = await openDatabase({ databaseUrl, dataDir: '', schema, poolSize: 4 });
  const store = await openRecordStore(database);
  const credentials = await openCredentialStore(database);
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  return {
    dialect,
    store,
    credentials,
    analyze: () => admin(`ANALYZE "${schema}".user_call_events`),
    async dispose() {
      await store.close();
      await database.close();
      await admin(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    },
  };
}

export async function benchRecords(opts: BenchRecordsOptions = {}): Promise<BenchResult[]> {
  const events = opts.events ?? 1_000_000;
  const users = opts.users ?? 1000;
  const days = opts.days ?? 30;
  const queries = opts.queries ?? 500;
  const databaseUrl =
    opts.databaseUrl ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const dialects = opts.dialects ?? ['sqlite', 'postgres'];
  const log = opts.log ?? (() => {});
  const startMs = Date.UTC(2030, 0, 1);
  const results: BenchResult[] = [];

  for (const dialect of dialects) {
    const target = await openTarget(dialect, databaseUrl);
    try {
      const seedStarted = performance.now();
      let seeded = 0;
      for (const batch of generateEvents(events, users, days, startMs)) {
        await target.store.writeBatch({ userCallEvents: batch });
        seeded += batch.length;
        if (seeded % 100_000 === 0) log(`${dialect}: seeded ${seeded.toLocaleString('en-US')} events`);
      }
      const seedSeconds = (performance.now() - seedStarted) / 1000;
      await target.analyze();

      const random = prng(7);
      const latencies: number[] = [];
      let rows = 0;
      for (let i = 0; i < queries + 50; i += 1) {
        const userId = userIdOf(Math.floor(random() * users));
        const fromMs = startMs + Math.floor(random() * days) * DAY_MS;
        const started = performance.now();
        const found = await target.store.listUserCallEvents({
          selection: { by: 'time', fromMs, toMs: fromMs + DAY_MS },
          userIds: [userId],
          visibleDirectCallUserIds: [userId],
          visibleAgentCallUserIds: [userId],
        });
        const elapsed = performance.now() - started;
        if (i >= 50) {
          latencies.push(elapsed);
          rows += found.length;
        }
      }
      latencies.sort((x, y) => x - y);
      const label = `${dialect}, ${events.toLocaleString('en-US')} events`;
      results.push(
        {
          name: `store seed (${label}, ${users} users, ${days} days)`,
          value: Math.round(events / seedSeconds),
          unit: 'events/s',
        },
        {
          name: `store query one user one day p50 (${label})`,
          value: round(percentile(latencies, 50)),
          unit: 'ms',
        },
        {
          name: `store query one user one day p99 (${label})`,
          value: round(percentile(latencies, 99)),
          unit: 'ms',
        },
        {
          name: `store query one user one day rows (${label})`,
          value: round(rows / queries),
          unit: 'rows/query',
        },
      );
      log(`${dialect}: seeded in ${seedSeconds.toFixed(1)} s; ${queries} queries measured`);
      if (opts.rest !== false) {
        results.push(
          ...(await benchRest(target.store, target.credentials, {
            users,
            days,
            startMs,
            queries,
            seconds: opts.restSeconds ?? 10,
            label,
          })),
        );
        log(`${dialect}: REST measured`);
      }
    } finally {
      await target.dispose();
    }
  }
  return results;
}

/**
 * The REST API's most common query over real HTTP: `GET /calls` for one user's day, as an admin
 * (HTTP Basic, secret key verified), sequentially for p50/p99 and then with 50 concurrent
 * connections (autocannon) for requests per second.
 */
async function benchRest(
  store: RecordStore,
  credentials: CredentialStore,
  opts: { users: number; days: number; startMs: number; queries: number; seconds: number; label: string },
): Promise<BenchResult[]> {
  const lines = [
    'domain: bench.local',
    'users:',
    '  - { username: admin@bench.local, extension: "1", password: bench, role: admin }',
  ];
  for (let i = 0; i < opts.users; i++)
    lines.push(
      `  - { id: "${userIdOf(i)}", username: user${i}@example.com, extension: "${10_000 + i}", password: x }`,
    );
  const tenant = parseTenantYaml(lines.join('\n'), 'bench tenant', { defaultPublicUrl: 'http://127.0.0.1/' });
  const unlimited = { capacity: 1e9, refillPerSecond: 1e9 };
  const app = createApiServer({
    directory: createDirectory(tenant),
    records: store,
    credentials,
    rateLimits: { requests: unlimited, anonymous: unlimited, authFailures: unlimited },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  try {
    const auth = await fetch(`${base}/authuser/admin@bench.local`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ UserName: 'admin@bench.local', Password: 'bench' }),
    });
    const { SecretKey } = (await auth.json()) as { SecretKey: string };
    const authorization = `Basic ${Buffer.from(`admin@bench.local:${SecretKey}`).toString('base64')}`;
    const random = prng(11);
    const fmt = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
    const nextPath = () => {
      const userId = userIdOf(Math.floor(random() * opts.users));
      const fromMs = opts.startMs + Math.floor(random() * opts.days) * DAY_MS;
      const query = new URLSearchParams({
        StartTime: fmt(fromMs),
        EndTime: fmt(fromMs + DAY_MS),
        UserIDs: userId,
      });
      return `/calls?${query}`;
    };
    const headers = { Authorization: authorization, 'X-Json-Serializer': '2' };
    const latencies: number[] = [];
    for (let i = 0; i < opts.queries + 50; i++) {
      const started = performance.now();
      const response = await fetch(base + nextPath(), { headers });
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`GET /calls: HTTP ${response.status}`);
      if (i >= 50) latencies.push(performance.now() - started);
    }
    latencies.sort((x, y) => x - y);
    const loaded = await autocannon({
      url: base,
      connections: 50,
      duration: opts.seconds,
      headers,
      requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: nextPath() }) }],
    });
    return [
      {
        name: `REST GET /calls one user one day p50 (${opts.label})`,
        value: round(percentile(latencies, 50)),
        unit: 'ms',
      },
      {
        name: `REST GET /calls one user one day p99 (${opts.label})`,
        value: round(percentile(latencies, 99)),
        unit: 'ms',
      },
      {
        name: `REST GET /calls, 50 connections (${opts.label})`,
        value: Math.round(loaded.requests.average),
        unit: 'requests/s',
      },
      { name: `REST GET /calls, 50 connections, p99 (${opts.label})`, value: loaded.latency.p99, unit: 'ms' },
      {
        name: `REST GET /calls, 50 connections, errors (${opts.label})`,
        value: loaded.non2xx + loaded.errors,
        unit: 'responses',
      },
    ];
  } finally {
    await app.close();
  }
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function flag(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const only = flag('--only');
  if (only !== undefined && only !== 'sqlite' && only !== 'postgres') {
    console.error('--only takes sqlite or postgres');
    process.exit(2);
  }
  const events = flag('--events');
  const queries = flag('--queries');
  const results = await benchRecords({
    rest: !process.argv.includes('--no-rest'),
    events: events ? Number(events) : undefined,
    queries: queries ? Number(queries) : undefined,
    dialects: only ? [only] : undefined,
    log: (line) => console.error(line),
  });
  console.table(
    results.map((r) => ({ benchmark: r.name, value: r.value.toLocaleString('en-US'), unit: r.unit })),
  );
}
