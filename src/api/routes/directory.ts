/**
 * Users, queues and callback lists of the tenant, and what agents change about themselves
 * (DESIGN.md §11). Any authenticated user may list all users, queues and callback lists: they are
 * the names an integration needs to build filters, and permissions (DESIGN.md §4) govern call
 * records, not who exists. Passwords and grants are never returned.
 *
 * Agents (served when the platform has call control's `AgentDesk`, see ./context.ts):
 * - `GET/POST /users/{UserId}/availability`: Available, Busy, DoNotDisturb or OffWork, with a note
 *   and an EndTime (back to Available then); only Available users are offered queue calls;
 * - `GET/POST /users/{UserId}/queues`: the user's queues and whether they serve each;
 * - `GET /users/{UserId}/wrapup`, `POST /users/{UserId}/wrapup/end`: wrap-up after a queue call.
 * Anyone authenticated may read them (presence, like the directory itself); a user changes their
 * own, an admin anyone's (else 403).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AvailabilityState } from '../../calls/agents.js';
import type { QueueStatus } from '../../calls/queue-status.js';
import { openStatusAt } from '../../config/opening-hours.js';
import type { Queue, User } from '../../config/types.js';
import { AvailabilitySchema } from '../../journal/facts.js';
import { wireId, wireTimeOrNull } from '../../records/kinds/shared-wire.js';
import { callerOf } from '../auth-plugin.js';
import { type OperationSpec, operation } from '../documentation.js';
import { badParameter, forbidden, notFound } from '../errors.js';
import {
  type ComponentName,
  idParameter,
  noParameters,
  quoteValue,
  timeParameter,
  userIdParams,
} from '../schemas.js';
import { toWireCallbackList, toWireQueue, toWireUser } from '../serialize.js';
import { formatApiTimeOrNull } from '../time.js';
import type { AgentDesk, RouteContext } from './context.js';

const TAG = 'Directory';
const AGENTS_TAG = 'Agents';
/** Longest availability note accepted. */
export const MAX_AVAILABILITY_NOTE = 500;
const AVAILABILITIES = AvailabilitySchema.options;

/** A directory listing: any authenticated user, no parameters. */
const listing = (
  operationId: string,
  summary: string,
  component: ComponentName,
  description: string,
): OperationSpec<typeof noParameters, typeof noParameters, undefined> => ({
  operationId,
  tag: TAG,
  summary,
  description: 'Every authenticated user may list all users, queues and callback lists of the tenant.',
  auth: 'basic',
  query: noParameters,
  params: noParameters,
  response: { schema: component, list: true, description },
  errors: [400, 401, 429],
});

// ---------------------------------------------------------------------------------------------
// Agents' wire format.

export const queuesQuery = z.object({
  OnlyForUser: idParameter(
    'OnlyForUser',
    'Only the queues this user is a member of (an unknown user has none).',
  ).optional(),
});

export const availabilityWireSchema = z.object({
  UserId: wireId('The user id.'),
  Availability: z.enum(AVAILABILITIES).meta({
    description: 'Available, Busy, DoNotDisturb or OffWork. Only Available users are offered queue calls.',
  }),
  Note: z.string().nullable().meta({ description: 'Free text the user gave with it (e.g. "lunch").' }),
  EndTime: wireTimeOrNull('When the user becomes Available again automatically; null: not before set.'),
  Modified: wireTimeOrNull('When the availability was last set; null when never (Available by default).'),
});

export const availabilityBody = z.object({
  Availability: z
    .enum(AVAILABILITIES, { error: `Availability must be one of ${AVAILABILITIES.join(', ')}` })
    .meta({ description: 'The new availability.' }),
  Note: z
    .string({ error: 'Note must be a string' })
    .max(MAX_AVAILABILITY_NOTE, { error: `Note must be at most ${MAX_AVAILABILITY_NOTE} characters` })
    .nullable()
    .optional()
    .meta({ description: `Free text, at most ${MAX_AVAILABILITY_NOTE} characters; replaces the note.` }),
  EndTime: timeParameter(
    'EndTime',
    'When to become Available again automatically: in the future, UTC; not with Available.',
  )
    .nullable()
    .optional(),
});

export const userQueueWireSchema = z.object({
  QueueId: wireId('The queue id.'),
  QueueName: z.string(),
  Serving: z.boolean().meta({
    description: 'Whether the user serves the queue: a member not serving it is not offered its calls.',
  }),
});

export const servingBody = z.object({
  QueueId: idParameter('QueueId', 'A queue the user is a member of.'),
  Serving: z
    .boolean({ error: 'Serving must be true or false' })
    .meta({ description: 'Serve the queue or not.' }),
});

export const wrapUpWireSchema = z.object({
  UserId: wireId('The user id.'),
  InWrapUp: z
    .boolean()
    .meta({ description: 'Whether the user is in wrap-up after a queue call (offered no queue calls).' }),
  EndTime: wireTimeOrNull('When the wrap-up ends by itself; null when not in wrap-up.'),
});

