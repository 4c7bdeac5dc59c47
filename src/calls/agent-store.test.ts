/**
 * The agent store on both databases, next to the record store as the platform runs it: rows are
 * replaced per user (availability) and per membership (serving), and survive close and reopen.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { openRecordStore } from '../records/store/index.js';
import {
  type DatabaseFactory,
  postgresDatabaseFactory,
  sqliteDatabaseFactory,
} from '../records/store/test-stores.js';
import { type AgentStateStore, memoryAgentStateStore, openAgentStateStore } from './agent-store.js';

const T0 = Date.UTC(2030, 0, 15, 12, 0, 0);

function runAgentStoreContract(
  name: string,
  open: () => Promise<AgentStateStore>,
  reopen?: () => Promise<AgentStateStore>,
) {
  describe(`agent store: ${name}`, () => {
    it('replaces a user’s availability and lists every user’s latest', async () => {
      const store = await open();
      await store.saveAvailability({
        userId: 'u1',
        availability: 'DoNotDisturb',
        note: 'meeting',
        endTimeMs: T0 + 3_600_000,
        modifiedMs: T0,
      });
      await store.saveAvailability({
        userId: 'u2',
        availability: 'OffWork',
        note: null,
        endTimeMs: null,
        modifiedMs: T0,
      });
      await store.saveAvailability({
        userId: 'u1',
        availability: 'Busy',
        note: null,
        endTimeMs: null,
        modifiedMs: T0 + 1,
      });
      expect(await store.listAvailability()).toEqual([
        { userId: 'u1', availability: 'Busy', note: null, endTimeMs: null, modifiedMs: T0 + 1 },
        { userId: 'u2', availability: 'OffWork', note: null, endTimeMs: null, modifiedMs: T0 },
      ]);
    });

    it('replaces one membership’s serving', async () => {
      const store = await open();
      await store.saveServing({ userId: 'u1', queueId: 'q1', serving: false, modifiedMs: T0 });
      await store.saveServing({ userId: 'u1', queueId: 'q2', serving: false, modifiedMs: T0 });
      await store.saveServing({ userId: 'u1', queueId: 'q1', serving: true, modifiedMs: T0 + 1 });
      expect(await store.listServing()).toEqual([
        { userId: 'u1', queueId: 'q1', serving: true, modifiedMs: T0 + 1 },
        { userId: 'u1', queueId: 'q2', serving: false, modifiedMs: T0 },
      ]);
    });

    if (reopen) {
      it('keeps its rows across close and reopen (migrations run once)', async () => {
        const first = await reopen();
        await first.saveAvailability({
          userId: 'kept',
          availability: 'DoNotDisturb',
          note: 'ä note',
          endTimeMs: T0,
          modifiedMs: T0,
        });
        await first.saveServing({ userId: 'kept', queueId: 'q', serving: false, modifiedMs: T0 });
        const second = await reopen();
        expect(await second.listAvailability()).toEqual([
          { userId: 'kept', availability: 'DoNotDisturb', note: 'ä note', endTimeMs: T0, modifiedMs: T0 },
        ]);
        expect(await second.listServing()).toEqual([
          { userId: 'kept', queueId: 'q', serving: false, modifiedMs: T0 },
        ]);
      });
    }
  });
}

function onDatabases(name: string, factory: DatabaseFactory): void {
  let count = 0;
  afterAll(() => factory.cleanup());
  const openOn = async (databaseName: string) => {
    const database = await factory.open(databaseName);
    // As the platform has it: the record store first, on the same database.
    await openRecordStore(database);
    const store = await openAgentStateStore(database);
    return { database, store };
  };
  let previous: Awaited<ReturnType<typeof openOn>> | undefined;
  runAgentStoreContract(
    name,
    async () => {
      count += 1;
      return (await openOn(`agents${count}`)).store;
    },
    async () => {
      await previous?.database.close();
      previous = await openOn('reopen');
      return previous.store;
    },
  );
}

onDatabases('SQLite', sqliteDatabaseFactory());
onDatabases('PostgreSQL', postgresDatabaseFactory());
runAgentStoreContract('memory', async () => memoryAgentStateStore());
