/**
 * Several call-control nodes as one platform (DESIGN.md §13), on the machine's real NATS JetStream
 * and PostgreSQL: registrations taken by one node reach calls on another, a queue's agents are
 * claimed cluster-wide, records land once in the shared store whichever node ran the call.
 */

import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTenantYaml } from '../src/config/load.js';
import { openJetStreamJournal } from '../src/journal/jetstream-journal.js';
import { NATS_URL, startTestCluster, type TestCluster } from './support/cluster.js';
import { clusterFor } from './support/cluster-suite.js';
import { type RestClient, seedMembers, seedRecords, type TestPlatform, waitFor } from './support/platform.js';
import { seedTenantYaml } from './support/tenants.js';

const TENANT = parseTenantYaml(seedTenantYaml(), 'cluster.yaml');
type Json = Record<string, unknown>;

describe('a two-node cluster on NATS JetStream and PostgreSQL', () => {
  let cluster: TestCluster;
  let admins: RestClient[];

  beforeAll(async () => {
    cluster = await startTestCluster(TENANT);
    admins = await Promise.all(cluster.nodes.map((node) => node.rest('admin@example.com', 'secret-admin')));
  }, 30_000);

  afterAll(async () => {
    await cluster?.close();
  });

  const sipOf = (index: number) => ({ host: '127.0.0.1', port: cluster.nodes[index]!.platform.sipPort });

  it('runs the seed scenario with A registered on node-a and B, C on node-b: records as on one machine, once', async () => {
    const a = await cluster.phone('1001', sipOf(0));
    const b = await cluster.phone('1002', sipOf(1));
    const c = await cluster.phone('1003', sipOf(1));
    seedMembers(b, c, 30);
    // node-a learns B's and C's registrations through the shared location.
    await waitFor(
      async () => (cluster.nodes[0]!.platform.location.isRegistered('1003') ? true : undefined),
      5_000,
      'node-a sees C',
    );
    const outgoing = a.call('100');
    const final = await outgoing.waitForFinal();
    expect(final.status).toBe(200);
    const callId = final.headers.get('X-Server-Call-Id')!;
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await outgoing.hangup();
    await c.incoming[0]!.waitForBye();
    for (const admin of admins) await seedRecords(admin, callId);
    const [fromA, fromB] = await Promise.all(
      admins.map((admin) => admin.list<Json>('/calls', { CallId: callId })),
    );
    expect(fromB).toEqual(fromA);
    expect(fromA.map((e) => [e.UserName, e.CallTypeString, e.Result]).sort()).toEqual([
      ['a@example.com', 'DirectCall', 'Handled'],
      ['b@example.com', 'ServiceCall', 'Allocated'],
      ['c@example.com', 'ServiceCall', 'Handled'],
    ]);
    const details = await admins[1]!.list<Json>(`/servicecall/${callId}/details`);
    expect(details.map((d) => [d.EventTypeString, d.UserName ?? null])).toEqual([
      ['CallArrival', null],
      ['UserAllocation', 'b@example.com'],
      ['UserReject', 'b@example.com'],
      ['UserAllocation', 'c@example.com'],
      ['UserConnect', 'c@example.com'],
      ['CallDisconnect', null],
    ]);
    // The call ran on node-a only: its facts are in node-a's partition.
    expect((await cluster.nodes[0]!.platform.journal.readCall(callId)).length).toBeGreaterThan(5);
    expect(await cluster.nodes[1]!.platform.journal.readCall(callId)).toEqual([]);
  }, 30_000);
});

