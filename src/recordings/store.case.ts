/**
 * The recording store contract, run on SQLite and PostgreSQL by ./store.sqlite.test.ts and
 * ./store.postgres.test.ts, on a database shared with the record store (as the platform runs it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRecordStore } from '../records/store/index.js';
import type { DatabaseFactory } from '../records/store/test-stores.js';
import { openRecordingStore, type RecordingStore } from './store.js';
import type { RecordingRow } from './types.js';

const T0 = Date.UTC(2030, 0, 15, 12, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

export function recordingRow(overrides: Partial<RecordingRow> = {}): RecordingRow {
  const recordingId = overrides.recordingId ?? '7e000000-0000-4000-8000-000000000001';
  return {
    recordingId,
    callId: 'ca110000-0000-4000-8000-000000000001',
    callLegIds: ['1e900000-0000-4000-8000-0000000000a1', '1e900000-0000-4000-8000-0000000000c1'],
    ownerKind: 'queue',
    ownerId: '9e0e0000-0000-4000-8000-000000000001',
    partyUserIds: ['05e40000-0000-4000-8000-00000000000a', '05e40000-0000-4000-8000-00000000000c'],
    startedAt: iso(T0),
    durationMs: 41_250,
    sizeBytes: 1234,
    contentType: 'audio/mpeg',
    fileName: `${recordingId}.mp3`,
    state: 'ready',
    error: null,
    attempts: 1,
    createdAt: iso(T0 + 60_000),
    updatedAt: iso(T0 + 60_000),
    ...overrides,
  };
}

export function runRecordingStoreContract(name: string, makeFactory: () => DatabaseFactory): void {
  describe(`recording store contract: ${name}`, () => {
    let factory: DatabaseFactory;
    let count = 0;

    async function open(databaseName = `r${++count}`): Promise<RecordingStore> {
      const database = await factory.open(databaseName);
      await openRecordStore(database);
      return openRecordingStore(database);
    }

    // No I/O here: with the database down every test must fail on its own, not be skipped.
    beforeAll(() => {
      factory = makeFactory();
    });
    afterAll(async () => {
      await factory?.cleanup();
    });

    it('stores a row and reads it back exactly; unknown ids are undefined', async () => {
      const store = await open();
      const row = recordingRow();
      await store.putRecording(row);
      expect(await store.getRecording(row.recordingId)).toEqual(row);
      expect(await store.getRecording('7e000000-0000-4000-8000-0000000000ff')).toBeUndefined();
    });

    it('upserts by recordingId: a later attempt replaces the row but keeps its creation time', async () => {
      const store = await open();
      const failed = recordingRow({
        state: 'failed',
        error: 'no capture yet',
        durationMs: 0,
        sizeBytes: 0,
        attempts: 1,
      });
      await store.putRecording(failed);
      await store.putRecording(failed);
      const ready = recordingRow({
        attempts: 2,
        createdAt: iso(T0 + 99_000),
        updatedAt: iso(T0 + 120_000),
      });
      await store.putRecording(ready);
      expect(await store.getRecording(ready.recordingId)).toEqual({ ...ready, createdAt: failed.createdAt });
      expect(await store.recordingsOfCall(ready.callId)).toHaveLength(1);
    });

    it("lists a call's recordings oldest first, and nothing for another call", async () => {
      const store = await open();
      const later = recordingRow({
        recordingId: '7e000000-0000-4000-8000-000000000002',
        startedAt: iso(T0 + 5000),
      });
      const first = recordingRow({ recordingId: '7e000000-0000-4000-8000-000000000003' });
      const other = recordingRow({
        recordingId: '7e000000-0000-4000-8000-000000000004',
        callId: 'ca110000-0000-4000-8000-000000000002',
      });
      for (const row of [later, first, other]) await store.putRecording(row);
      expect((await store.recordingsOfCall(first.callId)).map((row) => row.recordingId)).toEqual([
        first.recordingId,
        later.recordingId,
      ]);
      expect(await store.recordingsOfCall('ca110000-0000-4000-8000-0000000000ff')).toEqual([]);
    });

    it('lists what started before a cut-off for retention, and deletes rows', async () => {
      const store = await open();
      const day = 86_400_000;
      const old = recordingRow({
        recordingId: '7e000000-0000-4000-8000-000000000011',
        startedAt: iso(T0 - 40 * day),
      });
      const older = recordingRow({
        recordingId: '7e000000-0000-4000-8000-000000000012',
        startedAt: iso(T0 - 50 * day),
      });
      const fresh = recordingRow({
        recordingId: '7e000000-0000-4000-8000-000000000013',
        startedAt: iso(T0 - day),
      });
      for (const row of [old, older, fresh]) await store.putRecording(row);
      const cutoff = iso(T0 - 30 * day);
      expect((await store.listRecordingsOlderThan(cutoff)).map((row) => row.recordingId)).toEqual([
        older.recordingId,
        old.recordingId,
      ]);
      expect(await store.listRecordingsOlderThan(cutoff, 1)).toHaveLength(1);
      expect(await store.deleteRecording(older.recordingId)).toBe(true);
      expect(await store.deleteRecording(older.recordingId)).toBe(false);
      expect(await store.getRecording(older.recordingId)).toBeUndefined();
      expect((await store.listRecordingsOlderThan(cutoff)).map((row) => row.recordingId)).toEqual([
        old.recordingId,
      ]);
    });

    it('lists failed recordings that may be retried', async () => {
      const store = await open();
      const retry = recordingRow({
        recordingId: '7e000000-0000-4000-8000-000000000021',
        state: 'failed',
        error: 'x',
        attempts: 1,
      });
      const exhausted = recordingRow({
        recordingId: '7e000000-0000-4000-8000-000000000022',
        state: 'failed',
        error: 'x',
        attempts: 3,
      });
      const ready = recordingRow({ recordingId: '7e000000-0000-4000-8000-000000000023' });
      for (const row of [retry, exhausted, ready]) await store.putRecording(row);
      expect((await store.listFailedRecordings(3)).map((row) => row.recordingId)).toEqual([
        retry.recordingId,
      ]);
      expect(await store.listFailedRecordings(4)).toHaveLength(2);
    });

    it('keeps checkpoints per consumer, and everything across close and reopen (migrations run once)', async () => {
      const first = await factory.open('reopen');
      await openRecordStore(first);
      const store = await openRecordingStore(first);
      expect(await store.readCheckpoint('recordings')).toBe(0);
      await store.writeCheckpoint('recordings', 41);
      await store.writeCheckpoint('recordings', 42);
      await store.writeCheckpoint('other', 7);
      await store.putRecording(recordingRow());
      await first.close();
      const again = await open('reopen');
      expect(await again.readCheckpoint('recordings')).toBe(42);
      expect(await again.readCheckpoint('other')).toBe(7);
      expect(await again.getRecording(recordingRow().recordingId)).toEqual(recordingRow());
    });

    it('works on a database without the record store', async () => {
      const database = await factory.open('alone');
      const store = await openRecordingStore(database);
      await store.putRecording(recordingRow());
      expect(await store.getRecording(recordingRow().recordingId)).toEqual(recordingRow());
    });
  });
}
