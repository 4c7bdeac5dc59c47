/**
 * Kamailio as the front door of two Switchboard nodes (deploy/kamailio/kamailio.cfg, issue 18):
 * real phones (test UAs over UDP, one over TCP, some "behind NAT" with a private Contact) talk to
 * Kamailio only, and Kamailio hashes each new request's Call-ID onto a node, keeps dialogs on the
 * node that took them (Record-Route), adds a Path to REGISTERs, probes the nodes with OPTIONS and
 * fails over when one does not answer.
 *
 * Each node has its own SQLite and its own location table (the shared location is issue 18's
 * other part), so the callee registers directly with both nodes: whichever node a call hashes to
 * can reach it. Each node's SIP stack is tapped to see exactly which requests reached it.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoTenant } from '../src/config/demo.js';
import { Dialog } from '../src/sip/dialog.js';
import { EMPTY_BODY, SipHeaders, type SipRequest, type SipResponse } from '../src/sip/message.js';
import { newTag, SipStack } from '../src/sip/stack.js';
import type { Flow } from '../src/sip/transport/types.js';
import { UdpTransport } from '../src/sip/transport/udp.js';
import { TEST_SDP, TestUa } from '../src/testing/test-ua.js';
import { type KamailioProcess, startKamailio } from './support/kamailio.js';
import { startSipTestPlatform, type TestPlatform, waitFor } from './support/platform.js';

const DOMAIN = 'switchboard.local';
const PROBE_INTERVAL_S = 1;
/** How long a node has for its first reply (and a probe for its answer) before Kamailio gives up. */
const NODE_TIMEOUT_MS = 1000;
const tenant = demoTenant({ publicUrl: 'http://127.0.0.1:8080/' });

interface Arrival {
  request: SipRequest;
  flow: Flow;
}

/** A Switchboard node behind Kamailio, with every request that reached its SIP stack. */
interface Node {
  name: string;
  env: TestPlatform;
  sipPort: number;
  arrivals: Arrival[];
}

let kamailio: KamailioProcess;
const nodes: Node[] = [];
const opened: TestUa[] = [];
/** The callee's UAs registered directly with each node (index as `nodes`), one Contact. */
const callees: TestUa[] = [];

async function startNode(name: string, sipPort = 0): Promise<Node> {
  const env = await startSipTestPlatform(tenant, { sipPort });
  const node: Node = { name, env, sipPort: env.platform.sipPort, arrivals: [] };
  // Record each new request the stack hands to the platform, then hand it on unchanged.
  const { stack } = env.platform;
  const deliver = stack.onRequest;
  stack.onRequest = (request, transaction) => {
    node.arrivals.push({ request, flow: transaction.flow });
    deliver?.(request, transaction);
  };
  return node;
}

function password(extension: string): string {
  return nodes[0]!.env.platform.directory.userByExtension(extension)!.password;
}

async function ua(
  server: { host: string; port: number },
  extension: string,
  contactUri?: string,
  protocol: 'udp' | 'tcp' = 'udp',
) {
  const opts = {
    extension,
    password: password(extension),
    domain: DOMAIN,
    ...(contactUri ? { contactUri } : {}),
  };
  const agent =
    protocol === 'udp' ? await TestUa.overUdp(server, opts) : await TestUa.overStream(protocol, server, opts);
  opened.push(agent);
  return agent;
}

/** A phone whose outbound proxy is Kamailio; `contactUri` names where it claims to be (NAT). */
const viaKamailio = (extension: string, contactUri?: string, protocol: 'udp' | 'tcp' = 'udp') =>
  ua({ host: kamailio.host, port: kamailio.port }, extension, contactUri, protocol);

/** The requests of one Call-ID that reached `node`. */
function arrivalsOf(node: Node, callId: string): Arrival[] {
  return node.arrivals.filter(({ request }) => request.headers.get('Call-ID') === callId);
}

