/**
 * `npm run bench`: every benchmark in one run. Prints one table, writes
 * bench/results/<timestamp>.json and bench/results/latest.json (with the machine it ran on), and
 * refreshes the table in README.md between the bench markers.
 *
 *   npm run bench                      everything (≈15 min: 1,000,000 records per store, call ramps)
 *   npm run bench -- --quick           small sizes, to check the benchmarks themselves
 *   npm run bench -- --only parser,records,calls
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { benchCalls } from './calls.bench.js';
import { benchParser } from './parser.bench.js';
import { type BenchResult, benchRecords } from './records.bench.js';

const ROOT = join(import.meta.dirname, '..');
const quick = process.argv.includes('--quick');
const onlyIndex = process.argv.indexOf('--only');
const only = new Set(
  onlyIndex >= 0 ? process.argv[onlyIndex + 1]!.split(',') : ['parser', 'records', 'calls'],
);
const log = (line: string) => console.error(`  ${line}`);

interface Row extends BenchResult {
  suite: string;
  target?: string;
}

/** What the issue asks each figure to reach; shown next to it. */
function targetOf(row: BenchResult): string | undefined {
  if (row.name.includes('Switchboard / Kamailio')) return '≥ 50 %';
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
  for (const r of await benchCalls(options)) rows.push({ suite: 'calls', ...r });
}
for (const row of rows) row.target = targetOf(row);

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

// The README shows the latest full run (not --quick) and the machine it ran on.
if (!quick && only.size === 3) {
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
