/**
 * RFC 3261 §17 (transactions), §9 (CANCEL), §18.2 (Via received / response routing) and RFC 3581
 * (rport), RFC 6026 (Accepted state) — proved over real sockets. The stack under test runs on UDP
 * port 0 (or on a WebSocket server); the peer is a raw socket so that the test sees every
 * retransmission and can withhold responses and ACKs.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { sleep, waitUntil } from '../testing/wait.js';
import { WsClientTransport } from '../testing/ws-client-transport.js';
import { getTag, parseCSeq, parseVia } from './headers.js';
import { EMPTY_BODY, SipHeaders, type SipMessage, type SipRequest, type SipResponse } from './message.js';
import { parseMessage } from './parser.js';
import { SipStack } from './stack.js';
import type { ClientTransaction, InviteServerTransaction, ServerTransaction } from './transaction/index.js';
import type { Flow } from './transport/types.js';
import { UdpTransport } from './transport/udp.js';
import { WsTransport } from './transport/ws.js';

// Shrunk timers, but not so far that scheduling noise on a loaded 2-core CI machine (other suites,
// sipp, Chromium) is comparable to an interval.
const TIMERS = { T1: 40, T2: 320, T4: 400 };
const { T1, T2 } = TIMERS;
/**
 * These suites measure real timers on real sockets. On the 2-core CI machine other suites (sipp,
 * Chromium, PostgreSQL) can stall the event loop for a few hundred ms; a wrong interval fails
 * every attempt, a stall only one — so a timing test gets two more attempts.
 */
const TIMING = { retry: 2 };
/** Scheduling slack on a shared 2-core machine: a timer may fire late, never early. */
const LATE = 150;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

// ---- the raw peer ------------------------------------------------------------------------------

interface Received {
  message: SipMessage;
  raw: string;
  at: number;
  from: { address: string; port: number };
}

function parse(data: Buffer): SipMessage {
  const result = parseMessage(data);
  if (!result.ok)
    throw new Error(
      `peer received an unparseable message (${result.error.code}): ${data.toString('latin1')}`,
    );
  return result.message;
}

abstract class RawPeer {
  readonly received: Received[] = [];

  protected record(data: Buffer, from: { address: string; port: number }): void {
    this.received.push({ message: parse(data), raw: data.toString('latin1'), at: performance.now(), from });
  }

  requests(method: string): Received[] {
    return this.received.filter((r) => r.message.kind === 'request' && r.message.method === method);
  }

  responses(status?: number, cseqMethod?: string): Received[] {
    return this.received.filter(
      (r) =>
        r.message.kind === 'response' &&
        (status === undefined || r.message.status === status) &&
        (cseqMethod === undefined || parseCSeq(r.message.headers.get('CSeq') ?? '')?.method === cseqMethod),
    );
  }

  async waitForRequests(method: string, count = 1, timeoutMs = 3000): Promise<Received[]> {
    await waitUntil(() => this.requests(method).length >= count, timeoutMs, `${count} × ${method}`);
    return this.requests(method);
  }

  async waitForResponses(
    status: number,
    count = 1,
    cseqMethod?: string,
    timeoutMs = 3000,
  ): Promise<Received[]> {
    await waitUntil(
      () => this.responses(status, cseqMethod).length >= count,
      timeoutMs,
      `${count} × ${status}`,
    );
    return this.responses(status, cseqMethod);
  }
}

class RawUdpPeer extends RawPeer {
  private constructor(private readonly socket: Socket) {
    super();
    socket.on('message', (data: Buffer, rinfo: RemoteInfo) =>
      this.record(data, { address: rinfo.address, port: rinfo.port }),
    );
  }

  static async open(): Promise<RawUdpPeer> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    const peer = new RawUdpPeer(socket);
    cleanups.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
    return peer;
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Where the stack reaches this peer. */
  get flow(): Flow {
    return { protocol: 'udp', address: '127.0.0.1', port: this.port };
  }

  send(text: string, port: number): void {
    this.socket.send(Buffer.from(text, 'latin1'), port, '127.0.0.1');
  }
}

// ---- building messages as a peer would send them -----------------------------------------------

interface RequestSpec {
  method: string;
  branch: string;
  /** sent-by of the top Via; the peer's own address by default. */
  viaHost?: string;
  viaPort?: number;
  rport?: boolean;
  callId?: string;
  fromTag?: string;
  toTag?: string;
  cseq?: number;
  cseqMethod?: string;
  uri?: string;
  extra?: string[];
}

