/**
 * SIP message parser (RFC 3261 §7, §18.3, §25) and stream framer.
 *
 * `parseMessage` takes one datagram (UDP) or one WebSocket message and returns a message or an error
 * value; it never throws. The header block is decoded as UTF-8 once, split into lines with native
 * searches, and the headers every request / response must carry are validated, so that what comes
 * out can be used by the transaction layer without further checks.
 */

import { isAscii } from 'node:buffer';
import { SIP_ERRORS, type SipParseErrorCode } from './errors.js';
import { isValidContactList, isValidNameAddr, isValidVia, parseCSeq, parseUnsigned } from './headers.js';
import {
  canonicalHeaderName,
  EMPTY_BODY,
  SipHeaders,
  type SipMessage,
  type SipRequest,
  type SipResponse,
  splitHeaderList,
} from './message.js';
import { classifyRequestUri, isToken, isTokenChar } from './uri.js';

export interface SipParseError {
  code: SipParseErrorCode;
  /** Human text naming the problem; usable as the reason phrase of a 400 (ASCII, no CR/LF). */
  reason: string;
  /**
   * Present when the message was a request and Via, From, To, Call-ID and CSeq were all read (their
   * values unvalidated), so that a server can answer it (400, 416, 505). Absent for responses.
   */
  request?: { method: string; headers: SipHeaders };
}

export type ParseResult = { ok: true; message: SipMessage } | { ok: false; error: SipParseError };

export interface ParseOptions {
  /** Most header fields accepted (continuation lines do not count). Default 256. */
  maxHeaders?: number;
  /** Most bytes of start line plus headers. Default 16384. */
  maxHeaderBytes?: number;
}

const DEFAULT_MAX_HEADERS = 256;
const DEFAULT_MAX_HEADER_BYTES = 16384;
const MAX_CONTENT_LENGTH = 0x7fffffff;

const LF_LF = Buffer.from('\n\n', 'latin1');
const LF_CRLF = Buffer.from('\n\r\n', 'latin1');

/**
 * Common header names, recognized in place (case-insensitively, without slicing the line) and mapped
 * to the same canonical spelling canonicalHeaderName gives them.
 */
const COMMON_HEADER_NAMES = [
  'Via',
  'From',
  'To',
  'Call-ID',
  'CSeq',
  'Max-Forwards',
  'Contact',
  'Content-Length',
  'Content-Type',
  'Route',
  'Record-Route',
  'Allow',
  'Supported',
  'Require',
  'User-Agent',
  'Server',
  'Authorization',
  'Proxy-Authorization',
  'WWW-Authenticate',
  'Proxy-Authenticate',
  'Expires',
  'Min-Expires',
  'Accept',
  'Session-Expires',
  'Min-SE',
  'Event',
  'Subscription-State',
  'Allow-Events',
  'Date',
  'Subject',
  'Reason',
  'Refer-To',
  'Referred-By',
  'P-Asserted-Identity',
  'Organization',
  'Timestamp',
  'Warning',
  'RSeq',
  'RAck',
  'Content-Disposition',
  'Content-Encoding',
  'i',
  'm',
  'f',
  't',
  'v',
  'l',
  'c',
  'k',
  's',
  'e',
  'o',
  'r',
  'b',
  'u',
  'x',
];

/** (length, first letter) → candidates [lowercase spelling, canonical name]. */
const KNOWN_NAMES: (readonly [string, string][] | undefined)[] = [];
for (const name of COMMON_HEADER_NAMES) {
  const lower = name.toLowerCase();
  const canonical = canonicalHeaderName(name);
  // Only names canonicalHeaderName itself normalizes; others keep the spelling they arrive with.
  if (canonicalHeaderName(lower) !== canonical || lower.length >= 64) continue;
  const key = knownNameKey(lower.length, lower.charCodeAt(0));
  const list = (KNOWN_NAMES[key] ?? []) as [string, string][];
  list.push([lower, canonical]);
  KNOWN_NAMES[key] = list;
}

function knownNameKey(length: number, firstChar: number): number {
  return length * 32 + (firstChar & 31);
}

