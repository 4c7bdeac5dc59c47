/**
 * The identifier map from journal facts and records (pure functions): the seed's scenario written
 * as call control journals it, then what each kind of viewer may see of it.
 */
import { describe, expect, it } from 'vitest';
import { createDirectory } from '../config/directory.js';
import { parseTenantYaml } from '../config/load.js';
import type { JournalEntry, JournalFact } from '../journal/types.js';
import type { ServiceCall, ServiceCallDetail, UserCallEvent } from '../records/types.js';
import { buildCallMap, type CallRecords, restrictCallMap, toWireCallMap } from './call-map.js';

const TENANT = parseTenantYaml(
  `
domain: switchboard.local
users:
  - { username: a@example.com, displayName: User A, extension: "1001", password: a }
  - { username: b@example.com, displayName: User B, extension: "1002", password: b }
  - { username: c@example.com, displayName: User C, extension: "1003", password: c }
  - { username: admin@example.com, extension: "1000", password: x, role: admin }
  - { username: support@example.com, extension: "2001", password: x, permissions: [ { ServiceCalls: Support } ] }
  - { username: nobody@example.com, extension: "2002", password: x }
queues:
  - { name: Support, extension: "100", members: [b@example.com, c@example.com] }
`,
  'call-map.test.yaml',
);
const directory = createDirectory(TENANT);
const user = (email: string) => directory.userByUsername(email)!;
const [A, B, C] = ['a@example.com', 'b@example.com', 'c@example.com'].map((email) => user(email).userId) as [
  string,
  string,
  string,
];
const QUEUE = TENANT.queues[0]!.queueId;
const CALL = '11111111-1111-4111-8111-111111111111';
const LEG_A = 'aaaaaaaa-0000-4000-8000-000000000001';
const LEG_B = 'bbbbbbbb-0000-4000-8000-000000000002';
const LEG_C = 'cccccccc-0000-4000-8000-000000000003';
const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);

/** The allocation of the call to B, as each allocation fact names it. */
const OFFER_B = { callId: CALL, callLegId: LEG_B, queueId: QUEUE, userId: B };

/** How B's device refused the offer: 603 Decline. */
const DECLINED = { sipStatus: 603, cause: 'Refused', sipReason: 'Decline' } as const;

/** A queue's offer to a member's device (`letter` names its SIP identifiers). */
function allocationLeg(callLegId: string, userId: string, letter: string): JournalFact {
  return {
    type: 'LegCreated',
    callId: CALL,
    callLegId,
    role: 'allocation',
    direction: 'outbound',
    userId,
    queueId: QUEUE,
    target: `sip:${letter}@127.0.0.1;transport=ws`,
    sip: { sipCallId: `uuid-${letter}@switchboard`, localTag: `fromtag${letter.toUpperCase()}` },
  };
}

