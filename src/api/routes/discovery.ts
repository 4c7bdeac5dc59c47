/**
 * Service discovery (EnreachVoice's `discover.enreachvoice.com/api/user`), answered by the platform
 * itself: clients that are pointed at this server as their discovery URL learn the API's base URL.
 * An unknown user gets an empty list, as clients expect a list and take its first entry.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { User } from '../../config/types.js';
import { type OperationSpec, operation } from '../documentation.js';
import { discoveryBody, discoveryQuery, noParameters } from '../schemas.js';
import { toDiscoveryEntry } from '../serialize.js';
import type { RouteContext } from './context.js';

const DISCOVERY: Pick<OperationSpec<never, never, never>, 'tag' | 'description' | 'auth' | 'response'> = {
  tag: 'Authentication',
  description:
    'Returns a one-element list for a configured user (the user name is matched case-insensitively) ' +
    "and an empty list for any other name. apiEndpoint is the tenant's public URL with a trailing '/'. " +
    'No authentication.',
  auth: 'none',
  response: { schema: 'DiscoveryEntry', list: true, description: 'Zero or one entry.' },
};

export const discoveryRoutes: FastifyPluginAsyncZod<RouteContext> = async (app, { directory }) => {
  const lookup = (name: string): User | undefined => {
    const trimmed = name.trim();
    // An unencoded '+' in an address (a+b@example.com) arrives as a space in a query string.
    return directory.userByUsername(trimmed) ?? directory.userByUsername(trimmed.replaceAll(' ', '+'));
  };
  const answer = (name: string) => {
    const user = lookup(name);
    return user === undefined ? [] : [toDiscoveryEntry(directory.tenant, user)];
  };
  app.get(
    '/api/user',
    operation({
      ...DISCOVERY,
      operationId: 'discoverUser',
      summary: 'Service discovery: where is the API of this user?',
      query: discoveryQuery,
      params: noParameters,
      errors: [400, 429],
    }),
    async ({ query }) => answer(query.user),
  );
  app.post(
    '/api/user',
    operation({
      ...DISCOVERY,
      operationId: 'discoverUserPost',
      summary: 'Service discovery, with the user name in a JSON body',
      query: noParameters,
      params: noParameters,
      body: discoveryBody,
      errors: [400, 415, 429],
    }),
    async ({ body }) => answer(body.user),
  );
};