function requestText(spec: RequestSpec, defaultPort: number): string {
  const lines = [
    `${spec.method} ${spec.uri ?? 'sip:uas@127.0.0.1'} SIP/2.0`,
    `Via: SIP/2.0/UDP ${spec.viaHost ?? '127.0.0.1'}:${spec.viaPort ?? defaultPort};branch=${spec.branch}${spec.rport ? ';rport' : ''}`,
    'Max-Forwards: 70',
    `From: <sip:uac@127.0.0.1>;tag=${spec.fromTag ?? 'uac-tag'}`,
    `To: <sip:uas@127.0.0.1>${spec.toTag ? `;tag=${spec.toTag}` : ''}`,
    `Call-ID: ${spec.callId ?? 'call-1@test'}`,
    `CSeq: ${spec.cseq ?? 1} ${spec.cseqMethod ?? spec.method}`,
    ...(spec.extra ?? []),
    'Content-Length: 0',
  ];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** A response to `request` built the way a UAS would (RFC 3261 §8.2.6). */
function responseText(
  request: SipMessage,
  status: number,
  reason: string,
  toTag?: string,
  extra: string[] = [],
): string {
  if (request.kind !== 'request') throw new Error('not a request');
  const lines = [`SIP/2.0 ${status} ${reason}`];
  for (const via of request.headers.getLines('Via')) lines.push(`Via: ${via}`);
  lines.push(`From: ${request.headers.get('From')}`);
  const to = request.headers.get('To') ?? '';
  lines.push(`To: ${toTag && !getTag(to) ? `${to};tag=${toTag}` : to}`);
  lines.push(`Call-ID: ${request.headers.get('Call-ID')}`);
  lines.push(`CSeq: ${request.headers.get('CSeq')}`);
  lines.push(...extra, 'Content-Length: 0');
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** The ACK a UAC sends for a non-2xx final (RFC 3261 §17.1.1.3), built by the raw peer. */
function ackText(invite: RequestSpec, toTag: string, defaultPort: number): string {
  return requestText({ ...invite, method: 'ACK', toTag, cseqMethod: 'ACK' }, defaultPort);
}

/** A request the stack under test sends (the stack adds Via and Max-Forwards). */
function outgoingRequest(method: string, extra: [string, string][] = []): SipRequest {
  const headers = new SipHeaders([
    ['From', '<sip:switchboard@127.0.0.1>;tag=stack-tag'],
    ['To', '<sip:peer@127.0.0.1>'],
    ['Call-ID', `${method.toLowerCase()}-${Math.random().toString(36).slice(2)}@test`],
    ['CSeq', `7 ${method}`],
    ['Contact', '<sip:switchboard@127.0.0.1>'],
    ...extra,
  ]);
  return {
    kind: 'request',
    method,
    uri: 'sip:peer@127.0.0.1',
    version: 'SIP/2.0',
    headers,
    body: EMPTY_BODY,
  };
}

/**
 * What a CANCEL (§9.1) and the ACK of a non-2xx (§17.1.1.3) share with their INVITE: its
 * Request-URI, one Via with its branch, its From and Call-ID.
 */
function expectOfTheInviteTransaction(request: SipRequest, invite: SipRequest): void {
  expect(request.uri).toBe(invite.uri);
  expect(request.headers.getAll('Via')).toHaveLength(1);
  expect(topVia(request)?.branch).toBe(topVia(invite)?.branch);
  expect(request.headers.get('From')).toBe(invite.headers.get('From'));
  expect(request.headers.get('Call-ID')).toBe(invite.headers.get('Call-ID'));
}

function topVia(message: SipMessage): ReturnType<typeof parseVia> {
  return parseVia(message.headers.getAll('Via')[0] ?? '');
}

function gaps(received: Received[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < received.length; i++) out.push(received[i]!.at - received[i - 1]!.at);
  return out;
}

/**
 * A retransmission interval measured between two arrivals. Only for steady intervals: a late
 * delivery of the earlier message can shorten one gap a little (a timer itself is never early).
 */
function expectInterval(actual: number, expected: number): void {
  expect(actual).toBeGreaterThanOrEqual(expected * 0.75 - 2);
  expect(actual).toBeLessThan(expected + LATE);
}

/**
 * The retransmissions of `received` (the first send, then its retransmissions) follow `intervals`:
 * the k-th comes no earlier than the sum of the first k intervals after `t0` (taken before the
 * first send), and no gap is much longer than its interval. Lateness is bounded per gap because
 * each timer is armed when the previous one fires: on a loaded machine it adds up over a schedule
 * without any single timer being wrong (and a late arrival of one copy shortens the next gap).
 */
function expectSchedule(received: Received[], t0: number, intervals: number[]): void {
  expect(received.length).toBeGreaterThan(intervals.length);
  let due = 0;
  for (const [k, interval] of intervals.entries()) {
    due += interval;
    const at = received[k + 1]!.at - t0;
    const gap = received[k + 1]!.at - received[k]!.at;
    expect(at, `retransmission ${k + 1} is never early`).toBeGreaterThanOrEqual(due - 1);
    expect(gap, `gap before retransmission ${k + 1}`).toBeLessThan(interval + LATE + 60);
  }
}

// ---- the stack under test ----------------------------------------------------------------------

/** The stack under test on UDP, a raw peer to talk to it, and a log for client transactions. */
async function udpStack(): Promise<{ stack: SipStack; port: number; peer: RawUdpPeer; log: ClientLog }> {
  const udp = await UdpTransport.listen({ host: '127.0.0.1', port: 0 });
  const stack = new SipStack({ transports: [udp], timers: TIMERS });
  cleanups.push(() => stack.close());
  return { stack, port: udp.port, peer: await RawUdpPeer.open(), log: clientLog() };
}

interface ClientLog {
  responses: SipResponse[];
  failures: string[];
  handlers: {
    onResponse: (r: SipResponse, tx: ClientTransaction) => void;
    onFailure: (reason: 'timeout' | 'transportError') => void;
  };
}

/** Send `method` to a peer that never answers: the failure the TU hears (Timer B / F), and when. */
function sendUnanswered(
  stack: SipStack,
  peer: RawUdpPeer,
  method: string,
): Promise<{ reason: string; started: number; at: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    stack.sendRequest(outgoingRequest(method), peer.flow, {
      onResponse: () => {},
      onFailure: (reason) => resolve({ reason, started, at: performance.now() }),
    });
  });
}

/** The TU answers every request with `status` (To tag `uas-tag`); what reached it is returned. */
function answerEvery(
  stack: SipStack,
  status: number,
  reason?: string,
): { request: SipRequest; tx: ServerTransaction }[] {
  const seen: { request: SipRequest; tx: ServerTransaction }[] = [];
  stack.onRequest = (request, tx) => {
    seen.push({ request, tx });
    tx.respond(stack.createResponse(request, status, reason, { toTag: 'uas-tag' }));
  };
  return seen;
}

function clientLog(): ClientLog {
  const log: ClientLog = {
    responses: [],
    failures: [],
    handlers: {
      onResponse: (r) => log.responses.push(r),
      onFailure: (reason) => log.failures.push(reason),
    },
  };
  return log;
}

// ================================================================================================

