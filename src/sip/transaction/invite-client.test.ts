/**
 * The ACK of a non-2xx final (RFC 3261 §17.1.1.3) is built from the list of headers that section
 * names, so nothing else of the INVITE reaches it. (Sending and retransmitting it over real sockets
 * is proved in ../transaction.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { EMPTY_BODY, SipHeaders, type SipRequest, type SipResponse } from '../message.js';
import { buildNon2xxAck } from './invite-client.js';

const invite: SipRequest = {
  kind: 'request',
  method: 'INVITE',
  uri: 'sip:callee@example.com',
  version: 'SIP/2.0',
  headers: new SipHeaders([
    ['Via', 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-top;rport'],
    ['Via', 'SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK-below'],
    ['Max-Forwards', '69'],
    ['Route', '<sip:p1.example.com;lr>'],
    ['Route', '<sip:p2.example.com;lr>'],
    ['From', '<sip:caller@example.com>;tag=caller-tag'],
    ['To', '<sip:callee@example.com>'],
    ['Call-ID', 'ack-test@example.com'],
    ['CSeq', '7 INVITE'],
    ['Contact', '<sip:caller@192.0.2.1:5060>'],
    ['Allow', 'INVITE, ACK, BYE'],
    ['Supported', 'timer'],
    ['P-Asserted-Identity', '<sip:caller@example.com>'],
    ['X-Anything-Product-Specific', 'must not leak'],
    ['Content-Type', 'application/sdp'],
  ]),
  body: Buffer.from('v=0\r\n'),
};

const busy: SipResponse = {
  kind: 'response',
  status: 486,
  reason: 'Busy Here',
  version: 'SIP/2.0',
  headers: new SipHeaders([['To', '<sip:callee@example.com>;tag=callee-tag']]),
  body: EMPTY_BODY,
};

describe('buildNon2xxAck (RFC 3261 §17.1.1.3)', () => {
  it('keeps exactly the listed headers: top Via, Max-Forwards, Route, From, the response To, Call-ID, CSeq ACK', () => {
    const ack = buildNon2xxAck(invite, busy);
    expect(ack.method).toBe('ACK');
    expect(ack.uri).toBe(invite.uri);
    expect(ack.body.length).toBe(0);
    expect([...ack.headers].map((field) => [field.name, field.value])).toEqual([
      ['Via', 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-top;rport'],
      ['Max-Forwards', '69'],
      ['Route', '<sip:p1.example.com;lr>'],
      ['Route', '<sip:p2.example.com;lr>'],
      ['From', '<sip:caller@example.com>;tag=caller-tag'],
      ['To', '<sip:callee@example.com>;tag=callee-tag'],
      ['Call-ID', 'ack-test@example.com'],
      ['CSeq', '7 ACK'],
    ]);
  });
});
