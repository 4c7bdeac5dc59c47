/** Types of the REST API package: what it is built from and how it is tuned. */

import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { Directory } from '../config/types.js';
import type { RecordingFiles } from '../recordings/files.js';
import type { RecordingStore } from '../recordings/store.js';
import type { RecordingTokens } from '../recordings/token.js';
import type { CallbackRequestStore, RecordReader } from '../records/types.js';
import type { HttpAuth } from './auth-plugin.js';
import type { CredentialStore } from './credentials/index.js';
import type { AgentDesk } from './routes/context.js';

/** A token bucket: `capacity` tokens at most, `refillPerSecond` added back per second. */
export interface BucketConfig {
  capacity: number;
  refillPerSecond: number;
}

export interface RateLimits {
  /**
   * Failed logins per user, counted separately for passwords (POST /authuser) and secret keys
   * (HTTP Basic). Each failure takes a token; with none left every attempt, right or wrong, is a 429.
   */
  authFailures: BucketConfig;
  /** Authenticated requests per user (the per-credential limit). */
  requests: BucketConfig;
  /** Unauthenticated requests (discovery, /authuser) per client address. */
  anonymous: BucketConfig;
}

export const DEFAULT_RATE_LIMITS: RateLimits = {
  authFailures: { capacity: 5, refillPerSecond: 1 / 60 },
  requests: { capacity: 120, refillPerSecond: 20 },
  anonymous: { capacity: 60, refillPerSecond: 5 },
};

export interface ApiDeps {
  directory: Directory;
  records: RecordReader;
  credentials: CredentialStore;
  /**
   * Callback requests (`/callbacklists/{id}/requests...`): served only when given. The platform
   * passes its record store.
   */
  callbacks?: CallbackRequestStore;
  /**
   * Recordings (`GET /calls/recordings/{RecordingId}` and its `/file`): served only when given.
   * The platform passes its recording store, its recordings directory and download tokens keyed
   * by `<dataDir>/recording-token.key` (src/recordings/README.md).
   */
  recordings?: RecordingApiDeps;
  /**
   * Agents' availability, queue serving and wrap-up, and the queues' live status
   * (src/calls/agent-service.ts): the agent routes and `/queues` Status are served with it.
   */
  agents?: AgentDesk;
  logger?: Logger;
  /** Epoch milliseconds; injectable so that throttling and key expiry can be tested. */
  now?: () => number;
  rateLimits?: Partial<RateLimits>;
  /** How long a verified secret key is remembered before it is checked against the store again. Default 60 000. */
  verifiedKeyCacheMs?: number;
  /**
   * Authentication and request budgets to share with other plugins (./auth-plugin.ts
   * `createHttpAuth`); made from the options above when not given.
   */
  auth?: HttpAuth;
  /**
   * Plugins mounted inside the API (diagnostics): their routes share its authentication, budget,
   * validation and error handling, and appear in its OpenAPI document.
   */
  extensions?: readonly FastifyPluginAsync[];
}

/** What the recording routes need (./routes/recordings.ts). */
export interface RecordingApiDeps {
  store: Pick<RecordingStore, 'getRecording'>;
  /** Where the worker writes `<recordingId>.mp3` (a row's `fileName` names it there). */
  files: RecordingFiles;
  /** Signs and checks download tokens (src/recordings/token.ts `createRecordingTokens`). */
  tokens: RecordingTokens;
}
