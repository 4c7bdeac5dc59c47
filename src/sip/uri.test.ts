import { describe, expect, it } from 'vitest';
import {
  formatUri,
  isIPv4Address,
  isValidHost,
  isValidUri,
  parseUri,
  type SipUri,
  uriEquals,
} from './uri.js';

function uri(text: string): SipUri {
  const parsed = parseUri(text);
  if (!parsed) throw new Error(`${text} does not parse`);
  return parsed;
}

describe('parseUri', () => {
  it('parses every component of a SIP URI', () => {
    const parsed = uri(
      'sip:alice:secret@atlanta.example.com:5070;transport=tcp;lr;maddr=239.255.255.1?subject=project%20x&priority=urgent',
    );
    expect(parsed).toEqual({
      scheme: 'sip',
      user: 'alice',
      password: 'secret',
      host: 'atlanta.example.com',
      port: 5070,
      params: new Map([
        ['transport', 'tcp'],
        ['lr', null],
        ['maddr', '239.255.255.1'],
      ]),
      headers: new Map([
        ['subject', 'project x'],
        ['priority', 'urgent'],
      ]),
    });
  });

  it('parses a host-only URI, sips, and lowercases scheme and parameter names', () => {
    expect(uri('SIPS:Example.COM;Transport=TLS')).toEqual({
      scheme: 'sips',
      host: 'Example.COM',
      params: new Map([['transport', 'TLS']]),
      headers: new Map(),
    });
  });

  it('decodes escapes in user, password, parameters and headers', () => {
    const parsed = uri(
      'sip:I%20have%20spaces:p%40ss@example.net;n%61me=v%61lue%25%34%31?h%65ader=%3Csip:x%3E',
    );
    expect(parsed.user).toBe('I have spaces');
    expect(parsed.password).toBe('p@ss');
    expect(parsed.params.get('name')).toBe('value%41');
    expect(parsed.headers.get('header')).toBe('<sip:x>');
    expect(uri('sip:j%C3%B6rg@example.com').user).toBe('jörg');
    expect(uri('sip:%00@example.com').user).toBe('\0');
  });

  it('keeps the first of repeated parameters', () => {
    expect(uri('sip:a@b;x=1;X=2').params).toEqual(new Map([['x', '1']]));
  });

  it('accepts telephone-subscriber user parts and IPv6 references', () => {
    expect(uri('sip:+1-212-555-1212;phone-context=example.com@gw.example.com;user=phone')).toMatchObject({
      user: '+1-212-555-1212;phone-context=example.com',
      host: 'gw.example.com',
    });
    expect(uri('sip:alice@[2001:db8::1]:5060')).toMatchObject({ host: '[2001:db8::1]', port: 5060 });
    expect(uri('sip:[::1]')).toMatchObject({ host: '[::1]' });
    expect(uri('sip:bob@192.0.2.4')).toMatchObject({ host: '192.0.2.4' });
  });

  it('parses tel: URIs with the number as host', () => {
    expect(uri('tel:+358-40-100-0001;phone-context=+358')).toEqual({
      scheme: 'tel',
      host: '+358-40-100-0001',
      params: new Map([['phone-context', '+358']]),
      headers: new Map(),
    });
    expect(uri('tel:100')).toMatchObject({ host: '100' });
  });

  it('returns other absolute URIs as opaque', () => {
    expect(uri('urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6')).toEqual({
      scheme: 'urn',
      host: '',
      opaque: 'uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
      params: new Map(),
      headers: new Map(),
    });
    expect(uri('soap.beep://192.0.2.103:3002')).toMatchObject({
      scheme: 'soap.beep',
      opaque: '//192.0.2.103:3002',
    });
  });

  it('rejects what is not a URI', () => {
    for (const text of [
      '',
      'sip:',
      'sip:@example.com',
      'sip:alice@',
      'sip:alice@example.com:70000',
      'sip:alice@example.com:',
      'sip:alice@example.com:50a',
      'sip:a@b@c',
      'sip:alice smith@example.com',
      'sip:alice@exa mple.com',
      '<sip:alice@example.com>',
      'sip:alice@example.com>',
      'sip:jörg@example.com',
      'sip:a%G1@example.com',
      'sip:a%4@example.com',
      'sip:alice@example..com',
      'sip:alice@.example.com',
      'sip:alice@192.0.2.256',
      'sip:alice@1.2.3',
      'sip:alice@[2001:db8::zz]',
      'sip:alice@[2001:db8::1',
      'sip:alice@[fe80::1%25eth0]',
      'sip:alice@example.com;=x',
      'sip:alice@example.com;x=',
      'sip:alice@example.com;;x',
      'sip:alice@example.com?x',
      'sip:alice@example.com?=x',
      'tel:',
      'tel:+1 555',
      '1sip:alice@example.com',
      ':alice',
      'opaque:',
      'opaque:with space',
      'mailto:<x>',
    ]) {
      expect(parseUri(text), text).toBeUndefined();
      expect(isValidUri(text), text).toBe(false);
    }
  });

  it('isValidUri agrees with parseUri on valid URIs', () => {
    for (const text of [
      'sip:a@b',
      'sips:[::1]:5061',
      'tel:+1;x=y',
      'urn:x',
      'sip:a@b;lr?h=',
      "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com",
    ]) {
      expect(isValidUri(text), text).toBe(true);
      expect(parseUri(text), text).toBeDefined();
    }
  });
});

