/**
 * Typed views of SIP header values (RFC 3261 §20, §25.1). Header values in `SipHeaders` stay raw
 * text; these functions parse one value on demand and format one back. Every parser returns
 * undefined for a value that does not match the grammar — none of them throws.
 *
 * Parameter maps use lowercase names. Parameter values are kept as written (a quoted value keeps its
 * quotes, so formatting is faithful); `unquote` turns one into its content.
 */

import { splitHeaderList } from './message.js';
import { formatUri, isTokenChar, isValidHost, isValidUri, parsePort, parseUri, type SipUri } from './uri.js';

export interface NameAddr {
  /** Display name, unquoted and unescaped; undefined when the value has none. */
  displayName?: string;
  uri: SipUri;
  /** The URI exactly as it appeared (inside the angle brackets for the name-addr form). */
  uriText: string;
  /** Header parameters (`;tag=`, `;expires=`, `;q=` …). */
  params: Map<string, string | null>;
}

export interface Via {
  protocol: 'SIP/2.0';
  /** Uppercase transport token (UDP, TCP, TLS, SCTP, WS, WSS or an extension). */
  transport: string;
  /** sent-by host as written (IPv6 references keep their brackets). */
  host: string;
  port?: number;
  /** Every via parameter, including branch, received and rport. */
  params: Map<string, string | null>;
  branch?: string;
  received?: string;
  /** RFC 3581: null when `;rport` is present without a value. */
  rport?: number | null;
}

export interface CSeq {
  seq: number;
  method: string;
}

export interface AuthParams {
  /** Auth scheme as written (`Digest`); compare case-insensitively. */
  scheme: string;
  /** Parameter names lowercased, values unquoted and unescaped. */
  params: Map<string, string>;
}

export type ContactList = { star: true } | { star: false; contacts: NameAddr[] };

const MAX_UINT32 = 4294967295;

// ---- low-level scanning ----

function isWs(code: number): boolean {
  return code === 32 || code === 9 || code === 13 || code === 10;
}

function skipWs(text: string, i: number): number {
  while (i < text.length && isWs(text.charCodeAt(i))) i++;
  return i;
}

function scanToken(text: string, i: number): number {
  while (i < text.length && isTokenChar(text.charCodeAt(i))) i++;
  return i;
}

/** Index just past the closing quote of a quoted-string starting at `i` (which is '"'), or -1. */
function scanQuoted(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 92 /* \ */) {
      j++;
      if (j >= text.length) return -1;
    } else if (c === 34 /* " */) return j + 1;
    else if (c === 13 || c === 10) return -1;
  }
  return -1;
}

function unescapeQuoted(text: string, start: number, end: number): string {
  const slash = text.indexOf('\\', start);
  if (slash === -1 || slash >= end) return text.slice(start, end);
  let out = '';
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 92 && i + 1 < end) {
      out += text[i + 1];
      i++;
    } else out += text[i];
  }
  return out;
}

/** Quotes `text` as an RFC 3261 quoted-string (CR and LF, which cannot be quoted, become spaces). */
export function quote(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 13 || c === 10) out += ' ';
    else if (c === 34 || c === 92 || (c < 32 && c !== 9) || c === 127) out += '\\' + text[i];
    else out += text[i];
  }
  return out + '"';
}

/** The content of a quoted-string (unescaped), or `value` itself when it is not quoted. */
export function unquote(value: string): string {
  if (value.length >= 2 && value.charCodeAt(0) === 34 && scanQuoted(value, 0) === value.length) {
    return unescapeQuoted(value, 1, value.length - 1);
  }
  return value;
}

function isParamValueChar(code: number): boolean {
  // gen-value = token / host / quoted-string; ':' admits IPv6 addresses (Via received=).
  return isTokenChar(code) || code === 58 /* : */;
}

function nameIs(text: string, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let k = 0; k < lower.length; k++)
    if ((text.charCodeAt(start + k) | 0x20) !== lower.charCodeAt(k)) return false;
  return true;
}

