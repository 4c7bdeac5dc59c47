/**
 * Heartbeats on the machine's NATS: a node that stops beating is declared dead once, and comes
 * back alive; a node cut off from NATS judges nobody meanwhile, and gives everyone a fresh deadline
 * when it is back (a NATS restart must not make nodes take each other over).
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../logger.js';
import { startNatsRelay } from '../testing/nats-relay.js';
import { sleep, waitUntil } from '../testing/wait.js';
import { type ClusterConnection, connectCluster } from './connection.js';
import { Membership } from './membership.js';
import { dropNatsPrefix, TEST_NATS_URL } from './testing.js';

const HEARTBEAT_MS = 100;

describe('membership by heartbeats', () => {
  const prefix = `TM${randomBytes(4).toString('hex')}`;
  const opened: { membership: Membership; connection: ClusterConnection }[] = [];
  const closers: (() => Promise<void>)[] = [];

  async function node(nodeId: string, natsUrl = TEST_NATS_URL) {
    const connection = await connectCluster(
      { natsUrl, nodeId, prefix, heartbeatMs: HEARTBEAT_MS },
      silentLogger,
    );
    const membership = new Membership(connection, silentLogger);
    const dead: string[] = [];
    membership.on({ onDead: (other) => dead.push(other) });
    await membership.start();
    opened.push({ membership, connection });
    return { membership, connection, dead };
  }

  afterEach(async () => {
    for (const { membership } of opened) await membership.close(true).catch(() => {});
    if (opened[0]) await dropNatsPrefix(opened[0].connection.nc, prefix).catch(() => {});
    for (const { connection } of opened.splice(0)) await connection.close().catch(() => {});
    for (const close of closers.splice(0)) await close();
  });

  it('declares a silent node dead once, alive again when it beats, and gone when it leaves', async () => {
    const a = await node('node-a');
    const b = await node('node-b');
    await waitUntil(() => a.membership.isAlive('node-b'), 2_000, 'node-a hears node-b');
    await b.membership.close(false); // stops beating without leaving: a crash
    await waitUntil(() => a.dead.includes('node-b'), 2_000, 'node-b declared dead');
    await sleep(5 * HEARTBEAT_MS);
    expect(a.dead).toEqual(['node-b']);
    const again = await node('node-b');
    await waitUntil(() => a.membership.isAlive('node-b'), 2_000, 'node-b alive again');
    await again.membership.close(true);
    await waitUntil(() => !a.membership.aliveNodes().includes('node-b'), 2_000, 'node-b gone');
    expect(a.dead).toEqual(['node-b']);
  });

  it('judges nobody while cut off from NATS, and gives every node a fresh deadline once back', async () => {
    const relay = await startNatsRelay(TEST_NATS_URL);
    closers.push(() => relay.close());
    const a = await node('node-a', `nats://127.0.0.1:${relay.port}`);
    await node('node-b');
    await waitUntil(() => a.membership.isAlive('node-b'), 2_000, 'node-a hears node-b');
    relay.cut();
    await sleep(10 * HEARTBEAT_MS); // more than three heartbeats without hearing anyone
    relay.mend();
    await sleep(10 * HEARTBEAT_MS); // reconnected, and node-b's beats heard again
    expect(a.dead).toEqual([]);
    expect(a.membership.isAlive('node-b')).toBe(true);
  });
});
