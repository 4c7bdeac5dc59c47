/**
 * One folder per record kind, each with its zod schema and type (`record.ts`), its table row and
 * mapping (`row.ts`) and its EnreachAPI wire format (`wire.ts`). See src/records/README.md.
 */
export * from './callback-request/index.js';
export * from './outbound-callback-call/index.js';
export * from './outbound-service-call/index.js';
export * from './service-call/index.js';
export * from './service-call-detail/index.js';
export { type CallResult, callResultSchema } from './shared.js';
export * from './user-call-event/index.js';