/**
 * Parses `*( SEMI generic-param )` starting at `i` into `params` (or only checks them when `params`
 * is null). Returns the index after the last parameter (whitespace skipped), or -1 for a malformed
 * parameter (empty, bad name, bad value). With `viaRules`, the first branch / received must have a
 * value and the first rport a port number if it has one (RFC 3261 §20.42, RFC 3581).
 */
function parseGenericParams(
  text: string,
  i: number,
  params: Map<string, string | null> | null,
  viaRules = false,
): number {
  let seen = 0;
  for (;;) {
    i = skipWs(text, i);
    if (i >= text.length || text.charCodeAt(i) !== 59 /* ; */) return i;
    i = skipWs(text, i + 1);
    const nameStart = i;
    i = scanToken(text, i);
    if (i === nameStart) return -1;
    const nameEnd = i;
    let valueStart = -1;
    const afterName = skipWs(text, i);
    if (afterName < text.length && text.charCodeAt(afterName) === 61 /* = */) {
      i = skipWs(text, afterName + 1);
      valueStart = i;
      const c = text.charCodeAt(i);
      if (c === 34) {
        i = scanQuoted(text, i);
        if (i < 0) return -1;
      } else if (c === 91 /* [ */) {
        const close = text.indexOf(']', i);
        if (close === -1) return -1;
        i = close + 1;
      } else {
        while (i < text.length && isParamValueChar(text.charCodeAt(i))) i++;
        if (i === valueStart) return -1;
      }
    }
    if (viaRules) {
      const kind = nameIs(text, nameStart, nameEnd, 'branch')
        ? 1
        : nameIs(text, nameStart, nameEnd, 'received')
          ? 2
          : nameIs(text, nameStart, nameEnd, 'rport')
            ? 4
            : 0;
      if (kind !== 0 && (seen & kind) === 0) {
        seen |= kind;
        if (kind !== 4 && valueStart === -1) return -1;
        if (kind === 4 && valueStart !== -1 && parsePort(text, valueStart, i) === undefined) return -1;
      }
    }
    if (params !== null) {
      const name = text.slice(nameStart, nameEnd).toLowerCase();
      if (!params.has(name)) params.set(name, valueStart === -1 ? null : text.slice(valueStart, i));
    }
  }
}

function isToken(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) if (!isParamValueChar(value.charCodeAt(i))) return false;
  return true;
}

function formatParamValue(value: string): string {
  if (isToken(value)) return value;
  if (value.charCodeAt(0) === 34 && scanQuoted(value, 0) === value.length) return value;
  if (value.charCodeAt(0) === 91 && value.charCodeAt(value.length - 1) === 93 && isValidHost(value))
    return value;
  return quote(value);
}

/** Formats header parameters as `;name=value;flag`. Values that are not tokens get quoted. */
export function formatParams(params: Map<string, string | null>): string {
  let out = '';
  for (const [name, value] of params) {
    out += ';' + name;
    if (value !== null) out += '=' + formatParamValue(value);
  }
  return out;
}

// ---- name-addr / addr-spec (From, To, Contact, Route, Record-Route, Refer-To …) ----

function collapseWs(text: string): string {
  let simple = true;
  for (let i = 0; i < text.length && simple; i++) {
    const c = text.charCodeAt(i);
    if (isWs(c) && (c !== 32 || i === 0 || i === text.length - 1 || text.charCodeAt(i + 1) === 32))
      simple = false;
  }
  if (simple) return text;
  let out = '';
  let pendingSpace = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isWs(c)) pendingSpace = out.length > 0;
    else {
      if (pendingSpace) out += ' ';
      pendingSpace = false;
      out += text[i];
    }
  }
  return out;
}

/** Marks a successful check in validation mode (nothing is built). */
const VALID: unique symbol = Symbol('valid');

