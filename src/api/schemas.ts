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
import { wireTime, wireTimeOrNull } from '../records/kinds/shared-wire.js';
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
    'One call: every record of this CallId. With a window too, only those of its records in the window.',
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

export const authUserKeyParams = z.object({
  email: z.string().min(1).meta({ description: 'The user name (email address) whose key it is.' }),
  KeyId: idParameter('KeyId', 'The id of the secret key, as listed by GET /authuser/{email}/keys.'),
});

export const userIdParams = z.object({ UserId: idParameter('UserId', 'The user id.') });
export const callIdParams = z.object({ CallId: idParameter('CallId', 'The CallId of the service call.') });
export const eventIdParams = z.object({ EventId: idParameter('EventId', 'The Id of the user call event.') });
export const recordingIdParams = z.object({
  RecordingId: idParameter('RecordingId', 'The recording id, as listed in RecordingIds of call records.'),
});
export const transcriptIdParams = z.object({
  TranscriptId: idParameter('TranscriptId', 'The transcript id.'),
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
  authority: z.string().meta({
    description:
      "Where the user authenticates: POST {authority}authuser/{email} mints a secret key. This server's " +
      "public URL, with a trailing '/' (Switchboard has no OpenID Connect provider).",
  }),
  basicAuthEndpoint: z.string().meta({
    description:
      "Base URL of the API that takes HTTP Basic email:SecretKey: apiEndpoint, with a trailing '/'.",
  }),
});

export const authUserResponseSchema = z.object({
  UserID: wireId('The user id.'),
  SecretKey: z
    .string()
    .meta({ description: 'A new secret key for HTTP Basic authentication (email:SecretKey).' }),
  KeyId: wireId('The id of the new key: how GET /authuser/{email}/keys lists it and DELETE revokes it.'),
});

export const secretKeyInfoSchema = z.object({
  Id: wireId('The key id (the secret itself is never shown again).'),
  UserId: wireId('Whose key it is.'),
  Created: wireTime('When the key was minted.'),
  LastUsed: wireTimeOrNull(
    'When the key last authenticated a request, to the minute (a verified key is remembered for a ' +
      'minute before it is checked against the store again); null if never.',
  ),
  Current: z.boolean().meta({ description: 'Whether this key authenticated the request that lists it.' }),
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
  OrganizationID: wireId(
    "The user's organization: the tenant's one organization, a stable id derived from its domain.",
  ),
});

export const queueStatusSchema = z
  .object({
    OpenStatus: z.number().int().meta({
      description: "1 = open, 0 = closed, from the queue's opening hours (always open without any).",
    }),
    QueueLength: z.number().int().meta({
      description: 'Calls in the queue not yet connected to an agent: waiting, or ringing at a member.',
    }),
    MaxWaitTime: z
      .number()
      .int()
      .meta({ description: 'Seconds the longest of those calls has waited; 0 when none.' }),
    OngoingCalls: z.number().int().meta({ description: "The queue's calls connected to an agent now." }),
    FreeAgents: z.number().int().meta({
      description:
        'Serving agents who may be offered a call now: registered, Available, not on a call, not in wrap-up.',
    }),
    ServingAgents: z.number().int().meta({
      description:
        'Members serving the queue who are Available and registered (free, on a call or in wrap-up).',
    }),
    AgentsOnWrapUp: z.number().int().meta({ description: 'Serving agents in wrap-up after a call.' }),
  })
  .meta({ description: 'Live status of the queue, as of the response.' });

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
  TypeId: z.literal(4).meta({ description: '4 = service queue (the only kind of queue here).' }),
  Status: queueStatusSchema,
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
// Phonebook (GET /directory).

