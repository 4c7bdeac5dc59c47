/**
 * The recording worker: follows the journal from its own checkpoint (as post-processing does,
 * src/records/postprocess/post-processor.ts) and, once a call that was recorded has ended, renders
 * each of its recordings into `<recordingsDir>/<recordingId>.mp3` and writes its `RecordingRow`.
 *
 * - A call is folded with the journal's one fold (src/journal/fold.ts) from all of its entries
 *   (`readCall`) when its `CallEnded` (or a late `RecordingStarted`) passes the cursor, so no
 *   per-call state is kept between passes and a restart needs nothing but the checkpoint.
 * - A render that throws is a 'failed' row (with the error), never a stuck worker: the checkpoint
 *   moves past it like past any call, and the recording is retried on its own schedule (the row
 *   counts attempts; `maxAttempts` in all), rebuilt from the journal each time.
 * - Idempotent: a recording whose row is 'ready' (or 'failed' and owned by the retry schedule) is
 *   not rendered again when the journal is replayed; files are written to a temporary name and
 *   renamed, so a reader never sees half a file and a crash leaves no half file under the real name.
 * - Retention (`retentionDays`): recordings that started longer ago are deleted, file then row, on
 *   a timer and by `applyRetention()`; a replay does not bring them back.
 */
import { type FoldedCall, foldCall } from '../journal/fold.js';
import type { Journal, JournalEntry, JournalLookup } from '../journal/types.js';
import { RecordingsError } from './errors.js';
import { localRecordingFiles, type RecordingFiles } from './files.js';
import type { RecordingStore } from './store.js';
import type { RecordingJob, RecordingRenderer, RecordingRow } from './types.js';

export interface RecordingWorkerOptions {
  journal: Journal & JournalLookup;
  store: RecordingStore;
  renderer: RecordingRenderer;
  /** Where the MP3 files go (created when missing), unless `files` says otherwise. */
  recordingsDir: string;
  /** The file store (default: `localRecordingFiles(recordingsDir)`). */
  files?: RecordingFiles;
  /** Checkpoint name (default 'recordings'). */
  consumerName?: string;
  /** Wall clock, epoch ms (default Date.now): rows' times, retry schedule, retention. */
  now?: () => number;
  /** Journal entries read per pass step (default 500). */
  batchSize?: number;
  /** Render attempts per recording, the first included (default 4). */
  maxAttempts?: number;
  /** Pause before retry n (n = attempts made so far, from 1). Default 5 s × 4^(n−1): 5 s, 20 s, 80 s. */
  retryDelayMs?: (attempts: number) => number;
  /** Delete recordings that started more than this many days ago; absent or 0 = keep forever. */
  retentionDays?: number;
  /** How often retention runs while started (default hourly). */
  retentionIntervalMs?: number;
  /** Told about background failures (passes are retried from the checkpoint) and failed renders. */
  onError?: (error: RecordingsError) => void;
}

export interface RecordingWorker {
  /** Follow the journal (subscribe), retry failed renders when due, run retention. Call after catchUp. */
  start(): void;
  /** Stop following; resolves when the work in flight is done. */
  stop(): Promise<void>;
  /** Process every entry appended so far (start-up, tests, shutdown). */
  catchUp(): Promise<void>;
  /** Retry the failed renders that are due now; resolves with how many were attempted. */
  retryFailed(): Promise<number>;
  /** Delete recordings older than `retentionDays` (files and rows); resolves with how many. */
  applyRetention(): Promise<number>;
  /** The seq up to which the journal is processed (the checkpoint), once known. */
  processedSeq(): number;
}

const DEFAULT_CONSUMER = 'recordings';
const DEFAULT_BATCH_SIZE = 500;
const DEFAULT_MAX_ATTEMPTS = 4;
const DEFAULT_RETENTION_INTERVAL_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
const COALESCE_MS = 20;
const PASS_RETRY_BASE_MS = 500;
const PASS_RETRY_MAX_MS = 60_000;
const CONTENT_TYPE = 'audio/mpeg';

