/**
 * The journal on NATS JetStream, for the cluster mode (issue 18: several call-control nodes).
 *
 * Each node owns one partition: a stream `${streamPrefix}_${nodeId}` whose subjects are
 * `${subjectPrefix}.${nodeId}.${callIdToken}`. One writer per stream means the node's journal
 * sequence IS the stream sequence (gap-free from 1, no counter to coordinate across nodes), and one
 * call's facts stay ordered on one subject, which `readCall` filters on. Every publish expects the
 * stream's last sequence to be seq-1, so a second writer on the same partition cannot fork it: it is
 * fenced with JOURNAL_FENCED instead. See README.md "JetStream implementation".
 */
import { randomUUID } from 'node:crypto';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  type PubAck,
  RetentionPolicy,
  StorageType,
  type StoredMsg,
  type StreamInfo,
} from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import {
  createInbox,
  headers,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  nanos,
} from '@nats-io/transport-node';
import { isJournalError, JournalError } from './errors.js';
import { decodeFact, encodeFact, type LegacyRouting } from './facts.js';
import { JournalTail, legLocations, legQuery } from './journal-tail.js';
import type { Journal, JournalEntry, JournalFact, JournalLookup, LegLocation } from './types.js';

export interface JetStreamJournalOptions {
  /** The node whose partition this journal writes (or, for a janitor, reads): /^[A-Za-z0-9_-]{1,64}$/. */
  nodeId: string;
  /** Stream names are `${streamPrefix}_${nodeId}`; the KV buckets `${streamPrefix}_LEGS` / `_MARKS`. */
  streamPrefix?: string;
  /** Subjects are `${subjectPrefix}.${nodeId}.${callIdToken}` (default `sb.journal`). */
  subjectPrefix?: string;
  /** Longest time an appended fact waits before its group commit is published (default 2 ms). */
  groupCommitMs?: number;
  /** Unsent entries that force an immediate group commit (default 256). */
  maxBatch?: number;
  /** Told about failed publishes (retried), fencing (not retried) and throwing subscribers. */
  onError?: (error: JournalError) => void;
  /** Routing for facts of schema version 1, which did not journal the route (facts.ts). */
  legacyRouting?: LegacyRouting;
  /** Stream and bucket replicas when this open creates them (default 1; 3 in a NATS cluster). */
  replicas?: number;
  /** How long a publish waits for its ack before it counts as failed and is retried (default 5000 ms). */
  publishTimeoutMs?: number;
}

export interface JetStreamJournalStats {
  /** Group commits published since open (retries included). */
  commits: number;
  /** Entries appended but not yet acknowledged by the stream. */
  pending: number;
  /** Highest acknowledged sequence. */
  durableSeq: number;
}

export interface JetStreamJournal extends Journal, JournalLookup {
  stats(): JetStreamJournalStats;
  /**
   * Entries stored in the partition after `afterSeq`, by whichever writer, at most `limit`: how
   * another node follows this partition (./jetstream-follower.ts). `read` stops at what this
   * journal itself knows to be durable.
   */
  readStored(afterSeq: number, limit: number): Promise<JournalEntry[]>;
}

/**
 * Oldest server this journal runs on. 2.9.0 brought `allow_direct` (the KV reads of the leg index
 * and marks); everything else used — Nats-Msg-Id dedupe, Nats-Expected-Last-Sequence, pull
 * requests with `no_wait`, ephemeral consumers with a start sequence and one filter subject, KV —
 * is older. Multiple filter subjects and batched direct gets (2.10 / 2.11) are deliberately unused.
 */
export const MIN_SERVER_VERSION = '2.9.0';
export const DEFAULT_STREAM_PREFIX = 'SB_JOURNAL';
export const DEFAULT_SUBJECT_PREFIX = 'sb.journal';
/** Headers of a stored entry: its time, and the journal instance that wrote it (fencing). */
export const JOURNAL_HEADERS = { timeMs: 'Sb-Time-Ms', writer: 'Sb-Writer' } as const;

