/** POST /authuser/{email}: the password exchange that mints a secret key for HTTP Basic. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { operation } from '../documentation.js';
import { badParameter } from '../errors.js';
import { authUserBody, authUserParams, noParameters } from '../schemas.js';
import type { RouteContext } from './context.js';

export const authUserRoutes: FastifyPluginAsyncZod<RouteContext> = async (app, { authenticator }) => {
  app.post(
    '/authuser/:email',
    operation({
      operationId: 'authUser',
      tag: 'Authentication',
      summary: 'Exchange the password for a new secret key',
      description:
        "Checks the user's configured password and returns a new random secret key; every call mints " +
        'another one (the newest keys stay valid). Keys are stored only as scrypt hashes. Wrong ' +
        'passwords are throttled per user: past the limit every attempt is a 429 with Retry-After ' +
        'until the limit refills. No authentication.',
      auth: 'none',
      query: noParameters,
      params: authUserParams,
      body: authUserBody,
      response: { schema: 'AuthUserResponse', description: 'The user id and the new key.' },
      errors: [400, 401, 415, 429],
    }),
    async ({ params, body }) => {
      const email = params.email.trim();
      if (body.UserName !== undefined && body.UserName.trim().toLowerCase() !== email.toLowerCase()) {
        throw badParameter('UserName', 'UserName must be the same user name as in the path');
      }
      const { user, secretKey } = await authenticator.issueSecretKey(email, body.Password);
      return { UserID: user.userId, SecretKey: secretKey };
    },
  );
};
