/**
 * Webhooks from a cluster (DESIGN.md §12, §13): each node delivers the events of the calls it runs,
 * from its own journal partition, under its own checkpoint in the shared outbox, with ids
 * `<node>~<seq>-<n>` — so a receiver gets every call's events once, signed, whichever node ran it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTenantYaml } from '../src/config/load.js';
import { startTestCluster, type TestCluster } from './support/cluster.js';
import { waitFor } from './support/platform.js';
import { seedTenantYaml } from './support/tenants.js';
import { hasValidSignature, WebhookReceiver } from './support/webhook-receiver.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const EVENTS = [
  'UserCallInComing',
  'QueueCallInArrived',
  'QueueCallInUserConnected',
  'QueueCallInDisconnected',
];

describe('webhooks from a two-node cluster', () => {
  const receiver = new WebhookReceiver();
  let cluster: TestCluster;

  beforeAll(async () => {
    await receiver.up();
    const tenant = parseTenantYaml(
      [
        seedTenantYaml(),
        'webhooks:',
        `  - { endpoint: "${receiver.url}", secret: ${SECRET}, events: [${EVENTS.join(', ')}] }`,
        '',
      ].join('\n'),
      'cluster-webhooks.yaml',
    );
    cluster = await startTestCluster(tenant, {
      extra: { webhookOptions: { initialBackoffMs: 500, maxBackoffMs: 1000 } },
    });
  }, 30_000);

  afterAll(async () => {
    await cluster?.close();
    await receiver.down();
  });

  it('delivers every call’s events once, whichever node ran the call, with the node in the id', async () => {
    const sip = (index: number) => ({ host: '127.0.0.1', port: cluster.nodes[index]!.platform.sipPort });
    const c = await cluster.phone('1003', sip(1));
    c.answerAfterRinging(20);
    // One queue call on each node: callers registered on node-a and node-b call queue 100.
    const callerA = await cluster.phone('1001', sip(0));
    const callerB = await cluster.phone('1000', sip(1));
    const callIds: string[] = [];
    for (const caller of [callerA, callerB]) {
      const outgoing = caller.call('100');
      const final = await outgoing.waitForFinal();
      expect(final.status).toBe(200);
      expect((await outgoing.hangup()).status).toBe(200);
      callIds.push(final.headers.get('X-Server-Call-Id')!);
    }
    const deliveredFor = (callId: string) =>
      receiver
        .delivered()
        .filter((request) => (JSON.parse(request.body) as { CallId?: string }).CallId === callId);
    await waitFor(
      async () =>
        callIds.every((callId) =>
          deliveredFor(callId).some((r) => r.headers['x-benemen-event'] === 'QueueCallInDisconnected'),
        )
          ? true
          : undefined,
      15_000,
      'both calls’ deliveries',
    );
    // Let any duplicate arrive before counting.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const ids = receiver.delivered().map((request) => String(request.headers['webhook-id']));
    expect(new Set(ids).size).toBe(ids.length);
    for (const [index, callId] of callIds.entries()) {
      const delivered = deliveredFor(callId);
      expect(delivered.map((r) => r.headers['x-benemen-event'])).toEqual([
        'QueueCallInArrived',
        'UserCallInComing',
        'QueueCallInUserConnected',
        'QueueCallInDisconnected',
      ]);
      // The node that ran the call (the caller's node, through which its INVITE came) delivered it.
      const node = index === 0 ? 'node-a' : 'node-b';
      for (const request of delivered) {
        expect(String(request.headers['webhook-id'])).toMatch(new RegExp(`^${node}~\\d+-\\d+$`));
        expect(JSON.parse(request.body)).toMatchObject({ Id: request.headers['webhook-id'], CallId: callId });
        expect(hasValidSignature(SECRET, request)).toBe(true);
      }
    }
  }, 40_000);
});
