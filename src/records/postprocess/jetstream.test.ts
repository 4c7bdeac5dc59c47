/**
 * Post-processing a cluster node's journal partition (NATS JetStream) into PostgreSQL, exactly
 * once: the checkpoint moves in the same transaction as the records, and every record is keyed by
 * its natural key, so facts delivered again — the checkpoint set back, or two workers on one
 * partition at once (a janitor and the node it thought dead) — change nothing.
 */
import { randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dropNatsPrefix } from '../../cluster/testing.js';
import { createDirectory } from '../../config/directory.js';
import { type JetStreamJournal, openJetStreamJournal } from '../../journal/jetstream-journal.js';
import { postgresStoreFactory, type StoreFactory, TEST_DATABASE_URL } from '../store/test-stores.js';
import type { RecordStore } from '../types.js';
import { createPostProcessor } from './index.js';
import { QUEUE_SUPPORT, ScriptedCall, TEST_TENANT, USER_A, USER_B, USER_C } from './test-calls.js';

const NATS = process.env.TEST_NATS_URL?.replace(/^nats:\/\//, '') ?? '127.0.0.1:4222';
const directory = createDirectory(TEST_TENANT);
const CALLS = 40;

/** Forty queue calls: B declines each, C answers, A hangs up. */
function queueCalls(journal: JetStreamJournal): string[] {
  const callIds: string[] = [];
  for (let n = 0; n < CALLS; n++) {
    const call = new ScriptedCall(journal).startService(QUEUE_SUPPORT, USER_A);
    const legB = call.ringingOffer(QUEUE_SUPPORT, USER_B);
    call.decline(legB, QUEUE_SUPPORT, USER_B);
    const legC = call.ringingOffer(QUEUE_SUPPORT, USER_C);
    call.connectAllocation(legC, QUEUE_SUPPORT, USER_C);
    call.hangup();
    callIds.push(call.callId);
  }
  return callIds;
}

/** Every record of the calls, as comparable rows (ids included: they are the natural keys' UUIDs). */
async function snapshot(store: RecordStore, callIds: string[]) {
  const rows: unknown[] = [];
  for (const callId of callIds) {
    const selection = { by: 'callId' as const, callId };
    const events = await store.listUserCallEvents({
      selection,
      visibleDirectCallUserIds: '*',
      visibleAgentCallUserIds: '*',
    });
    const headers = await store.listServiceCalls({ selection, visibleQueueIds: '*' });
    rows.push({
      callId,
      events: events.map((e) => [e.eventId, e.userId, e.result]),
      headers: headers.map((h) => [h.eventId, h.result]),
    });
  }
  return rows;
}

describe('post-processing a JetStream journal partition into PostgreSQL', () => {
  let nc: NatsConnection;
  let factory: StoreFactory;
  let prefix: string;
  let journal: JetStreamJournal;
  let store: RecordStore;
  let stores = 0;

  beforeAll(async () => {
    nc = await connect({ servers: NATS });
    factory = postgresStoreFactory(TEST_DATABASE_URL);
  });
  afterAll(async () => {
    await factory?.cleanup();
    await nc?.close();
  });
  beforeEach(async () => {
    prefix = `PPJ${randomBytes(4).toString('hex')}`;
    journal = await openJetStreamJournal(nc, {
      nodeId: 'node-a',
      streamPrefix: prefix,
      subjectPrefix: prefix.toLowerCase(),
    });
    stores += 1;
    store = await factory.open(`ppjs${stores}`);
  });
  afterEach(async () => {
    await journal.close();
    await dropNatsPrefix(nc, prefix);
  });

  const processor = (over: { batchSize?: number } = {}) =>
    createPostProcessor({
      journal,
      store,
      directory,
      delaySeconds: 0,
      consumerName: 'records:node-a',
      ...over,
    });

  it('turns every fact into records once, and a second pass from the start changes nothing', async () => {
    const callIds = queueCalls(journal);
    await journal.flush();
    await processor({ batchSize: 7 }).catchUp();
    const first = await snapshot(store, callIds);
    expect(first).toHaveLength(CALLS);
    for (const call of first as { events: unknown[][]; headers: unknown[][] }[]) {
      expect(call.events.map((e) => e[2]).sort()).toEqual(['Allocated', 'Handled', 'Handled']);
      expect(call.headers.map((h) => h[1])).toEqual(['Handled']);
    }
    expect(await store.readCheckpoint('records:node-a')).toBe(journal.lastSeq());

    // Redelivery of everything: the checkpoint set back to the start, processed again.
    await store.setCheckpoint('records:node-a', 0);
    await processor({ batchSize: 13 }).catchUp();
    expect(await snapshot(store, callIds)).toEqual(first);
    expect(await store.readCheckpoint('records:node-a')).toBe(journal.lastSeq());
  });

  it('two workers on one partition at once (a janitor and the node back) write the same records once', async () => {
    const callIds = queueCalls(journal);
    await journal.flush();
    await Promise.all([processor({ batchSize: 5 }).catchUp(), processor({ batchSize: 11 }).catchUp()]);
    const both = await snapshot(store, callIds);
    // The same as one worker alone on a fresh store.
    stores += 1;
    const alone = await factory.open(`ppjs${stores}`);
    await createPostProcessor({ journal, store: alone, directory, delaySeconds: 0 }).catchUp();
    expect(both).toEqual(await snapshot(alone, callIds));
    const events = await store.listUserCallEvents({
      selection: { by: 'time', fromMs: 0, toMs: Date.now() + 60_000 },
      visibleDirectCallUserIds: '*',
      visibleAgentCallUserIds: '*',
    });
    expect(events).toHaveLength(CALLS * 3);
  });
});