describe('INVITE client transaction (RFC 3261 §17.1.1)', TIMING, () => {
  it('retransmits with Timer A doubling until a provisional arrives, then stops', async () => {
    const { stack, port, peer, log } = await udpStack();
    const t0 = performance.now();
    const tx = stack.sendRequest(outgoingRequest('INVITE'), peer.flow, log.handlers);
    expect(tx.state).toBe('calling');

    const invites = await peer.waitForRequests('INVITE', 5);
    expectSchedule(invites, t0, [T1, 2 * T1, 4 * T1, 8 * T1]);
    // Every retransmission is the same request: same branch, same bytes.
    expect(new Set(invites.map((r) => r.raw)).size).toBe(1);

    peer.send(responseText(invites[0]!.message, 180, 'Ringing', 'callee'), port);
    await waitUntil(() => log.responses.some((r) => r.status === 180), 2000, '180 at the TU');
    expect(tx.state).toBe('proceeding');
    await sleep(LATE); // let a datagram already sent arrive
    const sentBeforeRinging = peer.requests('INVITE').length;
    await sleep(16 * T1 + LATE); // past the next Timer A interval (16·T1)
    expect(peer.requests('INVITE').length).toBe(sentBeforeRinging);
  });

  it('Timer B ends a transaction that got no response: onFailure("timeout") after 64·T1', async () => {
    const { stack, peer } = await udpStack();
    const failure = await sendUnanswered(stack, peer, 'INVITE');
    const { started } = failure;
    expect(failure.reason).toBe('timeout');
    expect(failure.at - started).toBeGreaterThanOrEqual(64 * T1 - 2);
    // Sent at 0, T1, 3T1, 7T1, 15T1, 31T1 (and 63T1 when the clock is kind): at least six.
    expect(peer.requests('INVITE').length).toBeGreaterThanOrEqual(6);
    expect(stack.pendingTransactionCount.client).toBe(0);
    expect(stack.metrics.get('transactionTimeouts')).toBe(1);
    // Nothing is sent after Timer B (a datagram sent just before may still be on its way).
    await sleep(8 * T1);
    expect(peer.requests('INVITE').filter((r) => r.at > failure.at + LATE)).toEqual([]);
  });

  it('Timer B does not run in Proceeding: a ringing INVITE outlives 64·T1', async () => {
    const { stack, port, peer, log } = await udpStack();
    const tx = stack.sendRequest(outgoingRequest('INVITE'), peer.flow, log.handlers);
    const [invite] = await peer.waitForRequests('INVITE');
    peer.send(responseText(invite!.message, 180, 'Ringing', 'callee'), port);
    await waitUntil(() => tx.state === 'proceeding');
    await sleep(64 * T1 + 4 * LATE);
    expect(log.failures).toEqual([]);
    expect(tx.state).toBe('proceeding');
    // The final response still completes it normally.
    peer.send(responseText(invite!.message, 486, 'Busy Here', 'callee'), port);
    await peer.waitForRequests('ACK');
    expect(log.responses.map((r) => r.status)).toEqual([180, 486]);
  });

  it('builds the ACK for a non-2xx final itself: same branch, To tag of the response, CSeq n ACK, Route kept', async () => {
    const { stack, port, peer, log } = await udpStack();
    const request = outgoingRequest('INVITE', [
      ['Route', '<sip:proxy.example.com;lr>'],
      ['Content-Type', 'application/sdp'],
    ]);
    request.body = Buffer.from('v=0\r\n');
    stack.sendRequest(request, peer.flow, log.handlers);
    const [invite] = await peer.waitForRequests('INVITE');
    const inviteMsg = invite!.message as SipRequest;
    peer.send(responseText(inviteMsg, 486, 'Busy Here', 'callee-tag'), port);

    const [ackReceived] = await peer.waitForRequests('ACK');
    const ack = ackReceived!.message as SipRequest;
    expectOfTheInviteTransaction(ack, inviteMsg);
    expect(getTag(ack.headers.get('To') ?? '')).toBe('callee-tag');
    expect(parseCSeq(ack.headers.get('CSeq') ?? '')).toEqual({ seq: 7, method: 'ACK' });
    expect(ack.headers.getAll('Route')).toEqual(['<sip:proxy.example.com;lr>']);
    expect(ack.headers.get('Max-Forwards')).toBe('70');
    expect(ack.body.length).toBe(0);
    expect(ack.headers.get('Content-Length')).toBe('0');
    expect(ack.headers.has('Content-Type')).toBe(false);
    expect(log.responses.map((r) => r.status)).toEqual([486]);

    // A retransmitted final gets the same ACK again and is not passed up a second time.
    peer.send(responseText(inviteMsg, 486, 'Busy Here', 'callee-tag'), port);
    const acks = await peer.waitForRequests('ACK', 2);
    expect(acks[1]!.raw).toBe(acks[0]!.raw);
    expect(log.responses.map((r) => r.status)).toEqual([486]);
    expect(peer.requests('INVITE').length).toBeLessThanOrEqual(2); // retransmission stopped at the final
  });

  it('passes 2xx to the TU in state "accepted", every retransmitted 2xx too, and sends no ACK itself (RFC 6026)', async () => {
    const { stack, port, peer, log } = await udpStack();
    const strays: SipResponse[] = [];
    stack.onStrayResponse = (r) => strays.push(r);
    const tx = stack.sendRequest(outgoingRequest('INVITE'), peer.flow, log.handlers);
    const [invite] = await peer.waitForRequests('INVITE');
    const ok = responseText(invite!.message, 200, 'OK', 'callee-tag');
    peer.send(ok, port);
    await waitUntil(() => log.responses.length === 1);
    expect(tx.state).toBe('accepted');
    peer.send(ok, port);
    peer.send(responseText(invite!.message, 200, 'OK', 'forked-tag'), port);
    await waitUntil(() => log.responses.length === 3);
    expect(log.responses.map((r) => getTag(r.headers.get('To') ?? ''))).toEqual([
      'callee-tag',
      'callee-tag',
      'forked-tag',
    ]);
    await sleep(4 * T1);
    expect(peer.requests('ACK')).toEqual([]); // the ACK of a 2xx is the TU's, not the transaction's
    const invitesAtAnswer = peer.requests('INVITE').length;

    // Timer M (64·T1) ends the Accepted state; a later 2xx is a stray for the TU core.
    await waitUntil(() => tx.state === 'terminated', 64 * T1 + 10 * LATE, 'Timer M');
    expect(log.failures).toEqual([]);
    peer.send(ok, port);
    await waitUntil(() => strays.length === 1);
    expect(strays[0]!.status).toBe(200);
    expect(peer.requests('INVITE').length).toBe(invitesAtAnswer);
  });
});