/** Raw names seen on the wire → canonical names, for the rest. Bounded so random names cannot grow it. */
const canonicalCache = new Map<string, string>();
const CANONICAL_CACHE_LIMIT = 1024;

/** Canonical name of the token text[start, end) (already validated as a token). */
function canonicalNameAt(text: string, start: number, end: number): string {
  const length = end - start;
  if (length < 64) {
    const candidates = KNOWN_NAMES[knownNameKey(length, text.charCodeAt(start) | 0x20)];
    if (candidates !== undefined) {
      for (const [lower, canonical] of candidates) {
        let k = 0;
        // '| 0x20' folds ASCII letters; digits and '-' already have that bit, and the name is a token.
        while (k < length && (text.charCodeAt(start + k) | 0x20) === lower.charCodeAt(k)) k++;
        if (k === length) return canonical;
      }
    }
  }
  const raw = text.slice(start, end);
  let name = canonicalCache.get(raw);
  if (name === undefined) {
    name = canonicalHeaderName(raw);
    if (canonicalCache.size < CANONICAL_CACHE_LIMIT) canonicalCache.set(raw, name);
  }
  return name;
}

interface HeaderEnd {
  /** End of the header text (exclusive): the LF that ends the last header line. */
  textEnd: number;
  /** First byte of the body. */
  bodyStart: number;
}

/**
 * Finds the empty line ending the header block in data[start, limit): CRLF CRLF, LF LF or a mix.
 * Every empty line starts right after a LF, so the two searches below cover all spellings.
 */
function findHeaderEnd(data: Buffer, start: number, limit: number): HeaderEnd | undefined {
  const region = start === 0 && limit === data.length ? data : data.subarray(start, limit);
  const b = region.indexOf(LF_CRLF);
  // A LF LF can only matter before the first LF CRLF: search just that part.
  const a = (b === -1 ? region : region.subarray(0, b)).indexOf(LF_LF);
  if (a !== -1) return { textEnd: start + a, bodyStart: start + a + 2 };
  if (b !== -1) return { textEnd: start + b, bodyStart: start + b + 3 };
  return undefined;
}

function isWsp(code: number): boolean {
  return code === 32 || code === 9;
}

function hasWhitespace(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 9) return true;
  }
  return false;
}

type VersionCheck = 'ok' | 'unsupported' | 'malformed';

function checkVersion(text: string): VersionCheck {
  if (text === 'SIP/2.0') return 'ok';
  if (text.length < 7 || text.slice(0, 4).toUpperCase() !== 'SIP/') return 'malformed';
  const dot = text.indexOf('.', 4);
  if (dot <= 4 || dot === text.length - 1) return 'malformed';
  for (let i = 4; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (i !== dot && (c < 48 || c > 57)) return 'malformed';
  }
  return text.slice(4) === '2.0' ? 'ok' : 'unsupported';
}

/** What one parse has found so far: the first error, and the headers validation needs. */
class MessageScan {
  error: SipParseError | undefined = undefined;
  readonly headers = new SipHeaders();
  readonly vias: string[] = [];
  contacts: string[] | undefined = undefined;
  contentLengths: string[] | undefined = undefined;
  from: string | undefined = undefined;
  to: string | undefined = undefined;
  callId: string | undefined = undefined;
  cseq: string | undefined = undefined;
  maxForwards: string | undefined = undefined;
  fromCount = 0;
  toCount = 0;
  callIdCount = 0;
  cseqCount = 0;
  maxForwardsCount = 0;

  fail(code: SipParseErrorCode, reason: string): void {
    if (!this.error) this.error = { code, reason };
  }

  add(name: string, value: string): void {
    this.headers.appendCanonical(name, value);
    switch (name) {
      case 'Via':
        this.vias.push(value);
        break;
      case 'From':
        this.from = value;
        this.fromCount++;
        break;
      case 'To':
        this.to = value;
        this.toCount++;
        break;
      case 'Call-ID':
        this.callId = value;
        this.callIdCount++;
        break;
      case 'CSeq':
        this.cseq = value;
        this.cseqCount++;
        break;
      case 'Max-Forwards':
        this.maxForwards = value;
        this.maxForwardsCount++;
        break;
      case 'Content-Length':
        if (this.contentLengths === undefined) this.contentLengths = [value];
        else this.contentLengths.push(value);
        break;
      case 'Contact':
        if (this.contacts === undefined) this.contacts = [value];
        else this.contacts.push(value);
        break;
    }
  }

