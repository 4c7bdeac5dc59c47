/**
 * Transfers (DESIGN.md §10): what a REFER asks for. `parseReferTo` reads the Refer-To header
 * (RFC 3515: a name-addr or addr-spec, with an optional `Replaces` URI header of RFC 3891), and
 * `resolveTransferTarget` finds what its user part names the way a dialled number is routed: a
 * user (extension or number), a queue (extension, number or name), or any other number through the
 * default trunk. The progress of a transfer goes back to the transferor in NOTIFYs whose body is a
 * `message/sipfrag` status line (`sipfrag`).
 */
import type { Directory, Queue, Trunk, User } from '../config/types.js';
import { parseNameAddr } from '../sip/headers.js';
import type { TransportProtocol } from '../sip/transport/types.js';
import type { InviteTarget } from '../sip/ua/index.js';
import { parseUri } from '../sip/uri.js';

/** The dialog a `Replaces` names (RFC 3891 §6.1), from the sender's point of view. */
export interface ReplacesTarget {
  sipCallId: string;
  toTag: string;
  fromTag: string;
}

export interface ReferTo {
  /** The user part (decoded), or a tel: URI's number. */
  dialled: string;
  replaces?: ReplacesTarget;
  /** The URI as received (for logs and NOTIFYs). */
  uri: string;
}

/** Refer-To, or undefined when it is missing or malformed. */
export function parseReferTo(value: string | undefined): ReferTo | undefined {
  if (!value) return undefined;
  const nameAddr = parseNameAddr(value.trim()) ?? undefined;
  const uri = nameAddr?.uri ?? parseUri(value.trim());
  if (!uri) return undefined;
  const dialled = uri.scheme === 'tel' ? uri.host : uri.user;
  if (!dialled || (uri.scheme !== 'sip' && uri.scheme !== 'sips' && uri.scheme !== 'tel')) return undefined;
  const referTo: ReferTo = { dialled, uri: value.trim() };
  const replaces = uri.headers.get('replaces') ?? uri.headers.get('Replaces');
  if (replaces !== undefined && replaces !== null) {
    const parsed = parseReplaces(replaces);
    if (!parsed) return undefined;
    referTo.replaces = parsed;
  }
  return referTo;
}

/** `callid;to-tag=a;from-tag=b` (RFC 3891 §6.1), or undefined when a part is missing. */
export function parseReplaces(value: string): ReplacesTarget | undefined {
  const [sipCallId, ...params] = value.split(';').map((part) => part.trim());
  if (!sipCallId) return undefined;
  let toTag: string | undefined;
  let fromTag: string | undefined;
  for (const param of params) {
    const [name, tag] = param.split('=', 2).map((part) => part.trim());
    if (name?.toLowerCase() === 'to-tag') toTag = tag;
    else if (name?.toLowerCase() === 'from-tag') fromTag = tag;
  }
  if (!toTag || !fromTag) return undefined;
  return { sipCallId, toTag, fromTag };
}

export type TransferTarget =
  | { kind: 'user'; user: User; description: string }
  | { kind: 'queue'; queue: Queue; description: string }
  | { kind: 'number'; number: string; trunk: Trunk; description: string };

/** What a dialled transfer target is, routed as a dialled number is; undefined when nothing. */
export function resolveTransferTarget(dialled: string, directory: Directory): TransferTarget | undefined {
  const user = directory.userByExtension(dialled) ?? directory.userByNumber(dialled);
  if (user) return { kind: 'user', user, description: `user ${user.username}` };
  const queue = directory.queueByExtensionOrNumber(dialled) ?? directory.queueByReference(dialled);
  if (queue) return { kind: 'queue', queue, description: `queue ${queue.name}` };
  const trunk = directory.defaultTrunk();
  if (trunk && /^\+?[0-9*#]{2,32}$/.test(dialled))
    return { kind: 'number', number: dialled, trunk, description: `number ${dialled}` };
  return undefined;
}

/** The body of a NOTIFY of a REFER's progress: the status line of the transfer's INVITE. */
export function sipfrag(status: number, reason: string): Buffer {
  return Buffer.from(`SIP/2.0 ${status} ${reason}\r\n`, 'utf8');
}

export const SIPFRAG_CONTENT_TYPE = 'message/sipfrag;version=2.0';

/** Where a number goes through a trunk: its Request-URI and flow. */
export function trunkTarget(trunk: Trunk, number: string): InviteTarget {
  const host = trunk.host.includes(':') ? `[${trunk.host}]` : trunk.host;
  const transport: TransportProtocol = trunk.transport;
  const param = transport === 'udp' ? '' : `;transport=${transport}`;
  return {
    uri: `sip:${number}@${host}:${trunk.port}${param}`,
    flow: { protocol: trunk.transport, address: trunk.host, port: trunk.port },
  };
}
