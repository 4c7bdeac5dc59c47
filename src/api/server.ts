/**
 * The REST API as a Fastify application.
 *
 * - `createApiServer(deps)`: a complete Fastify instance (API routes, JSON 404s), ready to `listen`;
 *   the platform may add its own routes (the SIP WebSocket `/sip`, the console) to it.
 * - `apiPlugin`: the same routes as an encapsulated plugin, for mounting into an existing instance
 *   with `app.register(apiPlugin, deps)`; its error handler applies to its own routes only.
 *
 * The API claims only its own paths (see ./README.md); `/`, `/sip` and `/webphone.js` stay free.
 */
import {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyReply,
  type FastifyRequest,
  fastify,
} from 'fastify';
import { z } from 'zod';
import { silentLogger } from '../logger.js';
import { Authenticator } from './auth.js';
import { renderDocsPage } from './docs-page.js';
import { ApiError, badParameter, fromFrameworkError, tooManyRequests } from './errors.js';
import { buildOpenApiDocument } from './openapi.js';
import { TokenBuckets } from './rate-limit.js';
import type { Route } from './route.js';
import { authUserRoutes } from './routes/authuser.js';
import { callbackRequestRoutes } from './routes/callback-requests.js';
import { callRoutes } from './routes/calls.js';
import type { RouteContext } from './routes/context.js';
import { directoryRoutes } from './routes/directory.js';
import { discoveryRoutes } from './routes/discovery.js';
import { COMPONENTS, quoteValue } from './schemas.js';
import { apiBaseUrl } from './serialize.js';
import { type ApiDeps, DEFAULT_RATE_LIMITS, type RateLimits } from './types.js';

const JSON_TYPE = 'application/json; charset=utf-8';
/** Bodies are a user name and a password at most. */
const BODY_LIMIT_BYTES = 16 * 1024;
const DOCS_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

export function apiRoutes(context: RouteContext): Route[] {
  return [
    ...discoveryRoutes(context),
    ...authUserRoutes(context),
    ...directoryRoutes(context),
    ...callRoutes(context),
    ...callbackRequestRoutes(context),
  ];
}

/** Header X-Json-Serializer: absent or 2 (the only format there is). */
function checkSerializerHeader(value: string | string[] | undefined): void {
  if (value === undefined) return;
  const values = Array.isArray(value) ? value : [value];
  if (values.some((item) => item.trim() !== '2')) {
    throw badParameter(
      'X-Json-Serializer',
      'X-Json-Serializer: only 2 is supported (UTC ISO-8601 times); leave the header out or send 2',
    );
  }
}

/** OpenAPI `{Name}` → Fastify `:Name`. */
const fastifyPath = (path: string): string => path.replace(/\{([^}]+)\}/g, ':$1');

function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const apiError =
    error instanceof ApiError
      ? error
      : fromFrameworkError(
          typeof error === 'object' && error !== null
            ? (error as { code?: string; statusCode?: number })
            : {},
        );
  if (apiError.status >= 500) {
    request.log.error({ err: error }, 'request failed');
  } else {
    // Failed logins and throttling are what an operator watches for; the rest is routine.
    const level = apiError.status === 401 || apiError.status === 429 ? 'warn' : 'info';
    request.log[level]({ code: apiError.code, parameter: apiError.parameter }, apiError.message);
  }
  if (apiError.code === 'UNAUTHORIZED')
    reply.header('WWW-Authenticate', 'Basic realm="Switchboard", charset="UTF-8"');
  if (apiError.retryAfterSeconds !== undefined)
    reply.header('Retry-After', String(apiError.retryAfterSeconds));
  return reply
    .status(apiError.status)
    .header('Cache-Control', 'no-store')
    .type(JSON_TYPE)
    .send(JSON.stringify(apiError.toBody()));
}

function trailingSlashIgnored(app: FastifyInstance): boolean {
  const config = app.initialConfig;
  return config.routerOptions?.ignoreTrailingSlash === true || config.ignoreTrailingSlash === true;
}

