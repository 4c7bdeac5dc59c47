/**
 * StreamTransport beyond the transport contract: the connection cap, connections we open (queueing,
 * failures, RFC 5923 aliases), framing errors and the timeouts, seen from raw sockets on loopback.
 */
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, connect as tlsConnect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { selfSignedCertificate } from '../../testing/tls-cert.js';
import { sleep, waitUntil } from '../../testing/wait.js';
import { SipMetrics } from '../metrics.js';
import { StreamTransport, type StreamTransportOptions } from './stream.js';
import type { Flow, InboundData } from './types.js';

/** A whole request as a peer would write it; the transport only frames it, nothing parses it here. */
function request(callId: string, body = ''): string {
  return (
    'OPTIONS sip:switchboard@example.com SIP/2.0\r\n' +
    'Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-stream-test;alias\r\n' +
    'From: <sip:peer@example.com>;tag=peer\r\n' +
    'To: <sip:switchboard@example.com>\r\n' +
    `Call-ID: ${callId}\r\n` +
    'CSeq: 1 OPTIONS\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
    body
  );
}

interface RawClient {
  readonly socket: Socket;
  /** Everything received, as text. */
  text(): string;
  readonly closed: boolean;
}

function watch(socket: Socket): RawClient {
  const chunks: Buffer[] = [];
  let closed = false;
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  socket.on('close', () => {
    closed = true;
  });
  return {
    socket,
    text: () => Buffer.concat(chunks).toString('latin1'),
    get closed() {
      return closed;
    },
  };
}

async function rawClient(port: number): Promise<RawClient> {
  const socket = netConnect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return watch(socket);
}

