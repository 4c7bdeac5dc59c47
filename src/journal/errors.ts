/** Errors of the journal, as values with codes (src/errors.ts): one catalog, one error class. */
import { SwitchboardError } from '../errors.js';

/**
 * Every code the journal throws: whether trying again can help (the journal's state is intact and
 * the cause may pass) and what it means. Call sites add the particulars to the message.
 */
export const JOURNAL_ERRORS = {
  JOURNAL_OPEN_FAILED: {
    retryable: false,
    message: 'The journal file could not be opened or its table created',
  },
  JOURNAL_CLOSED: { retryable: false, message: 'The journal was used after close()' },
  JOURNAL_WRITE_FAILED: {
    retryable: true,
    message: 'A group commit failed; its entries stay buffered and are retried',
  },
  JOURNAL_READ_FAILED: {
    retryable: true,
    message: 'Reading durable entries failed (I/O error, missing table)',
  },
  JOURNAL_CORRUPT_ENTRY: {
    retryable: false,
    message: 'A stored entry is not a JSON object with a fact type',
  },
  JOURNAL_INVALID_FACT: {
    retryable: false,
    message: 'A stored fact does not match its schema (src/journal/facts.ts)',
  },
  JOURNAL_UNSUPPORTED_VERSION: {
    retryable: false,
    message: 'A stored fact has a schema version newer than this build reads',
  },
  JOURNAL_BAD_OPTION: { retryable: false, message: 'An option is out of range' },
  JOURNAL_FENCED: {
    retryable: false,
    message:
      "Another writer appended to this node's journal partition: this journal stopped writing rather than fork the sequence",
  },
  JOURNAL_UNSUPPORTED_SERVER: {
    retryable: false,
    message: 'The NATS server is too old or has no JetStream for the JetStream journal',
  },
} as const satisfies Record<string, { retryable: boolean; message: string }>;

export type JournalErrorCode = keyof typeof JOURNAL_ERRORS;

/** Thrown (or reported to `onError`) by every journal; `code` is one of `JOURNAL_ERRORS`. */
export class JournalError extends SwitchboardError<JournalErrorCode> {}

export function isJournalError(value: unknown): value is JournalError {
  return value instanceof JournalError;
}
