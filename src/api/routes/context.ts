/** What route plugins are given: the directory, the record store and the authenticator. */
import type { AgentService } from '../../calls/agent-service.js';
import type { Directory } from '../../config/types.js';
import type { CallbackRequestStore, RecordReader } from '../../records/types.js';
import type { Authenticator } from '../auth.js';

export interface RouteContext {
  directory: Directory;
  records: RecordReader;
  authenticator: Authenticator;
  /** Callback requests: their routes are served only when given. */
  callbacks?: CallbackRequestStore;
  /**
   * Agents' availability, serving and wrap-up, and the queues' live status (src/calls): the
   * availability, membership and wrap-up routes are served only when given; without it
   * `GET /queues` shows every queue's opening status and zeros for the live counts.
   */
  agents?: AgentDesk;
  /** Epoch milliseconds (default Date.now): when a request is created or changes status. */
  now?: () => number;
}

/** What the API needs of call control's agents (implemented by src/calls/agent-service.ts). */
export type AgentDesk = Pick<
  AgentService,
  | 'availabilityOf'
  | 'setAvailability'
  | 'membershipsOf'
  | 'setServing'
  | 'wrapUpEndsAtMs'
  | 'endWrapUp'
  | 'queueStatus'
>;
