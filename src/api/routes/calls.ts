/**
 * Call information (DESIGN.md §2–3): user call events, inbound service calls and their details,
 * outbound service calls and outbound callback calls. The store applies the visibility scopes in
 * its query; the results are checked against them again here, so that a store bug cannot leak a
 * record to someone without the permission.
 */
import type { z } from 'zod';
import type { QueueOwnedQuery, UserCallEvent } from '../../records/types.js';
import { notFound } from '../errors.js';
import { checkExplicitFilter, inScope, scopeOf, toSelection } from '../filters.js';
import { callerOf, defineRoute, type Route } from '../route.js';
import {
  callbackOwnedQuery,
  callIdParams,
  callsQuery,
  eventIdParams,
  noParameters,
  queueOwnedQuery,
} from '../schemas.js';
import {
  toWireOutboundCallbackCall,
  toWireOutboundServiceCall,
  toWireServiceCall,
  toWireServiceCallDetail,
  toWireUserCallEvent,
} from '../serialize.js';
import type { RouteContext } from './context.js';

const FILTERS =
  'Select with StartTime and EndTime, or with ModifiedAfter and ModifiedBefore (UTC, ' +
  "'yyyy-MM-dd HH:mm:ss' or ISO-8601, at most 31 days apart), or with CallId alone. Parameter names " +
  'are case-insensitive. Records are written by post-processing, so a call appears shortly after it happens.';

const LIST_ERRORS = [400, 401, 403, 429] as const;

type QueueOwnedInput = Parameters<typeof callerOf>[0] & { query: z.output<typeof queueOwnedQuery> };

/**
 * A listing of records owned by a queue (inbound service calls, outbound service calls): shown
 * with the queue's ServiceCalls permission; an explicit QueueIDs naming an invisible queue is 403.
 */
async function listQueueOwned<T extends { queueId: string }>(
  input: QueueOwnedInput,
  list: (query: QueueOwnedQuery) => Promise<T[]>,
): Promise<T[]> {
  const { query } = input;
  const queues = scopeOf(callerOf(input), 'ServiceCalls');
  checkExplicitFilter('QueueIDs', query.QueueIDs, [queues]);
  const calls = await list({
    selection: toSelection(query),
    ...(query.QueueIDs === undefined ? {} : { queueIds: query.QueueIDs }),
    visibleQueueIds: queues,
  });
  return calls.filter(
    (call) => inScope(queues, call.queueId) && inScope(query.QueueIDs ?? '*', call.queueId),
  );
}

