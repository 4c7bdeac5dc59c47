/**
 * SIP, SIPS and tel URIs (RFC 3261 §19.1, §25.1; RFC 3966), plus opaque absolute URIs of other
 * schemes. Components are kept percent-decoded so that comparison (§19.1.4) and lookups work on
 * what the URI means; `formatUri` re-escapes whatever the grammar requires.
 */

import { isIPv6 } from 'node:net';

export interface SipUri {
  /** Lowercase scheme: 'sip', 'sips', 'tel', or any other scheme (then `opaque` holds the rest). */
  scheme: string;
  /** Decoded user part (may contain any character, including ';', '@' or NUL once decoded). */
  user?: string;
  /** Decoded password (deprecated by RFC 3261 but part of the grammar). */
  password?: string;
  /**
   * Host as written: a hostname, an IPv4 address or a bracketed IPv6 reference (`[2001:db8::1]`).
   * For tel: URIs, the telephone number. Empty for opaque URIs of other schemes.
   */
  host: string;
  port?: number;
  /** URI parameters, names lowercased, values decoded; `null` for a parameter without value (`;lr`). */
  params: Map<string, string | null>;
  /** URI headers (`?subject=x&priority=urgent`), decoded. */
  headers: Map<string, string>;
  /** For schemes other than sip/sips/tel: everything after `scheme:`, verbatim. */
  opaque?: string;
}

// ---- character classes (RFC 3261 §25.1) ----

const TOKEN = 1;
const USER = 2; // unreserved / user-unreserved
const PASSWORD = 4; // unreserved / & = + $ ,
const PARAM = 8; // unreserved / param-unreserved
const HNV = 16; // unreserved / hnv-unreserved
const URIC = 32; // reserved / unreserved
const HOST = 64; // alphanum - . _
const TEL = 128; // phonedigit-hex, visual separators, + * #

const CLASS = new Uint8Array(128);
function mark(chars: string, flags: number): void {
  for (let i = 0; i < chars.length; i++) CLASS[chars.charCodeAt(i)]! |= flags;
}
const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const MARK = "-_.!~*'()";
mark(ALNUM, TOKEN | USER | PASSWORD | PARAM | HNV | URIC | HOST);
mark(MARK, USER | PASSWORD | PARAM | HNV | URIC);
mark("-.!%*_+`'~", TOKEN);
mark('&=+$,;?/', USER);
mark('&=+$,', PASSWORD);
mark('[]/:&+$', PARAM);
mark('[]/?:+$', HNV);
mark(';/?:@&=+$,', URIC);
mark('-._', HOST);
mark('0123456789abcdefABCDEF*#+-.()pPwW', TEL);

/** True for a character allowed in an RFC 3261 `token`. */
export function isTokenChar(code: number): boolean {
  return code < 128 && (CLASS[code]! & TOKEN) !== 0;
}

/** True when `text` is a non-empty RFC 3261 `token` (methods, header names, parameter names). */
export function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) if (!isTokenChar(text.charCodeAt(i))) return false;
  return true;
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  const lower = code | 0x20;
  if (lower >= 97 && lower <= 102) return lower - 87;
  return -1;
}

/** True when text[start, end) consists of characters of `flags` and well-formed `%HH` escapes. */
function checkComponent(text: string, start: number, end: number, flags: number): boolean {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 37 /* % */) {
      if (i + 2 >= end) return false;
      if (hexValue(text.charCodeAt(i + 1)) < 0 || hexValue(text.charCodeAt(i + 2)) < 0) return false;
      i += 2;
    } else if (c >= 128 || (CLASS[c]! & flags) === 0) return false;
  }
  return true;
}

/**
 * Checks text[start, end) like checkComponent and returns it decoded (UTF-8; an invalid sequence
 * decodes to U+FFFD), or undefined when a character is not allowed.
 */
