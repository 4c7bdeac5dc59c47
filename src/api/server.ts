/**
 * The REST API as a Fastify application, on Fastify's own plugins:
 *
 * - route schemas are zod, through fastify-type-provider-zod (types, response checking) and
 *   ./validation.ts (EnreachAPI's case-insensitive, strict parameter rules);
 * - ./auth-plugin.ts authenticates (HTTP Basic) and spends the request budget (@fastify/rate-limit);
 * - @fastify/swagger builds the OpenAPI document at `/openapi.json` from the routes — the API's and
 *   those of the extensions mounted with it (diagnostics) — and @fastify/swagger-ui serves the
 *   interactive explorer from this package's own files at `/docs/ui`; `/docs` is a self-contained
 *   HTML reference without script (./docs-page.ts), for closed networks and plain browsers;
 * - every error goes through the one error handler (./error-handler.ts).
 *
 * `createApiServer(deps)` is a complete Fastify instance (API routes, JSON 404s), ready to `listen`;
 * `apiPlugin` mounts the same into an existing instance created with
 * `routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true }` (EnreachAPI clients
 * add a trailing '/', and some join URLs into `//authuser/...`).
 *
 * Tolerance that real clients of the EnreachAPI (ASP.NET) rely on: paths with and without a trailing
 * slash and with doubled slashes, unknown query parameters ignored (logged at debug), an empty body
 * with `Content-Type: application/json` taken as no body (Python `requests` sends one on DELETE),
 * and a JSON 404 in the API's error format for unknown paths — for the whole host unless it has a
 * not-found handler of its own.
 *
 * The API claims only its own paths (see ./README.md); `/`, `/sip` and `/webphone.js` stay free.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyReply,
  type FastifyRequest,
  fastify,
} from 'fastify';
import { serializerCompiler } from 'fastify-type-provider-zod';
import { silentLogger } from '../logger.js';
import { authPlugin, createHttpAuth } from './auth-plugin.js';
import { renderDocsPage } from './docs-page.js';
import { swaggerOptions } from './documentation.js';
import { jsonResponseHeaders, sendHttpError, sendNoRoute } from './error-handler.js';
import { badParameter } from './errors.js';
import { authUserRoutes } from './routes/authuser.js';
import { callbackRequestRoutes } from './routes/callback-requests.js';
import { callRoutes } from './routes/calls.js';
import type { RouteContext } from './routes/context.js';
import { directoryRoutes } from './routes/directory.js';
import { discoveryRoutes } from './routes/discovery.js';
import { phonebookRoutes } from './routes/phonebook.js';
import { recordingRoutes } from './routes/recordings.js';
import { apiBaseUrl } from './serialize.js';
import type { ApiDeps } from './types.js';
import { ignoredQueryParameters, validatorCompiler } from './validation.js';

const JSON_TYPE = 'application/json; charset=utf-8';
/** Bodies are a user name and a password at most. */
const BODY_LIMIT_BYTES = 16 * 1024;
const DOCS_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

/** Header X-Json-Serializer: absent or 2 (the only format there is). */
async function checkSerializerHeader(request: FastifyRequest): Promise<void> {
  const value = request.headers['x-json-serializer'];
  if (value === undefined) return;
  const values = Array.isArray(value) ? value : [value];
  if (values.some((item) => item.trim() !== '2')) {
    throw badParameter(
      'X-Json-Serializer',
      'X-Json-Serializer: only 2 is supported (UTC ISO-8601 times); leave the header out or send 2',
    );
  }
}

function trailingSlashIgnored(app: FastifyInstance): boolean {
  const config = app.initialConfig;
  return config.routerOptions?.ignoreTrailingSlash === true || config.ignoreTrailingSlash === true;
}

function duplicateSlashesIgnored(app: FastifyInstance): boolean {
  const config = app.initialConfig;
  return config.routerOptions?.ignoreDuplicateSlashes === true || config.ignoreDuplicateSlashes === true;
}

/** Unknown query parameters are ignored (./validation.ts); which ones, for whoever debugs a client. */
async function logIgnoredParameters(request: FastifyRequest): Promise<void> {
  const ignored = ignoredQueryParameters(request.routeOptions.schema?.querystring, request.query);
  if (ignored.length > 0) {
    request.log.debug(
      { parameters: ignored, url: request.routeOptions.url },
      'unknown query parameters ignored',
    );
  }
}

