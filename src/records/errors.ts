/** Errors of the records package (store and post-processing), as values with codes. */

export const RecordsErrorCode = {
  /** The database could not be opened, reached or migrated. */
  StoreOpenFailed: 'RECORDS_STORE_OPEN_FAILED',
  /** An option is malformed (e.g. a PostgreSQL schema name that is not an identifier). */
  BadOption: 'RECORDS_BAD_OPTION',
  /** A store operation failed (the transaction was rolled back). */
  StoreWriteFailed: 'RECORDS_STORE_WRITE_FAILED',
  /** The store's checkpoint is past the journal's end: the journal was replaced or truncated. */
  CheckpointAheadOfJournal: 'RECORDS_CHECKPOINT_AHEAD_OF_JOURNAL',
  /** A post-processing batch failed; it is retried from the checkpoint. */
  PostProcessFailed: 'RECORDS_POSTPROCESS_FAILED',
  /** A stored post-processing state could not be decoded. */
  CorruptState: 'RECORDS_CORRUPT_STATE',
} as const;
export type RecordsErrorCode = (typeof RecordsErrorCode)[keyof typeof RecordsErrorCode];

export class RecordsError extends Error {
  override readonly name = 'RecordsError';
  constructor(
    readonly code: RecordsErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isRecordsError(value: unknown): value is RecordsError {
  return value instanceof RecordsError;
}
