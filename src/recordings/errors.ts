/** Errors of the recordings package (store, worker, download tokens), as values with codes (src/errors.ts). */
import { SwitchboardError } from '../errors.js';

/** Every code the recordings package throws, with the message it means when nothing more is known. */
export const RECORDINGS_ERRORS = {
  /** The worker's checkpoint is past the journal's end: the journal was replaced or truncated. */
  RECORDINGS_CHECKPOINT_AHEAD_OF_JOURNAL: {
    message: 'The recordings checkpoint is past the end of the journal',
  },
  /** A pass over the journal (reading it, or writing the store) failed; it is retried from the checkpoint. */
  RECORDINGS_WORKER_FAILED: { message: 'The recording worker failed' },
  /** One recording could not be rendered or written; its row says 'failed' and it is retried. */
  RECORDINGS_RENDER_FAILED: { message: 'A recording could not be rendered' },
  /** Retention could not delete a recording's file or row. */
  RECORDINGS_RETENTION_FAILED: { message: 'Recording retention failed' },
  /** The download token key file cannot be read or created, or is not a key. */
  RECORDINGS_TOKEN_KEY_FAILED: { message: 'The recording token key is not available' },
  /** A stored row could not be decoded. */
  RECORDINGS_CORRUPT_ROW: { message: 'A stored recording row could not be decoded' },
  // ---- rendering a capture (./render.ts) ----
  /** No pcap of the call under the recording directory. */
  RECORDING_CAPTURE_NOT_FOUND: { message: 'the media engine has no capture of this call' },
  /**
   * A pcap without its finished metadata file: the engine still records the call (try again after
   * the call is deleted) or stopped before the call ended (it crashed; the streams cannot be told
   * apart).
   */
  RECORDING_CAPTURE_INCOMPLETE: { message: 'the capture of this call is not finished' },
  /** The metadata does not name the A or B leg's ports (not started by RtpEngine.startRecording). */
  RECORDING_STREAMS_UNKNOWN: { message: "the capture does not say which stream is which party's" },
  /** The pcap cannot be read at all. */
  RECORDING_CAPTURE_UNREADABLE: { message: 'the capture cannot be read' },
  /** Neither party's audio is in the capture. */
  RECORDING_NO_MEDIA: { message: "the capture holds neither party's audio" },
} as const satisfies Record<string, { message: string }>;

export type RecordingsErrorCode = keyof typeof RECORDINGS_ERRORS;

export class RecordingsError extends SwitchboardError<RecordingsErrorCode> {
  constructor(
    code: RecordingsErrorCode,
    message: string = RECORDINGS_ERRORS[code].message,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

export function isRecordingsError(value: unknown): value is RecordingsError {
  return value instanceof RecordingsError;
}