  /** Enough was read to answer the request (RFC 3261 §8.2.6.1 copies these into the response). */
  canAnswer(): boolean {
    return (
      this.vias.length > 0 &&
      this.fromCount > 0 &&
      this.toCount > 0 &&
      this.callIdCount > 0 &&
      this.cseqCount > 0
    );
  }

  checkNameAddr(name: 'From' | 'To', value: string | undefined, count: number): void {
    if (count === 0) this.fail('MissingHeader', `Missing ${name} header`);
    else if (count > 1) this.fail('DuplicateHeader', `Duplicate ${name} header`);
    else if (!isValidNameAddr(value!)) this.fail('InvalidHeaderValue', `Invalid ${name} header`);
  }

  /** Mandatory headers (RFC 3261 §8.1.1, §20); `method` is undefined for a response. */
  validate(method: string | undefined): void {
    if (this.vias.length === 0) this.fail('MissingHeader', 'Missing Via header');
    else {
      for (const line of this.vias) {
        if (!viaLineIsValid(line)) {
          this.fail('InvalidHeaderValue', 'Invalid Via header');
          return;
        }
      }
    }
    this.checkNameAddr('From', this.from, this.fromCount);
    this.checkNameAddr('To', this.to, this.toCount);
    if (this.error) return;
    if (this.callIdCount === 0) this.fail('MissingHeader', 'Missing Call-ID header');
    else if (this.callIdCount > 1) this.fail('DuplicateHeader', 'Duplicate Call-ID header');
    else if (!this.callId || hasWhitespace(this.callId))
      this.fail('InvalidHeaderValue', 'Invalid Call-ID header');
    if (this.error) return;
    if (this.cseqCount === 0) this.fail('MissingHeader', 'Missing CSeq header');
    else if (this.cseqCount > 1) this.fail('DuplicateHeader', 'Duplicate CSeq header');
    else {
      const cseq = parseCSeq(this.cseq!);
      if (!cseq) this.fail('InvalidHeaderValue', 'Invalid CSeq header');
      else if (method !== undefined && cseq.method !== method) {
        this.fail('CSeqMethodMismatch', `CSeq method ${cseq.method} does not match request method ${method}`);
      }
    }
    if (this.error || method === undefined) return;
    if (this.maxForwardsCount > 1) this.fail('DuplicateHeader', 'Duplicate Max-Forwards header');
    else if (this.maxForwards !== undefined && parseUnsigned(this.maxForwards, 255) === undefined) {
      this.fail('InvalidHeaderValue', 'Invalid Max-Forwards header');
    }
    if (this.contacts && !isValidContactList(this.contacts))
      this.fail('InvalidHeaderValue', 'Invalid Contact header');
  }
}

function viaLineIsValid(line: string): boolean {
  if (line.indexOf(',') === -1) return isValidVia(line);
  for (const part of splitHeaderList(line)) if (!isValidVia(part)) return false;
  return true;
}

/**
 * Parses one SIP message from a datagram or WebSocket message. Leading CRLFs are skipped (a buffer
 * of nothing else is a 'KeepAlive'). The body is exactly Content-Length bytes (extra bytes are
 * discarded, RFC 3261 §18.3), or the rest of the buffer when Content-Length is absent. The returned
 * body is a view into `data`.
 */
