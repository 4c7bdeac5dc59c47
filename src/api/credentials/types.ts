/**
 * Hashed REST secret keys (from POST /authuser) and the fingerprint of the password they were
 * minted under, kept durably so that keys survive restarts and die with a password change.
 */

/** One secret key as stored: never the key itself. */
export interface StoredSecretKey {
  /** Public id of the key (a UUID): how it is listed and revoked. */
  keyId: string;
  userId: string;
  /** `scrypt$N$r$p$salt$hash` of the key (../auth.ts). */
  keyHash: string;
  /**
   * A short SHA-256 tag of the key, to find its row without trying every hash of the user; null for
   * keys minted before keys had ids (tagged on their first use).
   */
  lookup: string | null;
  createdMs: number;
  /** When the key last authenticated a request that was checked against the store; null if never. */
  lastUsedMs: number | null;
}

export type NewSecretKey = Omit<StoredSecretKey, 'lastUsedMs'>;

export interface CredentialStore {
  saveSecretKey(key: NewSecretKey): Promise<void>;
  /** The user's keys, newest first. */
  listSecretKeys(userId: string): Promise<StoredSecretKey[]>;
  /**
   * The keys that may be the one presented: the user's keys with this lookup tag and the untagged
   * ones (from before key ids), newest first.
   */
  findSecretKeyCandidates(userId: string, lookup: string): Promise<StoredSecretKey[]>;
  /** Records a use of the key and sets its lookup tag (an untagged key gets its tag here). */
  markSecretKeyUsed(keyId: string, usedMs: number, lookup: string): Promise<void>;
  /** Deletes one key of the user; false when the user has no key with that id. */
  deleteSecretKey(userId: string, keyId: string): Promise<boolean>;
  /** Deletes every key of the user; how many there were. */
  deleteSecretKeys(userId: string): Promise<number>;
  /** The scrypt hash of the password the user's keys were minted under, if recorded. */
  getPasswordHash(userId: string): Promise<string | undefined>;
  setPasswordHash(userId: string, passwordHash: string, changedMs: number): Promise<void>;
}
