import { describe, expect, it } from 'vitest';
import {
  formatAuthParams,
  formatNameAddr,
  formatParams,
  formatVia,
  getExpires,
  getTag,
  isValidContactList,
  isValidNameAddr,
  isValidVia,
  parseAuthParams,
  parseContactList,
  parseCSeq,
  parseDeltaSeconds,
  parseNameAddr,
  parseSipDate,
  parseUnsigned,
  parseVia,
  parseViaList,
  quote,
  unquote,
  type Via,
} from './headers.js';

describe('parseNameAddr', () => {
  it('parses a quoted display name, the URI, and header parameters', () => {
    const parsed = parseNameAddr(
      '"Bob \\"B\\" Smith" <sip:bob@biloxi.example.com;transport=udp>;tag=a6c85cf;x',
    );
    expect(parsed).toEqual({
      displayName: 'Bob "B" Smith',
      uri: {
        scheme: 'sip',
        user: 'bob',
        host: 'biloxi.example.com',
        params: new Map([['transport', 'udp']]),
        headers: new Map(),
      },
      uriText: 'sip:bob@biloxi.example.com;transport=udp',
      params: new Map([
        ['tag', 'a6c85cf'],
        ['x', null],
      ]),
    });
  });

  it('parses token display names, bare <URI> and the addr-spec form', () => {
    expect(parseNameAddr('Bob  Smith <sip:bob@b.example>')?.displayName).toBe('Bob Smith');
    expect(parseNameAddr('<sip:bob@b.example>')?.displayName).toBeUndefined();
    expect(parseNameAddr('"" <sip:bob@b.example>')?.displayName).toBe('');
    // Not a token, but sent by real UAs and unambiguous before '<'.
    expect(parseNameAddr('Jörg Müller <sip:j@b.example>')?.displayName).toBe('Jörg Müller');
    const addrSpec = parseNameAddr('  sip:bob@b.example;tag=1 ; expires = 60 ');
    expect(addrSpec?.uriText).toBe('sip:bob@b.example');
    expect(addrSpec?.uri.params.size).toBe(0);
    expect(addrSpec?.params).toEqual(
      new Map([
        ['tag', '1'],
        ['expires', '60'],
      ]),
    );
    expect(parseNameAddr('tel:+358401000001;tag=9')).toMatchObject({
      uri: { scheme: 'tel', host: '+358401000001' },
    });
  });

  it('keeps quoted parameter values raw; unquote gives their content', () => {
    const parsed = parseNameAddr(
      '<sip:a@192.0.2.1>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>";reg-id=1',
    );
    expect(parsed?.params.get('+sip.instance')).toBe('"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"');
    expect(unquote(parsed!.params.get('+sip.instance')!)).toBe(
      '<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>',
    );
    // A quoted value containing '<' does not turn an addr-spec into a name-addr.
    expect(parseNameAddr('sip:a@192.0.2.1;+sip.instance="<urn:x>"')?.params.get('+sip.instance')).toBe(
      '"<urn:x>"',
    );
  });

  it('rejects malformed values', () => {
    for (const value of [
      '',
      '   ',
      '"unterminated <sip:a@b>',
      '"Joe" sip:a@b',
      '<sip:a@b',
      '< sip:a@b >',
      'Bell, Alexander <sip:a@b>',
      'sip:a@b?subject=x',
      'sip:a@b, sip:c@d',
      '<sip:a@b>;;',
      '<sip:a@b>;tag=',
      '<sip:a@b>;tag="x',
      '<sip:a@b> trailing',
      '<not a uri>',
      'garbage',
    ]) {
      expect(parseNameAddr(value), value).toBeUndefined();
      expect(isValidNameAddr(value), value).toBe(false);
    }
  });

  it('formats with angle brackets and a quoted, escaped display name', () => {
    // An unquoted display name may only hold tokens.
    expect(parseNameAddr('A "quoted" \\ name <sip:a@b>;tag=1')).toBeUndefined();
    const nameAddr = parseNameAddr('"A \\"quoted\\" \\\\ name" <sip:a@b>;tag=1')!;
    expect(nameAddr.displayName).toBe('A "quoted" \\ name');
    expect(formatNameAddr(nameAddr)).toBe('"A \\"quoted\\" \\\\ name" <sip:a@b>;tag=1');
    expect(formatNameAddr(parseNameAddr('sip:a@b;lr')!)).toBe('<sip:a@b>;lr');
    expect(
      formatNameAddr({ ...nameAddr, displayName: undefined, params: new Map([['expires', '60']]) }),
    ).toBe('<sip:a@b>;expires=60');
  });

  it('getTag reads the tag of From / To values', () => {
    expect(getTag('"A" <sip:a@b>;tag=xyz')).toBe('xyz');
    expect(getTag('sip:a@b;tag=1')).toBe('1');
    expect(getTag('<sip:a@b;tag=uri-param>')).toBeUndefined();
    expect(getTag('<sip:a@b>;tag')).toBeUndefined();
    expect(getTag('nonsense')).toBeUndefined();
  });
});