/** Entry types of the phonebook: 2 is what the public EnreachVoice MCP server asks for to get queues. */
export const DIRECTORY_ENTRY_TYPES = { User: 1, Queue: 2 } as const;
export type DirectoryEntryType = keyof typeof DIRECTORY_ENTRY_TYPES;
const ENTRY_TYPE_NAMES: Record<string, DirectoryEntryType> = {
  '1': 'User',
  user: 'User',
  users: 'User',
  '2': 'Queue',
  queue: 'Queue',
  queues: 'Queue',
};
/** What a phonebook Number may be: digits (or '*', '#') with '+', spaces, dashes, dots and parentheses. */
const PHONEBOOK_NUMBER = /^(?=.*[0-9*#])[+0-9*#(][0-9*# ().-]{0,39}$/;
export const MAX_DIRECTORY_ENTRIES = 10_000;
export const DEFAULT_DIRECTORY_ENTRIES = 1000;

export const directoryIdParams = z.object({
  DirectoryId: idParameter('DirectoryId', 'The directory id, as listed by GET /directory.'),
});

const entryTypesParameter = z
  .string()
  .transform((text, ctx) => {
    const types = new Set<DirectoryEntryType>();
    for (const part of text.split(',').map((item) => item.trim())) {
      const type = ENTRY_TYPE_NAMES[part.toLowerCase()];
      if (type === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `EntryTypes has an unknown entry type ${quoteValue(part)}: expected 1 (User) or 2 (Queue), comma-separated`,
        });
        return z.NEVER;
      }
      types.add(type);
    }
    return [...types];
  })
  .meta({
    description:
      'Only entries of these types: 1 or User (users), 2 or Queue (queues). Comma-separated; the parameter may also be repeated. Default: all.',
  });
LIST_PARAMETERS.add(entryTypesParameter);

export const directoryEntriesQuery = z.object({
  EntryTypes: entryTypesParameter.optional(),
  Number: z
    .string()
    .trim()
    .regex(PHONEBOOK_NUMBER, {
      error:
        "Number must be a phone number or extension: digits with an optional '+' (spaces, dashes and parentheses allowed)",
    })
    .optional()
    .meta({
      description:
        'Only entries with this number among their numbers or extension. Spaces, dashes, dots and ' +
        "parentheses are ignored, a leading 00 is '+', and a national number with a leading 0 matches " +
        'the international number it ends.',
      examples: ['+358401000001', '1001'],
    }),
  MaxCount: z
    .string()
    .transform((text, ctx) => {
      const trimmed = text.trim();
      const count = /^[0-9]{1,6}$/.test(trimmed) ? Number(trimmed) : Number.NaN;
      if (!Number.isInteger(count) || count < 1 || count > MAX_DIRECTORY_ENTRIES) {
        ctx.addIssue({
          code: 'custom',
          message: `MaxCount must be a whole number from 1 to ${MAX_DIRECTORY_ENTRIES}, got ${quoteValue(text)}`,
        });
        return z.NEVER;
      }
      return count;
    })
    .optional()
    .meta({
      description: `At most this many entries (1 to ${MAX_DIRECTORY_ENTRIES}; default ${DEFAULT_DIRECTORY_ENTRIES}).`,
    }),
});

export const directorySchema = z.object({
  ID: wireId('The directory id.'),
  Name: z.string().meta({ description: "The directory's name: 'Default', the tenant's users and queues." }),
});

const nullableText = (description: string) => z.string().nullable().meta({ description });

export const directoryEntrySchema = z.object({
  Id: wireId('The entry id: the user id or the queue id.'),
  EntryType: z.number().int().meta({ description: '1 = User, 2 = Queue.' }),
  EntryTypeString: z.enum(['User', 'Queue']),
  UserId: wireId('The user, for a user entry; null for a queue.').nullable(),
  QueueId: wireId('The queue, for a queue entry; null for a user.').nullable(),
  FirstName: z.string().meta({
    description:
      "A user's first name (the first word of the display name); '' for a queue or a user without one.",
  }),
  LastName: z.string().meta({
    description:
      "The rest of a user's display name ('' if one word); the user name when the user has no display name; a queue's name.",
  }),
  DisplayName: z.string().meta({ description: 'The name to show: display name, user name or queue name.' }),
  Email: nullableText("A user's email address (their user name); null for a queue."),
  WorkNumber: nullableText("A user's direct number or a queue's number, if configured."),
  MobileNumber: nullableText('Not configured in Switchboard: always null.'),
  OtherNumber: nullableText('Not configured in Switchboard: always null.'),
  Extension: nullableText('The SIP extension, if any.'),
  Description: nullableText("'Service queue' for a queue; null for a user."),
  Title: nullableText('Not configured in Switchboard: always null.'),
  Company: nullableText("The tenant's domain."),
  Subcompany: nullableText('Not configured in Switchboard: always null.'),
  Department: nullableText('Not configured in Switchboard: always null.'),
  Location: nullableText('Not configured in Switchboard: always null.'),
});

export const directoryEntriesSchema = z.object({
  Entries: z.array(directoryEntrySchema).meta({
    description: 'The matching entries, users first (by user name), then queues (by name).',
  }),
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
  SecretKeyInfo: secretKeyInfoSchema,
  Directory: directorySchema,
  DirectoryEntry: directoryEntrySchema,
  DirectoryEntries: directoryEntriesSchema,
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
