import { postgresStoreFactory, TEST_DATABASE_URL } from '../store/test-stores.js';
import { runPostProcessContract } from './postprocess.case.js';

// No skip when PostgreSQL is down: every test's store fails to open, and so does this file.
runPostProcessContract('PostgreSQL', () => postgresStoreFactory(TEST_DATABASE_URL));
