/**
 * The transport contract: what the SIP stack relies on from every transport, proved through a
 * real stack over real sockets. Each transport's test file calls `describeTransportContract` with
 * a factory for its kind (UDP, TCP, TLS, WebSocket and WSS).
 *
 * A fixture gives the transport under test, listening, and raw peers that reach it the way a
 * phone would (a datagram socket, a TCP or TLS connection, a WebSocket client), so every byte on
 * the wire is visible.
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep, waitUntil } from '../../testing/wait.js';
import { EMPTY_BODY, SipHeaders, type SipMessage, type SipRequest, type SipResponse } from '../message.js';
import { SipMetrics } from '../metrics.js';
import { parseMessage, SipStreamFramer } from '../parser.js';
import { serializeMessage } from '../serializer.js';
import { SipStack } from '../stack.js';
import { type Flow, flowKey, type Transport } from './types.js';

/** A raw client of the transport under test. */
export interface TransportPeer {
  /** Host and port (or `.invalid` host) the peer puts in its Via sent-by. */
  readonly sentBy: string;
  /** Every message the peer received, in order. */
  readonly received: Buffer[];
  send(data: Buffer | string): void;
  /** Close the peer's end (a connection, a socket). */
  close(): Promise<void>;
  /** Connections: whether the connection has ended, whichever side ended it. */
  readonly closed?: boolean;
  /** Byte streams: every chunk as it arrived, keep-alive pongs included. */
  readonly rawReceived?: Buffer[];
}

/** What the contract needs to know of a kind of transport. */
export interface TransportKind {
  name: string;
  /** Whether a peer's flow is a connection: closing it ends the flow (onFlowClosed). */
  connectionOriented: boolean;
  /** Largest message the factory's transport accepts; the contract sends one far above it. */
  maxMessageBytes: number;
  /**
   * A byte stream framed by Content-Length (TCP, TLS): messages may arrive in pieces or several
   * at once, CRLFCRLF is a keep-alive ping, and a begun message must be completed in time.
   */
  stream?: boolean;
}

/** Timeouts a test asks of the transport; absent ones keep the transport's defaults. */
export interface TransportLimits {
  /** A connection that has sent no message this long is closed. */
  firstMessageTimeoutSeconds?: number;
  /** A message begun and not completed this long is closed (streams). */
  stallTimeoutSeconds?: number;
}

export interface TransportFixture {
  readonly transport: Transport;
  connectPeer(): Promise<TransportPeer>;
  /** Tear down what the fixture made besides the transport (an HTTP server). */
  close(): Promise<void>;
}

export type TransportFactory = (metrics: SipMetrics, limits?: TransportLimits) => Promise<TransportFixture>;

/**
 * A peer on a connected TCP or TLS socket: what arrives is framed as the transport frames it, and
 * the raw chunks are kept too (a CRLF pong is not a message).
 */
export function streamSocketPeer(socket: Socket): TransportPeer {
  const received: Buffer[] = [];
  const rawReceived: Buffer[] = [];
  const framer = new SipStreamFramer({ maxMessageBytes: 1024 * 1024 });
  let closed = false;
  socket.on('data', (chunk: Buffer) => {
    rawReceived.push(chunk);
    received.push(...framer.push(chunk));
  });
  // The server closing on bad input may reset the connection under a write; the peer just sees it end.
  socket.on('error', () => {});
  socket.on('close', () => {
    closed = true;
  });
  socket.setNoDelay(true);
  return {
    sentBy: `127.0.0.1:${socket.localPort}`,
    received,
    rawReceived,
    get closed() {
      return closed;
    },
    send: (data) => {
      if (socket.writable) socket.write(data);
    },
    close: async () => {
      if (closed) return;
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.destroy();
      });
    },
  };
}

/** The number of connections a transport holds, for kinds that tell. */
function connectionCount(transport: Transport): number | undefined {
  const count = (transport as { connectionCount?: unknown }).connectionCount;
  return typeof count === 'number' ? count : undefined;
}

