/**
 * WebSocket clients reachable from every node. A browser's WebSocket ends at one node, and only
 * that node can write to it; so that node publishes the browser's registration with itself as
 * the way in — a Path (RFC 3327) naming its own SIP address with the parameter `sb-relay` set to
 * the connection's id — and relays what crosses it, as a small transaction-stateful proxy
 * (RFC 3261 §16):
 *
 *   node-b (the call) ──UDP──▶ node-a ──WebSocket──▶ browser
 *     INVITE  Route: <sip:node-a;lr;sb-relay=CONN>   +Record-Route: <sip:node-a;lr;sb-relay=CONN>
 *
 * The Record-Route keeps the dialog's later requests (ACK, BYE, re-INVITE, OPTIONS probes) on the
 * same path both ways. Only two kinds of hop are relayed, so the node is no open relay: from a
 * cluster peer to one of this node's WebSocket connections, and from that connection to a peer.
 */
import type { Logger } from '../logger.js';
import { parseNameAddr } from '../sip/headers.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import type { Binding, LocationService } from '../sip/registrar.js';
import { serializeMessage } from '../sip/serializer.js';
import type { SipStack } from '../sip/stack.js';
import type { InviteServerTransaction, ServerTransaction } from '../sip/transaction/index.js';
import type { Flow } from '../sip/transport/types.js';
import { parseUri } from '../sip/uri.js';

export const RELAY_PARAM = 'sb-relay';

export interface RelayOptions {
  stack: SipStack;
  location: LocationService;
  /** This node's SIP address as the other nodes reach it (UDP). */
  self: { host: string; port: number };
  /** Whether host:port is another node's SIP address. */
  isPeer(host: string, port: number): boolean;
  logger: Logger;
}

interface RelayHop {
  /** The WebSocket connection the relay serves. */
  connectionId: string;
}

export class WsRelay {
  constructor(private readonly opts: RelayOptions) {}

  /** The Route URI (with brackets) through which other nodes reach this WebSocket binding. */
  pathFor(binding: Binding): string | undefined {
    if (binding.target.protocol !== 'ws') return undefined;
    return `<${this.routeUri(binding.target.connectionId)}>`;
  }

  /** The flow other nodes send a relayed binding's requests to: this node. */
  get selfFlow(): Flow {
    return { protocol: 'udp', address: this.opts.self.host, port: this.opts.self.port };
  }

  /** Take relayed requests (and 2xx ACKs) before the user agent sees them. */
  install(): void {
    const { stack } = this.opts;
    const onRequest = stack.onRequest;
    stack.onRequest = (request, transaction) => {
      if (!this.relay(request, transaction)) onRequest?.(request, transaction);
    };
    const onAck = stack.onAck;
    stack.onAck = (ack, flow) => {
      if (!this.relayAck(ack, flow)) onAck?.(ack, flow);
    };
  }

  private routeUri(connectionId: string): string {
    const { host, port } = this.opts.self;
    return `sip:${host.includes(':') ? `[${host}]` : host}:${port};lr;${RELAY_PARAM}=${connectionId}`;
  }

  /** The relay hop named by the request's first Route, if it is ours. */
  private hopOf(request: SipRequest): RelayHop | undefined {
    const first = request.headers.getAll('Route')[0];
    const uri = first ? parseNameAddr(first)?.uri : undefined;
    const connectionId = uri?.params.get(RELAY_PARAM);
    if (!uri || !connectionId) return undefined;
    const host = uri.host.startsWith('[') ? uri.host.slice(1, -1) : uri.host;
    if (host !== this.opts.self.host || (uri.port ?? 5060) !== this.opts.self.port) return undefined;
    return { connectionId };
  }

