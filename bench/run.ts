/**
 * `npm run bench`: every benchmark in one run. Prints one table, writes
 * bench/results/<timestamp>.json and bench/results/latest.json (with the machine it ran on), and
 * refreshes the table in README.md between the bench markers.
 *
 *   npm run bench                      everything (≈30 min: 1,000,000 records per store, call ramps, media ≈12 min,
 *                                      queue audio ≈3 min)
 *   npm run bench -- --quick           small sizes, to check the benchmarks themselves
 *   npm run bench -- --only parser,records,calls
 *   npm run bench -- --only kamailio,direct,kamailio-tcp,direct-tcp
 *                                      calls phases only (see bench/calls.bench.ts: kamailio, direct,
 *                                      kamailio-tcp, direct-tcp, freshness, queue, memory)
 *   npm run bench -- --only direct-tcp --rates 100,500
 *                                      the call ramps try these rates (calls/s) only
 *   npm run bench -- --only media      anchored calls with RTP both ways (Switchboard + its own
 *                                      rtpengine, Kamailio + rtpengine as the reference) and
 *                                      recording post-processing (see bench/media.bench.ts)
 *   npm run bench -- --only kamailio-media,anchored,wide,recording
 *                                      media phases only
 *   npm run bench -- --only media --steps 10,50,100
 *                                      the anchored-call ramps try these concurrent call counts only
 *   npm run bench -- --only realtime,webhooks
 *                                      the RTE hub's fan-out (bench/realtime.bench.ts) and webhook
 *                                      deliveries per second (bench/webhooks.bench.ts)
 *   npm run bench -- --only journal    append→durable latency and durable appends/s of the SQLite
 *                                      and JetStream journals (see bench/journal.bench.ts; JetStream
 *                                      needs NATS on 127.0.0.1:4222, else its rows are skipped)
 *   npm run bench -- --only queue-audio
 *                                      queue audio (see bench/queue-audio.bench.ts): waiting callers
 *                                      hearing music, and queue calls/s bridged to agents
 *   npm run bench -- --only queue-waiting,queue-rate --steps 10,20
 *                                      queue audio phases only; --steps are the waiting callers tried,
 *                                      and the calls/s tried unless --rates names those
 *   npm run bench -- --only cluster    direct and queue calls/s through Kamailio in front of one
 *                                      cluster node, then two (NATS JetStream and PostgreSQL on this
 *                                      machine; see bench/cluster.bench.ts); --rates as for calls
 *   npm run bench -- --only cluster-direct
 *                                      cluster phases only (cluster-direct, cluster-queue)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { benchCalls, isPhase, type Phase, parseRates } from './calls.bench.js';
import { benchCluster, type ClusterPhase, isClusterPhase } from './cluster.bench.js';
import { benchJournal } from './journal.bench.js';
import { benchMedia, isMediaPhase, type MediaPhase, parseSteps } from './media.bench.js';
import { benchParser } from './parser.bench.js';
import {
  benchQueueAudio,
  isQueueAudioPhase,
  type QueueAudioPhase,
  queueAudioOptions,
} from './queue-audio.bench.js';
import { benchRealtime } from './realtime.bench.js';
import { type BenchResult, benchRecords } from './records.bench.js';
import { benchWebhooks } from './webhooks.bench.js';

const ROOT = join(import.meta.dirname, '..');
const quick = process.argv.includes('--quick');
const onlyIndex = process.argv.indexOf('--only');
const SUITES = [
  'parser',
  'records',
  'calls',
  'media',
  'queue-audio',
  'realtime',
  'webhooks',
  'journal',
  'cluster',
];
const selected = onlyIndex >= 0 ? process.argv[onlyIndex + 1]!.split(',') : SUITES;
// A calls phase named on its own runs the calls suite with the phases named (the others skipped).
const phases = selected.filter(isPhase);
// Likewise a media phase (kamailio-media, anchored, wide, recording) runs the media suite with those only.
const mediaPhaseNames = selected.filter(isMediaPhase);
// And a queue audio phase (queue-waiting, queue-rate) the queue audio suite.
const queueAudioPhaseNames = selected.filter(isQueueAudioPhase);
// And a cluster phase (cluster-direct, cluster-queue) the cluster suite.
const clusterPhaseNames = selected.filter(isClusterPhase);
const unknown = selected.filter(
  (name) =>
    !SUITES.includes(name) &&
    !isPhase(name) &&
    !isMediaPhase(name) &&
    !isQueueAudioPhase(name) &&
    !isClusterPhase(name),
);
if (unknown.length > 0) throw new Error(`--only: unknown suite or phase ${unknown.join(', ')}`);
const only = new Set(selected.filter((name) => SUITES.includes(name)));
if (phases.length > 0) only.add('calls');
if (mediaPhaseNames.length > 0) only.add('media');
if (queueAudioPhaseNames.length > 0) only.add('queue-audio');
if (clusterPhaseNames.length > 0) only.add('cluster');
const callPhases: ReadonlySet<Phase> | undefined =
  phases.length > 0 && !selected.includes('calls') ? new Set(phases) : undefined;
const mediaPhases: ReadonlySet<MediaPhase> | undefined =
  mediaPhaseNames.length > 0 && !selected.includes('media') ? new Set(mediaPhaseNames) : undefined;
const queueAudioPhases: ReadonlySet<QueueAudioPhase> | undefined =
  queueAudioPhaseNames.length > 0 && !selected.includes('queue-audio')
    ? new Set(queueAudioPhaseNames)
    : undefined;
const clusterPhases: ReadonlySet<ClusterPhase> | undefined =
  clusterPhaseNames.length > 0 && !selected.includes('cluster') ? new Set(clusterPhaseNames) : undefined;
const ratesIndex = process.argv.indexOf('--rates');
const rates = ratesIndex >= 0 ? parseRates(process.argv[ratesIndex + 1]) : undefined;
const stepsIndex = process.argv.indexOf('--steps');
const steps = stepsIndex >= 0 ? parseSteps(process.argv[stepsIndex + 1]) : undefined;
const log = (line: string) => console.error(`  ${line}`);

interface Row extends BenchResult {
  suite: string;
  target?: string;
}

/** What the issue asks each figure to reach; shown next to it. */
function targetOf(row: BenchResult): string | undefined {
  if (row.name.startsWith('direct calls') && row.name.includes('Switchboard / Kamailio')) return '≥ 50 %';
  if (row.name.startsWith('queue calls (')) return '≥ 500 calls/s';
  if (row.name.includes('freshness') && row.name.endsWith('p99')) return '≤ 1000 ms';
  if (row.name.startsWith('REST GET /calls one user one day p99')) return '≤ 20 ms';
  if (row.name.startsWith('memory per established call') && row.name.endsWith('resident'))
    return '≤ 20480 bytes';
  return undefined;
}