describe('a WebSocket client connected to one node, called through another', () => {
  const cluster = clusterFor(TENANT);

  it('rings and connects through the node that holds its WebSocket, both ways of hanging up', async () => {
    const [nodeA, nodeB] = cluster().nodes as [TestPlatform, TestPlatform];
    const a = await cluster().phone('1001', { host: '127.0.0.1', port: nodeA.platform.sipPort });
    // B's browser-like client: SIP over WebSocket to node-b only.
    const b = await nodeB.ua('1002');
    await waitFor(
      async () =>
        nodeA.platform.location.lookup('1002').some((x) => x.reachReason === 'websocket') ? true : undefined,
      5_000,
      'node-a sees B over node-b',
    );
    b.answerAfterRinging(20);
    for (const hangsUp of ['caller', 'callee'] as const) {
      const outgoing = a.call('1002');
      const final = await outgoing.waitForFinal();
      expect(final.status).toBe(200);
      const callId = final.headers.get('X-Server-Call-Id')!;
      const incoming = b.incoming.at(-1)!;
      // The INVITE came through node-b, which stays in the dialog's route.
      expect(incoming.invite.headers.getAll('Record-Route').join()).toContain(
        `:${nodeB.platform.sipPort};lr;sb-relay=`,
      );
      if (hangsUp === 'caller') {
        expect((await outgoing.hangup()).status).toBe(200);
        await incoming.waitForBye();
      } else {
        expect((await incoming.hangup()).status).toBe(200);
        await outgoing.waitForBye();
      }
      const admin = await nodeA.rest('admin@example.com', 'secret-admin');
      const events = await waitFor(
        async () => {
          const rows = await admin.list<Json>('/calls', { CallId: callId });
          return rows.length === 2 && rows.every((row) => row.EndTime) ? rows : undefined;
        },
        10_000,
        'records of the relayed call',
      );
      expect(events.map((e) => [e.UserName, e.Result]).sort()).toEqual([
        ['a@example.com', 'Handled'],
        ['b@example.com', 'Handled'],
      ]);
      // node-b only relayed: the call is node-a's alone.
      expect(await nodeB.platform.journal.readCall(callId)).toEqual([]);
    }
  }, 30_000);
});

/** Ten agents and twenty callers: the load of the "never two calls at once" test. */
const AGENTS = Array.from({ length: 10 }, (_, i) => ({
  email: `agent${i}@example.com`,
  extension: `${2100 + i}`,
}));
const CALLERS = Array.from({ length: 20 }, (_, i) => ({
  email: `caller${i}@example.com`,
  extension: `${3100 + i}`,
}));
const LOAD_TENANT = parseTenantYaml(
  [
    'domain: switchboard.local',
    'users:',
    '  - { username: admin@example.com, extension: "1000", password: secret-admin, role: admin }',
    ...[...AGENTS, ...CALLERS].map(
      (u) => `  - { username: ${u.email}, extension: "${u.extension}", password: pw-${u.extension} }`,
    ),
    'queues:',
    `  - { name: Support, extension: "100", members: [${AGENTS.map((a) => a.email).join(', ')}], maxWaitSeconds: 120 }`,
    '',
  ].join('\n'),
  'cluster-load.yaml',
);

describe('200 concurrent queue calls across two nodes', () => {
  const cluster = clusterFor(LOAD_TENANT);

  it('never offers an agent two calls at once, and every call is answered once', async () => {
    const sip = (index: number) => ({ host: '127.0.0.1', port: cluster().nodes[index]!.platform.sipPort });
    // Half the agents registered on each node; each answers 20 ms after ringing.
    const active = new Map<string, number>();
    const overlaps: string[] = [];
    const answered = new Map<string, number>();
    const agents = await Promise.all(AGENTS.map((agent, i) => cluster().phone(agent.extension, sip(i % 2))));
    for (const agent of agents) {
      agent.onIncoming((call) => {
        const now = (active.get(agent.extension) ?? 0) + 1;
        active.set(agent.extension, now);
        if (now > 1) overlaps.push(`${agent.extension} offered ${now} calls at once`);
        const done = () => active.set(agent.extension, (active.get(agent.extension) ?? 1) - 1);
        call.ring();
        setTimeout(() => {
          if (call.cancelled) return;
          call.answer();
          answered.set(agent.extension, (answered.get(agent.extension) ?? 0) + 1);
        }, 20);
        void Promise.race([call.waitForBye(60_000), call.waitForCancel(60_000)]).then(done, done);
      });
    }
    for (const node of cluster().nodes) {
      await waitFor(
        async () =>
          AGENTS.every((a) => node.platform.location.isRegistered(a.extension)) ? true : undefined,
        5_000,
        'every agent visible on every node',
      );
    }
    // Twenty callers, half on each node, ten calls each, all at once: 100 queue calls per node.
    const callers = await Promise.all(
      CALLERS.map((caller, i) => cluster().phone(caller.extension, sip(i % 2))),
    );
    const startedMs = Date.now();
    const results = await Promise.all(
      callers.flatMap((caller) =>
        Array.from({ length: 10 }, async () => {
          const outgoing = caller.call('100');
          const final = await outgoing.waitForFinal(90_000);
          if (final.status !== 200) return { status: final.status, callId: undefined };
          await new Promise((resolve) => setTimeout(resolve, 30));
          await outgoing.hangup();
          return { status: 200, callId: final.headers.get('X-Server-Call-Id') };
        }),
      ),
    );
    const tookMs = Date.now() - startedMs;
    expect(results.map((r) => r.status)).toEqual(results.map(() => 200));
    expect(overlaps).toEqual([]);
    const answers = [...answered.values()].reduce((sum, n) => sum + n, 0);
    expect(answers).toBe(200);
    // Both nodes ran calls, and every agent took some.
    const callIds = results.map((r) => r.callId!);
    expect(new Set(callIds).size).toBe(200);
    expect(answered.size).toBe(AGENTS.length);
    // Every call's service call record is Handled, exactly once, in the shared store.
    const admin = await cluster().nodes[0]!.rest('admin@example.com', 'secret-admin');
    const rows = await waitFor(
      async () => {
        const list = await admin.list<Json>('/servicecall', {
          StartTime: new Date(startedMs - 60_000).toISOString(),
          EndTime: new Date(Date.now() + 60_000).toISOString(),
        });
        return list.length >= 200 && list.every((row) => row.Result === 'Handled') ? list : undefined;
      },
      20_000,
      '200 handled service calls',
    );
    expect(rows.map((row) => row.CallId).sort()).toEqual([...callIds].sort());
    console.log(`200 queue calls over two nodes and 10 agents in ${tookMs} ms`);
  }, 120_000);
});