describe('non-INVITE client transaction (RFC 3261 §17.1.2)', TIMING, () => {
  it('retransmits with Timer E doubling up to T2 and fails with Timer F after 64·T1', async () => {
    const { stack, peer } = await udpStack();
    const failure = await sendUnanswered(stack, peer, 'OPTIONS');
    const { started } = failure;
    expect(failure.reason).toBe('timeout');
    expect(failure.at - started).toBeGreaterThanOrEqual(64 * T1 - 2);
    // Doubling from T1, then staying at T2 instead of doubling further.
    expectSchedule(peer.requests('OPTIONS'), started, [T1, 2 * T1, 4 * T1, T2, T2, T2, T2]);
    expect(peer.requests('OPTIONS').length).toBeGreaterThanOrEqual(10);
    expect(stack.pendingTransactionCount.client).toBe(0);
  });

  it('keeps retransmitting every T2 in Proceeding, stops at the final, and absorbs a retransmitted final', async () => {
    const { stack, port, peer, log } = await udpStack();
    const tx = stack.sendRequest(outgoingRequest('OPTIONS'), peer.flow, log.handlers);
    const [first] = await peer.waitForRequests('OPTIONS');
    peer.send(responseText(first!.message, 100, 'Trying'), port);
    await waitUntil(() => tx.state === 'proceeding');
    const options = await peer.waitForRequests('OPTIONS', 4, 4 * T2 + 4 * LATE);
    for (const interval of gaps(options).slice(1)) expectInterval(interval, T2);

    peer.send(responseText(first!.message, 200, 'OK', 'peer-tag'), port);
    await waitUntil(() => tx.state === 'completed');
    await sleep(LATE); // let a datagram already sent arrive
    const sent = peer.requests('OPTIONS').length;
    peer.send(responseText(first!.message, 200, 'OK', 'peer-tag'), port);
    await sleep(T2 + LATE);
    expect(peer.requests('OPTIONS').length).toBe(sent);
    expect(log.responses.map((r) => r.status)).toEqual([100, 200]);
    // Timer K (T4) then ends the transaction.
    await waitUntil(() => tx.state === 'terminated', TIMERS.T4 + 10 * LATE, 'Timer K');
  });
});

describe('server transactions (RFC 3261 §17.2)', TIMING, () => {
  it('absorbs a retransmitted non-INVITE request and re-sends its last response', async () => {
    const { stack, port, peer } = await udpStack();
    const seen = answerEvery(stack, 200, 'OK');
    const options = requestText({ method: 'OPTIONS', branch: 'z9hG4bK-opt-1' }, peer.port);
    peer.send(options, port);
    await peer.waitForResponses(200);
    peer.send(options, port);
    peer.send(options, port);
    const responses = await peer.waitForResponses(200, 3);
    expect(seen).toHaveLength(1);
    expect(new Set(responses.map((r) => r.raw)).size).toBe(1);
    expect(stack.metrics.get('retransmissionsSent')).toBe(2);
  });

  it('absorbs a retransmission before the TU answered, then the TU answers once', async () => {
    const { stack, port, peer } = await udpStack();
    let pending: { request: SipRequest; tx: ServerTransaction } | undefined;
    let calls = 0;
    stack.onRequest = (request, tx) => {
      calls++;
      pending = { request, tx };
    };
    const info = requestText({ method: 'OPTIONS', branch: 'z9hG4bK-opt-2' }, peer.port);
    peer.send(info, port);
    await waitUntil(() => pending !== undefined);
    peer.send(info, port);
    await sleep(3 * T1);
    expect(calls).toBe(1);
    expect(peer.received).toEqual([]); // nothing to re-send yet
    pending!.tx.respond(stack.createResponse(pending!.request, 200));
    await peer.waitForResponses(200);
  });

  it('re-sends the latest provisional when an INVITE is retransmitted, without a new TU request', async () => {
    const { stack, port, peer } = await udpStack();
    const seen = answerEvery(stack, 180, 'Ringing');
    const invite = requestText({ method: 'INVITE', branch: 'z9hG4bK-inv-r' }, peer.port);
    peer.send(invite, port);
    await peer.waitForResponses(180);
    expect(peer.responses(100)).toHaveLength(1); // the stack quenches retransmissions at once
    peer.send(invite, port);
    const ringing = await peer.waitForResponses(180, 2);
    expect(ringing[1]!.raw).toBe(ringing[0]!.raw);
    expect(seen).toHaveLength(1);
  });

  it('retransmits a non-2xx final with Timer G (capped at T2) until the ACK, absorbs the ACK, ends after Timer I', async () => {
    const { stack, port, peer } = await udpStack();
    const acksAtTu: SipRequest[] = [];
    stack.onAck = (ack) => acksAtTu.push(ack);
    const seen = answerEvery(stack, 486, 'Busy Here');
    const serverTx = (): ServerTransaction => seen[0]!.tx;
    const spec: RequestSpec = { method: 'INVITE', branch: 'z9hG4bK-inv-g' };
    const t0 = performance.now();
    peer.send(requestText(spec, peer.port), port);
    const finals = await peer.waitForResponses(486, 6);
    expectSchedule(finals, t0, [T1, 2 * T1, 4 * T1, T2, T2]);
    expect(new Set(finals.map((r) => r.raw)).size).toBe(1);

    peer.send(ackText(spec, 'uas-tag', peer.port), port);
    await waitUntil(() => serverTx().state === 'confirmed');
    await sleep(LATE); // let a datagram already sent arrive
    const sent = peer.responses(486).length;
    peer.send(ackText(spec, 'uas-tag', peer.port), port); // retransmitted ACK: absorbed
    await sleep(T2 + LATE);
    expect(peer.responses(486).length).toBe(sent);
    expect(acksAtTu).toEqual([]);
    // Timer I (T4) ends it.
    await waitUntil(() => serverTx().state === 'terminated', TIMERS.T4 + 10 * LATE, 'Timer I');
    expect(stack.pendingTransactionCount.server).toBe(0);
  });

  it('gives up with Timer H when the ACK never comes: onTerminated("timedOut"), retransmissions stop', async () => {
    const { stack, port, peer } = await udpStack();
    let started = 0;
    const ended = new Promise<{ reason: string; at: number }>((resolve) => {
      stack.onRequest = (request, tx) => {
        tx.onTerminated = (reason) => resolve({ reason, at: performance.now() });
        started = performance.now();
        tx.respond(stack.createResponse(request, 603, 'Decline', { toTag: 'uas-tag' }));
      };
    });
    peer.send(requestText({ method: 'INVITE', branch: 'z9hG4bK-inv-h' }, peer.port), port);
    const result = await ended;
    expect(result.reason).toBe('timedOut');
    expect(result.at - started).toBeGreaterThanOrEqual(64 * T1 - 2);
    expect(stack.metrics.get('transactionTimeouts')).toBe(1);
    await sleep(LATE); // let a datagram already sent arrive
    const sent = peer.responses(603).length;
    expect(sent).toBeGreaterThanOrEqual(8);
    await sleep(T2 + LATE);
    expect(peer.responses(603).length).toBe(sent);
  });

  it('responses that create a dialog (18x, 2xx to INVITE) echo the Record-Route set in order (§12.1.1)', async () => {
    const { stack, port, peer } = await udpStack();
    stack.onRequest = (request, tx) => {
      if (request.method === 'INVITE') {
        tx.respond(stack.createResponse(request, 180, 'Ringing', { toTag: 'uas-tag' }));
        tx.respond(stack.createResponse(request, 200, 'OK', { toTag: 'uas-tag' }));
      } else tx.respond(stack.createResponse(request, 200, 'OK'));
    };
    const recordRoute = [
      'Record-Route: <sip:p2.example.com;lr>',
      'Record-Route: <sip:p1.example.com;lr;ftag=x>',
    ];
    peer.send(requestText({ method: 'INVITE', branch: 'z9hG4bK-rr', extra: recordRoute }, peer.port), port);
    const [ringing] = await peer.waitForResponses(180);
    const [ok] = await peer.waitForResponses(200, 1, 'INVITE');
    const expected = ['<sip:p2.example.com;lr>', '<sip:p1.example.com;lr;ftag=x>'];
    expect(ringing!.message.headers.getAll('Record-Route')).toEqual(expected);
    expect(ok!.message.headers.getAll('Record-Route')).toEqual(expected);
    expect(peer.responses(100)[0]!.message.headers.has('Record-Route')).toBe(false);
    // OPTIONS creates no dialog.
    peer.send(
      requestText({ method: 'OPTIONS', branch: 'z9hG4bK-rr-o', extra: recordRoute }, peer.port),
      port,
    );
    const [optionsOk] = await peer.waitForResponses(200, 1, 'OPTIONS');
    expect(optionsOk!.message.headers.has('Record-Route')).toBe(false);
  });

  it('a retransmitted INVITE after a 2xx (Accepted) is not passed to the TU again', async () => {
    const { stack, port, peer } = await udpStack();
    const seen = answerEvery(stack, 200, 'OK');
    const invite = requestText({ method: 'INVITE', branch: 'z9hG4bK-inv-acc' }, peer.port);
    peer.send(invite, port);
    await peer.waitForResponses(200);
    expect(seen[0]!.tx.state).toBe('accepted');
    peer.send(invite, port);
    await sleep(3 * T1);
    expect(seen).toHaveLength(1);
    // The stack does not retransmit the 2xx itself (RFC 6026: the TU core does).
    const before = peer.responses(200).length;
    await sleep(4 * T1);
    expect(peer.responses(200).length).toBe(before);
  });

  it('matches RFC 2543 requests (branch without the magic cookie) by Call-ID, CSeq, From tag and Via', async () => {
    const { stack, port, peer } = await udpStack();
    const seen = answerEvery(stack, 200);
    const old = requestText({ method: 'OPTIONS', branch: 'oldstyle1', callId: 'c2543@test' }, peer.port);
    peer.send(old, port);
    await peer.waitForResponses(200);
    peer.send(old, port);
    await peer.waitForResponses(200, 2);
    peer.send(
      requestText({ method: 'OPTIONS', branch: 'oldstyle1', callId: 'c2543@test', cseq: 2 }, peer.port),
      port,
    );
    await peer.waitForResponses(200, 3);
    expect(seen).toHaveLength(2);
  });
});

