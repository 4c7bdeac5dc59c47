/**
 * The validator compiler of the HTTP surface: route schemas are zod objects (the type provider
 * fastify-type-provider-zod types handlers and documents them), validated by this thin adapter
 * rather than the provider's own `validatorCompiler`, because EnreachAPI compatibility needs what
 * a plain `schema.safeParse` cannot do:
 *
 * - parameter names match case-insensitively (clients write `userids`, `UserIds` and `UserIDs`);
 * - an unknown query parameter is ignored, as the EnreachAPI (ASP.NET) does — real clients send
 *   extras (./server.ts logs them at debug) —, but a known one with a bad value, or repeated, is a
 *   400; an unknown body field is a 400 (a misspelt field of a write must not be lost silently;
 *   a `z.looseObject` schema lets unknown fields through);
 * - id-list parameters may be repeated and comma-separated;
 * - a failure is a 400 whose `Parameter` and message name the parameter as the schema spells it.
 */
import type { FastifySchemaCompiler } from 'fastify';
import { z } from 'zod';
import { badParameter, HttpError, missingParameter, unknownParameter } from './errors.js';
import { LIST_PARAMETERS, quoteValue } from './schemas.js';

type Location = 'query' | 'path' | 'body';

const LOCATIONS: Record<string, Location> = { querystring: 'query', params: 'path', body: 'body' };

/**
 * Maps the request's keys onto the schema's names case-insensitively, then validates with the schema.
 * Errors name the parameter as the schema spells it.
 */
export function parseParameters<S extends z.ZodObject>(
  schema: S,
  raw: unknown,
  where: Location,
): z.output<S> {
  const shape = schema.shape as Record<string, z.ZodType>;
  const names = Object.keys(shape);
  const canonical = new Map(names.map((name) => [name.toLowerCase(), name]));
  // z.looseObject: unknown keys pass (z.object strips them, z.strictObject refuses them).
  const loose = schema.def.catchall?._zod.def.type === 'unknown';
  const input: Record<string, unknown> = {};

  if (raw !== undefined && raw !== null) {
    if (typeof raw !== 'object' || Array.isArray(raw)) {
      throw new HttpError('BAD_BODY', 'The request body must be a JSON object');
    }
    for (const [key, value] of Object.entries(raw)) {
      const name = canonical.get(key.toLowerCase());
      if (name === undefined) {
        if (loose || where === 'query') continue;
        const accepted = names.length === 0 ? 'none' : names.join(', ');
        const what = where === 'body' ? 'field' : 'parameter';
        throw unknownParameter(key, `Unknown ${what} ${quoteValue(key)}; this endpoint accepts: ${accepted}`);
      }
      if (loose) {
        // The schema decides what a repeated value means.
        input[name] = value;
        continue;
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
  if (name === '') throw new HttpError('BAD_BODY', issue.message);
  if (input[name] === undefined) throw missingParameter(name, `${name} is required`);
  const message = issue.message.includes(name) ? issue.message : `${name}: ${issue.message}`;
  throw badParameter(name, message);
}

const isDefined = (value: unknown): boolean => value !== undefined;

/** The query parameters of a request that its route's schema does not know (ignored, see above). */
export function ignoredQueryParameters(schema: unknown, query: unknown): string[] {
  if (!(schema instanceof z.ZodObject) || typeof query !== 'object' || query === null) return [];
  const known = new Set(Object.keys(schema.shape).map((name) => name.toLowerCase()));
  return Object.keys(query).filter((key) => !known.has(key.toLowerCase()));
}

function isListParameter(schema: z.ZodType | undefined): boolean {
  if (schema === undefined) return false;
  if (LIST_PARAMETERS.has(schema)) return true;
  // .optional() wraps the list schema.
  const inner = (schema.def as { innerType?: z.ZodType }).innerType;
  return inner !== undefined && LIST_PARAMETERS.has(inner);
}

/** `app.setValidatorCompiler(validatorCompiler)`: query, path and body schemas are zod objects. */
export const validatorCompiler: FastifySchemaCompiler<z.ZodType> = ({ schema, httpPart }) => {
  const where = LOCATIONS[httpPart ?? ''];
  return (data: unknown) => {
    if (where === undefined || !(schema instanceof z.ZodObject)) {
      const parsed = schema.safeParse(data);
      return parsed.success
        ? { value: parsed.data }
        : { error: badParameter(httpPart ?? '', parsed.error.message) };
    }
    try {
      return { value: parseParameters(schema, data, where) };
    } catch (error) {
      // Handed to Fastify as the validation error; the error handler answers it as it is.
      if (error instanceof HttpError) return { error };
      throw error;
    }
  };
};
