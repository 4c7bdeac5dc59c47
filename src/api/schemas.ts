/**
 * The wire format of the REST API (DESIGN.md §3), as zod schemas. These same schemas validate every
 * request (query, path and body parameters) and every response, and @fastify/swagger documents them
 * (./documentation.ts), so the document cannot drift from what the server does. Request parameters
 * and the non-record responses are defined here; each record's response schema lives with its
 * serializer in its kind's folder (src/records/kinds/<kind>/wire.ts) and is named in `COMPONENTS`.
 */
import { z } from 'zod';
import {
  callbackRequestWireSchema,
  outboundCallbackCallWireSchema,
  outboundServiceCallWireSchema,
  serviceCallDetailWireSchema,
  serviceCallWireSchema,
  userCallEventWireSchema,
  wireId,
} from '../records/kinds/index.js';
import { CALLBACK_CLOSED_STATUSES, CALLBACK_REQUEST_STATUSES } from '../records/types.js';
import { parseApiTime } from './time.js';

// ---------------------------------------------------------------------------------------------
// Request parameters.

const UUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Echoes a bad value back in a message, but not a whole pasted document. */
export function quoteValue(value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
}

/** Id-list parameters accept a comma-separated value and may also be repeated. */
export const LIST_PARAMETERS = new WeakSet<z.ZodType>();

export const timeParameter = (name: string, description: string) =>
  z
    .string()
    .transform((text, ctx) => {
      const epochMs = parseApiTime(text);
      if (epochMs === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `${name} is not a valid time: expected UTC 'yyyy-MM-dd HH:mm:ss' or ISO-8601, got ${quoteValue(text)}`,
        });
        return z.NEVER;
      }
      return epochMs;
    })
    .meta({ description: `${description} Example: 2024-05-01 08:00:00 or 2024-05-01T08:00:00Z.` });

export const idParameter = (name: string, description: string) =>
  z
    .string()
    .transform((text, ctx) => {
      const trimmed = text.trim();
      if (!UUID_PATTERN.test(trimmed)) {
        ctx.addIssue({
          code: 'custom',
          message: `${name} is not a valid id (a UUID): got ${quoteValue(text)}`,
        });
        return z.NEVER;
      }
      return trimmed.toLowerCase();
    })
    .meta({ description, format: 'uuid' });

export const idListParameter = (name: string, description: string) => {
  const schema = z
    .string()
    .transform((text, ctx) => {
      const ids = text.split(',').map((part) => part.trim());
      const bad = ids.find((candidate) => !UUID_PATTERN.test(candidate));
      if (bad !== undefined) {
        ctx.addIssue({
          code: 'custom',
          message:
            bad === ''
              ? `${name} has an empty element: expected comma-separated ids`
              : `${name} has a value that is not a valid id (a UUID): ${quoteValue(bad)}`,
        });
        return z.NEVER;
      }
      return [...new Set(ids.map((candidate) => candidate.toLowerCase()))];
    })
    .meta({ description: `${description} Comma-separated; the parameter may also be repeated.` });
  LIST_PARAMETERS.add(schema);
  return schema;
};

const WINDOW_NOTE =
  'Give StartTime and EndTime, or ModifiedAfter and ModifiedBefore (at most 31 days apart), or CallId alone.';

const selectionShape = {
  StartTime: timeParameter(
    'StartTime',
    `Start of the time window, UTC: records whose call started in it. ${WINDOW_NOTE}`,
  ).optional(),
  EndTime: timeParameter('EndTime', 'End of the time window, UTC; later than StartTime.').optional(),
  ModifiedAfter: timeParameter(
    'ModifiedAfter',
    `Start of the modification window, UTC: records written or updated in it. ${WINDOW_NOTE}`,
  ).optional(),
  ModifiedBefore: timeParameter(
    'ModifiedBefore',
    'End of the modification window, UTC; later than ModifiedAfter.',
  ).optional(),
  CallId: idParameter(
    'CallId',
    'One call: every record of this CallId. Not combined with a window.',
  ).optional(),
};

export const callsQuery = z.object({
  ...selectionShape,
  UserIDs: idListParameter(
    'UserIDs',
    'Only events of these users. Each must be a user whose DirectCalls or AgentCalls the caller may see (else 403).',
  ).optional(),
});

