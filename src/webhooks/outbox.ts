/**
 * The webhook outbox (DESIGN.md §12): fed from the realtime feed with a durable checkpoint, one
 * row per (endpoint, subscribed event), delivered per endpoint in journal order — an endpoint's
 * next event waits until the previous one is delivered or dead — at least once: a row stays
 * `pending` until a 2xx answer is recorded, so an attempt cut short by a crash is made again after
 * the restart (with the same `webhook-id`).
 *
 * Retries: exponential backoff with full jitter (`initialBackoffMs · factor^(attempt-1)`, capped at
 * `maxBackoffMs`, then a random part of it, never below a tenth); an attempt times out after
 * `timeoutMs`; a delivery still failing `deadAfterMs` after its first attempt is dead (the endpoint
 * moves on; an admin may redeliver it).
 *
 * SSRF: only configured endpoints are called — a row names its endpoint by id, and the URL is the
 * configuration's; redirects are not followed (a 3xx is a failed attempt).
 */
import type { RealtimeEvent, RealtimeFeed } from '../realtime/types.js';
import { subscribes, type WebhookEndpoint } from './config.js';
import { sign } from './signature.js';
import type { Delivery, NewDelivery, WebhookStore } from './store.js';

/** How long `stop()` waits for the work in flight (aborted) to settle. */
const STOP_WAIT_MS = 5000;

export interface WebhookOptions {
  /** One attempt at most this long (default 10 s). */
  timeoutMs?: number;
  /** Default 5 s. */
  initialBackoffMs?: number;
  /** Default 1 h. */
  maxBackoffMs?: number;
  /** Default 2. */
  backoffFactor?: number;
  /** Dead after this long failing (default 3 days). */
  deadAfterMs?: number;
  /** Delivered and dead rows are deleted this long after (default 7 days; checked hourly). */
  keepMs?: number;
  /** Events read from the feed per batch (default 500). */
  batchSize?: number;
  /**
   * Where the very first start (no checkpoint yet) begins: `now` (default: the feed's lastSeq(),
   * so that turning webhooks on does not replay the journal's history) or `beginning`.
   */
  from?: 'now' | 'beginning';
}

export const DEFAULT_WEBHOOK_OPTIONS: Required<WebhookOptions> = {
  timeoutMs: 10_000,
  initialBackoffMs: 5_000,
  maxBackoffMs: 3_600_000,
  backoffFactor: 2,
  deadAfterMs: 3 * 86_400_000,
  batchSize: 500,
  keepMs: 7 * 86_400_000,
  from: 'now',
};

export interface WebhookOutboxDeps {
  store: WebhookStore;
  feed: RealtimeFeed;
  endpoints: readonly WebhookEndpoint[];
  options?: WebhookOptions;
  now?: () => number;
  random?: () => number;
  /** Problems worth a log line (a failed attempt is not one: it is in the row). */
  onError?: (error: unknown) => void;
  /**
   * A cluster node's id: its events' ids become `<source>~<seq>-<n>` in the outbox (the journal
   * sequence is per node), so the nodes' deliveries never collide and each node delivers its own.
   * The store must be opened with the same source.
   */
  source?: string;
}

export interface WebhookOutbox {
  /** Catch up from the checkpoint, follow the feed, deliver. */
  start(): Promise<void>;
  /** Stop following and delivering; attempts in flight are abandoned (they stay pending). */
  stop(): Promise<void>;
  /** Admin: deliver again (back to pending, due now). */
  redeliver(deliveryId: string): Promise<Delivery | undefined>;
  readonly store: WebhookStore;
  readonly endpoints: readonly WebhookEndpoint[];
}

/** The POSTed body: EnreachVoice-style PascalCase fields (`Id`, `EventType`, `CallId`, …). */
export function webhookBody(event: RealtimeEvent): Record<string, unknown> {
  const body: Record<string, unknown> = {
    Id: event.eventId,
    Timestamp: new Date(event.timestampMs).toISOString(),
    EventType: event.eventType,
    EventName: event.eventName,
    EntityType: event.entityType,
    EntityId: event.entityId,
    CallId: event.data.callId ?? null,
  };
  for (const [key, value] of Object.entries(event.data)) {
    const pascal = key.length > 0 ? key[0]!.toUpperCase() + key.slice(1) : key;
    if (!(pascal in body)) body[pascal] = value;
  }
  return body;
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError' || error.name === 'AbortError') return 'timeout';
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    if (cause?.code) return `${error.message}: ${cause.code}`;
    return error.message;
  }
  return String(error);
}

