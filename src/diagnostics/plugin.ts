/**
 * The diagnostics endpoints (a Switchboard extension of the REST API), as a Fastify plugin:
 *
 *   GET /diagnostics/calls/{CallId}   a call's identifier map, as far as the caller may see it
 *   GET /diagnostics/lookup?id=…       which calls an identifier names
 *
 * HTTP Basic `email:SecretKey` exactly as the REST API (the same Authenticator over the same
 * credential store), and the same error format.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Authenticator } from '../api/auth.js';
import { ApiError } from '../api/errors.js';
import { DEFAULT_RATE_LIMITS, type RateLimits } from '../api/types.js';
import { DiagnosticsError } from './errors.js';
import { DiagnosticsService, parseIdentifier } from './service.js';
import type { DiagnosticsDeps } from './types.js';

const JSON_TYPE = 'application/json; charset=utf-8';

function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  let status: number;
  let body: { Message: string; Code: string; Parameter?: string };
  if (error instanceof DiagnosticsError) {
    status = error.status;
    body = error.toBody();
  } else if (error instanceof ApiError) {
    // Authentication and throttling, raised by the shared Authenticator.
    status = error.status;
    body = error.toBody();
    if (error.code === 'UNAUTHORIZED')
      reply.header('WWW-Authenticate', 'Basic realm="Switchboard", charset="UTF-8"');
    if (error.retryAfterSeconds !== undefined) reply.header('Retry-After', String(error.retryAfterSeconds));
  } else {
    const framework = typeof error === 'object' && error !== null ? (error as { statusCode?: number }) : {};
    if (framework.statusCode !== undefined && framework.statusCode >= 400 && framework.statusCode < 500) {
      status = framework.statusCode;
      body = { Message: 'The request could not be read', Code: 'BAD_PARAMETER' };
    } else {
      status = 500;
      body = { Message: 'Internal error; it has been logged', Code: 'INTERNAL' };
    }
  }
  if (status >= 500) request.log.error({ err: error }, 'diagnostics request failed');
  else request.log.info({ code: body.Code }, body.Message);
  return reply.status(status).header('Cache-Control', 'no-store').type(JSON_TYPE).send(JSON.stringify(body));
}

/** Query parameter by name, case-insensitively (the REST API's rule). */
function queryParameter(request: FastifyRequest, name: string): unknown {
  const query = (request.query ?? {}) as Record<string, unknown>;
  const values = Object.entries(query).filter(([key]) => key.toLowerCase() === name.toLowerCase());
  if (values.length > 1) return values.map(([, value]) => value);
  return values[0]?.[1];
}

export const diagnosticsPlugin: FastifyPluginAsync<DiagnosticsDeps> = async (app, deps) => {
  const rateLimits: RateLimits = { ...DEFAULT_RATE_LIMITS, ...deps.rateLimits };
  const authenticator = new Authenticator({
    directory: deps.directory,
    credentials: deps.credentials,
    rateLimits,
    now: deps.now ?? Date.now,
    maxActiveKeysPerUser: 10,
    verifiedKeyCacheMs: 60_000,
  });
  const service = new DiagnosticsService({
    directory: deps.directory,
    journal: deps.journal,
    records: deps.records,
  });

  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    return payload;
  });

  const send = (reply: FastifyReply, body: unknown) =>
    reply.header('Cache-Control', 'no-store').type(JSON_TYPE).send(JSON.stringify(body));

  app.get('/diagnostics/calls/:CallId', async (request, reply) => {
    const viewer = await authenticator.authenticate(request.headers.authorization);
    const { CallId } = request.params as { CallId?: string };
    const callId = parseIdentifier(CallId, 'CallId');
    return send(reply, await service.callMapFor(callId, viewer));
  });

  app.get('/diagnostics/lookup', async (request, reply) => {
    const viewer = await authenticator.authenticate(request.headers.authorization);
    const identifier = parseIdentifier(queryParameter(request, 'id'), 'id');
    return send(reply, await service.lookup(identifier, viewer));
  });
};