describe('a node fenced off its own journal partition', () => {
  const cluster = clusterFor(TENANT, { nodeIds: ['node-a'] });

  it('is told to stop when another writer took its partition over', async () => {
    let fenced = 0;
    const node = await cluster().startNode('node-f', {
      cluster: {
        natsUrl: NATS_URL,
        nodeId: 'node-f',
        prefix: cluster().prefix,
        heartbeatMs: 250,
        onFenced: () => fenced++,
      },
    });
    const admin = await node.rest('admin@example.com', 'secret-admin');
    const userB = TENANT.users.find((u) => u.extension === '1002')!.userId;
    const setBusy = () => admin.post(`/users/${userB}/availability`, { Availability: 'Busy' });
    expect((await setBusy()).status).toBe(200);
    expect(fenced).toBe(0);
    // What a janitor does to a node it judged dead: write to the node's partition itself.
    const nc = await connect({ servers: NATS_URL.replace(/^nats:\/\//, '') });
    try {
      const janitor = await openJetStreamJournal(nc, {
        nodeId: 'node-f',
        streamPrefix: `${cluster().prefix}_JOURNAL`,
        subjectPrefix: `${cluster().prefix.toLowerCase()}.journal`,
      });
      janitor.append({
        type: 'CallEnded',
        callId: 'janitor-was-here',
        reason: 'Failed',
        sipStatus: 500,
        cause: 'NodeFailure',
      });
      await janitor.close();
    } finally {
      await nc.close();
    }
    // The node's next fact cannot be journaled: it is told to stop, never forks the partition.
    await setBusy().catch(() => undefined);
    await waitFor(async () => (fenced > 0 ? true : undefined), 10_000, 'the node told it was fenced');
  }, 30_000);
});

describe('agents’ availability across nodes', () => {
  const cluster = clusterFor(TENANT);

  it('a change made on one node is applied on the other; garbage on the announcement subject is ignored', async () => {
    const [nodeA, nodeB] = cluster().nodes as [TestPlatform, TestPlatform];
    const userB = TENANT.users.find((u) => u.extension === '1002')!.userId;
    const nc = await connect({ servers: NATS_URL.replace(/^nats:\/\//, '') });
    try {
      nc.publish(`${cluster().prefix.toLowerCase()}.agents.changed`, 'not json');
      nc.publish(
        `${cluster().prefix.toLowerCase()}.agents.changed`,
        JSON.stringify({ nodeId: 'x', userId: 42 }),
      );
      await nc.flush();
    } finally {
      await nc.close();
    }
    const admin = await nodeA.rest('admin@example.com', 'secret-admin');
    const set = await admin.post(`/users/${userB}/availability`, { Availability: 'DoNotDisturb' });
    expect(set.status).toBe(200);
    await waitFor(
      async () =>
        nodeB.platform.agents.availabilityOf(userB).availability === 'DoNotDisturb' ? true : undefined,
      5_000,
      'node-b applies B’s DoNotDisturb',
    );
    const viewer = await nodeB.rest('admin@example.com', 'secret-admin');
    expect((await viewer.get(`/users/${userB}/availability`)).body).toMatchObject({
      Availability: 'DoNotDisturb',
    });
  }, 30_000);
});