export function createWebhookOutbox(deps: WebhookOutboxDeps): WebhookOutbox {
  const options = { ...DEFAULT_WEBHOOK_OPTIONS, ...deps.options };
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const onError = deps.onError ?? (() => {});
  const { store } = deps;
  const endpointById = new Map(deps.endpoints.map((endpoint) => [endpoint.endpointId, endpoint]));

  let running = false;
  let pruneTimer: NodeJS.Timeout | undefined;
  const prune = () => {
    store.prune(now() - options.keepMs).catch(onError);
  };
  /** The feed's position when start() was called (the first checkpoint with `from: 'now'`). */
  let startSeq = 0;
  let unsubscribe: (() => void) | undefined;
  /** Aborts every attempt in flight on stop. */
  let stopping = new AbortController();

  // --- Feeding: catch up from the checkpoint whenever the feed says something happened.
  let ingesting: Promise<void> | undefined;
  let ingestAgain = false;

  async function ingestOnce(): Promise<void> {
    for (;;) {
      if (!running) return;
      let checkpoint = await store.checkpoint();
      if (checkpoint === undefined) {
        checkpoint = options.from === 'now' ? startSeq : 0;
        await store.enqueue([], checkpoint);
      }
      let events = await deps.feed.since(checkpoint, options.batchSize);
      if (events.length === 0) return;
      let upTo = events[events.length - 1]!.seq;
      // A full batch may end in the middle of one fact's events: leave that fact for the next.
      if (events.length >= options.batchSize && events[0]!.seq !== upTo) {
        events = events.filter((event) => event.seq < upTo);
        upTo = events[events.length - 1]!.seq;
      }
      const createdMs = now();
      const rows: NewDelivery[] = [];
      for (const fed of events) {
        const index = Number(fed.eventId.slice(fed.eventId.lastIndexOf('-') + 1));
        const eventId = deps.source === undefined ? fed.eventId : `${deps.source}~${fed.eventId}`;
        const event = eventId === fed.eventId ? fed : { ...fed, eventId, data: { ...fed.data, eventId } };
        for (const endpoint of deps.endpoints) {
          if (!subscribes(endpoint, event.eventName)) continue;
          rows.push({
            deliveryId: `${endpoint.endpointId}:${event.eventId}`,
            endpointId: endpoint.endpointId,
            endpoint: endpoint.endpoint,
            eventId: event.eventId,
            seq: event.seq,
            eventIndex: Number.isFinite(index) ? index : 0,
            eventName: event.eventName,
            body: JSON.stringify(webhookBody(event)),
            createdMs,
            nextAttemptMs: createdMs,
          });
        }
      }
      await store.enqueue(rows, upTo);
      const touched = new Set(rows.map((row) => row.endpointId));
      for (const endpointId of touched) wake(endpointId);
    }
  }

  function ingest(): void {
    if (ingesting) {
      ingestAgain = true;
      return;
    }
    ingesting = (async () => {
      do {
        ingestAgain = false;
        try {
          await ingestOnce();
        } catch (error) {
          onError(error);
        }
      } while (ingestAgain && running);
    })().finally(() => {
      ingesting = undefined;
    });
  }

  // --- Delivering: one worker per endpoint, one attempt at a time.
  const workers = new Map<
    string,
    { busy: Promise<void> | undefined; again: boolean; timer: NodeJS.Timeout | undefined }
  >();

  function wake(endpointId: string): void {
    const worker = workers.get(endpointId);
    if (!worker || !running) return;
    if (worker.timer) {
      clearTimeout(worker.timer);
      worker.timer = undefined;
    }
    if (worker.busy) {
      worker.again = true;
      return;
    }
    worker.busy = (async () => {
      do {
        worker.again = false;
        try {
          await work(endpointId, worker);
        } catch (error) {
          if (running) {
            onError(error);
            // A store failure: try again a little later rather than spin.
            worker.timer = setTimeout(() => wake(endpointId), options.initialBackoffMs);
          }
        }
      } while (worker.again && running);
    })().finally(() => {
      worker.busy = undefined;
    });
  }

  function backoff(attempts: number): number {
    const ceiling = Math.min(
      options.maxBackoffMs,
      options.initialBackoffMs * options.backoffFactor ** Math.max(0, attempts - 1),
    );
    return Math.max(ceiling / 10, random() * ceiling);
  }

  async function work(endpointId: string, worker: { timer: NodeJS.Timeout | undefined }): Promise<void> {
    const endpoint = endpointById.get(endpointId)!;
    while (running) {
      const head = await store.head(endpointId);
      if (!head) return;
      const wait = head.nextAttemptMs - now();
      if (wait > 0) {
        worker.timer = setTimeout(() => wake(endpointId), Math.min(wait, 2 ** 31 - 1));
        return;
      }
      const outcome = await attempt(endpoint, head);
      if (!running) return;
      const nowMs = now();
      const firstAttemptMs = head.firstAttemptMs ?? nowMs;
      const attempts = head.attempts + 1;
      if (outcome === 'ok') {
        await store.markDelivered(head.deliveryId, { nowMs, firstAttemptMs, attempts });
      } else {
        const dead = nowMs - firstAttemptMs >= options.deadAfterMs;
        await store.markFailed(head.deliveryId, {
          nowMs,
          firstAttemptMs,
          attempts,
          error: outcome.error,
          dead,
          nextAttemptMs: dead ? nowMs : nowMs + backoff(attempts),
        });
      }
    }
  }

  async function attempt(endpoint: WebhookEndpoint, delivery: Delivery): Promise<'ok' | { error: string }> {
    const timestamp = Math.floor(now() / 1000);
    const signal = AbortSignal.any([stopping.signal, AbortSignal.timeout(options.timeoutMs)]);
    try {
      const response = await fetch(endpoint.endpoint, {
        method: 'POST',
        redirect: 'manual',
        signal,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Switchboard-Webhooks/1',
          'x-benemen-event': delivery.eventName,
          'x-benemen-token': endpoint.secret,
          'webhook-id': delivery.eventId,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': sign(endpoint.secret, delivery.eventId, timestamp, delivery.body),
        },
        body: delivery.body,
      });
      // The answer's body is not needed: drop it so that the connection can be reused.
      await response.body?.cancel().catch(() => {});
      if (response.status >= 200 && response.status < 300) return 'ok';
      return { error: `HTTP ${response.status}` };
    } catch (error) {
      return { error: describeError(error) };
    }
  }

  return {
    store,
    endpoints: deps.endpoints,
    async start() {
      // Without endpoints there is nothing to deliver: the outbox does not follow the feed at all.
      if (running || deps.endpoints.length === 0) return;
      running = true;
      stopping = new AbortController();
      startSeq = deps.feed.lastSeq();
      for (const endpoint of deps.endpoints)
        workers.set(endpoint.endpointId, { busy: undefined, again: false, timer: undefined });
      unsubscribe = deps.feed.subscribe(() => ingest());
      ingest();
      for (const endpoint of deps.endpoints) wake(endpoint.endpointId);
      prune();
      pruneTimer = setInterval(prune, 3_600_000);
      pruneTimer.unref();
    },
    async stop() {
      if (!running) return;
      running = false;
      unsubscribe?.();
      unsubscribe = undefined;
      clearInterval(pruneTimer);
      stopping.abort();
      for (const worker of workers.values()) if (worker.timer) clearTimeout(worker.timer);
      // What is in flight was aborted above; a store call that hangs must not hold a shutdown up.
      const settled = Promise.allSettled([ingesting, ...[...workers.values()].map((worker) => worker.busy)]);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        settled,
        new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MS))),
      ]);
      clearTimeout(timer);
      workers.clear();
    },
    async redeliver(deliveryId) {
      const delivery = await store.redeliver(deliveryId, now());
      if (delivery) wake(delivery.endpointId);
      return delivery;
    },
  };
}