describe('CANCEL (RFC 3261 §9)', TIMING, () => {
  it('client: a CANCEL before any provisional is deferred until one arrives, then sent with the INVITE branch', async () => {
    const { stack, port, peer, log } = await udpStack();
    const tx = stack.sendRequest(
      outgoingRequest('INVITE', [['Route', '<sip:proxy.example.com;lr>']]),
      peer.flow,
      log.handlers,
    );
    stack.cancel(tx, 'SIP;cause=487;text="gone"');
    const [invite] = await peer.waitForRequests('INVITE');
    await sleep(6 * T1);
    expect(peer.requests('CANCEL')).toEqual([]);

    const inviteMsg = invite!.message as SipRequest;
    peer.send(responseText(inviteMsg, 180, 'Ringing', 'callee'), port);
    const [cancelReceived] = await peer.waitForRequests('CANCEL');
    const cancel = cancelReceived!.message as SipRequest;
    expectOfTheInviteTransaction(cancel, inviteMsg);
    expect(cancel.headers.get('To')).toBe(inviteMsg.headers.get('To')); // the INVITE's To, no tag
    expect(parseCSeq(cancel.headers.get('CSeq') ?? '')).toEqual({ seq: 7, method: 'CANCEL' });
    expect(cancel.headers.getAll('Route')).toEqual(['<sip:proxy.example.com;lr>']);
    expect(cancel.headers.get('Reason')).toBe('SIP;cause=487;text="gone"');

    peer.send(responseText(cancel, 200, 'OK', 'callee'), port);
    peer.send(responseText(inviteMsg, 487, 'Request Terminated', 'callee'), port);
    await peer.waitForRequests('ACK');
    expect(log.responses.map((r) => r.status)).toEqual([180, 487]);
    // The CANCEL's own transaction got its 200 (a retransmission before it arrived is legitimate
    // on a slow machine, T1 being 40 ms here; every copy carries the INVITE's branch).
    const cancels = peer.requests('CANCEL');
    expect(cancels.length).toBeGreaterThanOrEqual(1);
    for (const copy of cancels) expect(topVia(copy.message)?.branch).toBe(topVia(inviteMsg)?.branch);
  });

  it('client: a deferred CANCEL is dropped when a final response arrives first; none is sent after a final', async () => {
    const { stack, port, peer } = await udpStack();
    const tx = stack.sendRequest(outgoingRequest('INVITE'), peer.flow, clientLog().handlers);
    stack.cancel(tx);
    const [invite] = await peer.waitForRequests('INVITE');
    peer.send(responseText(invite!.message, 486, 'Busy Here', 'callee'), port);
    await peer.waitForRequests('ACK');
    stack.cancel(tx);
    await sleep(6 * T1);
    expect(peer.requests('CANCEL')).toEqual([]);
  });

  it('client: an INVITE that never gets its final after CANCEL is destroyed after 64·T1 (§9.1)', async () => {
    const { stack, port, peer, log } = await udpStack();
    const tx = stack.sendRequest(outgoingRequest('INVITE'), peer.flow, log.handlers);
    const [invite] = await peer.waitForRequests('INVITE');
    peer.send(responseText(invite!.message, 180, 'Ringing', 'callee'), port);
    await waitUntil(() => tx.state === 'proceeding');
    const cancelledAt = performance.now();
    stack.cancel(tx);
    const [cancel] = await peer.waitForRequests('CANCEL');
    peer.send(responseText(cancel!.message, 200, 'OK', 'callee'), port);
    // A further provisional must not restart or clear the wait.
    peer.send(responseText(invite!.message, 183, 'Session Progress', 'callee'), port);
    await waitUntil(() => log.failures.length === 1, 64 * T1 + 20 * LATE, 'INVITE destroyed');
    expect(performance.now() - cancelledAt).toBeGreaterThanOrEqual(64 * T1 - 2);
    expect(log.failures).toEqual(['timeout']);
    expect(tx.state).toBe('terminated');
    expect(stack.pendingTransactionCount.client).toBe(0);
  });

  it('server: a matching CANCEL gets 200 and the INVITE 487 with the To tag of its provisional', async () => {
    const { stack, port, peer } = await udpStack();
    const seen = answerEvery(stack, 180, 'Ringing');
    const spec: RequestSpec = { method: 'INVITE', branch: 'z9hG4bK-inv-c' };
    peer.send(requestText(spec, peer.port), port);
    await peer.waitForResponses(180);
    peer.send(requestText({ ...spec, method: 'CANCEL' }, peer.port), port);
    const [ok] = await peer.waitForResponses(200, 1, 'CANCEL');
    const [terminated] = await peer.waitForResponses(487, 1, 'INVITE');
    expect(parseCSeq(ok!.message.headers.get('CSeq') ?? '')).toEqual({ seq: 1, method: 'CANCEL' });
    expect(topVia(ok!.message)?.branch).toBe('z9hG4bK-inv-c');
    // RFC 3261 §8.2.6.2: every response to the INVITE (but 100) carries the same To tag.
    expect(getTag(terminated!.message.headers.get('To') ?? '')).toBe('uas-tag');
    expect(seen.map(({ request }) => request.method)).toEqual(['INVITE']); // the CANCEL is the stack's, not the TU's
    peer.send(ackText(spec, 'uas-tag', peer.port), port);
    await sleep(LATE);
    const sent = peer.responses(487).length;
    await sleep(T2 + LATE);
    expect(peer.responses(487).length).toBe(sent); // the ACK stopped Timer G
  });

  it('server: a CANCEL before any provisional from the TU also ends the INVITE with 487', async () => {
    const { stack, port, peer } = await udpStack();
    let cancelledTx: InviteServerTransaction | undefined;
    stack.onRequest = (_request, tx) => {
      if (tx.isInvite) cancelledTx = tx;
    };
    const spec: RequestSpec = { method: 'INVITE', branch: 'z9hG4bK-inv-c0' };
    peer.send(requestText(spec, peer.port), port);
    await peer.waitForResponses(100);
    peer.send(requestText({ ...spec, method: 'CANCEL' }, peer.port), port);
    await peer.waitForResponses(200, 1, 'CANCEL');
    const [terminated] = await peer.waitForResponses(487, 1, 'INVITE');
    expect(getTag(terminated!.message.headers.get('To') ?? '')).toBeTruthy();
    expect(cancelledTx!.cancelled).toBe(true);
  });

  it('server: hands the CANCEL to the TU when it asked (onCancel) and lets it answer the INVITE', async () => {
    const { stack, port, peer } = await udpStack();
    const cancels: SipRequest[] = [];
    stack.onRequest = (request, tx) => {
      if (!tx.isInvite) return;
      tx.onCancel = (cancel) => {
        cancels.push(cancel);
        tx.respond(
          stack.createResponse(request, 487, 'Request Terminated', {
            toTag: 'tu-tag',
            headers: [['Reason', 'SIP;cause=487']],
          }),
        );
      };
      tx.respond(stack.createResponse(request, 180, 'Ringing', { toTag: 'tu-tag' }));
    };
    const spec: RequestSpec = { method: 'INVITE', branch: 'z9hG4bK-inv-tu' };
    peer.send(requestText(spec, peer.port), port);
    await peer.waitForResponses(180);
    peer.send(requestText({ ...spec, method: 'CANCEL', extra: ['Reason: SIP;cause=200'] }, peer.port), port);
    const [terminated] = await peer.waitForResponses(487, 1, 'INVITE');
    await peer.waitForResponses(200, 1, 'CANCEL');
    expect(cancels).toHaveLength(1);
    expect(cancels[0]!.headers.get('Reason')).toBe('SIP;cause=200');
    expect(terminated!.message.headers.get('Reason')).toBe('SIP;cause=487');
  });

  it('server: a CANCEL matching no transaction gets 481', async () => {
    const { stack, port, peer } = await udpStack();
    stack.onRequest = () => {
      throw new Error('the TU must not see a CANCEL');
    };
    peer.send(requestText({ method: 'CANCEL', branch: 'z9hG4bK-nothing' }, peer.port), port);
    const [response] = await peer.waitForResponses(481);
    expect(parseCSeq(response!.message.headers.get('CSeq') ?? '')?.method).toBe('CANCEL');
  });

  it('server: a CANCEL after the final response gets 200 and changes nothing', async () => {
    const { stack, port, peer } = await udpStack();
    stack.onRequest = (request, tx) => {
      const status = request.headers.get('Call-ID') === 'answered@test' ? 200 : 486;
      tx.respond(stack.createResponse(request, status, undefined, { toTag: 'uas-tag' }));
    };
    const busy: RequestSpec = { method: 'INVITE', branch: 'z9hG4bK-inv-busy', callId: 'busy@test' };
    peer.send(requestText(busy, peer.port), port);
    await peer.waitForResponses(486);
    peer.send(requestText({ ...busy, method: 'CANCEL' }, peer.port), port);
    await peer.waitForResponses(200, 1, 'CANCEL');

    const answered: RequestSpec = { method: 'INVITE', branch: 'z9hG4bK-inv-ans', callId: 'answered@test' };
    peer.send(requestText(answered, peer.port), port);
    await peer.waitForResponses(200, 1, 'INVITE');
    peer.send(requestText({ ...answered, method: 'CANCEL' }, peer.port), port);
    await peer.waitForResponses(200, 2, 'CANCEL');
    await sleep(3 * T1);
    expect(peer.responses(487)).toEqual([]);
    peer.send(ackText(busy, 'uas-tag', peer.port), port);
  });
});

