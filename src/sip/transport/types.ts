/**
 * Transport seam (RFC 3261 §18, RFC 7118). Call control and transactions address peers by `Flow`
 * and never know whether a datagram socket or a WebSocket connection carries the bytes.
 */

export type TransportProtocol = 'udp' | 'ws';

/** Where a message came from / where to send one: a UDP address or one WebSocket connection. */
export type Flow =
  | { readonly protocol: 'udp'; readonly address: string; readonly port: number }
  | {
      readonly protocol: 'ws';
      /** Stable id of the WebSocket connection (RFC 7118 §5: requests to a WS contact reuse it). */
      readonly connectionId: string;
      readonly address: string;
      readonly port: number;
    };

export function flowKey(flow: Flow): string {
  return flow.protocol === 'udp' ? `udp:${flow.address}:${flow.port}` : `ws:${flow.connectionId}`;
}

export function isReliable(flow: Flow): boolean {
  return flow.protocol !== 'udp';
}

export interface InboundData {
  data: Buffer;
  flow: Flow;
}

export interface Transport {
  readonly protocol: TransportProtocol;
  /** Address and port as they should appear in a Via sent-by / Contact for this transport. */
  readonly sentBy: { host: string; port: number };
  /** Via transport token: UDP or WS. */
  readonly viaTransport: 'UDP' | 'WS';
  /** Send one whole message. Returns false when the flow is gone (closed connection). */
  send(data: Buffer, flow: Flow): boolean;
  /** Set by the stack: every received message-sized chunk. Must never throw into the transport. */
  onData?: (inbound: InboundData) => void;
  /** Set by the stack: a WS connection closed (its registrations and dialogs are gone with it). */
  onFlowClosed?: (flow: Flow) => void;
  close(): Promise<void>;
}
