import { sqliteStoreFactory } from '../store/test-stores.js';
import { runPostProcessContract } from './postprocess.case.js';

runPostProcessContract('SQLite', sqliteStoreFactory);