export function parseMessage(data: Buffer, options: ParseOptions = {}): ParseResult {
  const maxHeaders = options.maxHeaders ?? DEFAULT_MAX_HEADERS;
  const maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const len = data.length;

  let start = 0;
  while (start < len && (data[start] === 13 || data[start] === 10)) start++;
  if (start === len) return failure('KeepAlive', SIP_ERRORS.KeepAlive.message);

  const scan = new MessageScan();
  const limit = Math.min(len, start + maxHeaderBytes + 3);
  let end = findHeaderEnd(data, start, limit);
  if (end === undefined) {
    if (len - start > maxHeaderBytes) return failure('HeadersTooLarge', SIP_ERRORS.HeadersTooLarge.message);
    // Read what is there so that a 400 can still be answered.
    scan.fail('IncompleteHeaders', SIP_ERRORS.IncompleteHeaders.message);
    end = { textEnd: len, bodyStart: len };
  } else if (end.textEnd - start > maxHeaderBytes) {
    return failure('HeadersTooLarge', SIP_ERRORS.HeadersTooLarge.message);
  }

  // Most messages are ASCII, and latin1 decoding is cheaper than UTF-8 for the same result.
  const encoding = isAscii(data.subarray(start, end.textEnd)) ? 'latin1' : 'utf8';
  const text = data.toString(encoding, start, end.textEnd);
  const textLen = text.length;

  // A CR must be followed by LF; a bare CR inside a line could smuggle a line break downstream.
  for (let cr = text.indexOf('\r'); cr !== -1; cr = text.indexOf('\r', cr + 1)) {
    if (cr + 1 < textLen && text.charCodeAt(cr + 1) !== 10) {
      scan.fail('MalformedHeader', 'Bare CR in header block');
      break;
    }
  }

  // ---- start line ----
  let nl = text.indexOf('\n');
  if (nl === -1) nl = textLen;
  let lineEnd = nl;
  if (lineEnd > 0 && text.charCodeAt(lineEnd - 1) === 13) lineEnd--;
  const startLine = text.slice(0, lineEnd);

  let method: string | undefined;
  let uriText = '';
  let status = 0;
  let reason = '';
  const sp1 = startLine.indexOf(' ');
  const firstToken = sp1 === -1 ? startLine : startLine.slice(0, sp1);
  if (firstToken.indexOf('/') !== -1) {
    const version = checkVersion(firstToken);
    if (version === 'malformed' || sp1 === -1) return failure('MalformedStartLine', 'Malformed Status-Line');
    if (version === 'unsupported')
      return failure('VersionNotSupported', SIP_ERRORS.VersionNotSupported.message);
    const c0 = startLine.charCodeAt(sp1 + 1);
    const c1 = startLine.charCodeAt(sp1 + 2);
    const c2 = startLine.charCodeAt(sp1 + 3);
    const after = sp1 + 4;
    const digits = c0 >= 48 && c0 <= 57 && c1 >= 48 && c1 <= 57 && c2 >= 48 && c2 <= 57;
    if (!digits || (after < startLine.length && startLine.charCodeAt(after) !== 32)) {
      return failure('InvalidStatusCode', 'Status code is not three digits');
    }
    status = (c0 - 48) * 100 + (c1 - 48) * 10 + (c2 - 48);
    if (status < 100 || status > 699) return failure('InvalidStatusCode', 'Status code out of range 100-699');
    reason = after < startLine.length ? startLine.slice(after + 1) : '';
  } else {
    if (!isToken(firstToken) || sp1 === -1) return failure('MalformedStartLine', 'Malformed Request-Line');
    method = firstToken;
    const problem = requestLineProblem(startLine, sp1);
    if (problem) scan.fail(problem[0], problem[1]);
    uriText = startLine.slice(sp1 + 1, startLine.lastIndexOf(' '));
  }

  // ---- header lines ----
  let fieldCount = 0;
  let pendingName: string | undefined;
  let pendingValue = '';
  let pos = nl + 1;
  while (pos < textLen) {
    nl = text.indexOf('\n', pos);
    if (nl === -1) nl = textLen;
    lineEnd = nl;
    if (lineEnd > pos && text.charCodeAt(lineEnd - 1) === 13) lineEnd--;
    const c = text.charCodeAt(pos);
    if (c === 32 || c === 9) {
      // Line folding (RFC 3261 §7.3.1): the continuation joins the value with a single space.
      if (pendingName === undefined) scan.fail('MalformedHeader', 'Continuation line without a header');
      else {
        let s = pos;
        let e = lineEnd;
        while (s < e && isWsp(text.charCodeAt(s))) s++;
        while (e > s && isWsp(text.charCodeAt(e - 1))) e--;
        if (e > s)
          pendingValue = pendingValue.length > 0 ? pendingValue + ' ' + text.slice(s, e) : text.slice(s, e);
      }
    } else {
      if (pendingName !== undefined) scan.add(pendingName, pendingValue);
      pendingName = undefined;
      const colon = text.indexOf(':', pos);
      if (colon === -1 || colon >= lineEnd) scan.fail('MalformedHeader', 'Header line without a colon');
      else {
        let nameEnd = colon;
        while (nameEnd > pos && isWsp(text.charCodeAt(nameEnd - 1))) nameEnd--;
        let validName = nameEnd > pos;
        for (let i = pos; validName && i < nameEnd; i++) validName = isTokenChar(text.charCodeAt(i));
        if (!validName) scan.fail('MalformedHeader', 'Invalid header name');
        else {
          if (++fieldCount > maxHeaders) return failure('TooManyHeaders', SIP_ERRORS.TooManyHeaders.message);
          let s = colon + 1;
          let e = lineEnd;
          while (s < e && isWsp(text.charCodeAt(s))) s++;
          while (e > s && isWsp(text.charCodeAt(e - 1))) e--;
          pendingName = canonicalNameAt(text, pos, nameEnd);
          pendingValue = text.slice(s, e);
        }
      }
    }
    pos = nl + 1;
  }
  if (pendingName !== undefined) scan.add(pendingName, pendingValue);

  if (!scan.error) scan.validate(method);

  // ---- body framing (RFC 3261 §18.3) ----
  let body = EMPTY_BODY;
  const available = len - end.bodyStart;
  const contentLengths = scan.contentLengths;
  if (contentLengths !== undefined) {
    let contentLength = parseUnsigned(contentLengths[0]!, MAX_CONTENT_LENGTH);
    for (let i = 1; i < contentLengths.length && contentLength !== undefined; i++) {
      if (parseUnsigned(contentLengths[i]!, MAX_CONTENT_LENGTH) !== contentLength) contentLength = undefined;
    }
    if (contentLength === undefined)
      scan.fail('InvalidContentLength', SIP_ERRORS.InvalidContentLength.message);
    else if (contentLength > available) {
      scan.fail(
        'BodyTruncated',
        `Content-Length ${contentLength} exceeds the ${available} body bytes received`,
      );
    } else if (contentLength > 0) body = data.subarray(end.bodyStart, end.bodyStart + contentLength);
  } else if (available > 0) body = data.subarray(end.bodyStart);

  const error = scan.error;
  if (error) {
    if (method !== undefined && scan.canAnswer()) error.request = { method, headers: scan.headers };
    return { ok: false, error };
  }
  const headers = scan.headers;
  if (method !== undefined) {
    const request: SipRequest = { kind: 'request', method, uri: uriText, version: 'SIP/2.0', headers, body };
    return { ok: true, message: request };
  }
  const response: SipResponse = { kind: 'response', status, reason, version: 'SIP/2.0', headers, body };
  return { ok: true, message: response };
}

