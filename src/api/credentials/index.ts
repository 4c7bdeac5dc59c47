export { createKyselyCredentialStore, openCredentialStore } from './kysely-store.js';
export type { CredentialStore } from './types.js';
