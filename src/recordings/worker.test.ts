/**
 * The recording worker over a real SQLite journal and a real SQLite recording store; only the
 * renderer is a stand-in (./testing.ts — the real one is tested over real rtpengine captures).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recoverInterruptedCalls } from '../journal/recovery.js';
import { openSqliteJournal, type SqliteJournal } from '../journal/sqlite-journal.js';
import { QUEUE_SUPPORT, ScriptedCall, USER_A, USER_B, USER_C } from '../records/postprocess/test-calls.js';
import { openDatabase, type SqlDatabase } from '../records/store/index.js';
import type { RecordingsError } from './errors.js';
import { openRecordingStore, type RecordingStore } from './store.js';
import { FakeRenderer, tinyMp3 } from './testing.js';
import { createRecordingWorker, type RecordingWorkerOptions } from './worker.js';

let dir: string;
let journal: SqliteJournal;
let database: SqlDatabase;
let store: RecordingStore;
let renderer: FakeRenderer;
let errors: RecordingsError[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'recordings-worker-'));
  journal = openSqliteJournal(join(dir, 'journal.db'), { groupCommitMs: 0 });
  database = await openDatabase({ dataDir: dir });
  store = await openRecordingStore(database);
  renderer = new FakeRenderer();
  errors = [];
});

afterEach(async () => {
  await journal.close();
  await database.close();
  rmSync(dir, { recursive: true, force: true });
});

const recordingsDir = () => join(dir, 'recordings');

function worker(options: Partial<RecordingWorkerOptions> = {}) {
  return createRecordingWorker({
    journal,
    store,
    renderer,
    recordingsDir: recordingsDir(),
    onError: (error) => errors.push(error),
    ...options,
  });
}

/** The seed scenario, recorded by its queue: A calls Support, B declines, C answers, A hangs up. */
function seedCall(): { call: ScriptedCall; recordingId: string; legC: string } {
  const call = new ScriptedCall(journal).startService(QUEUE_SUPPORT, USER_A);
  const legB = call.ringingOffer(QUEUE_SUPPORT, USER_B);
  call.decline(legB, QUEUE_SUPPORT, USER_B);
  const legC = call.ringingOffer(QUEUE_SUPPORT, USER_C);
  call.connectAllocation(legC, QUEUE_SUPPORT, USER_C);
  const recordingId = call.record({ kind: 'queue', queueId: QUEUE_SUPPORT });
  return { call, recordingId, legC };
}

async function entryOf(callId: string, type: string) {
  return (await journal.readCall(callId)).find((entry) => entry.fact.type === type)!;
}