  /** Where a request on `hop` that arrived over `from` goes next; undefined when not allowed. */
  private nextHop(request: SipRequest, hop: RelayHop, from: Flow): Flow | undefined {
    if (from.protocol === 'udp' && this.opts.isPeer(from.address, from.port)) {
      return this.opts.location.flowOf(hop.connectionId);
    }
    if (from.protocol === 'ws' && from.connectionId === hop.connectionId) {
      const uri = parseUri(request.uri);
      if (uri?.scheme !== 'sip') return undefined;
      const host = uri.host.startsWith('[') ? uri.host.slice(1, -1) : uri.host;
      const port = uri.port ?? 5060;
      if (!this.opts.isPeer(host, port)) return undefined;
      return { protocol: 'udp', address: host, port };
    }
    return undefined;
  }

  /** Forward a copy: our Route removed, Max-Forwards lowered, a Record-Route on dialog-forming INVITEs. */
  private forwardCopy(request: SipRequest, hop: RelayHop): SipRequest | undefined {
    const headers = request.headers.clone();
    const routes = headers.getAll('Route');
    headers.delete('Route');
    for (const route of routes.slice(1).reverse()) headers.prepend('Route', route);
    const maxForwards = Number.parseInt(headers.get('Max-Forwards') ?? '70', 10);
    if (!(maxForwards > 0)) return undefined;
    headers.set('Max-Forwards', String(maxForwards - 1));
    const toTag = parseNameAddr(headers.get('To') ?? '')?.params.get('tag');
    if (request.method === 'INVITE' && !toTag)
      headers.prepend('Record-Route', `<${this.routeUri(hop.connectionId)}>`);
    return { ...request, headers };
  }

  private relay(request: SipRequest, transaction: ServerTransaction): boolean {
    const hop = this.hopOf(request);
    if (!hop) return false;
    const { stack, logger } = this.opts;
    const next = this.nextHop(request, hop, transaction.flow);
    if (!next) {
      const gone =
        transaction.flow.protocol === 'udp' &&
        this.opts.isPeer(transaction.flow.address, transaction.flow.port);
      // A peer asking for a connection that closed meanwhile: the browser is gone. Anyone else: no relay.
      transaction.respond(
        gone
          ? stack.createResponse(request, 480, 'Temporarily Unavailable (the WebSocket closed)')
          : stack.createResponse(request, 403, 'Forbidden (not a relay for this request)'),
      );
      return true;
    }
    const forward = this.forwardCopy(request, hop);
    if (!forward) {
      transaction.respond(stack.createResponse(request, 483, 'Too Many Hops'));
      return true;
    }
    const client = stack.sendRequest(forward, next, {
      onResponse: (response) => {
        if (response.status === 100) return; // hop by hop: ours went upstream already
        transaction.respond(upstream(response));
      },
      onFailure: (reason) => {
        logger.debug({ method: request.method, reason }, 'cluster: relayed request failed');
        transaction.respond(
          stack.createResponse(
            request,
            reason === 'timeout' ? 408 : 503,
            reason === 'timeout' ? 'Request Timeout' : 'Service Unavailable',
          ),
        );
      },
    });
    if (transaction.isInvite) (transaction as InviteServerTransaction).onCancel = () => stack.cancel(client);
    return true;
  }

  /** A 2xx's ACK is its own hop-by-hop message: forwarded statelessly with our Via on top. */
  private relayAck(ack: SipRequest, flow: Flow): boolean {
    const hop = this.hopOf(ack);
    if (!hop) return false;
    const next = this.nextHop(ack, hop, flow);
    const forward = next ? this.forwardCopy(ack, hop) : undefined;
    if (!next || !forward) return true; // dropped: nobody to give it to
    forward.headers.prepend('Via', this.opts.stack.viaFor(next));
    this.opts.stack.sendRaw(serializeMessage(forward), next);
    return true;
  }
}

/** The response as it goes back upstream: our Via removed. */
function upstream(response: SipResponse): SipResponse {
  const headers = response.headers.clone();
  const vias = headers.getAll('Via');
  headers.delete('Via');
  for (const via of vias.slice(1).reverse()) headers.prepend('Via', via);
  return { ...response, headers };
}