describe('Via', () => {
  it('parses sent-protocol, sent-by and the parameters', () => {
    const via = parseVia(
      'SIP/2.0/UDP pc33.atlanta.example.com:5066;branch=z9hG4bK776asdhds;received=192.0.2.1;rport=5067;ttl=1',
    )!;
    expect(via).toMatchObject({
      protocol: 'SIP/2.0',
      transport: 'UDP',
      host: 'pc33.atlanta.example.com',
      port: 5066,
      branch: 'z9hG4bK776asdhds',
      received: '192.0.2.1',
      rport: 5067,
    });
    expect(via.params.get('ttl')).toBe('1');
    expect(parseVia('sip / 2.0 / ws  df7jal23ls0d.invalid ; rport ; branch = z9hG4bK1')).toMatchObject({
      transport: 'WS',
      host: 'df7jal23ls0d.invalid',
      rport: null,
      branch: 'z9hG4bK1',
    });
    expect(parseVia('SIP/2.0/TCP [2001:db8::9] : 5060')).toMatchObject({ host: '[2001:db8::9]', port: 5060 });
    expect(parseVia('SIP/2.0/UDP h')?.port).toBeUndefined();
  });

  it('rejects malformed values', () => {
    for (const value of [
      '',
      'SIP/3.0/UDP h',
      'SIPS/2.0/UDP h',
      'SIP/2.0 UDP h',
      'SIP/2.0/UDP',
      'SIP/2.0/UDPh',
      'SIP/2.0/UDP h:99999',
      'SIP/2.0/UDP h:',
      'SIP/2.0/UDP bad host',
      'SIP/2.0/UDP h;;',
      'SIP/2.0/UDP h;branch',
      'SIP/2.0/UDP h;received',
      'SIP/2.0/UDP h;rport=abc',
      'SIP/2.0/UDP [::1',
    ]) {
      expect(parseVia(value), value).toBeUndefined();
      expect(isValidVia(value), value).toBe(false);
    }
  });

  it('keeps branch / received / rport in sync with params', () => {
    const via = parseVia('SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa;rport')!;
    via.params.set('received', '192.0.2.9');
    via.params.set('rport', '40000');
    expect(via.received).toBe('192.0.2.9');
    expect(via.rport).toBe(40000);
    via.branch = 'z9hG4bKb';
    via.rport = null;
    expect(via.params.get('branch')).toBe('z9hG4bKb');
    expect(formatVia(via)).toBe('SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKb;rport;received=192.0.2.9');
    via.received = undefined;
    expect(via.params.has('received')).toBe(false);
  });

  it('formats plain objects, writing the convenience fields', () => {
    const via: Via = {
      protocol: 'SIP/2.0',
      transport: 'WS',
      host: 'edge.example.com',
      params: new Map([['alias', null]]),
      branch: 'z9hG4bKxyz',
      rport: null,
    };
    expect(formatVia(via)).toBe('SIP/2.0/WS edge.example.com;alias;branch=z9hG4bKxyz;rport');
    expect(via.params.has('branch')).toBe(false);
    const again = parseVia(formatVia(via))!;
    expect(formatVia(again)).toBe(formatVia(via));
  });

  it('parses comma-separated Via lines', () => {
    const vias = parseViaList([
      'SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP b;branch=z9hG4bK2',
      'SIP/2.0/TLS c',
    ])!;
    expect(vias.map((v) => v.host)).toEqual(['a', 'b', 'c']);
    expect(parseViaList(['SIP/2.0/UDP a, nonsense'])).toBeUndefined();
  });
});

