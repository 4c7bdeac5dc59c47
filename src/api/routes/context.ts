/** What route handlers are given: the directory, the record store and the authenticator. */
import type { Directory } from '../../config/types.js';
import type { RecordReader } from '../../records/types.js';
import type { Authenticator } from '../auth.js';

export interface RouteContext {
  directory: Directory;
  records: RecordReader;
  authenticator: Authenticator;
}