/**
 * The not-found handler: on a host whose router does not merge doubled slashes, a path with them
 * is sent (308: same method and body) to the path without them; any other unknown path is the
 * API's JSON 404.
 */
function notFoundHandler(mergesSlashes: boolean) {
  return (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const [path = '', query] = request.url.split(/\?(.*)/s, 2);
    if (!mergesSlashes && path.includes('//')) {
      const merged = path.replace(/\/{2,}/g, '/');
      return reply.redirect(query === undefined ? merged : `${merged}?${query}`, 308);
    }
    return sendNoRoute(request, reply);
  };
}

export const apiPlugin: FastifyPluginAsync<ApiDeps> = async (app, deps) => {
  if (!trailingSlashIgnored(app)) {
    // EnreachAPI clients call every path with and without a trailing '/'.
    throw new Error('apiPlugin needs a host created with routerOptions: { ignoreTrailingSlash: true }');
  }
  const mergesSlashes = duplicateSlashesIgnored(app);
  try {
    app.setNotFoundHandler(notFoundHandler(mergesSlashes));
  } catch (error) {
    // The host answers unknown paths itself (Fastify allows one handler per prefix): keep its own.
    if (!(error instanceof Error && error.message.startsWith('Not found handler already set'))) throw error;
    app.log.debug('apiPlugin: the host has its own not-found handler; unknown paths get its answer');
  }
  const auth = deps.auth ?? createHttpAuth(deps);
  const context: RouteContext = {
    directory: deps.directory,
    records: deps.records,
    authenticator: auth.authenticator,
    ...(deps.callbacks === undefined ? {} : { callbacks: deps.callbacks }),
    ...(deps.agents === undefined ? {} : { agents: deps.agents }),
    ...(deps.now === undefined ? {} : { now: deps.now }),
  };

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(sendHttpError);
  // An empty JSON body is no body (and what the route needs from it is then missing): Python
  // `requests` sends Content-Type: application/json and Content-Length: 0 on a DELETE.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text === '') {
      done(null, undefined);
      return;
    }
    parseJson(request, text, done);
  });
  app.addHook('onRoute', (route) => {
    route.bodyLimit ??= BODY_LIMIT_BYTES;
  });
  app.addHook('onSend', jsonResponseHeaders);
  await app.register(authPlugin, { auth });
  // Every route's, the extensions' too (they share the validator that ignores them).
  app.addHook('preValidation', logIgnoredParameters);
  await app.register(swagger, swaggerOptions(apiBaseUrl(deps.directory.tenant)));
  await app.register(swaggerUi, {
    routePrefix: '/docs/ui',
    // Everything from this server: no validator badge fetched from swagger.io.
    uiConfig: { validatorUrl: null },
  });

  await app.register(async (api) => {
    // After authentication (the auth plugin's hook comes first), as it always was.
    api.addHook('preValidation', checkSerializerHeader);
    for (const routes of [
      discoveryRoutes,
      authUserRoutes,
      directoryRoutes,
      phonebookRoutes,
      callRoutes,
      callbackRequestRoutes,
    ]) {
      await api.register(routes, context);
    }
    // Recordings are served only when the platform has them (like callback requests).
    if (deps.recordings !== undefined) {
      await api.register(recordingRoutes, { ...context, recordings: deps.recordings, auth });
    }
  });
  for (const extension of deps.extensions ?? []) await app.register(extension);

  app.get('/openapi.json', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(JSON_TYPE).send(JSON.stringify(app.swagger())),
  );
  let docsHtml: string | undefined;
  app.get('/docs', { schema: { hide: true } }, async (_request, reply) => {
    docsHtml ??= renderDocsPage(app.swagger());
    return reply.header('Content-Security-Policy', DOCS_CSP).type('text/html; charset=utf-8').send(docsHtml);
  });
};

/** A complete server: the API plugin, which answers unknown paths with JSON too. Call `listen` on it. */
export function createApiServer(deps: ApiDeps): FastifyInstance {
  // Widened so that the instance has the plain FastifyInstance type the platform composes with.
  const loggerInstance: FastifyBaseLogger = deps.logger ?? silentLogger;
  const app = fastify({
    loggerInstance,
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true },
    // Errors Fastify raises before routing (a malformed URL) get the API's error format too.
    frameworkErrors: (error, request, reply) => sendHttpError(error, request, reply),
  });
  // The plugin sets the not-found handler (the API's JSON 404).
  app.register(apiPlugin, deps);
  app.setErrorHandler(sendHttpError);
  return app;
}
