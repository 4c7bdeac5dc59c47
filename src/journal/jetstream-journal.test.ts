/**
 * The JetStream journal against the nats-server on 127.0.0.1:4222 (JetStream enabled). Nothing
 * skips: without a reachable server these tests fail. Every harness and test uses its own random
 * stream and subject prefixes and deletes what it created.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNatsRelay } from '../testing/nats-relay.js';
import { sleep } from '../testing/wait.js';
import type { JournalError } from './errors.js';
import {
  checkServerVersion,
  compareServerVersions,
  ensureJournalStream,
  type JetStreamJournal,
  type JetStreamJournalOptions,
  JOURNAL_HEADERS,
  journalNames,
  journalSubject,
  listJournalNodes,
  MIN_SERVER_VERSION,
  openJetStreamJournal,
} from './jetstream-journal.js';
import { runJournalContract } from './journal.case.js';
import { legCreatedFact, ringingFact } from './testing.js';

const NATS_SERVERS = process.env.NATS_URL ?? '127.0.0.1:4222';

let nc: NatsConnection;

beforeAll(async () => {
  nc = await connect({ servers: NATS_SERVERS });
});

afterAll(async () => {
  await nc?.close();
});

/** Prefixes no other test uses: streams may not share subjects. */
function uniquePrefixes(): { streamPrefix: string; subjectPrefix: string } {
  const tag = randomBytes(6).toString('hex');
  return { streamPrefix: `SBTEST_${tag}`, subjectPrefix: `sbtest.${tag}` };
}

/** Delete the streams and buckets of these prefixes (those that exist). */
async function removePartitions(streamPrefix: string, nodeIds: readonly string[]): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const streams = [
    ...nodeIds.map((nodeId) => `${streamPrefix}_${nodeId}`),
    `KV_${streamPrefix}_LEGS`,
    `KV_${streamPrefix}_MARKS`,
  ];
  for (const stream of streams) await jsm.streams.delete(stream).catch(() => false);
}

/** Store one entry as raw text at exactly `seq`, as an older build or another writer left it. */
async function publishRaw(
  names: ReturnType<typeof journalNames>,
  entry: { seq: number; timeMs: number; callId: string; text: string },
  writer = 'test-harness',
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await ensureJournalStream(jsm, names);
  const header = headers();
  header.set(JOURNAL_HEADERS.timeMs, String(entry.timeMs));
  header.set(JOURNAL_HEADERS.writer, writer);
  await jetstream(nc).publish(journalSubject(names, entry.callId), entry.text, {
    msgID: `${names.nodeId}:${entry.seq}`,
    expect: { lastSequence: entry.seq - 1 },
    headers: header,
  });
}

runJournalContract('JetStream', () => {
  const prefixes = uniquePrefixes();
  const nodeId = 'node-1';
  const names = journalNames({ nodeId, ...prefixes });
  return {
    open: (opts = {}) =>
      openJetStreamJournal(nc, {
        nodeId,
        ...prefixes,
        onError: opts.onError,
        legacyRouting: opts.legacyRouting,
        groupCommitMs: opts.holdWrites ? 60_000 : undefined,
      }),
    pendingEntries: (journal) => journal.stats().pending,
    writeStoredFact: (entry) => publishRaw(names, entry),
    dispose: () => removePartitions(prefixes.streamPrefix, [nodeId]),
  };
});

