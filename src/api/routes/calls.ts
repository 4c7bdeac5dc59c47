/**
 * Call information (DESIGN.md §2–3): user call events, inbound service calls and their details,
 * outbound service calls and outbound callback calls. The store applies the visibility scopes in
 * its query; the results are checked against them again here, so that a store bug cannot leak a
 * record to someone without the permission.
 */
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  toWireOutboundCallbackCall,
  toWireOutboundServiceCall,
  toWireServiceCall,
  toWireServiceCallDetail,
  toWireUserCallEvent,
} from '../../records/kinds/index.js';
import type { IdScope, QueueOwnedQuery, RecordSelection, UserCallEvent } from '../../records/types.js';
import { callerOf } from '../auth-plugin.js';
import { type OperationSpec, operation } from '../documentation.js';
import { notFound } from '../errors.js';
import {
  checkExplicitFilter,
  inScope,
  inWindow,
  type SelectionParameters,
  scopeOf,
  toSelection,
} from '../filters.js';
import {
  callbackOwnedQuery,
  callIdParams,
  callsQuery,
  eventIdParams,
  noParameters,
  queueOwnedQuery,
  transcriptIdParams,
} from '../schemas.js';
import type { RouteContext } from './context.js';

const FILTERS =
  'Select with StartTime and EndTime, or with ModifiedAfter and ModifiedBefore (UTC, ' +
  "'yyyy-MM-dd HH:mm:ss' or ISO-8601, at most 31 days apart), or with CallId — alone, or with a " +
  'window: then only the records of that call in the window. Parameter names are case-insensitive; ' +
  'unknown parameters are ignored. Records are written by post-processing, so a call appears shortly after it happens.';

/** A record listing: HTTP Basic, a selection in the query, no path parameters. */
const listing = <Q extends z.ZodObject>(
  operationId: string,
  query: Q,
  summary: string,
  component: OperationSpec<Q, typeof noParameters, undefined>['response']['schema'],
  description: string,
): OperationSpec<Q, typeof noParameters, undefined> => ({
  operationId,
  tag: 'Call information',
  summary,
  description: `${FILTERS} ${description}`,
  auth: 'basic',
  query,
  params: noParameters,
  response: { schema: component, list: true, description: 'The visible records.' },
  errors: [400, 401, 403, 429],
});

/** A single record (or a call's details) by id: HTTP Basic, an id in the path. */
const byId = <P extends z.ZodObject>(
  operationId: string,
  params: P,
  summary: string,
  component: OperationSpec<typeof noParameters, P, undefined>['response']['schema'],
  description: string,
  list: boolean,
): OperationSpec<typeof noParameters, P, undefined> => ({
  operationId,
  tag: 'Call information',
  summary,
  description,
  auth: 'basic',
  query: noParameters,
  params,
  response: { schema: component, list, description: list ? 'The events, in order.' : 'The event.' },
  errors: [400, 401, 404, 429],
});

/**
 * Who owns a kind of record — the grant that shows it, the filter parameter, the owner's id — and
 * its time (the one time windows select by).
 */
interface Ownership<T> {
  grant: 'ServiceCalls' | 'CallbackList';
  filter: 'QueueIDs' | 'CallbackListIDs';
  ownerOf(record: T): string;
  timeOf(record: T): number;
}

type Timed = { timestampMs: number; modifiedMs: number };

const SERVICE_CALLS: Ownership<{ queueId: string; arrivalTimeMs: number; modifiedMs: number }> = {
  grant: 'ServiceCalls',
  filter: 'QueueIDs',
  ownerOf: (record) => record.queueId,
  timeOf: (record) => record.arrivalTimeMs,
};

const OUTBOUND_SERVICE_CALLS: Ownership<{ queueId: string } & Timed> = {
  grant: 'ServiceCalls',
  filter: 'QueueIDs',
  ownerOf: (record) => record.queueId,
  timeOf: (record) => record.timestampMs,
};

const CALLBACK_LIST_OWNED: Ownership<{ callbackListId: string } & Timed> = {
  grant: 'CallbackList',
  filter: 'CallbackListIDs',
  ownerOf: (record) => record.callbackListId,
  timeOf: (record) => record.timestampMs,
};

type OwnedQuery = SelectionParameters & {
  QueueIDs?: string[] | undefined;
  CallbackListIDs?: string[] | undefined;
};

/**
 * A listing of records owned by a queue (inbound and outbound service calls: its ServiceCalls
 * permission) or a callback list (outbound callback calls: its CallbackList permission); an
 * explicit filter naming an owner the caller may not see is a 403.
 */
async function listOwned<T extends { modifiedMs: number }>(
  request: FastifyRequest & { query: OwnedQuery },
  ownership: Ownership<NoInfer<T>>,
  list: (selection: RecordSelection, owners: string[] | undefined, visible: IdScope) => Promise<T[]>,
): Promise<T[]> {
  const { query } = request;
  const visible = scopeOf(callerOf(request), ownership.grant);
  const wanted = query[ownership.filter];
  checkExplicitFilter(ownership.filter, wanted, [visible]);
  const { selection, window } = toSelection(query);
  const records = await list(selection, wanted, visible);
  return records.filter(
    (record) =>
      inScope(visible, ownership.ownerOf(record)) &&
      inScope(wanted ?? '*', ownership.ownerOf(record)) &&
      inWindow(window, ownership.timeOf(record), record.modifiedMs),
  );
}

/** The store query of a queue-owned listing. */
const byQueue =
  <T>(list: (query: QueueOwnedQuery) => Promise<T[]>) =>
  (selection: RecordSelection, queueIds: string[] | undefined, visibleQueueIds: IdScope) =>
    list({ selection, ...(queueIds && { queueIds }), visibleQueueIds });