function parsed(data: Buffer): SipMessage {
  const result = parseMessage(data);
  if (!result.ok) throw new Error(`peer received an unparseable message: ${result.error.reason}`);
  return result.message;
}

/** An OPTIONS as the peer sends it, with a Via naming the peer and asking for rport. */
function optionsText(peer: TransportPeer, viaTransport: string, callId: string = randomUUID()): Buffer {
  const branch = `z9hG4bK${randomUUID().slice(0, 12)}`;
  const headers = new SipHeaders([
    ['Via', `SIP/2.0/${viaTransport} ${peer.sentBy};branch=${branch};rport`],
    ['From', '<sip:peer@example.com>;tag=peer-tag'],
    ['To', '<sip:switchboard@example.com>'],
    ['Call-ID', callId],
    ['CSeq', '1 OPTIONS'],
  ]);
  const uri = 'sip:switchboard@example.com';
  return serializeMessage({
    kind: 'request',
    method: 'OPTIONS',
    uri,
    version: 'SIP/2.0',
    headers,
    body: EMPTY_BODY,
  });
}

/** An OPTIONS whose body (counted in its Content-Length) makes it `bytes` long or more. */
function largeOptionsText(peer: TransportPeer, viaTransport: string, bytes: number, callId?: string): Buffer {
  const small = parsed(optionsText(peer, viaTransport, callId)) as SipRequest;
  return serializeMessage({ ...small, body: Buffer.alloc(bytes, 'x') });
}

/** The peer's 200 to a request the stack sent it: the request's headers, with a To tag added. */
function okText(request: SipRequest): Buffer {
  const headers = new SipHeaders();
  for (const name of ['Via', 'From', 'To', 'Call-ID', 'CSeq'])
    for (const value of request.headers.getLines(name)) headers.append(name, value);
  headers.set('To', `${request.headers.get('To')};tag=peer-answer`);
  return serializeMessage({
    kind: 'response',
    status: 200,
    reason: 'OK',
    version: 'SIP/2.0',
    headers,
    body: EMPTY_BODY,
  });
}

/**
 * A case that does not apply to a kind (a stall on a datagram socket) is not registered at all,
 * rather than reported as skipped: nothing in the suite skips itself.
 */
const IT_NOT_APPLICABLE = (_name: string, _body: () => Promise<void>, _timeout?: number): void => {};

