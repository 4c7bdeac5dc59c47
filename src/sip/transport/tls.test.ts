/**
 * The transport contract over TLS (RFC 3261 §18, §26.2): a `tls` connection that does not verify
 * the server's self-signed certificate is the peer.
 */
import { connect } from 'node:tls';
import { selfSignedCertificate } from '../../testing/tls-cert.js';
import { StreamTransport } from './stream.js';
import { describeTransportContract, streamSocketPeer, type TransportPeer } from './transport.case.js';

const MAX_MESSAGE_BYTES = 4096;

/**
 * The last TLS session a peer was given: later peers resume it, as a phone reconnecting would, so
 * that a thousand handshakes do not cost a thousand RSA signatures.
 */
let resumable: Buffer | undefined;

async function tlsPeer(serverPort: number): Promise<TransportPeer> {
  const socket = connect({
    host: '127.0.0.1',
    port: serverPort,
    rejectUnauthorized: false,
    ...(resumable ? { session: resumable } : {}),
  });
  socket.on('session', (session: Buffer) => {
    resumable = session;
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => resolve());
    socket.once('error', reject);
  });
  return streamSocketPeer(socket);
}

describeTransportContract(
  { name: 'TLS', connectionOriented: true, stream: true, maxMessageBytes: MAX_MESSAGE_BYTES },
  async (metrics, limits) => {
    const { cert, key } = selfSignedCertificate();
    const transport = await StreamTransport.listen({
      host: '127.0.0.1',
      port: 0,
      tls: { cert, key },
      maxMessageBytes: MAX_MESSAGE_BYTES,
      metrics,
      ...limits,
    });
    return { transport, connectPeer: () => tlsPeer(transport.port), close: async () => {} };
  },
);
