/**
 * Every error the HTTP surface answers with — the REST API, diagnostics and the browser assets —
 * one code per kind, each with its HTTP status (CONVENTIONS, src/errors.ts). Bodies are
 * `{"Message", "Code", "Parameter"?}` (DESIGN.md §3: `{"Message": ...}` plus extras): the message
 * is written for the integration developer and never carries a stack trace, SQL or a secret.
 * ./error-handler.ts turns these into responses.
 */
import { SwitchboardError } from '../errors.js';

export const HTTP_ERRORS = {
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
  /** A browser bundle (webphone SDK, console) is not in the build output: `npm run build` has not run. */
  ASSET_UNAVAILABLE: { status: 503 },
} as const satisfies Record<string, { status: number }>;

export type HttpErrorCode = keyof typeof HTTP_ERRORS;

export interface HttpErrorBody {
  Message: string;
  Code: HttpErrorCode;
  /** The offending parameter, for 400s about one parameter. */
  Parameter?: string;
}

export class HttpError extends SwitchboardError<HttpErrorCode> {
  readonly status: number;
  readonly parameter: string | undefined;
  /** Seconds, for 429. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: HttpErrorCode,
    message: string,
    extra: { parameter?: string; retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(code, message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.status = HTTP_ERRORS[code].status;
    this.parameter = extra.parameter;
    this.retryAfterSeconds = extra.retryAfterSeconds;
  }

  toBody(): HttpErrorBody {
    const body: HttpErrorBody = { Message: this.message, Code: this.code };
    if (this.parameter !== undefined) body.Parameter = this.parameter;
    return body;
  }
}

export function isHttpError(value: unknown): value is HttpError {
  return value instanceof HttpError;
}

export const badParameter = (parameter: string, message: string): HttpError =>
  new HttpError('BAD_PARAMETER', message, { parameter });

export const missingParameter = (parameter: string, message: string): HttpError =>
  new HttpError('MISSING_PARAMETER', message, { parameter });

export const unknownParameter = (parameter: string, message: string): HttpError =>
  new HttpError('UNKNOWN_PARAMETER', message, { parameter });

export const notFound = (message: string): HttpError => new HttpError('NOT_FOUND', message);

export const forbidden = (parameter: string, message: string): HttpError =>
  new HttpError('FORBIDDEN', message, { parameter });

export const conflict = (message: string): HttpError => new HttpError('CONFLICT', message);

export const tooManyRequests = (message: string, retryAfterSeconds: number): HttpError =>
  new HttpError('TOO_MANY_REQUESTS', message, { retryAfterSeconds });

/** The one 401 message: it never says whether the user exists or which half was wrong. */
export const unauthorized = (message = 'Invalid user name or secret key'): HttpError =>
  new HttpError('UNAUTHORIZED', message);

export const internalError = (): HttpError => new HttpError('INTERNAL', 'Internal error; it has been logged');