describe('Via received / rport and response routing (RFC 3261 §18.2, RFC 3581)', () => {
  it('adds received when the source differs from sent-by, and answers to received:sent-by-port', async () => {
    const { stack, port, peer: sender } = await udpStack();
    const sentByPeer = await RawUdpPeer.open();
    const seen = answerEvery(stack, 200);
    sender.send(
      requestText(
        { method: 'OPTIONS', branch: 'z9hG4bK-via-1', viaHost: 'client.invalid', viaPort: sentByPeer.port },
        sender.port,
      ),
      port,
    );
    const [response] = await sentByPeer.waitForResponses(200);
    const via = topVia(seen[0]!.request);
    expect(via?.received).toBe('127.0.0.1');
    expect(via?.params.has('rport')).toBe(false);
    expect(topVia(response!.message)?.received).toBe('127.0.0.1');
    expect(sender.received).toEqual([]);
  });

  it('adds nothing when the source matches sent-by and there is no rport', async () => {
    const { stack, port, peer: sender } = await udpStack();
    const seen = answerEvery(stack, 200);
    const text = requestText({ method: 'OPTIONS', branch: 'z9hG4bK-via-2' }, sender.port);
    sender.send(text, port);
    await sender.waitForResponses(200);
    expect(seen[0]!.request.headers.getAll('Via')[0]).toBe(
      `SIP/2.0/UDP 127.0.0.1:${sender.port};branch=z9hG4bK-via-2`,
    );
  });

  it('fills rport with the source port, adds received even when the address matches, and answers to the source', async () => {
    const { stack, port, peer: sender } = await udpStack();
    const sentByPeer = await RawUdpPeer.open();
    const seen = answerEvery(stack, 200);
    // sent-by names another port (as behind a NAT): the answer must still go where the request came from.
    sender.send(
      requestText(
        { method: 'OPTIONS', branch: 'z9hG4bK-via-3', viaPort: sentByPeer.port, rport: true },
        sender.port,
      ),
      port,
    );
    const [response] = await sender.waitForResponses(200);
    const via = topVia(seen[0]!.request);
    expect(via?.rport).toBe(sender.port);
    expect(via?.received).toBe('127.0.0.1');
    const responseVia = topVia(response!.message);
    expect(responseVia?.rport).toBe(sender.port);
    expect(responseVia?.received).toBe('127.0.0.1');
    expect(sentByPeer.received).toEqual([]);
  });

  it('routes server-transaction retransmissions (Timer G) to received:rport as well', async () => {
    const { stack, port, peer: sender } = await udpStack();
    stack.onRequest = (request, tx) =>
      tx.respond(stack.createResponse(request, 480, undefined, { toTag: 'x' }));
    const spec: RequestSpec = {
      method: 'INVITE',
      branch: 'z9hG4bK-via-4',
      viaHost: 'nat.invalid',
      viaPort: 9,
      rport: true,
    };
    sender.send(requestText(spec, sender.port), port);
    await sender.waitForResponses(480, 3);
    sender.send(ackText(spec, 'x', sender.port), port);
  });

  it('stamps responses to requests it could not parse the same way (400 to received:rport)', async () => {
    const { port } = await udpStack();
    const sender = await RawUdpPeer.open();
    const broken = requestText(
      { method: 'OPTIONS', branch: 'z9hG4bK-bad', viaHost: 'nat.invalid', viaPort: 9, rport: true },
      sender.port,
    ).replace('Max-Forwards: 70', 'Max-Forwards: seventy');
    sender.send(broken, port);
    const [response] = await sender.waitForResponses(400);
    expect(topVia(response!.message)?.rport).toBe(sender.port);
  });
});