/** Parses (`build`) or only checks a name-addr / addr-spec; see parseNameAddr. */
function scanNameAddr(text: string, build: boolean): NameAddr | typeof VALID | undefined {
  let i = skipWs(text, 0);
  if (i >= text.length) return undefined;
  let displayName: string | undefined;
  let bracketed = false;
  if (text.charCodeAt(i) === 34) {
    const end = scanQuoted(text, i);
    if (end < 0) return undefined;
    if (build) displayName = unescapeQuoted(text, i + 1, end - 1);
    i = skipWs(text, end);
    if (text.charCodeAt(i) !== 60 /* < */) return undefined;
    bracketed = true;
  } else {
    let j = i;
    while (j < text.length) {
      const c = text.charCodeAt(j);
      // Non-ASCII is not a token character, but UAs send unquoted UTF-8 names; it is unambiguous.
      if (!isTokenChar(c) && !isWs(c) && c < 128) break;
      j++;
    }
    if (text.charCodeAt(j) === 60) {
      // RFC 4475 §3.1.1.6: no LWS between the display name and '<' is accepted.
      if (build && j > i) {
        const name = collapseWs(text.slice(i, j));
        if (name.length > 0) displayName = name;
      }
      i = j;
      bracketed = true;
    }
  }
  let uriText: string;
  if (bracketed) {
    const close = text.indexOf('>', i + 1);
    if (close === -1) return undefined;
    uriText = text.slice(i + 1, close);
    i = close + 1;
  } else {
    const start = i;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 59 || isWs(c)) break;
      if (c === 44 /* , */ || c === 63 /* ? */ || c === 60 || c === 62 || c === 34) return undefined;
      i++;
    }
    uriText = text.slice(start, i);
  }
  if (!build) {
    if (!isValidUri(uriText)) return undefined;
    return parseGenericParams(text, i, null) === text.length ? VALID : undefined;
  }
  const uri = parseUri(uriText);
  if (!uri) return undefined;
  const params = new Map<string, string | null>();
  if (parseGenericParams(text, i, params) !== text.length) return undefined;
  const result: NameAddr = { uri, uriText, params };
  if (displayName !== undefined) result.displayName = displayName;
  return result;
}

/**
 * Parses `[display-name] <URI> *(;param)` or `addr-spec *(;param)`. In the addr-spec form the URI ends
 * at the first ';' and what follows are header parameters (RFC 3261 §20.10); such a URI may not
 * contain ',', '?' or ';' (those require angle brackets).
 */
export function parseNameAddr(value: string): NameAddr | undefined {
  const result = scanNameAddr(value, true);
  return result === VALID ? undefined : result;
}

/** True when parseNameAddr would accept `value` (checks without building anything). */
export function isValidNameAddr(value: string): boolean {
  return scanNameAddr(value, false) === VALID;
}

/** Formats a name-addr, always with angle brackets (safe for any URI). */
export function formatNameAddr(nameAddr: NameAddr): string {
  let out = '';
  if (nameAddr.displayName !== undefined) out += quote(nameAddr.displayName) + ' ';
  return out + '<' + formatUri(nameAddr.uri) + '>' + formatParams(nameAddr.params);
}

/** The `tag` parameter of a From / To value, or undefined. */
export function getTag(value: string): string | undefined {
  const tag = parseNameAddr(value)?.params.get('tag');
  return tag ?? undefined;
}

// ---- Via ----

const BRANCH_MAGIC_COOKIE = 'z9hG4bK';

/** A parsed Via: branch/received/rport are live views of `params`, so editing either stays in sync. */
class ViaValue implements Via {
  readonly protocol = 'SIP/2.0' as const;
  transport: string;
  host: string;
  port?: number;
  params: Map<string, string | null>;

  constructor(transport: string, host: string, port: number | undefined, params: Map<string, string | null>) {
    this.transport = transport;
    this.host = host;
    if (port !== undefined) this.port = port;
    this.params = params;
  }

  get branch(): string | undefined {
    return this.params.get('branch') ?? undefined;
  }

  set branch(value: string | undefined) {
    if (value === undefined) this.params.delete('branch');
    else this.params.set('branch', value);
  }

  get received(): string | undefined {
    return this.params.get('received') ?? undefined;
  }

  set received(value: string | undefined) {
    if (value === undefined) this.params.delete('received');
    else this.params.set('received', value);
  }

