/**
 * AgentService on its own (an in-memory store, a journal that keeps what is appended, fake
 * timers): the order of store, journal and live state; EndTimes, also beyond setTimeout's limit
 * and across a restart; a store that fails changes nothing.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDirectory } from '../config/directory.js';
import { parseTenantYaml } from '../config/load.js';
import type { Directory } from '../config/types.js';
import type { Journal, JournalFact } from '../journal/types.js';
import { LocationService } from '../sip/registrar.js';
import { AgentService } from './agent-service.js';
import { type AgentStateStore, memoryAgentStateStore } from './agent-store.js';
import { AgentStates } from './agents.js';

const T0 = Date.UTC(2030, 0, 7, 9, 0, 0);
const DAY = 86_400_000;

let directory: Directory;
let facts: JournalFact[];
let journal: Journal;

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
  directory = createDirectory(
    parseTenantYaml(
      `
users:
  - { username: b@example.com, extension: "1002", password: b }
  - { username: c@example.com, extension: "1003", password: c }
queues:
  - { name: Support, extension: "100", members: [b@example.com, c@example.com] }
  - { name: Sales, extension: "200", members: [c@example.com] }
`,
      'agents.yaml',
    ),
  );
  facts = [];
  journal = {
    append: (fact: JournalFact) => {
      facts.push(fact);
      return { seq: facts.length, timeMs: Date.now(), fact };
    },
  } as unknown as Journal;
});

afterEach(() => {
  vi.useRealTimers();
});

const idOf = (username: string) => directory.userByUsername(username)!.userId;

function service(store: AgentStateStore = memoryAgentStateStore()) {
  const agents = new AgentStates(directory, new LocationService());
  return { agents, store, service: new AgentService({ directory, agents, store, journal }) };
}

describe('AgentService', () => {
  it('persists, journals and applies a change, then ends it at its EndTime', async () => {
    const { agents, store, service: desk } = service();
    const c = idOf('c@example.com');
    const state = await desk.setAvailability(
      c,
      { availability: 'DoNotDisturb', note: 'meeting', endTimeMs: T0 + 60_000 },
      c,
    );
    expect(state).toEqual({
      availability: 'DoNotDisturb',
      note: 'meeting',
      endTimeMs: T0 + 60_000,
      modifiedMs: T0,
    });
    expect(agents.availabilityOf(c)).toEqual(state);
    expect(await store.listAvailability()).toEqual([{ userId: c, ...state }]);
    expect(facts).toEqual([
      {
        type: 'AvailabilityChanged',
        callId: `agent:${c}`,
        userId: c,
        availability: 'DoNotDisturb',
        note: 'meeting',
        endTimeMs: T0 + 60_000,
        cause: 'Set',
        changedByUserId: c,
      },
    ]);
    await vi.advanceTimersByTimeAsync(59_000);
    expect(agents.availabilityOf(c).availability).toBe('DoNotDisturb');
    await vi.advanceTimersByTimeAsync(1000);
    expect(agents.availabilityOf(c)).toEqual({
      availability: 'Available',
      note: null,
      endTimeMs: null,
      modifiedMs: T0 + 60_000,
    });
    expect(facts.at(-1)).toMatchObject({
      type: 'AvailabilityChanged',
      availability: 'Available',
      cause: 'EndTimeReached',
    });
    expect((await store.listAvailability())[0]!.availability).toBe('Available');
    desk.close();
  });

  it('waits for an EndTime beyond setTimeout’s 24.8 days, and a later change replaces it', async () => {
    const { agents, service: desk } = service();
    const c = idOf('c@example.com');
    await desk.setAvailability(c, { availability: 'OffWork', note: null, endTimeMs: T0 + 40 * DAY }, c);
    await vi.advanceTimersByTimeAsync(30 * DAY);
    expect(agents.availabilityOf(c).availability).toBe('OffWork');
    await vi.advanceTimersByTimeAsync(10 * DAY);
    expect(agents.availabilityOf(c).availability).toBe('Available');

    await desk.setAvailability(c, { availability: 'Busy', note: null, endTimeMs: T0 + 41 * DAY }, c);
    await desk.setAvailability(c, { availability: 'DoNotDisturb', note: null, endTimeMs: null }, c);
    await vi.advanceTimersByTimeAsync(2 * DAY);
    expect(agents.availabilityOf(c).availability).toBe('DoNotDisturb');
    desk.close();
  });

  it('restores what was set at start: EndTimes that passed end at once, unknown users and memberships are ignored', async () => {
    const store = memoryAgentStateStore();
    const [b, c] = [idOf('b@example.com'), idOf('c@example.com')];
    await store.saveAvailability({
      userId: b,
      availability: 'Busy',
      note: 'x',
      endTimeMs: T0 - 1000,
      modifiedMs: T0 - DAY,
    });
    await store.saveAvailability({
      userId: c,
      availability: 'OffWork',
      note: null,
      endTimeMs: T0 + 5000,
      modifiedMs: T0 - DAY,
    });
    await store.saveAvailability({
      userId: 'gone',
      availability: 'OffWork',
      note: null,
      endTimeMs: null,
      modifiedMs: T0,
    });
    const sales = directory.queueByReference('Sales')!.queueId;
    const support = directory.queueByReference('Support')!.queueId;
    await store.saveServing({ userId: c, queueId: sales, serving: false, modifiedMs: T0 });
    await store.saveServing({ userId: b, queueId: sales, serving: false, modifiedMs: T0 });
    const { agents, service: desk } = service(store);
    await desk.load();
    expect(agents.availabilityOf(b)).toMatchObject({ availability: 'Available', modifiedMs: T0 });
    expect(facts).toEqual([
      expect.objectContaining({ userId: b, availability: 'Available', cause: 'EndTimeReached' }),
    ]);
    expect(agents.availabilityOf(c)).toMatchObject({ availability: 'OffWork', endTimeMs: T0 + 5000 });
    expect(agents.availabilityOf('gone').availability).toBe('Available');
    expect(desk.membershipsOf(c).map(({ queue, serving }) => [queue.name, serving])).toEqual([
      ['Support', true],
      ['Sales', false],
    ]);
    expect(agents.isServing(b, support)).toBe(true);
    await vi.advanceTimersByTimeAsync(5000);
    expect(agents.availabilityOf(c).availability).toBe('Available');
    desk.close();
  });

  it('changes nothing when the store fails', async () => {
    const failing: AgentStateStore = {
      ...memoryAgentStateStore(),
      saveAvailability: async () => {
        throw new Error('disk full');
      },
      saveServing: async () => {
        throw new Error('disk full');
      },
    };
    const { agents, service: desk } = service(failing);
    const c = idOf('c@example.com');
    await expect(
      desk.setAvailability(c, { availability: 'Busy', note: null, endTimeMs: null }, c),
    ).rejects.toThrow('disk full');
    const sales = directory.queueByReference('Sales')!.queueId;
    await expect(desk.setServing(c, sales, false, c)).rejects.toThrow('disk full');
    expect(agents.availabilityOf(c).availability).toBe('Available');
    expect(agents.isServing(c, sales)).toBe(true);
    expect(facts).toEqual([]);
    // The next change is not blocked by the failed one.
    await expect(
      desk.setAvailability(c, { availability: 'Busy', note: null, endTimeMs: null }, c),
    ).rejects.toThrow();
  });

  it('applies one user’s changes in the order they were asked for', async () => {
    const store = memoryAgentStateStore();
    const saved: string[] = [];
    const slow: AgentStateStore = {
      ...store,
      saveAvailability: async (row) => {
        // The first save is the slowest: without ordering the last change would not win.
        await new Promise((resolve) => setTimeout(resolve, row.availability === 'Busy' ? 50 : 1));
        saved.push(row.availability);
        await store.saveAvailability(row);
      },
    };
    const { agents, service: desk } = service(slow);
    const c = idOf('c@example.com');
    const first = desk.setAvailability(c, { availability: 'Busy', note: null, endTimeMs: null }, c);
    const second = desk.setAvailability(c, { availability: 'OffWork', note: null, endTimeMs: null }, c);
    await vi.advanceTimersByTimeAsync(100);
    await Promise.all([first, second]);
    expect(saved).toEqual(['Busy', 'OffWork']);
    expect(agents.availabilityOf(c).availability).toBe('OffWork');
    expect((await store.listAvailability())[0]!.availability).toBe('OffWork');
  });
});
