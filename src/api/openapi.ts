/**
 * The OpenAPI 3.1 document, generated from the route declarations and the zod schemas that validate
 * requests and responses (JSON Schema draft 2020-12, OpenAPI 3.1's own dialect).
 */
import { z } from 'zod';
import { ServiceCallEventType } from '../records/types.js';
import type { Route } from './route.js';
import { CALL_TYPE_CODES, COMPONENTS, END_RESULT_CODES } from './schemas.js';

export type JsonObject = { [key: string]: unknown };

export interface OpenApiDocument extends JsonObject {
  openapi: string;
  info: { title: string; version: string; description: string };
  servers: Array<{ url: string }>;
  paths: Record<string, Record<string, JsonObject>>;
  components: { schemas: Record<string, JsonObject>; securitySchemes: JsonObject };
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad request: a parameter is missing, malformed or not accepted here; Message and Parameter say which.',
  401: 'No, malformed or wrong credentials.',
  403: 'An explicit filter names an entity whose records the caller may not see.',
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
    'takes HTTP Basic with the user name (email) and that key. Service discovery (GET /api/user) needs no credentials.',
  'Format: JSON with PascalCase field names; list endpoints return bare JSON arrays. Times are UTC ' +
    'ISO-8601 with milliseconds and Z (2024-05-01T08:00:00.000Z). Requests may send X-Json-Serializer: 2, ' +
    'which selects exactly this format; it is the only format, so the header may also be left out, and any ' +
    'other value is a 400.',
  'Filters: StartTime and EndTime, or ModifiedAfter and ModifiedBefore, in UTC as ' +
    "'yyyy-MM-dd HH:mm:ss' (a space or '+' between date and time) or ISO-8601, at most 31 days apart; " +
    'or CallId alone. Parameter names are case-insensitive; paths work with or without a trailing slash. ' +
    'An unknown or repeated parameter is a 400.',
  `Codes: Direction 0 = Inbound, 1 = Outbound. CallType ${codeList(CALL_TYPE_CODES)}. ` +
    `EndResult ${codeList(END_RESULT_CODES)}. ServiceCallDetail EventType ${codeList(ServiceCallEventType)} ` +
    '(2 and 101–205 as in EnreachVoice; 1, 201 and 202 are Switchboard codes).',
  'Permissions: DirectCalls and AgentCalls of a user, ServiceCalls of a queue, CallbackList of a list; ' +
    'every user has DirectCalls and AgentCalls of themselves, the admin role has everything. Lists leave ' +
    'out what the caller may not see; a single record the caller may not see is a 404; an explicit ' +
    'UserIDs/QueueIDs/CallbackListIDs filter naming an entity the caller may not see is a 403. Users, ' +
    'queues and callback lists themselves are listable by every authenticated user.',
  'Errors: {"Message", "Code", "Parameter"?}. Throttling: repeated wrong passwords or secret keys for ' +
    'one user, and too many requests per user, are answered with 429 and Retry-After.',
].join('\n\n');

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonObject {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonObject;
  return rest;
}

/** Path, query and header parameters of a route. */
function parametersOf(route: Route): JsonObject[] {
  const parameters: JsonObject[] = [];
  const add = (where: 'path' | 'query', shape: Record<string, z.ZodType>) => {
    for (const [name, fieldSchema] of Object.entries(shape)) {
      const { description, ...schema } = jsonSchema(fieldSchema, 'input');
      parameters.push({
        name,
        in: where,
        required: where === 'path' || !fieldSchema.safeParse(undefined).success,
        ...(typeof description === 'string' ? { description } : {}),
        schema,
      });
    }
  };
  add('path', route.params.shape as Record<string, z.ZodType>);
  add('query', route.query.shape as Record<string, z.ZodType>);
  parameters.push({
    name: 'X-Json-Serializer',
    in: 'header',
    required: false,
    description: "Serializer version; '2' (what EnreachVoice clients send) selects this API's only format.",
    schema: { type: 'string', enum: ['2'] },
  });
  return parameters;
}

const errorResponse = (status: number): JsonObject => {
  const headers: JsonObject = {};
  if (status === 429) {
    headers['Retry-After'] = { description: 'Seconds to wait.', schema: { type: 'integer', minimum: 1 } };
  }
  if (status === 401) {
    headers['WWW-Authenticate'] = { description: 'Basic realm="Switchboard"', schema: { type: 'string' } };
  }
  return {
    description: STATUS_TEXT[status] ?? `HTTP ${status}`,
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  };
};

export function buildOpenApiDocument(routes: readonly Route[], opts: { serverUrl: string }): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) {
    const item: JsonObject = { $ref: `#/components/schemas/${route.response.component}` };
    const responses: JsonObject = {
      [route.successStatus ?? 200]: {
        description: route.response.description,
        content: {
          'application/json': { schema: route.response.list ? { type: 'array', items: item } : item },
        },
      },
    };
    for (const status of route.errors) responses[status] = errorResponse(status);
    const operation: JsonObject = {
      operationId: route.operationId,
      tags: [route.tag],
      summary: route.summary,
      description: route.description,
      parameters: parametersOf(route),
      ...(route.body === undefined
        ? {}
        : {
            requestBody: {
              // Optional when an empty object is a valid body (e.g. re-opening a callback request).
              required: !route.body.safeParse({}).success,
              content: { 'application/json': { schema: jsonSchema(route.body, 'input') } },
            },
          }),
      responses,
      security: route.auth === 'basic' ? [{ basicAuth: [] }] : [],
    };
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = operation;
  }

  const schemas: Record<string, JsonObject> = {};
  for (const [name, schema] of Object.entries(COMPONENTS)) schemas[name] = jsonSchema(schema, 'output');

  return {
    openapi: '3.1.0',
    info: {
      title: 'Switchboard REST API (EnreachAPI-compatible)',
      version: '1.0.0',
      description: API_DESCRIPTION,
    },
    servers: [{ url: opts.serverUrl }],
    tags: [
      { name: 'Authentication', description: 'Discovery and secret keys.' },
      { name: 'Directory', description: 'Users, queues and callback lists.' },
      { name: 'Call information', description: 'Call records written by post-processing.' },
      {
        name: 'Callback requests',
        description: 'Requests to call a customer back, and how they were handled.',
      },
    ],
    paths,
    components: {
      schemas,
      securitySchemes: {
        basicAuth: {
          type: 'http',
          scheme: 'basic',
          description: 'User name (email) and SecretKey from /authuser.',
        },
      },
    },
  };
}
