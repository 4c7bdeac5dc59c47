/** Errors of the records package (store and post-processing), as values with codes (src/errors.ts). */
import { SwitchboardError } from '../errors.js';

/** Every code the records package throws, with the message it means when nothing more is known. */
export const RECORDS_ERRORS = {
  /** The database could not be opened, reached or migrated. */
  RECORDS_STORE_OPEN_FAILED: { message: 'The record store could not be opened' },
  /** An option is malformed (e.g. a PostgreSQL schema name that is not an identifier). */
  RECORDS_BAD_OPTION: { message: 'Bad record store option' },
  /** A store operation failed (the transaction was rolled back). */
  RECORDS_STORE_WRITE_FAILED: { message: 'A record store write failed' },
  /** The store's checkpoint is past the journal's end: the journal was replaced or truncated. */
  RECORDS_CHECKPOINT_AHEAD_OF_JOURNAL: { message: 'The records checkpoint is past the end of the journal' },
  /** A post-processing batch failed; it is retried from the checkpoint. */
  RECORDS_POSTPROCESS_FAILED: { message: 'Post-processing failed' },
  /** A stored post-processing state or record could not be decoded. */
  RECORDS_CORRUPT_STATE: { message: 'Stored records data could not be decoded' },
} as const satisfies Record<string, { message: string }>;

export type RecordsErrorCode = keyof typeof RECORDS_ERRORS;

export class RecordsError extends SwitchboardError<RecordsErrorCode> {
  constructor(
    code: RecordsErrorCode,
    message: string = RECORDS_ERRORS[code].message,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

export function isRecordsError(value: unknown): value is RecordsError {
  return value instanceof RecordsError;
}
