/**
 * Journal durability (for bench/run.ts): how long an appended fact takes to become durable, and how
 * many appends per second reach durability, for the SQLite journal (a file in a temp directory, its
 * default 5 ms group commit) and the JetStream journal (the nats-server at `natsServers`, its
 * default 2 ms group commit, one partition). Three measurements per journal:
 *
 * - sequential: append one fact, await flush, repeat — the latency a caller that waits sees;
 * - steady rate: facts appended at `ratePerSecond` without waiting; each entry is timed from its
 *   append to the moment the journal reports it durable (polled every event-loop turn), so the
 *   group commit's wait is included;
 * - throughput: `throughputFacts` appended in chunks as fast as the loop allows, until all durable.
 *
 * Without a reachable NATS server the JetStream rows are skipped (logged), the SQLite ones still run.
 * `npx tsx bench/journal.bench.ts` prints the rows.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { openJetStreamJournal } from '../src/journal/jetstream-journal.js';
import { openSqliteJournal } from '../src/journal/sqlite-journal.js';
import { ringingFact } from '../src/journal/testing.js';
import type { Journal } from '../src/journal/types.js';
import type { BenchResult } from './records.bench.js';

export interface JournalBenchOptions {
  /** Append-then-flush rounds of the sequential measurement (default 3,000). */
  sequential?: number;
  /** Facts per second of the steady-rate measurement (default 2,000). */
  ratePerSecond?: number;
  /** Seconds of the steady-rate measurement (default 5). */
  rateSeconds?: number;
  /** Facts of the throughput measurement (default 100,000). */
  throughputFacts?: number;
  /** NATS with JetStream (default 127.0.0.1:4222). */
  natsServers?: string;
  log?: (line: string) => void;
}

/** A journal under test and how to tell how far it is durable. */
interface Subject {
  label: string;
  journal: Journal;
  durableSeq(): number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const round2 = (value: number) => Math.round(value * 100) / 100;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function sequentialLatency(subject: Subject, rounds: number): Promise<number[]> {
  const callId = randomUUID();
  const latencies: number[] = [];
  for (let n = 0; n < rounds; n += 1) {
    const started = performance.now();
    subject.journal.append(ringingFact(callId, n));
    await subject.journal.flush();
    latencies.push(performance.now() - started);
  }
  return latencies.sort((a, b) => a - b);
}

/** Append at a steady rate; time each entry from append until the journal reports it durable. */
async function steadyRateLatency(
  subject: Subject,
  ratePerSecond: number,
  seconds: number,
): Promise<number[]> {
  const { journal } = subject;
  const callId = randomUUID();
  const total = Math.round(ratePerSecond * seconds);
  const firstSeq = journal.lastSeq() + 1;
  const appendedAt: number[] = [];
  const latencies: number[] = [];
  let durableCounted = firstSeq - 1;
  const started = performance.now();
  while (latencies.length < total) {
    const now = performance.now();
    const due = Math.min(total, Math.floor(((now - started) / 1000) * ratePerSecond) + 1);
    while (appendedAt.length < due) {
      appendedAt.push(performance.now());
      journal.append(ringingFact(callId, appendedAt.length));
    }
    const durable = Math.min(subject.durableSeq(), firstSeq + appendedAt.length - 1);
    const seen = performance.now();
    for (; durableCounted < durable; durableCounted += 1)
      latencies.push(seen - appendedAt[durableCounted - firstSeq + 1]!);
    await nextTurn();
  }
  return latencies.sort((a, b) => a - b);
}

async function throughput(subject: Subject, facts: number): Promise<number> {
  const callId = randomUUID();
  const started = performance.now();
  for (let n = 0; n < facts; n += 1) {
    subject.journal.append(ringingFact(callId, n));
    // Let the group commits run, as call control's event loop would between calls.
    if (n % 1000 === 999) await nextTurn();
  }
  await subject.journal.flush();
  return facts / ((performance.now() - started) / 1000);
}

async function measure(subject: Subject, opts: Required<Omit<JournalBenchOptions, 'log' | 'natsServers'>>) {
  const sequential = await sequentialLatency(subject, opts.sequential);
  const steady = await steadyRateLatency(subject, opts.ratePerSecond, opts.rateSeconds);
  const perSecond = await throughput(subject, opts.throughputFacts);
  const rows: BenchResult[] = [
    {
      name: `journal append→durable p50 (${subject.label}, sequential)`,
      value: round2(percentile(sequential, 50)),
      unit: 'ms',
    },
    {
      name: `journal append→durable p99 (${subject.label}, sequential)`,
      value: round2(percentile(sequential, 99)),
      unit: 'ms',
    },
    {
      name: `journal append→durable p50 (${subject.label}, ${opts.ratePerSecond} facts/s)`,
      value: round2(percentile(steady, 50)),
      unit: 'ms',
    },
    {
      name: `journal append→durable p99 (${subject.label}, ${opts.ratePerSecond} facts/s)`,
      value: round2(percentile(steady, 99)),
      unit: 'ms',
    },
    { name: `journal durable appends/s (${subject.label})`, value: Math.round(perSecond), unit: 'appends/s' },
  ];
  return rows;
}

export async function benchJournal(opts: JournalBenchOptions = {}): Promise<BenchResult[]> {
  const sizes = {
    sequential: opts.sequential ?? 3000,
    ratePerSecond: opts.ratePerSecond ?? 2000,
    rateSeconds: opts.rateSeconds ?? 5,
    throughputFacts: opts.throughputFacts ?? 100_000,
  };
  const log = opts.log ?? (() => {});
  const rows: BenchResult[] = [];

  const dir = mkdtempSync(join(tmpdir(), 'journal-bench-'));
  try {
    const journal = openSqliteJournal(join(dir, 'journal.db'));
    try {
      log('SQLite journal…');
      rows.push(
        ...(await measure({ label: 'SQLite', journal, durableSeq: () => journal.stats().durableSeq }, sizes)),
      );
    } finally {
      await journal.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const servers = opts.natsServers ?? '127.0.0.1:4222';
  let nc: NatsConnection;
  try {
    nc = await connect({ servers });
  } catch (cause) {
    log(`JetStream journal skipped: no NATS server at ${servers} (${String(cause)})`);
    return rows;
  }
  const tag = randomBytes(6).toString('hex');
  const streamPrefix = `SBBENCH_${tag}`;
  try {
    const journal = await openJetStreamJournal(nc, {
      nodeId: 'bench',
      streamPrefix,
      subjectPrefix: `sbbench.${tag}`,
    });
    try {
      log(`JetStream journal (nats-server ${nc.info?.version})…`);
      rows.push(
        ...(await measure(
          { label: 'JetStream', journal, durableSeq: () => journal.stats().durableSeq },
          sizes,
        )),
      );
    } finally {
      await journal.close();
    }
  } finally {
    const jsm = await jetstreamManager(nc);
    for (const stream of [`${streamPrefix}_bench`, `KV_${streamPrefix}_LEGS`, `KV_${streamPrefix}_MARKS`]) {
      await jsm.streams.delete(stream).catch(() => false);
    }
    await nc.close();
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.table(await benchJournal({ log: (line) => console.error(line) }));
}
