/**
 * Transport seam (RFC 3261 §18, RFC 7118). Call control and transactions address peers by `Flow`
 * and never know whether a datagram socket, a TCP or TLS connection or a WebSocket carries the bytes.
 */

export type TransportProtocol = 'udp' | 'tcp' | 'tls' | 'ws';

/** Stream transports (RFC 3261 §18: Content-Length frames messages on a byte stream). */
export type StreamProtocol = 'tcp' | 'tls';

/**
 * Where a message came from / where to send one.
 * - udp: an address.
 * - tcp / tls: an address, and the connection when the flow is bound to one (a message arrived on
 *   it, or an RFC 5626 outbound / NAT binding must use it). Without `connectionId` the transport
 *   uses an open connection to address:port (one it opened, or one whose peer announced that
 *   address with the Via `alias` parameter, RFC 5923) or opens a new one.
 * - ws: one WebSocket connection (RFC 7118 §5: requests to a WS contact reuse it); WSS is the same
 *   protocol over HTTPS.
 */
export type Flow =
  | { readonly protocol: 'udp'; readonly address: string; readonly port: number }
  | {
      readonly protocol: StreamProtocol;
      readonly address: string;
      readonly port: number;
      readonly connectionId?: string;
    }
  | {
      readonly protocol: 'ws';
      /** Stable id of the WebSocket connection. */
      readonly connectionId: string;
      readonly address: string;
      readonly port: number;
    };

export function flowKey(flow: Flow): string {
  if (flow.protocol === 'udp') return `udp:${flow.address}:${flow.port}`;
  if (flow.protocol === 'ws') return `ws:${flow.connectionId}`;
  return flow.connectionId
    ? `${flow.protocol}:${flow.connectionId}`
    : `${flow.protocol}:${flow.address}:${flow.port}`;
}

export function isReliable(flow: Flow): boolean {
  return flow.protocol !== 'udp';
}

/** A flow that lives and dies with one connection (WebSocket, or TCP/TLS bound to a connection). */
export function isConnectionBound(flow: Flow): boolean {
  return (
    flow.protocol === 'ws' || ((flow.protocol === 'tcp' || flow.protocol === 'tls') && !!flow.connectionId)
  );
}

export interface InboundData {
  data: Buffer;
  flow: Flow;
  /**
   * Stream transports only: the peer's Via asked for connection reuse (RFC 5923 `alias`) — the
   * stack calls this with the Via's sent-by so that requests to it use this connection.
   */
  registerAlias?: (host: string, port: number) => void;
  /** UDP only: the datagram exceeded the transport's limit; the stack answers a request with 513. */
  oversize?: boolean;
  /**
   * Stream transports: `data` is only the start line and headers of a message whose Content-Length
   * made the stream unframeable (missing, invalid, too large). The stack answers a request with 400
   * or 513 if it can, and never passes it up; the transport then closes the connection.
   */
  framingError?: { code: string; reason: string };
}

export type ViaTransport = 'UDP' | 'TCP' | 'TLS' | 'WS' | 'WSS';

export interface Transport {
  readonly protocol: TransportProtocol;
  /** Address and port as they should appear in a Via sent-by / Contact for this transport. */
  readonly sentBy: { host: string; port: number };
  /** Via transport token. */
  readonly viaTransport: ViaTransport;
  /**
   * Send one whole message. Returns false when it cannot be sent (a closed connection, a closed
   * transport). A stream transport that must open a connection first returns true and queues the
   * message; when the connection fails it calls `onSendFailed`.
   */
  send(data: Buffer, flow: Flow): boolean;
  /** Set by the stack: every received message-sized chunk. Must never throw into the transport. */
  onData?: (inbound: InboundData) => void;
  /** Set by the stack: a connection closed (its registrations and dialogs bound to it are gone). */
  onFlowClosed?: (flow: Flow) => void;
  /** Set by the stack: messages queued for a connection that could not be opened were lost. */
  onSendFailed?: (flow: Flow) => void;
  close(): Promise<void>;
}
