import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import type { Logger } from '../../logger.js';
import { silentLogger } from '../../logger.js';
import type { SipMetrics } from '../metrics.js';
import type { Flow, InboundData, Transport } from './types.js';

export interface UdpTransportOptions {
  host: string;
  port: number;
  /** Host to advertise in Via/Contact; defaults to the bound address. */
  advertisedHost?: string;
  /**
   * Datagrams larger than this are counted and handed up marked `oversize`, for the stack to answer a
   * request with 513 (RFC 3261 §21.5.14) and drop anything else. A SIP message over UDP should stay small.
   */
  maxMessageBytes?: number;
  logger?: Logger;
  metrics?: SipMetrics;
}

/** SIP over UDP (RFC 3261 §18): one message per datagram. */
export class UdpTransport implements Transport {
  readonly protocol = 'udp' as const;
  readonly viaTransport = 'UDP' as const;
  onData?: (inbound: InboundData) => void;
  onFlowClosed?: (flow: Flow) => void;
  private readonly socket: Socket;
  private boundPort = 0;
  private closed = false;
  private readonly maxMessageBytes: number;
  private readonly logger: Logger;

  private constructor(
    private readonly opts: UdpTransportOptions,
    socket: Socket,
  ) {
    this.socket = socket;
    // RFC 3261 §18.1.1 keeps UDP requests near the path MTU; 32 KiB leaves room for big SDP.
    this.maxMessageBytes = opts.maxMessageBytes ?? 32_768;
    this.logger = opts.logger ?? silentLogger;
  }

  static async listen(opts: UdpTransportOptions): Promise<UdpTransport> {
    const family = isIP(opts.host) === 6 ? 'udp6' : 'udp4';
    const socket = createSocket({ type: family, reuseAddr: false });
    const transport = new UdpTransport(opts, socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(opts.port, opts.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    transport.boundPort = socket.address().port;
    // Large buffers absorb bursts under load instead of dropping datagrams in the kernel.
    try {
      socket.setRecvBufferSize(4 * 1024 * 1024);
      socket.setSendBufferSize(4 * 1024 * 1024);
    } catch {
      // Not fatal: the kernel may cap buffer sizes.
    }
    socket.on('message', (data, rinfo) => transport.receive(data, rinfo.address, rinfo.port));
    socket.on('error', (err) => transport.logger.warn({ err }, 'udp socket error'));
    return transport;
  }

  get sentBy(): { host: string; port: number } {
    return { host: this.opts.advertisedHost ?? this.opts.host, port: this.boundPort };
  }

  get port(): number {
    return this.boundPort;
  }

  private receive(data: Buffer, address: string, port: number): void {
    const oversize = data.length > this.maxMessageBytes;
    if (oversize) {
      this.opts.metrics?.inc('oversizeMessages');
      this.logger.warn({ address, port, bytes: data.length }, 'udp: oversize datagram');
    }
    try {
      this.onData?.({ data, flow: { protocol: 'udp', address, port }, ...(oversize ? { oversize } : {}) });
    } catch (err) {
      // The stack must never throw into the transport; if it does, keep the socket alive.
      this.opts.metrics?.inc('droppedMessages');
      this.logger.error({ err, address, port }, 'udp: message handler failed');
    }
  }

  send(data: Buffer, flow: Flow): boolean {
    if (flow.protocol !== 'udp' || this.closed) return false;
    // dgram throws synchronously for port 0 (a Via may name it) and on a closed socket; a throw from
    // a retransmission timer would take the process down, so every refusal is a `false` instead.
    if (!Number.isInteger(flow.port) || flow.port < 1 || flow.port > 65_535) return false;
    try {
      this.socket.send(data, flow.port, flow.address, (err) => {
        if (err) this.logger.warn({ err, address: flow.address, port: flow.port }, 'udp send failed');
      });
    } catch (err) {
      this.logger.warn({ err, address: flow.address, port: flow.port }, 'udp send refused');
      return false;
    }
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