/** The seed's scenario, fact by fact, as call control appends it. */
function seedEntries(): JournalEntry[] {
  const facts: JournalFact[] = [
    {
      type: 'CallStarted',
      callId: CALL,
      callKind: 'inbound-service',
      aNum: '1001',
      bNum: '100',
      route: { kind: 'queue', queueId: QUEUE },
      callerUserId: A,
      queueId: QUEUE,
    },
    {
      type: 'LegCreated',
      callId: CALL,
      callLegId: LEG_A,
      role: 'caller',
      direction: 'inbound',
      userId: A,
      target: 'ws:127.0.0.1:50000',
      sip: { sipCallId: 'jssip-call-a', localTag: 'sbtagA', remoteTag: 'fromtagA' },
    },
    { type: 'QueueEntered', callId: CALL, queueId: QUEUE },
    allocationLeg(LEG_B, B, 'b'),
    { type: 'AllocationOffered', ...OFFER_B },
    { type: 'LegRinging', callId: CALL, callLegId: LEG_B, sipStatus: 180 },
    { type: 'AllocationRejected', ...OFFER_B, reason: 'GenericUserRejected', sipStatus: 603 },
    { type: 'LegEnded', callId: CALL, callLegId: LEG_B, ...DECLINED },
    allocationLeg(LEG_C, C, 'c'),
    { type: 'AllocationOffered', callId: CALL, callLegId: LEG_C, queueId: QUEUE, userId: C },
    { type: 'LegRinging', callId: CALL, callLegId: LEG_C, sipStatus: 180 },
    {
      type: 'LegAnswered',
      callId: CALL,
      callLegId: LEG_C,
      sip: { sipCallId: 'uuid-c@switchboard', localTag: 'fromtagC', remoteTag: 'totagC' },
    },
    { type: 'AllocationConnected', callId: CALL, callLegId: LEG_C, queueId: QUEUE, userId: C },
    { type: 'QueueLeft', callId: CALL, queueId: QUEUE, reason: 'Answered' },
    {
      type: 'LegAnswered',
      callId: CALL,
      callLegId: LEG_A,
      sip: { sipCallId: 'jssip-call-a', localTag: 'sbtagA', remoteTag: 'fromtagA' },
    },
    { type: 'LegEnded', callId: CALL, callLegId: LEG_C, sipStatus: 200, cause: 'CallerHangup' },
    { type: 'LegEnded', callId: CALL, callLegId: LEG_A, sipStatus: 200, cause: 'CallerHangup' },
    { type: 'CallEnded', callId: CALL, reason: 'Normal', sipStatus: 200, answeredByUserId: C },
  ];
  return facts.map((fact, index) => ({ seq: 100 + index, timeMs: T0 + index * 100, fact }));
}

function userEvent(
  userId: string,
  callLegId: string,
  callType: UserCallEvent['callType'],
  result: UserCallEvent['result'],
): UserCallEvent {
  const name = directory.userById(userId)!.username;
  return {
    eventId: `event-${name}`,
    callId: CALL,
    callLegId,
    userId,
    userName: name,
    callType,
    direction: callType === 'DirectCall' ? 'outbound' : 'inbound',
    result,
    aNum: '1001',
    bNum: '100',
    queueId: callType === 'ServiceCall' ? QUEUE : null,
    queueName: callType === 'ServiceCall' ? 'Support' : null,
    timestampMs: T0,
    answerTimeMs: null,
    endTimeMs: T0 + 1700,
    durationSeconds: 0,
    recordingIds: [],
    modifiedMs: T0 + 2000,
  };
}

function records(): CallRecords {
  const header: ServiceCall = {
    eventId: 'header-1',
    callId: CALL,
    queueId: QUEUE,
    queueName: 'Support',
    aNum: '1001',
    bNum: '100',
    arrivalTimeMs: T0,
    answerTimeMs: T0 + 1100,
    endTimeMs: T0 + 1700,
    waitTimeSeconds: 1,
    durationSeconds: 0,
    result: 'Handled',
    answeredByUserId: C,
    answeredByUserName: 'c@example.com',
    allocationCount: 2,
    recordingIds: [],
    modifiedMs: T0 + 2000,
  };
  const detail = (
    eventId: string,
    eventType: ServiceCallDetail['eventType'],
    callLegId: string | null,
    userId: string | null,
    seq: number,
  ): ServiceCallDetail => ({
    eventId,
    callId: CALL,
    callLegId,
    queueId: QUEUE,
    queueName: 'Support',
    userId,
    userName: userId ? directory.userById(userId)!.username : null,
    eventType,
    reason: eventType === 'UserReject' ? 'GenericUserRejected' : null,
    timestampMs: T0 + seq,
    modifiedMs: T0 + 2000,
    seq,
  });
  return {
    userCallEvents: [
      userEvent(A, LEG_A, 'DirectCall', 'Handled'),
      userEvent(B, LEG_B, 'ServiceCall', 'Allocated'),
      userEvent(C, LEG_C, 'ServiceCall', 'Handled'),
    ],
    serviceCalls: [header],
    serviceCallDetails: [
      detail('d-arrival', 'CallArrival', null, null, 100),
      detail('d-alloc-b', 'UserAllocation', LEG_B, B, 104),
      detail('d-reject-b', 'UserReject', LEG_B, B, 106),
    ],
    outboundServiceCalls: [],
    outboundCallbackCalls: [],
  };
}

