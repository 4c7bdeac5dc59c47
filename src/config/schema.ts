/**
 * The shape of the tenant configuration file (DESIGN.md §5). Shape only: cross-references and
 * uniqueness are checked by ./load.ts, which also turns zod issue paths into file lines.
 *
 * Every object is strict: a misspelt field is an error, never silently ignored, because a silently
 * ignored `allocationTimeoutSecond` would run a contact center with the wrong timeout.
 */
import { z } from 'zod';
import { classificationSchemasSchema } from '../classification/config.js';
import { builtinAudio } from '../media/prompts.js';
import { WEBHOOK_FIELDS, webhooksSchema } from '../webhooks/config.js';
import { OPENING_HOURS_FIELDS, openingHoursSchema, WEEKDAYS } from './opening-hours.js';
import type { GrantKind, QueueAudio, SipSettings } from './types.js';

export const DEFAULT_DOMAIN = 'switchboard.local';
export const DEFAULT_HTTP_PORT = 8080;
export const DEFAULT_QUEUE_STRATEGY = 'sequential';
export const DEFAULT_ALLOCATION_TIMEOUT_SECONDS = 15;
export const DEFAULT_MAX_WAIT_SECONDS = 120;
export const DEFAULT_TRUNK_PORT = 5060;
export const DEFAULT_TRUNK_TRANSPORT = 'udp';
/** A direct call to a DoNotDisturb user is answered 486 Busy Here unless the user says `unavailable` (480). */
export const DEFAULT_DND_RESPONSE = 'busy';
/** Failed SIP authentications per source address (src/sip/auth-throttle.ts). */
export const DEFAULT_SIP_AUTH_THROTTLE = { maxFailures: 10, windowSeconds: 60, cooldownSeconds: 300 };
/** SIP over TCP/TLS connections: how many, and how long one may be idle, silent at first or stalled. */
export const DEFAULT_SIP_TCP = {
  maxConnections: 2048,
  idleTimeoutSeconds: 900,
  firstMessageTimeoutSeconds: 30,
  stallTimeoutSeconds: 20,
};
/** RFC 3261 §18.1.1's switch of large requests from UDP to TCP: off by default, as in Asterisk. */
export const DEFAULT_SIP_LARGE_REQUESTS_OVER_TCP = false;

/** Queue audio (DESIGN.md §9 "Queue audio"): announcements of the position every this many seconds. */
export const DEFAULT_ANNOUNCE_EVERY_SECONDS = 30;
export const MIN_ANNOUNCE_EVERY_SECONDS = 10;
export const MAX_ANNOUNCE_EVERY_SECONDS = 3600;
/** The value of a queue's `greeting` that means "no greeting" (any case). */
export const NO_GREETING = 'none';

/**
 * The audio of a queue that configures none (a fresh object each time): the built-in greeting and
 * music, no announcements, no whisper, the caller answered (not kept ringing) while waiting.
 */
export function defaultQueueAudio(): QueueAudio {
  return {
    greeting: builtinAudio.greeting,
    musicOnHold: builtinAudio.music,
    announcePosition: false,
    announceEverySeconds: DEFAULT_ANNOUNCE_EVERY_SECONDS,
    ringWhileWaiting: false,
  };
}

/** The `sip` settings of a tenant that gives none (a fresh object each time). */
export function defaultSipSettings(): SipSettings {
  return {
    authThrottle: { ...DEFAULT_SIP_AUTH_THROTTLE },
    tcp: { ...DEFAULT_SIP_TCP },
    largeRequestsOverTcp: DEFAULT_SIP_LARGE_REQUESTS_OVER_TCP,
    trustedProxies: [],
  };
}

export const GRANT_KINDS: readonly GrantKind[] = [
  'DirectCalls',
  'AgentCalls',
  'ServiceCalls',
  'CallbackList',
];

const DIGITS = /^[0-9]+$/;
/** E.164-ish: what people write in configuration, not a full numbering-plan check. */
const PHONE_NUMBER = /^\+?[0-9]{3,15}$/;
const DOMAIN_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
/** Timers beyond a day are configuration mistakes, and would overflow setTimeout long before a month. */
const MAX_SECONDS = 86_400;

