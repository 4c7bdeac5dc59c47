/** What route plugins are given: the directory, the record store and the authenticator. */
import type { Directory } from '../../config/types.js';
import type { CallbackRequestStore, RecordReader } from '../../records/types.js';
import type { Authenticator } from '../auth.js';

export interface RouteContext {
  directory: Directory;
  records: RecordReader;
  authenticator: Authenticator;
  /** Callback requests: their routes are served only when given. */
  callbacks?: CallbackRequestStore;
  /** Epoch milliseconds (default Date.now): when a request is created or changes status. */
  now?: () => number;
}