describe('buildCallMap', () => {
  const map = buildCallMap(seedEntries(), records())!;

  it('lists every leg with its SIP ids and the client callId its device saw (Call-ID + From tag)', () => {
    expect(map.legs.map((leg) => [leg.role, leg.userId, leg.sessionId])).toEqual([
      ['caller', A, 'jssip-call-afromtagA'], // the caller's own From tag
      ['allocation', B, 'uuid-b@switchboardfromtagB'], // our From tag on the INVITE we sent
      ['allocation', C, 'uuid-c@switchboardfromtagC'],
    ]);
    const [caller, legB, legC] = map.legs;
    expect(legB).toMatchObject({
      allocation: { ordinal: 1, outcome: 'Rejected', rejectReason: 'GenericUserRejected' },
      endSipStatus: 603,
      answeredAtMs: null,
    });
    expect(legC).toMatchObject({
      allocation: { ordinal: 2, outcome: 'Connected', rejectReason: null },
      remoteTag: 'totagC',
      answeredAtMs: T0 + 1100,
    });
    expect(caller).toMatchObject({ allocation: null, answeredAtMs: T0 + 1400, endCause: 'CallerHangup' });
    expect(map).toMatchObject({
      callKind: 'inbound-service',
      aNum: '1001',
      bNum: '100',
      callerUserId: A,
      queueIds: [QUEUE],
      endReason: 'Normal',
      endedAtMs: T0 + 1700,
    });
  });

  it('tells who was offered the call when, as arrows between the parties', () => {
    const steps = map.timeline.map(
      (step) => `${step.from} -> ${step.to}: ${step.label}${step.detail ? ` (${step.detail})` : ''}`,
    );
    expect(steps).toEqual([
      'caller -> switchboard: INVITE 100',
      `switchboard -> queue:${QUEUE}: queued`,
      `switchboard -> user:${B}: INVITE (offer #1 from the queue)`,
      `user:${B} -> switchboard: 180 Ringing`,
      `queue:${QUEUE} -> queue:${QUEUE}: offer #1 rejected (GenericUserRejected)`,
      `user:${B} -> switchboard: 603 Decline`,
      `switchboard -> user:${C}: INVITE (offer #2 from the queue)`,
      `user:${C} -> switchboard: 180 Ringing`,
      `user:${C} -> switchboard: 200 OK`,
      `queue:${QUEUE} -> queue:${QUEUE}: offer #2 answered`,
      `queue:${QUEUE} -> switchboard: left: Answered`,
      'switchboard -> caller: 200 OK',
      `switchboard -> user:${C}: BYE (CallerHangup)`,
      'caller -> switchboard: BYE',
      'switchboard -> switchboard: call ended: Normal',
    ]);
    expect(map.participants.map((participant) => participant.key)).toEqual([
      'caller',
      'switchboard',
      `queue:${QUEUE}`,
      `user:${B}`,
      `user:${C}`,
    ]);
  });

  it('names for every record the endpoint that serves it and the permission that shows it', () => {
    expect(
      map.records.map((entry) => [
        entry.kind,
        entry.endpoint,
        entry.permission.kind,
        entry.permission.entityId,
      ]),
    ).toEqual([
      ['UserCallEvent', `GET /calls?CallId=${CALL}`, 'DirectCalls', A],
      ['UserCallEvent', `GET /calls?CallId=${CALL}`, 'AgentCalls', B],
      ['UserCallEvent', `GET /calls?CallId=${CALL}`, 'AgentCalls', C],
      ['ServiceCall', `GET /servicecall?CallId=${CALL}`, 'ServiceCalls', QUEUE],
      ['ServiceCallDetail', `GET /servicecall/${CALL}/details`, 'ServiceCalls', QUEUE],
      ['ServiceCallDetail', `GET /servicecall/${CALL}/details`, 'ServiceCalls', QUEUE],
      ['ServiceCallDetail', `GET /servicecall/${CALL}/details`, 'ServiceCalls', QUEUE],
    ]);
    // The record as its REST endpoint serves it.
    expect(map.records[1]!.record).toMatchObject({
      Id: 'event-b@example.com',
      CallLegId: LEG_B,
      CallTypeString: 'ServiceCall',
      Result: 'Allocated',
    });
  });

  it('is undefined without facts, and marks an allocation the call ended as rejected', () => {
    expect(buildCallMap([], records())).toBeUndefined();
    const cut = seedEntries().slice(0, 6); // B is ringing…
    cut.push({
      seq: 200,
      timeMs: T0 + 5000,
      fact: { type: 'LegEnded', callId: CALL, callLegId: LEG_B, sipStatus: 487, cause: 'CallerCancelled' },
    });
    const partial = buildCallMap(cut, { ...records(), userCallEvents: [] })!;
    expect(partial.legs[1]!.allocation).toMatchObject({
      outcome: 'Rejected',
      rejectReason: 'CallerCancelled',
    });
    expect(partial.timeline.at(-1)).toMatchObject({
      from: 'switchboard',
      to: `user:${B}`,
      label: 'CANCEL',
      detail: 'CallerCancelled',
    });
  });
});

