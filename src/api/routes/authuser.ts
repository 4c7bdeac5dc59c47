/**
 * POST /authuser/{email}: the password exchange that mints a secret key for HTTP Basic; and the
 * keys' management: GET /authuser/{email}/keys lists them, DELETE /authuser/{email}/keys/{KeyId}
 * revokes one. A user manages their own keys; an admin anyone's.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { User } from '../../config/types.js';
import { formatApiTime, formatApiTimeOrNull } from '../../records/kinds/wire-time.js';
import type { SecretKeyInfo } from '../auth.js';
import { callerOf } from '../auth-plugin.js';
import { operation } from '../documentation.js';
import { badParameter, forbidden, notFound } from '../errors.js';
import {
  authUserBody,
  authUserKeyParams,
  authUserParams,
  noParameters,
  quoteValue,
  type Wire,
} from '../schemas.js';
import type { RouteContext } from './context.js';

const toWireKey = (key: SecretKeyInfo, currentKeyId: string | undefined): Wire<'SecretKeyInfo'> => ({
  Id: key.keyId,
  UserId: key.userId,
  Created: formatApiTime(key.createdMs),
  LastUsed: formatApiTimeOrNull(key.lastUsedMs),
  Current: key.keyId === currentKeyId,
});

const WHOSE_KEYS =
  'A user manages their own keys; an admin may manage any user’s. {email} naming another user is a ' +
  '403 for anyone else (Parameter email), and an unknown user is a 404 for an admin.';

export const authUserRoutes: FastifyPluginAsyncZod<RouteContext> = async (
  app,
  { authenticator, directory },
) => {
  /** The user whose keys {email} names, if the caller may manage them. */
  const keyOwner = (caller: User, email: string): User => {
    const name = email.trim();
    const owner = directory.userByUsername(name);
    if (owner !== undefined && owner.userId === caller.userId) return owner;
    if (caller.role !== 'admin') {
      throw forbidden('email', `email: you may manage only your own secret keys (${caller.username})`);
    }
    if (owner === undefined) throw notFound(`No user ${quoteValue(name)}`);
    return owner;
  };

  app.post(
    '/authuser/:email',
    operation({
      operationId: 'authUser',
      tag: 'Authentication',
      summary: 'Exchange the password for a new secret key',
      description:
        "Checks the user's configured password and returns a new random secret key and its id. Every " +
        'call mints another key; each stays valid until it is revoked (DELETE /authuser/{email}/keys/{KeyId}) ' +
        "or the user's password changes. Keys are stored only as scrypt hashes. Wrong passwords are " +
        'throttled per user: past the limit every attempt is a 429 with Retry-After until the limit ' +
        'refills. No authentication.',
      auth: 'none',
      query: noParameters,
      params: authUserParams,
      body: authUserBody,
      response: { schema: 'AuthUserResponse', description: 'The user id, the new key and its id.' },
      errors: [400, 401, 415, 429],
    }),
    async ({ params, body }) => {
      const email = params.email.trim();
      if (body.UserName !== undefined && body.UserName.trim().toLowerCase() !== email.toLowerCase()) {
        throw badParameter('UserName', 'UserName must be the same user name as in the path');
      }
      const { user, secretKey, keyId } = await authenticator.issueSecretKey(email, body.Password);
      return { UserID: user.userId, SecretKey: secretKey, KeyId: keyId };
    },
  );

  app.get(
    '/authuser/:email/keys',
    operation({
      operationId: 'listSecretKeys',
      tag: 'Authentication',
      summary: "The user's secret keys (ids and times, never the secrets)",
      description: `Every valid key of the user, newest first. ${WHOSE_KEYS}`,
      auth: 'basic',
      query: noParameters,
      params: authUserParams,
      response: { schema: 'SecretKeyInfo', list: true, description: 'The keys, newest first.' },
      errors: [400, 401, 403, 404, 429],
    }),
    async (request) => {
      const owner = keyOwner(callerOf(request), request.params.email);
      return (await authenticator.listKeys(owner)).map((key) => toWireKey(key, request.callerKeyId));
    },
  );

  app.delete(
    '/authuser/:email/keys/:KeyId',
    operation({
      operationId: 'revokeSecretKey',
      tag: 'Authentication',
      summary: 'Revoke a secret key',
      description:
        'The key is refused (401) from now on — in a cluster, by the other nodes within a minute (they ' +
        'remember a verified key that long). Revoking the key that authenticates the request is allowed. ' +
        `Answers the revoked key. ${WHOSE_KEYS} A KeyId that is not one of the user's keys is a 404.`,
      auth: 'basic',
      query: noParameters,
      params: authUserKeyParams,
      response: { schema: 'SecretKeyInfo', description: 'The revoked key.' },
      errors: [400, 401, 403, 404, 429],
    }),
    async (request) => {
      const owner = keyOwner(callerOf(request), request.params.email);
      const revoked = await authenticator.revokeKey(owner, request.params.KeyId);
      if (revoked === undefined) {
        throw notFound(`No secret key ${request.params.KeyId} of ${owner.username}`);
      }
      return toWireKey(revoked, request.callerKeyId);
    },
  );
};
