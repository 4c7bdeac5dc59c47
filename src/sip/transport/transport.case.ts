/**
 * The transport contract: what the SIP stack relies on from every transport, proved through a
 * real stack over real sockets. Each transport's test file calls `describeTransportContract` with
 * a factory for its kind (UDP and WebSocket today; TCP and TLS reuse it when they come).
 *
 * A fixture gives the transport under test, listening, and raw peers that reach it the way a
 * phone would (a datagram socket, a WebSocket client), so every byte on the wire is visible.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep, waitUntil } from '../../testing/wait.js';
import { EMPTY_BODY, SipHeaders, type SipMessage, type SipRequest, type SipResponse } from '../message.js';
import { SipMetrics } from '../metrics.js';
import { parseMessage } from '../parser.js';
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
}

/** What the contract needs to know of a kind of transport. */
export interface TransportKind {
  name: string;
  /** Whether a peer's flow is a connection: closing it ends the flow (onFlowClosed). */
  connectionOriented: boolean;
  /** Largest message the factory's transport accepts; the contract sends one far above it. */
  maxMessageBytes: number;
}

export interface TransportFixture {
  readonly transport: Transport;
  connectPeer(): Promise<TransportPeer>;
  /** Tear down what the fixture made besides the transport (an HTTP server). */
  close(): Promise<void>;
}

export type TransportFactory = (metrics: SipMetrics) => Promise<TransportFixture>;

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

export function describeTransportContract(kind: TransportKind, factory: TransportFactory): void {
  describe(`transport contract: ${kind.name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    /** The transport in a stack that answers every request with 200 and records the flows. */
    async function setUp() {
      const metrics = new SipMetrics();
      const fixture = await factory(metrics);
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
        Buffer.concat([optionsText(oversize, via), Buffer.alloc(kind.maxMessageBytes + 1024, 'x')]),
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
  });
}
