/** Hashed REST secret keys (from POST /authuser), kept durably so that they survive restarts. */
export interface CredentialStore {
  saveSecretKeyHash(userId: string, keyHash: string, createdMs: number): Promise<void>;
  /** Hashes of the user's current keys, newest first. */
  listSecretKeyHashes(userId: string): Promise<string[]>;
}
