import { randomUUID } from 'node:crypto';
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../../logger.js';
import { silentLogger } from '../../logger.js';
import type { SipMetrics } from '../metrics.js';
import type { Flow, InboundData, Transport } from './types.js';

export interface WsTransportOptions {
  /** The HTTP server whose upgrade requests to `path` become SIP connections. */
  server: HttpServer;
  path?: string;
  /** Host:port to advertise in Via/Contact. */
  sentBy: { host: string; port: number };
  /** Frames larger than this close the connection with 1009 (and are counted). */
  maxMessageBytes?: number;
  /** Seconds between pings; a connection that misses one is closed. */
  pingIntervalSeconds?: number;
  /**
   * A connection that has sent no SIP message this long after the upgrade is closed: it holds a slot
   * and does nothing (a browser phone sends REGISTER at once). Default 30; 0 disables.
   */
  firstMessageTimeoutSeconds?: number;
  /** The HTTP server is HTTPS: Via says `WSS` (RFC 7118 §5). The flow protocol stays 'ws'. */
  secure?: boolean;
  logger?: Logger;
  metrics?: SipMetrics;
}

interface Connection {
  socket: WebSocket;
  flow: Flow & { protocol: 'ws' };
  alive: boolean;
  firstMessageTimer?: NodeJS.Timeout;
}

/**
 * SIP over WebSocket (RFC 7118): subprotocol `sip`, one SIP message per frame (text or binary).
 * Connections are identified by a connectionId so that requests to a contact registered over
 * WebSocket go back over the same connection (RFC 7118 §5).
 */
export class WsTransport implements Transport {
  readonly protocol = 'ws' as const;
  readonly viaTransport: 'WS' | 'WSS';
  onData?: (inbound: InboundData) => void;
  onFlowClosed?: (flow: Flow) => void;
  readonly sentBy: { host: string; port: number };
  private readonly wss: WebSocketServer;
  private readonly connections = new Map<string, Connection>();
  private readonly path: string;
  private readonly logger: Logger;
  private readonly pingTimer: NodeJS.Timeout;
  private readonly upgradeListener: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

  constructor(private readonly opts: WsTransportOptions) {
    this.sentBy = opts.sentBy;
    this.viaTransport = opts.secure ? 'WSS' : 'WS';
    this.path = opts.path ?? '/sip';
    this.logger = opts.logger ?? silentLogger;
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: opts.maxMessageBytes ?? 65_536,
      perMessageDeflate: false,
      handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
    });
    this.upgradeListener = (req, socket, head) => this.handleUpgrade(req, socket, head);
    opts.server.on('upgrade', this.upgradeListener);
    const interval = (opts.pingIntervalSeconds ?? 30) * 1000;
    this.pingTimer = setInterval(() => this.pingAll(), interval);
    this.pingTimer.unref();
  }

  private handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = req.url ?? '';
    const pathname = url.split('?')[0];
    if (pathname !== this.path && pathname !== `${this.path}/`) {
      // Another upgrade handler may own this path; if none does, refuse instead of leaving the
      // client hanging.
      if (this.opts.server.listenerCount('upgrade') <= 1) {
        socket.end(
          'HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nNo WebSocket endpoint here; SIP is at ' +
            this.path +
            '\n',
        );
      }
      return;
    }
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim().toLowerCase());
    if (!offered.includes('sip')) {
      // RFC 7118 §4: the handshake must negotiate "sip"; refuse clearly instead of a silent close.
      this.opts.metrics?.inc('webSocketRejected');
      this.logger.warn({ remote: req.socket.remoteAddress }, 'ws: upgrade without subprotocol "sip" refused');
      socket.end(
        'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nWebSocket subprotocol "sip" required\n',
      );
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req));
  }

  private accept(socket: WebSocket, req: IncomingMessage): void {
    const connectionId = randomUUID();
    const address = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const port = req.socket.remotePort ?? 0;
    const connection: Connection = {
      socket,
      flow: { protocol: 'ws', connectionId, address, port },
      alive: true,
    };
    this.connections.set(connectionId, connection);
    this.opts.metrics?.inc('webSocketConnections');
    this.logger.debug({ connectionId, address, port }, 'ws: connection open');
    const firstMessageMs = (this.opts.firstMessageTimeoutSeconds ?? 30) * 1000;
    if (firstMessageMs > 0) {
      connection.firstMessageTimer = setTimeout(() => {
        this.logger.info({ connectionId, address, port }, 'ws: no message after connecting, closed');
        socket.terminate();
      }, firstMessageMs);
      connection.firstMessageTimer.unref();
    }

    socket.on('message', (data, isBinary) => {
      const buf = Array.isArray(data)
        ? Buffer.concat(data)
        : Buffer.isBuffer(data)
          ? data
          : Buffer.from(data);
      void isBinary; // RFC 7118 allows both text and binary frames for SIP messages.
      clearTimeout(connection.firstMessageTimer);
      try {
        this.onData?.({ data: buf, flow: connection.flow });
      } catch (err) {
        this.opts.metrics?.inc('droppedMessages');
        this.logger.error({ err, connectionId }, 'ws: message handler failed');
      }
    });
    socket.on('pong', () => {
      connection.alive = true;
    });
    socket.on('error', (err) => {
      // ws reports protocol violations (bad frames, oversize payloads) here before closing.
      this.opts.metrics?.inc('badWebSocketFrames');
      this.logger.warn({ err: err.message, connectionId }, 'ws: connection error');
    });
    socket.on('close', () => {
      clearTimeout(connection.firstMessageTimer);
      this.connections.delete(connectionId);
      this.logger.debug({ connectionId }, 'ws: connection closed');
      this.onFlowClosed?.(connection.flow);
    });
  }

  private pingAll(): void {
    for (const connection of this.connections.values()) {
      if (!connection.alive) {
        connection.socket.terminate();
        continue;
      }
      connection.alive = false;
      connection.socket.ping();
    }
  }

  send(data: Buffer, flow: Flow): boolean {
    if (flow.protocol !== 'ws') return false;
    const connection = this.connections.get(flow.connectionId);
    if (!connection || connection.socket.readyState !== connection.socket.OPEN) return false;
    // Text frames: SIP is UTF-8 text and browsers' JsSIP expects string messages.
    connection.socket.send(data.toString('utf8'));
    return true;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  async close(): Promise<void> {
    clearInterval(this.pingTimer);
    this.opts.server.off('upgrade', this.upgradeListener);
    for (const connection of this.connections.values()) connection.socket.close(1001, 'server shutting down');
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    for (const connection of this.connections.values()) connection.socket.terminate();
  }
}
