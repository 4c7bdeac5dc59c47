/**
 * Every error the REST API answers with, one code per kind, each with its HTTP status. Bodies are
 * `{"Message", "Code", "Parameter"?}` (DESIGN.md §3: `{"Message": ...}` plus extras): the message
 * is written for the integration developer and never carries a stack trace, SQL or a secret.
 */

export const API_ERRORS = {
  /** A parameter (query, path, body or header) has a bad value; `parameter` names it. */
  BAD_PARAMETER: { status: 400 },
  /** A required parameter is absent; `parameter` names it. */
  MISSING_PARAMETER: { status: 400 },
  /** A parameter this endpoint does not know, or one that cannot be combined with another. */
  UNKNOWN_PARAMETER: { status: 400 },
  /** The body is not the JSON this endpoint expects. */
  BAD_BODY: { status: 400 },
  /** The request itself could not be read (a malformed URL, a broken body stream). */
  BAD_REQUEST: { status: 400 },
  /** No, malformed or wrong credentials. */
  UNAUTHORIZED: { status: 401 },
  /** An explicit filter names an entity the caller may not see. */
  FORBIDDEN: { status: 403 },
  /** An unknown id, or one the caller may not see (the two are not told apart). */
  NOT_FOUND: { status: 404 },
  /** No such endpoint. */
  NO_ROUTE: { status: 404 },
  METHOD_NOT_ALLOWED: { status: 405 },
  /** The change contradicts the entity's state (e.g. closing a callback request that is not Open). */
  CONFLICT: { status: 409 },
  PAYLOAD_TOO_LARGE: { status: 413 },
  UNSUPPORTED_MEDIA_TYPE: { status: 415 },
  /** Throttled: too many failed logins, or too many requests; `Retry-After` says when to try again. */
  TOO_MANY_REQUESTS: { status: 429 },
  /** A bug or an unavailable store; the details are logged, not returned. */
  INTERNAL: { status: 500 },
} as const satisfies Record<string, { status: number }>;

export type ApiErrorCode = keyof typeof API_ERRORS;

export interface ApiErrorBody {
  Message: string;
  Code: ApiErrorCode;
  /** The offending parameter, for 400s about one parameter. */
  Parameter?: string;
}

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly status: number;
  readonly parameter: string | undefined;
  /** Seconds, for 429. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: ApiErrorCode,
    message: string,
    extra: { parameter?: string; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = API_ERRORS[code].status;
    this.parameter = extra.parameter;
    this.retryAfterSeconds = extra.retryAfterSeconds;
  }

  toBody(): ApiErrorBody {
    const body: ApiErrorBody = { Message: this.message, Code: this.code };
    if (this.parameter !== undefined) body.Parameter = this.parameter;
    return body;
  }
}

export const badParameter = (parameter: string, message: string): ApiError =>
  new ApiError('BAD_PARAMETER', message, { parameter });

export const missingParameter = (parameter: string, message: string): ApiError =>
  new ApiError('MISSING_PARAMETER', message, { parameter });

export const unknownParameter = (parameter: string, message: string): ApiError =>
  new ApiError('UNKNOWN_PARAMETER', message, { parameter });

export const notFound = (message: string): ApiError => new ApiError('NOT_FOUND', message);

export const forbidden = (parameter: string, message: string): ApiError =>
  new ApiError('FORBIDDEN', message, { parameter });

export const conflict = (message: string): ApiError => new ApiError('CONFLICT', message);

export const tooManyRequests = (message: string, retryAfterSeconds: number): ApiError =>
  new ApiError('TOO_MANY_REQUESTS', message, { retryAfterSeconds });

/** The one 401 message: it never says whether the user exists or which half was wrong. */
export const unauthorized = (message = 'Invalid user name or secret key'): ApiError =>
  new ApiError('UNAUTHORIZED', message);

/** What a Fastify (framework-level) error becomes: a known 4xx keeps a safe message; anything else is a 500. */
export function fromFrameworkError(error: { code?: string; statusCode?: number }): ApiError {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('PAYLOAD_TOO_LARGE', 'The request body is too large');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('BAD_BODY', 'The request body is empty; expected a JSON object');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('BAD_BODY', 'The request body is not valid JSON');
    default:
      break;
  }
  if (error.code === 'FST_ERR_BAD_URL') return new ApiError('BAD_REQUEST', 'The URL is not valid');
  // Errors reading the body stream carry status 400 but no FST code.
  if (error.statusCode === 400) return new ApiError('BAD_REQUEST', 'The request could not be read');
  if (error.statusCode === 413) return new ApiError('PAYLOAD_TOO_LARGE', 'The request body is too large');
  if (error.statusCode === 415)
    return new ApiError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json');
  return new ApiError('INTERNAL', 'Internal error; it has been logged');
}