const defaultRetryDelay = (attempts: number): number => 5000 * 4 ** Math.max(0, attempts - 1);

/** The jobs of an ended call's recordings: its parties from the legs, its end from the fold. */
export function recordingJobsOf(call: FoldedCall): RecordingJob[] {
  if (call.ended === null) return [];
  const { endedMs } = call.ended;
  return (call.recordings ?? []).map((recording) => {
    const userOf = (callLegId: string) =>
      call.legs.find((leg) => leg.callLegId === callLegId)?.userId ?? null;
    const partyUserIds = [
      ...new Set(
        [recording.aLegId, recording.bLegId, ...(recording.continuedWith ?? [])]
          .map(userOf)
          .filter((id): id is string => id !== null),
      ),
    ];
    return {
      recordingId: recording.recordingId,
      callId: call.callId,
      owner:
        recording.ownerKind === 'queue'
          ? { kind: 'queue', queueId: recording.ownerId }
          : { kind: 'user', userId: recording.ownerId },
      aLegId: recording.aLegId,
      bLegId: recording.bLegId,
      ...(recording.aEnginePorts ? { aEnginePorts: recording.aEnginePorts } : {}),
      ...(recording.bEnginePorts ? { bEnginePorts: recording.bEnginePorts } : {}),
      partyUserIds,
      startedMs: recording.startedMs,
      endedMs: Math.max(recording.startedMs, endedMs),
    };
  });
}