  get rport(): number | null | undefined {
    if (!this.params.has('rport')) return undefined;
    const value = this.params.get('rport');
    if (value === null || value === undefined || value === '') return null;
    const port = parsePort(value, 0, value.length);
    return port ?? null;
  }

  set rport(value: number | null | undefined) {
    if (value === undefined) this.params.delete('rport');
    else this.params.set('rport', value === null ? null : String(value));
  }
}

/** Parses (`build`) or only checks one via-parm; see parseVia. */
function scanVia(text: string, build: boolean): Via | typeof VALID | undefined {
  let i = skipWs(text, 0);
  let start = i;
  i = scanToken(text, i);
  const isSip =
    i - start === 3 &&
    (text.charCodeAt(start) | 0x20) === 115 &&
    (text.charCodeAt(start + 1) | 0x20) === 105 &&
    (text.charCodeAt(start + 2) | 0x20) === 112;
  if (!isSip) return undefined;
  i = skipWs(text, i);
  if (text.charCodeAt(i) !== 47 /* / */) return undefined;
  i = skipWs(text, i + 1);
  start = i;
  i = scanToken(text, i);
  if (
    i - start !== 3 ||
    text.charCodeAt(start) !== 50 ||
    text.charCodeAt(start + 1) !== 46 ||
    text.charCodeAt(start + 2) !== 48
  ) {
    return undefined;
  }
  i = skipWs(text, i);
  if (text.charCodeAt(i) !== 47) return undefined;
  i = skipWs(text, i + 1);
  const transportStart = i;
  i = scanToken(text, i);
  const transportEnd = i;
  if (transportEnd === transportStart) return undefined;
  i = skipWs(text, i);
  if (i === transportEnd) return undefined;
  start = i;
  if (text.charCodeAt(i) === 91) {
    const close = text.indexOf(']', i);
    if (close === -1) return undefined;
    i = close + 1;
  } else {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (
        !((c >= 48 && c <= 57) || ((c | 0x20) >= 97 && (c | 0x20) <= 122) || c === 45 || c === 46 || c === 95)
      )
        break;
      i++;
    }
  }
  const host = text.slice(start, i);
  if (!isValidHost(host)) return undefined;
  let port: number | undefined;
  const beforeColon = skipWs(text, i);
  if (text.charCodeAt(beforeColon) === 58 /* : */) {
    i = skipWs(text, beforeColon + 1);
    start = i;
    while (i < text.length && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
    port = parsePort(text, start, i);
    if (port === undefined) return undefined;
  }
  const params = build ? new Map<string, string | null>() : null;
  if (parseGenericParams(text, i, params, true) !== text.length) return undefined;
  if (params === null) return VALID;
  return new ViaValue(text.slice(transportStart, transportEnd).toUpperCase(), host, port, params);
}

/** Parses one via-parm (`SIP/2.0/UDP host:port;branch=…`); split a Via line with splitHeaderList first. */
export function parseVia(value: string): Via | undefined {
  const via = scanVia(value, true);
  return via === VALID ? undefined : via;
}

/** True when parseVia would accept `value` (checks without building anything). */
export function isValidVia(value: string): boolean {
  return scanVia(value, false) === VALID;
}

/** Parses every via-parm of one or more Via header lines, or undefined if any is malformed. */
export function parseViaList(lines: readonly string[]): Via[] | undefined {
  const vias: Via[] = [];
  for (const line of lines) {
    for (const part of splitHeaderList(line)) {
      const via = parseVia(part);
      if (!via) return undefined;
      vias.push(via);
    }
  }
  return vias;
}

/**
 * Formats a Via. `params` is the source of truth; for a plain object (not from parseVia), the
 * branch / received / rport fields are written too when set.
 */
export function formatVia(via: Via): string {
  let params = via.params;
  if (!(via instanceof ViaValue)) {
    params = new Map(params);
    if (via.branch !== undefined) params.set('branch', via.branch);
    if (via.received !== undefined) params.set('received', via.received);
    if (via.rport !== undefined) params.set('rport', via.rport === null ? null : String(via.rport));
  }
  const port = via.port !== undefined ? ':' + via.port : '';
  return `SIP/2.0/${via.transport} ${via.host}${port}${formatParams(params)}`;
}

