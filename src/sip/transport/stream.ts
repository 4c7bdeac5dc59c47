import { randomUUID } from 'node:crypto';
import {
  createServer as createNetServer,
  isIP,
  connect as netConnect,
  type Server,
  type Socket,
} from 'node:net';
import { createServer as createTlsServer, type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { Logger } from '../../logger.js';
import { silentLogger } from '../../logger.js';
import type { SipMetrics } from '../metrics.js';
import { SipStreamFramer } from '../parser.js';
import { type Flow, flowKey, type InboundData, type StreamProtocol, type Transport } from './types.js';

export interface StreamTransportOptions {
  host: string;
  /** 0 picks an ephemeral port (see `.port`). */
  port: number;
  /** Host to advertise in Via/Contact; defaults to the bound address. */
  advertisedHost?: string;
  /** Certificate and key (PEM): given, the transport is SIP over TLS ('tls', Via `TLS`); else TCP. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /**
   * Verify the certificate of peers we connect to (TLS only). Off by default: SIP servers, PBXs and
   * phones very often present self-signed or private-CA certificates, and refusing them would make
   * requests to registered TLS contacts fail; the connection is still encrypted.
   */
  verifyPeer?: boolean;
  /** Inbound connections held at once; more are closed at once and counted. Default 2048. */
  maxConnections?: number;
  /** Largest message (headers and body); it is also what one connection may buffer. Default 65536. */
  maxMessageBytes?: number;
  /** Largest start line plus headers (default: the parser's, 16384). */
  maxHeaderBytes?: number;
  /** A connection without a byte either way for this long is closed. Default 900; 0 disables. */
  idleTimeoutSeconds?: number;
  /**
   * An accepted connection that has delivered neither a whole message nor a keep-alive ping by then
   * is closed (it only holds a slot). For TLS this also bounds the handshake. Default 30; 0 disables.
   */
  firstMessageTimeoutSeconds?: number;
  /** A message begun but not completed within this is closed (slow senders hold buffers). Default 20. */
  stallTimeoutSeconds?: number;
  /** Connections we open: give up (and report `onSendFailed`) after this. Default 4000. */
  connectTimeoutMs?: number;
  /** TCP keep-alive probes after this many idle seconds; 0 or absent leaves them off. */
  tcpKeepAliveSeconds?: number;
  logger?: Logger;
  metrics?: SipMetrics;
}

type StreamFlow = Extract<Flow, { protocol: StreamProtocol }>;

interface Connection {
  readonly connectionId: string;
  readonly socket: Socket;
  readonly inbound: boolean;
  /** The flow this connection's messages arrive with and that `onFlowClosed` reports. */
  flow: StreamFlow & { connectionId: string };
  readonly framer: SipStreamFramer;
  state: 'connecting' | 'open' | 'closed';
  /** Index keys (remote address, aliases, the address we dialled) that lead to this connection. */
  readonly keys: Set<string>;
  aliasCount: number;
  /** Whether the framer holds nothing but CR/LF (between messages, not a stalled message). */
  pendingIsLineEnds: boolean;
  /** While connecting (ours): what to write once connected, and the flows it was sent to. */
  queue: Buffer[];
  queuedBytes: number;
  readonly queuedFlows: Map<string, Flow>;
  firstMessageTimer?: NodeJS.Timeout;
  stallTimer?: NodeJS.Timeout;
  connectTimer?: NodeJS.Timeout;
  lingerTimer?: NodeJS.Timeout;
  readonly registerAlias: (host: string, port: number) => void;
}

/** RFC 5923 aliases one connection may claim: a phone has one sent-by, a proxy a few. */
const MAX_ALIASES_PER_CONNECTION = 4;
/** How long a connection closed for bad framing may take to flush what was already written to it. */
const LINGER_MS = 1000;

/** Lookup order for a flow without a connection: the peer itself, then RFC 5923 aliases, then ours. */
const KEY_KINDS = ['remote', 'alias', 'dialled'] as const;
type KeyKind = (typeof KEY_KINDS)[number];

function addressKey(kind: KeyKind, address: string, port: number): string {
  return `${kind} ${normalizeHost(address)} ${port}`;
}

/** Hosts compare without IPv6 brackets, case or the IPv4-mapped prefix of a dual-stack socket. */
function normalizeHost(host: string): string {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return bare.toLowerCase().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
}

function isValidPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65_535;
}

function allLineEnds(data: Buffer, from: number): boolean {
  for (let i = from; i < data.length; i++) if (data[i] !== 13 && data[i] !== 10) return false;
  return true;
}