export const apiPlugin: FastifyPluginAsync<ApiDeps> = async (app, deps) => {
  const now = deps.now ?? Date.now;
  const rateLimits: RateLimits = { ...DEFAULT_RATE_LIMITS, ...deps.rateLimits };
  const authenticator = new Authenticator({
    directory: deps.directory,
    credentials: deps.credentials,
    rateLimits,
    now,
    maxActiveKeysPerUser: deps.maxActiveKeysPerUser ?? 10,
    verifiedKeyCacheMs: deps.verifiedKeyCacheMs ?? 60_000,
  });
  const anonymous = new TokenBuckets(rateLimits.anonymous, now);
  const routes = apiRoutes({
    directory: deps.directory,
    records: deps.records,
    authenticator,
    callbacks: deps.callbacks,
    now,
  });
  const document = buildOpenApiDocument(routes, { serverUrl: apiBaseUrl(deps.directory.tenant) });
  const openApiJson = JSON.stringify(document);
  const docsHtml = renderDocsPage(document);

  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    return payload;
  });

  const urlsOf = (path: string): string[] =>
    trailingSlashIgnored(app) ? [fastifyPath(path)] : [fastifyPath(path), `${fastifyPath(path)}/`];

  for (const route of routes) {
    const component = COMPONENTS[route.response.component];
    const responseSchema: z.ZodType = route.response.list ? z.array(component) : component;
    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      let caller: Awaited<ReturnType<Authenticator['authenticate']>> | undefined;
      if (route.auth === 'basic') {
        caller = await authenticator.authenticate(request.headers.authorization);
      } else {
        const quota = anonymous.take(request.ip);
        if (!quota.ok)
          throw tooManyRequests('Too many requests from this address; slow down', quota.retryAfterSeconds);
      }
      checkSerializerHeader(request.headers['x-json-serializer']);
      const result = await route.handle(request, caller);
      const checked = responseSchema.safeParse(result);
      if (!checked.success) {
        request.log.error(
          { operationId: route.operationId, issues: checked.error.issues.slice(0, 5) },
          'response does not match its schema',
        );
        throw new ApiError('INTERNAL', 'Internal error; it has been logged');
      }
      return reply
        .status(route.successStatus ?? 200)
        .header('Cache-Control', 'no-store')
        .type(JSON_TYPE)
        .send(JSON.stringify(checked.data));
    };
    for (const url of urlsOf(route.path)) {
      app.route({ method: route.method, url, handler, bodyLimit: BODY_LIMIT_BYTES });
    }
  }

  for (const url of urlsOf('/openapi.json')) {
    app.get(url, async (_request, reply) => reply.type(JSON_TYPE).send(openApiJson));
  }
  for (const url of urlsOf('/docs')) {
    app.get(url, async (_request, reply) =>
      reply.header('Content-Security-Policy', DOCS_CSP).type('text/html; charset=utf-8').send(docsHtml),
    );
  }
};

/** A complete server: the API plugin plus JSON answers for unknown paths. Call `listen` on it. */
export function createApiServer(deps: ApiDeps): FastifyInstance {
  // Widened so that the instance has the plain FastifyInstance type the platform composes with.
  const loggerInstance: FastifyBaseLogger = deps.logger ?? silentLogger;
  const app = fastify({
    loggerInstance,
    // Errors Fastify raises before routing (a malformed URL) get the API's error format too.
    frameworkErrors: (error, request, reply) => sendError(error, request, reply),
  });
  app.register(apiPlugin, deps);
  app.setNotFoundHandler((request, reply) =>
    sendError(
      new ApiError(
        'NO_ROUTE',
        `No such endpoint: ${request.method} ${quoteValue(request.url.split('?')[0] ?? '')}`,
      ),
      request,
      reply,
    ),
  );
  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  return app;
}
