/**
 * Test support for clusters (DESIGN.md §13): several real platforms in this process, each a cluster
 * node on the machine's NATS (JetStream) with one shared PostgreSQL schema, isolated from other
 * tests by a random stream/bucket prefix. Phones are UDP test UAs.
 */
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { dropNatsPrefix, TEST_NATS_URL } from '../../src/cluster/testing.js';
import type { Tenant } from '../../src/config/types.js';
import type { PlatformOptions } from '../../src/platform.js';
import { TestUa } from '../../src/testing/test-ua.js';
import { type CliChild, startArgs, startCli, waitForReady } from './cli-process.js';
import { POSTGRES_URL, startTestPlatform, type TestPlatform } from './platform.js';

export const NATS_URL = TEST_NATS_URL;

export interface TestCluster {
  /** NATS names of this cluster: streams `<prefix>_…`, buckets `KV_<prefix>_…`. */
  prefix: string;
  /** PostgreSQL schema the nodes share. */
  schema: string;
  nodes: TestPlatform[];
  /** Start one more node (or a node again, by its id). */
  startNode(nodeId: string, extra?: Partial<PlatformOptions>): Promise<TestPlatform>;
  /** A UDP phone registered at `server` (a node's SIP port, or the front proxy). */
  phone(extension: string, server: { host: string; port: number }): Promise<TestUa>;
  close(): Promise<void>;
}

export interface TestClusterOptions {
  /** Node ids to start (default node-a, node-b). */
  nodeIds?: string[];
  /** Heartbeat (ms, default 250: a dead node is noticed after 3 heartbeats). */
  heartbeatMs?: number;
  extra?: Partial<PlatformOptions>;
}

export async function startTestCluster(tenant: Tenant, opts: TestClusterOptions = {}): Promise<TestCluster> {
  const prefix = `T${randomBytes(4).toString('hex')}`;
  const schema = `sb_cluster_${randomBytes(5).toString('hex')}`;
  const nodes: TestPlatform[] = [];
  const phones: TestUa[] = [];
  const startNode = async (nodeId: string, extra: Partial<PlatformOptions> = {}) => {
    const node = await startTestPlatform(tenant, 'postgres', {
      databaseSchema: schema,
      cluster: { natsUrl: NATS_URL, nodeId, prefix, heartbeatMs: opts.heartbeatMs ?? 250 },
      ...opts.extra,
      ...extra,
    });
    nodes.push(node);
    return node;
  };
  try {
    // One after the other: the first creates the schema's tables, the streams and the buckets.
    for (const nodeId of opts.nodeIds ?? ['node-a', 'node-b']) await startNode(nodeId);
  } catch (err) {
    await Promise.allSettled(nodes.map((node) => node.close()));
    await dropClusterState(prefix, schema);
    throw err;
  }
  return {
    prefix,
    schema,
    nodes,
    startNode,
    async phone(extension, server) {
      const user = tenant.users.find((u) => u.extension === extension);
      if (!user) throw new Error(`no user with extension ${extension}`);
      const ua = await TestUa.overUdp(server, { extension, password: user.password, domain: tenant.domain });
      phones.push(ua);
      const response = await ua.register();
      if (response.status !== 200) throw new Error(`register ${extension}: ${response.status}`);
      return ua;
    },
    async close() {
      await Promise.allSettled(phones.map((ua) => ua.close()));
      await Promise.allSettled(nodes.map((node) => node.close()));
      await dropClusterState(prefix, schema);
    },
  };
}

/** Remove the streams and buckets of `prefix` and the shared schema. */
export async function dropClusterState(prefix: string, schema: string): Promise<void> {
  const nc = await connect({ servers: NATS_URL.replace(/^nats:\/\//, '') });
  try {
    await dropNatsPrefix(nc, prefix);
  } finally {
    await nc.close();
  }
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** A cluster node as its own process (`switchboard start --cluster … --node-id …`): killable. */
export interface NodeProcess {
  nodeId: string;
  sipPort: number;
  httpPort: number;
  child: CliChild;
  /** SIGKILL: no clean shutdown, no leaving the cluster. */
  kill(): Promise<void>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
}

export interface NodeProcessOptions {
  nodeId: string;
  prefix: string;
  schema: string;
  configPath: string;
  dataDir: string;
  sipPort: number;
  httpPort: number;
  heartbeatMs?: number;
}

/** Start a node process and wait for its ready line. */
export async function startNodeProcess(opts: NodeProcessOptions): Promise<NodeProcess> {
  const child = startCli([...startArgs(opts), '--cluster', NATS_URL, '--node-id', opts.nodeId], {
    // The shared schema (created by the caller) through the connection's search_path.
    DATABASE_URL: `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${opts.schema}`)}`,
    SWITCHBOARD_CLUSTER_PREFIX: opts.prefix,
    SWITCHBOARD_CLUSTER_HEARTBEAT_MS: String(opts.heartbeatMs ?? 250),
  });
  try {
    await waitForReady(child, 30_000);
  } catch (err) {
    child.process.kill('SIGKILL');
    throw new Error(
      `node ${opts.nodeId} did not start: ${(err as Error).message}\n${child.output().slice(-3000)}`,
    );
  }
  return {
    nodeId: opts.nodeId,
    sipPort: opts.sipPort,
    httpPort: opts.httpPort,
    child,
    async kill() {
      child.process.kill('SIGKILL');
      await child.exited;
    },
    async stop() {
      if (child.process.exitCode !== null) return;
      child.process.kill('SIGTERM');
      await child.exited;
    },
  };
}

/** Create the schema a cluster's node processes share. */
export async function createSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  } finally {
    await client.end();
  }
}
