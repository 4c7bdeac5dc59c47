import { RecordsError } from '../../errors.js';
import { fieldsOf, type RecordTable } from '../shared.js';
import { type CallbackRequest, callbackRequestSchema } from './record.js';

/** Status and origin are plain text on disk: checked against the schema when read back. */
export type CallbackRequestRow = Omit<CallbackRequest, 'status' | 'origin'> & {
  status: string;
  origin: string;
};

export const callbackRequestTable: RecordTable<
  'callback_requests',
  CallbackRequest,
  CallbackRequest,
  CallbackRequestRow
> = {
  table: 'callback_requests',
  key: ['callbackRequestId'],
  columns: fieldsOf(callbackRequestSchema),
  toRow: (request) => request,
  fromRow(row) {
    // Read rarely (one list's requests), so every row is validated at this boundary.
    const parsed = callbackRequestSchema.safeParse(row);
    if (!parsed.success) {
      throw new RecordsError(
        'RECORDS_CORRUPT_STATE',
        `callback request ${row.callbackRequestId} has an unknown status or origin`,
      );
    }
    return parsed.data;
  },
};