const DEFAULT_GROUP_COMMIT_MS = 2;
const DEFAULT_MAX_BATCH = 256;
/** How long the stream remembers a Nats-Msg-Id: a retry within it is acknowledged as a duplicate. */
const DUPLICATE_WINDOW_MS = 120_000;
const DEFAULT_PUBLISH_TIMEOUT_MS = 5000;
/** First and longest wait before retrying a failed publish: a down server is not hammered. */
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5000;
/** A read page that does not arrive within this is reported as JOURNAL_READ_FAILED. */
const READ_TIMEOUT_MS = 10_000;
/** Messages asked for in one pull request of a read. */
const PULL_BATCH = 1000;
/** Identifiers per kind in one `findLegs` call, as the SQLite journal. */
/** Attempts at the compare-and-set of one leg-index key before the commit counts as failed. */
const INDEX_ATTEMPTS = 5;
const NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const SUBJECT_PREFIX_PATTERN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
/** CallIds (UUIDs, `agent:<uuid>`) made only of these are their own subject token. */
const RAW_TOKEN_PATTERN = /^[A-Za-z0-9_:@+=-]+$/;

/** Where one node's partition lives. */
export interface JournalNames {
  nodeId: string;
  stream: string;
  subjectPrefix: string;
  legsBucket: string;
  marksBucket: string;
}

export function journalNames(opts: {
  nodeId: string;
  streamPrefix?: string;
  subjectPrefix?: string;
}): JournalNames {
  const streamPrefix = opts.streamPrefix ?? DEFAULT_STREAM_PREFIX;
  const subjectPrefix = opts.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX;
  if (!NAME_PATTERN.test(opts.nodeId)) {
    throw new JournalError(
      'JOURNAL_BAD_OPTION',
      `nodeId must match ${NAME_PATTERN}, got ${JSON.stringify(opts.nodeId)}`,
    );
  }
  if (!NAME_PATTERN.test(streamPrefix)) {
    throw new JournalError(
      'JOURNAL_BAD_OPTION',
      `streamPrefix must match ${NAME_PATTERN}, got ${JSON.stringify(streamPrefix)}`,
    );
  }
  if (!SUBJECT_PREFIX_PATTERN.test(subjectPrefix)) {
    throw new JournalError(
      'JOURNAL_BAD_OPTION',
      `subjectPrefix must be dot-separated tokens of [A-Za-z0-9_-], got ${JSON.stringify(subjectPrefix)}`,
    );
  }
  return {
    nodeId: opts.nodeId,
    stream: `${streamPrefix}_${opts.nodeId}`,
    subjectPrefix: `${subjectPrefix}.${opts.nodeId}`,
    legsBucket: `${streamPrefix}_LEGS`,
    marksBucket: `${streamPrefix}_MARKS`,
  };
}

/**
 * A CallId as one subject token. UUIDs and `agent:<uuid>` are used as they are (readable in
 * `nats stream view`); anything else — dots, wildcards, whitespace, empty — becomes `~` + base64url,
 * which no raw token starts with, so two CallIds never share a subject.
 */
export function callIdToken(callId: string): string {
  if (RAW_TOKEN_PATTERN.test(callId)) return callId;
  return `~${Buffer.from(callId, 'utf8').toString('base64url')}`;
}

export function journalSubject(names: JournalNames, callId: string): string {
  return `${names.subjectPrefix}.${callIdToken(callId)}`;
}

/** What marks a stream as a journal partition (listJournalNodes), beyond its name. */
function partitionDescription(nodeId: string): string {
  return `Switchboard journal partition of node ${nodeId}`;
}

/** `major.minor.patch` of a server version ("2.9.10", "2.10.0-RC.3"), or undefined. */
function parseVersion(version: string): [number, number, number] | undefined {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined;
}