export function isPhoneNumberLike(text: string): boolean {
  return PHONE_NUMBER.test(text);
}

export function isDigits(text: string): boolean {
  return DIGITS.test(text);
}

/**
 * An error function for a type check that leaves "missing" to the loader's own message: a field
 * that is absent gets `missing required field`, a field with the wrong type gets `text`.
 */
function whenPresent(text: string): (issue: { input?: unknown }) => string | undefined {
  return (issue) => (issue.input === undefined ? undefined : text);
}

/** YAML reads unquoted 1001 or +358401000001 as numbers (losing a leading 0 or '+'), hence the hint. */
const QUOTE_HINT = 'got a number: put the value in quotes';

const nonEmpty = (what: string) =>
  z
    .string({ error: whenPresent(`expected ${what} (a string)`) })
    .min(1, { error: `${what} must not be empty` });

const digitString = () =>
  z
    .string({ error: whenPresent(`expected a string of digits, ${QUOTE_HINT}`) })
    .regex(DIGITS, { error: 'expected a string of digits' });

const phoneNumber = () =>
  z
    .string({ error: whenPresent(`expected a phone number as a string, ${QUOTE_HINT}`) })
    .regex(PHONE_NUMBER, { error: "expected a phone number: an optional '+' and 3 to 15 digits" });

const entityId = () =>
  z
    .guid({ error: whenPresent('expected a UUID such as 0b6f1c9e-3f2a-4c1d-9e8b-2a7d5c4e1f00') })
    .transform((value) => value.toLowerCase());

const seconds = (min: number) =>
  z
    .number({ error: whenPresent('expected a whole number of seconds') })
    .int({ error: 'expected a whole number of seconds' })
    .min(min, { error: `must be at least ${min}` })
    .max(MAX_SECONDS, { error: `must be at most ${MAX_SECONDS} (one day)` });

/** The path of a WAV or MP3 file; relative to the configuration file's directory. Checked by the loader. */
const audioPath = (what: string) =>
  z
    .string({ error: whenPresent(`expected the path of ${what} (a WAV or MP3 file)`) })
    .min(1, { error: `expected the path of ${what} (a WAV or MP3 file)` });

const memberList = () =>
  z.array(nonEmpty('a username'), { error: whenPresent('expected a list of usernames') });

/**
 * One permission: a mapping with exactly one key, the grant kind, whose value is the target's
 * name, id or '*'. Checked by hand rather than as a union of four objects, whose zod errors would
 * read "invalid input" instead of naming the bad key.
 */
export interface PermissionEntry {
  kind: GrantKind;
  target: string;
}

const KIND_LIST = 'DirectCalls, AgentCalls, ServiceCalls or CallbackList';

const permissionEntry = z.unknown().transform((value, ctx): PermissionEntry => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    ctx.addIssue({
      code: 'custom',
      input: value,
      message: `expected a mapping with one key (${KIND_LIST}), e.g. { ServiceCalls: Support }`,
    });
    return z.NEVER;
  }
  const entries = Object.entries(value);
  if (entries.length !== 1) {
    ctx.addIssue({
      code: 'custom',
      input: value,
      message: `expected exactly one key per permission, got ${entries.length}: write each permission as its own list item`,
    });
    return z.NEVER;
  }
  const [key, target] = entries[0]!;
  const kind = GRANT_KINDS.find((candidate) => candidate === key);
  if (kind === undefined) {
    ctx.addIssue({
      code: 'custom',
      input: value,
      path: [key],
      message: `unknown permission kind; expected ${KIND_LIST}`,
      params: { problemCode: 'UNKNOWN_FIELD' },
    });
    return z.NEVER;
  }
  if (typeof target !== 'string' || target === '') {
    ctx.addIssue({
      code: 'custom',
      input: target,
      path: [key],
      message: "expected a name, an id or '*'",
    });
    return z.NEVER;
  }
  return { kind, target };
});

