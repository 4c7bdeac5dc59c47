/**
 * The outbox against real HTTP receivers on 127.0.0.1 and real databases (SQLite, PostgreSQL):
 * signatures, a receiver that is down and comes back, a restart mid-delivery, dead letters.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../records/store/database.js';
import {
  type DatabaseFactory,
  postgresDatabaseFactory,
  sqliteDatabaseFactory,
} from '../records/store/test-stores.js';
import { endpointIdOf, type WebhookEndpoint } from './config.js';
import { createWebhookOutbox, type WebhookOptions, type WebhookOutbox } from './outbox.js';
import { verify } from './signature.js';
import { openWebhookStore } from './store.js';
import { eventually, MemoryFeed, type Received, Receiver } from './test-support.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const FAST: WebhookOptions = { from: 'beginning', initialBackoffMs: 40, maxBackoffMs: 250, timeoutMs: 2_000 };

function endpoint(url: string, events: string[], secret = SECRET): WebhookEndpoint {
  return { endpointId: endpointIdOf(url), endpoint: new URL(url).href, secret, events };
}

function assertSigned(received: Received, secret = SECRET): void {
  const ok = verify(
    secret,
    {
      id: String(received.headers['webhook-id']),
      timestamp: String(received.headers['webhook-timestamp']),
      signature: String(received.headers['webhook-signature']),
    },
    received.body,
  );
  expect(ok, `signature of ${received.headers['webhook-id']}`).toBe(true);
}

const ids = (receiver: Receiver) => receiver.received.map((r) => String(r.headers['webhook-id']));

const factories: Array<[string, () => DatabaseFactory]> = [
  ['SQLite', sqliteDatabaseFactory],
  ['PostgreSQL', postgresDatabaseFactory],
];

describe.each(factories)('webhook outbox on %s', (_name, makeFactory) => {
  const factory = makeFactory();
  const outboxes: WebhookOutbox[] = [];
  const receivers: Receiver[] = [];
  let databaseCount = 0;

  afterEach(async () => {
    for (const outbox of outboxes.splice(0)) await outbox.stop();
    for (const receiver of receivers.splice(0)) await receiver.down();
  });
  afterAll(() => factory.cleanup());

  async function receiver(): Promise<Receiver> {
    const one = new Receiver();
    await one.up();
    receivers.push(one);
    return one;
  }

  async function outboxOn(
    database: SqlDatabase,
    feed: MemoryFeed,
    endpoints: WebhookEndpoint[],
    options: WebhookOptions = FAST,
  ): Promise<WebhookOutbox> {
    const outbox = createWebhookOutbox({ store: await openWebhookStore(database), feed, endpoints, options });
    outboxes.push(outbox);
    await outbox.start();
    return outbox;
  }

  it('delivers every subscribed event, signed, with the EnreachVoice headers and body', async () => {
    const database = await factory.open(`db${++databaseCount}`);
    const feed = new MemoryFeed();
    // Committed before the outbox starts: caught up from the (empty) checkpoint.
    feed.commit({ name: 'UserCallInComing', data: { callerNumber: '+358401000001' } });
    const calls = await receiver();
    const status = await receiver();
    const outbox = await outboxOn(database, feed, [
      endpoint(calls.url, ['UserCallInComing', 'QueueCallInArrived']),
      endpoint(status.url, ['UserStatus'], 'a plain secret'),
    ]);
    feed.commit({ name: 'UserStatus' }, { name: 'QueueCallInArrived', entityId: 'queue-1' });
    feed.commit({ name: 'UserAvailability' });
    await calls.until(() => calls.received.length === 2);
    await status.until(() => status.received.length === 1);

    expect(ids(calls)).toEqual([feed.events[0]!.eventId, feed.events[2]!.eventId]);
    for (const received of calls.received) assertSigned(received);
    assertSigned(status.received[0]!, 'a plain secret');
    const first = calls.received[0]!;
    expect(first.headers['x-benemen-event']).toBe('UserCallInComing');
    expect(first.headers['x-benemen-token']).toBe(SECRET);
    expect(first.headers['content-type']).toBe('application/json');
    expect(JSON.parse(first.body)).toEqual({
      Id: feed.events[0]!.eventId,
      Timestamp: new Date(feed.events[0]!.timestampMs).toISOString(),
      EventType: 10,
      EventName: 'UserCallInComing',
      EntityType: 'User',
      EntityId: 'user-a',
      CallId: feed.events[0]!.data.callId,
      CallLegId: feed.events[0]!.data.callLegId,
      CallerNumber: '+358401000001',
    });
    // Only subscribed events become rows; the checkpoint is the last seq seen.
    expect((await outbox.store.list({ limit: 100 })).length).toBe(3);
    await eventually(async () => (await outbox.store.checkpoint()) === feed.lastSeq());
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(calls.received.length).toBe(2);
  });

  it("starts at the feed's position the first time with from: 'now', then from the checkpoint", async () => {
    const name = `db${++databaseCount}`;
    const feed = new MemoryFeed();
    feed.commit({ name: 'UserStatus' }); // history before webhooks were configured: not sent
    const hooks = await receiver();
    const first = await outboxOn(await factory.open(name), feed, [endpoint(hooks.url, ['*'])], {
      ...FAST,
      from: 'now',
    });
    const [live] = feed.commit({ name: 'UserStatus' });
    await hooks.until(() => hooks.received.length === 1);
    // Stopped only once the 2xx is recorded: stopping earlier would (rightly) send it again.
    await eventually(async () => (await first.store.list({ status: 'delivered', limit: 1 })).length === 1);
    await first.stop();
    const [missed] = feed.commit({ name: 'UserStatus' }); // while stopped: sent after the restart
    await outboxOn(await factory.open(name), feed, [endpoint(hooks.url, ['*'])], { ...FAST, from: 'now' });
    await hooks.until(() => hooks.received.length === 2);
    expect(ids(hooks)).toEqual([live!.eventId, missed!.eventId]);
  });

  it('a receiver down (refused, then 503) gets everything afterwards, in order, once', async () => {
    const database = await factory.open(`db${++databaseCount}`);
    const feed = new MemoryFeed();
    const hooks = await receiver();
    await outboxOn(database, feed, [endpoint(hooks.url, ['*'])]);
    await hooks.down(); // connection refused
    for (let i = 0; i < 10; i++) feed.commit({ name: 'UserCallInComing' }, { name: 'UserStatus' });
    await new Promise((resolve) => setTimeout(resolve, 800));
    await hooks.up(); // back, but answering 503
    hooks.mode = 'error';
    await hooks.nextRequest();
    await new Promise((resolve) => setTimeout(resolve, 400));
    for (let i = 0; i < 5; i++) feed.commit({ name: 'UserAvailability' });
    hooks.mode = 'ok';
    await hooks.until(() => hooks.received.length >= 25, 15_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(ids(hooks)).toEqual(feed.events.map((event) => event.eventId));
    expect(new Set(ids(hooks)).size).toBe(25);
    for (const received of hooks.received) assertSigned(received);
  });

  it('redelivers after a restart what was in flight, and catches up what was committed meanwhile', async () => {
    const name = `db${++databaseCount}`;
    const feed = new MemoryFeed();
    const hooks = await receiver();
    hooks.mode = 'hang';
    const url = hooks.url;
    const first = await outboxOn(await factory.open(name), feed, [endpoint(url, ['UserCallInComing'])]);
    const arrived = hooks.nextRequest();
    const [event] = feed.commit({ name: 'UserCallInComing' });
    await arrived; // the attempt is in flight: the process "dies"
    await first.stop();
    await hooks.down();
    feed.commit({ name: 'UserCallInComing' }); // committed while the platform is down
    hooks.mode = 'ok';
    await hooks.up();
    const second = await outboxOn(await factory.open(name), feed, [endpoint(url, ['UserCallInComing'])]);
    await hooks.until(() => hooks.received.length === 2);
    expect(ids(hooks)).toEqual([event!.eventId, feed.events[1]!.eventId]);
    await eventually(async () => (await second.store.list({ status: 'delivered', limit: 10 })).length === 2);
    expect((await second.store.list({ limit: 10 })).length).toBe(2);
  });

  it('gives up after deadAfterMs (dead), moves on, and redelivers on request', async () => {
    const database = await factory.open(`db${++databaseCount}`);
    const feed = new MemoryFeed();
    const hooks = await receiver();
    hooks.mode = 'redirect'; // a redirect is not followed: a failed attempt
    const outbox = await outboxOn(database, feed, [endpoint(hooks.url, ['*'])], {
      ...FAST,
      deadAfterMs: 300,
    });
    const [doomed] = feed.commit({ name: 'UserStatus' });
    const deliveryId = `${endpointIdOf(hooks.url)}:${doomed!.eventId}`;
    const deadline = Date.now() + 5_000;
    while ((await outbox.store.get(deliveryId))?.status !== 'dead') {
      if (Date.now() > deadline) throw new Error('not dead in time');
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    const dead = (await outbox.store.get(deliveryId))!;
    expect(dead.attempts).toBeGreaterThan(1);
    expect(dead.lastError).toBe('HTTP 307');
    hooks.mode = 'ok';
    const [next] = feed.commit({ name: 'UserStatus' });
    await hooks.until(() => hooks.received.length === 1);
    expect(ids(hooks)).toEqual([next!.eventId]);
    expect((await outbox.store.list({ status: 'dead', limit: 10 })).map((d) => d.deliveryId)).toEqual([
      deliveryId,
    ]);
    await outbox.redeliver(deliveryId);
    await hooks.until(() => hooks.received.length === 2);
    expect(ids(hooks)).toEqual([next!.eventId, doomed!.eventId]);
    await eventually(async () => (await outbox.store.get(deliveryId))!.status === 'delivered');
    // Retention: delivered and dead rows go once old enough, pending ones never.
    const [waiting] = feed.commit({ name: 'UserStatus' });
    await hooks.down();
    await eventually(async () => (await outbox.store.list({ limit: 10 })).length === 3);
    expect(await outbox.store.prune(Date.now() - 60_000)).toBe(0);
    expect(await outbox.store.prune(Date.now() + 60_000)).toBe(2);
    expect((await outbox.store.list({ limit: 10 })).map((d) => d.eventId)).toEqual([waiting!.eventId]);
  });
});
