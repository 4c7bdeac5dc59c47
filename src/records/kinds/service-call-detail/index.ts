export * from './record.js';
export * from './row.js';
export * from './wire.js';