export const userSchema = z.strictObject(
  {
    username: z.email({ error: whenPresent('expected an email address (the REST login)') }),
    extension: digitString(),
    password: nonEmpty('a password'),
    number: phoneNumber().nullish(),
    displayName: nonEmpty('a display name').nullish(),
    role: z.enum(['agent', 'admin'], { error: whenPresent('expected agent or admin') }).default('agent'),
    recordDirectCalls: z.boolean({ error: whenPresent('expected true or false') }).default(false),
    id: entityId().nullish(),
    permissions: z
      .array(permissionEntry, { error: whenPresent('expected a list of permissions') })
      .default([]),
    /** What a direct call to the user gets while they are DoNotDisturb: 486 Busy Here or 480. */
    dndResponse: z
      .enum(['busy', 'unavailable'], { error: whenPresent('expected busy or unavailable') })
      .default(DEFAULT_DND_RESPONSE),
  },
  { error: whenPresent('expected a mapping (one user)') },
);

export const queueSchema = z.strictObject(
  {
    name: nonEmpty('a queue name'),
    id: entityId().nullish(),
    extension: digitString().nullish(),
    number: phoneNumber().nullish(),
    members: memberList().default([]),
    strategy: z
      .enum(['sequential', 'longest-idle', 'ring-all'], {
        error: whenPresent('expected sequential, longest-idle or ring-all'),
      })
      .default(DEFAULT_QUEUE_STRATEGY),
    allocationTimeoutSeconds: seconds(1).default(DEFAULT_ALLOCATION_TIMEOUT_SECONDS),
    maxWaitSeconds: seconds(1).default(DEFAULT_MAX_WAIT_SECONDS),
    wrapUpSeconds: seconds(0).default(0),
    recordInbound: z.boolean({ error: whenPresent('expected true or false') }).default(false),
    recordOutbound: z.boolean({ error: whenPresent('expected true or false') }).default(false),
    callbackList: nonEmpty('a callback list name').nullish(),
    overflow: z
      .string({ error: whenPresent(`expected a user, queue or phone number as a string, ${QUOTE_HINT}`) })
      .min(1, { error: 'overflow must not be empty' })
      .nullish(),
    /** A file, or `none`; absent: the built-in greeting. */
    greeting: z
      .string({ error: whenPresent(`expected the path of a greeting (a WAV or MP3 file) or ${NO_GREETING}`) })
      .min(1, { error: `expected the path of a greeting (a WAV or MP3 file) or ${NO_GREETING}` })
      .nullish(),
    musicOnHold: audioPath('the music on hold').nullish(),
    announcePosition: z.boolean({ error: whenPresent('expected true or false') }).default(false),
    announceEverySeconds: z
      .number({ error: whenPresent('expected a whole number of seconds') })
      .int({ error: 'expected a whole number of seconds' })
      .min(MIN_ANNOUNCE_EVERY_SECONDS, { error: `must be at least ${MIN_ANNOUNCE_EVERY_SECONDS}` })
      .max(MAX_ANNOUNCE_EVERY_SECONDS, { error: `must be at most ${MAX_ANNOUNCE_EVERY_SECONDS} (one hour)` })
      .default(DEFAULT_ANNOUNCE_EVERY_SECONDS),
    whisper: audioPath('a whisper prompt').nullish(),
    ringWhileWaiting: z.boolean({ error: whenPresent('expected true or false') }).default(false),
    /** When the queue takes calls (./opening-hours.ts); absent: always. */
    openingHours: openingHoursSchema.nullish(),
  },
  { error: whenPresent('expected a mapping (one queue)') },
);

export const callbackListSchema = z.strictObject(
  {
    name: nonEmpty('a callback list name'),
    id: entityId().nullish(),
    queue: nonEmpty('a queue name'),
    members: memberList().default([]),
  },
  { error: whenPresent('expected a mapping (one callback list)') },
);