export const callRoutes: FastifyPluginAsyncZod<RouteContext> = async (app, { records }) => {
  app.get(
    '/calls',
    operation(
      listing(
        'listUserCallEvents',
        callsQuery,
        'User call events',
        'UserCallEvent',
        'One event per user per call: DirectCall events (shown with the DirectCalls ' +
          'permission of their user) and ServiceCall events of agents (shown with AgentCalls of their user). ' +
          'Events the caller may not see are left out.',
      ),
    ),
    async (request) => {
      const caller = callerOf(request);
      const { query } = request;
      const { selection, window } = toSelection(query);
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
        (wanted === undefined || wanted.includes(event.userId.toLowerCase())) &&
        inWindow(window, event.timestampMs, event.modifiedMs);
      return events.filter(isVisible).map(toWireUserCallEvent);
    },
  );
  app.get(
    '/calls/:EventId',
    operation(
      byId(
        'getUserCallEvent',
        eventIdParams,
        'One user call event, by its Id (a Switchboard extension)',
        'UserCallEvent',
        'A 404 for an unknown Id and for an event the caller may not see alike.',
        false,
      ),
    ),
    async (request) => {
      const caller = callerOf(request);
      const event = await records.getUserCallEvent(request.params.EventId);
      const kind = event?.callType === 'DirectCall' ? 'DirectCalls' : 'AgentCalls';
      if (event === undefined || !inScope(scopeOf(caller, kind), event.userId)) {
        throw notFound(`No call event ${request.params.EventId}`);
      }
      return toWireUserCallEvent(event);
    },
  );
  /** A listing of records owned by a queue. */
  const queueOwnedListing = <T extends { queueId: string; modifiedMs: number }, W>(
    url: string,
    spec: OperationSpec<typeof queueOwnedQuery, typeof noParameters, undefined>,
    ownership: Ownership<T>,
    list: (query: QueueOwnedQuery) => Promise<T[]>,
    toWire: (record: T) => W,
  ) =>
    app.get(url, operation(spec), async (request) =>
      (await listOwned(request, ownership, byQueue(list))).map(toWire),
    );

  queueOwnedListing(
    '/servicecall',
    listing(
      'listServiceCalls',
      queueOwnedQuery,
      'Inbound service calls (one header per call and queue)',
      'ServiceCall',
      'Shown with the ServiceCalls permission of the queue. The header is updated as the call progresses; Result is null until it ends.',
    ),
    SERVICE_CALLS,
    (query) => records.listServiceCalls(query),
    toWireServiceCall,
  );
  app.get(
    '/servicecall/:CallId/details',
    operation(
      byId(
        'listServiceCallDetails',
        callIdParams,
        'What happened to one inbound service call, in order',
        'ServiceCallDetail',
        'Arrival, each allocation and its outcome, connection and disconnect. Shown with the ' +
          "ServiceCalls permission of the call's queue; a 404 for an unknown CallId and for a call the " +
          'caller may not see alike.',
        true,
      ),
    ),
    async (request) => {
      const caller = callerOf(request);
      const queues = scopeOf(caller, 'ServiceCalls');
      const details = (await records.listServiceCallDetails(request.params.CallId))
        .filter((detail) => inScope(queues, detail.queueId))
        .sort((a, b) => a.seq - b.seq);
      if (details.length === 0) throw notFound(`No service call ${request.params.CallId}`);
      return details.map(toWireServiceCallDetail);
    },
  );
  queueOwnedListing(
    '/outbound-servicecall',
    listing(
      'listOutboundServiceCalls',
      queueOwnedQuery,
      'Outbound service calls (made on behalf of a queue)',
      'OutboundServiceCall',
      'Owned by the queue: shown with its ServiceCalls permission.',
    ),
    OUTBOUND_SERVICE_CALLS,
    (query) => records.listOutboundServiceCalls(query),
    toWireOutboundServiceCall,
  );
  app.get(
    '/outbound-callbackcall',
    operation(
      listing(
        'listOutboundCallbackCalls',
        callbackOwnedQuery,
        'Outbound callback calls (made to handle a callback request)',
        'OutboundCallbackCall',
        'Owned by the callback list: shown with its CallbackList permission.',
      ),
    ),
    async (request) =>
      (
        await listOwned(request, CALLBACK_LIST_OWNED, (selection, callbackListIds, visibleCallbackListIds) =>
          records.listOutboundCallbackCalls({
            selection,
            ...(callbackListIds && { callbackListIds }),
            visibleCallbackListIds,
          }),
        )
      ).map(toWireOutboundCallbackCall),
  );
  app.get(
    '/calls/transcripts/:TranscriptId',
    operation({
      operationId: 'getTranscript',
      tag: 'Call information',
      summary: 'A call transcript (none yet: always a 404)',
      description:
        'EnreachVoice serves speech-to-text transcripts of recorded calls here. Switchboard has no ' +
        'speech-to-text yet, so no transcript exists: every well-formed TranscriptId is a 404 saying so ' +
        '(a malformed one a 400, as for every id).',
      auth: 'basic',
      query: noParameters,
      params: transcriptIdParams,
      response: {
        schema: z.object({}).meta({ description: 'Never answered.' }),
        description: 'Never answered.',
      },
      errors: [400, 401, 404, 429],
    }),
    async (request) => {
      throw notFound(
        `No transcript ${request.params.TranscriptId}: Switchboard has no speech-to-text yet, so calls are not transcribed`,
      );
    },
  );
};