/** The one node that saw `callId`; fails when none or both did. */
function nodeThatSaw(callId: string): Node {
  const saw = nodes.filter((node) => arrivalsOf(node, callId).length > 0);
  expect(saw.map((node) => node.name)).toHaveLength(1);
  return saw[0]!;
}

/** Register 1002 (the callee) directly with node `index` at the first callee's Contact. */
async function registerCallee(index: number): Promise<void> {
  const node = nodes[index]!;
  callees[index] ??= await ua(
    { host: '127.0.0.1', port: node.sipPort },
    '1002',
    index === 0 ? undefined : callees[0]!.contactUri,
  );
  expect((await callees[index]!.register()).status).toBe(200);
}

/**
 * An OPTIONS outside any dialog, sent to Kamailio with this Call-ID: Kamailio hashes it like any
 * new request, so the node that answers is the node a call with this Call-ID goes to.
 */
function optionsThroughKamailio(from: TestUa, callId: string): Promise<SipResponse> {
  const headers = new SipHeaders();
  headers.append('From', `<sip:${from.extension}@${DOMAIN}>;tag=${newTag()}`);
  headers.append('To', `<sip:${DOMAIN}>`);
  headers.append('Call-ID', callId);
  headers.append('CSeq', '1 OPTIONS');
  const request: SipRequest = {
    kind: 'request',
    method: 'OPTIONS',
    uri: `sip:${DOMAIN}`,
    version: 'SIP/2.0',
    headers,
    body: EMPTY_BODY,
  };
  return new Promise((resolve, reject) => {
    from.stack.sendRequest(request, from.serverFlow, {
      onResponse: (response) => {
        if (response.status >= 200) resolve(response);
      },
      onFailure: () => reject(new Error(`OPTIONS ${callId}: no answer`)),
    });
  });
}

/** A Call-ID that Kamailio sends to `target` while every node is up. */
async function callIdFor(target: Node, from: TestUa): Promise<string> {
  for (let attempt = 0; attempt < 32; attempt++) {
    const callId = `aim-${randomUUID()}`;
    expect((await optionsThroughKamailio(from, callId)).status).toBe(200);
    if (nodeThatSaw(callId) === target) return callId;
  }
  throw new Error(`no Call-ID hashed to ${target.name} in 32 tries`);
}

/**
 * `caller` calls 1002 through Kamailio; the callee answers, the caller hangs up. Returns the
 * Call-ID and how long the call took to be answered.
 */
async function connectedCall(caller: TestUa, callId = `call-${randomUUID()}`) {
  const started = Date.now();
  const call = caller.call('1002', [], undefined, { callId });
  const answer = await call.waitForFinal(10_000);
  expect(answer.status).toBe(200);
  const answeredMs = Date.now() - started;
  expect((await call.hangup()).status).toBe(200);
  return { callId, answer, answeredMs, call };
}

/**
 * `caller` (through Kamailio) calls 1002, aimed at node A (the callee's UA sends its in-dialog
 * requests to node A, its server); the callee hangs up, so node A sends the caller a BYE through
 * Kamailio. Returns the INVITEs node A got, the caller's 200 and the BYE the caller received.
 */
async function calleeHangsUp(caller: TestUa) {
  const [a, b] = nodes as [Node, Node];
  const callId = await callIdFor(a, caller);
  const incoming = callees[0]!.waitForIncoming(5000);
  const call = caller.call('1002', [], undefined, { callId });
  const answer = await call.waitForFinal(5000);
  expect(answer.status).toBe(200);
  const arrived = await incoming;
  expect((await arrived.hangup()).status).toBe(200);
  await call.waitForBye(5000);
  const bye = caller.receivedRequests.find(
    (request) => request.method === 'BYE' && request.headers.get('Call-ID') === callId,
  );
  if (!bye) throw new Error('the caller got no BYE');
  const vias = bye.headers.getAll('Via');
  expect(vias[0]).toContain(`127.0.0.1:${kamailio.port}`);
  expect(vias[1]).toContain(`127.0.0.1:${a.sipPort}`);
  expect(arrivalsOf(b, callId).filter(({ request }) => request.method !== 'OPTIONS')).toEqual([]);
  const invites = arrivalsOf(a, callId).filter(({ request }) => request.method === 'INVITE');
  return { invites, answer, bye };
}