describe('CSeq and numbers', () => {
  it('parses CSeq', () => {
    expect(parseCSeq('4711 INVITE')).toEqual({ seq: 4711, method: 'INVITE' });
    expect(parseCSeq('  0009 \t ACK ')).toEqual({ seq: 9, method: 'ACK' });
    expect(parseCSeq('4294967295 BYE')).toEqual({ seq: 4294967295, method: 'BYE' });
    for (const bad of ['4294967296 BYE', '1', 'INVITE', '1INVITE', '-1 BYE', '1 IN VITE', '1 INV@TE', '']) {
      expect(parseCSeq(bad), bad).toBeUndefined();
    }
  });

  it('parses bounded unsigned values and delta-seconds', () => {
    expect(parseUnsigned(' 070 ', 255)).toBe(70);
    expect(parseUnsigned('256', 255)).toBeUndefined();
    expect(parseUnsigned('', 255)).toBeUndefined();
    expect(parseUnsigned('1e3', 5000)).toBeUndefined();
    expect(parseDeltaSeconds('3600')).toBe(3600);
    expect(parseDeltaSeconds('4294967296')).toBeUndefined();
    expect(parseDeltaSeconds(null)).toBeUndefined();
  });

  it('parses GMT dates only (RFC 3261 §20.17)', () => {
    expect(parseSipDate('Sat, 13 Nov 2010 23:29:00 GMT')?.toISOString()).toBe('2010-11-13T23:29:00.000Z');
    expect(parseSipDate('Fri, 01 Jan 2010 16:00:00 EST')).toBeUndefined();
    expect(parseSipDate('Sun, 13 Nov 2010 23:29:00 GMT')).toBeUndefined();
    expect(parseSipDate('Sat, 31 Feb 2010 23:29:00 GMT')).toBeUndefined();
  });
});

describe('Contact', () => {
  it('parses "*"', () => {
    expect(parseContactList('*')).toEqual({ star: true });
    expect(parseContactList(' * ')).toEqual({ star: true });
    expect(parseContactList(['*', '<sip:a@b>'])).toBeUndefined();
    expect(parseContactList('*, <sip:a@b>')).toBeUndefined();
  });

  it('parses lists across commas and lines', () => {
    const list = parseContactList([
      '"Mr. Watson" <sip:watson@worcester.example.com>;q=0.7; expires=3600, "Mr. Watson" <mailto:watson@bell.example.com> ;q=0.1',
      'sip:watson@192.0.2.8;expires=0',
    ]);
    if (!list || list.star) throw new Error('list expected');
    expect(list.contacts.map((c) => c.uri.scheme)).toEqual(['sip', 'mailto', 'sip']);
    expect(list.contacts.map((c) => getExpires(c, '1800'))).toEqual([3600, 1800, 0]);
    expect(isValidContactList(['<sip:a@b>', 'sip:c@d'])).toBe(true);
  });

  it('rejects malformed or empty lists', () => {
    for (const value of [
      '',
      '<sip:a@b>, garbage',
      '"unterminated <sip:a@b>',
      'sip:user@example.com?Route=%3Csip:x%3E',
    ]) {
      expect(parseContactList(value), value).toBeUndefined();
      expect(isValidContactList(value), value).toBe(false);
    }
  });

  it('reads expires from the parameter, then the header, ignoring out-of-range values', () => {
    const contact = parseNameAddr('<sip:a@b>;expires=280297596632815')!;
    expect(getExpires(contact)).toBeUndefined();
    expect(getExpires(contact, '600')).toBe(600);
    expect(getExpires(parseNameAddr('<sip:a@b>')!)).toBeUndefined();
  });
});

