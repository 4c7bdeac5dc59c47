import { sqliteDatabaseFactory } from '../../records/store/test-stores.js';
import { runCredentialStoreContract } from './credentials.case.js';

runCredentialStoreContract('SQLite', sqliteDatabaseFactory);