function decodeComponent(text: string, start: number, end: number, flags: number): string | undefined {
  if (!checkComponent(text, start, end, flags)) return undefined;
  const percent = text.indexOf('%', start);
  if (percent === -1 || percent >= end) return text.slice(start, end);
  const bytes: number[] = [];
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 37) {
      bytes.push(hexValue(text.charCodeAt(i + 1)) * 16 + hexValue(text.charCodeAt(i + 2)));
      i += 2;
    } else bytes.push(c);
  }
  return Buffer.from(bytes).toString('utf8');
}

const HEX = '0123456789ABCDEF';

/** Percent-encodes every character of `value` that `flags` does not allow (and '%' itself). */
function encodeComponent(value: string, flags: number): string {
  let plain = true;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 128 || c === 37 || (CLASS[c]! & flags) === 0) {
      plain = false;
      break;
    }
  }
  if (plain) return value;
  let out = '';
  for (const ch of value) {
    const c = ch.charCodeAt(0);
    if (c < 128 && c !== 37 && (CLASS[c]! & flags) !== 0) {
      out += ch;
      continue;
    }
    for (const byte of Buffer.from(ch, 'utf8')) out += '%' + HEX[byte >> 4] + HEX[byte & 15];
  }
  return out;
}

/** Dotted-quad IPv4 address in text[start, end), each part 0-255 (RFC 3261 §25.1). */
function isIPv4At(text: string, start: number, end: number): boolean {
  let parts = 0;
  let digits = 0;
  let value = 0;
  for (let i = start; i <= end; i++) {
    const c = i < end ? text.charCodeAt(i) : 46;
    if (c === 46 /* . */) {
      if (digits === 0 || value > 255 || ++parts > 4) return false;
      digits = 0;
      value = 0;
    } else if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      if (++digits > 3) return false;
    } else return false;
  }
  return parts === 4;
}

/** True when `text` is a dotted-quad IPv4 address. */
export function isIPv4Address(text: string): boolean {
  return isIPv4At(text, 0, text.length);
}

function isValidHostnameAt(text: string, start: number, end: number): boolean {
  let allDigitsAndDots = true;
  let labelLength = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || (CLASS[c]! & HOST) === 0) return false;
    if (c === 46 /* . */) {
      // Empty labels are invalid; a single trailing dot (FQDN) is allowed.
      if (labelLength === 0) return false;
      labelLength = 0;
    } else {
      labelLength++;
      if (c < 48 || c > 57) allDigitsAndDots = false;
    }
  }
  if (allDigitsAndDots) return isIPv4At(text, start, end);
  return true;
}

function isValidHostAt(text: string, start: number, end: number): boolean {
  if (end <= start) return false;
  if (text.charCodeAt(start) === 91 /* [ */) {
    if (text.charCodeAt(end - 1) !== 93 /* ] */) return false;
    const inner = text.slice(start + 1, end - 1);
    return inner.indexOf('%') === -1 && isIPv6(inner);
  }
  return isValidHostnameAt(text, start, end);
}

/** Validates `host` as it may appear in a URI or Via: hostname, IPv4, or bracketed IPv6 reference. */
export function isValidHost(host: string): boolean {
  return isValidHostAt(host, 0, host.length);
}

/** Parses a port of 1-5 digits in 0..65535 from text[start, end). */
export function parsePort(text: string, start: number, end: number): number | undefined {
  if (end <= start || end - start > 5) return undefined;
  let port = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
    port = port * 10 + (c - 48);
  }
  return port <= 65535 ? port : undefined;
}

/**
 * Parses `;name[=value]` URI parameters from text[start, end) into `params` (or only checks them
 * when `params` is null); returns the index where parsing stopped (the '?' of headers, or `end`),
 * or -1 when a parameter is malformed.
 */