export function describeTransportContract(kind: TransportKind, factory: TransportFactory): void {
  describe(`transport contract: ${kind.name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    /** The transport in a stack that answers every request with 200 and records the flows. */
    async function setUp(limits?: TransportLimits) {
      const metrics = new SipMetrics();
      const fixture = await factory(metrics, limits);
      const stack = new SipStack({ transports: [fixture.transport], metrics });
      const requests: { request: SipRequest; flow: Flow }[] = [];
      const closedFlows: Flow[] = [];
      stack.onRequest = (request, transaction) => {
        requests.push({ request, flow: transaction.flow });
        transaction.respond(stack.createResponse(request, 200, 'OK'));
      };
      stack.onFlowClosed = (flow) => closedFlows.push(flow);
      const peers: TransportPeer[] = [];
      const connectPeer = async (): Promise<TransportPeer> => {
        const peer = await fixture.connectPeer();
        peers.push(peer);
        return peer;
      };
      cleanups.push(async () => {
        for (const peer of peers) await peer.close();
        await stack.close();
        await fixture.close();
      });
      const via = fixture.transport.viaTransport;
      return { metrics, fixture, stack, requests, closedFlows, connectPeer, via };
    }

    it('carries a request to the stack and its response back to the peer', async () => {
      const { stack, requests, connectPeer, via } = await setUp();
      const peer = await connectPeer();
      peer.send(optionsText(peer, via, 'contract-request'));
      await waitUntil(() => peer.received.length === 1, 3000, 'the 200');
      const response = parsed(peer.received[0]!) as SipResponse;
      expect(response.kind).toBe('response');
      expect(response.status).toBe(200);
      expect(response.headers.get('Call-ID')).toBe('contract-request');
      expect(requests).toHaveLength(1);
      expect(requests[0]!.request.method).toBe('OPTIONS');
      expect(stack.metrics.get('messagesReceived')).toBe(1);
    });

    it('sends a request to a peer over the flow it came from and passes the response up', async () => {
      const { stack, requests, connectPeer, via } = await setUp();
      const peer = await connectPeer();
      peer.send(optionsText(peer, via));
      await waitUntil(() => requests.length === 1 && peer.received.length === 1, 3000, 'the first exchange');
      const flow = requests[0]!.flow;

      const responses: SipResponse[] = [];
      const outgoing = stack.createResponse(requests[0]!.request, 200); // borrow its headers
      const request: SipRequest = {
        kind: 'request',
        method: 'OPTIONS',
        uri: 'sip:peer@example.com',
        version: 'SIP/2.0',
        headers: outgoing.headers,
        body: Buffer.alloc(0),
      };
      request.headers.delete('Via');
      request.headers.set('CSeq', '1 OPTIONS');
      stack.sendRequest(request, flow, { onResponse: (response) => responses.push(response) });
      await waitUntil(() => peer.received.length === 2, 3000, 'the request at the peer');
      const atPeer = parsed(peer.received[1]!) as SipRequest;
      expect(atPeer.kind).toBe('request');
      expect(atPeer.headers.getAll('Via')[0]).toContain(`SIP/2.0/${via} `);
      peer.send(okText(atPeer));
      await waitUntil(() => responses.length === 1, 3000, 'the response at the TU');
      expect(responses[0]!.status).toBe(200);
    });

    it('keeps one flow per peer and answers on it (rport/received, or the connection)', async () => {
      const { fixture, requests, connectPeer, via } = await setUp();
      const first = await connectPeer();
      const second = await connectPeer();
      first.send(optionsText(first, via));
      await waitUntil(() => requests.length === 1, 3000, 'the first request');
      first.send(optionsText(first, via));
      second.send(optionsText(second, via));
      await waitUntil(() => requests.length === 3, 3000, 'three requests');
      await waitUntil(
        () => first.received.length === 2 && second.received.length === 1,
        3000,
        'three answers',
      );
      const keys = requests.map((r) => flowKey(r.flow));
      expect(keys[0]).toBe(keys[1]);
      expect(keys[2]).not.toBe(keys[0]);
      for (const { request, flow } of requests) {
        expect(flow.protocol).toBe(fixture.transport.protocol);
        if (kind.connectionOriented) continue;
        // Connectionless: the response goes to the source (RFC 3581), recorded on the top Via.
        const top = request.headers.getAll('Via')[0] ?? '';
        expect(top).toContain(`rport=${flow.port}`);
        expect(top).toContain(`received=${flow.address}`);
      }
    });

    it('survives garbage and oversize input and keeps serving', async () => {
      const { metrics, requests, connectPeer, via } = await setUp();
      const garbage = await connectPeer();
      garbage.send(Buffer.from([0, 1, 2, 0xff, 0xfe, 13, 10, 13, 10]));
      garbage.send('NOT SIP AT ALL\r\n\r\n');
      const oversize = await connectPeer();
      oversize.send(
        kind.stream
          ? // On a byte stream, bytes after a whole message are the next message: the oversize one
            // must say its size in Content-Length.
            largeOptionsText(oversize, via, kind.maxMessageBytes + 1024)
          : Buffer.concat([optionsText(oversize, via), Buffer.alloc(kind.maxMessageBytes + 1024, 'x')]),
      );
      await sleep(100);
      expect(requests).toEqual([]);
      expect(metrics.get('parseErrors') + metrics.get('droppedMessages')).toBeGreaterThan(0);

      const good = await connectPeer();
      good.send(optionsText(good, via));
      await waitUntil(() => good.received.length === 1, 3000, 'the answer after bad input');
      expect(requests).toHaveLength(1);
    });

    it('ends a flow when its peer goes away (connections) and refuses to send on it', async () => {
      const { fixture, stack, requests, closedFlows, connectPeer, via } = await setUp();
      const peer = await connectPeer();
      peer.send(optionsText(peer, via));
      await waitUntil(() => requests.length === 1, 3000, 'the request');
      const flow = requests[0]!.flow;
      await peer.close();
      if (!kind.connectionOriented) {
        // A datagram flow has no end: nothing to report, and sending is still possible.
        await sleep(50);
        expect(closedFlows).toEqual([]);
        expect(fixture.transport.send(Buffer.from('\r\n\r\n'), flow)).toBe(true);
        return;
      }
      await waitUntil(() => closedFlows.length === 1, 3000, 'onFlowClosed');
      expect(flowKey(closedFlows[0]!)).toBe(flowKey(flow));
      expect(fixture.transport.send(Buffer.from('\r\n\r\n'), flow)).toBe(false);
      // The stack tells its TU of a request it cannot send as a transport error, not a throw.
      const failure = await new Promise<string>((resolve) => {
        const request = stack.createResponse(requests[0]!.request, 200).headers;
        request.delete('Via');
        request.set('CSeq', '2 OPTIONS');
        stack.sendRequest(
          {
            kind: 'request',
            method: 'OPTIONS',
            uri: 'sip:peer@example.com',
            version: 'SIP/2.0',
            headers: request,
            body: Buffer.alloc(0),
          },
          flow,
          { onResponse: () => resolve('response'), onFailure: (reason) => resolve(reason) },
        );
      });
      expect(failure).toBe('transportError');
    });

    it('close() stops it: nothing more is sent, and closing twice is harmless', async () => {
      const { fixture, requests, connectPeer, via } = await setUp();
      const peer = await connectPeer();
      peer.send(optionsText(peer, via));
      await waitUntil(() => requests.length === 1, 3000, 'the request');
      const flow = requests[0]!.flow;
      await fixture.transport.close();
      await fixture.transport.close();
      expect(fixture.transport.send(Buffer.from('\r\n\r\n'), flow)).toBe(false);
    });

    (kind.connectionOriented ? it : IT_NOT_APPLICABLE)(
      'closes a connection that sends nothing within the first-message timeout',
      async () => {
        const { requests, connectPeer, via } = await setUp({ firstMessageTimeoutSeconds: 0.4 });
        const silent = await connectPeer();
        const talking = await connectPeer();
        talking.send(optionsText(talking, via));
        await waitUntil(() => talking.received.length === 1, 3000, 'the answer to the talking peer');
        await sleep(100);
        expect(silent.closed).toBe(false);
        await waitUntil(() => silent.closed === true, 3000, 'the silent connection closed');
        // A connection that delivered a message is past that deadline.
        await sleep(300);
        expect(talking.closed).toBe(false);
        talking.send(optionsText(talking, via));
        await waitUntil(() => talking.received.length === 2, 3000, 'a second answer');
        expect(requests).toHaveLength(2);
      },
    );

    (kind.stream ? it : IT_NOT_APPLICABLE)('closes a connection whose message stalls half-way', async () => {
      const { metrics, connectPeer, via } = await setUp({ stallTimeoutSeconds: 0.4 });
      const peer = await connectPeer();
      peer.send(optionsText(peer, via));
      await waitUntil(() => peer.received.length === 1, 3000, 'the first answer');
      const next = optionsText(peer, via);
      peer.send(next.subarray(0, Math.floor(next.length / 2)));
      await sleep(100);
      expect(peer.closed).toBe(false);
      await waitUntil(() => peer.closed === true, 3000, 'the stalled connection closed');
      expect(metrics.get('streamConnectionsTimedOut')).toBe(1);
    });

    (kind.stream ? it : IT_NOT_APPLICABLE)(
      'frames a message sent a byte at a time and two messages in one write',
      async () => {
        const { requests, connectPeer, via } = await setUp();
        const peer = await connectPeer();
        const trickled = optionsText(peer, via, 'trickled');
        for (let i = 0; i < trickled.length; i++) {
          peer.send(trickled.subarray(i, i + 1));
          // Let each byte leave as its own segment rather than coalesce in the peer's buffer.
          if (i % 8 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
        await waitUntil(() => peer.received.length === 1, 3000, 'the answer to the trickled message');
        peer.send(Buffer.concat([optionsText(peer, via, 'pair-1'), optionsText(peer, via, 'pair-2')]));
        await waitUntil(() => peer.received.length === 3, 3000, 'two more answers');
        const callIds = peer.received.map((data) => parsed(data).headers.get('Call-ID'));
        expect(callIds).toEqual(['trickled', 'pair-1', 'pair-2']);
        expect(requests.map((r) => r.request.headers.get('Call-ID'))).toEqual([
          'trickled',
          'pair-1',
          'pair-2',
        ]);
      },
    );

    (kind.stream ? it : IT_NOT_APPLICABLE)(
      'answers a CRLFCRLF keep-alive ping with CRLF (RFC 5626)',
      async () => {
        const { metrics, connectPeer, via } = await setUp();
        const peer = await connectPeer();
        peer.send('\r\n\r\n');
        const raw = () => Buffer.concat(peer.rawReceived ?? []).toString('latin1');
        await waitUntil(() => raw() === '\r\n', 3000, 'the CRLF pong');
        expect(metrics.get('keepAlives')).toBe(1);
        peer.send(optionsText(peer, via));
        await waitUntil(() => peer.received.length === 1, 3000, 'an answer after the ping');
        expect(peer.closed).toBe(false);
      },
    );

    // 50 peers at a time. About 0.5 s over UDP, 1 s over TCP and WS, 3 s over TLS and WSS on the
    // 2-core machine when idle (twice that under load); the timeout leaves room for a busy machine.
    it('serves 1,000 peers that come and go, and holds nothing for them afterwards', {
      timeout: 15_000,
    }, async () => {
      const { fixture, requests, connectPeer, via } = await setUp();
      const total = 1000;
      const batch = 50;
      for (let first = 0; first < total; first += batch) {
        await Promise.all(
          Array.from({ length: batch }, async () => {
            const peer = await connectPeer();
            peer.send(optionsText(peer, via));
            await waitUntil(() => peer.received.length === 1, 5000, 'an answer');
            expect((parsed(peer.received[0]!) as SipResponse).status).toBe(200);
            await peer.close();
          }),
        );
      }
      expect(requests).toHaveLength(total);
      if (connectionCount(fixture.transport) !== undefined)
        await waitUntil(() => connectionCount(fixture.transport) === 0, 3000, 'no connection held');
      const fresh = await connectPeer();
      fresh.send(optionsText(fresh, via, 'fresh'));
      await waitUntil(() => fresh.received.length === 1, 3000, 'the fresh peer answered');
      expect(parsed(fresh.received[0]!).headers.get('Call-ID')).toBe('fresh');
    });

    (kind.connectionOriented ? IT_NOT_APPLICABLE : it)(
      'answers a request over the size limit with 513 Message Too Large',
      async () => {
        const { metrics, requests, connectPeer, via } = await setUp();
        const peer = await connectPeer();
        peer.send(largeOptionsText(peer, via, kind.maxMessageBytes + 1, 'too-large'));
        await waitUntil(() => peer.received.length === 1, 3000, 'the 513');
        const response = parsed(peer.received[0]!) as SipResponse;
        expect(response.kind).toBe('response');
        expect(response.status).toBe(513);
        expect(response.headers.get('Call-ID')).toBe('too-large');
        expect(requests).toEqual([]);
        expect(metrics.get('oversizeMessages')).toBe(1);
      },
    );
  });
}