export const trunkSchema = z.strictObject(
  {
    name: nonEmpty('a trunk name'),
    host: nonEmpty('a host'),
    port: z
      .number({ error: whenPresent('expected a port number') })
      .int({ error: 'expected a port number' })
      .min(1, { error: 'expected a port number from 1 to 65535' })
      .max(65_535, { error: 'expected a port number from 1 to 65535' })
      .default(DEFAULT_TRUNK_PORT),
    transport: z
      .enum(['udp', 'tcp', 'tls'], { error: whenPresent('expected udp, tcp or tls') })
      .default(DEFAULT_TRUNK_TRANSPORT),
  },
  { error: whenPresent('expected a mapping (one trunk)') },
);

/** `media.rtpengine`: `off`, or HOST:PORT of an rtpengine ng control socket (DESIGN.md §9). */
const rtpengineAddress = z
  .string({ error: whenPresent("expected off or HOST:PORT of rtpengine's ng control socket") })
  .transform((text, ctx) => {
    if (text.trim().toLowerCase() === 'off') return 'off' as const;
    const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(text.trim());
    const port = match ? Number(match[3]) : Number.NaN;
    if (!match || !(port >= 1 && port <= 65_535)) {
      ctx.addIssue({
        code: 'custom',
        message: `expected off or HOST:PORT (e.g. 127.0.0.1:22222), got "${text}"`,
      });
      return z.NEVER;
    }
    return { host: match[1] ?? match[2]!, port };
  });

export const mediaSchema = z.strictObject(
  {
    rtpengine: rtpengineAddress,
    recordingDir: z
      .string({ error: whenPresent('expected a directory path') })
      .min(1, { error: 'expected a directory path' })
      .optional(),
  },
  {
    error: whenPresent(
      'expected a mapping such as { rtpengine: "127.0.0.1:22222", recordingDir: /var/spool/rtpengine }',
    ),
  },
);

export const recordingsSchema = z.strictObject(
  {
    retentionDays: z
      .number({ error: whenPresent('expected a whole number of days (0 keeps recordings forever)') })
      .int({ error: 'expected a whole number of days' })
      .min(0, { error: 'must be at least 0' })
      .max(36_500, { error: 'must be at most 36500' })
      .default(0),
  },
  { error: whenPresent('expected a mapping such as { retentionDays: 90 }') },
);

/** Tenant-wide audio: what a party hears while the other puts a direct call on hold. */
export const audioSchema = z.strictObject(
  {
    musicOnHold: audioPath('the music on hold').nullish(),
  },
  { error: whenPresent('expected a mapping such as { musicOnHold: audio/hold.wav }') },
);

export const postProcessingSchema = z.strictObject(
  {
    delaySeconds: z
      .number({ error: whenPresent('expected a number of seconds') })
      .min(0, { error: 'must be at least 0' })
      .max(3600, { error: 'must be at most 3600' })
      .default(0),
  },
  { error: whenPresent('expected a mapping such as { delaySeconds: 0 }') },
);

const wholeNumber = (min: number, max: number) =>
  z
    .number({ error: whenPresent('expected a whole number') })
    .int({ error: 'expected a whole number' })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });

export const sipAuthThrottleSchema = z.strictObject(
  {
    maxFailures: wholeNumber(1, 10_000).default(DEFAULT_SIP_AUTH_THROTTLE.maxFailures),
    windowSeconds: seconds(1).default(DEFAULT_SIP_AUTH_THROTTLE.windowSeconds),
    cooldownSeconds: seconds(1).default(DEFAULT_SIP_AUTH_THROTTLE.cooldownSeconds),
  },
  {
    error: whenPresent(
      'expected a mapping such as { maxFailures: 10, windowSeconds: 60, cooldownSeconds: 300 }',
    ),
  },
);

export const sipTcpSchema = z.strictObject(
  {
    maxConnections: wholeNumber(1, 1_000_000).default(DEFAULT_SIP_TCP.maxConnections),
    idleTimeoutSeconds: seconds(1).default(DEFAULT_SIP_TCP.idleTimeoutSeconds),
    firstMessageTimeoutSeconds: seconds(1).default(DEFAULT_SIP_TCP.firstMessageTimeoutSeconds),
    stallTimeoutSeconds: seconds(1).default(DEFAULT_SIP_TCP.stallTimeoutSeconds),
  },
  { error: whenPresent('expected a mapping such as { maxConnections: 2048, idleTimeoutSeconds: 900 }') },
);