function toWireAvailability(
  userId: string,
  state: AvailabilityState,
): z.input<typeof availabilityWireSchema> {
  return {
    UserId: userId,
    Availability: state.availability,
    Note: state.note,
    EndTime: formatApiTimeOrNull(state.endTimeMs),
    Modified: formatApiTimeOrNull(state.modifiedMs),
  };
}

/** A queue's status without call control: its opening hours, no live counts. */
const staticStatus = (queue: Queue, nowMs: number): QueueStatus => ({
  openStatus: openStatusAt(queue.openingHours, nowMs),
  queueLength: 0,
  maxWaitSeconds: 0,
  ongoingCalls: 0,
  freeAgents: 0,
  servingAgents: 0,
  agentsOnWrapUp: 0,
});

const CHANGE_RULE = 'A user may change their own; an admin anyone’s (else 403).';

/** An agent operation on the user of the path. */
const agentOperation = <Q extends z.ZodObject, B extends z.ZodObject | undefined = undefined>(
  spec: Omit<OperationSpec<Q, typeof userIdParams, B>, 'tag' | 'auth' | 'params'>,
): OperationSpec<Q, typeof userIdParams, B> => ({
  ...spec,
  tag: AGENTS_TAG,
  auth: 'basic',
  params: userIdParams,
});

