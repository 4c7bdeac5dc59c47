export { createKyselyCredentialStore, openCredentialStore } from './kysely-store.js';
export type { CredentialStore, NewSecretKey, StoredSecretKey } from './types.js';
