/**
 * What @fastify/swagger needs to document the HTTP surface: the document's frame (title,
 * description, tags, security scheme) and `operation()`, which turns one endpoint's description —
 * its zod parameter schemas, its response component and its error statuses — into the route's
 * Fastify `schema` and `config`. The same zod schemas validate the request (./validation.ts),
 * check the response (the type provider's serializer) and become the OpenAPI document, so the
 * document cannot drift from what the server does.
 */
import type { SwaggerOptions } from '@fastify/swagger';
import { createJsonSchemaTransform, createJsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CALL_TYPE_CODES, END_RESULT_CODES } from '../records/kinds/index.js';
import { ServiceCallEventType } from '../records/types.js';
import { COMPONENTS, type ComponentName } from './schemas.js';

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad request: a parameter is missing, malformed or not accepted here; Message and Parameter say which.',
  401: 'No, malformed or wrong credentials.',
  403: 'An explicit filter names an entity whose records the caller may not see, or the path names something the caller may not act on (another user’s keys, a callback list without its permission).',
  404: 'Unknown id, or one the caller may not see.',
  409: "The change contradicts the entity's state (e.g. closing a callback request that is not Open).",
  415: 'The body is not application/json.',
  429: 'Throttled; retry after the number of seconds in Retry-After.',
};

const codeList = (codes: Record<string, number>): string =>
  Object.entries(codes)
    .map(([name, code]) => `${code} = ${name}`)
    .join(', ');

export const API_DESCRIPTION = [
  "Switchboard's REST API, compatible with the EnreachAPI (formerly BeneAPI) call-information endpoints.",
  'Authentication: POST /authuser/{email} with the password returns a SecretKey; every other endpoint ' +
    'takes HTTP Basic with the user name (email) and that key. A key stays valid until it is revoked ' +
    "(DELETE /authuser/{email}/keys/{KeyId}; GET /authuser/{email}/keys lists them) or the user's password " +
    'changes. Service discovery (GET /api/user) needs no credentials.',
  'Format: JSON with PascalCase field names; list endpoints return bare JSON arrays. Times are UTC ' +
    'ISO-8601 with milliseconds and Z (2024-05-01T08:00:00.000Z). Requests may send X-Json-Serializer: 2, ' +
    'which selects exactly this format; it is the only format, so the header may also be left out, and any ' +
    'other value is a 400.',
  'Filters: StartTime and EndTime, or ModifiedAfter and ModifiedBefore, in UTC as ' +
    "'yyyy-MM-dd HH:mm:ss' (a space or '+' between date and time) or ISO-8601, at most 31 days apart; " +
    'or CallId (alone, or with a window: both apply). Parameter names are case-insensitive; paths work with ' +
    'or without a trailing slash and with doubled slashes. Unknown query parameters are ignored; a known ' +
    'parameter with a bad value, or repeated, is a 400, and so is an unknown field in a JSON body.',
  `Codes: Direction 0 = Inbound, 1 = Outbound. CallType ${codeList(CALL_TYPE_CODES)}. ` +
    `EndResult ${codeList(END_RESULT_CODES)}. ServiceCallDetail EventType ${codeList(ServiceCallEventType)} ` +
    '(2 and 101–205 as in EnreachVoice; 1, 201 and 202 are Switchboard codes).',
  'Permissions: DirectCalls and AgentCalls of a user, ServiceCalls of a queue, CallbackList of a list; ' +
    'every user has DirectCalls and AgentCalls of themselves, the admin role has everything. Lists leave ' +
    'out what the caller may not see; a single record the caller may not see is a 404; an explicit ' +
    'UserIDs/QueueIDs/CallbackListIDs filter naming an entity the caller may not see is a 403. Users, ' +
    'queues and callback lists themselves are listable by every authenticated user.',
  'Diagnostics (a Switchboard extension): GET /diagnostics/calls/{CallId} and GET /diagnostics/lookup?id= ' +
    'answer which identifier is which, with the same authentication, throttling and errors.',
  'Errors: {"Message", "Code", "Parameter"?}. Throttling: repeated wrong passwords or secret keys for ' +
    'one user, and too many requests per user (the REST API and diagnostics share one budget), are ' +
    'answered with 429 and Retry-After.',
].join('\n\n');

/** The @fastify/swagger options of the document at /openapi.json. */
declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route takes the EnreachAPI `X-Json-Serializer` header (./server.ts checks it, the document shows it). */
    serializerHeader?: boolean;
  }
}

/** The header EnreachVoice clients send, as a JSON Schema of the headers the document shows. */
const SERIALIZER_HEADER = {
  type: 'object',
  properties: {
    'X-Json-Serializer': {
      type: 'string',
      enum: ['2'],
      description: "Serializer version; '2' (what EnreachVoice clients send) selects this API's only format.",
    },
  },
};

