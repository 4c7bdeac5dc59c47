/**
 * RFC 4475 torture messages over TCP (RFC 3261 §18.3: Content-Length frames a stream). Every valid
 * message arrives in pieces and is parsed as it is over UDP; dblreq's second request, a body over
 * UDP, is a message of its own on a stream; a negative Content-Length (ncl) is answered 400 and the
 * connection closed, since nothing after it can be framed; a Content-Length larger than what was
 * sent (clerr) holds the stream until the stall timeout closes it. A server answering on the same
 * connection is what §18.2.2 asks for, whatever host the message's Via names.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../testing/wait.js';
import type { SipRequest } from './message.js';
import { parseMessage } from './parser.js';
import * as V from './rfc4475.vectors.js';
import { SipStack } from './stack.js';
import { StreamTransport } from './transport/stream.js';

let stack: SipStack;
let transport: StreamTransport;
const requests: SipRequest[] = [];

beforeAll(async () => {
  transport = await StreamTransport.listen({ host: '127.0.0.1', port: 0, stallTimeoutSeconds: 1 });
  stack = new SipStack({ transports: [transport] });
  stack.onRequest = (request, transaction) => {
    requests.push(request);
    transaction.respond(stack.createResponse(request, request.method === 'INVITE' ? 486 : 200));
  };
});

afterAll(() => stack.close());

interface Peer {
  socket: Socket;
  /** Status codes of the responses received, in order (100 Trying included). */
  statuses: number[];
  closed: Promise<void>;
  isClosed: () => boolean;
}

async function peer(): Promise<Peer> {
  const socket = connect({ host: '127.0.0.1', port: transport.port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const statuses: number[] = [];
  let text = '';
  socket.on('data', (chunk) => {
    text += chunk.toString('latin1');
    for (const match of text.matchAll(/^SIP\/2\.0 (\d{3}) /gm)) statuses.push(Number(match[1]));
    text = text.slice(text.lastIndexOf('SIP/2.0 ') + 1);
  });
  let isClosed = false;
  const closed = new Promise<void>((resolve) =>
    socket.on('close', () => {
      isClosed = true;
      resolve();
    }),
  );
  return { socket, statuses, closed, isClosed: () => isClosed };
}

/** Write `bytes` in three pieces, cut at arbitrary places, as a stream would deliver them. */
async function sendInPieces(socket: Socket, bytes: Buffer): Promise<void> {
  const cuts = [Math.floor(bytes.length / 3), Math.floor((2 * bytes.length) / 3)];
  for (const [from, to] of [
    [0, cuts[0]],
    [cuts[0], cuts[1]],
    [cuts[1], bytes.length],
  ] as const) {
    socket.write(bytes.subarray(from, to));
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const finals = (statuses: number[]) => statuses.filter((status) => status >= 200);

describe('RFC 4475 over TCP', () => {
  it('parses each valid message in pieces as over UDP, and answers each on the connection', async () => {
    for (const vector of V.VALID_VECTORS.filter((v) => v !== V.dblreq)) {
      const datagram = parseMessage(vector.bytes);
      if (!datagram.ok || datagram.message.kind !== 'request') continue;
      const connection = await peer();
      const before = requests.length;
      await sendInPieces(connection.socket, vector.bytes);
      await waitUntil(() => finals(connection.statuses).length === 1, 3000, `the answer to ${vector.name}`);
      expect(requests.length - before, vector.name).toBe(1);
      const received = requests.at(-1)!;
      expect(received.method, vector.name).toBe(datagram.message.method);
      expect(received.headers.get('Call-ID'), vector.name).toBe(datagram.message.headers.get('Call-ID'));
      expect(received.body.equals(datagram.message.body), vector.name).toBe(true);
      connection.socket.destroy();
    }
  });

  it('dblreq: the INVITE that is a body over UDP is a second request on a stream', async () => {
    const overUdp = parseMessage(V.dblreq.bytes);
    expect(overUdp.ok && overUdp.message.kind === 'request' && overUdp.message.method).toBe('REGISTER');
    const connection = await peer();
    const before = requests.length;
    await sendInPieces(connection.socket, V.dblreq.bytes);
    await waitUntil(() => finals(connection.statuses).length === 2, 3000, 'both answers');
    expect(requests.slice(before).map((request) => request.method)).toEqual(['REGISTER', 'INVITE']);
    expect(finals(connection.statuses)).toEqual([200, 486]);
    connection.socket.destroy();
  });

  it('ncl: a negative Content-Length is answered 400 and the connection closed', async () => {
    const connection = await peer();
    const before = requests.length;
    connection.socket.write(V.ncl.bytes);
    await connection.closed;
    expect(connection.statuses).toEqual([400]);
    expect(requests.length).toBe(before);
  });

  it('clerr: a Content-Length beyond what was sent holds the stream until the stall timeout closes it', async () => {
    const connection = await peer();
    const before = requests.length;
    connection.socket.write(V.clerr.bytes);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(connection.isClosed()).toBe(false);
    expect(connection.statuses).toEqual([]);
    await connection.closed;
    expect(connection.statuses).toEqual([]);
    expect(requests.length).toBe(before);
  });

  it('a message the parser refuses but the framer can frame gets 400 and the connection stays usable', async () => {
    const connection = await peer();
    connection.socket.write(V.badinv01.bytes);
    await waitUntil(() => connection.statuses.length === 1, 3000, 'the 400');
    expect(connection.statuses).toEqual([400]);
    // A fresh request (the vectors' own transactions were answered on earlier connections).
    connection.socket.write(
      [
        'OPTIONS sip:user@example.com SIP/2.0',
        'Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-after-badinv01',
        'Max-Forwards: 70',
        'From: <sip:caller@example.net>;tag=after',
        'To: <sip:user@example.com>',
        'Call-ID: after-badinv01',
        'CSeq: 1 OPTIONS',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    );
    await waitUntil(() => finals(connection.statuses).length === 2, 3000, 'the next answer');
    expect(finals(connection.statuses)).toEqual([400, 200]);
    expect(connection.isClosed()).toBe(false);
    connection.socket.destroy();
  });
});