const rows: Row[] = [];
const started = Date.now();
if (only.has('parser')) {
  console.error('parser…');
  for (const r of await benchParser()) rows.push({ suite: 'parser', ...r });
}
if (only.has('records')) {
  console.error('records and REST (seeding the stores)…');
  for (const r of await benchRecords({
    events: quick ? 20_000 : 1_000_000,
    queries: quick ? 100 : 500,
    restSeconds: quick ? 3 : 10,
    log,
  }))
    rows.push({ suite: 'records', ...r });
}
if (only.has('calls')) {
  console.error('calls (sipp ramps against Kamailio and Switchboard)…');
  const options = quick ? { rates: [50, 100], agents: 5, memoryCalls: 500, log } : { log };
  for (const r of await benchCalls({ ...options, phases: callPhases, ...(rates ? { rates } : {}) }))
    rows.push({ suite: 'calls', ...r });
}
if (only.has('media')) {
  console.error(
    'media (anchored calls with RTP both ways through Kamailio + rtpengine and Switchboard; recordings)…',
  );
  const options = quick
    ? { steps: [10, 25], wideSteps: [50], holdSeconds: 5, recordCalls: 2, recordSeconds: 10, log }
    : { log };
  for (const r of await benchMedia({
    ...options,
    phases: mediaPhases,
    ...(steps ? { steps, wideSteps: steps } : {}),
  }))
    rows.push({ suite: 'media', ...r });
}
if (only.has('queue-audio')) {
  console.error(
    'queue audio (waiting callers hearing music; queue calls bridged to agents, audio both ways)…',
  );
  for (const r of await benchQueueAudio({
    ...queueAudioOptions({ quick, steps, rates }),
    phases: queueAudioPhases,
    log,
  }))
    rows.push({ suite: 'queue-audio', ...r });
}
if (only.has('realtime')) {
  console.error(
    'realtime (RTE hub fan-out: subscribers over SignalR, events delivered, latency from the fact)…',
  );
  for (const r of await benchRealtime({ ...(quick ? { subscribers: 100, seconds: 3 } : {}), log }))
    rows.push({ suite: 'realtime', ...r });
}
if (only.has('webhooks')) {
  console.error('webhooks (outbox deliveries to a local receiver, SQLite)…');
  for (const r of await benchWebhooks({ events: quick ? 500 : 5000 })) rows.push({ suite: 'webhooks', ...r });
}
if (only.has('journal')) {
  console.error('journal (append→durable latency and durable appends/s: SQLite, NATS JetStream)…');
  const options = quick ? { sequential: 500, rateSeconds: 1, throughputFacts: 20_000, log } : { log };
  for (const r of await benchJournal(options)) rows.push({ suite: 'journal', ...r });
}
if (only.has('cluster')) {
  console.error(
    'cluster (direct and queue calls/s through Kamailio, one node then two; JetStream, PostgreSQL)…',
  );
  const options = quick ? { rates: [20, 50], agents: 20, log } : { log };
  for (const r of await benchCluster({ ...options, phases: clusterPhases, ...(rates ? { rates } : {}) }))
    rows.push({ suite: 'cluster', ...r });
}
for (const row of rows) row.target ??= targetOf(row);