export function swaggerOptions(serverUrl: string): SwaggerOptions {
  const components = createJsonSchemaTransformObject({});
  const schemas = createJsonSchemaTransform({ skipList: [] });
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Switchboard REST API (EnreachAPI-compatible)',
        version: '1.0.0',
        description: API_DESCRIPTION,
      },
      servers: [{ url: serverUrl }],
      tags: [
        { name: 'Authentication', description: 'Discovery and secret keys.' },
        { name: 'Directory', description: 'Users, queues, callback lists and the phonebook.' },
        { name: 'Call information', description: 'Call records written by post-processing.' },
        {
          name: 'Callback requests',
          description: 'Requests to call a customer back, and how they were handled.',
        },
        {
          name: 'Agents',
          description: "Users' availability, the queues they serve, and their wrap-up.",
        },
        {
          name: 'Classification',
          description: 'Classification schemas, and the classifications of calls and callback requests.',
        },
        { name: 'Realtime', description: 'Tokens for the RTE hub (SignalR).' },
        { name: 'Webhooks', description: 'Webhook deliveries from the durable outbox, and redelivery.' },
        { name: 'Diagnostics', description: "A call's identifier map, and which call an identifier names." },
      ],
      components: {
        securitySchemes: {
          basicAuth: {
            type: 'http',
            scheme: 'basic',
            description: 'User name (email) and SecretKey from /authuser.',
          },
        },
      },
    },
    transform: (input) => {
      const result = schemas(input);
      if (input.route.config?.serializerHeader !== true) return result;
      return { ...result, schema: { ...result.schema, headers: SERIALIZER_HEADER } };
    },
    transformObject: (document) => {
      const result = components(document);
      // The generator writes each component twice, as request (`UserInput`) and response schema;
      // components are only ever responses here.
      const schemas = 'components' in result ? result.components?.schemas : undefined;
      if (schemas !== undefined) for (const id of Object.keys(COMPONENTS)) delete schemas[`${id}Input`];
      return result;
    },
  };
}

const errorResponse = (status: number) => ({
  description: STATUS_TEXT[status] ?? `HTTP ${status}`,
  content: { 'application/json': { schema: COMPONENTS.Error } },
});

export interface OperationSpec<
  Q extends z.ZodObject,
  P extends z.ZodObject,
  B extends z.ZodObject | undefined,
> {
  operationId: string;
  tag: string;
  summary: string;
  description: string;
  /** HTTP Basic, or no credentials (then limited per client address): ./auth-plugin.ts. */
  auth: 'basic' | 'none';
  /** Query parameters; `noParameters` refuses every parameter. */
  query: Q;
  /** Path parameters. */
  params: P;
  /** POST only. */
  body?: B;
  response: {
    /** A named schema, or (diagnostics) a schema of its own. */
    schema: ComponentName | z.ZodType;
    /** A bare JSON array of it (EnreachAPI list responses), or a single object. */
    list?: boolean;
    description: string;
    /** Status of a successful answer: 200 unless told (201 for a creation). */
    status?: 200 | 201;
  };
  /** Error statuses this endpoint can answer with (documented). */
  errors: readonly number[];
  /** Takes the `X-Json-Serializer` header (default true: every REST API endpoint; diagnostics do not). */
  serializerHeader?: boolean;
}

/** One endpoint's Fastify route options: `app.get(url, operation({...}), handler)`. */
export function operation<
  Q extends z.ZodObject,
  P extends z.ZodObject,
  B extends z.ZodObject | undefined = undefined,
>(spec: OperationSpec<Q, P, B>) {
  const { response } = spec;
  const item = typeof response.schema === 'string' ? COMPONENTS[response.schema] : response.schema;
  const responses: Record<
    number,
    { description: string; content: { 'application/json': { schema: z.ZodType } } }
  > = {
    [response.status ?? 200]: {
      description: response.description,
      content: { 'application/json': { schema: response.list ? z.array(item) : item } },
    },
  };
  for (const status of spec.errors) responses[status] = errorResponse(status);
  const route = {
    schema: {
      operationId: spec.operationId,
      tags: [spec.tag],
      summary: spec.summary,
      description: spec.description,
      security: spec.auth === 'basic' ? [{ basicAuth: [] }] : [],
      querystring: spec.query,
      params: spec.params,
      body: spec.body as B,
      response: responses,
    },
    config: { auth: spec.auth, serializerHeader: spec.serializerHeader ?? true },
  };
  // Fastify warns about a `body` key on GET routes, even an undefined one; the key stays in the
  // type so that the type provider types POST bodies.
  if (spec.body === undefined) Reflect.deleteProperty(route.schema, 'body');
  return route;
}
