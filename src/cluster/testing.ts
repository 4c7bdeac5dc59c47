/**
 * Test support for the cluster's parts: nodes' NATS connections under a prefix of the test's own,
 * and the removal of everything made under it (streams and KV buckets).
 */
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { silentLogger } from '../logger.js';
import { type ClusterConnection, connectCluster } from './connection.js';

export const TEST_NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

/** Delete every stream and KV bucket whose name starts with `prefix`. */
export async function dropNatsPrefix(nc: NatsConnection, prefix: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const names: string[] = [];
  for await (const info of jsm.streams.list()) {
    const { name } = info.config;
    if (name.startsWith(`${prefix}_`) || name.startsWith(`KV_${prefix}_`)) names.push(name);
  }
  for (const name of names) await jsm.streams.delete(name);
}

/** Connections of several nodes under one fresh prefix; `drop` closes them and removes their state. */
export function testNodes(prefixStart: string): {
  readonly prefix: string;
  connect(nodeId: string): Promise<ClusterConnection>;
  drop(): Promise<void>;
} {
  const prefix = `${prefixStart}${randomBytes(4).toString('hex')}`;
  const connections: ClusterConnection[] = [];
  return {
    prefix,
    async connect(nodeId) {
      const connection = await connectCluster({ natsUrl: TEST_NATS_URL, nodeId, prefix }, silentLogger);
      connections.push(connection);
      return connection;
    },
    async drop() {
      const [first] = connections;
      if (first) await dropNatsPrefix(first.nc, prefix);
      for (const connection of connections.splice(0)) await connection.close();
    },
  };
}