describe('authentication parameters', () => {
  it('parses a challenge with quoted values containing commas', () => {
    expect(
      parseAuthParams(
        'Digest realm="atlanta.example.com", domain="sip:ss1.example.com", qop="auth,auth-int", nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=FALSE, algorithm=MD5',
      ),
    ).toEqual({
      scheme: 'Digest',
      params: new Map([
        ['realm', 'atlanta.example.com'],
        ['domain', 'sip:ss1.example.com'],
        ['qop', 'auth,auth-int'],
        ['nonce', 'f84f1cec41e6cbe5aea9c8e88d359'],
        ['opaque', ''],
        ['stale', 'FALSE'],
        ['algorithm', 'MD5'],
      ]),
    });
  });

  it('parses credentials, unknown schemes, escapes and tolerant spacing', () => {
    const creds = parseAuthParams(
      'Digest username="bob",realm="b.example" , nonce = "n\\"1", uri="sip:b.example", response="abc", qop=auth, nc=00000001, cnonce="0a4f113b"',
    )!;
    expect(creds.params.get('nonce')).toBe('n"1');
    expect(creds.params.get('qop')).toBe('auth');
    expect(creds.params.get('nc')).toBe('00000001');
    expect(parseAuthParams('NoOneKnowsThisScheme opaque-data=here')).toEqual({
      scheme: 'NoOneKnowsThisScheme',
      params: new Map([['opaque-data', 'here']]),
    });
    expect(parseAuthParams('Negotiate')).toEqual({ scheme: 'Negotiate', params: new Map() });
    expect(parseAuthParams('Digest REALM="x",,nonce="y",')?.params).toEqual(
      new Map([
        ['realm', 'x'],
        ['nonce', 'y'],
      ]),
    );
  });

  it('rejects malformed values', () => {
    for (const value of [
      '',
      'Digest realm',
      'Digest realm="x',
      'Digest realm=x nonce=y',
      'Digest,realm=x',
      'Digest realm=',
      '"Digest" realm=x',
    ]) {
      expect(parseAuthParams(value), value).toBeUndefined();
    }
  });

  it('formats challenges and credentials with the right quoting', () => {
    const challenge = {
      scheme: 'Digest',
      params: new Map([
        ['realm', 'switchboard.local'],
        ['nonce', 'abc'],
        ['algorithm', 'MD5'],
        ['qop', 'auth'],
        ['stale', 'true'],
      ]),
    };
    expect(formatAuthParams(challenge)).toBe(
      'Digest realm="switchboard.local", nonce="abc", algorithm=MD5, qop="auth", stale=true',
    );
    const credentials = {
      scheme: 'Digest',
      params: new Map([
        ['username', '1001'],
        ['uri', 'sip:100@switchboard.local'],
        ['response', '6629fae49393a05397450978507c4ef1'],
        ['qop', 'auth'],
        ['nc', '00000001'],
        ['cnonce', 'x"y'],
      ]),
    };
    expect(formatAuthParams(credentials)).toBe(
      'Digest username="1001", uri="sip:100@switchboard.local", response="6629fae49393a05397450978507c4ef1", qop=auth, nc=00000001, cnonce="x\\"y"',
    );
    expect(parseAuthParams(formatAuthParams(credentials))).toEqual(credentials);
    expect(formatAuthParams(challenge, 'credentials')).toContain('qop=auth');
  });
});

describe('quoting helpers', () => {
  it('quotes and unquotes', () => {
    expect(quote('a "b" \\ c')).toBe('"a \\"b\\" \\\\ c"');
    expect(quote('line\r\nbreak\x07')).toBe('"line  break\\\x07"');
    expect(unquote('"a \\"b\\""')).toBe('a "b"');
    expect(unquote('token')).toBe('token');
    expect(unquote('"unterminated')).toBe('"unterminated');
  });

  it('quotes non-token parameter values when formatting', () => {
    expect(
      formatParams(
        new Map<string, string | null>([
          ['a', 'b c'],
          ['d', null],
          ['e', '"kept"'],
          ['f', '[::1]'],
        ]),
      ),
    ).toBe(';a="b c";d;e="kept";f=[::1]');
  });
});
