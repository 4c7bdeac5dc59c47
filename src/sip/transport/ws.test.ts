/**
 * The transport contract over WebSocket (RFC 7118): a `ws` client with subprotocol "sip" is the
 * peer, over plain HTTP (WS) and over HTTPS with a self-signed certificate (WSS).
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, createConnection } from 'node:net';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';
import WebSocket from 'ws';
import { selfSignedCertificate } from '../../testing/tls-cert.js';
import { describeTransportContract, type TransportPeer } from './transport.case.js';
import { WsTransport } from './ws.js';

const MAX_MESSAGE_BYTES = 4096;

/**
 * WSS: the last TLS session a client was given; later clients resume it, as a browser does, so that
 * a thousand connections do not cost a thousand full handshakes.
 */
let resumable: Buffer | undefined;

function resumingTlsConnect(options: ConnectionOptions): TLSSocket {
  const socket = tlsConnect({ ...options, ...(resumable ? { session: resumable } : {}) });
  socket.on('session', (session: Buffer) => {
    resumable = session;
  });
  return socket;
}

/** A WebSocket client of `url`, as a browser phone connects (RFC 7118 §5.2: a `.invalid` host). */
async function webSocketPeer(url: string): Promise<TransportPeer> {
  // WSS: the test certificate is self-signed, so the client does not verify it.
  const socket = new WebSocket(url, ['sip'], {
    rejectUnauthorized: false,
    // ws calls it with TLS options for a wss: URL; its type names net's overloads only.
    ...(url.startsWith('wss:')
      ? { createConnection: resumingTlsConnect as unknown as typeof createConnection }
      : {}),
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  // Oversize frames make the server close the connection; the client just sees the close.
  socket.on('error', () => {});
  const received: Buffer[] = [];
  socket.on('message', (data) => received.push(Buffer.isBuffer(data) ? data : Buffer.from(String(data))));
  return {
    sentBy: `${randomBytes(5).toString('hex')}.invalid`,
    received,
    get closed() {
      return socket.readyState === WebSocket.CLOSED;
    },
    send: (data) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(data);
    },
    close: async () => {
      if (socket.readyState === WebSocket.CLOSED) return;
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.close();
      });
    },
  };
}

for (const secure of [false, true]) {
  describeTransportContract(
    {
      name: secure ? 'WebSocket (WSS)' : 'WebSocket',
      connectionOriented: true,
      maxMessageBytes: MAX_MESSAGE_BYTES,
    },
    async (metrics, limits) => {
      let server: Server;
      if (secure) {
        const { cert, key } = selfSignedCertificate();
        server = createHttpsServer({ cert, key });
      } else {
        server = createHttpServer();
      }
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      const transport = new WsTransport({
        server,
        path: '/sip',
        sentBy: { host: '127.0.0.1', port },
        maxMessageBytes: MAX_MESSAGE_BYTES,
        secure,
        firstMessageTimeoutSeconds: limits?.firstMessageTimeoutSeconds,
        metrics,
      });
      return {
        transport,
        connectPeer: () => webSocketPeer(`${secure ? 'wss' : 'ws'}://127.0.0.1:${port}/sip`),
        close: async () => {
          server.closeAllConnections();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        },
      };
    },
  );
}
