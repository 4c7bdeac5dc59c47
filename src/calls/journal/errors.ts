/** Errors of the journal, as values with codes (CONVENTIONS: one errors module per package). */

export const JournalErrorCode = {
  /** The journal file could not be opened or its table created. */
  OpenFailed: 'JOURNAL_OPEN_FAILED',
  /** append/read after close(). */
  Closed: 'JOURNAL_CLOSED',
  /** A group commit failed (disk full, I/O error); the entries stay buffered and are retried. */
  WriteFailed: 'JOURNAL_WRITE_FAILED',
  /** Reading durable entries failed (I/O error, missing table). */
  ReadFailed: 'JOURNAL_READ_FAILED',
  /** A stored row could not be decoded (its fact column is not a JSON object). */
  CorruptEntry: 'JOURNAL_CORRUPT_ENTRY',
  /** An option is out of range. */
  BadOption: 'JOURNAL_BAD_OPTION',
} as const;
export type JournalErrorCode = (typeof JournalErrorCode)[keyof typeof JournalErrorCode];

export class JournalError extends Error {
  override readonly name = 'JournalError';
  constructor(
    readonly code: JournalErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isJournalError(value: unknown): value is JournalError {
  return value instanceof JournalError;
}
