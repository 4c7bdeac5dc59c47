import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asRecord, asRecords, basic, request, startTestApi, type TestApi } from '../api/test-fixtures.js';
import { sqliteDatabaseFactory } from '../records/store/test-stores.js';
import { endpointIdOf } from './config.js';
import { createWebhookOutbox, type WebhookOutbox } from './outbox.js';
import { webhooksPlugin } from './plugin.js';
import { openWebhookStore } from './store.js';
import { eventually, MemoryFeed, Receiver } from './test-support.js';

describe('GET /webhooks/deliveries and POST /webhooks/deliveries/{id}/redeliver', () => {
  const factory = sqliteDatabaseFactory();
  const feed = new MemoryFeed();
  const hooks = new Receiver();
  let api: TestApi;
  let outbox: WebhookOutbox;
  let endpointId: string;

  beforeAll(async () => {
    await hooks.up();
    endpointId = endpointIdOf(hooks.url);
    outbox = createWebhookOutbox({
      store: await openWebhookStore(await factory.open('api')),
      feed,
      endpoints: [{ endpointId, endpoint: hooks.url, secret: 'whsec_AAAA', events: ['UserStatus'] }],
      options: { initialBackoffMs: 40, maxBackoffMs: 100 },
    });
    await outbox.start();
    api = await startTestApi({
      extensions: [
        async (app) => {
          await app.register(webhooksPlugin, { outbox });
        },
      ],
    });
    feed.commit({ name: 'UserStatus' });
    feed.commit({ name: 'UserStatus' });
    await hooks.until(() => hooks.received.length === 2);
    await eventually(async () => (await outbox.store.list({ status: 'delivered', limit: 10 })).length === 2);
  });
  afterAll(async () => {
    await api.close();
    await outbox.stop();
    await hooks.down();
    await factory.cleanup();
  });

  const post = async (path: string, username: string) =>
    request(api.baseUrl, path, {
      method: 'POST',
      headers: { authorization: basic(username, await api.keyOf(username)) },
    });

  it('lists deliveries for admins, newest first, with filters', async () => {
    const response = await api.get('/webhooks/deliveries', 'admin@example.com');
    expect(response.status).toBe(200);
    const deliveries = asRecords(response.body);
    expect(deliveries.map((d) => d.EventId)).toEqual([feed.events[1]!.eventId, feed.events[0]!.eventId]);
    expect(deliveries[0]).toMatchObject({
      Id: `${endpointId}:${feed.events[1]!.eventId}`,
      EndpointId: endpointId,
      Endpoint: hooks.url,
      EventName: 'UserStatus',
      Status: 'Delivered',
      Attempts: 1,
      LastError: null,
    });
    const filtered = await api.get(
      `/webhooks/deliveries?Status=delivered&Endpoint=${encodeURIComponent(hooks.url)}&Limit=1`,
      'admin@example.com',
    );
    expect(asRecords(filtered.body).length).toBe(1);
    const none = await api.get('/webhooks/deliveries?Status=Dead', 'admin@example.com');
    expect(asRecords(none.body)).toEqual([]);
  });

  it('refuses non-admins (403) and names a bad parameter (400)', async () => {
    expect((await api.get('/webhooks/deliveries', 'a@example.com')).status).toBe(403);
    expect((await post(`/webhooks/deliveries/x/redeliver`, 'everything@example.com')).status).toBe(403);
    for (const [query, parameter] of [
      ['Status=Lost', 'Status'],
      ['Limit=0', 'Limit'],
      ['Limit=abc', 'Limit'],
      ['Endpoint=http://127.0.0.1:1/other', 'Endpoint'],
    ] as const) {
      const response = await api.get(`/webhooks/deliveries?${query}`, 'admin@example.com');
      expect(response.status, query).toBe(400);
      expect(asRecord(response.body).Parameter).toBe(parameter);
    }
    expect((await post('/webhooks/deliveries/nope/redeliver', 'admin@example.com')).status).toBe(404);
  });

  it('redelivers: the receiver gets the same webhook-id again', async () => {
    const id = `${endpointId}:${feed.events[0]!.eventId}`;
    const response = await post(
      `/webhooks/deliveries/${encodeURIComponent(id)}/redeliver`,
      'admin@example.com',
    );
    expect(response.status).toBe(200);
    expect(asRecord(response.body)).toMatchObject({ Id: id, Status: 'Pending', Attempts: 0 });
    await hooks.until(() => hooks.received.length === 3);
    expect(hooks.received[2]!.headers['webhook-id']).toBe(feed.events[0]!.eventId);
  });

  it('is in the OpenAPI document', async () => {
    const response = await request(api.baseUrl, '/openapi.json');
    const paths = asRecord(asRecord(response.body).paths);
    expect(Object.keys(paths)).toEqual(
      expect.arrayContaining(['/webhooks/deliveries', '/webhooks/deliveries/{DeliveryId}/redeliver']),
    );
  });
});
