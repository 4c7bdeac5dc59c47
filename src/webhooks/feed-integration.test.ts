/**
 * The outbox over the real realtime feed (src/realtime/feed.ts) of a real SQLite journal: a
 * service call's facts, appended after the outbox started, reach the receiver as the feed derives
 * them — same ids, same order, signed, with the call's CallId.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteJournal } from '../journal/sqlite-journal.js';
import { createRealtimeFeed } from '../realtime/feed.js';
import { fixtureDirectory, serviceCallFacts } from '../realtime/scenario.fixture.js';
import { sqliteDatabaseFactory } from '../records/store/test-stores.js';
import { endpointIdOf } from './config.js';
import { createWebhookOutbox } from './outbox.js';
import { verify } from './signature.js';
import { openWebhookStore } from './store.js';
import { Receiver } from './test-support.js';

describe('webhook outbox over the realtime feed of a journal', () => {
  const dir = mkdtempSync(join(tmpdir(), 'webhooks-feed-'));
  const factory = sqliteDatabaseFactory();
  const hooks = new Receiver();
  const cleanups: Array<() => Promise<void> | void> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await hooks.down();
    await factory.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers the derived events of a call, in the feed’s order, signed', async () => {
    await hooks.up();
    const journal = openSqliteJournal(join(dir, 'journal.db'));
    cleanups.push(() => journal.close());
    const feed = createRealtimeFeed({ journal, directory: fixtureDirectory });
    cleanups.push(() => feed.close());
    const secret = 'whsec_c2VjcmV0LWtleS1ieXRlcw==';
    const outbox = createWebhookOutbox({
      store: await openWebhookStore(await factory.open('feed')),
      feed,
      endpoints: [{ endpointId: endpointIdOf(hooks.url), endpoint: hooks.url, secret, events: ['*'] }],
      options: { initialBackoffMs: 40, maxBackoffMs: 200 },
    });
    await outbox.start();
    cleanups.push(() => outbox.stop());
    for (const fact of serviceCallFacts('call-1')) journal.append(fact);
    await journal.flush();
    await hooks.until(() => feed.lastSeq() === journal.lastSeq()); // the feed publishes after the commit
    const expected = await feed.since(0);
    expect(expected.length).toBeGreaterThan(3);
    await hooks.until(() => hooks.received.length === expected.length);
    expect(hooks.received.map((r) => r.headers['webhook-id'])).toEqual(expected.map((e) => e.eventId));
    for (const [index, received] of hooks.received.entries()) {
      const body = JSON.parse(received.body) as Record<string, unknown>;
      expect(body).toMatchObject({ Id: expected[index]!.eventId, EventName: expected[index]!.eventName });
      expect(received.headers['x-benemen-event']).toBe(expected[index]!.eventName);
      if (expected[index]!.data.callId !== undefined) expect(body.CallId).toBe('call-1');
      expect(
        verify(
          secret,
          {
            id: String(received.headers['webhook-id']),
            timestamp: String(received.headers['webhook-timestamp']),
            signature: String(received.headers['webhook-signature']),
          },
          received.body,
        ),
      ).toBe(true);
    }
  });
});