/** A port nothing listens on (a server's ephemeral port, just released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function listening(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

describe('StreamTransport', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A transport on loopback that records what it hands up, reports and counts. */
  async function transportUnderTest(opts: Partial<StreamTransportOptions> = {}) {
    const metrics = new SipMetrics();
    const transport = await StreamTransport.listen({ host: '127.0.0.1', port: 0, metrics, ...opts });
    const inbound: InboundData[] = [];
    const closedFlows: Flow[] = [];
    const failedFlows: Flow[] = [];
    transport.onData = (data) => inbound.push(data);
    transport.onFlowClosed = (flow) => closedFlows.push(flow);
    transport.onSendFailed = (flow) => failedFlows.push(flow);
    const sockets: Socket[] = [];
    const client = async () => {
      const raw = await rawClient(transport.port);
      sockets.push(raw.socket);
      return raw;
    };
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await transport.close();
    });
    return { transport, metrics, inbound, closedFlows, failedFlows, client };
  }

  /** A plain TCP server standing in for a phone we connect to; it records connections and bytes. */
  async function tcpPeerServer() {
    const sockets: RawClient[] = [];
    const server = createServer((socket) => sockets.push(watch(socket)));
    const port = await listening(server);
    cleanups.push(async () => {
      for (const peer of sockets) peer.socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return { port, sockets };
  }

  it('is TCP without a certificate and TLS with one, each with its Via token and port', async () => {
    const { transport } = await transportUnderTest({ advertisedHost: 'sip.example.com' });
    expect(transport.protocol).toBe('tcp');
    expect(transport.viaTransport).toBe('TCP');
    expect(transport.port).toBeGreaterThan(0);
    expect(transport.sentBy).toEqual({ host: 'sip.example.com', port: transport.port });
    const { cert, key } = selfSignedCertificate();
    const secure = await transportUnderTest({ tls: { cert, key } });
    expect(secure.transport.protocol).toBe('tls');
    expect(secure.transport.viaTransport).toBe('TLS');
  });

  it('hands up each message with a flow bound to its connection, and reports the close once', async () => {
    const { transport, inbound, closedFlows, client } = await transportUnderTest();
    const peer = await client();
    peer.socket.write(request('one') + request('two'));
    await waitUntil(() => inbound.length === 2, 3000, 'two messages');
    const flow = inbound[0]!.flow;
    expect(flow).toEqual({
      protocol: 'tcp',
      address: '127.0.0.1',
      port: peer.socket.localPort,
      connectionId: expect.any(String),
    });
    expect(inbound[1]!.flow).toBe(flow);
    expect(inbound[1]!.data.toString('latin1')).toBe(request('two'));
    expect(transport.connectionCount).toBe(1);
    peer.socket.end();
    await waitUntil(() => closedFlows.length === 1, 3000, 'onFlowClosed');
    await sleep(50);
    expect(closedFlows).toEqual([flow]);
    expect(transport.connectionCount).toBe(0);
    expect(transport.send(Buffer.from('\r\n'), flow)).toBe(false);
  });

  it('refuses connections over maxConnections at once and counts them', async () => {
    const { transport, metrics, client } = await transportUnderTest({ maxConnections: 2 });
    const first = await client();
    const second = await client();
    await waitUntil(() => transport.connectionCount === 2, 3000, 'two connections');
    const third = await client();
    await waitUntil(() => third.closed, 3000, 'the third connection closed');
    expect(metrics.get('streamConnectionsRefused')).toBe(1);
    expect(metrics.get('streamConnectionsAccepted')).toBe(2);
    expect(first.closed || second.closed).toBe(false);
    // A slot freed is a slot usable again.
    first.socket.destroy();
    await waitUntil(() => transport.connectionCount === 1, 3000, 'one connection left');
    const fourth = await client();
    await sleep(50);
    expect(fourth.closed).toBe(false);
    await waitUntil(() => transport.connectionCount === 2, 3000, 'the fourth connection held');
  });

  it('sends to an RFC 5923 alias over the connection that registered it', async () => {
    const { transport, metrics, inbound, client } = await transportUnderTest();
    const peer = await client();
    peer.socket.write(request('alias'));
    await waitUntil(() => inbound.length === 1, 3000, 'the request');
    inbound[0]!.registerAlias!('Phone.Example.com', 5070);
    const sent = transport.send(Buffer.from(request('to-alias')), {
      protocol: 'tcp',
      address: 'phone.example.com',
      port: 5070,
    });
    expect(sent).toBe(true);
    await waitUntil(
      () => peer.text() === request('to-alias'),
      3000,
      'the request over the aliased connection',
    );
    expect(transport.connectionCount).toBe(1);
    expect(metrics.get('streamConnectionsOpened')).toBe(0);
  });

  it('reuses a connection whose remote address matches an unbound flow', async () => {
    const { transport, inbound, client } = await transportUnderTest();
    const peer = await client();
    peer.socket.write(request('hello'));
    await waitUntil(() => inbound.length === 1, 3000, 'the request');
    const { connectionId: _, ...unbound } = inbound[0]!.flow as Flow & { connectionId?: string };
    expect(transport.send(Buffer.from(request('back')), unbound as Flow)).toBe(true);
    await waitUntil(() => peer.text() === request('back'), 3000, 'the request at the peer');
    expect(transport.connectionCount).toBe(1);
  });

  it('opens a connection for an unbound flow, queues until connected, and reads responses on it', async () => {
    const { transport, metrics, inbound, closedFlows } = await transportUnderTest();
    const phone = await tcpPeerServer();
    const flow: Flow = { protocol: 'tcp', address: '127.0.0.1', port: phone.port };
    expect(transport.send(Buffer.from(request('first')), flow)).toBe(true);
    expect(transport.send(Buffer.from(request('second')), flow)).toBe(true);
    expect(transport.connectionCount).toBe(1);
    await waitUntil(
      () => phone.sockets[0]?.text() === request('first') + request('second'),
      3000,
      'both requests, in order, over one connection',
    );
    expect(phone.sockets).toHaveLength(1);
    expect(metrics.get('streamConnectionsOpened')).toBe(1);
    // Later sends to the same address reuse it.
    expect(transport.send(Buffer.from(request('third')), flow)).toBe(true);
    await waitUntil(() => phone.sockets[0]!.text().endsWith(request('third')), 3000, 'the third request');
    expect(phone.sockets).toHaveLength(1);
    // What the phone sends back arrives on a flow bound to this connection.
    phone.sockets[0]!.socket.write(request('reply'));
    await waitUntil(() => inbound.length === 1, 3000, 'the message from the phone');
    const bound = inbound[0]!.flow;
    expect(bound).toEqual({
      protocol: 'tcp',
      address: '127.0.0.1',
      port: phone.port,
      connectionId: expect.any(String),
    });
    phone.sockets[0]!.socket.destroy();
    await waitUntil(() => closedFlows.length === 1, 3000, 'onFlowClosed');
    expect(closedFlows[0]).toEqual(bound);
    expect(transport.connectionCount).toBe(0);
  });

  it('reports onSendFailed with the flow as given when the connection cannot be opened', async () => {
    const { transport, metrics, failedFlows, closedFlows } = await transportUnderTest();
    const flow: Flow = { protocol: 'tcp', address: '127.0.0.1', port: await closedPort() };
    expect(transport.send(Buffer.from(request('lost-1')), flow)).toBe(true);
    expect(transport.send(Buffer.from(request('lost-2')), flow)).toBe(true);
    await waitUntil(() => failedFlows.length > 0, 3000, 'onSendFailed');
    await sleep(50);
    // One report per flow, however many messages were queued for it.
    expect(failedFlows).toEqual([flow]);
    expect(closedFlows).toEqual([]);
    expect(metrics.get('streamConnectFailures')).toBe(1);
    expect(transport.connectionCount).toBe(0);
  });

  it('gives up on a connection that does not come up within connectTimeoutMs', async () => {
    // A TCP listener that never speaks TLS: the TLS handshake never completes.
    const silent = await tcpPeerServer();
    const { cert, key } = selfSignedCertificate();
    const { transport, metrics, failedFlows } = await transportUnderTest({
      tls: { cert, key },
      connectTimeoutMs: 200,
    });
    const flow: Flow = { protocol: 'tls', address: '127.0.0.1', port: silent.port };
    const started = Date.now();
    expect(transport.send(Buffer.from(request('never')), flow)).toBe(true);
    await waitUntil(() => failedFlows.length === 1, 3000, 'onSendFailed');
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(failedFlows[0]).toEqual(flow);
    expect(metrics.get('streamConnectFailures')).toBe(1);
  });

  it('opens TLS connections to peers with self-signed certificates unless verifyPeer is set', async () => {
    const { cert, key } = selfSignedCertificate();
    const received: string[] = [];
    const server = createTlsServer({ cert, key }, (socket) => {
      socket.on('data', (chunk: Buffer) => received.push(chunk.toString('latin1')));
      socket.on('error', () => {});
    });
    const port = await listening(server);
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    server.on('tlsClientError', () => {});

    const lenient = await transportUnderTest({ tls: { cert, key } });
    const flow: Flow = { protocol: 'tls', address: '127.0.0.1', port };
    expect(lenient.transport.send(Buffer.from(request('tls')), flow)).toBe(true);
    await waitUntil(() => received.join('') === request('tls'), 3000, 'the request over TLS');
    expect(lenient.failedFlows).toEqual([]);
    await lenient.transport.close();

    const strict = await transportUnderTest({ tls: { cert, key }, verifyPeer: true });
    expect(strict.transport.send(Buffer.from(request('refused')), flow)).toBe(true);
    await waitUntil(() => strict.failedFlows.length === 1, 3000, 'onSendFailed for an unverifiable peer');
    expect(received.join('')).toBe(request('tls'));
  });

  it('closes a connection whose message exceeds maxMessageBytes, and counts it', async () => {
    const { metrics, inbound, closedFlows, client } = await transportUnderTest({ maxMessageBytes: 1024 });
    const peer = await client();
    peer.socket.write(request('small'));
    peer.socket.write(request('large', 'x'.repeat(2000)));
    await waitUntil(() => peer.closed, 3000, 'the connection closed');
    const messages = inbound.filter((data) => !data.framingError);
    expect(messages.map((data) => data.data.toString('latin1'))).toEqual([request('small')]);
    // The large message's head goes up marked, so that the stack can answer it 513 before the close.
    const heads = inbound.filter((data) => data.framingError);
    expect(heads.map((data) => data.framingError?.code)).toEqual(['MessageTooLarge']);
    expect(heads[0]!.data.toString('latin1')).toBe(request('large', 'x'.repeat(2000)).slice(0, -2000));
    expect(metrics.get('streamFramingErrors')).toBe(1);
    await waitUntil(() => closedFlows.length === 1, 3000, 'onFlowClosed');
  });

  it('survives garbage, unframeable input and a throwing handler, and keeps serving', async () => {
    const { transport, metrics, inbound, client } = await transportUnderTest();
    const garbage = await client();
    garbage.socket.write(Buffer.from([0, 1, 2, 0xff, 0xfe, 13, 10, 13, 10]));
    const noLength = await client();
    noLength.socket.write('OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\n\r\n');
    await waitUntil(() => garbage.closed && noLength.closed, 3000, 'both closed');
    expect(metrics.get('streamFramingErrors')).toBe(2);
    // Nothing framed reached the handler; both heads without Content-Length went up marked (the
    // stack answers the OPTIONS 400 and drops the garbage).
    expect(inbound.filter((data) => !data.framingError)).toEqual([]);
    expect(inbound.map((data) => data.framingError?.code)).toEqual([
      'MissingContentLength',
      'MissingContentLength',
    ]);
    inbound.length = 0;

    let throwing = true;
    transport.onData = (data) => {
      if (throwing) {
        throwing = false;
        throw new Error('handler bug');
      }
      inbound.push(data);
    };
    const good = await client();
    good.socket.write(request('thrown'));
    good.socket.write(request('kept'));
    await waitUntil(() => inbound.length === 1, 3000, 'the message after the throw');
    expect(inbound[0]!.data.toString('latin1')).toBe(request('kept'));
    expect(metrics.get('droppedMessages')).toBeGreaterThanOrEqual(1);
    expect(good.closed).toBe(false);
  });

  it('counts a failed TLS handshake', async () => {
    const { cert, key } = selfSignedCertificate();
    const { metrics, client } = await transportUnderTest({ tls: { cert, key } });
    const plain = await client();
    plain.socket.write(request('not-tls'));
    await waitUntil(() => plain.closed, 3000, 'the connection closed');
    await waitUntil(() => metrics.get('tlsHandshakeFailures') === 1, 3000, 'the failure counted');
  });

  it('a TLS client that never starts the handshake is cut at the first-message timeout', async () => {
    const { cert, key } = selfSignedCertificate();
    const { metrics, client } = await transportUnderTest({
      tls: { cert, key },
      firstMessageTimeoutSeconds: 0.3,
    });
    const idle = await client();
    await waitUntil(() => idle.closed, 3000, 'the connection closed');
    expect(metrics.get('streamConnectionsTimedOut')).toBe(1);
  });

  it('closes an idle connection after idleTimeoutSeconds', async () => {
    const { metrics, inbound, closedFlows, client } = await transportUnderTest({ idleTimeoutSeconds: 0.3 });
    const peer = await client();
    peer.socket.write(request('then-silence'));
    await waitUntil(() => inbound.length === 1, 3000, 'the request');
    await sleep(100);
    expect(peer.closed).toBe(false);
    await waitUntil(() => peer.closed, 3000, 'the idle connection closed');
    expect(metrics.get('streamConnectionsTimedOut')).toBe(1);
    await waitUntil(() => closedFlows.length === 1, 3000, 'onFlowClosed');
  });

  it('does not take CR/LF between messages for a stalled message', async () => {
    const { metrics, inbound, client } = await transportUnderTest({ stallTimeoutSeconds: 0.2 });
    const peer = await client();
    peer.socket.write(request('first') + '\r\n');
    await waitUntil(() => inbound.length === 1, 3000, 'the request');
    await sleep(400);
    expect(peer.closed).toBe(false);
    expect(metrics.get('streamConnectionsTimedOut')).toBe(0);
  });

  it('refuses what it cannot send and everything after close()', async () => {
    const { transport, inbound, client } = await transportUnderTest();
    const peer = await client();
    peer.socket.write(request('x'));
    await waitUntil(() => inbound.length === 1, 3000, 'the request');
    const flow = inbound[0]!.flow;
    const data = Buffer.from(request('y'));
    expect(transport.send(data, { protocol: 'udp', address: '127.0.0.1', port: 5060 })).toBe(false);
    expect(transport.send(data, { protocol: 'tls', address: '127.0.0.1', port: 5061 })).toBe(false);
    expect(
      transport.send(data, { protocol: 'tcp', address: '127.0.0.1', port: 5060, connectionId: 'gone' }),
    ).toBe(false);
    expect(transport.send(data, { protocol: 'tcp', address: '127.0.0.1', port: 0 })).toBe(false);
    await transport.close();
    await transport.close();
    await waitUntil(() => peer.closed, 3000, 'the peer disconnected');
    expect(transport.send(data, flow)).toBe(false);
    expect(transport.send(data, { protocol: 'tcp', address: '127.0.0.1', port: 5060 })).toBe(false);
    expect(transport.connectionCount).toBe(0);
  });

  it('closeConnections() drops every connection and keeps listening', async () => {
    const { transport, inbound, closedFlows, client } = await transportUnderTest();
    const first = await client();
    const second = await client();
    await waitUntil(() => transport.connectionCount === 2, 3000, 'two connections');
    await transport.closeConnections();
    expect(closedFlows).toHaveLength(2);
    await waitUntil(() => first.closed && second.closed, 3000, 'both peers disconnected');
    const third = await client();
    third.socket.write(request('after'));
    await waitUntil(() => inbound.length === 1, 3000, 'a request on a new connection');
  });

  it('reaches a TLS transport from a TLS client that skips verification', async () => {
    const { cert, key } = selfSignedCertificate();
    const { transport, inbound } = await transportUnderTest({ tls: { cert, key } });
    const socket = tlsConnect({ host: '127.0.0.1', port: transport.port, rejectUnauthorized: false });
    cleanups.push(() => {
      socket.destroy();
    });
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.once('secureConnect', () => resolve()));
    socket.write(request('secure'));
    await waitUntil(() => inbound.length === 1, 3000, 'the request over TLS');
    expect(inbound[0]!.flow.protocol).toBe('tls');
    expect(transport.send(Buffer.from('\r\n'), inbound[0]!.flow)).toBe(true);
  });
});
