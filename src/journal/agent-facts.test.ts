/**
 * The facts of issue 16: agents' facts (stored and read back like any fact, skipped by the call
 * fold) and a closed queue's `QueueLeft` (`ScheduleClosed` → the detail QueueScheduleClosed, the
 * stay left for elsewhere).
 */
import { describe, expect, it } from 'vitest';
import { agentStreamKey, decodeFact, encodeFact, isAgentFact } from './facts.js';
import { foldCall, foldEntry, leftForElsewhere, newFoldedCall } from './fold.js';
import type { JournalEntry, JournalFact } from './types.js';

const CALL = 'c0000000-0000-4000-8000-000000000001';
const QUEUE = 'q0000000-0000-4000-8000-000000000001';
const USER = 'u0000000-0000-4000-8000-000000000001';
const T0 = Date.UTC(2030, 0, 1, 9, 0, 0);

const entries = (facts: JournalFact[]): JournalEntry[] =>
  facts.map((fact, index) => ({ seq: index + 1, timeMs: T0 + index * 1000, fact }));

describe('agent facts', () => {
  const facts: JournalFact[] = [
    {
      type: 'AvailabilityChanged',
      callId: agentStreamKey(USER),
      userId: USER,
      availability: 'DoNotDisturb',
      note: 'meeting',
      endTimeMs: T0 + 3_600_000,
      cause: 'Set',
      changedByUserId: USER,
    },
    {
      type: 'AvailabilityChanged',
      callId: agentStreamKey(USER),
      userId: USER,
      availability: 'Available',
      cause: 'EndTimeReached',
    },
    { type: 'ServingChanged', callId: agentStreamKey(USER), userId: USER, queueId: QUEUE, serving: false },
    { type: 'WrapUpEnded', callId: agentStreamKey(USER), userId: USER, changedByUserId: USER },
  ];

  it('are stored and read back like every fact, under the agent’s stream key', () => {
    for (const fact of facts) {
      expect(fact.callId).toBe(`agent:${USER}`);
      expect(decodeFact(encodeFact(fact), 'entry 1')).toEqual(fact);
      expect(isAgentFact(fact)).toBe(true);
    }
    expect(() =>
      decodeFact(JSON.stringify({ ...facts[0], availability: 'Lunch', schemaVersion: 2 }), 'entry 2'),
    ).toThrow(/not a valid fact/);
    expect(() =>
      decodeFact(JSON.stringify({ ...facts[2], callId: CALL, schemaVersion: 2 }), 'entry 3'),
    ).toThrow(/not a valid fact/);
  });

  it('are nothing to the call fold', () => {
    const state = newFoldedCall(agentStreamKey(USER));
    for (const entry of entries(facts)) expect(foldEntry(state, entry)).toEqual([]);
    expect(state).toEqual(newFoldedCall(agentStreamKey(USER)));
  });
});

describe('a closed queue', () => {
  it('leaves the queue ScheduleClosed: detail QueueScheduleClosed, the stay left for elsewhere', () => {
    const folded: JournalFact[] = [
      {
        type: 'CallStarted',
        callId: CALL,
        callKind: 'inbound-service',
        aNum: '1001',
        bNum: '100',
        route: { kind: 'queue', queueId: QUEUE },
        queueId: QUEUE,
      },
      { type: 'QueueLeft', callId: CALL, queueId: QUEUE, reason: 'ScheduleClosed' },
      { type: 'CallEnded', callId: CALL, reason: 'Unavailable', sipStatus: 480 },
    ];
    const state = newFoldedCall(CALL);
    const events = entries(folded).flatMap((entry) => foldEntry(state, entry));
    expect(events.map((event) => event.kind)).toEqual([
      'CallArrival',
      'QueueScheduleClosed',
      'CallDisconnect',
    ]);
    expect(state.visits[0]).toMatchObject({ leftReason: 'ScheduleClosed', leftMs: T0 + 1000 });
    expect(leftForElsewhere(state.visits[0]!)).toBe(true);
    expect(foldCall(CALL, entries(folded)).ended?.reason).toBe('Unavailable');
  });
});
