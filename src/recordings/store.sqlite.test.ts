import { sqliteDatabaseFactory } from '../records/store/test-stores.js';
import { runRecordingStoreContract } from './store.case.js';

runRecordingStoreContract('SQLite', sqliteDatabaseFactory);
