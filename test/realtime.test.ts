/**
 * The RTE hub end to end with the official `@microsoft/signalr` client against the platform's own
 * `/rte` and token endpoint (`GET /token/{userId}/rte/`): a real platform plays the seed's scenario
 * (A calls Support, B declines, C answers).
 */
import { join } from 'node:path';
import { HttpTransportType, type HubConnection, HubConnectionBuilder, LogLevel } from '@microsoft/signalr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTenantYaml } from '../src/config/load.js';
import { createRealtimeFeed } from '../src/realtime/feed.js';
import { createRteTokens } from '../src/realtime/token.js';
import { seedMembers, startTestPlatform, type TestPlatform, waitFor } from './support/platform.js';
import { seedTenantYaml } from './support/tenants.js';

const TENANT = parseTenantYaml(
  seedTenantYaml({ viewers: ['sees-support', 'sees-nothing', 'sees-agent-b'] }),
  'rte.yaml',
);
const userId = (email: string) => TENANT.users.find((u) => u.username === email)!.userId;
const queueId = TENANT.queues[0]!.queueId;

type Data = Record<string, unknown>;

const QUEUE_EVENTS = [
  'QueueCallInArrived',
  'QueueCallInUserAllocated',
  'QueueCallInUserCancelled',
  'QueueCallInUserConnected',
  'QueueCallInDisconnected',
];

