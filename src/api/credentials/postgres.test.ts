import { postgresDatabaseFactory, TEST_DATABASE_URL } from '../../records/store/test-stores.js';
import { runCredentialStoreContract } from './credentials.case.js';

// No skip when PostgreSQL is down: the suite's first open fails and so does this file.
runCredentialStoreContract('PostgreSQL', () => postgresDatabaseFactory(TEST_DATABASE_URL));