describe('destinations that cannot be reached', () => {
  it('a request whose responses cannot be sent (Via port 0, no rport) is dropped, leaving no transaction', async () => {
    const { stack, port, peer } = await udpStack();
    const seen: string[] = [];
    stack.onRequest = (request, tx) => {
      seen.push(request.method);
      tx.respond(stack.createResponse(request, 486, undefined, { toTag: 'x' }));
    };
    peer.send(requestText({ method: 'INVITE', branch: 'z9hG4bK-port0', viaPort: 0 }, peer.port), port);
    peer.send(requestText({ method: 'OPTIONS', branch: 'z9hG4bK-port0-o', viaPort: 0 }, peer.port), port);
    await waitUntil(() => stack.metrics.get('messagesReceived') === 2);
    await sleep(4 * T1);
    expect(seen).toEqual(['OPTIONS']);
    expect(stack.pendingTransactionCount.server).toBe(0);
    expect(stack.metrics.get('droppedMessages')).toBe(1);
    // With rport the same Via is fine: the answer goes to the source.
    peer.send(
      requestText({ method: 'OPTIONS', branch: 'z9hG4bK-port0-r', viaPort: 0, rport: true }, peer.port),
      port,
    );
    await peer.waitForResponses(486);
  });

  it('sending after the transport closed is a transport error for the TU, never a throw', async () => {
    const { stack, peer } = await udpStack();
    await stack.close();
    const log = clientLog();
    stack.sendRequest(outgoingRequest('OPTIONS'), peer.flow, log.handlers);
    stack.sendAck(outgoingRequest('ACK'), peer.flow);
    await waitUntil(() => log.failures.length === 1);
    expect(log.failures).toEqual(['transportError']);
  });
});

