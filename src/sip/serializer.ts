/**
 * SIP message serializer. Builds the start line and headers as one string, encodes it once, and
 * copies the body after it. Content-Length is always written from the actual body length (RFC 3261
 * §18.3 makes it mandatory on streams; a wrong value would desynchronize the peer).
 */

import type { SipHeaders, SipMessage } from './message.js';

/** A header value may not break the line: CR and LF become spaces (no header injection). */
function lineSafe(text: string): string {
  if (text.indexOf('\r') === -1 && text.indexOf('\n') === -1) return text;
  return text.replace(/[\r\n]+/g, ' ');
}

export function serializeRequestLine(method: string, uri: string, version = 'SIP/2.0'): string {
  return `${lineSafe(method)} ${lineSafe(uri)} ${version}\r\n`;
}

export function serializeStatusLine(status: number, reason: string, version = 'SIP/2.0'): string {
  return `${version} ${status} ${lineSafe(reason)}\r\n`;
}

/**
 * Header lines (each ending in CRLF) with every Content-Length replaced by one carrying
 * `contentLength`, in the position of the first one (or last when there was none).
 */
export function serializeHeaders(headers: SipHeaders, contentLength: number): string {
  let out = '';
  let wroteLength = false;
  for (const field of headers) {
    if (field.name === 'Content-Length') {
      if (!wroteLength) out += `Content-Length: ${contentLength}\r\n`;
      wroteLength = true;
      continue;
    }
    out += field.name + ': ' + lineSafe(field.value) + '\r\n';
  }
  if (!wroteLength) out += `Content-Length: ${contentLength}\r\n`;
  return out;
}

/** Serializes a message to wire bytes: start line, headers, empty line, body. */
export function serializeMessage(message: SipMessage): Buffer {
  const body = message.body;
  const head =
    (message.kind === 'request'
      ? serializeRequestLine(message.method, message.uri, message.version)
      : serializeStatusLine(message.status, message.reason, message.version)) +
    serializeHeaders(message.headers, body.length) +
    '\r\n';
  const headLength = Buffer.byteLength(head, 'utf8');
  const out = Buffer.allocUnsafe(headLength + body.length);
  out.write(head, 0, 'utf8');
  body.copy(out, headLength);
  return out;
}
