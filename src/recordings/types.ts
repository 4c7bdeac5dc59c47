/**
 * Recordings (DESIGN.md §9): what call control journals when it starts one, what the recording
 * worker makes of the media engine's capture, and what the REST API serves.
 *
 * Flow: call control decides a call is recorded (queue `recordInbound` / `recordOutbound`, user
 * `recordDirectCalls`) when it connects, tells the media engine to start recording and journals
 * `RecordingStarted` (src/journal/facts.ts) with a fresh `recordingId`. rtpengine captures the
 * call's RTP into a pcap under its recording directory. After `CallEnded`, the recording worker
 * (./worker.ts) renders the pcap into a stereo MP3 (A side = the caller's leg on channel 0, the
 * agent / callee leg on channel 1) under the data directory and writes a `RecordingRow`.
 * Post-processing lists the recordingId in `RecordingIds` of the call's records straight from the
 * journal, whether or not the file is rendered yet.
 */

/** Who a recording belongs to (DESIGN.md §9: a queue's calls belong to the queue). */
export type RecordingOwner = { kind: 'queue'; queueId: string } | { kind: 'user'; userId: string };

/** What the worker needs to render one recording (from the journal's fold of the call). */
export interface RecordingJob {
  recordingId: string;
  callId: string;
  owner: RecordingOwner;
  /** CallLegId of the A side (the caller's leg): channel 0, rtpengine's from-tag. */
  aLegId: string;
  /** CallLegId of the B side (the agent / callee leg that was connected): channel 1. */
  bLegId: string;
  /**
   * The engine ports each side sends to, as journaled with the recording. They split the capture
   * even when the engine died before writing its metadata (a crash); absent, the capture's own
   * metadata is used.
   */
  aEnginePorts?: number[];
  bEnginePorts?: number[];
  /** Users of the A and B legs (who were connected while it recorded): they may fetch it. */
  partyUserIds: string[];
  /** When recording started (the call was connected), epoch ms. */
  startedMs: number;
  /** When the call ended (or crash recovery's last known time), epoch ms. */
  endedMs: number;
}

export type RecordingState = 'ready' | 'failed';

/** One rendered (or failed) recording, as the store keeps it. */
export interface RecordingRow {
  recordingId: string;
  callId: string;
  /** A side first, then B side. */
  callLegIds: string[];
  ownerKind: 'queue' | 'user';
  ownerId: string;
  /** Users who were connected while it recorded (RecordingJob.partyUserIds). */
  partyUserIds: string[];
  /** Recording start, ISO 8601 UTC. */
  startedAt: string;
  durationMs: number;
  sizeBytes: number;
  /** MIME type of the file: audio/mpeg. */
  contentType: string;
  /** Path of the file relative to the platform's recordings directory. */
  fileName: string;
  state: RecordingState;
  /** Why rendering failed (state 'failed'). */
  error: string | null;
  /** Render attempts so far (the worker retries a failed render up to its `maxAttempts`). */
  attempts: number;
  createdAt: string;
  /** When the row was last written (the last render attempt), ISO 8601 UTC. */
  updatedAt: string;
}

/** Renders a job's capture into a stereo MP3 (./render.ts implements it over rtpengine's pcaps). */
export interface RecordingRenderer {
  render(job: RecordingJob): Promise<{ mp3: Buffer; durationMs: number }>;
}