export function callRoutes({ records }: RouteContext): Route[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/calls',
      operationId: 'listUserCallEvents',
      tag: 'Call information',
      summary: 'User call events',
      description:
        `${FILTERS} One event per user per call: DirectCall events (shown with the DirectCalls ` +
        'permission of their user) and ServiceCall events of agents (shown with AgentCalls of their user). ' +
        'Events the caller may not see are left out.',
      auth: 'basic',
      query: callsQuery,
      params: noParameters,
      response: { component: 'UserCallEvent', list: true, description: 'The visible events.' },
      errors: LIST_ERRORS,
      handler: async (input) => {
        const caller = callerOf(input);
        const { query } = input;
        const selection = toSelection(query);
        const direct = scopeOf(caller, 'DirectCalls');
        const agent = scopeOf(caller, 'AgentCalls');
        checkExplicitFilter('UserIDs', query.UserIDs, [direct, agent]);
        const events = await records.listUserCallEvents({
          selection,
          ...(query.UserIDs === undefined ? {} : { userIds: query.UserIDs }),
          visibleDirectCallUserIds: direct,
          visibleAgentCallUserIds: agent,
        });
        const wanted = query.UserIDs;
        const isVisible = (event: UserCallEvent) =>
          inScope(event.callType === 'DirectCall' ? direct : agent, event.userId) &&
          (wanted === undefined || wanted.includes(event.userId.toLowerCase()));
        return events.filter(isVisible).map(toWireUserCallEvent);
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/calls/{EventId}',
      operationId: 'getUserCallEvent',
      tag: 'Call information',
      summary: 'One user call event, by its Id (a Switchboard extension)',
      description: 'A 404 for an unknown Id and for an event the caller may not see alike.',
      auth: 'basic',
      query: noParameters,
      params: eventIdParams,
      response: { component: 'UserCallEvent', list: false, description: 'The event.' },
      errors: [400, 401, 404, 429],
      handler: async (input) => {
        const caller = callerOf(input);
        const event = await records.getUserCallEvent(input.params.EventId);
        const kind = event?.callType === 'DirectCall' ? 'DirectCalls' : 'AgentCalls';
        if (event === undefined || !inScope(scopeOf(caller, kind), event.userId)) {
          throw notFound(`No call event ${input.params.EventId}`);
        }
        return toWireUserCallEvent(event);
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/servicecall',
      operationId: 'listServiceCalls',
      tag: 'Call information',
      summary: 'Inbound service calls (one header per call and queue)',
      description: `${FILTERS} Shown with the ServiceCalls permission of the queue. The header is updated as the call progresses; Result is null until it ends.`,
      auth: 'basic',
      query: queueOwnedQuery,
      params: noParameters,
      response: { component: 'ServiceCall', list: true, description: 'The visible service calls.' },
      errors: LIST_ERRORS,
      handler: async (input) =>
        (await listQueueOwned(input, (q) => records.listServiceCalls(q))).map(toWireServiceCall),
    }),
    defineRoute({
      method: 'GET',
      path: '/servicecall/{CallId}/details',
      operationId: 'listServiceCallDetails',
      tag: 'Call information',
      summary: 'What happened to one inbound service call, in order',
      description:
        'Arrival, each allocation and its outcome, connection and disconnect. Shown with the ' +
        "ServiceCalls permission of the call's queue; a 404 for an unknown CallId and for a call the " +
        'caller may not see alike.',
      auth: 'basic',
      query: noParameters,
      params: callIdParams,
      response: { component: 'ServiceCallDetail', list: true, description: 'The events, in order.' },
      errors: [400, 401, 404, 429],
      handler: async (input) => {
        const caller = callerOf(input);
        const queues = scopeOf(caller, 'ServiceCalls');
        const details = (await records.listServiceCallDetails(input.params.CallId))
          .filter((detail) => inScope(queues, detail.queueId))
          .sort((a, b) => a.seq - b.seq);
        if (details.length === 0) throw notFound(`No service call ${input.params.CallId}`);
        return details.map(toWireServiceCallDetail);
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/outbound-servicecall',
      operationId: 'listOutboundServiceCalls',
      tag: 'Call information',
      summary: 'Outbound service calls (made on behalf of a queue)',
      description: `${FILTERS} Owned by the queue: shown with its ServiceCalls permission.`,
      auth: 'basic',
      query: queueOwnedQuery,
      params: noParameters,
      response: { component: 'OutboundServiceCall', list: true, description: 'The visible calls.' },
      errors: LIST_ERRORS,
      handler: async (input) =>
        (await listQueueOwned(input, (q) => records.listOutboundServiceCalls(q))).map(
          toWireOutboundServiceCall,
        ),
    }),
    defineRoute({
      method: 'GET',
      path: '/outbound-callbackcall',
      operationId: 'listOutboundCallbackCalls',
      tag: 'Call information',
      summary: 'Outbound callback calls (made to handle a callback request)',
      description: `${FILTERS} Owned by the callback list: shown with its CallbackList permission.`,
      auth: 'basic',
      query: callbackOwnedQuery,
      params: noParameters,
      response: { component: 'OutboundCallbackCall', list: true, description: 'The visible calls.' },
      errors: LIST_ERRORS,
      handler: async (input) => {
        const caller = callerOf(input);
        const { query } = input;
        const selection = toSelection(query);
        const lists = scopeOf(caller, 'CallbackList');
        checkExplicitFilter('CallbackListIDs', query.CallbackListIDs, [lists]);
        const calls = await records.listOutboundCallbackCalls({
          selection,
          ...(query.CallbackListIDs === undefined ? {} : { callbackListIds: query.CallbackListIDs }),
          visibleCallbackListIds: lists,
        });
        return calls
          .filter(
            (call) =>
              inScope(lists, call.callbackListId) &&
              inScope(query.CallbackListIDs ?? '*', call.callbackListId),
          )
          .map(toWireOutboundCallbackCall);
      },
    }),
  ];
}
