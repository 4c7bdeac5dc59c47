/**
 * One node's connection to the cluster (DESIGN.md §13): NATS, and the JetStream key-value buckets
 * the nodes share. The journal partitions are streams of their own (../journal/jetstream-journal.ts).
 *
 * Buckets (their names start with `prefix`, `SB` by default; tests isolate themselves with another):
 * - `<prefix>_NODES`: one key per live node, rewritten every heartbeat (./membership.ts);
 * - `<prefix>_LOCATION`: every registration of every node (./location-sync.ts);
 * - `<prefix>_AGENTS`: which node holds which agent (./agent-claims.ts);
 * - `<prefix>_LEASES`: who owns a journal partition right now (./partitions.ts).
 */
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import type { Logger } from '../logger.js';

export interface ClusterOptions {
  /** nats://HOST:PORT of the NATS server (JetStream enabled). */
  natsUrl: string;
  /** This node's name: unique in the cluster, [A-Za-z0-9_-], at most 64 characters. */
  nodeId: string;
  /** Prefix of the streams and buckets (default `SB`). */
  prefix?: string;
  /** Heartbeat interval (ms, default 1000). */
  heartbeatMs?: number;
  /** A node whose heartbeat is older than this is dead (ms, default 3 × heartbeatMs). */
  deadAfterMs?: number;
  /**
   * This node's own journal partition was taken over by another writer (a janitor that judged
   * this node dead, e.g. NATS unreachable past the deadline): the node must stop — the CLI exits
   * and a supervisor restarts it, and it rejoins. Without it, the node only logs.
   */
  onFenced?: () => void;
}

export interface ClusterConnection {
  readonly nc: NatsConnection;
  readonly nodeId: string;
  readonly prefix: string;
  readonly heartbeatMs: number;
  readonly deadAfterMs: number;
  readonly buckets: { nodes: KV; location: KV; agents: KV; leases: KV };
  /** Told when the connection to NATS drops (`false`) and when it is back (`true`). */
  onConnected(listener: (connected: boolean) => void): void;
  /** Drain and close the NATS connection. */
  close(): Promise<void>;
}

const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export class ClusterConfigError extends Error {
  readonly code = 'CLUSTER_BAD_OPTION';
}

export function checkNodeId(nodeId: string): void {
  if (!NODE_ID.test(nodeId))
    throw new ClusterConfigError(
      `--node-id must be 1-64 letters, digits, '-' or '_' (it names the node's journal stream), got "${nodeId}"`,
    );
}

export async function connectCluster(opts: ClusterOptions, logger: Logger): Promise<ClusterConnection> {
  checkNodeId(opts.nodeId);
  const prefix = opts.prefix ?? 'SB';
  if (!NODE_ID.test(prefix))
    throw new ClusterConfigError(`cluster prefix must match ${NODE_ID}, got "${prefix}"`);
  const heartbeatMs = opts.heartbeatMs ?? 1000;
  const deadAfterMs = opts.deadAfterMs ?? 3 * heartbeatMs;
  const servers = opts.natsUrl.replace(/^nats:\/\//, '');
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      name: `switchboard-${opts.nodeId}`,
      // A NATS restart must not take the node down: reconnect for as long as it takes.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
  } catch (err) {
    throw new ClusterConfigError(`cannot reach NATS at ${opts.natsUrl}: ${(err as Error).message}`);
  }
  const connectedListeners: ((connected: boolean) => void)[] = [];
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect' || status.type === 'reconnect' || status.type === 'error')
        logger.warn({ natsStatus: status.type }, `cluster: NATS ${status.type}`);
      if (status.type === 'disconnect' || status.type === 'reconnect')
        for (const listener of connectedListeners) listener(status.type === 'reconnect');
    }
  })();
  const kvm = new Kvm(nc);
  const bucket = (name: string) => kvm.create(`${prefix}_${name}`, { history: 1 });
  const [nodes, location, agents, leases] = await Promise.all([
    bucket('NODES'),
    bucket('LOCATION'),
    bucket('AGENTS'),
    bucket('LEASES'),
  ]);
  return {
    nc,
    nodeId: opts.nodeId,
    prefix,
    heartbeatMs,
    deadAfterMs,
    buckets: { nodes, location, agents, leases },
    onConnected(listener) {
      connectedListeners.push(listener);
    },
    async close() {
      if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
    },
  };
}

/** JSON of a KV entry, or undefined when it is a delete or not JSON (logged by the caller). */
export function entryJson<T>(entry: { operation: string; json<V>(): V }): T | undefined {
  if (entry.operation !== 'PUT') return undefined;
  try {
    return entry.json<T>();
  } catch {
    return undefined;
  }
}
