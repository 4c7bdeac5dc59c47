import { describe, expect, it } from 'vitest';
// The header-value parsers, as the RFC 4475 vectors exercise them through whole messages.
import * as headerValues from './headers.js';
import type { SipMessage, SipRequest, SipResponse } from './message.js';
import { parseMessage, type SipParseError, SipStreamFramer } from './parser.js';
import * as V from './rfc4475.vectors.js';
import { serializeMessage } from './serializer.js';
import { parseUri } from './uri.js';

function parseRequest(bytes: Buffer): SipRequest {
  const result = parseMessage(bytes);
  if (!result.ok) throw new Error(`expected a message, got ${result.error.code}: ${result.error.reason}`);
  expect(result.message.kind).toBe('request');
  return result.message as SipRequest;
}

function parseResponse(bytes: Buffer): SipResponse {
  const result = parseMessage(bytes);
  if (!result.ok) throw new Error(`expected a message, got ${result.error.code}: ${result.error.reason}`);
  expect(result.message.kind).toBe('response');
  return result.message as SipResponse;
}

function parseError(bytes: Buffer): SipParseError {
  const result = parseMessage(bytes);
  if (result.ok) throw new Error('expected a parse error');
  // The reason becomes a reason phrase: printable ASCII only.
  expect(result.error.reason).toMatch(/^[\x20-\x7e]+$/);
  return result.error;
}

function header(message: SipMessage, name: string): string {
  const value = message.headers.get(name);
  if (value === undefined) throw new Error(`missing ${name}`);
  return value;
}

function nameAddr(message: SipMessage, name: string) {
  const parsed = headerValues.parseNameAddr(header(message, name));
  if (!parsed) throw new Error(`${name} does not parse`);
  return parsed;
}

function lines(...text: string[]): Buffer {
  return Buffer.from(text.join('\r\n'), 'utf8');
}

const OPTIONS_HEAD = [
  'OPTIONS sip:bob@example.com SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1',
  'To: <sip:bob@example.com>',
  'From: <sip:alice@example.com>;tag=a',
  'Call-ID: c1@192.0.2.1',
  'CSeq: 1 OPTIONS',
  'Max-Forwards: 70',
];

