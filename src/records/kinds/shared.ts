/**
 * What several record kinds share: the zod pieces of their fields and the storage encoding of
 * `recordingIds`. Each kind's own folder (./<kind>/) holds its schema, row mapping and wire format.
 */
import { z } from 'zod';

export const callResultSchema = z.enum([
  'Handled',
  'Allocated',
  'Missed',
  'Rejected',
  'Busy',
  'Cancelled',
  'Failed',
]);
export type CallResult = z.infer<typeof callResultSchema>;

/** Epoch milliseconds (UTC). */
export const epochMsSchema = z.number();

/** Who called whom, as the callee and the caller saw them. */
export const numbersShape = { aNum: z.string(), bNum: z.string() };

/** When a leg was placed (or offered), answered and ended, and its talk time in seconds. */
export const legTimesShape = {
  timestampMs: epochMsSchema,
  answerTimeMs: epochMsSchema.nullable(),
  endTimeMs: epochMsSchema.nullable(),
  durationSeconds: z.number(),
};

/** The fields every outbound call record ends with (service calls and callback calls). */
export const outboundCallShape = {
  userId: z.string(),
  userName: z.string(),
  ...numbersShape,
  ...legTimesShape,
  /** Null while the call is in progress. */
  result: callResultSchema.nullable(),
  recordingIds: z.array(z.string()),
  modifiedMs: epochMsSchema,
};

// ---- Storage: recordingIds are a JSON array in a text column ----------------------------------
// Rows are mapped with one object spread that replaces recordingIds: it copies the row's shape in
// one step (hot listings map every row), where rest-destructuring cost a third of a listing's CPU.

export type WithRecordingIdsAsJson<CallRecord extends { recordingIds: readonly string[] }> = Omit<
  CallRecord,
  'recordingIds'
> & { recordingIds: string };

/** Lenient on read: a damaged list shows as no recordings rather than failing the whole listing. */
export function parseRecordingIds(text: string): string[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * How one record kind is stored. Columns are named as the record's fields: the store's Kysely
 * instance maps them to the snake_case names on disk (src/records/store/camel-case.ts).
 */
export interface RecordTable<Table extends string, Write, Read, Row> {
  readonly table: Table;
  /** Primary-key columns. */
  readonly key: readonly (keyof Row & string)[];
  /** Every column, written and read in this order. */
  readonly columns: readonly (keyof Row & string)[];
  toRow(record: Write): Row;
  fromRow(row: Row): Read;
}

/** A call record's table: the record as the row, but `recordingIds` as JSON text. */
export type CallRecordTable<
  Table extends string,
  CallRecord extends { recordingIds: string[] },
> = RecordTable<Table, CallRecord, CallRecord, WithRecordingIdsAsJson<CallRecord>>;

/**
 * The table of a call record kind (user call events, service calls, outbound calls): keyed by
 * eventId, every field a column, `recordingIds` the only field stored differently (JSON text).
 */
export function callRecordTable<CallRecord extends { eventId: string; recordingIds: string[] }>() {
  return <Table extends string>(
    table: Table,
    schema: { shape: Record<keyof CallRecord, unknown> },
  ): CallRecordTable<Table, CallRecord> => {
    type Column = keyof WithRecordingIdsAsJson<CallRecord> & string;
    return {
      table,
      // The row has the record's field names (TS cannot see that through Omit of a type parameter).
      key: ['eventId' as Column],
      columns: Object.keys(schema.shape) as Column[],
      toRow: (record) => ({ ...record, recordingIds: JSON.stringify(record.recordingIds) }),
      // A spread (one step per row: the hot read path) that replaces recordingIds; TS types a spread
      // of a type parameter as an intersection, not as the record it rebuilds.
      fromRow: (row) =>
        ({ ...row, recordingIds: parseRecordingIds(row.recordingIds) }) as unknown as CallRecord,
    };
  };
}

/** A zod object's field names, in declaration order: a record's columns. */
export function fieldsOf<Shape extends z.ZodRawShape>(schema: z.ZodObject<Shape>): (keyof Shape & string)[] {
  // Object.keys is typed string[]; the keys of a zod shape are exactly its fields.
  return Object.keys(schema.shape) as (keyof Shape & string)[];
}