type Problem = readonly [SipParseErrorCode, string];

/** What is wrong with `Method SP Request-URI SP SIP-Version` after the method (RFC 3261 §7.1, §25.1). */
function requestLineProblem(startLine: string, sp1: number): Problem | undefined {
  const sp2 = startLine.lastIndexOf(' ');
  const versionText = startLine.slice(sp2 + 1);
  const uriText = startLine.slice(sp1 + 1, sp2);
  if (sp2 === sp1) return ['MalformedStartLine', 'Request-Line has no SIP-Version'];
  if (versionText.length === 0) return ['MalformedStartLine', 'Trailing whitespace in Request-Line'];
  if (uriText.length === 0 || uriText.charCodeAt(0) === 32 || uriText.charCodeAt(uriText.length - 1) === 32) {
    return ['MalformedStartLine', 'Extra whitespace in Request-Line'];
  }
  if (hasWhitespace(uriText)) return ['InvalidRequestUri', 'Whitespace in Request-URI'];
  const version = checkVersion(versionText);
  if (version === 'malformed') return ['MalformedStartLine', 'Malformed SIP-Version in Request-Line'];
  if (version === 'unsupported') return ['VersionNotSupported', SIP_ERRORS.VersionNotSupported.message];
  const kind = classifyRequestUri(uriText);
  if (kind === 'invalid') return ['InvalidRequestUri', SIP_ERRORS.InvalidRequestUri.message];
  if (kind === 'other-scheme') return ['UnsupportedUriScheme', SIP_ERRORS.UnsupportedUriScheme.message];
  if (kind === 'sip-with-headers') return ['InvalidRequestUri', 'Request-URI must not contain headers'];
  return undefined;
}

