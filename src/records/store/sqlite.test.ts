import { runStoreContract } from './store.case.js';
import { sqliteStoreFactory } from './test-stores.js';

runStoreContract('SQLite', sqliteStoreFactory);
