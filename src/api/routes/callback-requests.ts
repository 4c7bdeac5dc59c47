/**
 * Callback requests of a callback list (DESIGN.md §3): list, create, read, close with a handling
 * status, re-open. Everything here needs the CallbackList permission of the list. Naming a list the
 * caller may not see is a 403 (lists themselves are listable by everyone, so the id is no secret);
 * a request that is not in the named list is a 404.
 *
 * Status rules (enforced atomically by the store; a violation is a 409):
 * - only an Open request can be closed, with ClosedSuccessfully, ClosedBusy, ClosedNoAnswer,
 *   ClosedInvalidNumber or Cancelled;
 * - ClosedBusy, ClosedNoAnswer and Cancelled can be re-opened; ClosedSuccessfully and
 *   ClosedInvalidNumber cannot (a new contact is a new request);
 * - only an Open request gets callback calls (call control refuses the others with SIP 403).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { CallbackList, User } from '../../config/types.js';
import { toWireCallbackRequest } from '../../records/kinds/index.js';
import type {
  CallbackClosedStatus,
  CallbackRequest,
  CallbackRequestChange,
  CallbackRequestStatus,
  CallbackRequestStore,
} from '../../records/types.js';
import { callerOf } from '../auth-plugin.js';
import { type OperationSpec, operation } from '../documentation.js';
import { badParameter, conflict, forbidden, notFound } from '../errors.js';
import { inScope, scopeOf } from '../filters.js';
import {
  callbackListIdParams,
  callbackRequestParams,
  callbackRequestsQuery,
  closeCallbackRequestBody,
  createCallbackRequestBody,
  noParameters,
  reopenCallbackRequestBody,
} from '../schemas.js';
import type { RouteContext } from './context.js';

const TAG = 'Callback requests';
const PERMISSION = 'Needs the CallbackList permission of the list (else 403).';

/** POST …/requests/{CallbackRequestId}/close and /reopen: a body, the changed request, 409s. */
const statusChange = <B extends z.ZodObject>(
  operationId: string,
  summary: string,
  description: string,
  body: B,
  changed: string,
): OperationSpec<typeof noParameters, typeof callbackRequestParams, B> => ({
  operationId,
  tag: TAG,
  summary,
  description: `${description} ${PERMISSION}`,
  auth: 'basic',
  query: noParameters,
  params: callbackRequestParams,
  body,
  response: { schema: 'CallbackRequest', description: changed },
  errors: [400, 401, 403, 404, 409, 415, 429],
});

