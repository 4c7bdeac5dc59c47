/**
 * The seed scenario (DESIGN.md §2) through the cluster's front door: Kamailio in front of two
 * Switchboard nodes on NATS JetStream and PostgreSQL, A's phone registered through Kamailio on one
 * node, B's and C's on the other. The records must be those of the same scenario on one machine:
 * the same rows and details, and ids that are the UUID v5 of the same natural keys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTenantYaml } from '../src/config/load.js';
import { recordId, recordKey } from '../src/records/postprocess/ids.js';
import { TestUa } from '../src/testing/test-ua.js';
import { startTestCluster, type TestCluster } from './support/cluster.js';
import { type KamailioProcess, startKamailio } from './support/kamailio.js';
import {
  type RestClient,
  seedMembers,
  seedRecords,
  startSipTestPlatform,
  type TestPlatform,
  waitFor,
} from './support/platform.js';
import { seedTenantYaml } from './support/tenants.js';

const TENANT = parseTenantYaml(seedTenantYaml(), 'seed.yaml');
type Json = Record<string, unknown>;
type Server = { host: string; port: number };

const password = (extension: string) => TENANT.users.find((u) => u.extension === extension)!.password;

/** What the scenario's records say, without what differs between runs (CallId, times, leg ids). */
interface SeedOutcome {
  callId: string;
  events: Json[];
  header: Json;
  details: Json[];
}

/** A calls queue 100 at `server`; B declines, C answers, A hangs up after 1.1 s. */
async function playSeed(
  a: TestUa,
  b: TestUa,
  c: TestUa,
  admin: () => Promise<RestClient>,
): Promise<SeedOutcome> {
  seedMembers(b, c, 30);
  const outgoing = a.call('100');
  const final = await outgoing.waitForFinal();
  expect(final.status).toBe(200);
  const callId = final.headers.get('X-Server-Call-Id')!;
  await new Promise((resolve) => setTimeout(resolve, 1100));
  expect((await outgoing.hangup()).status).toBe(200);
  await c.incoming.at(-1)!.waitForBye();
  const rest = await admin();
  const { header, events } = await seedRecords(rest, callId, 15_000);
  const details = await rest.list<Json>(`/servicecall/${callId}/details`);
  return { callId, events, header, details };
}

/** The fields that must agree between a single machine and the cluster. */
function comparable(outcome: SeedOutcome) {
  return {
    events: outcome.events
      .map((e) => ({
        user: e.UserName,
        type: e.CallTypeString,
        direction: e.Direction,
        result: e.Result,
        endResult: e.EndResult,
        queue: e.QueueName ?? null,
        answered: e.AnswerTime !== null,
        bNum: e.BNum,
      }))
      .sort((x, y) => String(x.user).localeCompare(String(y.user))),
    header: {
      result: outcome.header.Result,
      allocations: outcome.header.AllocationCount,
      queue: outcome.header.QueueName,
      answeredBy: outcome.header.AnsweredByUserId,
    },
    details: outcome.details.map((d) => [d.EventTypeString, d.UserName ?? null, d.Reason ?? null]),
  };
}

/** Every id is the UUID v5 of the record's natural key: the same id whichever node wrote it. */
function expectDeterministicIds(outcome: SeedOutcome): void {
  for (const event of outcome.events) {
    const expected =
      event.CallTypeString === 'DirectCall'
        ? recordKey.directCallEvent(outcome.callId, event.UserId as string, 'outbound')
        : recordKey.allocationEvent(event.CallLegId as string);
    expect(event.Id).toBe(recordId(expected));
  }
  expect(outcome.header.Id).toBe(
    recordId(recordKey.serviceCall(outcome.callId, outcome.header.QueueId as string)),
  );
}