export const queueOwnedQuery = z.object({
  ...selectionShape,
  QueueIDs: idListParameter(
    'QueueIDs',
    'Only records of these queues. Each must be a queue whose ServiceCalls the caller may see (else 403).',
  ).optional(),
});

export const callbackOwnedQuery = z.object({
  ...selectionShape,
  CallbackListIDs: idListParameter(
    'CallbackListIDs',
    'Only records of these callback lists. Each must be a list the caller may see (CallbackList grant, else 403).',
  ).optional(),
});

export const noParameters = z.object({});

export const discoveryQuery = z.object({
  user: z
    .string()
    .min(1, { error: 'user must not be empty' })
    .meta({ description: 'The user name (email address) to look up.', examples: ['a@example.com'] }),
});

export const discoveryBody = z.object({
  user: z
    .string({ error: 'user must be a string' })
    .min(1, { error: 'user must not be empty' })
    .meta({ description: 'The user name (email address) to look up.' }),
});

export const authUserParams = z.object({
  email: z.string().min(1).meta({ description: 'The user name (email address).' }),
});

export const authUserBody = z.object({
  UserName: z
    .string({ error: 'UserName must be a string' })
    .optional()
    .meta({ description: 'The user name; when given it must equal the {email} of the path.' }),
  Password: z
    .string({ error: 'Password must be a string' })
    .min(1, { error: 'Password must not be empty' })
    .meta({ description: "The user's password." }),
});

export const userIdParams = z.object({ UserId: idParameter('UserId', 'The user id.') });
export const callIdParams = z.object({ CallId: idParameter('CallId', 'The CallId of the service call.') });
export const eventIdParams = z.object({ EventId: idParameter('EventId', 'The Id of the user call event.') });
export const recordingIdParams = z.object({
  RecordingId: idParameter('RecordingId', 'The recording id, as listed in RecordingIds of call records.'),
});
export const recordingFileQuery = z.object({
  token: z
    .string()
    .min(1, { error: 'token must not be empty' })
    .optional()
    .meta({
      description:
        'The download token of the URL that GET /calls/recordings/{RecordingId} returns. With it no ' +
        'Authorization is needed; without it the request needs HTTP Basic and the same permission as the metadata.',
    }),
});

// ---------------------------------------------------------------------------------------------
// Responses.

export const errorBodySchema = z.object({
  Message: z.string().meta({ description: 'What went wrong, for a person; names the parameter for 400s.' }),
  Code: z.string().meta({ description: 'Stable error code, e.g. BAD_PARAMETER, UNAUTHORIZED.' }),
  Parameter: z.string().optional().meta({ description: 'The offending parameter, for 400s and 403s.' }),
});

export const discoveryEntrySchema = z.object({
  siloName: z.string().meta({ description: 'The tenant (the configured domain).' }),
  username: z.string().meta({ description: 'The user name as configured.' }),
  apiEndpoint: z.string().meta({ description: "Base URL of this REST API, with a trailing '/'." }),
  uiEndpoint: z.string().meta({ description: 'Base URL of the web console.' }),
});

export const authUserResponseSchema = z.object({
  UserID: wireId('The user id.'),
  SecretKey: z
    .string()
    .meta({ description: 'A new secret key for HTTP Basic authentication (email:SecretKey).' }),
});

export const userSchema = z.object({
  Id: wireId('The user id.'),
  UserName: z.string().meta({ description: 'The login (an email address).' }),
  Email: z.string(),
  FirstName: z.string().nullable().meta({ description: 'First word of the display name, if configured.' }),
  LastName: z.string().nullable().meta({ description: 'Rest of the display name, if configured.' }),
  DisplayName: z.string().nullable(),
  Extension: z.string().meta({ description: 'SIP extension.' }),
  Number: z.string().nullable().meta({ description: 'Direct number, if configured.' }),
  Role: z.enum(['Agent', 'Admin']),
});

export const queueSchema = z.object({
  Id: wireId('The queue id.'),
  Name: z.string(),
  Extension: z.string().nullable(),
  Numbers: z.array(z.string()).meta({ description: 'Phone numbers of the queue.' }),
  MemberUserIds: z.array(z.string()).meta({ description: 'Member user ids in allocation order.' }),
  CallbackListId: z
    .string()
    .nullable()
    .meta({ description: 'Callback list that receives unanswered calls.' }),
});

