/**
 * SIP message model (RFC 3261 §7). Messages keep headers in wire order with canonical names so that
 * serialization is faithful and proxies/B2BUAs can copy headers without reinterpreting them.
 */

/** Compact forms (RFC 3261 §7.3.3 and extensions) → canonical header names. */
export const COMPACT_HEADER_NAMES: Readonly<Record<string, string>> = {
  i: 'Call-ID',
  m: 'Contact',
  f: 'From',
  t: 'To',
  v: 'Via',
  l: 'Content-Length',
  c: 'Content-Type',
  k: 'Supported',
  s: 'Subject',
  e: 'Content-Encoding',
  o: 'Event',
  r: 'Refer-To',
  b: 'Referred-By',
  u: 'Allow-Events',
  x: 'Session-Expires',
  a: 'Accept-Contact',
  j: 'Reject-Contact',
  d: 'Request-Disposition',
  y: 'Identity',
};

const WELL_KNOWN = [
  'Accept',
  'Accept-Encoding',
  'Accept-Language',
  'Alert-Info',
  'Allow',
  'Allow-Events',
  'Authentication-Info',
  'Authorization',
  'Call-ID',
  'Call-Info',
  'Contact',
  'Content-Disposition',
  'Content-Encoding',
  'Content-Language',
  'Content-Length',
  'Content-Type',
  'CSeq',
  'Date',
  'Error-Info',
  'Event',
  'Expires',
  'From',
  'In-Reply-To',
  'Max-Forwards',
  'Min-Expires',
  'Min-SE',
  'MIME-Version',
  'Organization',
  'P-Asserted-Identity',
  'P-Preferred-Identity',
  'Priority',
  'Proxy-Authenticate',
  'Proxy-Authorization',
  'Proxy-Require',
  'RAck',
  'Reason',
  'Record-Route',
  'Refer-To',
  'Referred-By',
  'Reply-To',
  'Require',
  'Retry-After',
  'Route',
  'RSeq',
  'Server',
  'Session-Expires',
  'Subject',
  'Subscription-State',
  'Supported',
  'Timestamp',
  'To',
  'Unsupported',
  'User-Agent',
  'Via',
  'Warning',
  'WWW-Authenticate',
];
const WELL_KNOWN_BY_LOWER = new Map(WELL_KNOWN.map((name) => [name.toLowerCase(), name]));

/** Canonical spelling of a header name: compact forms expanded, known names in their usual case. */
export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  if (lower.length === 1) {
    const full = COMPACT_HEADER_NAMES[lower];
    if (full) return full;
  }
  return WELL_KNOWN_BY_LOWER.get(lower) ?? name;
}

/**
 * Headers whose values may NOT be split on top-level commas (RFC 3261 §7.3.1 exceptions: their
 * grammar contains commas, e.g. auth params or dates).
 */
export const SINGLE_VALUE_HEADERS: ReadonlySet<string> = new Set(
  [
    'WWW-Authenticate',
    'Authorization',
    'Proxy-Authenticate',
    'Proxy-Authorization',
    'Authentication-Info',
    'Date',
    'Call-ID',
    'CSeq',
    'From',
    'To',
    'Content-Length',
    'Content-Type',
    'Max-Forwards',
    'Subject',
    'Timestamp',
    'Retry-After',
    'Expires',
    'Min-Expires',
    'User-Agent',
    'Server',
    'Organization',
    'Refer-To',
    'Referred-By',
    'Session-Expires',
    'Min-SE',
    'RAck',
    'RSeq',
  ].map((n) => n.toLowerCase()),
);

export interface HeaderField {
  /** Canonical name (see canonicalHeaderName). */
  readonly name: string;
  /** Raw value with line folding collapsed to single spaces and surrounding whitespace trimmed. */
  value: string;
}

/** Ordered, case-insensitive header list. Each entry is one header line (possibly comma-joined values). */
export class SipHeaders {
  private readonly fields: HeaderField[] = [];

  constructor(fields?: Iterable<readonly [string, string]>) {
    if (fields) for (const [name, value] of fields) this.append(name, value);
  }

