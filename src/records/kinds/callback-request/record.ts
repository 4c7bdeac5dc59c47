import { z } from 'zod';
import { epochMsSchema } from '../shared.js';

/** Closed statuses: the handling outcome (see src/records/README.md for the rules). */
export const callbackClosedStatusSchema = z.enum([
  'ClosedSuccessfully',
  'ClosedBusy',
  'ClosedNoAnswer',
  'ClosedInvalidNumber',
  'Cancelled',
]);
export type CallbackClosedStatus = z.infer<typeof callbackClosedStatusSchema>;

/** Where a callback request stands. `Open` is the only status that can get callback calls. */
export const callbackRequestStatusSchema = z.enum(['Open', ...callbackClosedStatusSchema.options]);
export type CallbackRequestStatus = z.infer<typeof callbackRequestStatusSchema>;

export const CALLBACK_CLOSED_STATUSES: readonly CallbackClosedStatus[] = callbackClosedStatusSchema.options;
export const CALLBACK_REQUEST_STATUSES: readonly CallbackRequestStatus[] =
  callbackRequestStatusSchema.options;

/**
 * Closed statuses that may be re-opened: the customer may be reachable later (busy, no answer) or
 * the cancellation was a mistake. A request closed successfully is done, and one with an invalid
 * number cannot be called: a new contact is a new request.
 */
export const CALLBACK_REOPENABLE_STATUSES: readonly CallbackClosedStatus[] = [
  'ClosedBusy',
  'ClosedNoAnswer',
  'Cancelled',
];

/** How the request came to be: a missed queue call (post-processing) or the REST API. */
export const callbackRequestOriginSchema = z.enum(['MissedCall', 'Api']);
export type CallbackRequestOrigin = z.infer<typeof callbackRequestOriginSchema>;

/**
 * A request to call a customer back. Its attempt history is the outbound callback call records
 * that name it, so it needs no table of its own.
 */
export const callbackRequestSchema = z.object({
  callbackRequestId: z.string(),
  callbackListId: z.string(),
  /** The queue that missed the call (or the one named on creation); null if none. */
  queueId: z.string().nullable(),
  /** The number to call back. */
  number: z.string(),
  /** CallId of the missed call, for requests made from one. */
  callId: z.string().nullable(),
  origin: callbackRequestOriginSchema,
  note: z.string().nullable(),
  status: callbackRequestStatusSchema,
  createdMs: epochMsSchema,
  /** Who created it through the API; null for missed calls. */
  createdByUserId: z.string().nullable(),
  /** When and by whom it was last closed; null while open. */
  closedMs: epochMsSchema.nullable(),
  closedByUserId: z.string().nullable(),
  /** Wall-clock time of the last change of the request itself (attempts have their own Modified). */
  modifiedMs: epochMsSchema,
});
export type CallbackRequest = z.infer<typeof callbackRequestSchema>;
