/** The transport contract over TCP (RFC 3261 §18): a plain `net` connection is the peer. */
import { connect } from 'node:net';
import { StreamTransport } from './stream.js';
import { describeTransportContract, streamSocketPeer, type TransportPeer } from './transport.case.js';

const MAX_MESSAGE_BYTES = 4096;

async function tcpPeer(serverPort: number): Promise<TransportPeer> {
  const socket = connect({ host: '127.0.0.1', port: serverPort });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return streamSocketPeer(socket);
}

describeTransportContract(
  { name: 'TCP', connectionOriented: true, stream: true, maxMessageBytes: MAX_MESSAGE_BYTES },
  async (metrics, limits) => {
    const transport = await StreamTransport.listen({
      host: '127.0.0.1',
      port: 0,
      maxMessageBytes: MAX_MESSAGE_BYTES,
      metrics,
      ...limits,
    });
    return { transport, connectPeer: () => tcpPeer(transport.port), close: async () => {} };
  },
);
