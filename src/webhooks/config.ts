/**
 * The tenant's `webhooks:` (DESIGN.md §12): where events are POSTed, with which secret, which
 * events. Shape checked here (the loader turns issue paths into file lines); resolved into
 * `WebhookEndpoint`s with stable ids derived from the URL, so restarts and reordering keep the
 * outbox rows attached to their endpoint.
 *
 * The secret: a Standard Webhooks `whsec_<base64>` secret, whose base64-decoded tail is the HMAC
 * key; any other string is accepted too, and then its UTF-8 bytes are the key (./signature.ts).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

/** An EnreachVoice-style event name (`UserCallInComing`), or `*` for every event. */
const EVENT_NAME = /^(\*|[A-Z][A-Za-z0-9]*)$/;
const WHSEC = /^whsec_/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export const webhookEntrySchema = z.strictObject(
  {
    endpoint: z.url({
      protocol: /^https?$/,
      error: (issue) =>
        issue.input === undefined ? undefined : 'expected an http:// or https:// URL of the receiver',
    }),
    secret: z
      .string({
        error: (issue) => (issue.input === undefined ? undefined : 'expected a secret (a string)'),
      })
      .min(1, { error: 'the secret must not be empty' })
      .superRefine((secret, ctx) => {
        if (!WHSEC.test(secret)) return;
        const tail = secret.slice('whsec_'.length);
        if (tail.length === 0 || !BASE64.test(tail) || Buffer.from(tail, 'base64').length < 1)
          ctx.addIssue({
            code: 'custom',
            message:
              'a whsec_ secret must be followed by base64 (e.g. whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw)',
          });
      }),
    events: z
      .array(
        z
          .string({
            error: (issue) => (issue.input === undefined ? undefined : 'expected an event name (a string)'),
          })
          .regex(EVENT_NAME, { error: 'expected an event name such as UserCallInComing, or *' }),
        {
          error: (issue) =>
            issue.input === undefined
              ? undefined
              : 'expected a list of event names such as [UserCallInComing]',
        },
      )
      .min(1, { error: 'at least one event name is required' }),
  },
  {
    error: (issue) =>
      issue.input === undefined ? undefined : 'expected a mapping { endpoint, secret, events }',
  },
);

export const webhooksSchema = z
  .array(webhookEntrySchema, {
    error: (issue) =>
      issue.input === undefined ? undefined : 'expected a list of webhooks ({ endpoint, secret, events })',
  })
  .superRefine((entries, ctx) => {
    const seen = new Map<string, number>();
    entries.forEach((entry, index) => {
      const key = normalizeEndpoint(entry.endpoint);
      const first = seen.get(key);
      if (first !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: [index, 'endpoint'],
          message: `duplicate webhook endpoint (also webhooks[${first}]): list its events once`,
        });
      else seen.set(key, index);
    });
  });

export type WebhookEntry = z.output<typeof webhookEntrySchema>;
export const WEBHOOK_FIELDS = Object.keys(webhookEntrySchema.shape);

/** One configured receiver. */
export interface WebhookEndpoint {
  /** Stable: derived from the URL. */
  endpointId: string;
  /** The receiver's URL: the only addresses the outbox ever calls. */
  endpoint: string;
  secret: string;
  /** Event names, or `*` for all. */
  events: string[];
}

function normalizeEndpoint(endpoint: string): string {
  return new URL(endpoint).href;
}

export function endpointIdOf(endpoint: string): string {
  return createHash('sha256').update(normalizeEndpoint(endpoint)).digest('hex').slice(0, 16);
}

export function resolveWebhooks(entries: readonly WebhookEntry[]): WebhookEndpoint[] {
  return entries.map((entry) => ({
    endpointId: endpointIdOf(entry.endpoint),
    endpoint: normalizeEndpoint(entry.endpoint),
    secret: entry.secret,
    events: [...entry.events],
  }));
}

export function subscribes(endpoint: WebhookEndpoint, eventName: string): boolean {
  return endpoint.events.includes('*') || endpoint.events.includes(eventName);
}