  /** The first line's value for `name`, or undefined. For list headers this may be comma-joined. */
  get(name: string): string | undefined {
    const key = canonicalHeaderName(name).toLowerCase();
    for (const f of this.fields) if (f.name.toLowerCase() === key) return f.value;
    return undefined;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /**
   * Every value for `name` in order, with comma-separated lines split into separate values
   * (respecting quotes and angle brackets) unless the header's grammar forbids it.
   */
  getAll(name: string): string[] {
    const canonical = canonicalHeaderName(name);
    const key = canonical.toLowerCase();
    const out: string[] = [];
    for (const f of this.fields) {
      if (f.name.toLowerCase() !== key) continue;
      if (SINGLE_VALUE_HEADERS.has(key)) out.push(f.value);
      else for (const part of splitHeaderList(f.value)) out.push(part);
    }
    return out;
  }

  /** Raw header lines for `name`, unsplit. */
  getLines(name: string): string[] {
    const key = canonicalHeaderName(name).toLowerCase();
    return this.fields.filter((f) => f.name.toLowerCase() === key).map((f) => f.value);
  }

  append(name: string, value: string): this {
    this.fields.push({ name: canonicalHeaderName(name), value });
    return this;
  }

  /**
   * Append a line whose `name` is already canonical (the result of canonicalHeaderName). The parser
   * canonicalizes each name once with its own cache; this skips doing it again per header.
   */
  appendCanonical(name: string, value: string): this {
    this.fields.push({ name, value });
    return this;
  }

  /** Insert before the first existing line of the same name (e.g. a new top Via), else at the top. */
  prepend(name: string, value: string): this {
    const canonical = canonicalHeaderName(name);
    const key = canonical.toLowerCase();
    const idx = this.fields.findIndex((f) => f.name.toLowerCase() === key);
    this.fields.splice(idx === -1 ? 0 : idx, 0, { name: canonical, value });
    return this;
  }

  /** Replace every line of `name` with a single line (appended in place of the first one). */
  set(name: string, value: string): this {
    const canonical = canonicalHeaderName(name);
    const key = canonical.toLowerCase();
    const idx = this.fields.findIndex((f) => f.name.toLowerCase() === key);
    this.delete(name);
    if (idx === -1) this.fields.push({ name: canonical, value });
    else this.fields.splice(idx, 0, { name: canonical, value });
    return this;
  }

  delete(name: string): this {
    const key = canonicalHeaderName(name).toLowerCase();
    for (let i = this.fields.length - 1; i >= 0; i--)
      if (this.fields[i]!.name.toLowerCase() === key) this.fields.splice(i, 1);
    return this;
  }

  /** Remove the first value of a list header (e.g. the top Via), splitting a comma-joined line if needed. */
  shift(name: string): string | undefined {
    const key = canonicalHeaderName(name).toLowerCase();
    const idx = this.fields.findIndex((f) => f.name.toLowerCase() === key);
    if (idx === -1) return undefined;
    const field = this.fields[idx]!;
    const parts = splitHeaderList(field.value);
    const first = parts.shift();
    if (parts.length === 0) this.fields.splice(idx, 1);
    else field.value = parts.join(', ');
    return first;
  }

  [Symbol.iterator](): IterableIterator<HeaderField> {
    return this.fields[Symbol.iterator]();
  }

  get size(): number {
    return this.fields.length;
  }

  clone(): SipHeaders {
    const copy = new SipHeaders();
    for (const f of this.fields) copy.fields.push({ name: f.name, value: f.value });
    return copy;
  }
}

/** Split a header value on top-level commas (outside quotes and <...>), trimming each part. */
export function splitHeaderList(value: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let inQuotes = false;
  let inAngle = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value.charCodeAt(i);
    if (inQuotes) {
      if (ch === 0x5c /* \ */) i++;
      else if (ch === 0x22 /* " */) inQuotes = false;
    } else if (ch === 0x22) inQuotes = true;
    else if (ch === 0x3c /* < */) inAngle = true;
    else if (ch === 0x3e /* > */) inAngle = false;
    else if (ch === 0x2c /* , */ && !inAngle) {
      const part = value.slice(start, i).trim();
      if (part) parts.push(part);
      start = i + 1;
    }
  }
  const last = value.slice(start).trim();
  if (last) parts.push(last);
  return parts;
}

export interface SipRequest {
  readonly kind: 'request';
  method: string;
  /** Request-URI as text (parse with parseUri when needed). */
  uri: string;
  version: string;
  headers: SipHeaders;
  body: Buffer;
}

export interface SipResponse {
  readonly kind: 'response';
  status: number;
  reason: string;
  version: string;
  headers: SipHeaders;
  body: Buffer;
}

export type SipMessage = SipRequest | SipResponse;

export function isRequest(message: SipMessage): message is SipRequest {
  return message.kind === 'request';
}

export const EMPTY_BODY: Buffer = Buffer.alloc(0);