/** True when `branch` is an RFC 3261 branch: the magic cookie followed by at least one character. */
export function isRfc3261Branch(branch: string | undefined): boolean {
  return (
    branch !== undefined &&
    branch.length > BRANCH_MAGIC_COOKIE.length &&
    branch.startsWith(BRANCH_MAGIC_COOKIE)
  );
}

// ---- CSeq, numbers ----

/** Parses an unsigned decimal in 0..max from text[start, end); leading zeros allowed. */
function parseBoundedDigits(text: string, start: number, end: number, max: number): number | undefined {
  if (end <= start) return undefined;
  let value = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
    value = value * 10 + (c - 48);
    if (value > max) return undefined;
  }
  return value;
}

/** Parses `1*DIGIT LWS Method`; the number must fit 32 bits unsigned (RFC 3261 §8.1.1.5). */
export function parseCSeq(value: string): CSeq | undefined {
  let i = skipWs(value, 0);
  const start = i;
  while (i < value.length && value.charCodeAt(i) >= 48 && value.charCodeAt(i) <= 57) i++;
  const seq = parseBoundedDigits(value, start, i, MAX_UINT32);
  if (seq === undefined) return undefined;
  const afterDigits = i;
  i = skipWs(value, i);
  if (i === afterDigits) return undefined;
  const methodStart = i;
  i = scanToken(value, i);
  if (i === methodStart) return undefined;
  const method = value.slice(methodStart, i);
  if (skipWs(value, i) !== value.length) return undefined;
  return { seq, method };
}

/** Parses a header value that is `1*DIGIT` within 0..max (surrounding whitespace allowed). */
export function parseUnsigned(value: string, max: number): number | undefined {
  const start = skipWs(value, 0);
  let end = value.length;
  while (end > start && isWs(value.charCodeAt(end - 1))) end--;
  return parseBoundedDigits(value, start, end, max);
}

/** delta-seconds (Expires header, `expires` parameter): 0..2^32-1, else undefined. */
export function parseDeltaSeconds(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined) return undefined;
  return parseUnsigned(value, MAX_UINT32);
}

/**
 * The expiry of a Contact: its `expires` parameter, else the Expires header value given, else
 * undefined. Out-of-range or non-numeric values count as absent (RFC 4475 §3.1.2.4: treat them as
 * if they contained the default).
 */
export function getExpires(contact: NameAddr, expiresHeader?: string): number | undefined {
  const param = parseDeltaSeconds(contact.params.get('expires'));
  if (param !== undefined) return param;
  return parseDeltaSeconds(expiresHeader);
}

// ---- Contact ----

function scanContactList(
  value: string | readonly string[],
  contacts: NameAddr[] | null,
): 'star' | 'list' | undefined {
  const lines = typeof value === 'string' ? [value] : value;
  let star = false;
  let count = 0;
  for (const line of lines) {
    const parts = line.indexOf(',') === -1 ? [line.trim()] : splitHeaderList(line);
    for (const part of parts) {
      if (part.length === 0) continue;
      if (part === '*') {
        star = true;
        continue;
      }
      if (contacts === null) {
        if (!isValidNameAddr(part)) return undefined;
      } else {
        const contact = parseNameAddr(part);
        if (!contact) return undefined;
        contacts.push(contact);
      }
      count++;
    }
  }
  if (star) return count === 0 ? 'star' : undefined;
  return count === 0 ? undefined : 'list';
}

/**
 * Parses Contact header value(s): `*`, or a comma-separated list of name-addr / addr-spec.
 * Undefined when any element is malformed, when `*` is mixed with contacts, or when there is none.
 */
export function parseContactList(value: string | readonly string[]): ContactList | undefined {
  const contacts: NameAddr[] = [];
  const kind = scanContactList(value, contacts);
  if (kind === undefined) return undefined;
  return kind === 'star' ? { star: true } : { star: false, contacts };
}

