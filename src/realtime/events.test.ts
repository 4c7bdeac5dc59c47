import { describe, expect, it } from 'vitest';
import type { JournalEntry } from '../journal/types.js';
import { EVENT_TYPES, EventDeriver } from './events.js';
import { A, availabilityFact, B, C, fixtureDirectory, Q, serviceCallFacts } from './scenario.fixture.js';

const entries = (facts: JournalEntry['fact'][], from = 1): JournalEntry[] =>
  facts.map((fact, i) => ({ seq: from + i, timeMs: 1_700_000_000_000 + (from + i) * 1000, fact }));

describe('EventDeriver', () => {
  it('turns a service call into user and queue events with call fields, ids from the journal position', () => {
    const deriver = new EventDeriver({ directory: fixtureDirectory });
    const events = entries(serviceCallFacts('call-1')).flatMap((entry) => deriver.derive(entry));
    expect(events.map((e) => `${e.eventName}/${e.entityId}`)).toEqual([
      `UserCallOutGoing/${A}`,
      `QueueCallInArrived/${Q}`,
      `QueueStatus/${Q}`,
      `UserCallInComing/${B}`,
      `QueueCallInUserAllocated/${Q}`,
      `QueueCallInUserCancelled/${Q}`,
      `UserCallDisconnected/${B}`,
      `UserCallInComing/${C}`,
      `QueueCallInUserAllocated/${Q}`,
      `UserCallInConnected/${C}`,
      `QueueCallInUserConnected/${Q}`,
      `QueueStatus/${Q}`,
      `QueueCallInTransferStarted/${Q}`,
      `QueueCallInTransferConnected/${Q}`,
      `UserCallDisconnected/${C}`,
      `UserCallDisconnected/${A}`,
      `QueueCallInDisconnected/${Q}`,
      `QueueStatus/${Q}`,
    ]);
    const arrived = events.find((e) => e.eventName === 'QueueCallInArrived')!;
    expect(arrived.eventId).toBe('3-0');
    expect(arrived.data).toMatchObject({
      eventType: EVENT_TYPES.QueueCallInArrived,
      eventName: 'QueueCallInArrived',
      entityId: Q,
      callId: 'call-1',
      callLegId: 'call-1-leg-a',
      callerNumber: '1001',
      targetNumber: '100',
      queueId: Q,
      queueName: 'Support',
      userId: null,
      callerUserId: A,
      timestamp: new Date(1_700_000_003_000).toISOString(),
    });
    // QueueStatus follows its fact: same seq, next index.
    expect(events[2]!.eventId).toBe('3-1');
    expect(events[2]!.data).toMatchObject({ queueLength: 1, connectedCalls: 0, eventType: 140 });
    expect(events[11]!.data).toMatchObject({ queueLength: 0, connectedCalls: 1 });
    expect(events[17]!.data).toMatchObject({ queueLength: 0, connectedCalls: 0 });
    const allocated = events.find((e) => e.eventName === 'QueueCallInUserAllocated')!;
    expect(allocated.eventType).toBe(102);
    expect(allocated.data).toMatchObject({ userId: B, callLegId: 'call-1-leg-b' });
    expect(events.find((e) => e.eventName === 'QueueCallInUserCancelled')!.data.reason).toBe(
      'GenericUserRejected',
    );
    expect(events.find((e) => e.eventName === 'QueueCallInTransferStarted')!.data.transferTarget).toBe(
      'number +358401234567',
    );
  });

  it('agent facts: UserAvailability (1), UserStatus (141)', () => {
    const deriver = new EventDeriver({ directory: fixtureDirectory });
    const [availability] = deriver.derive({ seq: 7, timeMs: 0, fact: availabilityFact });
    expect(availability).toMatchObject({ eventId: '7-0', eventType: 1, entityType: 'User', entityId: B });
    expect(availability!.data).toMatchObject({ availability: 'DoNotDisturb', note: 'lunch', userId: B });
    const [status] = deriver.derive({
      seq: 8,
      timeMs: 0,
      fact: { type: 'ServingChanged', callId: `agent:${B}`, userId: B, queueId: Q, serving: false },
    });
    expect(status).toMatchObject({ eventType: 141, eventName: 'UserStatus' });
    expect(status!.data).toMatchObject({ queueId: Q, queueName: 'Support', serving: false });
  });

  it('facts of a call it never saw start yield nothing; priming with the earlier facts gives the same events', () => {
    const all = entries(serviceCallFacts('call-2'));
    const full = new EventDeriver({ directory: fixtureDirectory });
    const expected = all.flatMap((entry) => full.derive(entry)).filter((e) => e.seq > 9);
    const blind = new EventDeriver({ directory: fixtureDirectory });
    expect(all.slice(9).flatMap((entry) => blind.derive(entry))).toEqual([]);
    const primed = new EventDeriver({ directory: fixtureDirectory });
    for (const entry of all.slice(0, 9)) primed.prime(entry);
    expect(all.slice(9).flatMap((entry) => primed.derive(entry))).toEqual(expected);
  });

  it('outbound callback calls produce callback list events', () => {
    const deriver = new EventDeriver({ directory: fixtureDirectory });
    const events = entries([
      {
        type: 'CallStarted',
        callId: 'cb',
        callKind: 'outbound-callback',
        aNum: '1002',
        bNum: '+358401111111',
        route: { kind: 'trunk' },
        callerUserId: B,
        callbackListId: 'list-1',
        callbackRequestId: 'req-1',
      },
      {
        type: 'LegCreated',
        callId: 'cb',
        callLegId: 'cb-a',
        role: 'caller',
        direction: 'inbound',
        userId: B,
        target: 'ws:b',
        sip: { sipCallId: 's', localTag: 't' },
      },
      { type: 'CallEnded', callId: 'cb', reason: 'Normal', sipStatus: 200 },
    ]).flatMap((entry) => deriver.derive(entry));
    expect(events.map((e) => `${e.eventName}/${e.entityType}/${e.entityId}`)).toEqual([
      `UserCallOutGoing/User/${B}`,
      'CallbackCallOutGoing/CallbackList/list-1',
      'CallbackCallDisconnected/CallbackList/list-1',
    ]);
    expect(events[1]!.data).toMatchObject({ callbackRequestId: 'req-1', callId: 'cb', userId: B });
  });
});
