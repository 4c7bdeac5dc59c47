/**
 * Realtime events of the whole cluster on one node's RTE hub (DESIGN.md §12, §13): the official
 * SignalR client connected to node-a gets the events of a queue call node-b runs (ids
 * `node-b~<seq>-<n>`, from node-b's journal partition followed by node-a) as well as node-a's own,
 * and QueueStatus — the event, and `GET /queues` on either node — counts the calls of both nodes.
 */
import { HttpTransportType, type HubConnection, HubConnectionBuilder, LogLevel } from '@microsoft/signalr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTenantYaml } from '../src/config/load.js';
import { startTestCluster, type TestCluster } from './support/cluster.js';
import { type RestClient, waitFor } from './support/platform.js';
import { seedTenantYaml } from './support/tenants.js';

const TENANT = parseTenantYaml(seedTenantYaml(), 'cluster-rte.yaml');
const queueId = TENANT.queues[0]!.queueId;
type Data = Record<string, unknown>;

describe('the RTE hub of a cluster node', () => {
  let cluster: TestCluster;
  let connection: HubConnection | undefined;

  beforeAll(async () => {
    cluster = await startTestCluster(TENANT);
  }, 30_000);

  afterAll(async () => {
    await connection?.stop().catch(() => {});
    await cluster?.close();
  });

  it('streams the calls node-b runs to a client of node-a, with QueueStatus counting both nodes', async () => {
    const [nodeA, nodeB] = cluster.nodes;
    const admin: RestClient = await nodeA!.rest('admin@example.com', 'secret-admin');
    const token = (await admin.get(`/token/${admin.userId}/rte/`)).body as { Token: string };
    const events: Data[] = [];
    connection = new HubConnectionBuilder()
      .withUrl(`${nodeA!.platform.httpUrl}rte`, {
        accessTokenFactory: () => token.Token,
        transport: HttpTransportType.WebSockets,
      })
      .configureLogging(LogLevel.None)
      .build();
    connection.on('MessageReceived', (message: { data: Data }) => events.push(message.data));
    await connection.start();
    await connection.invoke(
      'Subscribe',
      ['QueueCallInArrived', 'QueueCallInUserConnected', 'QueueCallInDisconnected', 'QueueStatus'].map(
        (EventName) => ({ EntityId: queueId, EventName }),
      ),
    );

    const sip = (index: number) => ({ host: '127.0.0.1', port: cluster.nodes[index]!.platform.sipPort });
    const c = await cluster.phone('1003', sip(1));
    c.answerAfterRinging(20);
    const callers = [await cluster.phone('1001', sip(1)), await cluster.phone('1000', sip(0))];
    // A call on node-b is held while a second one, on node-a, arrives: both nodes' calls count.
    const onB = callers[0]!.call('100');
    const finalB = await onB.waitForFinal();
    expect(finalB.status).toBe(200);
    const callOnB = finalB.headers.get('X-Server-Call-Id')!;
    expect(nodeB!.platform.callControl.call(callOnB)).toBeDefined();
    const onA = callers[1]!.call('100'); // C is busy on node-b's call: this one waits in the queue
    await waitFor(
      async () =>
        events.some((e) => e.eventName === 'QueueCallInArrived' && !String(e.eventId).includes('~'))
          ? true
          : undefined,
      10_000,
      'node-a’s own call arriving',
    );
    const status = await waitFor(
      async () =>
        events
          .filter((e) => e.eventName === 'QueueStatus')
          .find((e) => e.queueLength === 1 && e.connectedCalls === 1),
      10_000,
      'a QueueStatus with node-a’s waiting call and node-b’s connected one',
    );
    expect(status).toMatchObject({ entityId: queueId });
    // GET /queues on either node says the same: node-a's waiting call, node-b's connected one.
    for (const node of cluster.nodes) {
      const viewer = await node.rest('admin@example.com', 'secret-admin');
      const queues = await viewer.list<{ Id: string; Status: Data }>('/queues');
      expect(queues.find((q) => q.Id === queueId)!.Status).toMatchObject({ QueueLength: 1, OngoingCalls: 1 });
    }
    expect((await onB.hangup()).status).toBe(200);
    const finalA = await onA.waitForFinal(10_000);
    expect(finalA.status).toBe(200);
    expect((await onA.hangup()).status).toBe(200);

    const ofCall = (callId: string) =>
      waitFor(
        async () => {
          const mine = events.filter((e) => e.callId === callId && e.eventName !== 'QueueStatus');
          return mine.some((e) => e.eventName === 'QueueCallInDisconnected') ? mine : undefined;
        },
        10_000,
        `the events of ${callId}`,
      );
    const fromB = await ofCall(callOnB);
    expect(fromB.map((e) => e.eventName)).toEqual([
      'QueueCallInArrived',
      'QueueCallInUserConnected',
      'QueueCallInDisconnected',
    ]);
    for (const event of fromB) expect(String(event.eventId)).toMatch(/^node-b~\d+-\d+$/);
    const fromA = await ofCall(finalA.headers.get('X-Server-Call-Id')!);
    expect(fromA.map((e) => e.eventName)).toEqual([
      'QueueCallInArrived',
      'QueueCallInUserConnected',
      'QueueCallInDisconnected',
    ]);
    for (const event of fromA) expect(String(event.eventId)).toMatch(/^\d+-\d+$/);
  }, 40_000);
});
