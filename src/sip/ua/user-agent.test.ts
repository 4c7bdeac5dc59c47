/**
 * The UA core's dispatch, without sockets: a stack over a transport that keeps what it is asked
 * to send. Requests outside a dialog go to the delegate method for their method (or get the UA's
 * own answer), requests inside one to the usage bound in the dialog table.
 */
import { describe, expect, it } from 'vitest';
import { Dialog } from '../dialog.js';
import { EMPTY_BODY, SipHeaders, type SipMessage, type SipRequest, type SipResponse } from '../message.js';
import { parseMessage } from '../parser.js';
import { serializeMessage } from '../serializer.js';
import { SipStack } from '../stack.js';
import type { ServerTransaction } from '../transaction/index.js';
import type { Flow, InboundData, Transport } from '../transport/types.js';
import type { DialogUsage } from './usage.js';
import { UserAgent } from './user-agent.js';

const PEER: Flow = { protocol: 'udp', address: '192.0.2.7', port: 5062 };

/** A UDP-like transport that only records what the stack sends. */
class RecordingTransport implements Transport {
  readonly protocol = 'udp' as const;
  readonly viaTransport = 'UDP' as const;
  readonly sentBy = { host: '192.0.2.1', port: 5060 };
  readonly sent: SipMessage[] = [];
  onData?: (inbound: InboundData) => void;

  send(data: Buffer): boolean {
    const result = parseMessage(data);
    if (!result.ok) throw new Error(`the stack sent an unparseable message: ${result.error.reason}`);
    this.sent.push(result.message);
    return true;
  }

  async close(): Promise<void> {}

  /** Final responses sent, by status. */
  get statuses(): number[] {
    return this.sent.flatMap((m) => (m.kind === 'response' && m.status >= 200 ? [m.status] : []));
  }
}

let branchCount = 0;

/** A request from the peer; `toTag` puts it inside our dialog. */
function request(method: string, opts: { toTag?: string; cseq?: number } = {}): Buffer {
  const headers = new SipHeaders([
    ['Via', `SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bK-ua-test-${++branchCount}`],
    ['From', '<sip:peer@example.com>;tag=peer-tag'],
    ['To', `<sip:switchboard@example.com>${opts.toTag ? `;tag=${opts.toTag}` : ''}`],
    ['Call-ID', 'ua-test@example.com'],
    ['CSeq', `${opts.cseq ?? 2} ${method}`],
  ]);
  const uri = 'sip:switchboard@example.com';
  return serializeMessage({ kind: 'request', method, uri, version: 'SIP/2.0', headers, body: EMPTY_BODY });
}

function setUp() {
  const transport = new RecordingTransport();
  const stack = new SipStack({ transports: [transport] });
  const userAgent = new UserAgent({ stack });
  const receive = (data: Buffer): void => stack.receive({ data, flow: PEER });
  return { transport, stack, userAgent, receive };
}

describe('UserAgent delegate', () => {
  it('hands INVITE and REGISTER to their delegate methods, and nothing else', () => {
    const { userAgent, receive } = setUp();
    const seen: string[] = [];
    userAgent.delegate = {
      onInvite: (invite, transaction) => seen.push(`invite:${invite.method}:${transaction.isInvite}`),
      onRegister: (register) => seen.push(`register:${register.method}`),
    };
    receive(request('INVITE'));
    receive(request('REGISTER'));
    expect(seen).toEqual(['invite:INVITE:true', 'register:REGISTER']);
  });

  it('answers what has no delegate: OPTIONS 200 with Allow, other methods 405, BYE outside a dialog 481', () => {
    const { transport, receive } = setUp();
    receive(request('OPTIONS'));
    receive(request('INVITE'));
    receive(request('MESSAGE'));
    receive(request('BYE'));
    expect(transport.statuses).toEqual([200, 405, 405, 481]);
    const options = transport.sent.find((m): m is SipResponse => m.kind === 'response' && m.status === 200);
    expect(options?.headers.get('Allow')).toContain('INVITE');
    expect(options?.headers.get('Accept')).toBe('application/sdp');
  });

  it('routes requests inside a dialog to its bound usage: BYE answered, OPTIONS answered, others handed over', () => {
    const { transport, userAgent, receive } = setUp();
    const dialog = new Dialog({
      sipCallId: 'ua-test@example.com',
      localTag: 'our-tag',
      remoteTag: 'peer-tag',
      localParty: '<sip:switchboard@example.com>;tag=our-tag',
      remoteParty: '<sip:peer@example.com>;tag=peer-tag',
      localSeq: 0,
      remoteSeq: 1,
      remoteTarget: 'sip:peer@192.0.2.7:5062',
      routeSet: [],
      flow: PEER,
      localContact: 'sip:switchboard@192.0.2.1:5060',
    });
    const events: string[] = [];
    const usage: DialogUsage = {
      dialog,
      onAck: () => events.push('ack'),
      onBye: () => events.push('bye'),
      onRequest: (inDialog: SipRequest, transaction: ServerTransaction) => {
        events.push(`request:${inDialog.method}`);
        transaction.respond(userAgent.stack.createResponse(inDialog, 200));
      },
    };
    userAgent.dialogs.bind(usage);

    receive(request('INFO', { toTag: 'our-tag', cseq: 2 }));
    receive(request('OPTIONS', { toTag: 'our-tag', cseq: 3 }));
    receive(request('INFO', { toTag: 'our-tag', cseq: 3 })); // CSeq not above the last: 500
    receive(request('INFO', { toTag: 'another-tag', cseq: 4 })); // no such dialog: 481
    receive(request('BYE', { toTag: 'our-tag', cseq: 5 }));
    expect(events).toEqual(['request:INFO', 'bye']);
    expect(transport.statuses).toEqual([200, 200, 500, 481, 200]);

    // The ACK of our 2xx (a request of its own, matching no transaction) reaches the usage too.
    receive(request('ACK', { toTag: 'our-tag', cseq: 1 }));
    expect(events).toEqual(['request:INFO', 'bye', 'ack']);
    userAgent.dialogs.unbind(usage);
    expect(userAgent.dialogs.size).toBe(0);
  });
});