/** Milliseconds until Kamailio logs `text` (its log is stderr: -E), at most `timeoutMs`. */
async function logged(text: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  await waitFor(async () => (kamailio.output().includes(text) ? true : undefined), timeoutMs, text);
  return Date.now() - started;
}

const nodeUri = (node: Node) => `sip:127.0.0.1:${node.sipPort}`;

describe('Kamailio in front of two Switchboard nodes', () => {
  beforeAll(async () => {
    nodes.push(await startNode('A'), await startNode('B'));
    kamailio = await startKamailio({
      nodes: nodes.map((node) => ({ host: '127.0.0.1', port: node.sipPort })),
      probeIntervalS: PROBE_INTERVAL_S,
      nodeTimeoutMs: NODE_TIMEOUT_MS,
    });
    await registerCallee(0);
    await registerCallee(1);
    for (const callee of callees) callee.answerAfterRinging(0);
  });

  afterAll(async () => {
    await Promise.all(opened.splice(0).map((agent) => agent.close()));
    await kamailio?.stop();
    await Promise.all(nodes.map((node) => node.env.close()));
  });

  it('the nodes answer the OPTIONS probes with 200, so both stay up', async () => {
    // A probe round trip each way at least; Kamailio would log a node going down.
    await waitFor(
      async () =>
        nodes.every((node) =>
          node.arrivals.some(
            ({ request, flow }) => request.method === 'OPTIONS' && flow.port === kamailio.port,
          ),
        )
          ? true
          : undefined,
      3 * PROBE_INTERVAL_S * 1000,
      'a probe at each node',
    );
    expect(kamailio.output()).not.toContain('node down');
  });

  it('REGISTER is challenged by the node and then accepted; the node gets a Path naming Kamailio with received=', async () => {
    const phone = await viaKamailio('1001');
    expect((await phone.register()).status).toBe(200);
    const phonePort = phone.transport.sentBy.port;
    const registers = nodes.flatMap((node) =>
      node.arrivals
        .filter(
          ({ request }) =>
            request.method === 'REGISTER' &&
            (request.headers.get('Contact') ?? '').includes(`:${phonePort}>`),
        )
        .map((arrival) => ({ node, ...arrival })),
    );
    // The challenge and the answer with credentials: same Call-ID, so the same node, via Kamailio.
    expect(registers.map(({ request }) => request.headers.has('Authorization'))).toEqual([false, true]);
    expect(registers[0]!.node).toBe(registers[1]!.node);
    for (const { request, flow } of registers) {
      expect(flow.port).toBe(kamailio.port);
      expect(request.headers.has('Record-Route')).toBe(false);
      const path = request.headers.getAll('Path');
      expect(path).toHaveLength(1);
      expect(path[0]).toMatch(
        new RegExp(
          `^<sip:127\\.0\\.0\\.1:${kamailio.port};lr;received=sip:127\\.0\\.0\\.1(:|%3a)${phonePort}`,
          'i',
        ),
      );
    }
    // The node's binding: the REGISTER came over Kamailio's flow, and the Path is kept (RFC 3327)
    // as the route to the phone.
    const binding = registers[0]!.node.env.platform.location
      .lookup('1001')
      .find((b) => b.contactUri === phone.contactUri);
    expect(binding?.flow).toMatchObject({ protocol: 'udp', port: kamailio.port });
    expect(binding?.path).toEqual(registers[1]!.request.headers.getAll('Path'));
    expect(binding?.reachReason).toBe('path');
  });

  it("several phones' registrations spread over both nodes by Call-ID hash", async () => {
    const reachedBy = new Map<string, number>();
    // Each phone has its own REGISTER Call-ID; register until both nodes have some (2^-15 odds
    // that 16 all hash to one node).
    for (let i = 0; i < 16 && reachedBy.size < 2; i++) {
      const phone = await viaKamailio(['1001', '1002', '1003'][i % 3]!);
      expect((await phone.register()).status).toBe(200);
      const port = phone.transport.sentBy.port;
      const node = nodes.find((n) =>
        n.env.platform.location
          .lookup(phone.extension)
          .some((b) => b.contactUri === phone.contactUri && b.flow.port === kamailio.port),
      );
      expect(node, `binding of the phone on port ${port}`).toBeDefined();
      reachedBy.set(node!.name, (reachedBy.get(node!.name) ?? 0) + 1);
    }
    expect([...reachedBy.keys()].sort()).toEqual(['A', 'B']);
  });

  it('a call through Kamailio connects, stays on the node that took the INVITE, and the other node never sees it', async () => {
    const caller = await viaKamailio('1001');
    const callId = `call-${randomUUID()}`;
    const incoming = callees[0]!.waitForIncoming(5000);
    const call = caller.call('1002', [], undefined, { callId });
    const answer = await call.waitForFinal(5000);
    expect(answer.status).toBe(200);
    await incoming;
    const took = nodeThatSaw(callId);
    const other = nodes.find((node) => node !== took)!;
    // Kamailio record-routed the INVITE: the caller's dialog goes through it.
    const recordRoute = answer.headers.getAll('Record-Route');
    expect(recordRoute).toHaveLength(1);
    expect(recordRoute[0]).toMatch(new RegExp(`^<sip:127\\.0\\.0\\.1:${kamailio.port};lr`));
    expect(call.dialog?.routeSet).toEqual(recordRoute);
    const invites = arrivalsOf(took, callId).filter(({ request }) => request.method === 'INVITE');
    expect(invites.length).toBeGreaterThanOrEqual(1);
    // The node challenged the INVITE (407) and the INVITE re-sent with credentials, same Call-ID,
    // reached it again: Kamailio relayed the challenge and hashed the retry to the same node.
    expect(invites.map(({ request }) => request.headers.has('Proxy-Authorization'))).toEqual([false, true]);
    for (const { request, flow } of invites) {
      expect(flow.port).toBe(kamailio.port);
      expect(request.headers.get('Record-Route')).toBe(recordRoute[0]);
    }
    expect(took.env.platform.callControl.activeCalls).toHaveLength(1);
    expect(other.env.platform.callControl.activeCalls).toHaveLength(0);

    expect((await call.hangup()).status).toBe(200);
    const byes = arrivalsOf(took, callId).filter(({ request }) => request.method === 'BYE');
    expect(byes).toHaveLength(1);
    expect(byes[0]!.flow.port).toBe(kamailio.port);
    // Kamailio consumed its own Route entry and relayed to the node's Contact.
    expect(byes[0]!.request.headers.has('Route')).toBe(false);
    await waitFor(
      async () => (took.env.platform.callControl.activeCalls.length === 0 ? true : undefined),
      2000,
      'the call to end on its node',
    );
    expect(arrivalsOf(other, callId)).toEqual([]);
  });

  it("the node's in-dialog requests reach the caller through Kamailio (the callee hangs up)", async () => {
    const caller = await viaKamailio('1001');
    const { bye } = await calleeHangsUp(caller);
    // Kamailio loose-routed it: its own Route entry consumed, its Via on top of the node's.
    expect(bye.headers.has('Route')).toBe(false);
    expect(bye.uri).toBe(caller.contactUri);
  });

  it("a caller behind NAT (private Contact): Kamailio aliases its Contact, and the node's BYE still reaches it", async () => {
    const caller = await viaKamailio('1001', 'sip:1001@10.0.0.99:5060');
    const { invites, bye } = await calleeHangsUp(caller);
    const callerPort = caller.transport.sentBy.port;
    for (const { request } of invites)
      expect(request.headers.get('Contact')).toBe(
        `<sip:1001@10.0.0.99:5060;alias=127.0.0.1~${callerPort}~1>`,
      );
    // The node sent the BYE to the aliased Contact; Kamailio took the alias off and used it.
    expect(bye.uri).toBe('sip:1001@10.0.0.99:5060');
  });

  it('a phone behind NAT registered through Kamailio is called through Kamailio: the node routes by the Path', async () => {
    // 1000 (not an extension other tests register) at a private address it cannot be reached at.
    const phone = await viaKamailio('1000', 'sip:1000@10.0.0.99:5060');
    expect((await phone.register()).status).toBe(200);
    phone.answerAfterRinging(0);
    // Each node has its own location (the shared one is issue 18's other part): aim the call at
    // the node that took the REGISTER.
    const registrar = nodes.find((node) => node.env.platform.location.isRegistered('1000'))!;
    const other = nodes.find((node) => node !== registrar)!;
    const caller = await viaKamailio('1001');
    const callId = await callIdFor(registrar, caller);
    const incoming = phone.waitForIncoming(5000);
    const call = caller.call('1000', [], undefined, { callId });
    expect((await call.waitForFinal(5000)).status).toBe(200);
    const { invite } = await incoming;
    // The node's INVITE went to Kamailio with the Path as its Route; Kamailio sent it to the
    // phone's received address and record-routed it.
    expect(invite.uri).toBe('sip:1000@10.0.0.99:5060');
    expect(invite.headers.has('Route')).toBe(false);
    expect(invite.headers.getAll('Record-Route')).toEqual([
      expect.stringMatching(new RegExp(`^<sip:127\\.0\\.0\\.1:${kamailio.port};lr`)),
    ]);
    const vias = invite.headers.getAll('Via');
    expect(vias[0]).toContain(`127.0.0.1:${kamailio.port}`);
    expect(vias[1]).toContain(`127.0.0.1:${registrar.sipPort}`);
    // The caller hangs up: the node ends the phone's leg through Kamailio too.
    const phoneCall = phone.incoming[0]!;
    expect((await call.hangup()).status).toBe(200);
    await phoneCall.waitForBye(5000);
    expect(arrivalsOf(other, callId).filter(({ request }) => request.method !== 'OPTIONS')).toEqual([]);
  });

  it('a caller over TCP to UDP nodes: Kamailio record-routes twice, and the dialog works both ways', async () => {
    const caller = await viaKamailio('1001', undefined, 'tcp');
    const { answer, bye } = await calleeHangsUp(caller);
    const recordRoute = answer.headers.getAll('Record-Route');
    expect(recordRoute).toHaveLength(2);
    expect(recordRoute.some((entry) => /transport=tcp/i.test(entry))).toBe(true);
    expect(recordRoute.every((entry) => entry.includes(`127.0.0.1:${kamailio.port}`))).toBe(true);
    expect(bye.headers.has('Route')).toBe(false);
    // And the caller's own BYE, over TCP with both Route entries, reaches the node.
    const second = await connectedCall(caller);
    expect(nodeThatSaw(second.callId)).toBeDefined();
  });

  it('a CANCEL follows its INVITE through Kamailio to the same node, and the caller gets 487', async () => {
    const caller = await viaKamailio('1001');
    callees[0]!.onIncoming((call) => call.ring());
    try {
      const incoming = callees[0]!.waitForIncoming(5000);
      const call = caller.call('1002');
      await call.waitForProgress(5000);
      const arrived = await incoming;
      call.cancel();
      await arrived.waitForCancel(5000);
      expect((await call.waitForFinal(5000)).status).toBe(487);
      // The node's stack matches a CANCEL to its INVITE itself (the tap never sees it): only the
      // node that has the INVITE could have cancelled the callee's leg.
      nodeThatSaw(call.invite.headers.get('Call-ID')!);
    } finally {
      callees[0]!.answerAfterRinging(0);
    }
  });

  it('probes mark a stopped node down within about the probe interval; then every new call goes to the survivor', async () => {
    const [a, b] = nodes as [Node, Node];
    const stopping = Date.now();
    await b.env.close();
    await logged(`node down ${nodeUri(b)}`, 5000);
    const downMs = Date.now() - stopping;
    // One interval to the next probe, the probe's timeout, and slack for a loaded machine.
    expect(downMs).toBeLessThan(PROBE_INTERVAL_S * 1000 + NODE_TIMEOUT_MS + 1500);
    const caller = await viaKamailio('1001');
    for (let i = 0; i < 6; i++) {
      const { callId, answeredMs } = await connectedCall(caller);
      expect(arrivalsOf(a, callId).map(({ request }) => request.method)).toContain('INVITE');
      // Straight to the survivor: nobody waited for the dead node.
      expect(answeredMs).toBeLessThan(NODE_TIMEOUT_MS);
    }
  });

  it('a node started again on the same port is probed up and gets calls again', async () => {
    const b = nodes[1]!;
    nodes[1] = await startNode('B', b.sipPort);
    await registerCallee(1);
    const upMs = await logged(`node up ${nodeUri(b)}`, 5000);
    expect(upMs).toBeLessThan(PROBE_INTERVAL_S * 1000 + 1500);
    const caller = await viaKamailio('1001');
    const callId = await callIdFor(nodes[1]!, caller);
    await connectedCall(caller, callId);
    // (ACKs of 2xx reach the dialog layer, not the tap: INVITE and BYE show the dialog's node.)
    const methods = arrivalsOf(nodes[1]!, callId).map(({ request }) => request.method);
    expect(methods).toContain('INVITE');
    expect(methods).toContain('BYE');
    expect(arrivalsOf(nodes[0]!, callId).filter(({ request }) => request.method !== 'OPTIONS')).toEqual([]);
  });

  it('the first call after a node dies, before the probes notice, fails over to the other node', async () => {
    const [a, b] = nodes as [Node, Node];
    const caller = await viaKamailio('1001');
    const callId = await callIdFor(b, caller);
    // Its socket goes first in close(): from here B answers nothing.
    await b.env.close();
    const { answeredMs } = await connectedCall(caller, callId);
    expect(arrivalsOf(a, callId).map(({ request }) => request.method)).toContain('INVITE');
    // Kamailio waited for B once, marked it down and went on to A.
    expect(kamailio.output()).toMatch(new RegExp(`${callId}.*node ${nodeUri(b)} failed for INVITE`));
    expect(answeredMs).toBeGreaterThanOrEqual(NODE_TIMEOUT_MS - 100);
    expect(answeredMs).toBeLessThan(NODE_TIMEOUT_MS + 2000);
  });
});

