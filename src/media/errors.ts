/**
 * Errors of the `media` package (CONVENTIONS, src/errors.ts: a catalog of codes and one class
 * extending SwitchboardError). Call control catches a MediaError around every offer / answer and
 * ends or rejects the call with a cause it can log; `code` says whose fault it was.
 */
import { SwitchboardError } from '../errors.js';

export const MEDIA_ERRORS = {
  /** No reply from the engine within the overall timeout (after retransmissions). */
  MEDIA_ENGINE_TIMEOUT: { message: 'the media engine did not answer in time' },
  /** The engine answered `result: error`; `reason` holds its `error-reason`. */
  MEDIA_ENGINE_ERROR: { message: 'the media engine refused the request' },
  /** The engine cannot be asked: the client is closed, the socket failed, the process is down. */
  MEDIA_ENGINE_UNAVAILABLE: { message: 'the media engine is unavailable' },
  /** The engine process could not be started or did not answer a ping after start. */
  MEDIA_ENGINE_START_FAILED: { message: 'the media engine could not be started' },
  /** A reply that is not `<cookie> <bencoded dictionary>` with a known `result`, or lacks a field. */
  MEDIA_BAD_REPLY: { message: 'the media engine sent a malformed reply' },
} as const satisfies Record<string, { message: string }>;

export type MediaErrorCode = keyof typeof MEDIA_ERRORS;

export class MediaError extends SwitchboardError<MediaErrorCode> {
  /** rtpengine's `error-reason` (MEDIA_ENGINE_ERROR only). */
  readonly reason: string | undefined;
  /** The ng command that failed, when there was one. */
  readonly command: string | undefined;

  constructor(
    code: MediaErrorCode,
    message: string = MEDIA_ERRORS[code].message,
    details: { reason?: string; command?: string; cause?: unknown } = {},
  ) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.reason = details.reason;
    this.command = details.command;
  }
}

export function isMediaError(value: unknown): value is MediaError {
  return value instanceof MediaError;
}
