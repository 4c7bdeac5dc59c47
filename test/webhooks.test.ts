/**
 * Webhooks end to end against the real platform (issue 17, DESIGN.md §12): a tenant whose
 * `webhooks:` names a local receiver; the seed's scenario (A calls Support, B declines, C answers)
 * reaches it signed (Standard Webhooks, checked here from the specification) with the EnreachVoice
 * headers; a receiver down for 30 s (connection refused) gets everything afterwards, in order, none
 * twice; admins see the deliveries over REST. The platform's outbox retries every 1–2 s here
 * (`webhookOptions`; the defaults start at 5 s and double), so the outage test takes ~31 s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTenantYaml } from '../src/config/load.js';
import type { Tenant } from '../src/config/types.js';
import type { TestUa } from '../src/testing/test-ua.js';
import { seedMembers, startTestPlatform, type TestPlatform, waitFor } from './support/platform.js';
import { seedTenantYaml } from './support/tenants.js';
import { hasValidSignature, WebhookReceiver, type WebhookRequest } from './support/webhook-receiver.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const EVENTS = [
  'QueueCallInArrived',
  'QueueCallInUserAllocated',
  'QueueCallInUserCancelled',
  'QueueCallInUserConnected',
  'QueueCallInDisconnected',
  'UserCallInComing',
];

type Body = Record<string, unknown>;
const bodyOf = (request: WebhookRequest) => JSON.parse(request.body) as Body;

describe('webhooks from the platform to a local receiver', () => {
  const receiver = new WebhookReceiver();
  let tenant: Tenant;
  let env: TestPlatform;
  let a: TestUa;
  const userId = (email: string) => tenant.users.find((u) => u.username === email)!.userId;

  /** The seed's call: A calls Support, B declines, C answers, A hangs up. Its CallId. */
  async function seedCall(): Promise<string> {
    const outgoing = a.call('100');
    const final = await outgoing.waitForFinal();
    expect(final.status).toBe(200);
    await outgoing.hangup();
    return final.headers.get('X-Server-Call-Id')!;
  }

  /** The events the outbox must deliver for a call, in journal order, from the platform's feed. */
  async function expectedIds(callId: string): Promise<string[]> {
    const events = await waitFor(
      async () => {
        const all = (await env.platform.realtime.since(0)).filter(
          (e) => e.data.callId === callId && EVENTS.includes(e.eventName),
        );
        return all.some((e) => e.eventName === 'QueueCallInDisconnected') ? all : undefined;
      },
      10_000,
      'the call to end',
    );
    return events.map((e) => e.eventId);
  }

  beforeAll(async () => {
    await receiver.up();
    const yaml = [
      seedTenantYaml(),
      'webhooks:',
      `  - { endpoint: "${receiver.url}", secret: ${SECRET}, events: [${EVENTS.join(', ')}] }`,
      '',
    ].join('\n');
    tenant = parseTenantYaml(yaml, 'webhooks.yaml');
    // Retries every 1–2 s (the defaults start at 5 s and double): the 30 s outage test stays short.
    env = await startTestPlatform(tenant, 'sqlite', {
      webhookOptions: { initialBackoffMs: 1000, maxBackoffMs: 2000 },
    });
    const [ua, b, c] = await env.uas('1001', '1002', '1003');
    a = ua!;
    seedMembers(b!, c!, 30);
  }, 30_000);

  afterAll(async () => {
    await env?.close();
    await receiver.down();
  });

  it('delivers the seed scenario’s subscribed events, signed, with the X-Benemen headers, in order', async () => {
    const started = Date.now();
    const callId = await seedCall();
    const ids = await expectedIds(callId);
    await receiver.until(() => receiver.delivered().length >= ids.length, 10_000, 'the deliveries');
    const delivered = receiver.delivered();
    expect(delivered.map((r) => r.headers['webhook-id'])).toEqual(ids);
    const B = userId('b@example.com');
    const C = userId('c@example.com');
    expect(delivered.map((r) => `${bodyOf(r).EventName}:${String(bodyOf(r).UserId ?? '')}`)).toEqual([
      'QueueCallInArrived:',
      `UserCallInComing:${B}`,
      `QueueCallInUserAllocated:${B}`,
      `QueueCallInUserCancelled:${B}`,
      `UserCallInComing:${C}`,
      `QueueCallInUserAllocated:${C}`,
      `QueueCallInUserConnected:${C}`,
      'QueueCallInDisconnected:',
    ]);
    for (const request of delivered) {
      const body = bodyOf(request);
      expect(hasValidSignature(SECRET, request)).toBe(true);
      // A tampered body or another secret does not verify.
      expect(hasValidSignature(SECRET, { ...request, body: `${request.body} ` })).toBe(false);
      expect(hasValidSignature('whsec_c2VjcmV0LW90aGVy', request)).toBe(false);
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers['x-benemen-event']).toBe(body.EventName);
      expect(request.headers['x-benemen-token']).toBe(SECRET);
      expect(request.headers['webhook-id']).toBe(body.Id);
      const timestamp = Number(request.headers['webhook-timestamp']);
      expect(timestamp * 1000).toBeGreaterThanOrEqual(Math.floor(started / 1000) * 1000);
      expect(timestamp * 1000).toBeLessThanOrEqual(Date.now());
      expect(body.CallId).toBe(callId);
      expect(body.CallerNumber).toBe('1001');
      expect(body.TargetNumber).toBe('100');
      expect(body.QueueName).toBe('Support');
      expect(typeof body.EventType).toBe('number');
      expect(new Date(body.Timestamp as string).toISOString()).toBe(body.Timestamp);
    }
    expect(bodyOf(delivered[0]!).EntityType).toBe('Queue');
    expect(bodyOf(delivered[1]!)).toMatchObject({ EntityType: 'User', EntityId: B, EventType: 10 });
    // Not subscribed: A's UserCallOutGoing is not sent.
    expect(receiver.requests.every((r) => r.headers['x-benemen-event'] !== 'UserCallOutGoing')).toBe(true);
    // Exactly one attempt each.
    expect(receiver.requests).toHaveLength(delivered.length);
  });

  it('GET /webhooks/deliveries shows them delivered to admins, 403 to others', async () => {
    const admin = await env.rest('admin@example.com', 'secret-admin');
    const rows = await admin.list<{
      EventId: string;
      EventName: string;
      Status: string;
      Attempts: number;
      Endpoint: string;
      Delivered: string | null;
    }>('/webhooks/deliveries', { Limit: '1000' });
    const deliveredIds = receiver.delivered().map((r) => r.headers['webhook-id']);
    expect(rows).toHaveLength(deliveredIds.length);
    // Newest event first.
    expect(rows.map((row) => row.EventId)).toEqual([...deliveredIds].reverse());
    for (const row of rows) {
      expect(row).toMatchObject({ Status: 'Delivered', Attempts: 1, Endpoint: receiver.url });
      expect(row.Delivered).toEqual(expect.any(String));
    }
    const pending = await admin.list('/webhooks/deliveries', { Status: 'pending' });
    expect(pending).toEqual([]);
    const agent = await env.rest('b@example.com', 'secret-b');
    expect((await agent.get('/webhooks/deliveries')).status).toBe(403);
  });

  it('a receiver down for 30 s gets everything afterwards, in order, no duplicates by webhook-id', async () => {
    const before = receiver.requests.length;
    await receiver.down();
    const downAt = Date.now();
    const callId = await seedCall();
    const ids = await expectedIds(callId);
    const admin = await env.rest('admin@example.com', 'secret-admin');
    // The outbox tried and was refused: the oldest pending row says so.
    const refused = await waitFor(
      async () => {
        const rows = await admin.list<{ EventId: string; Attempts: number; LastError: string | null }>(
          '/webhooks/deliveries',
          { Status: 'Pending', Limit: '1000' },
        );
        const head = rows.find((row) => row.EventId === ids[0]);
        return head && head.Attempts >= 1 ? head : undefined;
      },
      10_000,
      'a refused attempt',
    );
    expect(refused.LastError).toMatch(/ECONNREFUSED/);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, downAt + 30_000 - Date.now())));
    expect(receiver.requests.length).toBe(before);
    await receiver.up();
    const upAt = Date.now();
    // The next attempt is the outbox's (backoff 1–2 s here): within seconds of the outage.
    const head = (
      await admin.list<{ EventId: string; NextAttempt: string | null }>('/webhooks/deliveries', {
        Status: 'Pending',
        Limit: '1000',
      })
    ).find((row) => row.EventId === ids[0])!;
    const retryInMs = Math.max(0, Date.parse(head.NextAttempt!) - Date.now());
    await receiver.until(
      () => receiver.delivered().length >= before + ids.length,
      retryInMs + 15_000,
      'the deliveries after the outage',
    );
    const after = receiver.requests.slice(before);
    console.log(
      `webhooks: receiver back after ${((upAt - downAt) / 1000).toFixed(1)} s; next attempt due in ${(retryInMs / 1000).toFixed(1)} s; everything delivered ${((Date.now() - upAt) / 1000).toFixed(1)} s after the outage`,
    );
    const seen = after.map((r) => r.headers['webhook-id']);
    expect(seen).toEqual(ids);
    expect(new Set(seen).size).toBe(seen.length);
    for (const request of after) expect(hasValidSignature(SECRET, request)).toBe(true);
    const rows = await admin.list<{ EventId: string; Status: string; Attempts: number; LastError: string }>(
      '/webhooks/deliveries',
      { Limit: '1000' },
    );
    const first = rows.find((row) => row.EventId === ids[0])!;
    expect(first.Status).toBe('Delivered');
    expect(first.Attempts).toBeGreaterThanOrEqual(2);
    expect(rows.filter((row) => ids.includes(row.EventId)).every((row) => row.Status === 'Delivered')).toBe(
      true,
    );
  }, 60_000);
});
