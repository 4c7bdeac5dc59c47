/**
 * Calls per second through Kamailio in front of a Switchboard cluster (issue 18), with one node and
 * with two: each node its own process (`switchboard start --cluster nats://… --node-id …`), the
 * journal on the machine's NATS JetStream, records in one shared PostgreSQL schema, Kamailio
 * (deploy/kamailio/kamailio.cfg) the only SIP address the load generator talks to. Media is off
 * (`media: { rtpengine: off }`): this measures signalling, call control and the journal.
 *
 * - cluster-direct: sipp places INVITE → 200 → ACK → short hold → BYE calls through Kamailio to
 *   extension 3000, registered through Kamailio (Path) by the sipp that answers at once. Kamailio
 *   is the tenant's trunk (the nodes see it as the source of every request), so calls come in
 *   unauthenticated as from a carrier;
 * - cluster-queue: the same calls to queue 200, whose agents (all registered through Kamailio at
 *   one answering sipp, wrap-up 0) answer at once; with two nodes each claims agents cluster-wide.
 *
 * The rate is ramped as bench/calls.bench.ts does (its `ramp`): 10 s steps, a step sustained when
 * fewer than 0.1 % of its calls failed, the calls fit in the step, and the setup time (INVITE → 200
 * at the caller) p99 stayed within SETUP_P99_BOUND_MS. For the highest sustained step: setup
 * p50/p99, the CPU of the node processes and of Kamailio (from /proc, % of one core) and of the
 * whole machine. Afterwards the records in PostgreSQL are counted against the calls answered.
 *
 * Everything shares this machine's cores: nodes, Kamailio, sipp, NATS and PostgreSQL.
 * `npx tsx bench/cluster.bench.ts [--quick] [--only cluster-direct,cluster-queue] [--rates 50,100]`
 * prints a table.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import {
  createSchema,
  dropClusterState,
  type NodeProcess,
  startNodeProcess,
} from '../test/support/cluster.js';
import { type KamailioProcess, startKamailio } from '../test/support/kamailio.js';
import { freeTcpPort, POSTGRES_URL } from '../test/support/platform.js';
import { freeUdpPort } from '../test/support/sipp.js';
import {
  DOMAIN,
  drain,
  freeSipPort,
  PASSWORD,
  type Peer,
  parseRates,
  percentile,
  ramp,
  register,
  type Server,
  type StepResult,
  startAnswering,
} from './calls.bench.js';
import type { BenchResult } from './records.bench.js';

export const CLUSTER_PHASES = ['cluster-direct', 'cluster-queue'] as const;
export type ClusterPhase = (typeof CLUSTER_PHASES)[number];

export function isClusterPhase(name: string): name is ClusterPhase {
  return (CLUSTER_PHASES as readonly string[]).includes(name);
}

/** A step whose setup time p99 (INVITE → 200 at the caller) is above this did not sustain its rate. */
const SETUP_P99_BOUND_MS = 500;
const PROBE_INTERVAL_S = 1;

export interface BenchClusterOptions {
  /** Rates (calls/s) tried in order until one fails. */
  rates?: number[];
  /** Agents in the queue (default 200: enough for the rates with the hold). */
  agents?: number;
  /** ACK → BYE (ms, default 200). */
  holdMs?: number;
  /** Cluster sizes measured (default 1 and 2 nodes). */
  nodeCounts?: number[];
  phases?: ReadonlySet<ClusterPhase>;
  log?: (line: string) => void;
}

function tenantYaml(trunkPort: number, agents: number): string {
  const users = [
    `  - { username: admin@bench.local, extension: "1000", password: ${PASSWORD}, role: admin }`,
    `  - { username: callee@bench.local, extension: "3000", password: ${PASSWORD} }`,
  ];
  const members: string[] = [];
  for (let i = 1; i <= agents; i++) {
    users.push(`  - { username: agent${i}@bench.local, extension: "${3000 + i}", password: ${PASSWORD} }`);
    members.push(`agent${i}@bench.local`);
  }
  return `domain: ${DOMAIN}
postProcessing: { delaySeconds: 0 }
media: { rtpengine: off }
users:
${users.join('\n')}
queues:
  - { name: Bench, extension: "200", members: [${members.join(', ')}], strategy: longest-idle, wrapUpSeconds: 0, greeting: none, allocationTimeoutSeconds: 10, maxWaitSeconds: 30 }
trunks:
  - { name: kamailio, host: 127.0.0.1, port: ${trunkPort} }
`;
}

// ---- CPU from /proc ------------------------------------------------------------------------------

