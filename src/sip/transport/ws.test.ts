/** The transport contract over WebSocket (RFC 7118): a `ws` client with subprotocol "sip" is the peer. */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { describeTransportContract, type TransportPeer } from './transport.case.js';
import { WsTransport } from './ws.js';

const MAX_MESSAGE_BYTES = 4096;

/** A WebSocket client of `url`, as a browser phone connects (RFC 7118 §5.2: a `.invalid` host). */
async function webSocketPeer(url: string): Promise<TransportPeer> {
  const socket = new WebSocket(url, ['sip']);
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

describeTransportContract(
  { name: 'WebSocket', connectionOriented: true, maxMessageBytes: MAX_MESSAGE_BYTES },
  async (metrics) => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const transport = new WsTransport({
      server,
      path: '/sip',
      sentBy: { host: '127.0.0.1', port },
      maxMessageBytes: MAX_MESSAGE_BYTES,
      metrics,
    });
    return {
      transport,
      connectPeer: () => webSocketPeer(`ws://127.0.0.1:${port}/sip`),
      close: async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  },
);