describe('RTE hub with the official SignalR client', () => {
  let env: TestPlatform;
  let base: string;
  let keyFile: string;
  const connections: HubConnection[] = [];

  async function basicAuth(email: string, password: string): Promise<string> {
    const response = await fetch(`${base}/authuser/${encodeURIComponent(email)}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ UserName: email, Password: password }),
    });
    const body = (await response.json()) as { SecretKey: string };
    return `Basic ${Buffer.from(`${email}:${body.SecretKey}`).toString('base64')}`;
  }

  async function tokenFor(email: string, password: string, forUser = userId(email)) {
    const response = await fetch(`${base}/token/${forUser}/rte/`, {
      headers: { Authorization: await basicAuth(email, password) },
    });
    return {
      status: response.status,
      body: (await response.json()) as { Token: string; WSSEndpoint: string },
    };
  }

  async function connect(token: string, query = ''): Promise<{ connection: HubConnection; events: Data[] }> {
    const events: Data[] = [];
    const connection = new HubConnectionBuilder()
      .withUrl(`${base}/rte${query}`, {
        accessTokenFactory: () => token,
        transport: HttpTransportType.WebSockets,
      })
      .configureLogging(LogLevel.None)
      .build();
    connection.on('MessageReceived', (message: { data: Data }) => events.push(message.data));
    await connection.start();
    connections.push(connection);
    return { connection, events };
  }

  beforeAll(async () => {
    env = await startTestPlatform(TENANT, 'sqlite');
    base = env.platform.httpUrl.replace(/\/$/, '');
    // The platform signs RTE tokens with the key it keeps in its data directory.
    keyFile = join(env.dataDir, 'rte-token.key');
  }, 30_000);

  afterAll(async () => {
    for (const connection of connections) await connection.stop().catch(() => {});
    await env?.close();
  });

  it('the token endpoint gives a user a token for themselves, an admin for anyone, others 403, bad credentials 401', async () => {
    const own = await tokenFor('sees-nothing@example.com', 'pw');
    expect(own.status).toBe(200);
    expect(own.body.WSSEndpoint).toBe(`${base.replace('http://', '')}/rte`);
    expect(own.body.Token.split('.')).toHaveLength(3);
    expect((await tokenFor('admin@example.com', 'secret-admin', userId('b@example.com'))).status).toBe(200);
    expect((await tokenFor('sees-nothing@example.com', 'pw', userId('b@example.com'))).status).toBe(403);
    const anonymous = await fetch(`${base}/token/${userId('b@example.com')}/rte/`);
    expect(anonymous.status).toBe(401);
  });

  it('refuses a garbage, a foreign-key and an expired token (401 on negotiate and on the WebSocket)', async () => {
    const negotiate = (token: string) =>
      fetch(`${base}/rte/negotiate?negotiateVersion=1`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}` },
      });
    expect((await negotiate('garbage')).status).toBe(401);
    const foreign = await createRteTokens({ key: new Uint8Array(32).fill(7) }).issue(userId('a@example.com'));
    expect((await negotiate(foreign.token)).status).toBe(401);
    const expired = await createRteTokens({
      key: { file: keyFile },
      now: () => Date.now() - 2 * 3600_000,
    }).issue(userId('a@example.com'), 60);
    expect((await negotiate(expired.token)).status).toBe(401);
    const valid = await createRteTokens({ key: { file: keyFile } }).issue(userId('a@example.com'));
    expect((await negotiate(valid.token)).status).toBe(200);
    await expect(connect('garbage')).rejects.toThrow();
    // Skipping negotiate: the WebSocket itself checks the token.
    const direct = new HubConnectionBuilder()
      .withUrl(`${base}/rte`, {
        accessTokenFactory: () => expired.token,
        transport: HttpTransportType.WebSockets,
        skipNegotiation: true,
      })
      .configureLogging(LogLevel.None)
      .build();
    await expect(direct.start()).rejects.toThrow();
  });

  it('streams the seed scenario in order with the right callId; refuses a queue to a user without permission; resumes from a last event id', async () => {
    const admin = await tokenFor('admin@example.com', 'secret-admin');
    const watcher = await connect(admin.body.Token);
    const subs = [
      ...QUEUE_EVENTS.map((EventName) => ({ EntityId: queueId, EventName })),
      { EntityId: userId('a@example.com'), EventName: 'UserCallOutGoing' },
      { EntityId: userId('b@example.com'), EventName: 'UserCallInComing' },
      { EntityId: userId('c@example.com'), EventName: 'UserCallInComing' },
    ];
    const subscribed = (await watcher.connection.invoke('Subscribe', subs)) as { Subscribed: unknown[] };
    expect(subscribed.Subscribed).toHaveLength(subs.length);

    // A viewer with the queue's ServiceCalls grant gets its events; one without is refused.
    const supportViewer = await connect((await tokenFor('sees-support@example.com', 'pw')).body.Token);
    await supportViewer.connection.invoke('Subscribe', [
      { EntityId: queueId, EventName: 'QueueCallInArrived' },
    ]);
    const nobody = await connect((await tokenFor('sees-nothing@example.com', 'pw')).body.Token);
    await expect(
      nobody.connection.invoke('Subscribe', [{ EntityId: queueId, EventName: 'QueueCallInArrived' }]),
    ).rejects.toThrow(/Not permitted/);
    // Its own events are fine, and AvailableSubscriptions lists no queue for it.
    await nobody.connection.invoke('Subscribe', [
      { EntityId: userId('sees-nothing@example.com'), EventName: 'UserCallInComing' },
    ]);
    const available = (await nobody.connection.invoke('AvailableSubscriptions')) as { EntityType: string }[];
    expect(available.some((entry) => entry.EntityType === 'Queue')).toBe(false);
    // An agent viewer of B may follow B but not C.
    const agentViewer = await connect((await tokenFor('sees-agent-b@example.com', 'pw')).body.Token);
    await agentViewer.connection.invoke('Subscribe', [
      { EntityId: userId('b@example.com'), EventName: 'UserCallInComing' },
    ]);
    await expect(
      agentViewer.connection.invoke('Subscribe', [
        { EntityId: userId('c@example.com'), EventName: 'UserCallInComing' },
      ]),
    ).rejects.toThrow(/Not permitted/);

    // The seed's scenario.
    const [a, b, c] = await env.uas('1001', '1002', '1003');
    seedMembers(b!, c!, 30);
    const outgoing = a!.call('100');
    const final = await outgoing.waitForFinal();
    expect(final.status).toBe(200);
    const callId = final.headers.get('X-Server-Call-Id')!;
    const callerLegId = final.headers.get('X-Call-Leg-Id')!;
    await outgoing.hangup();
    await waitFor(
      async () => (watcher.events.some((e) => e.eventName === 'QueueCallInDisconnected') ? true : undefined),
      10_000,
      'QueueCallInDisconnected',
    );
    const names = watcher.events.map((e) => `${e.eventName}:${String(e.userId ?? '')}`);
    const B = userId('b@example.com');
    const C = userId('c@example.com');
    const A = userId('a@example.com');
    expect(names).toEqual([
      `UserCallOutGoing:${A}`,
      'QueueCallInArrived:',
      `UserCallInComing:${B}`,
      `QueueCallInUserAllocated:${B}`,
      `QueueCallInUserCancelled:${B}`,
      `UserCallInComing:${C}`,
      `QueueCallInUserAllocated:${C}`,
      `QueueCallInUserConnected:${C}`,
      'QueueCallInDisconnected:',
    ]);
    for (const event of watcher.events) {
      expect(event.callId).toBe(callId);
      expect(event.callerNumber).toBe('1001');
      expect(event.targetNumber).toBe('100');
      expect(event.queueId).toBe(queueId);
      expect(event.queueName).toBe('Support');
      expect(typeof event.timestamp).toBe('string');
      expect(typeof event.eventType).toBe('number');
      expect(event.eventId).toMatch(/^\d+-\d+$/);
    }
    expect(watcher.events.find((e) => e.eventName === 'QueueCallInArrived')!.callLegId).toBe(callerLegId);
    expect(watcher.events.find((e) => e.eventName === 'QueueCallInUserAllocated')!.eventType).toBe(102);
    expect(watcher.events.find((e) => e.eventName === 'UserCallInComing')!.eventType).toBe(10);
    // Allocation legs: B's and C's UserCallInComing name the legs their allocations name.
    const legOf = (name: string, user: string) =>
      watcher.events.find((e) => e.eventName === name && e.userId === user)!.callLegId;
    expect(legOf('UserCallInComing', B)).toBe(legOf('QueueCallInUserAllocated', B));
    expect(legOf('UserCallInComing', C)).toBe(legOf('QueueCallInUserConnected', C));
    expect(legOf('UserCallInComing', B)).not.toBe(legOf('UserCallInComing', C));

    expect(supportViewer.events.map((e) => e.eventName)).toEqual(['QueueCallInArrived']);
    expect(nobody.events).toEqual([]);
    expect(agentViewer.events.map((e) => `${e.eventName}:${String(e.userId)}`)).toEqual([
      `UserCallInComing:${B}`,
    ]);

    // Resume: a client that saw up to the first allocation reconnects with its last event id.
    const lastSeen = watcher.events[3]!.eventId as string;
    const expected = watcher.events.slice(4).map((e) => e.eventId);
    const again = await connect(admin.body.Token);
    const result = (await again.connection.invoke('Subscribe', subs, lastSeen)) as { Resumed: number };
    expect(result.Resumed).toBe(expected.length);
    expect(again.events.map((e) => e.eventId)).toEqual(expected);
    // Through the hub URL's query (a client that cannot pass a second argument).
    const viaQuery = await connect(admin.body.Token, `?lastEventId=${encodeURIComponent(lastSeen)}`);
    await viaQuery.connection.invoke('Subscribe', subs);
    expect(viaQuery.events.map((e) => e.eventId)).toEqual(expected);
    // From the journal rather than the feed's memory: a fresh feed has nothing buffered.
    const cold = createRealtimeFeed({ journal: env.platform.journal, directory: env.platform.directory });
    const fromJournal = await cold.since(0);
    cold.close();
    const replayed = fromJournal.filter((e) => e.data.callId === callId).map((e) => e.eventId);
    for (const id of watcher.events.map((e) => e.eventId)) expect(replayed).toContain(id);
    const byId = new Map(fromJournal.map((e) => [e.eventId, e.data]));
    for (const event of watcher.events) expect(byId.get(event.eventId as string)).toEqual(event);

    // Live events keep flowing after a resume, none twice.
    await a!.call('100').waitForFinal();
    await waitFor(
      async () =>
        again.events.filter((e) => e.eventName === 'QueueCallInArrived').length >= 1 ? true : undefined,
      10_000,
      'a live event after the resume',
    );
    const ids = again.events.map((e) => e.eventId);
    expect(new Set(ids).size).toBe(ids.length);
  }, 60_000);

  it('keeps a quiet connection alive with pings and Unsubscribe/UnsubscribeAll work', async () => {
    const admin = await tokenFor('admin@example.com', 'secret-admin');
    const client = await connect(admin.body.Token);
    await client.connection.invoke('Subscribe', [{ EntityId: queueId, EventName: 'QueueStatus' }]);
    expect(
      await client.connection.invoke('Unsubscribe', [{ EntityId: queueId, EventName: 'QueueStatus' }]),
    ).toEqual({
      Unsubscribed: 1,
    });
    await client.connection.invoke('Subscribe', [{ EntityId: queueId, EventName: 'QueueStatus' }]);
    expect(await client.connection.invoke('UnsubscribeAll')).toEqual({ Unsubscribed: 1 });
    await expect(client.connection.invoke('NoSuchMethod')).rejects.toThrow(/does not exist/);
    expect(client.connection.state).toBe('Connected');
  });
});