describe('RFC 4475 §3.1.1 valid messages', () => {
  it('wsinv: folding, escapes in quotes, empty subject, LWS everywhere, mixed compact names', () => {
    const m = parseRequest(V.wsinv.bytes);
    expect(m.method).toBe('INVITE');
    expect(m.uri).toBe('sip:vivekg@chair-dnrc.example.com;unknownparam');
    const ruri = parseUri(m.uri)!;
    expect(ruri).toMatchObject({ scheme: 'sip', user: 'vivekg', host: 'chair-dnrc.example.com' });
    expect(ruri.params).toEqual(new Map([['unknownparam', null]]));

    const to = nameAddr(m, 'To');
    expect(to.displayName).toBeUndefined();
    expect(to.uri).toMatchObject({ user: 'vivekg', host: 'chair-dnrc.example.com' });
    expect(to.params).toEqual(new Map([['tag', '1918181833n']]));

    const from = nameAddr(m, 'from');
    expect(from.displayName).toBe('J Rosenberg \\"');
    expect(from.uri).toMatchObject({ user: 'jdrosen', host: 'example.com' });
    expect(from.params.get('tag')).toBe('98asjd8');

    expect(headerValues.parseUnsigned(header(m, 'Max-Forwards'), 255)).toBe(68);
    expect(header(m, 'Call-ID')).toBe('wsinv.ndaksdj@192.0.2.1');
    expect(headerValues.parseCSeq(header(m, 'CSeq'))).toEqual({ seq: 9, method: 'INVITE' });

    const vias = headerValues.parseViaList(m.headers.getLines('Via'))!;
    expect(vias.map((v) => [v.transport, v.host, v.branch])).toEqual([
      ['UDP', '192.0.2.2', '390skdjuw'],
      ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
      ['UDP', '192.168.255.111', 'z9hG4bK30239'],
    ]);

    expect(m.headers.get('Subject')).toBe('');
    expect(m.headers.get('NewFangledHeader')).toBe('newfangled value continued newfangled value');
    expect(m.headers.getLines('UnknownHeaderWithUnusualValue')).toEqual([';;,,;;,;']);
    expect(header(m, 'Content-Type')).toBe('application/sdp');

    const route = nameAddr(m, 'Route');
    expect(route.uri.host).toBe('services.example.com');
    expect(route.uri.params).toEqual(
      new Map([
        ['lr', null],
        ['unknownwith', 'value'],
        ['unknown-no-value', null],
      ]),
    );

    const contacts = headerValues.parseContactList(m.headers.getLines('Contact'));
    expect(contacts?.star).toBe(false);
    if (!contacts || contacts.star) return;
    expect(contacts.contacts).toHaveLength(1);
    const [contact] = contacts.contacts;
    expect(contact!.displayName).toBe('Quoted string ""');
    expect(contact!.uri).toMatchObject({ user: 'jdrosen', host: 'example.com' });
    expect(contact!.params).toEqual(
      new Map([
        ['newparam', 'newvalue'],
        ['secondparam', null],
        ['q', '0.33'],
      ]),
    );

    expect(m.headers.size).toBe(14);
    expect(m.body.length).toBe(150);
    expect(m.body.toString('latin1', 0, 5)).toBe('v=0\r\n');
  });

  it('intmeth: every token character in method, URI, branch, tag, Call-ID and an extension header', () => {
    const method = "!interesting-Method0123456789_*+`.%indeed'~";
    const m = parseRequest(V.intmeth.bytes);
    expect(m.method).toBe(method);
    const ruri = parseUri(m.uri)!;
    expect(ruri.user).toBe("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    expect(ruri.password).toBe("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    expect(ruri.host).toBe('example.com');

    expect(headerValues.parseVia(header(m, 'Via'))!.branch).toBe("z9hG4bK-.!%66*_+`'~");

    const to = nameAddr(m, 'To');
    expect(to.displayName).toBe('BEL:\x07 NUL:\x00 DEL:\x7F');
    expect(to.uri.user).toBe("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");

    const from = nameAddr(m, 'From');
    expect(from.displayName).toBe("token1~` token2'+_ token3*%!.-");
    expect(from.uri).toMatchObject({ user: 'mundane', host: 'example.com' });
    expect(headerValues.unquote(from.params.get("fromparam''~+*_!.-%")!)).toBe('работающий');
    expect(from.params.get('tag')).toBe("_token~1'+`*%!-.");

    expect(header(m, 'Call-ID')).toBe('intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{');
    expect(headerValues.parseCSeq(header(m, 'CSeq'))).toEqual({ seq: 139122385, method });
    expect(headerValues.parseUnsigned(header(m, 'Max-Forwards'), 255)).toBe(255);
    expect(m.headers.get("extensionHeader-!.%*+_`'~")).toBe('\uFEFF大停電');
    expect(m.body.length).toBe(0);
  });

  it('esc01: %HH escapes in the Request-URI, From, To and Contact URI parameters', () => {
    const m = parseRequest(V.esc01.bytes);
    expect(parseUri(m.uri)).toMatchObject({
      scheme: 'sip',
      user: 'sips:user@example.com',
      host: 'example.net',
    });
    expect(nameAddr(m, 'To').uri.user).toBe('user');
    const from = nameAddr(m, 'From');
    expect(from.uri.user).toBe('I have spaces');
    expect(from.params.get('tag')).toBe('938');
    expect(header(m, 'Call-ID')).toBe('esc01.239409asdfakjkn23onasd0-3234');
    expect(header(m, 'Content-Type')).toBe('application/sdp');
    const contact = nameAddr(m, 'Contact');
    expect(contact.uri).toMatchObject({ user: 'caller', host: 'host5.example.net' });
    // Unescaping is not recursive: v%61lue%25%34%31 is "value%41", not "valueA".
    expect(contact.uri.params).toEqual(
      new Map([
        ['lr', null],
        ['name', 'value%41'],
      ]),
    );
    expect(m.body.length).toBe(150);
  });

  it('escnull: escaped NULs in user parts stay distinct', () => {
    const m = parseRequest(V.escnull.bytes);
    expect(m.method).toBe('REGISTER');
    expect(nameAddr(m, 'To').uri.user).toBe('null-\0-null');
    expect(nameAddr(m, 'From').uri.user).toBe('null-\0-null');
    const contacts = headerValues.parseContactList(m.headers.getLines('Contact'));
    if (!contacts || contacts.star) throw new Error('contacts expected');
    expect(contacts.contacts.map((c) => c.uri.user)).toEqual(['\0', '\0\0']);
    expect(header(m, 'Content-Length')).toBe('0');
  });

  it('esc02: % is not an escape in methods, display names, branches or header names', () => {
    const m = parseRequest(V.esc02.bytes);
    expect(m.method).toBe('RE%47IST%45R');
    expect(headerValues.parseCSeq(header(m, 'CSeq'))).toEqual({ seq: 29344, method: 'RE%47IST%45R' });
    expect(nameAddr(m, 'To').displayName).toBe('%Z%45');
    expect(nameAddr(m, 'From').displayName).toBe('%Z%45');
    expect(headerValues.parseVia(header(m, 'Via'))!.branch).toBe('z9hG4bK209%fzsnel234');
    const contacts = headerValues.parseContactList(m.headers.getLines('Contact'));
    if (!contacts || contacts.star) throw new Error('contacts expected');
    expect(contacts.contacts.map((c) => c.uri.user)).toEqual(['alias1', 'alias3']);
    expect(m.headers.get('C%6Fntact')).toBe('<sip:alias2@host2.example.com>');
  });

  it('lwsdisp: no LWS between display name and <', () => {
    const m = parseRequest(V.lwsdisp.bytes);
    const from = nameAddr(m, 'From');
    expect(from.displayName).toBe('caller');
    expect(from.uri).toMatchObject({ user: 'caller', host: 'example.com' });
    expect(from.params.get('tag')).toBe('323');
  });

  it('longreq: long values and 34 Via values in mixed spellings', () => {
    const m = parseRequest(V.longreq.bytes);
    const to = nameAddr(m, 'To');
    expect(to.displayName).toBe(`I have a user name of ${'extreme'.repeat(10)} proportion`);
    expect(to.uri.port).toBe(6000);
    expect(to.uri.params).toEqual(
      new Map<string, string | null>([
        ['unknownparam1', `very${'long'.repeat(20)}value`],
        [`longparam${'name'.repeat(25)}`, 'shortvalue'],
        [`very${'long'.repeat(25)}parameternamewithnovalue`, null],
      ]),
    );
    const from = nameAddr(m, 'From');
    expect(from.uri.user).toBe('amazinglylongcallername'.repeat(5));
    expect(from.params).toEqual(
      new Map<string, string | null>([
        ['tag', `12${'982'.repeat(50)}424`],
        [`unknownheaderparam${'name'.repeat(20)}`, `unknowheaderparam${'value'.repeat(15)}`],
        [`unknownvaluelessparamname${'paramname'.repeat(9)}`, null],
      ]),
    );
    expect(header(m, 'Call-ID')).toBe(`longreq.one${'really'.repeat(20)}longcallid`);
    expect(m.headers.get(`Unknown-${'Long'.repeat(20)}-Name`)).toBe(
      `unknown-${'long'.repeat(20)}-value; unknown-${'long'.repeat(20)}-parameter-name = unknown-${'long'.repeat(20)}-parameter-value`,
    );
    const vias = headerValues.parseViaList(m.headers.getLines('Via'))!;
    expect(vias).toHaveLength(34);
    expect(vias.slice(0, 33).map((v) => v.host)).toEqual(
      Array.from({ length: 33 }, (_, k) => `sip${33 - k}.example.com`),
    );
    expect(vias[33]!.received).toBe('192.0.2.5');
    expect(vias[33]!.branch).toBe(`very${'long'.repeat(50)}branchvalue`);
    expect(nameAddr(m, 'Contact').uri.user).toBe('amazinglylongcallername'.repeat(5));
    expect(header(m, 'Content-Length')).toBe('150');
    expect(m.body.length).toBe(150);
  });

  it('dblreq: octets after the Content-Length body are discarded (RFC 3261 §18.3)', () => {
    const m = parseRequest(V.dblreq.bytes);
    expect(m.method).toBe('REGISTER');
    expect(header(m, 'Call-ID')).toBe('dblreq.0ha0isndaksdj99sdfafnl3lk233412');
    expect(nameAddr(m, 'Contact').uri).toMatchObject({ user: 'j.user', host: 'host.example.com' });
    expect(m.body.length).toBe(0);
    expect(m.headers.size).toBe(8);
    expect(m.headers.has('Content-Type')).toBe(false);
  });

  it('semiuri: a ;param inside the user part of the Request-URI', () => {
    const m = parseRequest(V.semiuri.bytes);
    const ruri = parseUri(m.uri)!;
    expect(ruri.user).toBe('user;par=u@example.net');
    expect(ruri.host).toBe('example.com');
    expect(ruri.params.size).toBe(0);
    expect(m.headers.getAll('Accept')).toEqual([
      'application/sdp',
      'application/pkcs7-mime',
      'multipart/mixed',
      'multipart/signed',
      'message/sip',
      'message/sipfrag',
    ]);
  });

  it('transports: Via values with all transports, known and unknown', () => {
    const m = parseRequest(V.transports.bytes);
    expect(header(m, 'Call-ID')).toBe('transports.kijh4akdnaqjkwendsasfdj');
    const vias = headerValues.parseViaList(m.headers.getLines('Via'))!;
    expect(vias.map((v) => v.transport)).toEqual(['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP']);
    expect(vias.map((v) => v.host)).toEqual(['t1', 't2', 't3', 't4', 't5'].map((t) => `${t}.example.com`));
  });

  it('mpart01: a multipart body with binary octets is framed by Content-Length', () => {
    const m = parseRequest(V.mpart01.bytes);
    expect(m.method).toBe('MESSAGE');
    const via = headerValues.parseVia(header(m, 'Via'))!;
    expect(via).toMatchObject({ transport: 'UDP', host: '127.0.0.1', port: 5070 });
    expect(via.branch).toBe('z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-');
    expect(via.rport).toBeNull();
    expect(nameAddr(m, 'Route').uri).toMatchObject({ host: '127.0.0.1', port: 5080 });
    expect(header(m, 'Identity')).toMatch(/^r5mwreLuyDRYBi.*UA=$/);
    expect(headerValues.parseSipDate(header(m, 'Date'))?.toISOString()).toBe('2005-10-15T04:44:56.000Z');
    expect(m.body.length).toBe(553);
    expect(m.body.includes(0)).toBe(true);
    expect(m.body.equals(V.mpart01.bytes.subarray(V.mpart01.bytes.length - 553))).toBe(true);
  });

  it('unreason: a reason phrase with UTF-8', () => {
    const m = parseResponse(V.unreason.bytes);
    expect(m.status).toBe(200);
    expect(m.reason).toBe(V.UNREASON_PHRASE);
    expect(headerValues.parseVia(header(m, 'Via'))!.branch).toBe('z9hG4bK1324923');
    expect(nameAddr(m, 'To').params.get('tag')).toBe('2229');
    expect(m.body.length).toBe(154);
  });

  it('noreason: an empty reason phrase', () => {
    const m = parseResponse(V.noreason.bytes);
    expect(m.status).toBe(100);
    expect(m.reason).toBe('');
    expect(nameAddr(m, 'From').params.get('tag')).toBe('39ansfi3');
  });

  it('every valid vector survives serialize → parse unchanged', () => {
    for (const vector of V.VALID_VECTORS) {
      const first = parseMessage(vector.bytes);
      expect(first.ok, vector.name).toBe(true);
      if (!first.ok) continue;
      const again = parseMessage(serializeMessage(first.message));
      expect(again, vector.name).toEqual(first);
    }
  });

  it('also parses with bare LF line ends', () => {
    for (const vector of [V.wsinv, V.esc01, V.longreq, V.unreason]) {
      const split = vector.bytes.indexOf('\r\n\r\n');
      const head = vector.bytes
        .subarray(0, split + 4)
        .toString('latin1')
        .replace(/\r\n/g, '\n');
      const bare = Buffer.concat([Buffer.from(head, 'latin1'), vector.bytes.subarray(split + 4)]);
      const crlf = parseMessage(vector.bytes);
      expect(parseMessage(bare), vector.name).toEqual(crlf);
    }
  });
});

describe('RFC 4475 §3.1.2 invalid messages', () => {
  it('badinv01: empty Via parameters → 400 naming Via', () => {
    const error = parseError(V.badinv01.bytes);
    expect(error.code).toBe('InvalidHeaderValue');
    expect(error.reason).toMatch(/Via/);
    expect(error.request?.method).toBe('INVITE');
  });

  it('clerr: Content-Length larger than the datagram body → 400', () => {
    const error = parseError(V.clerr.bytes);
    expect(error.code).toBe('BodyTruncated');
    expect(error.reason).toMatch(/Content-Length 9999/);
    expect(error.request?.headers.get('Call-ID')).toBe('clerr.0ha0isndaksdjweiafasdk3');
  });

  it('ncl: negative Content-Length', () => {
    const error = parseError(V.ncl.bytes);
    expect(error.code).toBe('InvalidContentLength');
    expect(error.request).toBeDefined();
  });

  it('scalar02: CSeq beyond 2^32-1 → 400; the other out-of-range scalars are visible as such', () => {
    const error = parseError(V.scalar02.bytes);
    expect(error.code).toBe('InvalidHeaderValue');
    expect(error.reason).toMatch(/CSeq/);
    const headers = error.request!.headers;
    expect(headerValues.parseUnsigned(headers.get('Max-Forwards')!, 255)).toBeUndefined();
    expect(headerValues.parseDeltaSeconds(headers.get('Expires'))).toBeUndefined();
    const contact = headerValues.parseNameAddr(headers.get('Contact')!)!;
    expect(contact.params.get('expires')).toBe('280297596632815');
    expect(headerValues.getExpires(contact, headers.get('Expires'))).toBeUndefined();
  });

  it('scalarlg: a response with CSeq beyond 2^32-1 is rejected (and cannot be answered)', () => {
    const error = parseError(V.scalarlg.bytes);
    expect(error.code).toBe('InvalidHeaderValue');
    expect(error.reason).toMatch(/CSeq/);
    expect(error.request).toBeUndefined();
  });

  it('quotbal: unterminated quoted display name', () => {
    const error = parseError(V.quotbal.bytes);
    expect(error.code).toBe('InvalidHeaderValue');
    expect(error.reason).toMatch(/\bTo\b/);
  });

  it('ltgtruri: Request-URI enclosed in <>', () => {
    const error = parseError(V.ltgtruri.bytes);
    expect(error.code).toBe('InvalidRequestUri');
    expect(error.request?.method).toBe('INVITE');
  });

  it('lwsruri: LWS inside the Request-URI', () => {
    const error = parseError(V.lwsruri.bytes);
    expect(error.code).toBe('InvalidRequestUri');
    expect(error.reason).toMatch(/whitespace/i);
  });

  it('lwsstart: multiple SP between Request-Line elements', () => {
    const error = parseError(V.lwsstart.bytes);
    expect(error.code).toBe('MalformedStartLine');
    expect(error.reason).toMatch(/whitespace/i);
    expect(error.request).toBeDefined();
  });

  it('trws: SP after the SIP-Version', () => {
    const error = parseError(V.trws.bytes);
    expect(error.code).toBe('MalformedStartLine');
    expect(error.reason).toMatch(/whitespace/i);
  });

  it('escruri: escaped headers in the Request-URI', () => {
    const error = parseError(V.escruri.bytes);
    expect(error.code).toBe('InvalidRequestUri');
    expect(error.reason).toMatch(/headers/);
  });

  it('baddate: parses; the non-GMT Date is exposed as unparseable for whoever needs it', () => {
    const m = parseRequest(V.baddate.bytes);
    expect(header(m, 'Date')).toBe('Fri, 01 Jan 2010 16:00:00 EST');
    expect(headerValues.parseSipDate(header(m, 'Date'))).toBeUndefined();
  });

  it('regbadct: addr-spec Contact with URI headers (needs <>) → 400 naming Contact', () => {
    const error = parseError(V.regbadct.bytes);
    expect(error.code).toBe('InvalidHeaderValue');
    expect(error.reason).toMatch(/Contact/);
  });

  it('badaspec: spaces inside <> of To', () => {
    const error = parseError(V.badaspec.bytes);
    expect(error.code).toBe('InvalidHeaderValue');
    expect(error.reason).toMatch(/\bTo\b/);
  });

  it('baddn: unquoted display names with non-token characters', () => {
    const error = parseError(V.baddn.bytes);
    expect(error.code).toBe('InvalidHeaderValue');
    expect(error.reason).toMatch(/From|To/);
  });

  it('badvers: SIP/7.0 → VersionNotSupported with enough of the request to answer 505', () => {
    const error = parseError(V.badvers.bytes);
    expect(error.code).toBe('VersionNotSupported');
    expect(error.request?.method).toBe('OPTIONS');
    expect(error.request?.headers.get('Call-ID')).toBe('badvers.31417@c.example.com');
  });

  it('mismatch01: CSeq method differs from the request method', () => {
    const error = parseError(V.mismatch01.bytes);
    expect(error.code).toBe('CSeqMethodMismatch');
    expect(error.reason).toBe('CSeq method INVITE does not match request method OPTIONS');
  });

  it('mismatch02: unknown method with a mismatched CSeq (server may pick 501 from request.method)', () => {
    const error = parseError(V.mismatch02.bytes);
    expect(error.code).toBe('CSeqMethodMismatch');
    expect(error.request?.method).toBe('NEWMETHOD');
  });

  it('bigcode: status code beyond three digits is dropped', () => {
    const error = parseError(V.bigcode.bytes);
    expect(error.code).toBe('InvalidStatusCode');
    expect(error.request).toBeUndefined();
  });
});

describe('RFC 4475 §3.2–3.4 (selection): what the layers above need to see', () => {
  it('badbranch: parses; the bare magic cookie is not an RFC 3261 transaction id', () => {
    const m = parseRequest(V.badbranch.bytes);
    const via = headerValues.parseVia(header(m, 'Via'))!;
    expect(via.branch).toBe('z9hG4bK');
    expect(headerValues.isRfc3261Branch(via.branch)).toBe(false);
    expect(headerValues.isRfc3261Branch('z9hG4bK1')).toBe(true);
  });

  it('insuf: missing From / To / Call-ID → 400, but nothing to answer with', () => {
    const error = parseError(V.insuf.bytes);
    expect(error.code).toBe('MissingHeader');
    expect(error.request).toBeUndefined();
  });

  it('unkscm and novelsc: unknown Request-URI schemes → UnsupportedUriScheme (416)', () => {
    for (const vector of [V.unkscm, V.novelsc]) {
      const error = parseError(vector.bytes);
      expect(error.code, vector.name).toBe('UnsupportedUriScheme');
      expect(error.request?.method).toBe('OPTIONS');
    }
  });

  it('unksm2: non-SIP URIs in To, From and Contact parse as opaque URIs', () => {
    const m = parseRequest(V.unksm2.bytes);
    expect(nameAddr(m, 'To').uri).toMatchObject({ scheme: 'isbn', opaque: '2983792873', host: '' });
    expect(nameAddr(m, 'From').uri).toMatchObject({ scheme: 'http', opaque: '//www.example.com' });
    expect(nameAddr(m, 'Contact').uri).toMatchObject({ scheme: 'name', opaque: 'John_Smith' });
  });

  it('multi01: several values in single-value headers → 400', () => {
    const error = parseError(V.multi01.bytes);
    expect(error.code).toBe('DuplicateHeader');
  });

  it('mcl01: conflicting Content-Length values → 400', () => {
    expect(parseError(V.mcl01.bytes).code).toBe('InvalidContentLength');
  });

  it('zeromf: Max-Forwards 0 is valid syntax (the proxy answers 483)', () => {
    expect(headerValues.parseUnsigned(header(parseRequest(V.zeromf.bytes), 'Max-Forwards'), 255)).toBe(0);
  });

  it('cparam01 / cparam02: after an addr-spec the parameter is a Contact parameter, inside <> a URI parameter', () => {
    const addrSpec = nameAddr(parseRequest(V.cparam01.bytes), 'Contact');
    expect(addrSpec.params).toEqual(new Map([['unknownparam', null]]));
    expect(addrSpec.uri.params.size).toBe(0);
    const bracketed = nameAddr(parseRequest(V.cparam02.bytes), 'Contact');
    expect(bracketed.params.size).toBe(0);
    expect(bracketed.uri.params).toEqual(new Map([['unknownparam', null]]));
    expect(bracketed.uri.user).toBe('+19725552222');
  });

  it('regescrt: escaped URI headers inside <> are legal', () => {
    const contact = nameAddr(parseRequest(V.regescrt.bytes), 'Contact');
    expect(contact.uri.headers).toEqual(new Map([['Route', '<sip:sip.example.com>']]));
  });

  it('inv2543: no Content-Length on a datagram → the body is the rest of it', () => {
    const m = parseRequest(V.inv2543.bytes);
    expect(m.body.toString('latin1')).toMatch(/^v=0\r\n[\s\S]*m=audio 49217 RTP\/AVP 0\r\n$/);
    expect(headerValues.parseVia(header(m, 'Via'))!.branch).toBeUndefined();
    expect(nameAddr(m, 'From').params.has('tag')).toBe(false);
  });
});

describe('parseMessage framing and limits', () => {
  const options = lines(...OPTIONS_HEAD, 'Content-Length: 0', '', '');

  it('a buffer of only CRLF (or nothing) is a KeepAlive', () => {
    for (const data of ['\r\n\r\n', '\r\n', '\n', '']) {
      const result = parseMessage(Buffer.from(data));
      expect(result).toEqual({ ok: false, error: { code: 'KeepAlive', reason: expect.any(String) } });
    }
  });

  it('skips leading CRLFs before a message', () => {
    const m = parseRequest(Buffer.concat([Buffer.from('\r\n\r\n\r\n'), options]));
    expect(m.method).toBe('OPTIONS');
  });

  it('truncates the body to Content-Length and takes the rest when it is absent', () => {
    const withLength = lines(
      ...OPTIONS_HEAD,
      'Content-Type: text/plain',
      'Content-Length: 5',
      '',
      'Hello, world',
    );
    expect(parseRequest(withLength).body.toString()).toBe('Hello');
    const without = lines(...OPTIONS_HEAD, 'Content-Type: text/plain', '', 'Hello, world');
    expect(parseRequest(without).body.toString()).toBe('Hello, world');
  });

  it('accepts repeated Content-Length headers that agree', () => {
    const data = lines(...OPTIONS_HEAD, 'Content-Length: 2', 'l: 02', '', 'hi');
    expect(parseRequest(data).body.toString()).toBe('hi');
  });

  it('rejects a non-numeric Content-Length', () => {
    expect(parseError(lines(...OPTIONS_HEAD, 'Content-Length: five', '', '')).code).toBe(
      'InvalidContentLength',
    );
  });

  it('enforces maxHeaders and maxHeaderBytes', () => {
    const many = Array.from({ length: 300 }, (_, k) => `X-Filler-${k}: ${k}`);
    const data = lines(...OPTIONS_HEAD, ...many, 'Content-Length: 0', '', '');
    expect(parseError(data)).toEqual({ code: 'TooManyHeaders', reason: expect.any(String) });
    expect(parseMessage(data, { maxHeaders: 400 }).ok).toBe(true);

    const big = lines(...OPTIONS_HEAD, `X-Big: ${'a'.repeat(20000)}`, 'Content-Length: 0', '', '');
    expect(parseError(big).code).toBe('HeadersTooLarge');
    expect(parseMessage(big, { maxHeaderBytes: 32768 }).ok).toBe(true);
    const unterminated = Buffer.from(`${OPTIONS_HEAD.join('\r\n')}\r\nX-Big: ${'a'.repeat(20000)}`);
    expect(parseError(unterminated).code).toBe('HeadersTooLarge');
  });

  it('reports a missing empty line after the headers, with enough to answer', () => {
    const error = parseError(lines(...OPTIONS_HEAD, 'Content-Length: 0'));
    expect(error.code).toBe('IncompleteHeaders');
    expect(error.request?.method).toBe('OPTIONS');
  });

  it('rejects header lines without a colon, bad names, bare CR and orphan continuations', () => {
    expect(parseError(lines(...OPTIONS_HEAD, 'NoColonHere', '', '')).code).toBe('MalformedHeader');
    expect(parseError(lines(...OPTIONS_HEAD, 'Bad Name: x', '', '')).code).toBe('MalformedHeader');
    expect(parseError(lines(...OPTIONS_HEAD, 'X-A: a\rb', '', '')).code).toBe('MalformedHeader');
    const orphan = Buffer.from(
      `OPTIONS sip:b@example.com SIP/2.0\r\n folded\r\n${OPTIONS_HEAD.slice(1).join('\r\n')}\r\n\r\n`,
    );
    expect(parseError(orphan).code).toBe('MalformedHeader');
  });

  it('expands every compact header form', () => {
    const data = lines(
      'INVITE sip:b@example.com SIP/2.0',
      'v: SIP/2.0/UDP h.example.com;branch=z9hG4bK2',
      'f: <sip:a@example.com>;tag=1',
      't: <sip:b@example.com>',
      'i: call-2',
      'CSeq: 2 INVITE',
      'm: <sip:a@192.0.2.4>',
      'c: text/plain',
      'k: timer',
      's: hi',
      'e: identity',
      'o: dialog',
      'r: <sip:c@example.com>',
      'b: <sip:d@example.com>',
      'u: dialog',
      'x: 1800',
      'l: 0',
      '',
      '',
    );
    const m = parseRequest(data);
    expect([...m.headers].map((f) => f.name)).toEqual([
      'Via',
      'From',
      'To',
      'Call-ID',
      'CSeq',
      'Contact',
      'Content-Type',
      'Supported',
      'Subject',
      'Content-Encoding',
      'Event',
      'Refer-To',
      'Referred-By',
      'Allow-Events',
      'Session-Expires',
      'Content-Length',
    ]);
  });

  it('handles IPv6 references in the Request-URI, Via and Contact', () => {
    const data = lines(
      'INVITE sip:alice@[2001:db8::10]:5070;transport=udp SIP/2.0',
      'Via: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK6;received=2001:db8::2;rport=5061',
      'To: <sip:alice@[2001:db8::10]>',
      'From: <sip:bob@[2001:db8::1]>;tag=6',
      'Call-ID: v6',
      'CSeq: 1 INVITE',
      'Contact: <sip:bob@[2001:db8::1]:5060>',
      'Content-Length: 0',
      '',
      '',
    );
    const m = parseRequest(data);
    expect(parseUri(m.uri)).toMatchObject({ host: '[2001:db8::10]', port: 5070 });
    const via = headerValues.parseVia(header(m, 'Via'))!;
    expect(via).toMatchObject({ host: '[2001:db8::1]', port: 5060, received: '2001:db8::2', rport: 5061 });
    expect(nameAddr(m, 'Contact').uri).toMatchObject({ host: '[2001:db8::1]', port: 5060 });
    expect(
      parseError(Buffer.from(data.toString().replace('[2001:db8::10]:5070', '[2001:db8::zz]:5070'))).code,
    ).toBe('InvalidRequestUri');
  });

  it('validates status lines', () => {
    const rest = [
      'Via: SIP/2.0/UDP h;branch=z9hG4bK1',
      'To: <sip:b@h>',
      'From: <sip:a@h>;tag=1',
      'Call-ID: x',
      'CSeq: 1 INVITE',
      '',
      '',
    ];
    expect(parseResponse(lines('SIP/2.0 180', ...rest))).toMatchObject({ status: 180, reason: '' });
    expect(parseResponse(lines('SIP/2.0 486 Busy Here', ...rest))).toMatchObject({
      status: 486,
      reason: 'Busy Here',
    });
    expect(parseError(lines('SIP/2.0 20 OK', ...rest)).code).toBe('InvalidStatusCode');
    expect(parseError(lines('SIP/2.0 099 Low', ...rest)).code).toBe('InvalidStatusCode');
    expect(parseError(lines('SIP/2.0 700 High', ...rest)).code).toBe('InvalidStatusCode');
    expect(parseError(lines('SIP/3.0 200 OK', ...rest)).code).toBe('VersionNotSupported');
    expect(parseError(lines('SIP/2.x 200 OK', ...rest)).code).toBe('MalformedStartLine');
    expect(parseError(lines('SIP/2.0 200 OK', ...rest.slice(1))).code).toBe('MissingHeader');
  });

  it('validates request lines, CSeq and Max-Forwards', () => {
    expect(
      parseError(lines('INV@ITE sip:b@example.com SIP/2.0', ...OPTIONS_HEAD.slice(1), '', '')).code,
    ).toBe('MalformedStartLine');
    expect(parseError(lines('OPTIONS sip:b@example.com', ...OPTIONS_HEAD.slice(1), '', '')).code).toBe(
      'MalformedStartLine',
    );
    expect(
      parseError(lines('OPTIONS sip:b@example.com HTTP/1.1', ...OPTIONS_HEAD.slice(1), '', '')).code,
    ).toBe('MalformedStartLine');
    const withCSeq = (cseq: string) =>
      lines(...OPTIONS_HEAD.filter((l) => !l.startsWith('CSeq')), `CSeq: ${cseq}`, '', '');
    expect(parseRequest(withCSeq('4294967295 OPTIONS'))).toBeDefined();
    expect(parseError(withCSeq('4294967296 OPTIONS')).code).toBe('InvalidHeaderValue');
    expect(parseError(withCSeq('-1 OPTIONS')).code).toBe('InvalidHeaderValue');
    expect(parseError(withCSeq('1')).code).toBe('InvalidHeaderValue');
    const withMaxForwards = (value: string) =>
      lines(...OPTIONS_HEAD.filter((l) => !l.startsWith('Max-Forwards')), `Max-Forwards: ${value}`, '', '');
    expect(parseError(withMaxForwards('many')).code).toBe('InvalidHeaderValue');
    expect(parseError(withMaxForwards('256')).code).toBe('InvalidHeaderValue');
    expect(parseRequest(withMaxForwards('255'))).toBeDefined();
    // Max-Forwards is optional.
    expect(
      parseRequest(lines(...OPTIONS_HEAD.filter((l) => !l.startsWith('Max-Forwards')), '', '')),
    ).toBeDefined();
    expect(parseError(lines(...OPTIONS_HEAD, 'Call-ID: second', '', '')).code).toBe('DuplicateHeader');
    expect(parseError(lines(...OPTIONS_HEAD.filter((l) => !l.startsWith('Via')), '', '')).code).toBe(
      'MissingHeader',
    );
  });

  it('accepts ACK and CANCEL with their own CSeq methods and tel: Request-URIs', () => {
    const ack = lines(...OPTIONS_HEAD.map((l) => l.replace(/OPTIONS/g, 'ACK')), '', '');
    expect(parseRequest(ack).method).toBe('ACK');
    const tel = lines(
      ...OPTIONS_HEAD.map((l, k) => (k === 0 ? 'OPTIONS tel:+358-40-100-0001 SIP/2.0' : l)),
      '',
      '',
    );
    expect(parseRequest(tel).uri).toBe('tel:+358-40-100-0001');
  });

  it('decodes UTF-8 in display names, reason phrases and extension headers', () => {
    const data = lines(
      'MESSAGE sip:jörg@example.com SIP/2.0',
      ...OPTIONS_HEAD.slice(1).map((l) =>
        l.startsWith('From')
          ? 'From: "Jörg Müller 😀" <sip:j@example.com>;tag=1'
          : l.replace('OPTIONS', 'MESSAGE'),
      ),
      'X-Note: päivää',
      '',
      '',
    );
    // Raw non-ASCII is not allowed in a SIP URI user part.
    expect(parseError(data).code).toBe('InvalidRequestUri');
    const ok = Buffer.from(data.toString().replace('jörg@', 'j%C3%B6rg@'));
    const m = parseRequest(ok);
    expect(parseUri(m.uri)!.user).toBe('jörg');
    expect(nameAddr(m, 'From').displayName).toBe('Jörg Müller 😀');
    expect(m.headers.get('X-Note')).toBe('päivää');
  });
});

describe('SipStreamFramer', () => {
  const invite = V.wsinv.bytes;
  const options = lines(...OPTIONS_HEAD, 'Content-Length: 0', '', '');

  it('returns several messages from one chunk, exactly as sent', () => {
    const framer = new SipStreamFramer();
    const out = framer.push(Buffer.concat([invite, options, invite]));
    expect(out.map((b) => b.toString('latin1'))).toEqual(
      [invite, options, invite].map((b) => b.toString('latin1')),
    );
    expect(framer.pendingBytes).toBe(0);
    for (const message of out) expect(parseMessage(message).ok).toBe(true);
  });

  it('reassembles a message fed one byte at a time', () => {
    const framer = new SipStreamFramer();
    const out: Buffer[] = [];
    const stream = Buffer.concat([invite, options]);
    for (let i = 0; i < stream.length; i++) out.push(...framer.push(stream.subarray(i, i + 1)));
    expect(out).toHaveLength(2);
    expect(out[0]!.equals(invite)).toBe(true);
    expect(out[1]!.equals(options)).toBe(true);
    expect(framer.error).toBeUndefined();
  });

  it('reassembles across arbitrary chunk boundaries', () => {
    const stream = Buffer.concat([options, invite, V.mpart01.bytes, options]);
    for (const size of [7, 64, 333, 1000]) {
      const framer = new SipStreamFramer();
      const out: Buffer[] = [];
      for (let i = 0; i < stream.length; i += size) out.push(...framer.push(stream.subarray(i, i + size)));
      expect(Buffer.concat(out).equals(stream), `chunk ${size}`).toBe(true);
      expect(out).toHaveLength(4);
    }
  });

  it('reports CRLFCRLF keep-alive pings between messages, even split across chunks', () => {
    let pings = 0;
    const framer = new SipStreamFramer({ onKeepAlive: () => pings++ });
    expect(framer.push(Buffer.from('\r\n\r\n'))).toEqual([]);
    expect(pings).toBe(1);
    expect(framer.push(Buffer.from('\r\n'))).toEqual([]);
    expect(framer.push(Buffer.from('\r\n'))).toEqual([]);
    expect(pings).toBe(2);
    const out = framer.push(Buffer.concat([Buffer.from('\r\n'), options]));
    expect(out).toHaveLength(1);
    expect(out[0]!.equals(options)).toBe(true);
  });

  it('frames by compact and folded Content-Length', () => {
    const compact = lines(...OPTIONS_HEAD, 'Content-Type: text/plain', 'l: 5', '', 'HelloTRAILING');
    const framer = new SipStreamFramer();
    expect(framer.push(compact).map((b) => b.toString())).toEqual([`${compact.toString().slice(0, -8)}`]);
    const folded = lines(...OPTIONS_HEAD, 'Content-Type: text/plain', 'Content-Length:', '  3', '', 'abc');
    expect(new SipStreamFramer().push(folded)).toHaveLength(1);
  });

  it('fails the stream on a missing Content-Length and stays failed', () => {
    const framer = new SipStreamFramer();
    const out = framer.push(Buffer.concat([options, lines(...OPTIONS_HEAD, '', ''), options]));
    expect(out).toHaveLength(1);
    expect(framer.error?.code).toBe('MissingContentLength');
    expect(framer.push(options)).toEqual([]);
    expect(framer.pendingBytes).toBe(0);
  });

  it('fails the stream on a bad Content-Length, an oversize message or endless headers', () => {
    const bad = new SipStreamFramer();
    bad.push(lines(...OPTIONS_HEAD, 'Content-Length: -1', '', ''));
    expect(bad.error?.code).toBe('InvalidContentLength');

    const small = new SipStreamFramer({ maxMessageBytes: 500 });
    expect(small.push(invite)).toEqual([]);
    expect(small.error?.code).toBe('MessageTooLarge');

    const endless = new SipStreamFramer({ maxHeaderBytes: 1024 });
    for (let i = 0; i < 40 && !endless.error; i++)
      endless.push(Buffer.from(`X-Header-${i}: ${'v'.repeat(40)}\r\n`));
    expect(endless.error?.code).toBe('HeadersTooLarge');
    expect(endless.pendingBytes).toBe(0);
  });
});