// ---- WebSocket (reliable): nothing is retransmitted ---------------------------------------------

describe('over WebSocket (reliable transport)', () => {
  async function wsServerStack(): Promise<{ stack: SipStack; url: string }> {
    const http: Server = createServer();
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
    const httpPort = (http.address() as AddressInfo).port;
    const ws = new WsTransport({ server: http, sentBy: { host: '127.0.0.1', port: httpPort } });
    const stack = new SipStack({ transports: [ws], timers: TIMERS });
    cleanups.push(async () => {
      await stack.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    });
    return { stack, url: `ws://127.0.0.1:${httpPort}/sip` };
  }

  class RawWsPeer extends RawPeer {
    constructor(readonly socket: WebSocket) {
      super();
      socket.on('message', (data: WebSocket.RawData) => {
        const buf = Array.isArray(data)
          ? Buffer.concat(data)
          : Buffer.isBuffer(data)
            ? data
            : Buffer.from(data);
        this.record(buf, { address: '127.0.0.1', port: 0 });
      });
    }

    send(text: string): void {
      this.socket.send(text);
    }
  }

  async function rawWsClient(url: string): Promise<RawWsPeer> {
    const socket = new WebSocket(url, ['sip']);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    cleanups.push(() => {
      socket.terminate();
    });
    return new RawWsPeer(socket);
  }

  it('server: a non-2xx final is sent once (no Timer G), Timer H still ends it without ACK', async () => {
    const { stack, url } = await wsServerStack();
    const peer = await rawWsClient(url);
    const ended = new Promise<string>((resolve) => {
      stack.onRequest = (request, tx) => {
        tx.onTerminated = resolve;
        tx.respond(stack.createResponse(request, 486, 'Busy Here', { toTag: 'uas' }));
      };
    });
    peer.send(
      requestText({ method: 'INVITE', branch: 'z9hG4bK-ws-inv', viaHost: 'abc.invalid' }, 5060).replace(
        'SIP/2.0/UDP',
        'SIP/2.0/WS',
      ),
    );
    await peer.waitForResponses(486);
    await sleep(8 * T1 + LATE);
    expect(peer.responses(486)).toHaveLength(1);
    expect(await ended).toBe('timedOut');
    expect(peer.responses(486)).toHaveLength(1);
    expect(stack.metrics.get('retransmissionsSent')).toBe(0);
  });

  it('server: a non-INVITE transaction ends at its final response (Timer J is zero)', async () => {
    const { stack, url } = await wsServerStack();
    const peer = await rawWsClient(url);
    const seen: SipRequest[] = [];
    stack.onRequest = (request, tx) => {
      seen.push(request);
      tx.respond(stack.createResponse(request, 200));
    };
    peer.send(
      requestText({ method: 'OPTIONS', branch: 'z9hG4bK-ws-opt', viaHost: 'abc.invalid' }, 5060).replace(
        'SIP/2.0/UDP',
        'SIP/2.0/WS',
      ),
    );
    const [response] = await peer.waitForResponses(200);
    expect(stack.pendingTransactionCount.server).toBe(0);
    // WebSocket clients use a .invalid sent-by: received tells where the request really came from.
    expect(topVia(seen[0]!)?.received).toBe('127.0.0.1');
    expect(topVia(response!.message)?.received).toBe('127.0.0.1');
  });

  it('client: requests are sent once (no Timer A/E); Timer F still fires; Timers D and K are zero', async () => {
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
    });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    cleanups.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    const peerReady = new Promise<RawWsPeer>((resolve) =>
      wss.once('connection', (socket) => resolve(new RawWsPeer(socket))),
    );
    const client = await WsClientTransport.connect(
      `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/sip`,
    );
    const stack = new SipStack({ transports: [client], timers: TIMERS });
    cleanups.push(() => stack.close());
    const peer = await peerReady;

    const inviteLog = clientLog();
    const optionsLog = clientLog();
    const bye = clientLog();
    const inviteTx = stack.sendRequest(outgoingRequest('INVITE'), client.serverFlow, inviteLog.handlers);
    const optionsTx = stack.sendRequest(outgoingRequest('OPTIONS'), client.serverFlow, optionsLog.handlers);
    const byeTx = stack.sendRequest(outgoingRequest('BYE'), client.serverFlow, bye.handlers);
    await peer.waitForRequests('BYE');
    await sleep(16 * T1);
    expect(peer.requests('INVITE')).toHaveLength(1);
    expect(peer.requests('OPTIONS')).toHaveLength(1);

    peer.send(responseText(peer.requests('INVITE')[0]!.message, 486, 'Busy Here', 'peer'));
    peer.send(responseText(peer.requests('OPTIONS')[0]!.message, 200, 'OK', 'peer'));
    await peer.waitForRequests('ACK');
    await waitUntil(
      () => inviteTx.state === 'terminated' && optionsTx.state === 'terminated',
      4 * LATE,
      'Timers D and K of zero',
    );
    expect(inviteLog.responses.map((r) => r.status)).toEqual([486]);

    await waitUntil(() => bye.failures.length === 1, 64 * T1 + 20 * LATE, 'Timer F');
    expect(bye.failures).toEqual(['timeout']);
    expect(byeTx.state).toBe('terminated');
    expect(peer.requests('BYE')).toHaveLength(1);
    expect(stack.metrics.get('retransmissionsSent')).toBe(0);
  });

  it('client: a closed connection is a transport error for the TU, not a timeout', async () => {
    const { url } = await wsServerStack();
    const client = await WsClientTransport.connect(url);
    const stack = new SipStack({ transports: [client], timers: TIMERS });
    cleanups.push(() => stack.close());
    await client.close();
    const log = clientLog();
    stack.sendRequest(outgoingRequest('OPTIONS'), client.serverFlow, log.handlers);
    await waitUntil(() => log.failures.length === 1);
    expect(log.failures).toEqual(['transportError']);
    expect(stack.pendingTransactionCount.client).toBe(0);
  });
});
