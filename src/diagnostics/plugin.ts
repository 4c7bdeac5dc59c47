/**
 * The diagnostics endpoints (a Switchboard extension of the REST API), as a Fastify plugin:
 *
 *   GET /diagnostics/calls/{CallId}   a call's identifier map, as far as the caller may see it
 *   GET /diagnostics/lookup?id=…       which calls an identifier names
 *
 * The platform mounts it inside the REST API (`apiPlugin`'s `extensions`), so it shares the API's
 * authentication plugin — one Authenticator, one request budget —, its validation, its error
 * handler and its OpenAPI document. Registered on its own, it brings the same authentication
 * plugin with state of its own.
 */
import type { FastifyPluginAsync } from 'fastify';
import { serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { authPlugin, callerOf, createHttpAuth } from '../api/auth-plugin.js';
import { operation } from '../api/documentation.js';
import { jsonResponseHeaders, sendHttpError } from '../api/error-handler.js';
import { validatorCompiler } from '../api/validation.js';
import { DiagnosticsService, parseIdentifier } from './service.js';
import type { DiagnosticsDeps } from './types.js';

/**
 * Identifiers are checked by `parseIdentifier` (its messages and codes are the contract), so the
 * schemas only name and document the parameters: any value reaches the handler.
 */
const identifier = (description: string) =>
  z.unknown().meta({ description, type: 'string', minLength: 1, maxLength: 256 });

const callIdParams = z.object({ CallId: identifier('The CallId of the call.') });
// Loose: unknown query parameters have always been ignored here.
const lookupQuery = z.looseObject({
  id: identifier(
    'A CallId, CallLegId, record Id, SIP Call-ID or client callId (Call-ID + From tag); 1–256 printable characters.',
  ).optional(),
});

const callMapSchema = z
  .looseObject({
    CallId: z.string(),
    CallKind: z.string(),
    Complete: z.boolean(),
    Legs: z.array(z.looseObject({ CallLegId: z.string(), Role: z.string() })),
    Records: z.array(z.looseObject({ Kind: z.string(), Id: z.string(), Endpoint: z.string() })),
    Timeline: z.array(z.looseObject({ Seq: z.number(), Label: z.string() })),
  })
  .meta({ description: 'The identifier map (src/diagnostics/README.md describes every field).' });

const lookupResultSchema = z.looseObject({
  Query: z.string(),
  Matches: z.array(
    z.looseObject({
      Kind: z.enum(['CallId', 'CallLegId', 'EventId', 'SipCallId', 'ClientCallId', 'RecordingId']),
      CallId: z.string(),
      Href: z.string(),
    }),
  ),
});

export const diagnosticsPlugin: FastifyPluginAsync<DiagnosticsDeps> = async (plain, deps) => {
  const app = plain.withTypeProvider<ZodTypeProvider>();
  if (!app.hasRequestDecorator('caller')) {
    // Not mounted inside the REST API: the same plugins, with state of its own.
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    app.setErrorHandler(sendHttpError);
    app.addHook('onSend', jsonResponseHeaders);
    await app.register(authPlugin, { auth: createHttpAuth(deps) });
  }
  const service = new DiagnosticsService({
    directory: deps.directory,
    journal: deps.journal,
    records: deps.records,
    recordings: deps.recordings,
  });

  app.get(
    '/diagnostics/calls/:CallId',
    operation({
      operationId: 'getCallMap',
      tag: 'Diagnostics',
      summary: "A call's identifier map, as far as the caller may see it",
      description:
        'Every leg with its SIP identifiers and the client callId the device saw, every record with the ' +
        'endpoint that serves it and the permission that shows it, and the timeline. A 404 for an unknown ' +
        'CallId and for a call the caller may see nothing of alike.',
      auth: 'basic',
      query: z.looseObject({}),
      params: callIdParams,
      response: { schema: callMapSchema, description: 'The identifier map.' },
      errors: [400, 401, 404, 429],
      serializerHeader: false,
    }),
    async (request) =>
      service.callMapFor(parseIdentifier(request.params.CallId, 'CallId'), callerOf(request)),
  );

  app.get(
    '/diagnostics/lookup',
    operation({
      operationId: 'lookupIdentifier',
      tag: 'Diagnostics',
      summary: 'Which calls an identifier names',
      description:
        'Matches the identifier against CallIds, CallLegIds, record Ids, SIP Call-IDs and client callIds; ' +
        'only matches the caller may see. A 404 when there is none.',
      auth: 'basic',
      query: lookupQuery,
      params: z.object({}),
      response: { schema: lookupResultSchema, description: 'The matches.' },
      errors: [400, 401, 404, 429],
      serializerHeader: false,
    }),
    async (request) => service.lookup(parseIdentifier(request.query.id, 'id'), callerOf(request)),
  );
};