function failure(code: SipParseErrorCode, reason: string): ParseResult {
  return { ok: false, error: { code, reason } };
}

// ---- stream framing ----

export interface StreamFramerOptions {
  /** Most bytes of one message (headers and body). Default 65536. */
  maxMessageBytes?: number;
  /** Most bytes of start line plus headers. Default 16384. */
  maxHeaderBytes?: number;
  /** Called for each CRLFCRLF keep-alive ping between messages (RFC 5626 §3.5.1: answer with CRLF). */
  onKeepAlive?: () => void;
}

/**
 * Cuts a byte stream (TCP, TLS) into whole SIP messages using Content-Length, which is mandatory on
 * streams (RFC 3261 §18.3). After a framing error the stream cannot be resynchronized: `error` is
 * set, `push` returns nothing more, and the transport should close the connection.
 */
export class SipStreamFramer {
  private readonly maxMessageBytes: number;
  private readonly maxHeaderBytes: number;
  private readonly onKeepAlive: (() => void) | undefined;
  /** Pending bytes live in storage[0, size). */
  private storage: Buffer = Buffer.alloc(0);
  private size = 0;
  /** Offset from the message start where the search for the empty line resumes. */
  private scanFrom = 0;
  /** Total length of the message being received once its headers are complete, else -1. */
  private expected = -1;
  private failed: SipParseError | undefined;
  private failedHeadBytes: Buffer | undefined;

  constructor(options: StreamFramerOptions = {}) {
    this.maxMessageBytes = options.maxMessageBytes ?? 65536;
    this.maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
    this.onKeepAlive = options.onKeepAlive;
  }

  /** The framing error that stopped this stream, if any. */
  get error(): SipParseError | undefined {
    return this.failed;
  }

  /**
   * The start line and headers of the message whose Content-Length stopped the stream (missing,
   * invalid, too large), so that the transport's user can still answer it (400, 513) before the
   * connection closes. Undefined for other framing errors (headers never completed).
   */
  get failedHead(): Buffer | undefined {
    return this.failedHeadBytes;
  }

  /** Bytes received but not yet returned as a message. */
  get pendingBytes(): number {
    return this.size;
  }

  /** Feeds received bytes; returns every message completed by them, in order. Never throws. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    if (this.failed || chunk.length === 0) return out;
    let data: Buffer;
    let owned: boolean;
    if (this.size === 0) {
      data = chunk;
      owned = false;
    } else {
      this.append(chunk, 0);
      data = this.storage.subarray(0, this.size);
      owned = true;
    }
    let pos = 0;
    while (pos < data.length) {
      if (this.expected < 0 && this.scanFrom === 0) {
        const next = this.skipKeepAlives(data, pos);
        if (next < 0) {
          pos = -next - 1;
          break;
        }
        pos = next;
        if (pos >= data.length) break;
      }
      if (this.expected < 0) {
        const total = this.frame(data, pos);
        if (total === undefined) break;
        this.expected = total;
      }
      if (data.length - pos < this.expected) break;
      const message = data.subarray(pos, pos + this.expected);
      out.push(owned ? Buffer.from(message) : message);
      pos += this.expected;
      this.expected = -1;
      this.scanFrom = 0;
    }
    if (this.failed) {
      this.size = 0;
      this.storage = Buffer.alloc(0);
      return out;
    }
    if (owned) {
      if (pos > 0) this.storage.copyWithin(0, pos, this.size);
      this.size -= pos;
    } else if (pos < data.length) {
      this.size = 0;
      this.append(data, pos);
    }
    return out;
  }

  /**
   * Skips CR/LF between messages, reporting each CRLFCRLF as a keep-alive ping. Returns the index of
   * the next message byte, or -(index + 1) when the run reaches the end of the data (an incomplete
   * ping is kept for the next chunk).
   */
  private skipKeepAlives(data: Buffer, pos: number): number {
    let p = pos;
    let lineFeeds = 0;
    let consumed = pos;
    while (p < data.length && (data[p] === 13 || data[p] === 10)) {
      if (data[p] === 10 && ++lineFeeds === 2) {
        lineFeeds = 0;
        consumed = p + 1;
        this.onKeepAlive?.();
      }
      p++;
    }
    if (p < data.length) return p;
    return -(consumed + 1);
  }

