/**
 * The one authentication plugin of the HTTP surface, shared by the REST API and diagnostics.
 *
 * A route says how it is reached in its config: `config: { auth: 'basic' }` (HTTP Basic
 * `email:SecretKey`, the caller lands in `request.caller`) or `config: { auth: 'none' }`. Either
 * way the request then spends one token of a budget through @fastify/rate-limit: the caller's own
 * (`requests`) when authenticated, the client address's (`anonymous`) otherwise. Routes without
 * an `auth` config (the OpenAPI document, the docs page) are neither authenticated nor counted.
 *
 * `createHttpAuth` makes the state — the Authenticator with its failed-login throttle, and the
 * budgets — once; every plugin that registers `authPlugin` with the same `HttpAuth` shares it, so
 * alternating between the REST API and diagnostics spends one budget, not two.
 */
import rateLimit, { type FastifyRateLimitStore } from '@fastify/rate-limit';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Directory, User } from '../config/types.js';
import { Authenticator } from './auth.js';
import type { CredentialStore } from './credentials/index.js';
import { internalError, tooManyRequests } from './errors.js';
import { TokenBuckets } from './token-buckets.js';
import { DEFAULT_RATE_LIMITS, type RateLimits } from './types.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated user on `auth: 'basic'` routes; undefined elsewhere. */
    caller: User | undefined;
    /** The id of the secret key that authenticated `caller`. */
    callerKeyId: string | undefined;
  }
  interface FastifyContextConfig {
    /** How the route is reached: HTTP Basic, or without credentials (then limited per address). */
    auth?: 'basic' | 'none';
  }
}

export interface HttpAuthDeps {
  directory: Directory;
  credentials: CredentialStore;
  rateLimits?: Partial<RateLimits>;
  /** Epoch milliseconds; injectable so that throttling and key expiry can be tested. */
  now?: () => number;
  /** How long a verified secret key is remembered. Default 60 000. */
  verifiedKeyCacheMs?: number;
}

export interface HttpAuth {
  readonly authenticator: Authenticator;
  readonly rateLimits: RateLimits;
  /** Request budgets: `user:<id>` per authenticated user, `ip:<address>` per anonymous client. */
  readonly budgets: { perUser: TokenBuckets; perAddress: TokenBuckets };
}

export function createHttpAuth(deps: HttpAuthDeps): HttpAuth {
  const now = deps.now ?? Date.now;
  const rateLimits: RateLimits = { ...DEFAULT_RATE_LIMITS, ...deps.rateLimits };
  return {
    authenticator: new Authenticator({
      directory: deps.directory,
      credentials: deps.credentials,
      rateLimits,
      now,
      verifiedKeyCacheMs: deps.verifiedKeyCacheMs ?? 60_000,
    }),
    rateLimits,
    budgets: {
      perUser: new TokenBuckets(rateLimits.requests, now),
      perAddress: new TokenBuckets(rateLimits.anonymous, now),
    },
  };
}

/** The authenticated caller of a `basic` route (a programming error if another route asks). */
export function callerOf(request: FastifyRequest): User {
  if (request.caller === undefined) throw internalError();
  return request.caller;
}

const isUserKey = (key: string): boolean => key.startsWith('user:');

/**
 * @fastify/rate-limit's store over our token buckets. The plugin's own stores count fixed windows
 * on the wall clock; the budgets are token buckets (a burst, then a steady refill, with
 * Retry-After the time until the next token) on the injectable clock the throttling tests drive.
 */
function tokenBucketStore(auth: HttpAuth): new () => FastifyRateLimitStore {
  return class TokenBucketStore implements FastifyRateLimitStore {
    incr(
      key: string,
      callback: (error: Error | null, result?: { current: number; ttl: number }) => void,
      _timeWindow: number,
      max: number,
    ): void {
      const buckets = isUserKey(key) ? auth.budgets.perUser : auth.budgets.perAddress;
      const taken = buckets.take(key);
      callback(
        null,
        taken.ok ? { current: 1, ttl: 0 } : { current: max + 1, ttl: taken.retryAfterSeconds * 1000 },
      );
    }

    child(): FastifyRateLimitStore {
      return this;
    }
  };
}

const plugin: FastifyPluginAsync<{ auth: HttpAuth }> = async (app, { auth }) => {
  app.decorateRequest('caller', undefined);
  app.decorateRequest('callerKeyId', undefined);
  await app.register(rateLimit, {
    // Applied by the hook below, after authentication, not by the plugin's own route hook.
    global: false,
    store: tokenBucketStore(auth),
    keyGenerator: (request) => (request.caller ? `user:${request.caller.userId}` : `ip:${request.ip}`),
    max: (_request, key) => (isUserKey(key) ? auth.rateLimits.requests : auth.rateLimits.anonymous).capacity,
  });
  const spend = app.createRateLimit();

  // After the body is parsed and before it is validated: a request with bad credentials is a 401
  // whatever its parameters, as it always was.
  app.addHook('preValidation', async (request) => {
    const mode = request.routeOptions.config.auth;
    if (mode === undefined) return;
    if (mode === 'basic') {
      const { user, keyId } = await auth.authenticator.authenticateKey(request.headers.authorization);
      request.caller = user;
      request.callerKeyId = keyId;
    }
    const budget = await spend(request);
    if (!budget.isAllowed && budget.isExceeded) {
      throw tooManyRequests(
        request.caller ? 'Too many requests; slow down' : 'Too many requests from this address; slow down',
        budget.ttlInSeconds,
      );
    }
  });
};

/** Not encapsulated: the hook applies to the routes of the plugin that registers it. */
export const authPlugin = fp(plugin, { name: 'switchboard-auth', fastify: '5.x' });