export const callbackRequestRoutes: FastifyPluginAsyncZod<RouteContext> = async (app, context) => {
  const { directory } = context;
  const callbacks: CallbackRequestStore | undefined = context.callbacks;
  if (callbacks === undefined) return;
  const now = context.now ?? Date.now;

  /** The list of the path, if it exists (404) and the caller may see it (403). */
  const permittedList = (caller: User, callbackListId: string): CallbackList => {
    const list = directory.callbackListById(callbackListId);
    if (list === undefined) throw notFound(`No callback list ${callbackListId}`);
    if (!inScope(scopeOf(caller, 'CallbackList'), list.callbackListId)) {
      throw forbidden(
        'CallbackListId',
        `CallbackListId: you may not see callback requests of ${callbackListId}`,
      );
    }
    return list;
  };

  const withAttempts = async (requests: CallbackRequest[]) => {
    const attempts = await callbacks.listCallbackAttempts(
      requests.map((request) => request.callbackRequestId),
    );
    return requests.map((request) =>
      toWireCallbackRequest(
        request,
        attempts.filter((attempt) => attempt.callbackRequestId === request.callbackRequestId),
        directory,
      ),
    );
  };

  /** The request of the path, in the list of the path. */
  const requestIn = async (list: CallbackList, callbackRequestId: string): Promise<CallbackRequest> => {
    const request = await callbacks.getCallbackRequest(callbackRequestId);
    if (request === undefined || request.callbackListId !== list.callbackListId) {
      throw notFound(`No callback request ${callbackRequestId} in list ${list.callbackListId}`);
    }
    return request;
  };

  /** A status change of the request in the path, by the caller; `what` says which changes are allowed. */
  const changeStatus = async (
    input: FastifyRequest & { params: { CallbackListId: string; CallbackRequestId: string } },
    apply: (by: {
      callbackRequestId: string;
      byUserId: string;
      atMs: number;
    }) => Promise<CallbackRequestChange>,
    what: string,
  ) => {
    const caller = callerOf(input);
    const list = permittedList(caller, input.params.CallbackListId);
    await requestIn(list, input.params.CallbackRequestId);
    const change = await apply({
      callbackRequestId: input.params.CallbackRequestId,
      byUserId: caller.userId,
      atMs: now(),
    });
    return outcome(change, list, what);
  };

  const outcome = async (change: CallbackRequestChange, list: CallbackList, what: string) => {
    if (change.ok) {
      if (change.request.callbackListId !== list.callbackListId) throw notFound('No such callback request');
      return (await withAttempts([change.request]))[0]!;
    }
    if (change.reason === 'NotFound') throw notFound('No such callback request');
    throw conflict(`The callback request is ${change.request.status}: ${what}`);
  };

  app.get(
    '/callbacklists/:CallbackListId/requests',
    operation({
      operationId: 'listCallbackRequests',
      tag: TAG,
      summary: "A callback list's requests, each with its attempts",
      description:
        `Oldest first; optionally only one Status (e.g. Open). ${PERMISSION} Requests are made ` +
        'automatically when a call to a queue that names this list ends unanswered (the caller hung up ' +
        'while queued, or it left the queue unanswered), and through POST.',
      auth: 'basic',
      query: callbackRequestsQuery,
      params: callbackListIdParams,
      response: { schema: 'CallbackRequest', list: true, description: 'The requests.' },
      errors: [400, 401, 403, 404, 429],
    }),
    async (input) => {
      const list = permittedList(callerOf(input), input.params.CallbackListId);
      const status = input.query.Status as CallbackRequestStatus | undefined;
      const requests = await callbacks.listCallbackRequests({
        callbackListId: list.callbackListId,
        ...(status === undefined ? {} : { status }),
      });
      return withAttempts(requests);
    },
  );
  app.post(
    '/callbacklists/:CallbackListId/requests',
    operation({
      operationId: 'createCallbackRequest',
      tag: TAG,
      summary: 'Create a callback request',
      description: `A new Open request to call Number back. QueueId defaults to the list's queue. ${PERMISSION}`,
      auth: 'basic',
      query: noParameters,
      params: callbackListIdParams,
      body: createCallbackRequestBody,
      response: { schema: 'CallbackRequest', list: false, description: 'The new request.', status: 201 },
      errors: [400, 401, 403, 404, 415, 429],
    }),
    async (input, reply) => {
      const caller = callerOf(input);
      const list = permittedList(caller, input.params.CallbackListId);
      const { body } = input;
      const queueId = body.QueueId ?? list.queueId;
      if (directory.queueById(queueId) === undefined)
        throw badParameter('QueueId', `QueueId: no queue ${queueId}`);
      const atMs = now();
      const created = await callbacks.createCallbackRequest({
        callbackRequestId: randomUUID(),
        callbackListId: list.callbackListId,
        queueId,
        number: body.Number,
        callId: null,
        origin: 'Api',
        note: body.Note ?? null,
        status: 'Open',
        createdMs: atMs,
        createdByUserId: caller.userId,
        closedMs: null,
        closedByUserId: null,
        modifiedMs: atMs,
      });
      reply.code(201);
      return (await withAttempts([created]))[0]!;
    },
  );
  app.get(
    '/callbacklists/:CallbackListId/requests/:CallbackRequestId',
    operation({
      operationId: 'getCallbackRequest',
      tag: TAG,
      summary: 'One callback request with its attempts',
      description: `A 404 for an id that is not a request of this list. ${PERMISSION}`,
      auth: 'basic',
      query: noParameters,
      params: callbackRequestParams,
      response: { schema: 'CallbackRequest', list: false, description: 'The request.' },
      errors: [400, 401, 403, 404, 429],
    }),
    async (input) => {
      const list = permittedList(callerOf(input), input.params.CallbackListId);
      return (await withAttempts([await requestIn(list, input.params.CallbackRequestId)]))[0]!;
    },
  );
  app.post(
    '/callbacklists/:CallbackListId/requests/:CallbackRequestId/close',
    operation(
      statusChange(
        'closeCallbackRequest',
        'Close an Open callback request with how it was handled',
        'Status: ClosedSuccessfully, ClosedBusy, ClosedNoAnswer, ClosedInvalidNumber or Cancelled. Only an ' +
          'Open request can be closed: otherwise 409. A closed request gets no more callback calls.',
        closeCallbackRequestBody,
        'The closed request.',
      ),
    ),
    async (input) =>
      changeStatus(
        input,
        (by) =>
          callbacks.closeCallbackRequest({
            ...by,
            status: input.body.Status as CallbackClosedStatus,
            ...(input.body.Note === undefined ? {} : { note: input.body.Note }),
          }),
        'only an Open request can be closed',
      ),
  );
  app.post(
    '/callbacklists/:CallbackListId/requests/:CallbackRequestId/reopen',
    operation(
      statusChange(
        'reopenCallbackRequest',
        'Re-open a callback request closed as ClosedBusy, ClosedNoAnswer or Cancelled',
        'A request closed as ClosedSuccessfully or ClosedInvalidNumber cannot be re-opened (create a new ' +
          'one), nor can an Open one: 409.',
        reopenCallbackRequestBody,
        'The re-opened request.',
      ),
    ),
    async (input) =>
      changeStatus(
        input,
        (by) =>
          callbacks.reopenCallbackRequest({
            ...by,
            ...(input.body.Note === undefined ? {} : { note: input.body.Note }),
          }),
        'only ClosedBusy, ClosedNoAnswer and Cancelled requests can be re-opened',
      ),
  );
};