describe('the recording worker', () => {
  it('renders an ended call: the file under its id, a ready row with the parties who were connected', async () => {
    const { call, recordingId, legC } = seedCall();
    const ended = call.hangup();
    const w = worker();
    await w.catchUp();

    const started = await entryOf(call.callId, 'RecordingStarted');
    expect(renderer.jobs).toEqual([
      {
        recordingId,
        callId: call.callId,
        owner: { kind: 'queue', queueId: QUEUE_SUPPORT },
        aLegId: call.callerLegId,
        bLegId: legC,
        // B only declined: not a party.
        partyUserIds: [USER_A, USER_C],
        startedMs: started.timeMs,
        endedMs: ended.timeMs,
      },
    ]);
    expect(readFileSync(join(recordingsDir(), `${recordingId}.mp3`))).toEqual(tinyMp3());
    // Atomic writes leave no temporary files behind.
    expect(readdirSync(recordingsDir())).toEqual([`${recordingId}.mp3`]);
    expect(await store.getRecording(recordingId)).toMatchObject({
      recordingId,
      callId: call.callId,
      callLegIds: [call.callerLegId, legC],
      ownerKind: 'queue',
      ownerId: QUEUE_SUPPORT,
      partyUserIds: [USER_A, USER_C],
      startedAt: new Date(started.timeMs).toISOString(),
      durationMs: ended.timeMs - started.timeMs,
      sizeBytes: tinyMp3().length,
      contentType: 'audio/mpeg',
      fileName: `${recordingId}.mp3`,
      state: 'ready',
      error: null,
      attempts: 1,
    });
    expect(await store.recordingsOfCall(call.callId)).toHaveLength(1);
    expect(w.processedSeq()).toBe(journal.lastSeq());
    expect(await store.readCheckpoint('recordings')).toBe(journal.lastSeq());
    expect(errors).toEqual([]);
  });

  it('waits for the call to end, and leaves calls without recordings alone', async () => {
    const { call, recordingId } = seedCall();
    const plain = new ScriptedCall(journal).startDirect('1002', USER_A);
    plain.answer(plain.placeLeg('callee', USER_B), USER_B);
    plain.hangup();
    const w = worker();
    await w.catchUp();
    expect(renderer.jobs).toEqual([]);
    expect(await store.getRecording(recordingId)).toBeUndefined();

    call.hangup();
    await w.catchUp();
    expect(renderer.jobs.map((job) => job.recordingId)).toEqual([recordingId]);
  });

  it('is idempotent under replay: another consumer from seq 0 renders nothing again', async () => {
    const { call, recordingId } = seedCall();
    call.hangup();
    await worker().catchUp();
    const before = await store.getRecording(recordingId);
    await worker({ consumerName: 'replay' }).catchUp();
    expect(renderer.jobs).toHaveLength(1);
    expect(await store.getRecording(recordingId)).toEqual(before);
  });

  it('restarts from its checkpoint', async () => {
    const first = seedCall();
    first.call.hangup();
    await worker().catchUp();
    const second = seedCall();
    second.call.hangup();
    // A new worker (a restart) reads only what follows the checkpoint.
    await worker().catchUp();
    expect(renderer.jobs.map((job) => job.recordingId)).toEqual([first.recordingId, second.recordingId]);
  });

  it('marks a failed render, keeps going with other calls, and retries a bounded number of times', async () => {
    let clock = Date.now();
    const failing = seedCall();
    failing.call.hangup();
    const fine = seedCall();
    fine.call.hangup();
    renderer.failures.set(failing.recordingId, -1);
    const w = worker({ now: () => clock, maxAttempts: 3, retryDelayMs: () => 1000 });
    await w.catchUp();

    expect(await store.getRecording(failing.recordingId)).toMatchObject({
      state: 'failed',
      error: `no capture for ${failing.recordingId}`,
      attempts: 1,
      sizeBytes: 0,
    });
    expect(await store.getRecording(fine.recordingId)).toMatchObject({ state: 'ready' });
    expect(w.processedSeq()).toBe(journal.lastSeq());
    expect(errors.map((error) => error.code)).toEqual(['RECORDINGS_RENDER_FAILED']);

    // Not due yet.
    expect(await w.retryFailed()).toBe(0);
    clock += 1000;
    expect(await w.retryFailed()).toBe(1);
    expect(await store.getRecording(failing.recordingId)).toMatchObject({ state: 'failed', attempts: 2 });
    clock += 1000;
    expect(await w.retryFailed()).toBe(1);
    clock += 1000;
    // Three attempts in all: no more.
    expect(await w.retryFailed()).toBe(0);
    expect(await store.getRecording(failing.recordingId)).toMatchObject({ state: 'failed', attempts: 3 });
    expect(renderer.jobs.filter((job) => job.recordingId === failing.recordingId)).toHaveLength(3);
    expect(existsIn(recordingsDir(), `${failing.recordingId}.mp3`)).toBe(false);
    // A replay does not start the failed one over either.
    await worker({ consumerName: 'replay', now: () => clock }).catchUp();
    expect(renderer.jobs).toHaveLength(4);
  });

  it('a retry that succeeds makes the recording ready, keeping its creation time', async () => {
    let clock = Date.now();
    const { call, recordingId } = seedCall();
    call.hangup();
    renderer.failures.set(recordingId, 1);
    const w = worker({ now: () => clock, retryDelayMs: () => 10 });
    await w.catchUp();
    const failed = await store.getRecording(recordingId);
    clock += 10;
    expect(await w.retryFailed()).toBe(1);
    expect(await store.getRecording(recordingId)).toMatchObject({
      state: 'ready',
      error: null,
      attempts: 2,
      createdAt: failed!.createdAt,
    });
    expect(readFileSync(join(recordingsDir(), `${recordingId}.mp3`))).toEqual(tinyMp3());
  });

  it('renders a call that crash recovery ended, up to its last sign of life', async () => {
    const { call, recordingId } = seedCall();
    const lastFact = await entryOf(call.callId, 'RecordingStarted');
    expect(await recoverInterruptedCalls(journal)).toEqual([call.callId]);
    await worker().catchUp();
    expect(renderer.jobs).toMatchObject([{ recordingId, endedMs: lastFact.timeMs }]);
    expect(await store.getRecording(recordingId)).toMatchObject({ state: 'ready' });
  });

  it('retention deletes old recordings, files and rows, and a replay does not bring them back', async () => {
    const { call, recordingId } = seedCall();
    call.hangup();
    const fresh = seedCall();
    fresh.call.hangup();
    await worker().catchUp();
    // Make the first one 40 days old.
    const row = (await store.getRecording(recordingId))!;
    await store.putRecording({ ...row, startedAt: new Date(Date.now() - 40 * 86_400_000).toISOString() });

    const w = worker({ retentionDays: 30 });
    expect(await w.applyRetention()).toBe(1);
    expect(await store.getRecording(recordingId)).toBeUndefined();
    expect(existsIn(recordingsDir(), `${recordingId}.mp3`)).toBe(false);
    expect(await store.getRecording(fresh.recordingId)).toMatchObject({ state: 'ready' });
    expect(existsIn(recordingsDir(), `${fresh.recordingId}.mp3`)).toBe(true);
    expect(await w.applyRetention()).toBe(0);

    // Replayed 40 days later, both calls are past retention: nothing is rendered again.
    const later = Date.now() + 40 * 86_400_000;
    await worker({ consumerName: 'replay', retentionDays: 30, now: () => later }).catchUp();
    expect(renderer.jobs).toHaveLength(2);
  });

  it('follows the journal once started, and retries failures on its own', async () => {
    const w = worker({ retryDelayMs: () => 50 });
    await w.catchUp();
    w.start();
    try {
      const { call, recordingId } = seedCall();
      renderer.failures.set(recordingId, 1);
      call.hangup();
      await waitFor(async () => (await store.getRecording(recordingId))?.state === 'ready');
      expect(await store.getRecording(recordingId)).toMatchObject({ attempts: 2 });
    } finally {
      await w.stop();
    }
  });

  it('refuses a checkpoint past the end of the journal', async () => {
    await store.writeCheckpoint('recordings', 99);
    await expect(worker().catchUp()).rejects.toMatchObject({
      code: 'RECORDINGS_CHECKPOINT_AHEAD_OF_JOURNAL',
    });
  });
});

function existsIn(directory: string, name: string): boolean {
  try {
    return readdirSync(directory).includes(name);
  } catch {
    return false;
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