describe('openJetStreamJournal', () => {
  let prefixes: { streamPrefix: string; subjectPrefix: string };
  const opened: JetStreamJournal[] = [];
  const nodeIds = new Set<string>();
  const connections: NatsConnection[] = [];

  async function open(
    opts: Partial<JetStreamJournalOptions> = {},
    connection: NatsConnection = nc,
  ): Promise<JetStreamJournal> {
    const nodeId = opts.nodeId ?? 'node-1';
    nodeIds.add(nodeId);
    const journal = await openJetStreamJournal(connection, { ...prefixes, ...opts, nodeId });
    opened.push(journal);
    return journal;
  }

  async function streamMessages(nodeId = 'node-1'): Promise<number> {
    const jsm = await jetstreamManager(nc);
    return (await jsm.streams.info(`${prefixes.streamPrefix}_${nodeId}`)).state.messages;
  }

  beforeAll(() => {
    prefixes = uniquePrefixes();
  });

  afterEach(async () => {
    for (const journal of opened.splice(0)) await journal.close().catch(() => {});
    for (const connection of connections.splice(0)) await connection.close().catch(() => {});
    await removePartitions(prefixes.streamPrefix, [...nodeIds]);
    nodeIds.clear();
    prefixes = uniquePrefixes();
  });

  it('makes an entry durable in the stream when flush resolves, with its time and writer headers', async () => {
    const journal = await open({ groupCommitMs: 60_000 });
    const callId = randomUUID();
    const entry = journal.append(ringingFact(callId, 1));
    expect(journal.stats()).toMatchObject({ pending: 1, durableSeq: 0 });
    await journal.flush();
    expect(journal.stats()).toMatchObject({ pending: 0, durableSeq: 1 });
    const jsm = await jetstreamManager(nc);
    const stored = await jsm.streams.getMessage(`${prefixes.streamPrefix}_node-1`, { seq: 1 });
    expect(stored?.subject).toBe(`${prefixes.subjectPrefix}.node-1.${callId}`);
    expect(stored?.header.get(JOURNAL_HEADERS.timeMs)).toBe(String(entry.timeMs));
    expect(stored?.header.get('Nats-Msg-Id')).toBe('node-1:1');
    expect(JSON.parse(stored!.string())).toMatchObject({ ...entry.fact, schemaVersion: 2 });
  });

  it('publishes a group commit without flush, pipelined, in order', async () => {
    const journal = await open({ groupCommitMs: 2 });
    const callId = randomUUID();
    for (let n = 0; n < 600; n += 1) journal.append(ringingFact(callId, n));
    for (let waited = 0; journal.stats().durableSeq < 600 && waited < 5000; waited += 10) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(journal.stats().durableSeq).toBe(600);
    expect(await streamMessages()).toBe(600);
    const page = await (await open({ nodeId: 'node-1' })).read(100, 500);
    expect(page.map((entry) => entry.seq)).toEqual(Array.from({ length: 500 }, (_, i) => i + 101));
    expect(page.every((entry) => entry.fact.type === 'LegRinging')).toBe(true);
  });

  it('dedupes a retried publish: the same Nats-Msg-Id twice stores one message', async () => {
    const journal = await open();
    const callId = randomUUID();
    journal.append(ringingFact(callId, 1));
    await journal.flush();
    const names = journalNames({ nodeId: 'node-1', ...prefixes });
    // What the journal sends again after a publish whose ack was lost.
    const ack = await jetstream(nc).publish(journalSubject(names, callId), 'retried', {
      msgID: 'node-1:1',
      expect: { lastSequence: 0 },
    });
    expect(ack).toMatchObject({ duplicate: true, seq: 1 });
    expect(await streamMessages()).toBe(1);
    expect((await journal.read(0, 10)).map((entry) => entry.seq)).toEqual([1]);
  });

  it('fences a second writer on the same node with JOURNAL_FENCED, and the stream does not fork', async () => {
    const first = await open();
    const errors: JournalError[] = [];
    const second = await open({ onError: (error) => errors.push(error) });
    const callId = randomUUID();
    first.append(ringingFact(callId, 1));
    await first.flush();
    // The second journal numbered from the same tail: its seq 1 would fork the partition.
    expect(second.append(ringingFact(callId, 99)).seq).toBe(1);
    await expect(second.flush()).rejects.toMatchObject({ code: 'JOURNAL_FENCED' });
    expect(errors.map((error) => error.code)).toEqual(['JOURNAL_FENCED']);
    expect(() => second.append(ringingFact(callId, 100))).toThrowError(
      expect.objectContaining({ code: 'JOURNAL_FENCED' }),
    );
    // Past the dedupe window a retry is no duplicate: the expected last sequence fences instead.
    const third = await open({ onError: (error) => errors.push(error) });
    const header = headers();
    header.set(JOURNAL_HEADERS.timeMs, String(Date.now()));
    header.set(JOURNAL_HEADERS.writer, 'another-writer');
    await jetstream(nc).publish(
      journalSubject(journalNames({ nodeId: 'node-1', ...prefixes }), callId),
      JSON.stringify({ ...ringingFact(callId, 2), schemaVersion: 2 }),
      { expect: { lastSequence: 1 }, headers: header },
    );
    third.append(ringingFact(callId, 98));
    await expect(third.flush()).rejects.toMatchObject({ code: 'JOURNAL_FENCED' });
    expect(errors.map((error) => error.code)).toEqual(['JOURNAL_FENCED', 'JOURNAL_FENCED']);

    expect(await streamMessages()).toBe(2);
    const stored = await (await open()).read(0, 10);
    expect(
      stored.map((entry) => [entry.seq, entry.fact.type === 'LegRinging' && entry.fact.callLegId]),
    ).toEqual([
      [1, 'leg-1'],
      [2, 'leg-2'],
    ]);
    opened.splice(opened.indexOf(second), 1);
    opened.splice(opened.indexOf(third), 1);
    await expect(second.close()).rejects.toMatchObject({ code: 'JOURNAL_FENCED' });
    await expect(third.close()).rejects.toMatchObject({ code: 'JOURNAL_FENCED' });
  });

  it('survives a closed NATS connection: flush rejects, onError is told, nothing crashes', async () => {
    const connection = await connect({ servers: NATS_SERVERS });
    connections.push(connection);
    const errors: JournalError[] = [];
    const journal = await open({ groupCommitMs: 60_000, onError: (error) => errors.push(error) }, connection);
    journal.append(ringingFact(randomUUID(), 1));
    await journal.flush();
    journal.append(ringingFact(randomUUID(), 2));
    await connection.close();
    await expect(journal.flush()).rejects.toMatchObject({ code: 'JOURNAL_WRITE_FAILED' });
    expect(errors[0]).toMatchObject({ code: 'JOURNAL_WRITE_FAILED' });
    // Still buffered and readable; the retry keeps failing quietly to onError.
    expect((await journal.read(1, 10)).map((entry) => entry.seq)).toEqual([2]);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(errors.length).toBeGreaterThan(1);
    opened.splice(opened.indexOf(journal), 1);
    await expect(journal.close()).rejects.toMatchObject({ code: 'JOURNAL_WRITE_FAILED' });
    expect(await streamMessages()).toBe(1);
  });

  /** A journal whose connection goes through the relay (cut, muted), with its errors collected. */
  async function openThroughRelay(port: number) {
    const connection = await connect({
      servers: `127.0.0.1:${port}`,
      reconnectTimeWait: 50,
      maxReconnectAttempts: -1,
    });
    connections.push(connection);
    const errors: JournalError[] = [];
    const journal = await open(
      { groupCommitMs: 1, publishTimeoutMs: 200, onError: (error) => errors.push(error) },
      connection,
    );
    return { journal, errors };
  }

  it('retries publishes lost in an outage, in order and without duplicates, once the server is back', async () => {
    const relay = await startNatsRelay(NATS_SERVERS);
    try {
      const { journal, errors } = await openThroughRelay(relay.port);
      const callId = randomUUID();
      for (let n = 0; n < 50; n += 1) journal.append(ringingFact(callId, n));
      await journal.flush();
      relay.cut();
      for (let n = 50; n < 100; n += 1) journal.append(ringingFact(callId, n));
      await sleep(700);
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.every((error) => error.code === 'JOURNAL_WRITE_FAILED')).toBe(true);
      expect(journal.stats().durableSeq).toBe(50);
      relay.mend();
      // No flush: the retry alone gets everything through.
      for (let waited = 0; journal.stats().durableSeq < 100 && waited < 10_000; waited += 50) await sleep(50);
      expect(journal.stats()).toMatchObject({ durableSeq: 100, pending: 0 });
      expect(await streamMessages()).toBe(100);
      const reader = await open();
      const stored = await reader.read(0, 200);
      expect(stored.map((entry) => entry.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(stored.map((entry) => entry.fact.type === 'LegRinging' && entry.fact.callLegId)).toEqual(
        Array.from({ length: 100 }, (_, n) => `leg-${n}`),
      );
    } finally {
      await relay.close();
    }
  });

  it('retries publishes whose acks were lost: the server dedupes them, the journal knows them as its own', async () => {
    const relay = await startNatsRelay(NATS_SERVERS);
    try {
      const { journal, errors } = await openThroughRelay(relay.port);
      const callId = randomUUID();
      journal.append(ringingFact(callId, 0));
      await journal.flush();
      relay.muteReplies();
      for (let n = 1; n < 50; n += 1) journal.append(ringingFact(callId, n));
      // Stored by the server, but no ack came back.
      for (let waited = 0; (await streamMessages()) < 50 && waited < 5000; waited += 50) await sleep(50);
      await sleep(300);
      expect(errors.map((error) => error.code)).toContain('JOURNAL_WRITE_FAILED');
      expect(journal.stats().durableSeq).toBe(1);
      relay.cut();
      relay.mend();
      for (let waited = 0; journal.stats().durableSeq < 50 && waited < 10_000; waited += 50) await sleep(50);
      expect(journal.stats()).toMatchObject({ durableSeq: 50, pending: 0 });
      expect(errors.map((error) => error.code)).not.toContain('JOURNAL_FENCED');
      expect(await streamMessages()).toBe(50);
      journal.append(ringingFact(callId, 50));
      await journal.flush();
      expect(await streamMessages()).toBe(51);
    } finally {
      await relay.close();
    }
  });

  it('continues numbering after reopen, from the stream state', async () => {
    const first = await open();
    for (let n = 0; n < 3; n += 1) first.append(ringingFact(randomUUID(), n));
    await first.close();
    const second = await open();
    expect(second.lastSeq()).toBe(3);
    expect(second.append(ringingFact(randomUUID(), 3)).seq).toBe(4);
    await second.flush();
    expect(await streamMessages()).toBe(4);
  });

  it("keeps two nodes' journals independent on one server, and lists the nodes", async () => {
    const a = await open({ nodeId: 'node-a' });
    const b = await open({ nodeId: 'node-b' });
    const callId = randomUUID();
    a.append(legCreatedFact(callId, 'leg-a', 'sip-a', 'caller'));
    a.append(ringingFact(callId, 1));
    b.append(legCreatedFact(callId, 'leg-b', 'sip-b', 'allocation'));
    await Promise.all([a.flush(), b.flush()]);
    expect([a.lastSeq(), b.lastSeq()]).toEqual([2, 1]);
    expect((await b.read(0, 10)).map((entry) => entry.fact.type)).toEqual(['LegCreated']);
    expect((await a.readCall(callId)).map((entry) => entry.seq)).toEqual([1, 2]);
    expect(await a.findLegs({ callLegIds: ['leg-a', 'leg-b'] })).toHaveLength(1);
    expect((await b.findLegs({ sipCallIds: ['sip-a', 'sip-b'] })).map((leg) => leg.callLegId)).toEqual([
      'leg-b',
    ]);
    await a.markSettled(2);
    expect([await a.settledSeq(), await b.settledSeq()]).toEqual([2, 0]);
    expect(await listJournalNodes(nc, prefixes.streamPrefix)).toEqual(['node-a', 'node-b']);
  });

  it('encodes CallIds that are no subject token, and finds them again', async () => {
    const journal = await open();
    const odd = ['a.b', 'x > y', '*', 'tab\there', '~raw'];
    for (const callId of odd) journal.append(ringingFact(callId, 1));
    journal.append(ringingFact('agent:7b2c', 1));
    await journal.flush();
    for (const callId of [...odd, 'agent:7b2c']) {
      expect((await journal.readCall(callId)).map((entry) => entry.fact.callId)).toEqual([callId]);
    }
  });

  it('rejects bad options with coded errors', async () => {
    for (const nodeId of ['', 'a.b', 'x y', 'n'.repeat(65)]) {
      await expect(openJetStreamJournal(nc, { nodeId })).rejects.toMatchObject({
        code: 'JOURNAL_BAD_OPTION',
      });
    }
    await expect(openJetStreamJournal(nc, { nodeId: 'n', subjectPrefix: 'a.*' })).rejects.toMatchObject({
      code: 'JOURNAL_BAD_OPTION',
    });
    await expect(openJetStreamJournal(nc, { nodeId: 'n', maxBatch: 0 })).rejects.toMatchObject({
      code: 'JOURNAL_BAD_OPTION',
    });
  });
});

describe('server version check', () => {
  it('compares versions numerically', () => {
    expect(compareServerVersions('2.9.10', '2.9.0')).toBeGreaterThan(0);
    expect(compareServerVersions('2.9.10', '2.10.0')).toBeLessThan(0);
    expect(compareServerVersions('2.10.0-RC.1', '2.10.0')).toBe(0);
    expect(compareServerVersions('3.0.0', '2.99.99')).toBeGreaterThan(0);
  });

  it(`refuses servers older than ${MIN_SERVER_VERSION}, naming the versions`, async () => {
    expect(() => checkServerVersion('2.9.10')).not.toThrow();
    expect(() => checkServerVersion('2.11.3')).not.toThrow();
    for (const version of ['2.8.4', '2.2.0', 'garbage', undefined]) {
      expect(() => checkServerVersion(version)).toThrowError(
        expect.objectContaining({ code: 'JOURNAL_UNSUPPORTED_SERVER' }),
      );
    }
    expect(() => checkServerVersion('2.8.4')).toThrowError(
      /needs nats-server 2\.9\.0 or newer, found 2\.8\.4/,
    );
    // Refused before any request reaches the (fake) connection.
    const oldServer = { info: { version: '2.8.4', jetstream: true } } as unknown as NatsConnection;
    await expect(openJetStreamJournal(oldServer, { nodeId: 'n' })).rejects.toMatchObject({
      code: 'JOURNAL_UNSUPPORTED_SERVER',
    });
  });

  it('accepts the server this machine runs', () => {
    expect(() => checkServerVersion(nc.info?.version)).not.toThrow();
  });
});
