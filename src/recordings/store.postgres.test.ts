import { postgresDatabaseFactory, TEST_DATABASE_URL } from '../records/store/test-stores.js';
import { runRecordingStoreContract } from './store.case.js';

// No skip when PostgreSQL is down: the suite's first open fails and so does this file.
runRecordingStoreContract('PostgreSQL', () => postgresDatabaseFactory(TEST_DATABASE_URL));