function parseUriParams(
  text: string,
  start: number,
  end: number,
  params: Map<string, string | null> | null,
): number {
  let i = start;
  while (i < end && text.charCodeAt(i) === 59 /* ; */) {
    const nameStart = ++i;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c === 61 /* = */ || c === 59 || c === 63 /* ? */) break;
      i++;
    }
    const nameEnd = i;
    if (nameEnd === nameStart || !checkComponent(text, nameStart, nameEnd, PARAM)) return -1;
    let valueStart = -1;
    if (i < end && text.charCodeAt(i) === 61) {
      valueStart = ++i;
      while (i < end) {
        const c = text.charCodeAt(i);
        if (c === 59 || c === 63) break;
        i++;
      }
      if (i === valueStart || !checkComponent(text, valueStart, i, PARAM)) return -1;
    }
    if (params !== null) {
      const key = decodeComponent(text, nameStart, nameEnd, PARAM)!.toLowerCase();
      // RFC 3261 §19.1.1: a parameter appears at most once; the first occurrence wins.
      if (!params.has(key))
        params.set(key, valueStart === -1 ? null : decodeComponent(text, valueStart, i, PARAM)!);
    }
  }
  return i;
}

function parseUriHeaders(
  text: string,
  start: number,
  end: number,
  headers: Map<string, string> | null,
): boolean {
  let i = start;
  for (;;) {
    const nameStart = i;
    while (i < end && text.charCodeAt(i) !== 61 /* = */ && text.charCodeAt(i) !== 38 /* & */) i++;
    if (i >= end || text.charCodeAt(i) !== 61) return false;
    const nameEnd = i;
    if (nameEnd === nameStart || !checkComponent(text, nameStart, nameEnd, HNV)) return false;
    const valueStart = ++i;
    while (i < end && text.charCodeAt(i) !== 38) i++;
    if (!checkComponent(text, valueStart, i, HNV)) return false;
    if (headers !== null) {
      const name = decodeComponent(text, nameStart, nameEnd, HNV)!;
      if (!headers.has(name)) headers.set(name, decodeComponent(text, valueStart, i, HNV)!);
    }
    if (i >= end) return true;
    i++; // '&'
  }
}

const SCAN_INVALID = 0;
const SCAN_VALID = 1;
const SCAN_VALID_WITH_HEADERS = 2;

/**
 * Parses (into `uri`) or only checks (`uri` null) the part of a sip/sips URI after the scheme.
 * Returns SCAN_INVALID, SCAN_VALID, or SCAN_VALID_WITH_HEADERS.
 */
function scanSipUri(text: string, pos: number, uri: SipUri | null): number {
  const end = text.length;
  let hostStart = pos;
  let at = -1;
  let colon = -1;
  for (let k = pos; k < end; k++) {
    const c = text.charCodeAt(k);
    if (c === 64 /* @ */) {
      // '@' is allowed nowhere else in a SIP URI, so a second one makes it invalid.
      if (at !== -1) return SCAN_INVALID;
      at = k;
    } else if (c === 58 /* : */ && colon === -1 && at === -1) colon = k;
  }
  if (at !== -1) {
    const userEnd = colon === -1 ? at : colon;
    if (userEnd === pos || !checkComponent(text, pos, userEnd, USER)) return SCAN_INVALID;
    if (colon !== -1 && !checkComponent(text, colon + 1, at, PASSWORD)) return SCAN_INVALID;
    if (uri !== null) {
      uri.user = decodeComponent(text, pos, userEnd, USER)!;
      if (colon !== -1) uri.password = decodeComponent(text, colon + 1, at, PASSWORD)!;
    }
    hostStart = at + 1;
  }
  let i = hostStart;
  if (text.charCodeAt(i) === 91 /* [ */) {
    const close = text.indexOf(']', i);
    if (close === -1) return SCAN_INVALID;
    i = close + 1;
  } else {
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c === 58 /* : */ || c === 59 /* ; */ || c === 63 /* ? */) break;
      i++;
    }
  }
  if (!isValidHostAt(text, hostStart, i)) return SCAN_INVALID;
  if (uri !== null) uri.host = text.slice(hostStart, i);
  if (i < end && text.charCodeAt(i) === 58) {
    const portStart = ++i;
    while (i < end && text.charCodeAt(i) !== 59 && text.charCodeAt(i) !== 63) i++;
    const port = parsePort(text, portStart, i);
    if (port === undefined) return SCAN_INVALID;
    if (uri !== null) uri.port = port;
  }
  i = parseUriParams(text, i, end, uri === null ? null : uri.params);
  if (i < 0) return SCAN_INVALID;
  if (i < end) {
    if (text.charCodeAt(i) !== 63) return SCAN_INVALID;
    if (!parseUriHeaders(text, i + 1, end, uri === null ? null : uri.headers)) return SCAN_INVALID;
    return SCAN_VALID_WITH_HEADERS;
  }
  return SCAN_VALID;
}

