/**
 * Webhooks (DESIGN.md §12): the outbox fed by the realtime feed, and its admin REST extension.
 * See ./README.md for how the platform wires them.
 */

import type { RealtimeFeed } from '../realtime/types.js';
import type { SqlDatabase } from '../records/store/database.js';
import type { WebhookEndpoint } from './config.js';
import { createWebhookOutbox, type WebhookOptions, type WebhookOutbox } from './outbox.js';
import { openWebhookStore } from './store.js';

export type { WebhookEndpoint } from './config.js';
export { resolveWebhooks, webhooksSchema } from './config.js';
export type { WebhookOptions, WebhookOutbox } from './outbox.js';
export { createWebhookOutbox, DEFAULT_WEBHOOK_OPTIONS, webhookBody } from './outbox.js';
export { webhooksPlugin } from './plugin.js';
export { sign, verify } from './signature.js';
export { openWebhookStore } from './store.js';

/** Migrate the outbox's tables on the platform database and build the (not yet started) outbox. */
export async function openWebhookOutbox(deps: {
  database: SqlDatabase;
  feed: RealtimeFeed;
  endpoints: readonly WebhookEndpoint[];
  options?: WebhookOptions;
  onError?: (error: unknown) => void;
  /** A cluster node's id: the node delivers its own events, under its own checkpoint. */
  source?: string;
}): Promise<WebhookOutbox> {
  return createWebhookOutbox({
    store: await openWebhookStore(deps.database, deps.source === undefined ? {} : { source: deps.source }),
    ...(deps.source === undefined ? {} : { source: deps.source }),
    feed: deps.feed,
    endpoints: deps.endpoints,
    ...(deps.options ? { options: deps.options } : {}),
    ...(deps.onError ? { onError: deps.onError } : {}),
  });
}
