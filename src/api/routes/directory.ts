/**
 * Users, queues and callback lists of the tenant. Any authenticated user may list all of them:
 * they are the names an integration needs to build filters, and permissions (DESIGN.md §4) govern
 * call records, not who exists. Passwords and grants are never returned.
 */
import { notFound } from '../errors.js';
import { callerOf, defineRoute, type Route } from '../route.js';
import { noParameters, userIdParams } from '../schemas.js';
import { toWireCallbackList, toWireQueue, toWireUser } from '../serialize.js';
import type { RouteContext } from './context.js';

const LISTABLE = 'Every authenticated user may list all users, queues and callback lists of the tenant.';

export function directoryRoutes({ directory }: RouteContext): Route[] {
  const { tenant } = directory;
  return [
    defineRoute({
      method: 'GET',
      path: '/users/me',
      operationId: 'getMe',
      tag: 'Directory',
      summary: 'The authenticated user',
      description: 'The user whose credentials authenticated the request.',
      auth: 'basic',
      query: noParameters,
      params: noParameters,
      response: { component: 'User', list: false, description: 'The caller.' },
      errors: [400, 401, 429],
      handler: async (input) => toWireUser(callerOf(input)),
    }),
    defineRoute({
      method: 'GET',
      path: '/users',
      operationId: 'listUsers',
      tag: 'Directory',
      summary: 'All users',
      description: LISTABLE,
      auth: 'basic',
      query: noParameters,
      params: noParameters,
      response: { component: 'User', list: true, description: 'Every configured user.' },
      errors: [400, 401, 429],
      handler: async () => tenant.users.map(toWireUser),
    }),
    defineRoute({
      method: 'GET',
      path: '/users/{UserId}',
      operationId: 'getUser',
      tag: 'Directory',
      summary: 'One user',
      description: LISTABLE,
      auth: 'basic',
      query: noParameters,
      params: userIdParams,
      response: { component: 'User', list: false, description: 'The user.' },
      errors: [400, 401, 404, 429],
      handler: async ({ params }) => {
        const user = directory.userById(params.UserId);
        if (user === undefined) throw notFound(`No user ${params.UserId}`);
        return toWireUser(user);
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/queues',
      operationId: 'listQueues',
      tag: 'Directory',
      summary: 'All queues (service pools)',
      description: LISTABLE,
      auth: 'basic',
      query: noParameters,
      params: noParameters,
      response: { component: 'Queue', list: true, description: 'Every configured queue.' },
      errors: [400, 401, 429],
      handler: async () => tenant.queues.map(toWireQueue),
    }),
    defineRoute({
      method: 'GET',
      path: '/callbacklists',
      operationId: 'listCallbackLists',
      tag: 'Directory',
      summary: 'All callback lists',
      description: LISTABLE,
      auth: 'basic',
      query: noParameters,
      params: noParameters,
      response: { component: 'CallbackList', list: true, description: 'Every configured callback list.' },
      errors: [400, 401, 429],
      handler: async () => tenant.callbackLists.map(toWireCallbackList),
    }),
  ];
}