function scanTelUri(text: string, pos: number, uri: SipUri | null): boolean {
  const end = text.length;
  let i = pos;
  while (i < end && text.charCodeAt(i) !== 59) {
    const c = text.charCodeAt(i);
    if (c >= 128 || (CLASS[c]! & TEL) === 0) return false;
    i++;
  }
  if (i === pos) return false;
  if (uri !== null) uri.host = text.slice(pos, i);
  return parseUriParams(text, i, end, uri === null ? null : uri.params) === end;
}

/** Length of a valid `scheme ":"` prefix of `text` (RFC 3986 scheme), or -1. */
function schemeEnd(text: string): number {
  const first = text.charCodeAt(0) | 0x20;
  if (!(first >= 97 && first <= 122)) return -1;
  for (let i = 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 58 /* : */) return i;
    const lower = c | 0x20;
    const ok = (lower >= 97 && lower <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46;
    if (!ok) return -1;
  }
  return -1;
}

/** Scheme of `text` lowercased, for the three schemes parsed into components; else the lowercase scheme. */
function schemeOf(text: string, colon: number): string {
  if (colon === 3) {
    const a = text.charCodeAt(0) | 0x20;
    const b = text.charCodeAt(1) | 0x20;
    const c = text.charCodeAt(2) | 0x20;
    if (a === 115 && b === 105 && c === 112) return 'sip';
    if (a === 116 && b === 101 && c === 108) return 'tel';
  }
  return text.slice(0, colon).toLowerCase();
}

/**
 * True when `text` is a URI `parseUri` accepts, without building it (for validation on hot paths).
 */
export function isValidUri(text: string): boolean {
  const colon = schemeEnd(text);
  if (colon <= 0) return false;
  const scheme = schemeOf(text, colon);
  if (scheme === 'sip' || scheme === 'sips') return scanSipUri(text, colon + 1, null) !== SCAN_INVALID;
  if (scheme === 'tel') return scanTelUri(text, colon + 1, null);
  return colon + 1 < text.length && checkComponent(text, colon + 1, text.length, URIC);
}

/** What a Request-URI is, checked without building it (RFC 3261 §8.2.2.1, RFC 4475 §3.1.2.11). */
export type RequestUriKind = 'invalid' | 'sip' | 'sip-with-headers' | 'tel' | 'other-scheme';

export function classifyRequestUri(text: string): RequestUriKind {
  const colon = schemeEnd(text);
  if (colon <= 0) return 'invalid';
  const scheme = schemeOf(text, colon);
  if (scheme === 'sip' || scheme === 'sips') {
    const result = scanSipUri(text, colon + 1, null);
    return result === SCAN_INVALID ? 'invalid' : result === SCAN_VALID ? 'sip' : 'sip-with-headers';
  }
  if (scheme === 'tel') return scanTelUri(text, colon + 1, null) ? 'tel' : 'invalid';
  return colon + 1 < text.length && checkComponent(text, colon + 1, text.length, URIC)
    ? 'other-scheme'
    : 'invalid';
}

/**
 * Parses a URI. sip/sips/tel URIs are parsed into components; any other well-formed absolute URI
 * (RFC 3261 `absoluteURI`) is returned with its scheme and `opaque` rest, so that a server can tell
 * "unknown scheme" (416) from "garbage" (400). Returns undefined when the text is not a URI.
 */