/**
 * SIP over TCP or TLS (RFC 3261 §18): Content-Length frames messages on a byte stream. Every
 * connection, accepted or opened by us, has a connectionId; messages arrive with a flow bound to it
 * so that responses (and requests to a contact registered over it) go back over the same
 * connection. A flow without a connectionId is sent over an open connection to its address, one a
 * peer offered for it (RFC 5923 alias), or a new one.
 *
 * Connections cost a file descriptor and a buffer each, so every way of holding one without doing
 * SIP is bounded: a cap on inbound connections, a deadline for the first message, for completing a
 * begun message, and for idleness.
 */
export class StreamTransport implements Transport {
  readonly protocol: StreamProtocol;
  readonly viaTransport: 'TCP' | 'TLS';
  onData?: (inbound: InboundData) => void;
  onFlowClosed?: (flow: Flow) => void;
  onSendFailed?: (flow: Flow) => void;
  private readonly server: Server;
  private boundPort = 0;
  private closing: Promise<void> | undefined;
  private readonly connections = new Map<string, Connection>();
  private readonly index = new Map<string, Set<Connection>>();
  /** Every socket the server accepted (TLS: also those still in the handshake), for close(). */
  private readonly acceptedSockets = new Set<Socket>();
  private readonly logger: Logger;
  private readonly maxMessageBytes: number;
  private readonly idleMs: number;
  private readonly firstMessageMs: number;
  private readonly stallMs: number;
  private readonly connectTimeoutMs: number;
  /** Unwritten bytes one connection may hold (a peer that does not read) before it is dropped. */
  private readonly writeBufferLimit: number;