/** True when parseContactList would accept `value` (checks without building anything). */
export function isValidContactList(value: string | readonly string[]): boolean {
  return scanContactList(value, null) !== undefined;
}

// ---- Authentication (WWW-Authenticate, Authorization, Proxy-*) ----

/** Parses `scheme param=value, param="quoted, value"` (RFC 3261 §25.1 challenge / credentials). */
export function parseAuthParams(value: string): AuthParams | undefined {
  const text = value;
  let i = skipWs(text, 0);
  const schemeStart = i;
  i = scanToken(text, i);
  if (i === schemeStart) return undefined;
  const scheme = text.slice(schemeStart, i);
  const params = new Map<string, string>();
  const afterScheme = i;
  i = skipWs(text, i);
  if (i === text.length) return { scheme, params };
  if (i === afterScheme) return undefined;
  for (;;) {
    const nameStart = i;
    i = scanToken(text, i);
    if (i === nameStart) return undefined;
    const name = text.slice(nameStart, i).toLowerCase();
    i = skipWs(text, i);
    if (text.charCodeAt(i) !== 61) return undefined;
    i = skipWs(text, i + 1);
    let paramValue: string;
    if (text.charCodeAt(i) === 34) {
      const end = scanQuoted(text, i);
      if (end < 0) return undefined;
      paramValue = unescapeQuoted(text, i + 1, end - 1);
      i = end;
    } else {
      const valueStart = i;
      i = scanToken(text, i);
      if (i === valueStart) return undefined;
      paramValue = text.slice(valueStart, i);
    }
    if (!params.has(name)) params.set(name, paramValue);
    i = skipWs(text, i);
    if (i === text.length) return { scheme, params };
    if (text.charCodeAt(i) !== 44 /* , */) return undefined;
    // Empty list elements (",,") are allowed by the #rule.
    while (i < text.length && (text.charCodeAt(i) === 44 || isWs(text.charCodeAt(i)))) i++;
    if (i === text.length) return { scheme, params };
  }
}

const CHALLENGE_TOKEN_PARAMS = new Set(['algorithm', 'stale']);
const CREDENTIALS_TOKEN_PARAMS = new Set(['algorithm', 'stale', 'qop', 'nc']);

/**
 * Formats a challenge or credentials value. Per RFC 2617 / 3261 §25.1, algorithm, stale (and in
 * credentials qop and nc) are tokens; every other value is quoted. `kind` defaults to 'credentials'
 * when a `response` parameter is present.
 */
export function formatAuthParams(auth: AuthParams, kind?: 'challenge' | 'credentials'): string {
  const credentials = kind ? kind === 'credentials' : auth.params.has('response');
  const tokens = credentials ? CREDENTIALS_TOKEN_PARAMS : CHALLENGE_TOKEN_PARAMS;
  const parts: string[] = [];
  for (const [name, value] of auth.params) {
    parts.push(tokens.has(name) && isToken(value) ? `${name}=${value}` : `${name}=${quote(value)}`);
  }
  return parts.length === 0 ? auth.scheme : `${auth.scheme} ${parts.join(', ')}`;
}

// ---- Date ----

const WKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const SIP_DATE =
  /^(Sun|Mon|Tue|Wed|Thu|Fri|Sat), (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;

/**
 * Parses a Date header (RFC 3261 §20.17: rfc1123-date, GMT only). A date in any other zone
 * (RFC 4475 §3.1.2.12: "EST") or with a wrong weekday is undefined.
 */
export function parseSipDate(value: string): Date | undefined {
  const m = SIP_DATE.exec(value.trim());
  if (!m) return undefined;
  const [, wkday, day, month, year, hh, mm, ss] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const date = new Date(
    Date.UTC(Number(year), MONTHS.indexOf(month), Number(day), Number(hh), Number(mm), Number(ss)),
  );
  if (date.getUTCDate() !== Number(day) || Number(hh) > 23 || Number(mm) > 59 || Number(ss) > 59)
    return undefined;
  if (WKDAYS[date.getUTCDay()] !== wkday) return undefined;
  return date;
}
