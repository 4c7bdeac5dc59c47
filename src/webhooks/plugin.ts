/**
 * The outbox's admin surface, mounted inside the REST API as one of its extensions (its
 * authentication, budgets and OpenAPI document): `GET /webhooks/deliveries` and
 * `POST /webhooks/deliveries/{DeliveryId}/redeliver`. Admins only (403 for everybody else).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { callerOf } from '../api/auth-plugin.js';
import { operation } from '../api/documentation.js';
import { badParameter, forbidden, notFound } from '../api/errors.js';
import { formatApiTime } from '../records/kinds/wire-time.js';
import type { WebhookOutbox } from './outbox.js';
import { DELIVERY_STATUSES, type Delivery, type DeliveryStatus } from './store.js';

export interface WebhooksPluginDeps {
  outbox: WebhookOutbox;
}

const TAG = 'Webhooks';
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

const STATUS_NAMES: Record<DeliveryStatus, string> = {
  pending: 'Pending',
  delivered: 'Delivered',
  dead: 'Dead',
};

const deliveriesQuery = z.object({
  Status: z.string().optional().meta({ description: 'Pending, Delivered or Dead (any case).' }),
  Endpoint: z.string().optional().meta({ description: "A configured endpoint's URL or its EndpointId." }),
  EventName: z.string().optional().meta({ description: 'e.g. UserCallInComing.' }),
  Limit: z
    .string()
    .optional()
    .meta({ description: `At most this many, newest first (1–${MAX_LIMIT}, default ${DEFAULT_LIMIT}).` }),
});
const noQuery = z.object({});
const redeliverParams = z.object({
  DeliveryId: z.string().min(1).meta({ description: 'The delivery (`<EndpointId>:<event id>`).' }),
});
const noParams = z.object({});

const deliveryWire = z
  .object({
    Id: z.string(),
    EndpointId: z.string(),
    Endpoint: z.string(),
    EventId: z.string(),
    EventName: z.string(),
    Status: z.string(),
    Attempts: z.number().int(),
    Created: z.string(),
    NextAttempt: z.string().nullable(),
    LastAttempt: z.string().nullable(),
    LastError: z.string().nullable(),
    Delivered: z.string().nullable(),
  })
  .meta({ description: 'One webhook delivery: an event for one configured endpoint.' });

function toWire(delivery: Delivery) {
  return {
    Id: delivery.deliveryId,
    EndpointId: delivery.endpointId,
    Endpoint: delivery.endpoint,
    EventId: delivery.eventId,
    EventName: delivery.eventName,
    Status: STATUS_NAMES[delivery.status],
    Attempts: delivery.attempts,
    Created: formatApiTime(delivery.createdMs),
    NextAttempt: delivery.status === 'pending' ? formatApiTime(delivery.nextAttemptMs) : null,
    LastAttempt: delivery.lastAttemptMs === null ? null : formatApiTime(delivery.lastAttemptMs),
    LastError: delivery.lastError,
    Delivered: delivery.deliveredMs === null ? null : formatApiTime(delivery.deliveredMs),
  };
}

export const webhooksPlugin: FastifyPluginAsync<WebhooksPluginDeps> = async (plain, deps) => {
  const app = plain.withTypeProvider<ZodTypeProvider>();
  const { outbox } = deps;

  function requireAdmin(request: Parameters<typeof callerOf>[0]): void {
    if (callerOf(request).role !== 'admin')
      throw forbidden('Authorization', 'Only administrators may see and redeliver webhooks');
  }

  app.get(
    '/webhooks/deliveries',
    operation({
      operationId: 'listWebhookDeliveries',
      tag: TAG,
      summary: 'Webhook deliveries',
      description:
        'The outbox of the configured webhooks, newest event first: what was delivered, what waits (and why), what is dead. Administrators only.',
      auth: 'basic',
      query: deliveriesQuery,
      params: noParams,
      response: { schema: deliveryWire, list: true, description: 'The deliveries.' },
      errors: [400, 401, 403, 429],
    }),
    async (request) => {
      requireAdmin(request);
      const query = request.query;
      let status: DeliveryStatus | undefined;
      if (query.Status !== undefined) {
        status = DELIVERY_STATUSES.find((candidate) => candidate === query.Status!.trim().toLowerCase());
        if (!status) throw badParameter('Status', 'Status must be Pending, Delivered or Dead');
      }
      let endpointId: string | undefined;
      if (query.Endpoint !== undefined) {
        const wanted = query.Endpoint.trim();
        const endpoint = outbox.endpoints.find((candidate) => {
          if (candidate.endpointId === wanted) return true;
          try {
            return candidate.endpoint === new URL(wanted).href;
          } catch {
            return false;
          }
        });
        if (!endpoint) throw badParameter('Endpoint', `No configured webhook endpoint ${wanted}`);
        endpointId = endpoint.endpointId;
      }
      let limit = DEFAULT_LIMIT;
      if (query.Limit !== undefined) {
        limit = Number(query.Limit);
        if (!/^\d+$/.test(query.Limit.trim()) || limit < 1 || limit > MAX_LIMIT)
          throw badParameter('Limit', `Limit must be a whole number from 1 to ${MAX_LIMIT}`);
      }
      const deliveries = await outbox.store.list({
        ...(status ? { status } : {}),
        ...(endpointId ? { endpointId } : {}),
        ...(query.EventName !== undefined ? { eventName: query.EventName.trim() } : {}),
        limit,
      });
      return deliveries.map(toWire);
    },
  );

  app.post(
    '/webhooks/deliveries/:DeliveryId/redeliver',
    operation({
      operationId: 'redeliverWebhook',
      tag: TAG,
      summary: 'Redeliver a webhook',
      description:
        'Deliver the event to its endpoint again (same webhook-id), as soon as the endpoint’s earlier deliveries are done. Administrators only.',
      auth: 'basic',
      query: noQuery,
      params: redeliverParams,
      response: { schema: deliveryWire, description: 'The delivery, pending again.' },
      errors: [400, 401, 403, 404, 429],
    }),
    async (request) => {
      requireAdmin(request);
      const { DeliveryId } = request.params;
      const existing = await outbox.store.get(DeliveryId);
      if (!existing) throw notFound(`No webhook delivery ${DeliveryId}`);
      const delivery = await outbox.redeliver(DeliveryId);
      return toWire(delivery ?? existing);
    },
  );
};