/** utime + stime of a process, clock ticks (USER_HZ, 100 on Linux). */
function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** `pid` and its children (Kamailio's workers are forked processes). */
function processTree(pid: number): number[] {
  const pids = [pid];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Busy and total jiffies of the whole machine (/proc/stat: everything but idle and iowait is busy). */
function machineTicks(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0);
  return { busy: total - fields[3]! - fields[4]!, total };
}

interface CpuSample {
  at: number;
  nodes: number[];
  kamailio: number;
  machine: { busy: number; total: number };
}

/** CPU during one step: % of one core per node and for Kamailio; % of all cores for the machine. */
interface StepCpu {
  nodes: number[];
  kamailio: number;
  machine: number;
}

class CpuMeter {
  private start: CpuSample | undefined;
  private readonly kamailioPids: number[];
  constructor(
    private readonly nodePids: number[],
    kamailioPid: number,
  ) {
    this.kamailioPids = processTree(kamailioPid);
  }
  private sample(): CpuSample {
    return {
      at: performance.now(),
      nodes: this.nodePids.map(processTicks),
      kamailio: this.kamailioPids.reduce((sum, pid) => sum + processTicks(pid), 0),
      machine: machineTicks(),
    };
  }
  begin(): void {
    this.start = this.sample();
  }
  end(): StepCpu {
    const start = this.start ?? this.sample();
    const now = this.sample();
    const seconds = (now.at - start.at) / 1000;
    // USER_HZ is 100 on every Linux this runs on: 100 ticks a second is one core.
    const percent = (ticks: number) => Math.round(ticks / seconds);
    return {
      nodes: now.nodes.map((ticks, i) => percent(ticks - start.nodes[i]!)),
      kamailio: percent(now.kamailio - start.kamailio),
      machine: Math.round(
        ((now.machine.busy - start.machine.busy) / Math.max(1, now.machine.total - start.machine.total)) *
          100,
      ),
    };
  }
}

// ---- the cluster ---------------------------------------------------------------------------------

interface Cluster {
  kamailio: KamailioProcess;
  nodes: NodeProcess[];
  /** Kamailio as a target of calls.bench's ramp (sipp talks to it; it has no HTTP port). */
  front: Server;
  prefix: string;
  schema: string;
  stop(): Promise<void>;
}

/** Until Kamailio's dispatcher has every node up (its last `node down` for it followed by `node up`). */
async function untilDispatched(kamailio: KamailioProcess, nodes: NodeProcess[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  // The first probes (every PROBE_INTERVAL_S) find the nodes down or up: wait for two rounds.
  await new Promise((resolve) => setTimeout(resolve, 2 * PROBE_INTERVAL_S * 1000 + 500));
  for (;;) {
    const output = kamailio.output();
    const up = nodes.every((node) => {
      const uri = `sip:127.0.0.1:${node.sipPort}`;
      return output.lastIndexOf(`node up ${uri}`) >= output.lastIndexOf(`node down ${uri}`);
    });
    if (up) return;
    if (Date.now() > deadline)
      throw new Error(`Kamailio does not see every node up:\n${output.slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function startCluster(dir: string, nodeCount: number, agents: number): Promise<Cluster> {
  const prefix = `B${randomBytes(4).toString('hex')}`;
  const schema = `sb_bench_${randomBytes(5).toString('hex')}`;
  await createSchema(schema);
  const ports = [];
  for (let i = 0; i < nodeCount; i++)
    ports.push({ sipPort: await freeSipPort(), httpPort: await freeTcpPort() });
  const kamailio = await startKamailio({
    nodes: ports.map((port) => ({ host: '127.0.0.1', port: port.sipPort })),
    probeIntervalS: PROBE_INTERVAL_S,
    // deploy/kamailio's default: a node loaded to its limit still answers within it.
    nodeTimeoutMs: 2000,
    // Thousands of transactions in flight at a few hundred calls/s (as the calls bench's reference).
    memoryMb: { shared: 256, private: 32 },
  });
  const nodes: NodeProcess[] = [];
  const stop = async () => {
    // A node that does not finish its clean shutdown within 15 s is killed.
    await Promise.allSettled(
      nodes.map(async (node) => {
        const timer = setTimeout(() => void node.kill(), 15_000);
        await node.stop();
        clearTimeout(timer);
      }),
    );
    await kamailio.stop();
    await dropClusterState(prefix, schema);
  };
  try {
    // Kamailio is the trunk: its port must be in the tenant before the nodes start.
    const configPath = join(dir, `cluster-${nodeCount}.yaml`);
    writeFileSync(configPath, tenantYaml(kamailio.port, agents));
    // One after the other: the first creates the tables, the streams and the buckets.
    for (const [i, port] of ports.entries())
      nodes.push(
        await startNodeProcess({
          nodeId: `node-${i + 1}`,
          prefix,
          schema,
          configPath,
          dataDir: join(dir, `data-${nodeCount}-${i + 1}`),
          ...port,
          // The CLI's default, not the tests' fast 250 ms.
          heartbeatMs: 1000,
        }),
      );
    await untilDispatched(kamailio, nodes);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    kamailio,
    nodes,
    front: {
      sipPort: kamailio.port,
      process: nodes[0]!.child.process,
      output: kamailio.output,
      stop: kamailio.stop,
    },
    prefix,
    schema,
    stop,
  };
}

/** Count rows in the cluster's schema. */
async function countRows(schema: string, sql: string): Promise<number> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`SET search_path TO "${schema}"`);
    const result = await client.query<{ n: string }>(sql);
    return Number(result.rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

/**
 * Poll `sql` until its count stops changing: for 3 s once it has reached `expected` (calls a node
 * answered but sipp counted failed may still add records), for 10 s below it; at most 60 s.
 */
async function settledCount(schema: string, sql: string, expected: number): Promise<number> {
  const deadline = Date.now() + 60_000;
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    const n = await countRows(schema, sql);
    if (n !== last) {
      last = n;
      lastChange = Date.now();
    }
    const quiet = Date.now() - lastChange;
    if (quiet >= (n >= expected ? 3000 : 10_000) || Date.now() > deadline) return n;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

interface RampFigures {
  rate: number;
  best: StepResult | undefined;
  bestCpu: StepCpu | undefined;
  answered: number;
  placed: number;
}

/** calls.bench's ramp through Kamailio, draining every node between steps, CPU per step. */
async function clusterRamp(
  label: string,
  cluster: Cluster,
  caller: Peer,
  service: string,
  rates: number[],
  holdMs: number,
  log: (line: string) => void,
): Promise<RampFigures> {
  const meter = new CpuMeter(
    cluster.nodes.map((node) => node.child.process.pid ?? 0),
    cluster.kamailio.pid,
  );
  const steps: { step: StepResult; cpu: StepCpu }[] = [];
  const nodeServers = cluster.nodes.map(
    (node): Server => ({
      sipPort: node.sipPort,
      httpPort: node.httpPort,
      process: node.child.process,
      output: node.child.output,
      stop: node.stop,
    }),
  );
  const rate = await ramp(label, cluster.front, caller, service, rates, log, {
    holdMs,
    setupTimes: true,
    maxSetupP99Ms: SETUP_P99_BOUND_MS,
    settle: async () => {
      for (const server of nodeServers) await drain(server, log);
    },
    beforeStep: () => meter.begin(),
    afterStep: (step) => {
      const cpu = meter.end();
      steps.push({ step, cpu });
      log(
        `${label}: ${step.rate} calls/s: ${step.setupMs.length} setups timed; CPU nodes ${cpu.nodes.map((n) => `${n} %`).join(' + ')}, Kamailio ${cpu.kamailio} %, machine ${cpu.machine} % of ${cpus().length} cores`,
      );
    },
  });
  const best = steps.find(({ step }) => step.rate === rate && step.passed);
  return {
    rate,
    best: best?.step,
    bestCpu: best?.cpu,
    answered: steps.reduce((sum, { step }) => sum + step.calls - step.failed, 0),
    placed: steps.reduce((sum, { step }) => sum + step.calls, 0),
  };
}

function figureRows(what: string, config: string, figures: RampFigures, records: number): BenchResult[] {
  const rows: BenchResult[] = [
    { name: `cluster ${what} calls through Kamailio, ${config}`, value: figures.rate, unit: 'calls/s' },
  ];
  const { best, bestCpu } = figures;
  if (best) {
    const at = `${config}, at ${figures.rate} calls/s`;
    rows.push(
      {
        name: `cluster ${what} call setup p50 (${at})`,
        value: Math.round(percentile(best.setupMs, 50) * 10) / 10,
        unit: 'ms',
      },
      {
        name: `cluster ${what} call setup p99 (${at})`,
        value: Math.round(percentile(best.setupMs, 99) * 10) / 10,
        unit: 'ms',
      },
    );
    if (bestCpu)
      rows.push(
        {
          name: `cluster ${what} CPU of the node processes (${at}; ${bestCpu.nodes.map((n) => `${n}`).join(' + ')})`,
          value: bestCpu.nodes.reduce((sum, n) => sum + n, 0),
          unit: '% of a core',
        },
        { name: `cluster ${what} CPU of Kamailio (${at})`, value: bestCpu.kamailio, unit: '% of a core' },
        {
          name: `cluster ${what} CPU of the whole machine (${at})`,
          value: bestCpu.machine,
          unit: `% of ${cpus().length} cores`,
        },
      );
  }
  rows.push(
    {
      name: `cluster ${what} calls answered, all steps (${config}; ${figures.placed} placed)`,
      value: figures.answered,
      unit: 'calls',
    },
    {
      name: `cluster ${what} answered call records in PostgreSQL (${config})`,
      value: records,
      unit: 'records',
    },
  );
  return rows;
}

export async function benchCluster(opts: BenchClusterOptions = {}): Promise<BenchResult[]> {
  const log = opts.log ?? (() => {});
  const rates = opts.rates ?? [50, 100, 150, 200, 300, 400, 500, 600, 800, 1000];
  const agents = opts.agents ?? 200;
  const holdMs = opts.holdMs ?? 200;
  const phases = opts.phases ?? new Set(CLUSTER_PHASES);
  const results: BenchResult[] = [];
  const best: Record<string, number[]> = { direct: [], queue: [] };
  const dir = mkdtempSync(join(tmpdir(), 'bench-cluster-'));
  try {
    for (const nodeCount of opts.nodeCounts ?? [1, 2]) {
      const config = nodeCount === 1 ? '1 node' : `${nodeCount} nodes`;
      log(`starting Kamailio and ${config} (NATS JetStream, PostgreSQL)…`);
      const cluster = await startCluster(dir, nodeCount, phases.has('cluster-queue') ? agents : 0);
      try {
        const caller: Peer = { port: await freeUdpPort(), transport: 'udp' };
        /** One ramp: answering UAs registered at `port`, calls to `target`, records counted by `recordsSql`. */
        const phase = async (what: 'direct' | 'queue', target: string, port: number, recordsSql: string) => {
          const uas = await startAnswering('bench-uas', `bench-cluster-${what}`, port);
          let figures: RampFigures;
          try {
            figures = await clusterRamp(
              `cluster ${what}, ${config}`,
              cluster,
              caller,
              target,
              rates,
              holdMs,
              log,
            );
          } finally {
            await uas.stop();
          }
          const records = await settledCount(cluster.schema, recordsSql, figures.answered);
          log(
            `cluster ${what}, ${config}: ${records} answered call records for ${figures.answered} answered calls`,
          );
          results.push(...figureRows(what, config, figures, records));
          best[what]!.push(figures.rate);
        };
        if (phases.has('cluster-direct')) {
          const calleePort = await freeUdpPort();
          await register(cluster.front, '3000', calleePort);
          // Each answered direct call is one answered callee record (a trunk caller has none).
          await phase(
            'direct',
            '3000',
            calleePort,
            'SELECT count(DISTINCT call_id) AS n FROM user_call_events WHERE queue_id IS NULL AND answer_time_ms IS NOT NULL AND end_time_ms IS NOT NULL',
          );
        }
        if (phases.has('cluster-queue')) {
          const agentsPort = await freeUdpPort();
          log(`cluster queue, ${config}: registering ${agents} agents through Kamailio…`);
          for (let i = 1; i <= agents; i++) await register(cluster.front, String(3000 + i), agentsPort);
          // Each queue call is one service call record, answered by an agent.
          await phase(
            'queue',
            '200',
            agentsPort,
            'SELECT count(*) AS n FROM service_calls WHERE answer_time_ms IS NOT NULL AND end_time_ms IS NOT NULL',
          );
        }
      } finally {
        await cluster.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // Scaling: the last cluster size against the first.
  for (const what of ['direct', 'queue'] as const) {
    const rates = best[what]!;
    const counts = opts.nodeCounts ?? [1, 2];
    if (rates.length >= 2 && rates[0]! > 0)
      results.push({
        name: `cluster ${what} calls, ${counts[counts.length - 1]} nodes / ${counts[0]} node${counts[0] === 1 ? '' : 's'}`,
        value: Math.round((rates[rates.length - 1]! / rates[0]!) * 100),
        unit: '%',
      });
  }
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const quick = process.argv.includes('--quick');
  const only = process.argv.indexOf('--only');
  const phases = only >= 0 ? process.argv[only + 1]!.split(',') : undefined;
  const unknown = phases?.filter((name) => !isClusterPhase(name)) ?? [];
  if (unknown.length > 0)
    throw new Error(`unknown phase ${unknown.join(', ')}: expected ${CLUSTER_PHASES.join(', ')}`);
  const ratesIndex = process.argv.indexOf('--rates');
  const rows = await benchCluster({
    phases: phases ? new Set(phases as ClusterPhase[]) : undefined,
    rates: ratesIndex >= 0 ? parseRates(process.argv[ratesIndex + 1]) : quick ? [20, 50] : undefined,
    agents: quick ? 20 : undefined,
    log: (line) => console.error(line),
  });
  console.table(rows);
}
