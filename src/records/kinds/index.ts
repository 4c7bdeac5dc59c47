/**
 * One folder per record kind, each with its zod schema and type (`record.ts`), its table row and
 * mapping (`row.ts`) and its EnreachAPI wire format (`wire.ts`: the wire zod schema, its type and
 * the `toWire…` serializer). See src/records/README.md.
 */
export * from './callback-request/index.js';
export * from './outbound-callback-call/index.js';
export * from './outbound-service-call/index.js';
export * from './service-call/index.js';
export * from './service-call-detail/index.js';
export { type CallResult, callResultSchema } from './shared.js';
export { CALL_TYPE_CODES, DIRECTION_CODES, END_RESULT_CODES, wireId } from './shared-wire.js';
export * from './user-call-event/index.js';