/** Negative when `a` is older than `b`, 0 when equal, positive when newer (pre-release tags ignored). */
export function compareServerVersions(a: string, b: string): number {
  const [pa, pb] = [parseVersion(a), parseVersion(b)];
  if (!pa || !pb)
    throw new JournalError('JOURNAL_UNSUPPORTED_SERVER', `cannot compare server versions ${a} and ${b}`);
  for (let i = 0; i < 3; i += 1) if (pa[i] !== pb[i]) return pa[i]! - pb[i]!;
  return 0;
}

/** Refuse a server older than MIN_SERVER_VERSION (or one that does not say), naming both versions. */
export function checkServerVersion(version: string | undefined): void {
  if (!version || !parseVersion(version) || compareServerVersions(version, MIN_SERVER_VERSION) < 0) {
    throw new JournalError(
      'JOURNAL_UNSUPPORTED_SERVER',
      `the JetStream journal needs nats-server ${MIN_SERVER_VERSION} or newer, found ${version ?? 'no version'}`,
    );
  }
}

/**
 * The partition's stream, created if missing: file storage, kept forever (limits retention, no
 * limits), dedupe window for retried publishes, direct gets for lookups by seq.
 */
export async function ensureJournalStream(
  jsm: JetStreamManager,
  names: JournalNames,
  replicas = 1,
): Promise<StreamInfo> {
  const subjects = `${names.subjectPrefix}.>`;
  let info: StreamInfo | undefined;
  try {
    info = await jsm.streams.info(names.stream);
  } catch (cause) {
    if (!isStreamNotFound(cause)) throw cause;
  }
  if (!info) {
    try {
      info = await jsm.streams.add({
        name: names.stream,
        description: partitionDescription(names.nodeId),
        subjects: [subjects],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
        duplicate_window: nanos(DUPLICATE_WINDOW_MS),
        allow_direct: true,
        num_replicas: replicas,
      });
    } catch (cause) {
      // Another process (the janitor, a restarting node) created it meanwhile: use theirs.
      info = await jsm.streams.info(names.stream).catch(() => {
        throw cause;
      });
    }
  }
  if (!info.config.subjects?.includes(subjects)) {
    throw new JournalError(
      'JOURNAL_OPEN_FAILED',
      `stream ${names.stream} exists with subjects ${JSON.stringify(info.config.subjects)}, not ${subjects}`,
    );
  }
  return info;
}

function isStreamNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === 10059;
}

/** The server refused a publish because the stream's last sequence is not the one expected. */
function isWrongLastSequence(error: unknown): boolean {
  return error instanceof JetStreamApiError && (error.code === 10071 || error.code === 10164);
}

/** KV keys of the leg index: base64url so any identifier is a valid key, `k` so none is empty. */
function legIndexKey(nodeId: string, kind: 'leg' | 'sip', identifier: string): string {
  return `${nodeId}.${kind}.k${Buffer.from(identifier, 'utf8').toString('base64url')}`;
}

/** The node ids that have a journal partition on this server (for the janitor and post-processing). */
export async function listJournalNodes(
  nc: NatsConnection,
  streamPrefix: string = DEFAULT_STREAM_PREFIX,
): Promise<string[]> {
  const jsm = await jetstreamManager(nc);
  const nodeIds: string[] = [];
  for await (const info of jsm.streams.list()) {
    const { name, description } = info.config;
    if (!name.startsWith(`${streamPrefix}_`)) continue;
    const nodeId = name.slice(streamPrefix.length + 1);
    if (NAME_PATTERN.test(nodeId) && description === partitionDescription(nodeId)) nodeIds.push(nodeId);
  }
  return nodeIds.sort();
}

type PublishOutcome = { ack: PubAck } | { error: unknown };

/**
 * Open (creating if needed) one node's journal partition on `nc`. The caller owns the connection:
 * `close()` flushes and releases the journal, never the connection.
 */
