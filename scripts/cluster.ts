/**
 * `npm run cluster`: the cluster of DESIGN.md §13 on one machine, for a first look — Kamailio on
 * 127.0.0.1:5060 (UDP and TCP) in front of two Switchboard nodes with the demo tenant, sharing a
 * NATS JetStream server and a PostgreSQL database:
 *
 *   phones ──▶ Kamailio :5060 ──▶ node-1 (SIP :5071, HTTP :8081)
 *                        └──────▶ node-2 (SIP :5072, HTTP :8082)
 *
 * NATS_URL (default nats://127.0.0.1:4222; nats-server 2.9+ started with -js) and DATABASE_URL
 * (default postgres://postgres@127.0.0.1:5432/postgres) name the services. Ctrl-C stops
 * everything; each node stops cleanly. Runs the built server (`npm run cluster` builds first).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const FRONT_PORT = Number(process.env.CLUSTER_SIP_PORT ?? 5060);
const NODES = [
  { nodeId: 'node-1', sipPort: 5071, httpPort: 8081 },
  { nodeId: 'node-2', sipPort: 5072, httpPort: 8082 },
];

function reachable(url: string, fallbackPort: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: hostname || '127.0.0.1', port: Number(port || fallbackPort) });
    socket.setTimeout(2000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function prefixed(name: string, child: ChildProcess): void {
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream?.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) process.stdout.write(`[${name}] ${line}\n`);
    });
  }
}

async function main(): Promise<void> {
  if (!(await reachable(NATS_URL.replace(/^nats:/, 'http:'), 4222))) {
    process.stderr.write(
      `cluster: NATS is not reachable at ${NATS_URL}; start nats-server with JetStream (nats-server -js) or set NATS_URL\n`,
    );
    process.exit(2);
  }
  if (!(await reachable(DATABASE_URL.replace(/^postgres(ql)?:/, 'http:'), 5432))) {
    process.stderr.write(`cluster: PostgreSQL is not reachable at ${DATABASE_URL}; set DATABASE_URL\n`);
    process.exit(2);
  }
  const dataDir = join(ROOT, 'data', 'cluster');
  const kamailioDir = join(dataDir, 'kamailio');
  mkdirSync(kamailioDir, { recursive: true });
  const dispatcherList = join(kamailioDir, 'dispatcher.list');
  writeFileSync(dispatcherList, NODES.map((node) => `1 sip:127.0.0.1:${node.sipPort}\n`).join(''));

  const children: { name: string; child: ChildProcess }[] = [];
  for (const node of NODES) {
    const child = spawn(
      process.execPath,
      [
        join(ROOT, 'dist', 'cli.js'),
        'start',
        '--data',
        join(dataDir, node.nodeId),
        '--http-port',
        String(node.httpPort),
        '--sip-port',
        String(node.sipPort),
        '--cluster',
        NATS_URL,
        '--node-id',
        node.nodeId,
      ],
      { cwd: ROOT, env: { ...process.env, DATABASE_URL }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prefixed(node.nodeId, child);
    children.push({ name: node.nodeId, child });
    // One after the other: the first creates the tables, streams and buckets.
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        if (chunk.toString().includes('switchboard ready')) resolve();
      };
      child.stdout?.on('data', onData);
      child.once('exit', (code) => reject(new Error(`${node.nodeId} exited with ${code}`)));
    }).catch((err: unknown) => {
      process.stderr.write(`cluster: ${(err as Error).message}\n`);
      for (const { child: other } of children) other.kill('SIGTERM');
      process.exit(1);
    });
  }
  const kamailio = spawn(
    process.env.KAMAILIO_BIN ?? 'kamailio',
    [
      '-f',
      join(ROOT, 'deploy', 'kamailio', 'kamailio.cfg'),
      '-l',
      `udp:127.0.0.1:${FRONT_PORT}`,
      '-l',
      `tcp:127.0.0.1:${FRONT_PORT}`,
      '-A',
      `DISPATCHER_LIST="${dispatcherList}"`,
      '-DD',
      '-E',
      '-w',
      kamailioDir,
      '-Y',
      kamailioDir,
      '-P',
      join(kamailioDir, 'kamailio.pid'),
    ],
    { cwd: kamailioDir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  kamailio.once('error', (err) => {
    process.stderr.write(`cluster: kamailio did not start (${err.message}); apt-get install kamailio\n`);
    for (const { child } of children) child.kill('SIGTERM');
    process.exit(1);
  });
  prefixed('kamailio', kamailio);
  children.push({ name: 'kamailio', child: kamailio });

  process.stdout.write(
    [
      '',
      `cluster: phones register to sip:127.0.0.1:${FRONT_PORT} (UDP or TCP; demo tenant, domain switchboard.local)`,
      ...NODES.map(
        (node) =>
          `cluster: ${node.nodeId}: console and REST http://127.0.0.1:${node.httpPort}/, WebSocket ws://127.0.0.1:${node.httpPort}/sip`,
      ),
      `cluster: journal on ${NATS_URL} (streams SB_JOURNAL_node-1, SB_JOURNAL_node-2), records in ${DATABASE_URL.replace(/:[^:@/]+@/, ':***@')}`,
      'cluster: Ctrl-C stops everything',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const { child } of children) child.kill('SIGTERM');
    setTimeout(() => process.exit(0), 10_000).unref();
    Promise.all(children.map(({ child }) => new Promise((resolve) => child.once('exit', resolve)))).then(() =>
      process.exit(0),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

void main();