describe('formatUri', () => {
  it('re-escapes what the grammar requires', () => {
    const parsed = uri('sip:I%20have%20spaces@example.net;n%61me=v%61lue%25%34%31');
    expect(formatUri(parsed)).toBe('sip:I%20have%20spaces@example.net;name=value%2541');
    expect(
      formatUri({ scheme: 'sip', user: 'a@b;c', host: 'h', params: new Map(), headers: new Map() }),
    ).toBe('sip:a%40b;c@h');
    expect(formatUri({ scheme: 'sip', user: 'jörg', host: 'h', params: new Map(), headers: new Map() })).toBe(
      'sip:j%C3%B6rg@h',
    );
  });

  it('formats every form back to an equal URI', () => {
    for (const text of [
      'sip:alice:secret@atlanta.example.com:5070;transport=tcp;lr?subject=project%20x&priority=urgent',
      'sips:[2001:db8::1]:5061;transport=tls',
      'tel:+358-40-100-0001;phone-context=+358',
      'urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
      'sip:%00%00@host5.example.com',
    ]) {
      const parsed = uri(text);
      expect(parseUri(formatUri(parsed)), text).toEqual(parsed);
    }
    expect(formatUri(uri('sip:alice@atlanta.example.com;lr'))).toBe('sip:alice@atlanta.example.com;lr');
  });
});

describe('uriEquals (RFC 3261 §19.1.4)', () => {
  const equal = (a: string, b: string) => uriEquals(uri(a), uri(b));

  it('matches the RFC examples of equivalent URIs', () => {
    expect(equal('sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp')).toBe(true);
    expect(equal('sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5')).toBe(true);
    expect(equal('sip:carol@chicago.com', 'sip:carol@chicago.com;security=on')).toBe(true);
    expect(equal('sip:carol@chicago.com;newparam=5', 'sip:carol@chicago.com;security=on')).toBe(true);
    expect(
      equal(
        'sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com',
        'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com',
      ),
    ).toBe(true);
    expect(
      equal(
        'sip:alice@atlanta.com?subject=project%20x&priority=urgent',
        'sip:alice@atlanta.com?priority=urgent&subject=project%20x',
      ),
    ).toBe(true);
  });

  it('matches the RFC examples of URIs that are not equivalent', () => {
    expect(equal('SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP')).toBe(false);
    expect(equal('sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060')).toBe(false);
    expect(equal('sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp')).toBe(false);
    expect(equal('sip:bob@biloxi.com', 'sip:bob@biloxi.com:6000;transport=tcp')).toBe(false);
    expect(equal('sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting')).toBe(false);
    expect(equal('sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4')).toBe(false);
    expect(equal('sip:carol@chicago.com;security=on', 'sip:carol@chicago.com;security=off')).toBe(false);
    expect(equal('sip:alice@atlanta.com', 'sips:alice@atlanta.com')).toBe(false);
    expect(equal('sip:alice:x@atlanta.com', 'sip:alice@atlanta.com')).toBe(false);
  });

  it('compares tel: numbers without visual separators, and opaque URIs exactly', () => {
    expect(equal('tel:+358-40-100-0001', 'tel:+358401000001')).toBe(true);
    expect(equal('tel:+358-40-100-0001', 'tel:+358401000002')).toBe(false);
    expect(equal('tel:100;phone-context=example.com', 'tel:100;phone-context=EXAMPLE.com')).toBe(true);
    expect(equal('tel:100;phone-context=example.com', 'tel:100')).toBe(false);
    expect(equal('urn:x:1', 'urn:x:1')).toBe(true);
    expect(equal('urn:x:1', 'urn:x:2')).toBe(false);
  });
});

describe('host helpers', () => {
  it('validates hosts', () => {
    expect(isValidHost('example.com')).toBe(true);
    expect(isValidHost('example.com.')).toBe(true);
    expect(isValidHost('my_host-1')).toBe(true);
    expect(isValidHost('[::ffff:192.0.2.1]')).toBe(true);
    expect(isValidHost('::1')).toBe(false);
    expect(isValidHost('')).toBe(false);
    expect(isIPv4Address('255.255.255.255')).toBe(true);
    expect(isIPv4Address('256.1.1.1')).toBe(false);
    expect(isIPv4Address('1.1.1.1.1')).toBe(false);
  });
});
