/**
 * `GET /token/{userId}/rte/` (DESIGN.md §12): an RTE token for the hub, as EnreachVoice's clients
 * ask for it → `{"Token": <JWT>, "WSSEndpoint": "<host>:<port>/rte"}`. A user gets a token for
 * themselves; an admin for anyone (403 otherwise, 404 for an unknown user).
 *
 * Mounted inside the REST API (`apiPlugin`'s `extensions`), so it shares the API's authentication
 * (HTTP Basic), request budget, error format and OpenAPI document. Registered on its own, it
 * brings the same authentication plugin with state of its own (then `credentials` is needed).
 */
import type { FastifyPluginAsync } from 'fastify';
import { serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { authPlugin, callerOf, createHttpAuth } from '../api/auth-plugin.js';
import type { CredentialStore } from '../api/credentials/types.js';
import { operation } from '../api/documentation.js';
import { jsonResponseHeaders, sendHttpError } from '../api/error-handler.js';
import { forbidden, notFound } from '../api/errors.js';
import type { RateLimits } from '../api/types.js';
import { validatorCompiler } from '../api/validation.js';
import type { Directory } from '../config/types.js';
import type { RteTokens } from './token.js';

export interface RteTokenPluginOptions {
  directory: Directory;
  tokens: RteTokens;
  /**
   * `host:port` the hub is reached at (no scheme). Default: the request's Host header — the hub
   * shares the REST API's HTTP server.
   */
  hubHost?: string;
  /** Only when registered outside the REST API. */
  credentials?: CredentialStore;
  rateLimits?: Partial<RateLimits>;
}

const params = z.object({
  userId: z.string().min(1).max(200).meta({ description: 'The user the token is for (their Id).' }),
});

const tokenSchema = z
  .object({
    Token: z.string().meta({ description: 'A JWT for the RTE hub (valid 1 hour).' }),
    WSSEndpoint: z.string().meta({ description: 'Where the hub is: `<host>:<port>/rte` (no scheme).' }),
  })
  .meta({ description: 'An RTE token and where to use it.' });

export const rteTokenPlugin: FastifyPluginAsync<RteTokenPluginOptions> = async (plain, opts) => {
  const app = plain.withTypeProvider<ZodTypeProvider>();
  if (!app.hasRequestDecorator('caller')) {
    if (opts.credentials === undefined)
      throw new Error('rteTokenPlugin outside the REST API needs credentials');
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    app.setErrorHandler(sendHttpError);
    app.addHook('onSend', jsonResponseHeaders);
    await app.register(authPlugin, {
      auth: createHttpAuth({
        directory: opts.directory,
        credentials: opts.credentials,
        rateLimits: opts.rateLimits,
      }),
    });
  }
  // The host is created with ignoreTrailingSlash: this serves `/token/{userId}/rte/` too.
  app.get(
    '/token/:userId/rte',
    operation({
      operationId: 'getRteToken',
      tag: 'Realtime',
      summary: 'A token for the realtime (RTE) hub',
      description:
        'A short-lived JWT for the SignalR hub at /rte (`accessTokenFactory`), and the hub’s address. ' +
        'A user may get a token for themselves; an admin for anyone.',
      auth: 'basic',
      query: z.looseObject({}),
      params,
      response: { schema: tokenSchema, description: 'The token.' },
      errors: [401, 403, 404, 429],
      serializerHeader: false,
    }),
    async (request) => {
      const caller = callerOf(request);
      const userId = request.params.userId.trim().toLowerCase();
      const user = opts.directory.userById(userId);
      if (user === undefined) throw notFound(`No user ${userId}`);
      if (caller.role !== 'admin' && caller.userId.toLowerCase() !== user.userId.toLowerCase()) {
        throw forbidden('userId', 'A token can be requested only for yourself');
      }
      const { token } = await opts.tokens.issue(user.userId);
      const host = opts.hubHost ?? request.headers.host ?? 'localhost';
      return { Token: token, WSSEndpoint: `${host}/rte` };
    },
  );
};
