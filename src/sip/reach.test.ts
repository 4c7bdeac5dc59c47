/** The location contract's rule (DESIGN.md §6): which flow reaches a Contact. */
import { describe, expect, it } from 'vitest';
import { EMPTY_BODY, SipHeaders, type SipRequest } from './message.js';
import { dialogFlow, reachContact } from './reach.js';
import type { Flow } from './transport/types.js';

const udpFrom = (port: number, address = '127.0.0.1'): Flow => ({ protocol: 'udp', address, port });
const tcpConnection: Flow = { protocol: 'tcp', address: '127.0.0.1', port: 40123, connectionId: 'c1' };
const wsConnection: Flow = { protocol: 'ws', address: '127.0.0.1', port: 50000, connectionId: 'w1' };

describe('reachContact', () => {
  it('goes to the Contact address when it is the IP the REGISTER came from (third-party registration)', () => {
    expect(reachContact('sip:1002@127.0.0.1:5072', udpFrom(40000))).toEqual({
      flow: { protocol: 'udp', address: '127.0.0.1', port: 5072 },
      reason: 'contact',
    });
  });

  it('uses the flow when NAT is evident: the Contact names another IP, or a host name', () => {
    expect(reachContact('sip:1002@192.168.1.20:5060', udpFrom(40000))).toEqual({
      flow: udpFrom(40000),
      reason: 'nat',
    });
    expect(reachContact('sip:1002@phone.example.com:5060', udpFrom(40000)).reason).toBe('nat');
  });

  it('uses the flow for RFC 5626 outbound and for WebSocket', () => {
    expect(reachContact('sip:1002@127.0.0.1:5072', udpFrom(40000), { outbound: true })).toEqual({
      flow: udpFrom(40000),
      reason: 'outbound',
    });
    expect(reachContact('sip:x@abc.invalid;transport=ws', wsConnection)).toEqual({
      flow: wsConnection,
      reason: 'websocket',
    });
  });

  it("takes the Contact's transport: transport=tcp/tls, sips: is TLS, none is UDP (RFC 3263), default ports", () => {
    expect(reachContact('sip:1@127.0.0.1:5070;transport=tcp', tcpConnection).flow).toEqual({
      protocol: 'tcp',
      address: '127.0.0.1',
      port: 5070,
    });
    expect(reachContact('sip:1@127.0.0.1;transport=TLS', tcpConnection).flow).toEqual({
      protocol: 'tls',
      address: '127.0.0.1',
      port: 5061,
    });
    expect(reachContact('sips:1@127.0.0.1', tcpConnection).flow).toEqual({
      protocol: 'tls',
      address: '127.0.0.1',
      port: 5061,
    });
    expect(reachContact('sip:1@127.0.0.1', tcpConnection).flow).toEqual({
      protocol: 'udp',
      address: '127.0.0.1',
      port: 5060,
    });
  });

  it('compares IPv6 and IPv4-mapped addresses as addresses', () => {
    expect(reachContact('sip:1@[::1]:5070', udpFrom(40000, '::1')).reason).toBe('contact');
    expect(reachContact('sip:1@127.0.0.1:5070', udpFrom(40000, '::ffff:127.0.0.1')).reason).toBe('contact');
  });

  it('keeps the flow for what it cannot read (a tel: URI, an unknown transport)', () => {
    expect(reachContact('tel:+358401000001', udpFrom(40000)).reason).toBe('unparseable');
    expect(reachContact('sip:1@127.0.0.1;transport=sctp', udpFrom(40000)).reason).toBe('unparseable');
  });
});

function invite(headers: [string, string][]): SipRequest {
  return {
    kind: 'request',
    method: 'INVITE',
    uri: 'sip:100@switchboard.local',
    version: 'SIP/2.0',
    headers: new SipHeaders(headers),
    body: EMPTY_BODY,
  };
}

describe('dialogFlow', () => {
  it('keeps UDP and WebSocket dialogs on the flow their INVITE came over', () => {
    const request = invite([['Contact', '<sip:1@127.0.0.1:5099>']]);
    expect(dialogFlow(request, udpFrom(40000))).toEqual(udpFrom(40000));
    expect(dialogFlow(request, wsConnection)).toEqual(wsConnection);
  });

  it("reaches a TCP caller at its Contact, or on its connection with `ob` or behind a proxy's Record-Route", () => {
    expect(dialogFlow(invite([['Contact', '<sip:1@127.0.0.1:5099;transport=tcp>']]), tcpConnection)).toEqual({
      protocol: 'tcp',
      address: '127.0.0.1',
      port: 5099,
    });
    expect(dialogFlow(invite([['Contact', '<sip:1@127.0.0.1:5099;transport=tcp;ob>']]), tcpConnection)).toBe(
      tcpConnection,
    );
    const proxied = invite([
      ['Record-Route', '<sip:127.0.0.1:5090;transport=tcp;lr>'],
      ['Contact', '<sip:1@127.0.0.1:5099;transport=tcp>'],
    ]);
    expect(dialogFlow(proxied, tcpConnection)).toBe(tcpConnection);
  });
});
