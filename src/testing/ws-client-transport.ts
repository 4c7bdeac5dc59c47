import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import type { Flow, InboundData, Transport } from '../sip/transport/types.js';

/**
 * The client end of SIP over WebSocket (RFC 7118), for test user agents and benchmarks: one
 * connection to the server; every message goes over it.
 */
export class WsClientTransport implements Transport {
  readonly protocol = 'ws' as const;
  readonly viaTransport = 'WS' as const;
  readonly sentBy: { host: string; port: number };
  onData?: (inbound: InboundData) => void;
  onFlowClosed?: (flow: Flow) => void;
  readonly serverFlow: Flow;

  private constructor(private readonly socket: WebSocket) {
    // RFC 7118 §5.2: a client has no reachable address; it uses a random .invalid host.
    this.sentBy = { host: `${randomBytes(5).toString('hex')}.invalid`, port: 0 };
    this.serverFlow = { protocol: 'ws', connectionId: 'server', address: '127.0.0.1', port: 0 };
    socket.on('message', (data) => {
      const buf = Array.isArray(data)
        ? Buffer.concat(data)
        : Buffer.isBuffer(data)
          ? data
          : Buffer.from(data);
      this.onData?.({ data: buf, flow: this.serverFlow });
    });
    socket.on('close', () => this.onFlowClosed?.(this.serverFlow));
  }

  static connect(url: string, protocols: string[] = ['sip']): Promise<WsClientTransport> {
    return new Promise((resolve, reject) => {
      // Tests run WSS against a self-signed certificate: the client does not verify it.
      const socket = new WebSocket(url, protocols, { rejectUnauthorized: false });
      socket.once('open', () => resolve(new WsClientTransport(socket)));
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) =>
        reject(new Error(`WebSocket upgrade refused: HTTP ${res.statusCode}`)),
      );
    });
  }

  send(data: Buffer): boolean {
    if (this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(data.toString('utf8'));
    return true;
  }

  /** Send raw bytes (tests of bad input). */
  sendRaw(data: Buffer | string, binary = false): void {
    this.socket.send(data, { binary });
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}