export function parseUri(text: string): SipUri | undefined {
  const colon = schemeEnd(text);
  if (colon <= 0) return undefined;
  const scheme = schemeOf(text, colon);
  const uri: SipUri = { scheme, host: '', params: new Map(), headers: new Map() };
  if (scheme === 'sip' || scheme === 'sips')
    return scanSipUri(text, colon + 1, uri) !== SCAN_INVALID ? uri : undefined;
  if (scheme === 'tel') return scanTelUri(text, colon + 1, uri) ? uri : undefined;
  if (colon + 1 >= text.length || !checkComponent(text, colon + 1, text.length, URIC)) return undefined;
  uri.opaque = text.slice(colon + 1);
  return uri;
}

function formatParams(params: Map<string, string | null>): string {
  let out = '';
  for (const [name, value] of params) {
    out += ';' + encodeComponent(name, PARAM);
    if (value !== null && value !== '') out += '=' + encodeComponent(value, PARAM);
  }
  return out;
}

/** Formats a URI, escaping what the grammar requires (the inverse of `parseUri`). */
export function formatUri(uri: SipUri): string {
  if (uri.opaque !== undefined) return `${uri.scheme}:${uri.opaque}`;
  if (uri.scheme === 'tel') return `tel:${uri.host}${formatParams(uri.params)}`;
  let out = uri.scheme + ':';
  if (uri.user !== undefined && uri.user !== '') {
    out += encodeComponent(uri.user, USER);
    if (uri.password !== undefined) out += ':' + encodeComponent(uri.password, PASSWORD);
    out += '@';
  }
  out += uri.host;
  if (uri.port !== undefined) out += ':' + uri.port;
  out += formatParams(uri.params);
  let first = true;
  for (const [name, value] of uri.headers) {
    out += (first ? '?' : '&') + encodeComponent(name, HNV) + '=' + encodeComponent(value, HNV);
    first = false;
  }
  return out;
}

/** Parameters that, present in either URI, must be present and equal in both (§19.1.4). */
const SIGNIFICANT_PARAMS = ['user', 'ttl', 'method', 'maddr', 'transport'];

function paramValueEquals(a: string | null | undefined, b: string | null | undefined): boolean {
  if (a === b) return true;
  if (a == null || b == null) return false;
  return a.toLowerCase() === b.toLowerCase();
}

function stripVisualSeparators(number: string): string {
  let out = '';
  for (let i = 0; i < number.length; i++) {
    const c = number.charCodeAt(i);
    if (c !== 45 && c !== 46 && c !== 40 && c !== 41) out += number[i];
  }
  return out.toLowerCase();
}

/**
 * URI equivalence per RFC 3261 §19.1.4 (sip/sips), RFC 3966 §4 (tel; visual separators ignored),
 * exact match for opaque URIs. Enough for routing and registrar bindings; not a DNS-aware comparison.
 */
export function uriEquals(a: SipUri, b: SipUri): boolean {
  if (a.scheme !== b.scheme) return false;
  if (a.opaque !== undefined || b.opaque !== undefined) return a.opaque === b.opaque;
  if (a.scheme === 'tel') {
    if (stripVisualSeparators(a.host) !== stripVisualSeparators(b.host)) return false;
    if (a.params.size !== b.params.size) return false;
    for (const [name, value] of a.params) {
      if (!b.params.has(name) || !paramValueEquals(value, b.params.get(name))) return false;
    }
    return true;
  }
  if (a.user !== b.user || a.password !== b.password) return false;
  if (a.host.toLowerCase() !== b.host.toLowerCase()) return false;
  if (a.port !== b.port) return false;
  for (const name of SIGNIFICANT_PARAMS) {
    if (!paramValueEquals(a.params.get(name), b.params.get(name))) return false;
  }
  for (const [name, value] of a.params) {
    if (b.params.has(name) && !paramValueEquals(value, b.params.get(name))) return false;
  }
  if (a.headers.size !== b.headers.size) return false;
  const bHeaders = new Map<string, string>();
  for (const [name, value] of b.headers) bHeaders.set(name.toLowerCase(), value);
  for (const [name, value] of a.headers) {
    if (bHeaders.get(name.toLowerCase()) !== value) return false;
  }
  return true;
}
