/**
 * How a peer is reached from its Contact (DESIGN.md §6, the location contract): RFC 3261 sends
 * requests to the address in the Contact URI; the flow a message arrived over is used instead only
 * when that address cannot be trusted or reached directly:
 *
 * - WebSocket: always the connection (RFC 7118 §5; a browser's Contact host is `*.invalid`);
 * - RFC 5626 outbound (`reg-id` + `+sip.instance`): the flow is the binding (§6);
 * - NAT is evident: the Contact's IP differs from the IP the message came from, or the Contact
 *   names a host rather than an IP (nothing to compare; the flow is the address that works).
 *
 * Otherwise the Contact's own transport (`transport=` parameter; `sips:` means TLS; RFC 3263's UDP
 * without either), host and port. Over TCP/TLS that is an unbound stream flow: the transport uses an
 * open connection to that address (our own, the one the message came over when its source port is
 * the Contact's, or one announced with the Via `alias`) or opens a new one.
 */
import { isIP } from 'node:net';
import { parseNameAddr } from './headers.js';
import type { SipRequest } from './message.js';
import type { Flow, TransportProtocol } from './transport/types.js';
import { parseUri } from './uri.js';

export interface ReachOptions {
  /** The UA registered with RFC 5626 outbound (`reg-id` and `+sip.instance` on its Contact). */
  outbound?: boolean;
}

/** Why a contact is reached the way it is: for logs, diagnostics and tests. */
export type ReachReason = 'websocket' | 'outbound' | 'nat' | 'contact' | 'unparseable';

export function reachContact(
  contactUri: string,
  arrivedOn: Flow,
  options: ReachOptions = {},
): { flow: Flow; reason: ReachReason } {
  if (arrivedOn.protocol === 'ws') return { flow: arrivedOn, reason: 'websocket' };
  if (options.outbound) return { flow: arrivedOn, reason: 'outbound' };
  const uri = parseUri(contactUri);
  if (!uri || (uri.scheme !== 'sip' && uri.scheme !== 'sips'))
    return { flow: arrivedOn, reason: 'unparseable' };
  const host = uri.host.startsWith('[') ? uri.host.slice(1, -1) : uri.host;
  if (isIP(host) === 0 || !sameAddress(host, arrivedOn.address)) return { flow: arrivedOn, reason: 'nat' };
  const protocol = contactProtocol(uri.scheme, uri.params.get('transport'));
  if (protocol === undefined) return { flow: arrivedOn, reason: 'unparseable' };
  if (protocol === 'ws') return { flow: arrivedOn, reason: 'websocket' };
  const port = uri.port ?? (protocol === 'tls' ? 5061 : 5060);
  // Never bound to the arrival connection: the Contact's address outlives it (reconnect on demand).
  return { flow: { protocol, address: host, port }, reason: 'contact' };
}

/** The flow only: see `reachContact`. */
export function flowForContact(contactUri: string, arrivedOn: Flow, options: ReachOptions = {}): Flow {
  return reachContact(contactUri, arrivedOn, options).flow;
}

function contactProtocol(
  scheme: string,
  transport: string | null | undefined,
): TransportProtocol | undefined {
  const token = transport?.toLowerCase();
  if (scheme === 'sips') return token === undefined || token === 'tls' || token === 'tcp' ? 'tls' : undefined;
  switch (token) {
    case undefined:
    case 'udp':
      return 'udp';
    case 'tcp':
      return 'tcp';
    case 'tls':
      return 'tls';
    case 'ws':
    case 'wss':
      return 'ws';
    default:
      return undefined;
  }
}

function sameAddress(a: string, b: string): boolean {
  const strip = (text: string) => text.toLowerCase().replace(/^::ffff:/, '');
  return strip(a) === strip(b);
}

/**
 * The flow of a dialog we answer (UAS), from the dialog-forming request that arrived on
 * `arrivedOn`. UDP and WebSocket keep the arrival flow (symmetric signalling gets through NAT;
 * RFC 7118). Over TCP/TLS without a route set, the remote target's Contact is reached by the rule
 * above, so that the call survives the phone's connection closing and reopening; the Contact's
 * `ob` parameter (RFC 5626 §5.4) keeps it on the connection. With a route set, the next hop is
 * the proxy that sent the request: the arrival flow again.
 */
export function dialogFlow(request: SipRequest, arrivedOn: Flow): Flow {
  if (arrivedOn.protocol !== 'tcp' && arrivedOn.protocol !== 'tls') return arrivedOn;
  if (request.headers.has('Record-Route')) return arrivedOn;
  const contact = parseNameAddr(request.headers.getAll('Contact')[0] ?? '');
  if (!contact) return arrivedOn;
  return flowForContact(contact.uriText, arrivedOn, { outbound: contact.uri.params.has('ob') });
}