describe('the seed scenario through Kamailio and two nodes', () => {
  let cluster: TestCluster;
  let kamailio: KamailioProcess;
  let single: TestPlatform;
  const phones: TestUa[] = [];

  beforeAll(async () => {
    [cluster, single] = await Promise.all([startTestCluster(TENANT), startSipTestPlatform(TENANT)]);
    kamailio = await startKamailio({
      nodes: cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.platform.sipPort })),
    });
  }, 30_000);

  afterAll(async () => {
    await Promise.allSettled(phones.map((ua) => ua.close()));
    await kamailio?.stop();
    await cluster?.close();
    await single?.close();
  });

  async function phone(extension: string, server: Server): Promise<TestUa> {
    const ua = await TestUa.overUdp(server, {
      extension,
      password: password(extension),
      domain: TENANT.domain,
    });
    phones.push(ua);
    expect((await ua.register()).status).toBe(200);
    return ua;
  }

  /**
   * A phone registered through Kamailio on node `index`: Kamailio picks the node by the REGISTER's
   * Call-ID, so a phone that landed on the other node unregisters and tries again as a new device.
   */
  async function phoneOnNode(extension: string, index: number): Promise<TestUa> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const ua = await phone(extension, kamailio);
      const own = cluster.nodes[index]!.platform.location.lookup(extension).find(
        (binding) => binding.contactUri === ua.contactUri,
      );
      if (own && own.node === undefined) return ua;
      expect((await ua.unregister()).status).toBe(200);
      await ua.close();
    }
    throw new Error(`${extension} never registered on node ${index}`);
  }

  it('gives the records of one machine, with deterministic ids, whichever node ran the call', async () => {
    // One machine: the phones registered directly.
    const singleServer = { host: '127.0.0.1', port: single.platform.sipPort };
    const [sa, sb, sc] = [
      await phone('1001', singleServer),
      await phone('1002', singleServer),
      await phone('1003', singleServer),
    ];
    const alone = await playSeed(sa, sb, sc, () => single.rest('admin@example.com', 'secret-admin'));

    // The cluster: A on node-a's side, B and C on node-b's, all through Kamailio.
    const a = await phoneOnNode('1001', 0);
    const b = await phoneOnNode('1002', 1);
    const c = await phoneOnNode('1003', 1);
    for (const extension of ['1002', '1003'])
      await waitFor(
        async () => (cluster.nodes[0]!.platform.location.isRegistered(extension) ? true : undefined),
        5_000,
        `node-a sees ${extension}`,
      );
    // Every node reaches every phone through Kamailio (RFC 3327 Path), whichever node registered it.
    for (const node of cluster.nodes)
      for (const extension of ['1001', '1002', '1003'])
        expect(node.platform.location.lookup(extension).map((binding) => binding.reachReason)).toEqual([
          'path',
        ]);
    const clustered = await playSeed(a, b, c, () =>
      cluster.nodes[0]!.rest('admin@example.com', 'secret-admin'),
    );

    expect(comparable(clustered)).toEqual(comparable(alone));
    expect(comparable(clustered).details).toEqual([
      ['CallArrival', null, null],
      ['UserAllocation', 'b@example.com', null],
      ['UserReject', 'b@example.com', 'GenericUserRejected'],
      ['UserAllocation', 'c@example.com', null],
      ['UserConnect', 'c@example.com', null],
      ['CallDisconnect', null, 'Normal'],
    ]);
    expectDeterministicIds(alone);
    expectDeterministicIds(clustered);
    // The other node serves the very same rows from the shared store.
    const other = await cluster.nodes[1]!.rest('admin@example.com', 'secret-admin');
    expect(await other.list<Json>('/calls', { CallId: clustered.callId })).toEqual(clustered.events);
    // Exactly one node ran the call: its facts are in that node's partition only.
    const facts = await Promise.all(
      cluster.nodes.map((node) => node.platform.journal.readCall(clustered.callId)),
    );
    expect(facts.filter((entries) => entries.length > 0)).toHaveLength(1);
  }, 60_000);
});
