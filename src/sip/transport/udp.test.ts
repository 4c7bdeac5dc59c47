/** The transport contract over UDP: a datagram socket is the peer. */
import { createSocket } from 'node:dgram';
import { describeTransportContract, type TransportPeer } from './transport.case.js';
import { UdpTransport } from './udp.js';

const MAX_MESSAGE_BYTES = 4096;

/** A datagram socket on loopback sending to `serverPort`. */
async function datagramPeer(serverPort: number): Promise<TransportPeer> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const received: Buffer[] = [];
  socket.on('message', (data) => received.push(data));
  let open = true;
  return {
    sentBy: `127.0.0.1:${socket.address().port}`,
    received,
    send: (data) => socket.send(typeof data === 'string' ? Buffer.from(data) : data, serverPort, '127.0.0.1'),
    close: async () => {
      if (!open) return;
      open = false;
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}

describeTransportContract(
  { name: 'UDP', connectionOriented: false, maxMessageBytes: MAX_MESSAGE_BYTES },
  async (metrics) => {
    const transport = await UdpTransport.listen({
      host: '127.0.0.1',
      port: 0,
      maxMessageBytes: MAX_MESSAGE_BYTES,
      metrics,
    });
    return { transport, connectPeer: () => datagramPeer(transport.port), close: async () => {} };
  },
);