export async function openJetStreamJournal(
  nc: NatsConnection,
  opts: JetStreamJournalOptions,
): Promise<JetStreamJournal> {
  const names = journalNames(opts);
  const groupCommitMs = opts.groupCommitMs ?? DEFAULT_GROUP_COMMIT_MS;
  const maxBatch = opts.maxBatch ?? DEFAULT_MAX_BATCH;
  const replicas = opts.replicas ?? 1;
  const publishTimeoutMs = opts.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
  if (!Number.isFinite(groupCommitMs) || groupCommitMs < 0) {
    throw new JournalError('JOURNAL_BAD_OPTION', `groupCommitMs must be >= 0, got ${groupCommitMs}`);
  }
  if (!Number.isInteger(maxBatch) || maxBatch < 1) {
    throw new JournalError('JOURNAL_BAD_OPTION', `maxBatch must be a positive integer, got ${maxBatch}`);
  }
  if (!Number.isFinite(publishTimeoutMs) || publishTimeoutMs <= 0) {
    throw new JournalError('JOURNAL_BAD_OPTION', `publishTimeoutMs must be > 0, got ${publishTimeoutMs}`);
  }
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) {
    throw new JournalError('JOURNAL_BAD_OPTION', `replicas must be 1 to 5, got ${replicas}`);
  }
  checkServerVersion(nc.info?.version);
  if (nc.info && nc.info.jetstream === false) {
    throw new JournalError(
      'JOURNAL_UNSUPPORTED_SERVER',
      `nats-server ${nc.info.version} runs without JetStream`,
    );
  }
  const reportError = opts.onError ?? (() => {});
  const { stream, nodeId } = names;
  const where = `journal of node ${nodeId} (stream ${stream})`;

  let jsm: JetStreamManager;
  let js: JetStreamClient;
  let legIndex: KV;
  let marks: KV;
  let tail = { seq: 0, timeMs: 0 };
  try {
    jsm = await jetstreamManager(nc);
    js = jetstream(nc, { timeout: publishTimeoutMs });
    const info = await ensureJournalStream(jsm, names, replicas);
    const kvm = new Kvm(js);
    legIndex = await kvm.create(names.legsBucket, { history: 1, replicas, storage: StorageType.File });
    marks = await kvm.create(names.marksBucket, { history: 1, replicas, storage: StorageType.File });
    const lastSeq = info.state.last_seq;
    if (lastSeq > 0) {
      const last = await jsm.streams.getMessage(stream, { seq: lastSeq });
      tail = { seq: lastSeq, timeMs: last ? storedTimeMs(last.header, lastSeq) : 0 };
    }
  } catch (cause) {
    if (isJournalError(cause)) throw cause;
    throw new JournalError('JOURNAL_OPEN_FAILED', `cannot open ${where}: ${String(cause)}`, { cause });
  }

  /** This instance, in every entry it stores: a duplicate ack is ours only if the stored entry says so. */
  const writerId = randomUUID();
  const memory = new JournalTail(tail, reportError);
  let closed = false;
  /** Set once another writer was found on this partition: nothing more is published. */
  let fenced: JournalError | undefined;
  let commitTimer: NodeJS.Timeout | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let retryMs = RETRY_FIRST_MS;
  let commits = 0;
  /** Bumped by every failure: acks of the publishes before it are ignored, the retry re-sends them. */
  let generation = 0;
  /** Highest seq published in the current generation (sent, maybe not acknowledged). */
  let sentSeq = memory.durableSeq;
  /** Publishes leave in seq order even when a group waits for its leg index first. */
  let sendChain: Promise<unknown> = Promise.resolve();
  /** Acks are applied in seq order. */
  let ackChain: Promise<unknown> = Promise.resolve();
  const flushWaiters: Array<{ seq: number; resolve: () => void; reject: (error: JournalError) => void }> = [];

  function storedTimeMs(header: MsgHdrs | undefined, seq: number): number {
    const timeMs = Number(header?.get(JOURNAL_HEADERS.timeMs));
    if (!Number.isFinite(timeMs)) {
      throw new JournalError(
        'JOURNAL_CORRUPT_ENTRY',
        `journal entry ${seq} of node ${opts.nodeId} has no time`,
      );
    }
    return timeMs;
  }

  function decode(seq: number, header: MsgHdrs | undefined, data: Uint8Array): JournalEntry {
    const timeMs = storedTimeMs(header, seq);
    const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
    return {
      seq,
      timeMs,
      fact: decodeFact(text, `journal entry ${seq} of node ${nodeId}`, opts.legacyRouting),
    };
  }

  function assertOpen(operation: string): void {
    if (closed) throw new JournalError('JOURNAL_CLOSED', `${where} is closed (${operation})`);
  }

  function commit(force = false): void {
    if (commitTimer) {
      clearTimeout(commitTimer);
      commitTimer = undefined;
    }
    if (fenced) return;
    if (retryTimer) {
      // A failed publish waits for its retry; only flush/close try again sooner.
      if (!force) return;
      clearTimeout(retryTimer);
      retryTimer = undefined;
    }
    const unsent = memory.pending.slice(sentSeq - memory.durableSeq);
    if (unsent.length === 0) return;
    sentSeq = unsent[unsent.length - 1]!.seq;
    commits += 1;
    const batchGeneration = generation;
    const sent = sendChain.then(() => send(unsent, batchGeneration));
    sendChain = sent.catch(() => {});
    ackChain = ackChain
      .then(() => settle(unsent, sent, batchGeneration))
      .catch((cause: unknown) => failed(cause, batchGeneration));
  }

  /** Index the group's legs, then publish every entry pipelined (sent now, acked later, in order). */
  async function send(
    batch: readonly JournalEntry[],
    batchGeneration: number,
  ): Promise<Promise<PublishOutcome>[]> {
    if (batchGeneration !== generation) return [];
    // Index first: a crash between the two leaves an index entry pointing at a seq that holds
    // another fact (findLegs verifies and skips it), never a stored leg the index cannot find.
    await indexLegs(batch);
    if (batchGeneration !== generation) return [];
    return batch.map((entry) => {
      const header = headers();
      header.set(JOURNAL_HEADERS.timeMs, String(entry.timeMs));
      header.set(JOURNAL_HEADERS.writer, writerId);
      return js
        .publish(journalSubject(names, entry.fact.callId), encodeFact(entry.fact), {
          msgID: `${nodeId}:${entry.seq}`,
          expect: { lastSequence: entry.seq - 1 },
          headers: header,
          timeout: publishTimeoutMs,
        })
        .then(
          (ack): PublishOutcome => ({ ack }),
          (error: unknown): PublishOutcome => ({ error }),
        );
    });
  }

  async function settle(
    batch: readonly JournalEntry[],
    sent: Promise<Promise<PublishOutcome>[]>,
    batchGeneration: number,
  ): Promise<void> {
    if (batchGeneration !== generation) return;
    const outcomes = await sent;
    for (const [index, pendingOutcome] of outcomes.entries()) {
      const outcome = await pendingOutcome;
      if (batchGeneration !== generation) return;
      const entry = batch[index]!;
      await confirm(entry, outcome);
      if (batchGeneration !== generation) return;
      memory.markDurable(entry.seq);
      retryMs = RETRY_FIRST_MS;
      while (flushWaiters.length > 0 && flushWaiters[0]!.seq <= memory.durableSeq)
        flushWaiters.shift()!.resolve();
    }
  }

  /** Is this outcome our entry stored at its seq? Throws JOURNAL_FENCED when another writer's is. */
  async function confirm(entry: JournalEntry, outcome: PublishOutcome): Promise<void> {
    if ('ack' in outcome) {
      const { ack } = outcome;
      if (!ack.duplicate && ack.seq === entry.seq) return;
      // A duplicate: our retry of an entry already stored — or another writer's entry with the same
      // Nats-Msg-Id (same node, same seq). Only the stored entry can tell.
      if (ack.duplicate) return verifyOwn(entry, `acknowledged as a duplicate of seq ${ack.seq}`);
      throw fencedError(entry, `stored at seq ${ack.seq}`);
    }
    // Past the dedupe window a retry of a stored entry is refused for its expected last sequence.
    if (isWrongLastSequence(outcome.error)) return verifyOwn(entry, String(outcome.error));
    throw outcome.error;
  }

  async function verifyOwn(entry: JournalEntry, why: string): Promise<void> {
    let stored: StoredMsg | null;
    try {
      stored = await jsm.streams.getMessage(stream, { seq: entry.seq });
    } catch (cause) {
      if (!(cause instanceof JetStreamApiError && cause.code === 10037)) throw cause;
      stored = null;
    }
    if (stored?.header?.get(JOURNAL_HEADERS.writer) === writerId) return;
    const other = stored?.header?.get(JOURNAL_HEADERS.writer) || 'none';
    throw fencedError(entry, `${why}; the stored entry's writer is ${other}`);
  }

  function fencedError(entry: JournalEntry, detail: string): JournalError {
    return new JournalError(
      'JOURNAL_FENCED',
      `${where}: seq ${entry.seq} was written by another journal on node ${nodeId} (${detail}); this journal (writer ${writerId}) stops writing — run one journal per node`,
    );
  }

  function failed(cause: unknown, batchGeneration: number): void {
    if (batchGeneration !== generation) return;
    generation += 1;
    sentSeq = memory.durableSeq;
    const error =
      isJournalError(cause) && cause.code === 'JOURNAL_FENCED'
        ? cause
        : new JournalError(
            'JOURNAL_WRITE_FAILED',
            `${where}: publishing entries from seq ${memory.durableSeq + 1} failed (${String(cause)}); retrying in ${retryMs} ms`,
            { cause },
          );
    for (const waiter of flushWaiters.splice(0)) waiter.reject(error);
    reportError(error);
    if (error.code === 'JOURNAL_FENCED') {
      fenced = error;
      return;
    }
    if (closed) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      commit();
    }, retryMs);
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
  }

  /** Add this group's LegCreated seqs to the leg index (KV), before the group is published. */
  async function indexLegs(batch: readonly JournalEntry[]): Promise<void> {
    const additions = new Map<string, number[]>();
    const add = (key: string, seq: number) => {
      const seqs = additions.get(key);
      if (seqs) seqs.push(seq);
      else additions.set(key, [seq]);
    };
    for (const { seq, fact } of batch) {
      if (fact.type !== 'LegCreated') continue;
      add(legIndexKey(nodeId, 'leg', fact.callLegId), seq);
      add(legIndexKey(nodeId, 'sip', fact.sip.sipCallId), seq);
    }
    await Promise.all([...additions].map(([key, seqs]) => addToIndex(key, seqs)));
  }

  /** Compare-and-set: the value is the JSON list of LegCreated seqs with this identifier. */
  async function addToIndex(key: string, seqs: readonly number[]): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        const current = await legIndex.get(key);
        if (current?.operation !== 'PUT') {
          await legIndex.create(key, JSON.stringify(seqs));
          return;
        }
        const known = JSON.parse(current.string()) as number[];
        const merged = [...new Set([...known, ...seqs])].sort((a, b) => a - b);
        if (merged.length === known.length) return; // a retried group: already indexed
        await legIndex.update(key, JSON.stringify(merged), current.revision);
        return;
      } catch (cause) {
        // Lost a race on the key (a fenced twin, a retry): read it again.
        if (attempt >= INDEX_ATTEMPTS || !isWrongLastSequence(cause)) throw cause;
      }
    }
  }

  /** Seqs the leg index holds for these keys (the stored facts still need verifying). */
  async function indexedSeqs(keys: readonly string[]): Promise<number[]> {
    const lists = await Promise.all(
      keys.map(async (key) => {
        const entry = await legIndex.get(key);
        return entry && entry.operation === 'PUT' ? (JSON.parse(entry.string()) as number[]) : [];
      }),
    );
    return [...new Set(lists.flat())];
  }

  /**
   * Stored messages from `startSeq` on (only those on `filterSubject` when given), at most `max`:
   * an ephemeral consumer created at the start seq and drained with `no_wait` pull requests, so a
   * page of 500 costs a few round trips, not 500.
   */
  async function fetchStored(query: {
    startSeq: number;
    max: number;
    filterSubject?: string;
  }): Promise<JournalEntry[]> {
    const consumer = await jsm.consumers.add(stream, {
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: query.startSeq,
      mem_storage: true,
      inactive_threshold: nanos(30_000),
      ...(query.filterSubject ? { filter_subject: query.filterSubject } : {}),
    });
    const entries: JournalEntry[] = [];
    try {
      const wanted = Math.min(query.max, consumer.num_pending);
      while (entries.length < wanted) {
        const page = await pull(consumer.name, Math.min(PULL_BATCH, wanted - entries.length));
        if (page.length === 0) break;
        for (const entry of page) entries.push(entry);
      }
    } finally {
      jsm.consumers.delete(stream, consumer.name).catch(() => {});
    }
    return entries;
  }

  /** One `no_wait` pull request: up to `batch` messages, fewer when the consumer runs dry. */
  async function pull(consumerName: string, batch: number): Promise<JournalEntry[]> {
    const inbox = createInbox();
    const subscription = nc.subscribe(inbox);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      subscription.unsubscribe();
    }, READ_TIMEOUT_MS);
    const messages: Msg[] = [];
    try {
      nc.publish(
        `$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumerName}`,
        JSON.stringify({ batch, no_wait: true }),
        {
          reply: inbox,
        },
      );
      for await (const message of subscription) {
        // A status (404 no messages, 408 request expired) ends the request.
        if ((message.headers?.code ?? 0) !== 0) break;
        messages.push(message);
        if (messages.length >= batch) break;
      }
    } finally {
      clearTimeout(timer);
      subscription.unsubscribe();
    }
    if (timedOut) throw new Error(`no answer to a pull request within ${READ_TIMEOUT_MS} ms`);
    return messages.map((message) => decode(streamSeqOf(message), message.headers, message.data));
  }

  /** The stream sequence from a delivered message's ack subject ($JS.ACK.…, v1 or v2 form). */
  function streamSeqOf(message: Msg): number {
    const tokens = message.reply?.split('.') ?? [];
    const seq = Number(tokens.length === 9 ? tokens[5] : tokens[7]);
    if (!Number.isInteger(seq) || seq < 1) {
      throw new JournalError('JOURNAL_READ_FAILED', `unexpected delivery subject ${message.reply}`);
    }
    return seq;
  }

  /** Runs a read against the stream with its failures as coded errors (validation errors pass). */
  async function reading<T>(what: string, read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (cause) {
      if (isJournalError(cause)) throw cause;
      throw new JournalError('JOURNAL_READ_FAILED', `${where}: ${what} failed: ${String(cause)}`, { cause });
    }
  }

  async function flush(): Promise<void> {
    if (closed) return;
    if (fenced) throw fenced;
    const target = memory.lastSeq;
    if (memory.durableSeq >= target) return;
    const done = new Promise<void>((resolve, reject) => flushWaiters.push({ seq: target, resolve, reject }));
    commit(true);
    await done;
  }

  return {
    append(fact: JournalFact): JournalEntry {
      assertOpen('append');
      if (fenced) throw fenced;
      const entry = memory.append(fact);
      if (!retryTimer) {
        if (groupCommitMs === 0 || memory.lastSeq - sentSeq >= maxBatch) commit();
        else if (!commitTimer) commitTimer = setTimeout(() => commit(), groupCommitMs);
      }
      memory.deliver(entry);
      return entry;
    },

    flush,

    async read(afterSeq: number, limit: number): Promise<JournalEntry[]> {
      assertOpen('read');
      if (limit <= 0) return [];
      const fromMemory = memory.readFromMemory(afterSeq, limit);
      if (fromMemory) return fromMemory;
      // Snapshot before awaiting: acks arriving meanwhile move entries from the buffer to the stream.
      const durableSeq = memory.durableSeq;
      const buffered = memory.pendingAfter(Math.max(afterSeq, durableSeq), limit);
      let stored: JournalEntry[] = [];
      if (afterSeq < durableSeq) {
        const max = Math.min(limit, durableSeq - afterSeq);
        stored = await reading('read', () => fetchStored({ startSeq: afterSeq + 1, max }));
      }
      return stored.concat(buffered.slice(0, limit - stored.length));
    },

    async readStored(afterSeq: number, limit: number): Promise<JournalEntry[]> {
      assertOpen('readStored');
      if (limit <= 0) return [];
      return reading('readStored', () => fetchStored({ startSeq: afterSeq + 1, max: limit }));
    },

    subscribe(listener: (entry: JournalEntry) => void): () => void {
      return memory.subscribe(listener);
    },

    lastSeq(): number {
      return memory.lastSeq;
    },

    async readCall(callId: string): Promise<JournalEntry[]> {
      assertOpen('readCall');
      const durableSeq = memory.durableSeq;
      const buffered = memory.pending.filter((entry) => entry.fact.callId === callId);
      if (durableSeq === 0) return buffered;
      const stored = await reading('readCall', () =>
        fetchStored({ startSeq: 1, max: durableSeq, filterSubject: journalSubject(names, callId) }),
      );
      // Entries acknowledged after the snapshot are in `buffered` already.
      return stored.filter((entry) => entry.seq <= durableSeq).concat(buffered);
    },

    async findLegs(query: {
      callLegIds?: readonly string[];
      sipCallIds?: readonly string[];
    }): Promise<LegLocation[]> {
      assertOpen('findLegs');
      const { callLegIds, sipCallIds, matches } = legQuery(query);
      const durableSeq = memory.durableSeq;
      const buffered = memory.pending.filter(matches);
      const keys = [
        ...callLegIds.map((id) => legIndexKey(nodeId, 'leg', id)),
        ...sipCallIds.map((id) => legIndexKey(nodeId, 'sip', id)),
      ];
      const stored = await reading('findLegs', async () => {
        const seqs = (await indexedSeqs(keys)).filter((seq) => seq <= durableSeq);
        const messages = await Promise.all(seqs.map((seq) => jsm.direct.getMessage(stream, { seq })));
        return messages
          .filter((message): message is StoredMsg => message !== null)
          .map((message) => decode(message.seq, message.header, message.data));
      });
      return legLocations([...stored.filter(matches), ...buffered]);
    },

    async settledSeq(): Promise<number> {
      assertOpen('settledSeq');
      const mark = await reading('settledSeq', () => marks.get(`${nodeId}.settled`));
      return mark && mark.operation === 'PUT' ? Number(mark.string()) : 0;
    },

    async markSettled(seq: number): Promise<void> {
      assertOpen('markSettled');
      await flush();
      try {
        await marks.put(`${nodeId}.settled`, String(Math.min(seq, memory.durableSeq)));
      } catch (cause) {
        throw new JournalError(
          'JOURNAL_WRITE_FAILED',
          `${where}: writing the settled mark failed: ${String(cause)}`,
          {
            cause,
          },
        );
      }
    },

    stats(): JetStreamJournalStats {
      return { commits, pending: memory.pending.length, durableSeq: memory.durableSeq };
    },

    async close(): Promise<void> {
      if (closed) return;
      try {
        await flush();
      } finally {
        closed = true;
        generation += 1;
        if (commitTimer) clearTimeout(commitTimer);
        if (retryTimer) clearTimeout(retryTimer);
        commitTimer = undefined;
        retryTimer = undefined;
        memory.clearSubscribers();
      }
    },
  };
}