export const sipSchema = z.strictObject(
  {
    authThrottle: sipAuthThrottleSchema.default({ ...DEFAULT_SIP_AUTH_THROTTLE }),
    tcp: sipTcpSchema.default({ ...DEFAULT_SIP_TCP }),
    largeRequestsOverTcp: z
      .boolean({ error: whenPresent('expected true or false') })
      .default(DEFAULT_SIP_LARGE_REQUESTS_OVER_TCP),
    trustedProxies: z
      .array(z.union([z.ipv4(), z.ipv6()], { error: 'expected an IP address such as 10.0.0.5' }), {
        error: whenPresent('expected a list of IP addresses, such as [10.0.0.5]'),
      })
      .default([]),
  },
  {
    error: whenPresent('expected a mapping with authThrottle, tcp, largeRequestsOverTcp and trustedProxies'),
  },
);

const listOf = <T extends z.ZodType>(item: T, what: string) =>
  z.array(item, { error: whenPresent(`expected a list of ${what}`) });

export const tenantFileSchema = z.strictObject(
  {
    domain: z
      .string({ error: whenPresent('expected a domain name (a string)') })
      .regex(DOMAIN_NAME, { error: `expected a domain name such as ${DEFAULT_DOMAIN}` })
      .default(DEFAULT_DOMAIN),
    /** Absent: the loader's `defaultPublicUrl` (the CLI derives it from --http-port). */
    publicUrl: z
      .url({ protocol: /^https?$/, error: whenPresent('expected an http:// or https:// URL') })
      .nullish(),
    postProcessing: postProcessingSchema.default({ delaySeconds: 0 }),
    sip: sipSchema.default(defaultSipSettings),
    media: mediaSchema.optional(),
    recordings: recordingsSchema.default({ retentionDays: 0 }),
    audio: audioSchema.optional(),
    users: listOf(userSchema, 'users').min(1, { error: 'at least one user is required' }),
    queues: listOf(queueSchema, 'queues').default([]),
    callbackLists: listOf(callbackListSchema, 'callback lists').default([]),
    trunks: listOf(trunkSchema, 'trunks').default([]),
    /** Call classification (src/classification/config.ts checks each entry). */
    classificationSchemas: classificationSchemasSchema.default([]),
    /** Signed webhooks (DESIGN.md §12; src/webhooks/config.ts checks each entry). */
    webhooks: webhooksSchema.default([]),
  },
  { error: whenPresent('expected a mapping with users, queues, callbackLists and trunks') },
);

export type TenantFile = z.output<typeof tenantFileSchema>;
export type UserEntry = z.output<typeof userSchema>;
export type QueueEntry = z.output<typeof queueSchema>;
export type CallbackListEntry = z.output<typeof callbackListSchema>;
export type TrunkEntry = z.output<typeof trunkSchema>;

/** The field names of each kind of object, for "did you mean" hints on unknown fields. */
export const FIELD_NAMES = {
  root: Object.keys(tenantFileSchema.shape),
  postProcessing: Object.keys(postProcessingSchema.shape),
  sip: Object.keys(sipSchema.shape),
  media: Object.keys(mediaSchema.shape),
  recordings: Object.keys(recordingsSchema.shape),
  audio: Object.keys(audioSchema.shape),
  sipAuthThrottle: Object.keys(sipAuthThrottleSchema.shape),
  sipTcp: Object.keys(sipTcpSchema.shape),
  user: Object.keys(userSchema.shape),
  queue: Object.keys(queueSchema.shape),
  callbackList: Object.keys(callbackListSchema.shape),
  trunk: Object.keys(trunkSchema.shape),
  webhook: WEBHOOK_FIELDS,
  openingHours: OPENING_HOURS_FIELDS,
  weekdays: WEEKDAYS,
} as const;
