/**
 * One declaration per endpoint: method, path, the zod schemas of its parameters and response, and
 * its handler. ./server.ts registers these with Fastify and ./openapi.ts documents them, so the
 * schemas that validate a request are the ones the document shows.
 *
 * Parameter names are matched case-insensitively (EnreachAPI clients write `userids`, `UserIds` and
 * `UserIDs`); an unknown or repeated parameter is a 400 rather than silently ignored, because an
 * ignored filter returns more than the integration asked for.
 */
import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { User } from '../config/types.js';
import { ApiError, badParameter, missingParameter, unknownParameter } from './errors.js';
import { type ComponentName, LIST_PARAMETERS, quoteValue } from './schemas.js';

export type ObjectSchema = z.ZodObject;

export interface HandlerInput<Q extends ObjectSchema, P extends ObjectSchema, B extends ObjectSchema> {
  query: z.output<Q>;
  params: z.output<P>;
  body: z.output<B>;
  /** The authenticated user; undefined only on routes with `auth: 'none'`. */
  caller: User | undefined;
  request: FastifyRequest;
}

export interface ResponseSpec {
  component: ComponentName;
  /** A bare JSON array of the component (EnreachAPI list responses), or a single object. */
  list: boolean;
  description: string;
}

export interface RouteSpec<Q extends ObjectSchema, P extends ObjectSchema, B extends ObjectSchema> {
  method: 'GET' | 'POST';
  /** OpenAPI form: `/servicecall/{CallId}/details`. Also served with a trailing '/'. */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  description: string;
  auth: 'basic' | 'none';
  query: Q;
  params: P;
  /** POST only. */
  body?: B;
  response: ResponseSpec;
  /** Status of a successful answer: 200 unless told (201 for a creation). */
  successStatus?: 200 | 201;
  /** Error statuses this endpoint can answer with (documented). */
  errors: readonly number[];
  handler(input: HandlerInput<Q, P, B>): Promise<unknown>;
}

/** A route with its types erased, as the server and the OpenAPI generator see it. */
export interface Route {
  method: 'GET' | 'POST';
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  description: string;
  auth: 'basic' | 'none';
  query: ObjectSchema;
  params: ObjectSchema;
  body: ObjectSchema | undefined;
  response: ResponseSpec;
  successStatus?: 200 | 201;
  errors: readonly number[];
  /** Validates the request's parameters and runs the handler; returns the response before serialization. */
  handle(request: FastifyRequest, caller: User | undefined): Promise<unknown>;
}

export function defineRoute<Q extends ObjectSchema, P extends ObjectSchema, B extends ObjectSchema>(
  spec: RouteSpec<Q, P, B>,
): Route {
  const { handler, body, ...meta } = spec;
  return {
    ...meta,
    body,
    async handle(request, caller) {
      const params = parseParameters(spec.params, request.params, 'path');
      const query = parseParameters(spec.query, request.query, 'query');
      const parsedBody =
        body === undefined ? ({} as z.output<B>) : parseParameters(body, request.body, 'body');
      return handler({ query, params, body: parsedBody, caller, request });
    },
  };
}

/** The caller of an authenticated route (a programming error if a route without auth asks). */
export function callerOf(input: { caller: User | undefined }): User {
  if (input.caller === undefined) throw new ApiError('INTERNAL', 'Internal error; it has been logged');
  return input.caller;
}

type Location = 'query' | 'path' | 'body';

/**
 * Maps the request's keys onto the schema's names case-insensitively, then validates with the schema.
 * Errors name the parameter as the schema spells it.
 */
export function parseParameters<S extends ObjectSchema>(
  schema: S,
  raw: unknown,
  where: Location,
): z.output<S> {
  const shape = schema.shape as Record<string, z.ZodType>;
  const names = Object.keys(shape);
  const canonical = new Map(names.map((name) => [name.toLowerCase(), name]));
  const input: Record<string, unknown> = {};

  if (raw !== undefined && raw !== null) {
    if (typeof raw !== 'object' || Array.isArray(raw)) {
      throw new ApiError('BAD_BODY', 'The request body must be a JSON object');
    }
    for (const [key, value] of Object.entries(raw)) {
      const name = canonical.get(key.toLowerCase());
      if (name === undefined) {
        const accepted = names.length === 0 ? 'none' : names.join(', ');
        const what = where === 'body' ? 'field' : 'parameter';
        throw unknownParameter(key, `Unknown ${what} ${quoteValue(key)}; this endpoint accepts: ${accepted}`);
      }
      const isList = isListParameter(shape[name]);
      const values = Array.isArray(value) && where !== 'body' ? value : [value];
      const previous = input[name];
      if ((previous !== undefined || values.length > 1) && !isList) {
        throw badParameter(name, `${name} is given more than once`);
      }
      input[name] =
        previous === undefined && values.length === 1
          ? values[0]
          : [previous, ...values].filter(isDefined).join(',');
    }
  }

  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const name = typeof issue.path[0] === 'string' ? issue.path[0] : '';
  if (name === '') throw new ApiError('BAD_BODY', issue.message);
  if (input[name] === undefined) throw missingParameter(name, `${name} is required`);
  const message = issue.message.includes(name) ? issue.message : `${name}: ${issue.message}`;
  throw badParameter(name, message);
}

const isDefined = (value: unknown): boolean => value !== undefined;

function isListParameter(schema: z.ZodType | undefined): boolean {
  if (schema === undefined) return false;
  if (LIST_PARAMETERS.has(schema)) return true;
  // .optional() wraps the list schema.
  const inner = (schema.def as { innerType?: z.ZodType }).innerType;
  return inner !== undefined && LIST_PARAMETERS.has(inner);
}
