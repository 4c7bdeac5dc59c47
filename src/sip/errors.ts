/**
 * Error codes of the `sip` package. Errors are values: the parser returns them, it never throws.
 * Each code carries a default message and, where a server answers a request that failed this
 * way, the SIP status to answer with (`null`: nothing to answer — drop or ignore).
 */

export const SIP_ERRORS = {
  // ---- parser (RFC 3261 §7, §18.3, §25) ----
  /** The datagram (or stream gap) held only CR/LF bytes or nothing: a keep-alive, not a message. */
  KeepAlive: { message: 'Keep-alive (only CRLF)', status: null },
  /** Start line is not `Method SP Request-URI SP SIP-Version` nor `SIP-Version SP Status-Code SP Reason`. */
  MalformedStartLine: { message: 'Malformed start line', status: 400 },
  /** A well-formed SIP version other than SIP/2.0 (RFC 3261 §8.2.2.3 → 505). */
  VersionNotSupported: { message: 'Version Not Supported', status: 505 },
  /** The Request-URI does not parse, or carries URI headers (RFC 4475 §3.1.2.11). */
  InvalidRequestUri: { message: 'Invalid Request-URI', status: 400 },
  /** The Request-URI is a well-formed absoluteURI of a scheme other than sip, sips, tel (→ 416). */
  UnsupportedUriScheme: { message: 'Unsupported URI Scheme', status: 416 },
  /** A status code that is not three digits in 100–699. */
  InvalidStatusCode: { message: 'Invalid status code', status: null },
  /** A header line without a colon, with a bad name, a bare CR, or a continuation with nothing to continue. */
  MalformedHeader: { message: 'Malformed header line', status: 400 },
  /** The header block does not end with an empty line. */
  IncompleteHeaders: { message: 'Missing empty line after the headers', status: 400 },
  /** More header fields than the `maxHeaders` limit. */
  TooManyHeaders: { message: 'Too many header fields', status: null },
  /** The start line and headers are longer than the `maxHeaderBytes` limit. */
  HeadersTooLarge: { message: 'Header block too large', status: null },
  /** A header every request / response must carry is absent (RFC 3261 §8.1.1). */
  MissingHeader: { message: 'Missing mandatory header', status: 400 },
  /** A header that may appear only once appears more than once (From, To, Call-ID, CSeq, Max-Forwards). */
  DuplicateHeader: { message: 'Duplicate header', status: 400 },
  /** A mandatory header's value does not parse (Via, From, To, Call-ID, CSeq, Max-Forwards, Contact). */
  InvalidHeaderValue: { message: 'Invalid header value', status: 400 },
  /** The CSeq method differs from the request method (RFC 4475 §3.1.2.17). */
  CSeqMethodMismatch: { message: 'CSeq method does not match request method', status: 400 },
  /** Content-Length is not a number, is negative, or several Content-Length headers disagree. */
  InvalidContentLength: { message: 'Invalid Content-Length', status: 400 },
  /** Content-Length is larger than the bytes that arrived (datagram; RFC 3261 §18.3 → 400). */
  BodyTruncated: { message: 'Content-Length larger than the message body', status: 400 },

  // ---- stream framing (RFC 3261 §18.3: Content-Length is mandatory on streams) ----
  /** A message on a stream transport without Content-Length: the stream cannot be framed. */
  MissingContentLength: { message: 'Missing Content-Length on a stream transport', status: null },
  /** A message on a stream transport larger than the framer's `maxMessageBytes` limit. */
  MessageTooLarge: { message: 'Message too large', status: null },
} as const satisfies Record<string, { message: string; status: number | null }>;

export type SipErrorCode = keyof typeof SIP_ERRORS;

/** The codes `parseMessage` and `SipStreamFramer` produce. */
export type SipParseErrorCode =
  | 'KeepAlive'
  | 'MalformedStartLine'
  | 'VersionNotSupported'
  | 'InvalidRequestUri'
  | 'UnsupportedUriScheme'
  | 'InvalidStatusCode'
  | 'MalformedHeader'
  | 'IncompleteHeaders'
  | 'TooManyHeaders'
  | 'HeadersTooLarge'
  | 'MissingHeader'
  | 'DuplicateHeader'
  | 'InvalidHeaderValue'
  | 'CSeqMethodMismatch'
  | 'InvalidContentLength'
  | 'BodyTruncated'
  | 'MissingContentLength'
  | 'MessageTooLarge';

/** Status to answer a request that failed with `code`, or null when nothing should be sent. */
export function sipErrorStatus(code: SipErrorCode): number | null {
  return SIP_ERRORS[code].status;
}
