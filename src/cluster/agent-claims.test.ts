/**
 * Agent claims between nodes on the machine's NATS (JetStream KV): racing claims have exactly one
 * winner, the loser sees the agent busy and is told when it is free, direct-call holds coexist,
 * and a dead node's claims are released by a janitor.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../logger.js';
import { waitUntil } from '../testing/wait.js';
import { KvAgentClaims } from './agent-claims.js';
import { testNodes } from './testing.js';

describe('agent claims in NATS KV', () => {
  let nodes: ReturnType<typeof testNodes>;
  const claims: KvAgentClaims[] = [];

  async function node(nodeId: string): Promise<KvAgentClaims> {
    const connection = await nodes.connect(nodeId);
    const nodeClaims = new KvAgentClaims(connection, silentLogger);
    await nodeClaims.start();
    claims.push(nodeClaims);
    return nodeClaims;
  }

  beforeEach(() => {
    nodes = testNodes('TC');
  });

  afterEach(async () => {
    for (const nodeClaims of claims.splice(0)) await nodeClaims.close();
    await nodes.drop();
  });

  it('gives each agent to exactly one of two racing nodes, and the loser gets it once it is released', async () => {
    const [a, b] = [await node('node-a'), await node('node-b')];
    const users = Array.from({ length: 50 }, (_, n) => `user-${n}`);
    const results = await Promise.all(
      users.map(async (userId) => {
        const [wonA, wonB] = await Promise.all([a.claimExclusive(userId), b.claimExclusive(userId)]);
        return { userId, wonA, wonB };
      }),
    );
    for (const { wonA, wonB } of results) expect([wonA, wonB].filter(Boolean)).toHaveLength(1);
    // Each side sees the other's agents as held elsewhere.
    await waitUntil(
      () => results.every(({ userId, wonA }) => (wonA ? b : a).heldElsewhere(userId)),
      5_000,
      'both nodes see the claims',
    );
    const freed: string[] = [];
    b.onFreedElsewhere((userId) => freed.push(userId));
    const ofA = results.filter((r) => r.wonA).map((r) => r.userId);
    for (const userId of ofA) {
      a.hold(userId); // the offer went out: held (no second write)
      a.release(userId);
    }
    await waitUntil(() => freed.length === ofA.length, 5_000, 'node-b told the agents are free');
    for (const userId of ofA) expect(await b.claimExclusive(userId)).toBe(true);
  });

  it('lets direct calls hold an agent on several nodes, which refuses a queue claim, until a janitor releases the dead one', async () => {
    const [a, b, c] = [await node('node-a'), await node('node-b'), await node('node-c')];
    a.hold('agent');
    b.hold('agent');
    await waitUntil(() => c.heldElsewhere('agent'), 5_000, 'node-c sees the holds');
    expect(await c.claimExclusive('agent')).toBe(false);
    b.release('agent');
    // node-a died holding the agent: node-c's janitor releases it.
    expect(await c.releaseAllOf('node-a')).toBe(1);
    await waitUntil(() => !c.heldElsewhere('agent'), 5_000, 'nobody holds the agent');
    expect(await c.claimExclusive('agent')).toBe(true);
  });
});