/**
 * What a node does with the Path header Kamailio adds (RFC 3327), played by a bare SIP stack in
 * the dispatcher list: it keeps the Path of the REGISTER and puts it as a Route on requests to
 * that binding. Kamailio then relays them to the `received` address — where the phone really is,
 * whatever its Contact says (a phone behind NAT registers a private Contact).
 */
describe('Kamailio relays a node’s request routed by a Path URI (a bare SIP stack as the node)', () => {
  let proxy: KamailioProcess;
  let node: SipStack;
  const nodeRequests: SipRequest[] = [];
  let phone: TestUa;

  beforeAll(async () => {
    const transport = await UdpTransport.listen({ host: '127.0.0.1', port: 0 });
    node = new SipStack({ transports: [transport] });
    // A registrar that takes every REGISTER, and answers the probes.
    node.onRequest = (request, transaction) => {
      nodeRequests.push(request);
      transaction.respond(node.createResponse(request, 200, 'OK'));
    };
    node.onAck = () => {};
    proxy = await startKamailio({
      nodes: [{ host: '127.0.0.1', port: transport.sentBy.port }],
      probeIntervalS: PROBE_INTERVAL_S,
      nodeTimeoutMs: NODE_TIMEOUT_MS,
    });
    phone = await TestUa.overUdp(
      { host: proxy.host, port: proxy.port },
      { extension: '1003', password: 'unused', domain: DOMAIN, contactUri: 'sip:1003@10.0.0.99:5060' },
    );
    phone.answerAfterRinging(0);
  });

  afterAll(async () => {
    await phone?.close();
    await proxy?.stop();
    await node?.close();
  });

  it('an INVITE with the Path as its Route reaches the phone at its received address; the dialog stays on Kamailio', async () => {
    expect((await phone.register()).status).toBe(200);
    const register = nodeRequests.find((request) => request.method === 'REGISTER');
    const path = register?.headers.get('Path');
    expect(path).toBeDefined();
    const kamailioFlow: Flow = { protocol: 'udp', address: proxy.host, port: proxy.port };

    // The node's INVITE: to the registered Contact, preloaded with the Path.
    const headers = new SipHeaders();
    headers.append('Route', path!);
    headers.append('From', `<sip:switchboard@${DOMAIN}>;tag=${newTag()}`);
    headers.append('To', `<sip:1003@${DOMAIN}>`);
    headers.append('Call-ID', `path-${randomUUID()}`);
    headers.append('CSeq', '1 INVITE');
    headers.append('Contact', `<${node.contactUri(kamailioFlow)}>`);
    headers.append('Content-Type', 'application/sdp');
    const invite: SipRequest = {
      kind: 'request',
      method: 'INVITE',
      uri: 'sip:1003@10.0.0.99:5060',
      version: 'SIP/2.0',
      headers,
      body: TEST_SDP('switchboard'),
    };
    const answer = await new Promise<SipResponse>((resolve, reject) => {
      node.sendRequest(invite, kamailioFlow, {
        onResponse: (response) => {
          if (response.status >= 200) resolve(response);
        },
        onFailure: () => reject(new Error('the INVITE got no answer')),
      });
    });
    expect(answer.status).toBe(200);
    const [arrived] = phone.incoming;
    // Kamailio consumed the Path route and record-routed the dialog.
    expect(arrived?.invite.uri).toBe('sip:1003@10.0.0.99:5060');
    expect(arrived?.invite.headers.has('Route')).toBe(false);
    expect(arrived?.invite.headers.get('Record-Route')).toContain(`127.0.0.1:${proxy.port}`);
    // The phone's 200 names its private Contact: Kamailio aliased it to the phone's real address.
    const phonePort = phone.transport.sentBy.port;
    expect(answer.headers.get('Contact')).toBe(`<sip:1003@10.0.0.99:5060;alias=127.0.0.1~${phonePort}~1>`);

    // ACK and BYE from the node, in the dialog: through Kamailio, to the phone.
    const dialog = Dialog.fromUac(invite, answer, kamailioFlow, node.contactUri(kamailioFlow));
    node.sendAck(dialog.createRequest('ACK', { ackFor: 1 }), kamailioFlow);
    const bye = await new Promise<SipResponse>((resolve, reject) => {
      node.sendRequest(dialog.createRequest('BYE'), kamailioFlow, {
        onResponse: (response) => {
          if (response.status >= 200) resolve(response);
        },
        onFailure: () => reject(new Error('the BYE got no answer')),
      });
    });
    expect(bye.status).toBe(200);
    const phoneGot = phone.receivedRequests.map((request) => request.method);
    expect(phoneGot).toEqual(['INVITE', 'BYE']);
  });
});
