/**
 * Users, queues and callback lists of the tenant. Any authenticated user may list all of them:
 * they are the names an integration needs to build filters, and permissions (DESIGN.md §4) govern
 * call records, not who exists. Passwords and grants are never returned.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { callerOf } from '../auth-plugin.js';
import { type OperationSpec, operation } from '../documentation.js';
import { notFound } from '../errors.js';
import { type ComponentName, noParameters, userIdParams } from '../schemas.js';
import { toWireCallbackList, toWireQueue, toWireUser } from '../serialize.js';
import type { RouteContext } from './context.js';

/** A directory listing: any authenticated user, no parameters. */
const listing = (
  operationId: string,
  summary: string,
  component: ComponentName,
  description: string,
): OperationSpec<typeof noParameters, typeof noParameters, undefined> => ({
  operationId,
  tag: 'Directory',
  summary,
  description: 'Every authenticated user may list all users, queues and callback lists of the tenant.',
  auth: 'basic',
  query: noParameters,
  params: noParameters,
  response: { schema: component, list: true, description },
  errors: [400, 401, 429],
});

export const directoryRoutes: FastifyPluginAsyncZod<RouteContext> = async (app, { directory }) => {
  const { tenant } = directory;
  app.get(
    '/users/me',
    operation({
      ...listing('getMe', 'The authenticated user', 'User', 'The caller.'),
      description: 'The user whose credentials authenticated the request.',
      response: { schema: 'User', description: 'The caller.' },
    }),
    async (request) => toWireUser(callerOf(request)),
  );
  app.get(
    '/users',
    operation(listing('listUsers', 'All users', 'User', 'Every configured user.')),
    async () => tenant.users.map(toWireUser),
  );
  app.get(
    '/users/:UserId',
    operation({
      ...listing('getUser', 'One user', 'User', 'The user.'),
      params: userIdParams,
      response: { schema: 'User', description: 'The user.' },
      errors: [400, 401, 404, 429],
    }),
    async ({ params }) => {
      const user = directory.userById(params.UserId);
      if (user === undefined) throw notFound(`No user ${params.UserId}`);
      return toWireUser(user);
    },
  );
  app.get(
    '/queues',
    operation(listing('listQueues', 'All queues (service pools)', 'Queue', 'Every configured queue.')),
    async () => tenant.queues.map(toWireQueue),
  );
  app.get(
    '/callbacklists',
    operation(
      listing('listCallbackLists', 'All callback lists', 'CallbackList', 'Every configured callback list.'),
    ),
    async () => tenant.callbackLists.map(toWireCallbackList),
  );
};