  private constructor(private readonly opts: StreamTransportOptions) {
    this.protocol = opts.tls ? 'tls' : 'tcp';
    this.viaTransport = opts.tls ? 'TLS' : 'TCP';
    this.logger = opts.logger ?? silentLogger;
    this.maxMessageBytes = opts.maxMessageBytes ?? 65_536;
    this.idleMs = (opts.idleTimeoutSeconds ?? 900) * 1000;
    this.firstMessageMs = (opts.firstMessageTimeoutSeconds ?? 30) * 1000;
    this.stallMs = (opts.stallTimeoutSeconds ?? 20) * 1000;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 4000;
    this.writeBufferLimit = Math.max(1024 * 1024, 16 * this.maxMessageBytes);
    if (opts.tls) {
      this.server = createTlsServer(
        {
          cert: opts.tls.cert,
          key: opts.tls.key,
          // A client that connects and never finishes the handshake is held no longer than one
          // that never sends a message (Node's default is 120 s).
          ...(this.firstMessageMs > 0 ? { handshakeTimeout: this.firstMessageMs } : {}),
        },
        (socket) => this.accept(socket),
      );
      this.server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
        this.opts.metrics?.inc('tlsHandshakeFailures');
        if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') this.opts.metrics?.inc('streamConnectionsTimedOut');
        this.logger.warn(
          { err: err.message, address: socket.remoteAddress, port: socket.remotePort },
          'tls: handshake failed',
        );
        socket.destroy();
      });
    } else {
      this.server = createNetServer((socket) => this.accept(socket));
    }
    // Node refuses connections over the cap before they reach any listener and reports them here.
    this.server.maxConnections = opts.maxConnections ?? 2048;
    this.server.on('drop', (dropped?: { remoteAddress?: string; remotePort?: number }) => {
      this.opts.metrics?.inc('streamConnectionsRefused');
      this.logger.warn(
        { address: dropped?.remoteAddress, port: dropped?.remotePort, max: this.server.maxConnections },
        `${this.protocol}: connection refused: too many connections`,
      );
    });
    this.server.on('connection', (socket: Socket) => {
      this.acceptedSockets.add(socket);
      socket.once('close', () => this.acceptedSockets.delete(socket));
      // A TLS server wraps this socket; errors of the raw socket must not go unhandled either.
      socket.on('error', (err) => this.logger.debug({ err: err.message }, `${this.protocol}: socket error`));
    });
  }

  static async listen(opts: StreamTransportOptions): Promise<StreamTransport> {
    const transport = new StreamTransport(opts);
    const server = transport.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => transport.logger.error({ err }, `${transport.protocol}: server error`));
    const address = server.address();
    transport.boundPort = typeof address === 'object' && address ? address.port : opts.port;
    return transport;
  }

  get sentBy(): { host: string; port: number } {
    return { host: this.opts.advertisedHost ?? this.opts.host, port: this.boundPort };
  }

  get port(): number {
    return this.boundPort;
  }

  /** Connections held: accepted ones past the TLS handshake, and ours, connecting or open. */
  get connectionCount(): number {
    return this.connections.size;
  }

  // ---- connections -----------------------------------------------------------------------------

  private accept(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const address = normalizeHost(socket.remoteAddress ?? '');
    const port = socket.remotePort ?? 0;
    const connection = this.track(socket, true, address, port);
    connection.state = 'open';
    this.addKey(connection, addressKey('remote', address, port));
    this.opts.metrics?.inc('streamConnectionsAccepted');
    this.logger.debug({ connectionId: connection.connectionId, address, port }, `${this.protocol}: accepted`);
    this.configure(connection);
    if (this.firstMessageMs > 0) {
      connection.firstMessageTimer = setTimeout(
        () => this.timedOut(connection, 'no message after connecting'),
        this.firstMessageMs,
      );
      connection.firstMessageTimer.unref();
    }
  }

  /** Opens a connection to `flow`'s address with `data` queued on it. */
  private open(flow: StreamFlow, data: Buffer): boolean {
    const host = normalizeHost(flow.address);
    const socket = this.opts.tls
      ? tlsConnect({
          host,
          port: flow.port,
          rejectUnauthorized: this.opts.verifyPeer ?? false,
          // SNI takes a host name only.
          ...(isIP(host) ? {} : { servername: host }),
        })
      : netConnect({ host, port: flow.port });
    const connection = this.track(socket, false, host, flow.port);
    this.addKey(connection, addressKey('dialled', host, flow.port));
    this.enqueue(connection, data, flow);
    connection.connectTimer = setTimeout(() => {
      this.logger.warn(
        { address: host, port: flow.port, timeoutMs: this.connectTimeoutMs },
        `${this.protocol}: connect timed out`,
      );
      socket.destroy();
    }, this.connectTimeoutMs);
    connection.connectTimer.unref();
    socket.once(this.opts.tls ? 'secureConnect' : 'connect', () => this.connected(connection));
    return true;
  }

  private connected(connection: Connection): void {
    clearTimeout(connection.connectTimer);
    if (connection.state !== 'connecting') return;
    const { socket } = connection;
    connection.state = 'open';
    const address = normalizeHost(socket.remoteAddress ?? connection.flow.address);
    const port = socket.remotePort ?? connection.flow.port;
    connection.flow = { protocol: this.protocol, address, port, connectionId: connection.connectionId };
    this.addKey(connection, addressKey('remote', address, port));
    this.opts.metrics?.inc('streamConnectionsOpened');
    this.logger.debug(
      { connectionId: connection.connectionId, address, port },
      `${this.protocol}: connected`,
    );
    this.configure(connection);
    for (const data of connection.queue) socket.write(data);
    connection.queue = [];
    connection.queuedBytes = 0;
    connection.queuedFlows.clear();
  }

  /** The state and handlers every connection has, whichever side opened it. */
  private track(socket: Socket, inbound: boolean, address: string, port: number): Connection {
    const connectionId = randomUUID();
    const connection: Connection = {
      connectionId,
      socket,
      inbound,
      flow: { protocol: this.protocol, address, port, connectionId },
      framer: new SipStreamFramer({
        maxMessageBytes: this.maxMessageBytes,
        maxHeaderBytes: this.opts.maxHeaderBytes,
        onKeepAlive: () => this.keepAlive(connection),
      }),
      state: 'connecting',
      keys: new Set(),
      aliasCount: 0,
      pendingIsLineEnds: true,
      queue: [],
      queuedBytes: 0,
      queuedFlows: new Map(),
      registerAlias: (host, aliasPort) => this.registerAlias(connection, host, aliasPort),
    };
    this.connections.set(connectionId, connection);
    socket.on('data', (chunk: Buffer) => this.receive(connection, chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.logger.debug(
        { err: err.message, code: err.code, connectionId, address: connection.flow.address },
        `${this.protocol}: connection error`,
      );
    });
    socket.on('close', () => this.closed(connection));
    return connection;
  }

  private configure(connection: Connection): void {
    const { socket } = connection;
    // SIP messages are written whole; Nagle would only delay them.
    socket.setNoDelay(true);
    const keepAliveSeconds = this.opts.tcpKeepAliveSeconds ?? 0;
    if (keepAliveSeconds > 0) socket.setKeepAlive(true, keepAliveSeconds * 1000);
    if (this.idleMs > 0) {
      socket.setTimeout(this.idleMs);
      socket.on('timeout', () => this.timedOut(connection, 'idle'));
    }
  }

  private closed(connection: Connection): void {
    if (connection.state === 'closed') return;
    const wasOpen = connection.state === 'open';
    connection.state = 'closed';
    clearTimeout(connection.firstMessageTimer);
    clearTimeout(connection.stallTimer);
    clearTimeout(connection.connectTimer);
    clearTimeout(connection.lingerTimer);
    this.connections.delete(connection.connectionId);
    for (const key of connection.keys) {
      const set = this.index.get(key);
      set?.delete(connection);
      if (set?.size === 0) this.index.delete(key);
    }
    connection.keys.clear();
    const { connectionId, flow } = connection;
    if (!wasOpen) {
      // A connection of ours that never came up: what was queued on it is lost.
      const flows = [...connection.queuedFlows.values()];
      connection.queue = [];
      connection.queuedFlows.clear();
      if (this.closing) return;
      this.opts.metrics?.inc('streamConnectFailures');
      this.logger.warn(
        { address: flow.address, port: flow.port, messages: flows.length },
        `${this.protocol}: connect failed`,
      );
      for (const failed of flows) this.safely('onSendFailed', () => this.onSendFailed?.(failed));
      return;
    }
    this.logger.debug({ connectionId, address: flow.address, port: flow.port }, `${this.protocol}: closed`);
    this.safely('onFlowClosed', () => this.onFlowClosed?.(flow));
  }

  private timedOut(connection: Connection, why: string): void {
    if (connection.state === 'closed') return;
    this.opts.metrics?.inc('streamConnectionsTimedOut');
    this.logger.info(
      {
        connectionId: connection.connectionId,
        address: connection.flow.address,
        port: connection.flow.port,
        why,
      },
      `${this.protocol}: connection timed out`,
    );
    connection.socket.destroy();
  }

  private addKey(connection: Connection, key: string): void {
    let set = this.index.get(key);
    if (!set) {
      set = new Set();
      this.index.set(key, set);
    }
    set.add(connection);
    connection.keys.add(key);
  }

  /** The connection that `address:port` leads to, if any (newest first within a kind). */
  private find(address: string, port: number): Connection | undefined {
    for (const kind of KEY_KINDS) {
      const set = this.index.get(addressKey(kind, address, port));
      if (!set) continue;
      let newest: Connection | undefined;
      // A connection ending after a framing error is no longer writable; it is not reused.
      for (const connection of set)
        if (connection.state !== 'closed' && connection.socket.writable) newest = connection;
      if (newest) return newest;
    }
    return undefined;
  }

  private registerAlias(connection: Connection, host: string, port: number): void {
    if (connection.state !== 'open' || !host || !isValidPort(port)) return;
    const key = addressKey('alias', host, port);
    if (connection.keys.has(key)) return;
    if (connection.aliasCount >= MAX_ALIASES_PER_CONNECTION) {
      this.logger.debug(
        { connectionId: connection.connectionId, host, port },
        'stream: alias ignored (limit)',
      );
      return;
    }
    connection.aliasCount++;
    this.addKey(connection, key);
  }

  // ---- inbound ---------------------------------------------------------------------------------

  private receive(connection: Connection, chunk: Buffer): void {
    if (connection.state !== 'open') return;
    const messages = connection.framer.push(chunk);
    for (const data of messages) {
      if (connection.state !== 'open') return;
      this.deliver(connection, data);
    }
    if (connection.framer.error) {
      this.framingFailed(connection);
      return;
    }
    // Stall clock: from the first byte of a message not yet complete. CR/LF between messages is
    // not a message (a lone CRLF waits in the framer for a possible second one).
    const pending = connection.framer.pendingBytes;
    connection.pendingIsLineEnds =
      pending === 0 ||
      (pending <= chunk.length
        ? allLineEnds(chunk, chunk.length - pending)
        : connection.pendingIsLineEnds && allLineEnds(chunk, 0));
    if (messages.length > 0 || connection.pendingIsLineEnds) {
      clearTimeout(connection.stallTimer);
      connection.stallTimer = undefined;
    }
    if (!connection.pendingIsLineEnds && !connection.stallTimer && this.stallMs > 0) {
      connection.stallTimer = setTimeout(() => this.timedOut(connection, 'message stalled'), this.stallMs);
      connection.stallTimer.unref();
    }
  }

  private deliver(connection: Connection, data: Buffer): void {
    clearTimeout(connection.firstMessageTimer);
    try {
      this.onData?.({ data, flow: connection.flow, registerAlias: connection.registerAlias });
    } catch (err) {
      // The stack must never throw into the transport; if it does, keep the connection.
      this.opts.metrics?.inc('droppedMessages');
      this.logger.error(
        { err, connectionId: connection.connectionId },
        `${this.protocol}: message handler failed`,
      );
    }
  }

  /** RFC 5626 §3.5.1: a CRLFCRLF ping is answered with a CRLF pong. */
  private keepAlive(connection: Connection): void {
    clearTimeout(connection.firstMessageTimer);
    this.opts.metrics?.inc('keepAlives');
    if (connection.socket.writable) connection.socket.write('\r\n');
  }

  /**
   * The stream cannot be framed any more (no or bad Content-Length, too large): nothing after this
   * point can be trusted to start a message, so the connection ends. What was written before is
   * flushed; a peer that does not close its side is cut after LINGER_MS.
   */
  private framingFailed(connection: Connection): void {
    const error = connection.framer.error!;
    this.opts.metrics?.inc('streamFramingErrors');
    this.opts.metrics?.inc('droppedMessages');
    this.logger.warn(
      {
        connectionId: connection.connectionId,
        address: connection.flow.address,
        port: connection.flow.port,
        code: error.code,
        reason: error.reason,
      },
      `${this.protocol}: framing error, connection closed`,
    );
    clearTimeout(connection.stallTimer);
    clearTimeout(connection.firstMessageTimer);
    // The head of the message that stopped the stream still names its transaction: the stack
    // answers it (400, 513) on this connection before it closes (RFC 4475 §3.1.2.3).
    const head = connection.framer.failedHead;
    if (head) {
      this.safely('framing error answer', () =>
        this.onData?.({
          data: head,
          flow: connection.flow,
          framingError: { code: error.code, reason: error.reason },
        }),
      );
    }
    connection.socket.end();
    connection.lingerTimer = setTimeout(() => connection.socket.destroy(), LINGER_MS);
    connection.lingerTimer.unref();
  }

  // ---- outbound --------------------------------------------------------------------------------

  send(data: Buffer, flow: Flow): boolean {
    if (this.closing || flow.protocol !== this.protocol) return false;
    if (flow.connectionId) {
      const connection = this.connections.get(flow.connectionId);
      return connection ? this.write(connection, data, flow) : false;
    }
    if (!flow.address || !isValidPort(flow.port)) return false;
    const existing = this.find(flow.address, flow.port);
    if (existing) return this.write(existing, data, flow);
    return this.open(flow, data);
  }

  private write(connection: Connection, data: Buffer, flow: StreamFlow): boolean {
    if (connection.state === 'connecting') return this.enqueue(connection, data, flow);
    const { socket } = connection;
    if (connection.state !== 'open' || !socket.writable) return false;
    if (socket.writableLength > this.writeBufferLimit) {
      // The peer does not read; holding ever more for it would only grow memory.
      this.logger.warn(
        { connectionId: connection.connectionId, buffered: socket.writableLength },
        `${this.protocol}: peer not reading, connection closed`,
      );
      socket.destroy();
      return false;
    }
    socket.write(data);
    return true;
  }

  private enqueue(connection: Connection, data: Buffer, flow: StreamFlow): boolean {
    if (connection.queuedBytes + data.length > this.writeBufferLimit) return false;
    connection.queue.push(data);
    connection.queuedBytes += data.length;
    // One report per flow when the connection fails, however many messages were queued for it.
    connection.queuedFlows.set(flowKey(flow), flow);
    return true;
  }

  private safely(what: string, callback: () => void): void {
    try {
      callback();
    } catch (err) {
      this.logger.error({ err }, `${this.protocol}: ${what} handler failed`);
    }
  }

  // ---- shutdown --------------------------------------------------------------------------------

  /**
   * Drops every connection but keeps listening (a phone whose network or TCP stack restarted).
   * Resolves once each one is closed and reported.
   */
  async closeConnections(): Promise<void> {
    const connections = [...this.connections.values()];
    await Promise.all(
      connections.map(
        (connection) =>
          new Promise<void>((resolve) => {
            connection.socket.once('close', () => resolve());
            connection.socket.destroy();
          }),
      ),
    );
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.closing = new Promise<void>((resolve) => {
        this.server.close(() => resolve());
        for (const connection of [...this.connections.values()]) connection.socket.destroy();
        for (const socket of this.acceptedSockets) socket.destroy();
      });
    }
    return this.closing;
  }
}