export function createRecordingWorker(opts: RecordingWorkerOptions): RecordingWorker {
  const { journal, store, renderer } = opts;
  const files = opts.files ?? localRecordingFiles(opts.recordingsDir);
  const consumer = opts.consumerName ?? DEFAULT_CONSUMER;
  const now = opts.now ?? Date.now;
  const batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
  const maxAttempts = Math.max(1, opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
  const retryDelayMs = opts.retryDelayMs ?? defaultRetryDelay;
  const retentionMs = opts.retentionDays && opts.retentionDays > 0 ? opts.retentionDays * DAY_MS : undefined;
  const reportError = opts.onError ?? (() => {});

  let cursor: number | undefined;
  let chain: Promise<unknown> = Promise.resolve();
  let running = false;
  let unsubscribe: (() => void) | undefined;
  let kickQueued = false;
  let passTimer: NodeJS.Timeout | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let retryAtMs = Number.POSITIVE_INFINITY;
  let retentionTimer: NodeJS.Timeout | undefined;
  let passFailures = 0;

  /** Passes, retries and retention never overlap: each sees what the previous one wrote. */
  function exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = chain.then(work, work);
    chain = run.catch(() => {});
    return run;
  }

  const isExpired = (startedMs: number): boolean =>
    retentionMs !== undefined && startedMs < now() - retentionMs;

  async function ensureCursor(): Promise<number> {
    if (cursor !== undefined) return cursor;
    const checkpoint = await store.readCheckpoint(consumer);
    if (checkpoint > journal.lastSeq()) {
      throw new RecordingsError(
        'RECORDINGS_CHECKPOINT_AHEAD_OF_JOURNAL',
        `checkpoint '${consumer}' is at ${checkpoint} but the journal ends at ${journal.lastSeq()}: ` +
          'the journal was replaced or truncated; reset the checkpoint to replay it',
      );
    }
    cursor = checkpoint;
    return cursor;
  }

  /** One render attempt; its outcome is the recording's row. Never throws for a render failure. */
  async function attempt(job: RecordingJob, previous: RecordingRow | undefined): Promise<void> {
    const attempts = (previous?.attempts ?? 0) + 1;
    const fileName = `${job.recordingId}.mp3`;
    const stampIso = new Date(now()).toISOString();
    const base = {
      recordingId: job.recordingId,
      callId: job.callId,
      callLegIds: [job.aLegId, job.bLegId],
      ownerKind: job.owner.kind,
      ownerId: job.owner.kind === 'queue' ? job.owner.queueId : job.owner.userId,
      partyUserIds: job.partyUserIds,
      startedAt: new Date(job.startedMs).toISOString(),
      contentType: CONTENT_TYPE,
      fileName,
      attempts,
      createdAt: previous?.createdAt ?? stampIso,
      updatedAt: stampIso,
    } satisfies Partial<RecordingRow>;
    let row: RecordingRow;
    try {
      const { mp3, durationMs } = await renderer.render(job);
      await files.put(fileName, mp3);
      row = { ...base, durationMs, sizeBytes: mp3.length, state: 'ready', error: null };
    } catch (cause) {
      const message = cause instanceof Error ? cause.message : String(cause);
      row = {
        ...base,
        durationMs: job.endedMs - job.startedMs,
        sizeBytes: 0,
        state: 'failed',
        error: message.slice(0, 2000),
      };
      const retry = attempts < maxAttempts ? `; retrying in ${retryDelayMs(attempts)} ms` : '; giving up';
      reportError(
        new RecordingsError(
          'RECORDINGS_RENDER_FAILED',
          `recording ${job.recordingId} of call ${job.callId}: attempt ${attempts} of ${maxAttempts} failed: ${message}${retry}`,
          { cause },
        ),
      );
    }
    await store.putRecording(row);
    if (row.state === 'failed' && attempts < maxAttempts) armRetry(now() + retryDelayMs(attempts));
  }

  /** The recordings of the calls these entries end, rendered unless already done or handed to retry. */
  async function renderEndedCalls(entries: JournalEntry[]): Promise<void> {
    const callIds = new Set<string>();
    for (const { fact } of entries) {
      if (fact.type === 'CallEnded' || fact.type === 'RecordingStarted' || fact.type === 'RecordingContinued')
        callIds.add(fact.callId);
    }
    for (const callId of callIds) {
      const call = foldCall(callId, await journal.readCall(callId));
      for (const job of recordingJobsOf(call)) {
        if (isExpired(job.startedMs)) continue;
        const existing = await store.getRecording(job.recordingId);
        // Ready, or failed and left to the retry schedule (or out of attempts): nothing to do here.
        if (existing !== undefined) continue;
        await attempt(job, undefined);
      }
    }
  }

  async function pass(untilSeq: number): Promise<void> {
    let position = await ensureCursor();
    while (position < untilSeq) {
      const entries = (await journal.read(position, batchSize)).filter((entry) => entry.seq <= untilSeq);
      if (entries.length === 0) break;
      // Files must never come from facts a crash could still lose (the seqs would be reused).
      await journal.flush();
      await renderEndedCalls(entries);
      const lastSeq = entries[entries.length - 1]!.seq;
      await store.writeCheckpoint(consumer, lastSeq);
      cursor = position = lastSeq;
    }
  }

  async function retryDue(): Promise<number> {
    const failed = await store.listFailedRecordings(maxAttempts);
    const nowMs = now();
    let attempted = 0;
    let nextAtMs = Number.POSITIVE_INFINITY;
    for (const row of failed) {
      const dueMs = Date.parse(row.updatedAt) + retryDelayMs(row.attempts);
      if (dueMs > nowMs) {
        nextAtMs = Math.min(nextAtMs, dueMs);
        continue;
      }
      const job = recordingJobsOf(foldCall(row.callId, await journal.readCall(row.callId))).find(
        (candidate) => candidate.recordingId === row.recordingId,
      );
      if (job === undefined) {
        // The journal no longer has the call's end (replaced journal): nothing to render from.
        await store.putRecording({
          ...row,
          attempts: maxAttempts,
          error: `${row.error ?? 'failed'}; the journal no longer holds the call`,
          updatedAt: new Date(nowMs).toISOString(),
        });
        continue;
      }
      attempted += 1;
      await attempt(job, row);
    }
    if (nextAtMs !== Number.POSITIVE_INFINITY) armRetry(nextAtMs);
    return attempted;
  }

  async function retention(): Promise<number> {
    if (retentionMs === undefined) return 0;
    const cutoffIso = new Date(now() - retentionMs).toISOString();
    let deleted = 0;
    for (;;) {
      const rows = await store.listRecordingsOlderThan(cutoffIso, 500);
      if (rows.length === 0) return deleted;
      for (const row of rows) {
        // The file first: a row without a file is a 404 anyway, a file without a row is litter.
        try {
          await files.remove(row.fileName);
        } catch (cause) {
          throw new RecordingsError(
            'RECORDINGS_RETENTION_FAILED',
            `cannot delete ${row.fileName}: ${String(cause)}`,
            { cause },
          );
        }
        await store.deleteRecording(row.recordingId);
        deleted += 1;
      }
    }
  }

  function armRetry(atMs: number): void {
    if (!running || atMs >= retryAtMs) return;
    if (retryTimer) clearTimeout(retryTimer);
    retryAtMs = atMs;
    retryTimer = setTimeout(
      () => {
        retryTimer = undefined;
        retryAtMs = Number.POSITIVE_INFINITY;
        exclusive(retryDue).catch((cause) => {
          reportError(asWorkerError(cause, 'retrying failed renders'));
          armRetry(now() + PASS_RETRY_MAX_MS);
        });
      },
      Math.max(0, atMs - now()),
    );
    retryTimer.unref?.();
  }

  /** A background pass soon; appends within a few ms share it. */
  function kick(): void {
    if (!running || kickQueued || passTimer) return;
    kickQueued = true;
    setTimeout(() => {
      kickQueued = false;
      void backgroundPass();
    }, COALESCE_MS);
  }

  async function backgroundPass(): Promise<void> {
    if (!running) return;
    try {
      await exclusive(() => pass(journal.lastSeq()));
      passFailures = 0;
    } catch (cause) {
      passFailures += 1;
      reportError(asWorkerError(cause, 'following the journal'));
      // The checkpoint did not move: the same entries again after a growing pause.
      passTimer = setTimeout(
        () => {
          passTimer = undefined;
          kick();
        },
        Math.min(PASS_RETRY_MAX_MS, PASS_RETRY_BASE_MS * 2 ** (passFailures - 1)),
      );
    }
  }

  function runRetention(): void {
    exclusive(retention).catch((cause) => reportError(asWorkerError(cause, 'applying retention')));
  }

  return {
    start() {
      if (running) return;
      running = true;
      unsubscribe = journal.subscribe(() => kick());
      kick();
      // Failed renders left by an earlier run are rescheduled.
      armRetry(now());
      if (retentionMs !== undefined) {
        runRetention();
        retentionTimer = setInterval(runRetention, opts.retentionIntervalMs ?? DEFAULT_RETENTION_INTERVAL_MS);
        retentionTimer.unref?.();
      }
    },
    async stop() {
      running = false;
      unsubscribe?.();
      unsubscribe = undefined;
      for (const timer of [passTimer, retryTimer]) if (timer) clearTimeout(timer);
      if (retentionTimer) clearInterval(retentionTimer);
      passTimer = retryTimer = retentionTimer = undefined;
      retryAtMs = Number.POSITIVE_INFINITY;
      await chain;
    },
    catchUp: () => exclusive(() => pass(journal.lastSeq())),
    retryFailed: () => exclusive(retryDue),
    applyRetention: () => exclusive(retention),
    processedSeq: () => cursor ?? 0,
  };
}

function asWorkerError(cause: unknown, doing: string): RecordingsError {
  if (cause instanceof RecordingsError) return cause;
  return new RecordingsError(
    'RECORDINGS_WORKER_FAILED',
    `recording worker failed ${doing}: ${String(cause)}`,
    {
      cause,
    },
  );
}