export const directoryRoutes: FastifyPluginAsyncZod<RouteContext> = async (app, context) => {
  const { directory } = context;
  const { tenant, organizationId } = directory;
  const now = context.now ?? Date.now;
  const agents: AgentDesk | undefined = context.agents;

  const userOf = (userId: string): User => {
    const user = directory.userById(userId);
    if (user === undefined) throw notFound(`No user ${userId}`);
    return user;
  };

  app.get(
    '/users/me',
    operation({
      ...listing('getMe', 'The authenticated user', 'User', 'The caller.'),
      description: 'The user whose credentials authenticated the request.',
      response: { schema: 'User', description: 'The caller.' },
    }),
    async (request) => toWireUser(callerOf(request), organizationId),
  );
  app.get(
    '/users',
    operation(listing('listUsers', 'All users', 'User', 'Every configured user.')),
    async () => tenant.users.map((user) => toWireUser(user, organizationId)),
  );
  app.get(
    '/users/:UserId',
    operation({
      ...listing('getUser', 'One user', 'User', 'The user.'),
      params: userIdParams,
      response: { schema: 'User', description: 'The user.' },
      errors: [400, 401, 404, 429],
    }),
    async ({ params }) => toWireUser(userOf(params.UserId), organizationId),
  );
  app.get(
    '/queues',
    operation({
      ...listing(
        'listQueues',
        'All queues (service pools), with their live status',
        'Queue',
        'Every configured queue (or the user’s, with OnlyForUser), with TypeId 4 and its live Status.',
      ),
      description:
        'Every authenticated user may list all queues. OnlyForUser=<user id> lists the queues that user is a member of. ' +
        'Status is live: OpenStatus from the opening hours (1 open, 0 closed), calls waiting and connected, and the serving agents.',
      query: queuesQuery,
    }),
    async ({ query }) => {
      const nowMs = now();
      const queues =
        query.OnlyForUser === undefined
          ? tenant.queues
          : tenant.queues.filter((queue) => queue.memberUserIds.includes(query.OnlyForUser!));
      return queues.map((queue) =>
        toWireQueue(queue, agents ? agents.queueStatus(queue) : staticStatus(queue, nowMs)),
      );
    },
  );
  app.get(
    '/callbacklists',
    operation(
      listing('listCallbackLists', 'All callback lists', 'CallbackList', 'Every configured callback list.'),
    ),
    async () => tenant.callbackLists.map(toWireCallbackList),
  );

  if (agents === undefined) return;

  /** The user of the path, when the caller may change their settings (self or admin). */
  const changeableBy = (caller: User, userId: string): User => {
    const user = userOf(userId);
    if (caller.userId !== user.userId && caller.role !== 'admin') {
      throw forbidden('UserId', `UserId: only ${user.username} or an admin may change this`);
    }
    return user;
  };

  app.get(
    '/users/:UserId/availability',
    operation(
      agentOperation({
        operationId: 'getAvailability',
        summary: "A user's availability",
        description:
          'Available, Busy, DoNotDisturb or OffWork, with the note and EndTime it was set with. Only Available users are ' +
          'offered queue calls; direct calls reach Busy and OffWork users, and a DoNotDisturb user’s callers hear busy ' +
          '(486, or 480 when the user is configured so). Any authenticated user may read it.',
        query: noParameters,
        response: { schema: availabilityWireSchema, description: "The user's availability." },
        errors: [400, 401, 404, 429],
      }),
    ),
    async ({ params }) => {
      const user = userOf(params.UserId);
      return toWireAvailability(user.userId, agents.availabilityOf(user.userId));
    },
  );
  app.post(
    '/users/:UserId/availability',
    operation(
      agentOperation({
        operationId: 'setAvailability',
        summary: "Set a user's availability",
        description:
          `Sets the availability; Note and EndTime replace the previous ones (absent: none). With EndTime the user is ` +
          `Available again at that time. Waiting queue calls are offered at once to a user who becomes Available. ${CHANGE_RULE}`,
        query: noParameters,
        body: availabilityBody,
        response: { schema: availabilityWireSchema, description: 'The availability as set.' },
        errors: [400, 401, 403, 404, 415, 429],
      }),
    ),
    async (request) => {
      const user = changeableBy(callerOf(request), request.params.UserId);
      const { Availability, Note, EndTime } = request.body;
      const endTimeMs = EndTime ?? null;
      if (endTimeMs !== null) {
        if (Availability === 'Available')
          throw badParameter('EndTime', 'EndTime: only with Busy, DoNotDisturb or OffWork (it ends those)');
        if (endTimeMs <= now())
          throw badParameter(
            'EndTime',
            `EndTime must be in the future, got ${formatApiTimeOrNull(endTimeMs)}`,
          );
      }
      const state = await agents.setAvailability(
        user.userId,
        { availability: Availability, note: Note ?? null, endTimeMs },
        callerOf(request).userId,
      );
      return toWireAvailability(user.userId, state);
    },
  );

  const membershipsOf = (user: User) =>
    agents.membershipsOf(user.userId).map(({ queue, serving }) => ({
      QueueId: queue.queueId,
      QueueName: queue.name,
      Serving: serving,
    }));

  app.get(
    '/users/:UserId/queues',
    operation(
      agentOperation({
        operationId: 'listUserQueues',
        summary: "A user's queues and whether they serve each",
        description:
          'The queues the user is a member of, in configuration order. A member not serving a queue is not offered its calls. ' +
          'Any authenticated user may read it.',
        query: noParameters,
        response: { schema: userQueueWireSchema, list: true, description: "The user's queues." },
        errors: [400, 401, 404, 429],
      }),
    ),
    async ({ params }) => membershipsOf(userOf(params.UserId)),
  );
  app.post(
    '/users/:UserId/queues',
    operation(
      agentOperation({
        operationId: 'setServing',
        summary: 'Switch serving one queue on or off',
        description: `QueueId must be a queue the user is a member of (else 400). Returns all the user's queues. ${CHANGE_RULE}`,
        query: noParameters,
        body: servingBody,
        response: {
          schema: userQueueWireSchema,
          list: true,
          description: "The user's queues, as now served.",
        },
        errors: [400, 401, 403, 404, 415, 429],
      }),
    ),
    async (request) => {
      const user = changeableBy(callerOf(request), request.params.UserId);
      const queue = directory.queueById(request.body.QueueId);
      if (!queue?.memberUserIds.includes(user.userId)) {
        throw badParameter(
          'QueueId',
          `QueueId: ${quoteValue(request.body.QueueId)} is not a queue ${user.username} is a member of`,
        );
      }
      await agents.setServing(user.userId, queue.queueId, request.body.Serving, callerOf(request).userId);
      return membershipsOf(user);
    },
  );

  const wrapUpOf = (user: User): z.input<typeof wrapUpWireSchema> => {
    const endsAtMs = agents.wrapUpEndsAtMs(user.userId);
    return { UserId: user.userId, InWrapUp: endsAtMs !== null, EndTime: formatApiTimeOrNull(endsAtMs) };
  };

  app.get(
    '/users/:UserId/wrapup',
    operation(
      agentOperation({
        operationId: 'getWrapUp',
        summary: "A user's wrap-up",
        description:
          "Whether the user is in wrap-up (the queue's wrapUpSeconds after a queue call, offered no queue calls) and until when.",
        query: noParameters,
        response: { schema: wrapUpWireSchema, description: "The user's wrap-up." },
        errors: [400, 401, 404, 429],
      }),
    ),
    async ({ params }) => wrapUpOf(userOf(params.UserId)),
  );
  app.post(
    '/users/:UserId/wrapup/end',
    operation(
      agentOperation({
        operationId: 'endWrapUp',
        summary: 'End wrap-up now',
        description: `Ends the user's wrap-up at once: waiting queue calls may be offered to them now. No body. ${CHANGE_RULE}`,
        query: noParameters,
        body: noParameters,
        response: { schema: wrapUpWireSchema, description: "The user's wrap-up (ended)." },
        errors: [400, 401, 403, 404, 429],
      }),
    ),
    async (request) => {
      const user = changeableBy(callerOf(request), request.params.UserId);
      agents.endWrapUp(user.userId, callerOf(request).userId);
      return wrapUpOf(user);
    },
  );
};