  /** Total length of the message starting at `pos` once its headers are complete, else undefined. */
  private frame(data: Buffer, pos: number): number | undefined {
    const limit = Math.min(data.length, pos + this.maxHeaderBytes + 3);
    const searchFrom = pos + Math.max(0, this.scanFrom - 2);
    const found = searchFrom < limit ? findHeaderEnd(data, searchFrom, limit) : undefined;
    if (!found) {
      if (data.length - pos > this.maxHeaderBytes)
        this.fail('HeadersTooLarge', SIP_ERRORS.HeadersTooLarge.message);
      else this.scanFrom = data.length - pos;
      return undefined;
    }
    if (found.textEnd - pos > this.maxHeaderBytes) {
      this.fail('HeadersTooLarge', SIP_ERRORS.HeadersTooLarge.message);
      return undefined;
    }
    const contentLength = streamContentLength(data.toString('latin1', pos, found.textEnd));
    const keepHead = () => {
      this.failedHeadBytes = Buffer.from(data.subarray(pos, found.bodyStart));
    };
    if (contentLength === undefined) {
      keepHead();
      this.fail('MissingContentLength', SIP_ERRORS.MissingContentLength.message);
      return undefined;
    }
    if (contentLength < 0) {
      keepHead();
      this.fail('InvalidContentLength', SIP_ERRORS.InvalidContentLength.message);
      return undefined;
    }
    const total = found.bodyStart - pos + contentLength;
    if (total > this.maxMessageBytes) {
      keepHead();
      this.fail('MessageTooLarge', SIP_ERRORS.MessageTooLarge.message);
      return undefined;
    }
    return total;
  }

  private fail(code: SipParseErrorCode, reason: string): void {
    this.failed = { code, reason };
  }

  private append(source: Buffer, from: number): void {
    const needed = this.size + source.length - from;
    if (needed > this.storage.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.storage.length * 2, 4096));
      this.storage.copy(grown, 0, 0, this.size);
      this.storage = grown;
    }
    source.copy(this.storage, this.size, from);
    this.size = needed;
  }
}

/**
 * Content-Length of a header block for stream framing: undefined when absent, -1 when invalid
 * (not a number, out of range, or several that disagree).
 */
function streamContentLength(block: string): number | undefined {
  let result: number | undefined;
  let pos = block.indexOf('\n') + 1;
  if (pos === 0) return undefined;
  while (pos < block.length) {
    let nl = block.indexOf('\n', pos);
    if (nl === -1) nl = block.length;
    const colon = block.indexOf(':', pos);
    if (colon !== -1 && colon < nl && !isWsp(block.charCodeAt(pos))) {
      let nameEnd = colon;
      while (nameEnd > pos && isWsp(block.charCodeAt(nameEnd - 1))) nameEnd--;
      const nameLength = nameEnd - pos;
      if (nameLength === 1 || nameLength === 14) {
        const name = block.slice(pos, nameEnd).toLowerCase();
        if (name === 'l' || name === 'content-length') {
          let value = block.slice(colon + 1, nl);
          // Folded continuation lines belong to this value.
          while (nl < block.length && isWsp(block.charCodeAt(nl + 1))) {
            const next = block.indexOf('\n', nl + 1);
            const contEnd = next === -1 ? block.length : next;
            value += ' ' + block.slice(nl + 1, contEnd);
            nl = contEnd;
          }
          const parsed = parseUnsigned(value, MAX_CONTENT_LENGTH);
          if (parsed === undefined || (result !== undefined && result !== parsed)) return -1;
          result = parsed;
        }
      }
    }
    pos = nl + 1;
  }
  return result;
}
