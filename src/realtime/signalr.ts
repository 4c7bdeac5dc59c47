/**
 * The ASP.NET Core SignalR JSON hub protocol, as far as a server needs it (facts from the
 * published specification, dotnet/aspnetcore src/SignalR/docs/specs/HubProtocol.md and
 * TransportProtocols.md): every message is a JSON object followed by the record separator 0x1E;
 * the first message each way is the handshake; `type` tells the rest apart.
 */

export const RECORD_SEPARATOR = '\u001e';

export const MessageType = {
  Invocation: 1,
  StreamItem: 2,
  Completion: 3,
  StreamInvocation: 4,
  CancelInvocation: 5,
  Ping: 6,
  Close: 7,
} as const;

export type HubMessage = Record<string, unknown> & { type?: unknown };

/** One JSON record with its separator. */
export function frame(message: unknown): string {
  return JSON.stringify(message) + RECORD_SEPARATOR;
}

/**
 * Split a text frame into its records. A record that is not a JSON object is a protocol error
 * (thrown); a frame may carry several records, and must end with the separator.
 */
export function parseRecords(text: string): HubMessage[] {
  if (!text.endsWith(RECORD_SEPARATOR)) throw new Error('Message is incomplete (no record separator)');
  const out: HubMessage[] = [];
  for (const part of text.split(RECORD_SEPARATOR)) {
    if (part.length === 0) continue;
    const value: unknown = JSON.parse(part);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error('A hub message must be a JSON object');
    }
    out.push(value as HubMessage);
  }
  return out;
}

/**
 * The handshake request (`{"protocol":"json","version":1}`) at the start of `text`; returns the
 * error to answer with (null when accepted) and the records that followed it in the same frame.
 */
export function parseHandshake(text: string): { error: string | null; rest: string } {
  const end = text.indexOf(RECORD_SEPARATOR);
  if (end < 0) return { error: 'Handshake is incomplete', rest: '' };
  let request: unknown;
  try {
    request = JSON.parse(text.slice(0, end));
  } catch {
    return { error: 'Handshake request is not JSON', rest: '' };
  }
  const rest = text.slice(end + 1);
  if (typeof request !== 'object' || request === null)
    return { error: 'Handshake request is not an object', rest };
  const { protocol, version } = request as { protocol?: unknown; version?: unknown };
  if (protocol !== 'json') return { error: `The protocol '${String(protocol)}' is not supported.`, rest };
  if (version !== 1)
    return { error: `The server does not support version ${String(version)} of the 'json' protocol.`, rest };
  return { error: null, rest };
}

export const handshakeResponse = (error: string | null): string => frame(error === null ? {} : { error });

export const pingMessage = (): string => frame({ type: MessageType.Ping });

export const closeMessage = (error?: string, allowReconnect?: boolean): string =>
  frame({
    type: MessageType.Close,
    ...(error === undefined ? {} : { error }),
    ...(allowReconnect === undefined ? {} : { allowReconnect }),
  });

export const invocationMessage = (target: string, args: unknown[]): string =>
  frame({ type: MessageType.Invocation, target, arguments: args });

export const completionMessage = (
  invocationId: string,
  outcome: { result: unknown } | { error: string },
): string => frame({ type: MessageType.Completion, invocationId, ...outcome });
