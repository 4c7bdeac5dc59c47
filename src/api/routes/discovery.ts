/**
 * Service discovery (EnreachVoice's `discover.enreachvoice.com/api/user`), answered by the platform
 * itself: clients that are pointed at this server as their discovery URL learn the API's base URL.
 * An unknown user gets an empty list, as clients expect a list and take its first entry.
 */
import type { User } from '../../config/types.js';
import { defineRoute, type Route } from '../route.js';
import { discoveryBody, discoveryQuery, noParameters } from '../schemas.js';
import { toDiscoveryEntry } from '../serialize.js';
import type { RouteContext } from './context.js';

const DESCRIPTION =
  'Returns a one-element list for a configured user (the user name is matched case-insensitively) ' +
  "and an empty list for any other name. apiEndpoint is the tenant's public URL with a trailing '/'. " +
  'No authentication.';

export function discoveryRoutes({ directory }: RouteContext): Route[] {
  const lookup = (name: string): User | undefined => {
    const trimmed = name.trim();
    // An unencoded '+' in an address (a+b@example.com) arrives as a space in a query string.
    return directory.userByUsername(trimmed) ?? directory.userByUsername(trimmed.replaceAll(' ', '+'));
  };
  const answer = (name: string) => {
    const user = lookup(name);
    return user === undefined ? [] : [toDiscoveryEntry(directory.tenant, user)];
  };
  return [
    defineRoute({
      method: 'GET',
      path: '/api/user',
      operationId: 'discoverUser',
      tag: 'Authentication',
      summary: 'Service discovery: where is the API of this user?',
      description: DESCRIPTION,
      auth: 'none',
      query: discoveryQuery,
      params: noParameters,
      response: { component: 'DiscoveryEntry', list: true, description: 'Zero or one entry.' },
      errors: [400, 429],
      handler: async ({ query }) => answer(query.user),
    }),
    defineRoute({
      method: 'POST',
      path: '/api/user',
      operationId: 'discoverUserPost',
      tag: 'Authentication',
      summary: 'Service discovery, with the user name in a JSON body',
      description: DESCRIPTION,
      auth: 'none',
      query: noParameters,
      params: noParameters,
      body: discoveryBody,
      response: { component: 'DiscoveryEntry', list: true, description: 'Zero or one entry.' },
      errors: [400, 415, 429],
      handler: async ({ body }) => answer(body.user),
    }),
  ];
}