const machine = {
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
};
const report = {
  date: new Date(started).toISOString(),
  durationSeconds: Math.round((Date.now() - started) / 1000),
  quick,
  // Strings, not arrays: JSON.stringify spreads an array over lines, which biome (bench/**) refuses.
  ...(onlyIndex >= 0 ? { only: selected.join(',') } : {}),
  ...(rates ? { rates: rates.join(',') } : {}),
  ...(steps ? { steps: steps.join(',') } : {}),
  machine,
  results: rows,
};
const dir = join(ROOT, 'bench', 'results');
mkdirSync(dir, { recursive: true });
const stamp = report.date.replace(/[:.]/g, '-');
writeFileSync(join(dir, `${stamp}.json`), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);

console.table(
  rows.map((r) => ({
    suite: r.suite,
    benchmark: r.name,
    value: r.value.toLocaleString('en-US'),
    unit: r.unit,
    target: r.target ?? '',
  })),
);

// The README shows the latest full run (not --quick, every suite and phase, the default rates) and
// the machine it ran on.
if (
  !quick &&
  !rates &&
  !steps &&
  !callPhases &&
  !mediaPhases &&
  !queueAudioPhases &&
  !clusterPhases &&
  SUITES.every((suite) => only.has(suite))
) {
  const readmePath = join(ROOT, 'README.md');
  const readme = readFileSync(readmePath, 'utf8');
  const table = [
    `Last run ${report.date.slice(0, 10)} on ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node} (${report.durationSeconds} s):`,
    '',
    '| suite | benchmark | value | unit | target |',
    '|---|---|---:|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.suite} | ${r.name} | ${r.value.toLocaleString('en-US')} | ${r.unit} | ${r.target ?? ''} |`,
    ),
  ].join('\n');
  const updated = readme.replace(
    /<!-- bench:start -->[\s\S]*<!-- bench:end -->/,
    `<!-- bench:start -->\n${table}\n<!-- bench:end -->`,
  );
  if (updated !== readme) writeFileSync(readmePath, updated);
}