describe('restrictCallMap: only what the viewer may see', () => {
  const map = buildCallMap(seedEntries(), records())!;

  it('gives an admin everything', () => {
    expect(restrictCallMap(map, user('admin@example.com'))).toEqual({ map, complete: true });
  });

  it('gives B their allocation and their record, nothing of A or C', () => {
    const visible = restrictCallMap(map, user('b@example.com'))!;
    expect(visible.complete).toBe(false);
    expect(visible.map.legs.map((leg) => leg.callLegId)).toEqual([LEG_B]);
    expect(visible.map.records.map((entry) => entry.eventId)).toEqual(['event-b@example.com']);
    expect(visible.map.callerUserId).toBeNull();
    const text = JSON.stringify(visible.map);
    for (const hidden of [LEG_A, LEG_C, 'jssip-call-a', 'uuid-c@switchboard', C])
      expect(text).not.toContain(hidden);
    expect(visible.map.participants.map((participant) => [participant.key, participant.userId])).toEqual([
      ['caller', null],
      ['switchboard', null],
      [`queue:${QUEUE}`, null],
      [`user:${B}`, B],
    ]);
    // The queue's own steps need ServiceCalls; B's offer and its rejection are B's.
    expect(visible.map.timeline.map((step) => step.label)).toEqual([
      'INVITE 100',
      'INVITE',
      '180 Ringing',
      'offer #1 rejected',
      '603 Decline',
      'call ended: Normal',
    ]);
  });

  it('gives a ServiceCalls holder the allocations and the queue records, not the caller', () => {
    const visible = restrictCallMap(map, user('support@example.com'))!;
    expect(visible.map.legs.map((leg) => leg.callLegId)).toEqual([LEG_B, LEG_C]);
    expect(visible.map.records.map((entry) => entry.kind)).toEqual([
      'ServiceCall',
      'ServiceCallDetail',
      'ServiceCallDetail',
      'ServiceCallDetail',
    ]);
    expect(visible.map.timeline.some((step) => step.label === 'queued')).toBe(true);
    expect(JSON.stringify(visible.map)).not.toContain(LEG_A);
  });

  it('gives someone without grants nothing at all', () => {
    expect(restrictCallMap(map, user('nobody@example.com'))).toBeUndefined();
  });
});

