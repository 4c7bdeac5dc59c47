import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { User } from '../config/types.js';
import { attachRteHub, maySubscribe, parseEventId } from './hub.js';
import { createRteTokens, type RteTokens } from './token.js';
import type { RealtimeEvent, RealtimeFeed } from './types.js';

const SEP = '\u001e';
const user = (userId: string, more: Partial<User> = {}): User =>
  ({
    userId,
    username: `${userId}@x`,
    role: 'user',
    grants: { directCalls: [], agentCalls: [], serviceCalls: [], callbackLists: [] },
    ...more,
  }) as unknown as User;
const USERS = [user('u1'), user('u2')];

function stubFeed(): RealtimeFeed & { emit(event: RealtimeEvent): void } {
  const listeners = new Set<(event: RealtimeEvent) => void>();
  const events: RealtimeEvent[] = [];
  return {
    since: async (after, limit = 10_000) => events.filter((e) => e.seq > after).slice(0, limit),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    lastSeq: () => events[events.length - 1]?.seq ?? 0,
    emit(event) {
      events.push(event);
      for (const listener of listeners) listener(event);
    },
  };
}

describe('RTE hub (raw WebSocket)', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function start(tokens: RteTokens) {
    app = Fastify();
    const directory = {
      userById: (id: string) => USERS.find((u) => u.userId === id),
      tenant: { users: USERS, queues: [], callbackLists: [] } as never,
    };
    await attachRteHub(app, { feed: stubFeed(), directory, tokens, pingIntervalMs: 50 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    return `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  function open(url: string): Promise<{ ws: WebSocket; received: string[]; status?: number }> {
    return new Promise((resolve) => {
      const ws = new WebSocket(url);
      const received: string[] = [];
      ws.on('message', (data) => received.push(data.toString()));
      ws.on('open', () => resolve({ ws, received }));
      ws.on('unexpected-response', (_req, res) => resolve({ ws, received, status: res.statusCode }));
      ws.on('error', () => {});
    });
  }

  it('negotiate, handshake, pings; an unknown connection id is 404, another user’s is 401', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hub-'));
    const tokens = createRteTokens({ key: { file: join(dir, 'rte.key') } });
    expect(statSync(join(dir, 'rte.key')).mode & 0o777).toBe(0o600);
    const host = await start(tokens);
    const { token } = await tokens.issue('u1');
    const negotiate = await fetch(`http://${host}/rte/negotiate?negotiateVersion=1`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}` },
    });
    const body = (await negotiate.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      negotiateVersion: 1,
      availableTransports: [{ transport: 'WebSockets', transferFormats: ['Text', 'Binary'] }],
    });
    expect(typeof body.connectionToken).toBe('string');
    const other = (await tokens.issue('u2')).token;
    expect((await open(`ws://${host}/rte?id=${body.connectionToken}&access_token=${other}`)).status).toBe(
      401,
    );
    expect((await open(`ws://${host}/rte?id=nope&access_token=${token}`)).status).toBe(404);
    expect((await open(`ws://${host}/rte?access_token=garbage`)).status).toBe(401);
    expect((await open(`ws://${host}/elsewhere?access_token=${token}`)).status).toBe(404);

    const { ws, received } = await open(`ws://${host}/rte?id=${body.connectionToken}&access_token=${token}`);
    // Handshake and an invocation in one frame.
    ws.send(
      `{"protocol":"json","version":1}${SEP}{"type":1,"invocationId":"1","target":"UnsubscribeAll","arguments":[]}${SEP}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(received[0]).toBe(`{}${SEP}`);
    expect(received).toContain(`{"type":3,"invocationId":"1","result":{"Unsubscribed":0}}${SEP}`);
    expect(received.filter((m) => m === `{"type":6}${SEP}`).length).toBeGreaterThanOrEqual(2);
    ws.close();
  });

  it('refuses a handshake for another protocol', async () => {
    const tokens = createRteTokens({ key: new Uint8Array(32).fill(1) });
    const host = await start(tokens);
    const { token } = await tokens.issue('u1');
    const { ws, received } = await open(`ws://${host}/rte?access_token=${token}`);
    const closed = new Promise((resolve) => ws.on('close', resolve));
    ws.send(`{"protocol":"messagepack","version":1}${SEP}`);
    await closed;
    expect(received[0]).toMatch(/"error":"The protocol 'messagepack' is not supported/);
  });

  it('tokens expire; event ids parse; permissions', async () => {
    let now = 1_800_000_000_000;
    const tokens = createRteTokens({ key: new Uint8Array(32).fill(2), now: () => now });
    const { token } = await tokens.issue('u1', 60);
    expect(await tokens.verify(token)).toBe('u1');
    now += 61_000;
    expect(await tokens.verify(token)).toBeNull();
    expect(await tokens.verify('a.b.c')).toBeNull();
    expect(parseEventId('12-3')).toEqual([12, 3]);
    expect(parseEventId('12')).toEqual([12, Number.MAX_SAFE_INTEGER]);
    expect(parseEventId('x')).toBeNull();
    const admin = user('ad', { role: 'admin' } as Partial<User>);
    expect(maySubscribe(admin, 'QueueStatus', 'q1')).toBe(true);
    expect(maySubscribe(user('u1'), 'UserCallInComing', 'u1')).toBe(true);
    expect(maySubscribe(user('u1'), 'UserCallInComing', 'u2')).toBe(false);
    expect(maySubscribe(user('u1'), 'QueueStatus', 'q1')).toBe(false);
  });
});
