/**
 * A node of the cluster dies with its calls (issue 18): two `switchboard start --cluster` processes
 * on NATS JetStream and PostgreSQL behind Kamailio (deploy/kamailio/kamailio.cfg), 100 connected
 * direct calls between UDP phones registered through Kamailio, then one node is killed with
 * SIGKILL. Kamailio's probes mark it down and it ends the dialogs it tracked for that node with a
 * BYE to both phones; the surviving node's janitor ends the dead node's calls in its journal
 * partition (Result Failed, cause NodeFailure) and post-processes it. The other node's calls go on
 * and end normally. The dead node, restarted with the same id, ports and data, rejoins: Kamailio
 * probes it up and it takes new calls.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SipResponse } from '../src/sip/message.js';
import { type IncomingCall, type OutgoingCall, TestUa } from '../src/testing/test-ua.js';
import {
  createSchema,
  dropClusterState,
  type NodeProcess,
  type NodeProcessOptions,
  startNodeProcess,
} from './support/cluster.js';
import { type KamailioProcess, startKamailio } from './support/kamailio.js';
import { RestClient, waitFor } from './support/platform.js';
import { freeTcpPort, freeUdpPort } from './support/sipp.js';

const DOMAIN = 'switchboard.local';
const PROBE_INTERVAL_S = 1;
const NODE_TIMEOUT_MS = 1000;
const HEARTBEAT_MS = 250;
/**
 * From the SIGKILL to the BYE at a phone: up to one probe interval until the next probe, the
 * probe's timeout, then the dialog timer (1 s steps) — about 3 s; the rest is slack for a loaded
 * machine.
 */
const BYE_BOUND_MS = 5000;
const CALLERS = 10;
const CALLEES = 10;
const CALLS_PER_CALLER = 10;
const ADMIN = { email: 'admin@example.com', password: 'secret-admin' };

interface Person {
  email: string;
  extension: string;
  password: string;
}
const person = (kind: string, i: number, base: number): Person => ({
  email: `${kind}${i}@example.com`,
  extension: String(base + i),
  password: `pw-${kind}-${i}`,
});
const CALLER_USERS = Array.from({ length: CALLERS }, (_, i) => person('caller', i, 3100));
const CALLEE_USERS = Array.from({ length: CALLEES }, (_, i) => person('callee', i, 3200));

const TENANT_YAML = [
  `domain: ${DOMAIN}`,
  'users:',
  `  - { username: ${ADMIN.email}, extension: "1000", password: ${ADMIN.password}, role: admin }`,
  ...[...CALLER_USERS, ...CALLEE_USERS].map(
    (u) => `  - { username: ${u.email}, extension: "${u.extension}", password: ${u.password} }`,
  ),
  '',
].join('\n');

type Json = Record<string, unknown>;

/** One call placed through Kamailio, with both ends and the node that ran it. */
interface PlacedCall {
  caller: Person;
  callee: Person;
  outgoing: OutgoingCall;
  incoming: IncomingCall;
  /** The server's CallId (X-Server-Call-Id): the records' key. */
  callId: string;
  /** The SIP port of the node that ran it: the Contact of the 200 the caller got names it. */
  nodePort: number;
}

/** A port free for both UDP and TCP on 127.0.0.1 (a node listens on both). */
async function freeSipPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freeUdpPort();
    const tcp = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (tcp) return port;
  }
  throw new Error('no port free for both UDP and TCP');
}

/** The port in a Contact header value (`<sip:switchboard@127.0.0.1:5071>`). */
function contactPort(response: SipResponse): number {
  const contact = response.headers.get('Contact') ?? '';
  const match = /@[^:;>]+:(\d+)/.exec(contact);
  if (!match) throw new Error(`no port in Contact ${contact}`);
  return Number(match[1]);
}

/** Until every node has `count` registrations (its own and the other nodes': GET /metrics). */
async function untilRegistrations(nodes: NodeProcess[], count: number): Promise<void> {
  for (const node of nodes)
    await waitFor(
      async () => {
        const response = await fetch(`http://127.0.0.1:${node.httpPort}/metrics`);
        const { registrations } = (await response.json()) as { registrations: number };
        return registrations >= count ? true : undefined;
      },
      10_000,
      `${count} registrations on ${node.nodeId}`,
    );
}

/** Resolves with the time the call's BYE arrived (at once when it already did). */
function byeAt(call: OutgoingCall | IncomingCall, timeoutMs: number): Promise<number> {
  return call.waitForBye(timeoutMs).then(() => Date.now());
}