export const callbackListSchema = z.object({
  Id: wireId('The callback list id.'),
  Name: z.string(),
  QueueId: wireId('Queue whose number callees see on callback calls.'),
  MemberUserIds: z.array(z.string()),
});

export const recordingSchema = z.object({
  Id: wireId('The recording id.'),
  CallId: wireId('The CallId of the recorded call.'),
  URL: z.string().meta({
    description:
      "Where the audio is, relative to apiEndpoint: 'calls/recordings/{Id}/file?token=...'. A GET of apiEndpoint + URL " +
      'returns the MP3 without an Authorization header until the token expires (4 hours after this response).',
  }),
  Duration: z.number().int().meta({ description: 'Length of the recording in whole seconds.' }),
  TimeStamp: z.iso.datetime().meta({ description: 'When the recording started (the call was connected).' }),
  ContentType: z.string().meta({ description: "MIME type of the file: 'audio/mpeg'." }),
});

// ---------------------------------------------------------------------------------------------
// Callback requests.

const REQUEST_STATUSES = [...CALLBACK_REQUEST_STATUSES] as [string, ...string[]];
const CLOSED_STATUSES = [...CALLBACK_CLOSED_STATUSES] as [string, ...string[]];
/** What a callback call can dial: digits with an optional leading '+' (call control's rule). */
const CALLABLE_NUMBER = /^\+?[0-9*#]{2,32}$/;

export const callbackListIdParams = z.object({
  CallbackListId: idParameter('CallbackListId', 'The callback list id.'),
});
export const callbackRequestParams = z.object({
  CallbackListId: idParameter('CallbackListId', 'The callback list id.'),
  CallbackRequestId: idParameter('CallbackRequestId', 'The callback request id.'),
});

export const callbackRequestsQuery = z.object({
  Status: z
    .enum(REQUEST_STATUSES, { error: `Status must be one of ${REQUEST_STATUSES.join(', ')}` })
    .optional()
    .meta({ description: 'Only requests with this status (e.g. Open: what is left to call back).' }),
});

const note = z
  .string({ error: 'Note must be a string' })
  .max(1000, { error: 'Note must be at most 1000 characters' })
  .optional()
  .meta({ description: 'Free text for the agents; replaces the current note.' });

export const createCallbackRequestBody = z.object({
  Number: z
    .string({ error: 'Number must be a string' })
    .trim()
    .regex(CALLABLE_NUMBER, { error: "Number must be a callable number: an optional '+' and 2 to 32 digits" })
    .meta({ description: 'The number to call back.', examples: ['+358501234567'] }),
  QueueId: idParameter('QueueId', "The queue the request is about; default the list's queue.").optional(),
  Note: note,
});

export const closeCallbackRequestBody = z.object({
  Status: z
    .enum(CLOSED_STATUSES, { error: `Status must be one of ${CLOSED_STATUSES.join(', ')}` })
    .meta({ description: 'How the request was handled.' }),
  Note: note,
});

export const reopenCallbackRequestBody = z.object({ Note: note });

/** Named schemas: they become `components.schemas` of the OpenAPI document. */
export const COMPONENTS = {
  Error: errorBodySchema,
  DiscoveryEntry: discoveryEntrySchema,
  AuthUserResponse: authUserResponseSchema,
  User: userSchema,
  Queue: queueSchema,
  CallbackList: callbackListSchema,
  UserCallEvent: userCallEventWireSchema,
  ServiceCall: serviceCallWireSchema,
  ServiceCallDetail: serviceCallDetailWireSchema,
  OutboundServiceCall: outboundServiceCallWireSchema,
  OutboundCallbackCall: outboundCallbackCallWireSchema,
  CallbackRequest: callbackRequestWireSchema,
  Recording: recordingSchema,
} as const;

export type ComponentName = keyof typeof COMPONENTS;

// The ids make them components of the OpenAPI document (referenced with $ref). zod keeps `.meta()`
// descriptions in its global registry, which the document generator reads, so the ids go there too,
// next to each schema's description.
for (const [id, schema] of Object.entries(COMPONENTS)) {
  if (z.globalRegistry.get(schema)?.id !== id)
    z.globalRegistry.add(schema, { ...z.globalRegistry.get(schema), id });
}
export type Wire<N extends ComponentName> = z.input<(typeof COMPONENTS)[N]>;