describe('recordings in the map', () => {
  const RECORDING = 'dddddddd-0000-4000-8000-000000000004';
  const entries = seedEntries();
  const ended = entries.pop()!;
  const recorded = [
    ...entries,
    {
      seq: ended.seq,
      timeMs: ended.timeMs - 50,
      fact: {
        type: 'RecordingStarted',
        callId: CALL,
        recordingId: RECORDING,
        owner: { kind: 'queue', queueId: QUEUE },
        aLegId: LEG_A,
        bLegId: LEG_C,
      },
    } satisfies JournalEntry,
    { ...ended, seq: ended.seq + 1 },
  ];
  const map = buildCallMap(recorded, records())!;

  it('lists the recording with its owner, its two legs and where REST serves it, and a timeline note', () => {
    expect(map.recordings).toEqual([
      {
        recordingId: RECORDING,
        ownerKind: 'queue',
        ownerId: QUEUE,
        aLegId: LEG_A,
        bLegId: LEG_C,
        startedAtMs: ended.timeMs - 50,
      },
    ]);
    expect(map.timeline.some((step) => step.label === 'recording started' && step.callLegId === LEG_C)).toBe(
      true,
    );
    const wire = toWireCallMap(map, directory, true);
    expect(wire.Recordings).toEqual([
      expect.objectContaining({
        RecordingId: RECORDING,
        Owner: { Kind: 'Queue', Id: QUEUE, Name: 'Support' },
        Endpoint: `calls/recordings/${RECORDING}`,
      }),
    ]);
  });

  it("shows it to the queue's ServiceCalls holder and to C (a party), not to B who only declined", () => {
    expect(restrictCallMap(map, user('support@example.com'))!.map.recordings).toHaveLength(1);
    expect(restrictCallMap(map, user('c@example.com'))!.map.recordings).toHaveLength(1);
    const b = restrictCallMap(map, user('b@example.com'))!;
    expect(b.map.recordings).toEqual([]);
    expect(JSON.stringify(b.map)).not.toContain(RECORDING);
  });
});

describe('toWireCallMap', () => {
  it('speaks the REST API dialect: PascalCase, UTC times, names for ids', () => {
    const wire = toWireCallMap(buildCallMap(seedEntries(), records())!, directory, true);
    expect(wire).toMatchObject({
      CallId: CALL,
      CallKind: 'InboundServiceCall',
      Caller: { UserName: 'a@example.com', Extension: '1001' },
      Queues: [{ QueueId: QUEUE, QueueName: 'Support' }],
      StartTime: '2026-01-05T09:00:00.000Z',
      EndTime: '2026-01-05T09:00:01.700Z',
      Complete: true,
    });
    expect(wire.Legs[1]).toMatchObject({
      CallLegId: LEG_B,
      Role: 'Allocation',
      User: { UserName: 'b@example.com', DisplayName: 'User B' },
      QueueName: 'Support',
      Sip: { CallId: 'uuid-b@switchboard', LocalTag: 'fromtagB', RemoteTag: null },
      ClientCallId: 'uuid-b@switchboardfromtagB',
      Allocation: {
        Ordinal: 1,
        Outcome: 'Rejected',
        RejectReason: 'GenericUserRejected',
        OfferedTime: '2026-01-05T09:00:00.300Z',
      },
    });
    expect(wire.Records[3]!.Permission).toEqual({
      Kind: 'ServiceCalls',
      EntityId: QUEUE,
      EntityName: 'Support',
      Text: 'ServiceCalls of Support',
    });
    expect(wire.Participants.map((participant) => participant.Label)).toEqual([
      'User A (1001)',
      'Switchboard',
      'Queue Support (100)',
      'User B (1002)',
      'User C (1003)',
    ]);
    expect(wire.Timeline[2]).toMatchObject({
      Seq: 103,
      OffsetMs: 300,
      Fact: 'LegCreated',
      From: 'switchboard',
      To: `user:${B}`,
      CallLegId: LEG_B,
    });
  });
});
