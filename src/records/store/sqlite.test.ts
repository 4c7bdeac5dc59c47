import { runCallbackRequestContract } from './callback-requests.case.js';
import { runStoreContract } from './store.case.js';
import { sqliteStoreFactory } from './test-stores.js';

runStoreContract('SQLite', sqliteStoreFactory);
runCallbackRequestContract('SQLite', sqliteStoreFactory);
