/**
 * The one error handler of the HTTP surface (REST API, diagnostics, browser assets): every error
 * becomes a JSON `{"Message", "Code", "Parameter"?}` body (./errors.ts) with `Cache-Control:
 * no-store`; 401s carry `WWW-Authenticate: Basic`, 429s `Retry-After`. Errors Fastify raises
 * itself (a malformed URL, a body it cannot parse) keep a safe message; anything else is a 500
 * whose details are logged, never returned.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isResponseSerializationError } from 'fastify-type-provider-zod';
import { HttpError, internalError, isHttpError } from './errors.js';
import { quoteValue } from './schemas.js';

const JSON_TYPE = 'application/json; charset=utf-8';

/** What a Fastify (framework-level) error becomes: a known 4xx keeps a safe message; anything else is a 500. */
export function fromFrameworkError(error: { code?: string; statusCode?: number }): HttpError {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpError('PAYLOAD_TOO_LARGE', 'The request body is too large');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new HttpError('BAD_BODY', 'The request body is empty; expected a JSON object');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HttpError('BAD_BODY', 'The request body is not valid JSON');
    case 'FST_ERR_BAD_URL':
      return new HttpError('BAD_REQUEST', 'The URL is not valid');
    default:
      break;
  }
  // Errors reading the body stream carry status 400 but no FST code.
  if (error.statusCode === 400) return new HttpError('BAD_REQUEST', 'The request could not be read');
  if (error.statusCode === 413) return new HttpError('PAYLOAD_TOO_LARGE', 'The request body is too large');
  if (error.statusCode === 415)
    return new HttpError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json');
  return internalError();
}

export function sendHttpError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  let httpError: HttpError;
  if (isHttpError(error)) {
    httpError = error;
  } else if (isResponseSerializationError(error)) {
    // A handler produced a body its response schema refuses: a bug, never shown to the client.
    request.log.error(
      { url: error.url, issues: error.cause.issues.slice(0, 5) },
      'response does not match its schema',
    );
    httpError = internalError();
  } else {
    httpError = fromFrameworkError(
      typeof error === 'object' && error !== null ? (error as { code?: string; statusCode?: number }) : {},
    );
  }
  if (httpError.status >= 500) {
    request.log.error({ err: error }, 'request failed');
  } else {
    // Failed logins and throttling are what an operator watches for; the rest is routine.
    const level = httpError.status === 401 || httpError.status === 429 ? 'warn' : 'info';
    request.log[level]({ code: httpError.code, parameter: httpError.parameter }, httpError.message);
  }
  if (httpError.code === 'UNAUTHORIZED')
    reply.header('WWW-Authenticate', 'Basic realm="Switchboard", charset="UTF-8"');
  if (httpError.retryAfterSeconds !== undefined)
    reply.header('Retry-After', String(httpError.retryAfterSeconds));
  return reply
    .status(httpError.status)
    .header('Cache-Control', 'no-store')
    .type(JSON_TYPE)
    .send(JSON.stringify(httpError.toBody()));
}

/** onSend hook of the JSON endpoints: not cached unless a route says otherwise, never sniffed. */
export async function jsonResponseHeaders(
  _request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
): Promise<unknown> {
  reply.header('X-Content-Type-Options', 'nosniff');
  if (!reply.hasHeader('cache-control')) reply.header('Cache-Control', 'no-store');
  return payload;
}

/** The JSON 404 for a path nothing serves. */
export function sendNoRoute(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = request.url.split('?')[0] ?? '';
  return sendHttpError(
    new HttpError('NO_ROUTE', `No such endpoint: ${request.method} ${quoteValue(path)}`),
    request,
    reply,
  );
}