describe('a node killed with SIGKILL during 100 connected calls behind Kamailio', () => {
  const prefix = `T${randomBytes(4).toString('hex')}`;
  const schema = `sb_failover_${randomBytes(5).toString('hex')}`;
  const dirs: string[] = [];
  const nodes: NodeProcess[] = [];
  const nodeOptions: NodeProcessOptions[] = [];
  const phones: TestUa[] = [];
  const callers = new Map<string, TestUa>();
  const callees = new Map<string, TestUa>();
  let kamailio: KamailioProcess;
  let schemaCreated = false;

  beforeAll(async () => {
    const configDir = await mkdtemp(join(tmpdir(), 'sb-failover-'));
    dirs.push(configDir);
    const configPath = join(configDir, 'tenant.yaml');
    await writeFile(configPath, TENANT_YAML);
    await createSchema(schema);
    schemaCreated = true;
    // One after the other: the first creates the schema's tables, the streams and the buckets.
    for (const nodeId of ['node-a', 'node-b']) {
      const dataDir = await mkdtemp(join(tmpdir(), `sb-failover-${nodeId}-`));
      dirs.push(dataDir);
      const opts: NodeProcessOptions = {
        nodeId,
        prefix,
        schema,
        configPath,
        dataDir,
        sipPort: await freeSipPort(),
        httpPort: await freeTcpPort(),
        heartbeatMs: HEARTBEAT_MS,
      };
      nodeOptions.push(opts);
      nodes.push(await startNodeProcess(opts));
    }
    kamailio = await startKamailio({
      nodes: nodes.map((node) => ({ host: '127.0.0.1', port: node.sipPort })),
      probeIntervalS: PROBE_INTERVAL_S,
      nodeTimeoutMs: NODE_TIMEOUT_MS,
    });
    // Every phone registers through Kamailio: its REGISTER's Call-ID picks the node, and the
    // registration is shared with the other node (with the Path back through Kamailio).
    const register = async (user: Person) => {
      const ua = await TestUa.overUdp(
        { host: kamailio.host, port: kamailio.port },
        { extension: user.extension, password: user.password, domain: DOMAIN },
      );
      phones.push(ua);
      const response = await ua.register();
      if (response.status !== 200) throw new Error(`register ${user.extension}: ${response.status}`);
      return ua;
    };
    for (const user of CALLER_USERS) callers.set(user.extension, await register(user));
    for (const user of CALLEE_USERS) {
      const ua = await register(user);
      // Answers every call at once, however many it already has.
      ua.onIncoming((call) => call.answer());
      callees.set(user.extension, ua);
    }
    // Each registration reached the other node through NATS KV before any call is placed.
    await untilRegistrations(nodes, CALLERS + CALLEES);
  }, 90_000);

  afterAll(async () => {
    await Promise.allSettled(phones.map((ua) => ua.close()));
    await kamailio?.stop();
    await Promise.allSettled(nodes.map((node) => stopNode(node)));
    if (schemaCreated) await dropClusterState(prefix, schema);
    await Promise.allSettled(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  }, 60_000);

  /** SIGTERM, and SIGKILL when it does not exit within 10 s. */
  async function stopNode(node: NodeProcess): Promise<void> {
    const { process: child } = node.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await node.stop();
    clearTimeout(timer);
  }

  /** `caller` calls `callee` through Kamailio; the callee answers; resolves once connected. */
  async function connect(caller: Person, callee: Person, callId?: string): Promise<PlacedCall> {
    const ua = callers.get(caller.extension)!;
    const outgoing = ua.call(callee.extension, [], undefined, callId ? { callId } : {});
    const final = await outgoing.waitForFinal(20_000);
    if (final.status !== 200) throw new Error(`${caller.extension} → ${callee.extension}: ${final.status}`);
    const serverCallId = final.headers.get('X-Server-Call-Id');
    if (!serverCallId) throw new Error('the 200 names no X-Server-Call-Id');
    // The callee's leg of the same call carries the same server CallId.
    const incoming = await waitFor(
      async () =>
        callees
          .get(callee.extension)!
          .incoming.find((call) => call.header('X-Server-Call-Id') === serverCallId && call.dialog),
      10_000,
      `the callee's leg of ${serverCallId}`,
    );
    return { caller, callee, outgoing, incoming, callId: serverCallId, nodePort: contactPort(final) };
  }

  /**
   * The user call events since `sinceMs` once every one of `calls` has both its events ended, by
   * CallId. One query per look: the API throttles bursts of parallel requests of one user.
   */
  async function endedEvents(
    admin: RestClient,
    calls: PlacedCall[],
    sinceMs: number,
    timeoutMs: number,
  ): Promise<Map<string, Json[]>> {
    return waitFor(
      async () => {
        const events = await admin.list<Json>('/calls', {
          StartTime: new Date(sinceMs - 60_000).toISOString(),
          EndTime: new Date(Date.now() + 60_000).toISOString(),
        });
        const byCall = new Map<string, Json[]>();
        for (const event of events) {
          const callId = String(event.CallId);
          byCall.set(callId, [...(byCall.get(callId) ?? []), event]);
        }
        const complete = calls.every((call) => {
          const own = byCall.get(call.callId) ?? [];
          return own.length >= 2 && own.every((event) => event.EndTime);
        });
        return complete ? byCall : undefined;
      },
      timeoutMs,
      `ended records of ${calls.length} call(s)`,
    );
  }

  /** Exactly one event for the caller and one for the callee, each with `result`. */
  function expectEvents(events: Json[], call: PlacedCall, result: string): void {
    expect(
      events.map((event) => [event.UserName, event.CallTypeString, event.Result]).sort(),
      `records of ${call.callId} (${call.caller.extension} → ${call.callee.extension})`,
    ).toEqual(
      [
        [call.caller.email, 'DirectCall', result],
        [call.callee.email, 'DirectCall', result],
      ].sort(),
    );
  }

  it('ends the dead node’s calls at both phones within the probe interval, Failed in the records; the other node’s calls go on; the node rejoins', async () => {
    // 100 calls at once: each caller calls each callee once (a callee has ten calls at a time).
    const placingMs = Date.now();
    const calls = await Promise.all(
      CALLER_USERS.flatMap((caller, i) =>
        Array.from({ length: CALLS_PER_CALLER }, (_, j) => connect(caller, CALLEE_USERS[(i + j) % CALLEES]!)),
      ),
    );
    console.log(`100 calls connected through Kamailio in ${Date.now() - placingMs} ms`);
    expect(new Set(calls.map((call) => call.callId)).size).toBe(100);
    const [a, b] = nodes as [NodeProcess, NodeProcess];
    for (const call of calls) expect([a.sipPort, b.sipPort]).toContain(call.nodePort);
    const onB = calls.filter((call) => call.nodePort === b.sipPort);
    const onA = calls.filter((call) => call.nodePort === a.sipPort);
    console.log(`calls on node-a: ${onA.length}, on node-b: ${onB.length}`);
    // Kamailio hashes Call-IDs over both nodes: 2^-99 odds that one has none.
    expect(onA.length).toBeGreaterThan(0);
    expect(onB.length).toBeGreaterThan(0);
    // The answers are durable once the journal's group commit ran (a few ms).
    await new Promise((resolve) => setTimeout(resolve, 300));

    // node-b dies with its calls.
    const killedAt = Date.now();
    await b.kill();
    // The survivor's janitor: node-b declared dead (3 heartbeats), its partition taken over.
    const janitorDone = waitFor(
      async () => (a.child.output().includes('node node-b died; ended') ? Date.now() - killedAt : undefined),
      15_000,
      "node-a's janitor to take node-b's partition over",
    );
    const byes = await Promise.all(
      onB.flatMap((call) => [byeAt(call.outgoing, 15_000), byeAt(call.incoming, 15_000)]),
    );
    const delays = byes.map((at) => at - killedAt);
    const maxDelay = Math.max(...delays);
    console.log(
      `node-b killed with ${onB.length} calls: BYE at both phones of each after ${Math.min(...delays)}–${maxDelay} ms`,
    );
    expect(kamailio.output()).toContain(`node down sip:127.0.0.1:${b.sipPort}`);
    expect(kamailio.output()).toContain(`ending ${2 * onB.length} call leg(s) on 127.0.0.1:${b.sipPort}`);
    expect(maxDelay).toBeLessThan(BYE_BOUND_MS);
    console.log(`node-a's janitor ended node-b's calls ${await janitorDone} ms after the kill`);
    // Past the probes and the dialog timer once more: node-a's calls are untouched.
    await new Promise((resolve) => setTimeout(resolve, (PROBE_INTERVAL_S + 1) * 1000));
    for (const call of onA) {
      expect(call.outgoing.ended, `caller of ${call.callId}`).toBe(false);
      expect(call.incoming.ended, `callee of ${call.callId}`).toBe(false);
    }
    // A phone of node-a's calls got no request of node-b's calls but their BYEs.
    const byeCounts = new Map<string, number>();
    for (const ua of phones)
      for (const request of ua.receivedRequests)
        if (request.method === 'BYE') {
          const id = request.headers.get('Call-ID')!;
          byeCounts.set(id, (byeCounts.get(id) ?? 0) + 1);
        }
    const sipCallIds = (call: PlacedCall) => [
      call.outgoing.invite.headers.get('Call-ID')!,
      call.incoming.invite.headers.get('Call-ID')!,
    ];
    for (const call of onA) for (const id of sipCallIds(call)) expect(byeCounts.get(id)).toBeUndefined();
    for (const call of onB) for (const id of sipCallIds(call)) expect(byeCounts.get(id)).toBe(1);

    // node-a's calls end normally: the callers hang up.
    const hangups = await Promise.all(onA.map((call) => call.outgoing.hangup()));
    expect(hangups.map((response) => response.status)).toEqual(onA.map(() => 200));
    await Promise.all(onA.map((call) => call.incoming.waitForBye(10_000)));

    // The records, from the survivor: every call once per party; node-b's Failed, node-a's Handled.
    const admin = await RestClient.signIn(`http://127.0.0.1:${a.httpPort}/`, ADMIN.email, ADMIN.password);
    const recordsFrom = Date.now();
    const records = await endedEvents(admin, calls, placingMs, 30_000);
    console.log(`records of all 100 calls complete ${Date.now() - recordsFrom} ms after the hang-ups`);
    for (const call of calls)
      expectEvents(records.get(call.callId)!, call, call.nodePort === b.sipPort ? 'Failed' : 'Handled');
    // Nothing else: 200 events, the 100 calls' and no other.
    expect([...records.values()].flat()).toHaveLength(200);
    expect(a.child.output()).toMatch(
      new RegExp(`node node-b died; ended ${onB.length} call\\(s\\) it left in progress`),
    );

    // node-b again, same id, ports and data: it rejoins and Kamailio probes it up.
    const restartedAt = Date.now();
    const again = await startNodeProcess(nodeOptions[1]!);
    nodes[1] = again;
    // It knows every phone again: its own registrations of its previous life and node-a's.
    await untilRegistrations([again], CALLERS + CALLEES);
    const startedMs = Date.now() - restartedAt;
    await waitFor(
      async () => (kamailio.output().includes(`node up sip:127.0.0.1:${again.sipPort}`) ? true : undefined),
      (PROBE_INTERVAL_S + 3) * 1000,
      'Kamailio to probe node-b up',
    );
    console.log(
      `node-b restarted in ${startedMs} ms, probed up ${Date.now() - restartedAt} ms after the restart`,
    );
    // The janitor left nothing for it to recover.
    expect(again.child.output()).not.toMatch(/ended [1-9]\d* call\(s\) left in progress/);

    // New calls hashed to it connect and end Handled; place calls until three ran on node-b.
    const later: PlacedCall[] = [];
    for (let i = 0; i < 40 && later.filter((call) => call.nodePort === b.sipPort).length < 3; i++) {
      const call = await connect(
        CALLER_USERS[i % CALLERS]!,
        CALLEE_USERS[(i + 3) % CALLEES]!,
        `again-${randomUUID()}`,
      );
      later.push(call);
      expect((await call.outgoing.hangup()).status).toBe(200);
      await call.incoming.waitForBye(5000);
    }
    const laterOnB = later.filter((call) => call.nodePort === b.sipPort);
    console.log(`after the restart: ${laterOnB.length} of ${later.length} new calls on node-b`);
    expect(laterOnB.length).toBe(3);
    const after = await endedEvents(admin, [...calls, ...later], placingMs, 15_000);
    for (const call of later) expectEvents(after.get(call.callId)!, call, 'Handled');
    // And the calls before the kill still have their records exactly once (nothing replayed).
    for (const call of calls)
      expectEvents(after.get(call.callId)!, call, call.nodePort === b.sipPort ? 'Failed' : 'Handled');
    expect([...after.values()].flat()).toHaveLength(2 * (calls.length + later.length));
  }, 180_000);
});
