import { describe, expect, it } from 'vitest';
import { runCallbackRequestContract } from './callback-requests.case.js';
import { openStore } from './index.js';
import { runStoreContract } from './store.case.js';
import { postgresStoreFactory, TEST_DATABASE_URL } from './test-stores.js';

// No skip when PostgreSQL is down: the suite's first open fails and so does this file.
runStoreContract('PostgreSQL', () => postgresStoreFactory(TEST_DATABASE_URL));
runCallbackRequestContract('PostgreSQL', () => postgresStoreFactory(TEST_DATABASE_URL));

describe('openStore on PostgreSQL', () => {
  it('refuses a schema name that is not a plain identifier', async () => {
    await expect(
      openStore({ databaseUrl: TEST_DATABASE_URL, dataDir: '', schema: 'x"; drop table y; --' }),
    ).rejects.toMatchObject({ code: 'RECORDS_BAD_OPTION' });
  });

  it('reports an unreachable server as a coded error', async () => {
    await expect(
      openStore({ databaseUrl: 'postgres://postgres@127.0.0.1:1/test', dataDir: '', schema: 'unreachable' }),
    ).rejects.toMatchObject({ code: 'RECORDS_STORE_OPEN_FAILED' });
  });
});
