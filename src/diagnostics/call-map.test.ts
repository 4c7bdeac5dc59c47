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
    transferredTo: null,
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

describe('queue audio in the map', () => {
  /**
   * A queue-audio call as call control journals it: the queue answers A at once (greeting, then
   * music), C answers and A is re-INVITEd to C's media, C holds (A hears music on hold) and
   * resumes, A hangs up.
   */
  function queueAudioEntries(): JournalEntry[] {
    const [started, callerLeg] = seedEntries().map((entry) => entry.fact) as [JournalFact, JournalFact];
    const callerAnswered: JournalFact = {
      type: 'LegAnswered',
      callId: CALL,
      callLegId: LEG_A,
      sip: { sipCallId: 'jssip-call-a', localTag: 'sbtagA', remoteTag: 'fromtagA' },
    };
    const facts: JournalFact[] = [
      started,
      callerLeg,
      { type: 'QueueEntered', callId: CALL, queueId: QUEUE },
      callerAnswered,
      { type: 'QueueAnswered', callId: CALL, callLegId: LEG_A, queueId: QUEUE },
      { type: 'AudioPlayed', callId: CALL, callLegId: LEG_A, audio: 'greeting', queueId: QUEUE },
      { type: 'AudioPlayed', callId: CALL, callLegId: LEG_A, audio: 'music', queueId: QUEUE },
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
      { type: 'MediaBridged', callId: CALL, callLegId: LEG_A, peerLegId: LEG_C },
      { type: 'HoldChanged', callId: CALL, callLegId: LEG_C, onHold: true },
      { type: 'AudioPlayed', callId: CALL, callLegId: LEG_A, audio: 'holdMusic', queueId: QUEUE },
      { type: 'HoldChanged', callId: CALL, callLegId: LEG_C, onHold: false },
      { type: 'LegEnded', callId: CALL, callLegId: LEG_C, sipStatus: 200, cause: 'CallerHangup' },
      { type: 'LegEnded', callId: CALL, callLegId: LEG_A, sipStatus: 200, cause: 'CallerHangup' },
      { type: 'CallEnded', callId: CALL, reason: 'Normal', sipStatus: 200, answeredByUserId: C },
    ];
    return facts.map((fact, index) => ({ seq: 500 + index, timeMs: T0 + index * 100, fact }));
  }
  const map = buildCallMap(queueAudioEntries(), records())!;
  const line = (step: (typeof map.timeline)[number]) =>
    `${step.kind} ${step.from} -> ${step.to}: ${step.label}${step.detail ? ` (${step.detail})` : ''}`;

  it('draws the queue answering the caller, the audio it plays, the re-INVITE to the agent, hold and resume', () => {
    expect(map.timeline.map(line)).toEqual([
      'message caller -> switchboard: INVITE 100',
      `message switchboard -> queue:${QUEUE}: queued`,
      'message switchboard -> caller: 200 OK',
      `note queue:${QUEUE} -> queue:${QUEUE}: queue answered the caller (queue audio)`,
      'message switchboard -> caller: \u266a greeting (media engine)',
      'message switchboard -> caller: \u266a music on hold (media engine)',
      `message switchboard -> user:${C}: INVITE (offer #1 from the queue)`,
      `message user:${C} -> switchboard: 180 Ringing`,
      `message user:${C} -> switchboard: 200 OK`,
      `note queue:${QUEUE} -> queue:${QUEUE}: offer #1 answered`,
      `message queue:${QUEUE} -> switchboard: left: Answered`,
      'message switchboard -> caller: re-INVITE: media to agent (caller and agent bridged in the media engine)',
      `message user:${C} -> switchboard: re-INVITE: hold (the other party hears music on hold)`,
      'message switchboard -> caller: \u266a music on hold (held) (media engine)',
      `message user:${C} -> switchboard: re-INVITE: resume`,
      `message switchboard -> user:${C}: BYE (CallerHangup)`,
      'message caller -> switchboard: BYE',
      'note switchboard -> switchboard: call ended: Normal',
    ]);
    const step = (label: string) => map.timeline.find((candidate) => candidate.label === label)!;
    expect(step('queue answered the caller')).toMatchObject({ factType: 'QueueAnswered', callLegId: LEG_A });
    expect(step('\u266a greeting')).toMatchObject({ factType: 'AudioPlayed', callLegId: LEG_A });
    expect(step('re-INVITE: media to agent')).toMatchObject({ factType: 'MediaBridged', callLegId: LEG_A });
    expect(step('re-INVITE: hold')).toMatchObject({ factType: 'HoldChanged', callLegId: LEG_C });
    // The caller's leg was answered by the queue, before any agent.
    expect(map.legs[0]).toMatchObject({ role: 'caller', answeredAtMs: T0 + 300 });
  });

  it('keeps the steps on the wire, and shows each party only the steps of its own legs', () => {
    const wire = toWireCallMap(map, directory, true);
    expect(wire.Timeline.filter((step) => step.Fact === 'AudioPlayed').map((step) => step.Label)).toEqual([
      '\u266a greeting',
      '\u266a music on hold',
      '\u266a music on hold (held)',
    ]);
    expect(wire.Timeline.find((step) => step.Fact === 'QueueAnswered')).toMatchObject({
      Kind: 'note',
      OffsetMs: 400,
      From: `queue:${QUEUE}`,
    });
    // C sees their hold and resume; the caller's audio and re-INVITE are the caller's.
    const labels = restrictCallMap(map, user('c@example.com'))!.map.timeline.map((step) => step.label);
    expect(labels).toEqual(expect.arrayContaining(['re-INVITE: hold', 're-INVITE: resume']));
    expect(labels).not.toContain('\u266a greeting');
    expect(labels).not.toContain('re-INVITE: media to agent');
    // A (the caller) sees what was played to them.
    expect(restrictCallMap(map, user('a@example.com'))!.map.timeline.map((step) => step.label)).toEqual(
      expect.arrayContaining([
        'queue answered the caller',
        '\u266a greeting',
        '\u266a music on hold',
        're-INVITE: media to agent',
      ]),
    );
  });
});

describe('transfers in the map', () => {
  const LEG_B2 = 'bbbbbbbb-0000-4000-8000-0000000000b2';
  const LEG_T1 = 'dddddddd-0000-4000-8000-0000000000d1';
  const LEG_T2 = 'dddddddd-0000-4000-8000-0000000000d2';
  const transferLeg = (callLegId: string, userId: string | undefined, target: string): JournalFact => ({
    type: 'LegCreated',
    callId: CALL,
    callLegId,
    role: 'transfer',
    direction: 'outbound',
    userId,
    target,
    sip: { sipCallId: `uuid-${callLegId}@switchboard`, localTag: `tag-${callLegId.slice(-2)}` },
  });
  /**
   * A calls Support; B answers; B's REFER to C fails (C declines with 486); B's second REFER, to
   * an external number, is answered there and B is released; A hangs up.
   */
  function transferEntries(): JournalEntry[] {
    const [started, callerLeg] = seedEntries().map((entry) => entry.fact) as [JournalFact, JournalFact];
    const answered = (callLegId: string): JournalFact => ({
      type: 'LegAnswered',
      callId: CALL,
      callLegId,
      sip: { sipCallId: `uuid-${callLegId}@switchboard`, localTag: 'x', remoteTag: 'y' },
    });
    const facts: JournalFact[] = [
      started,
      callerLeg,
      { type: 'QueueEntered', callId: CALL, queueId: QUEUE },
      allocationLeg(LEG_B2, B, 'b'),
      { type: 'AllocationOffered', callId: CALL, callLegId: LEG_B2, queueId: QUEUE, userId: B },
      answered(LEG_B2),
      { type: 'AllocationConnected', callId: CALL, callLegId: LEG_B2, queueId: QUEUE, userId: B },
      { type: 'QueueLeft', callId: CALL, queueId: QUEUE, reason: 'Answered' },
      answered(LEG_A),
      {
        type: 'TransferRequested',
        callId: CALL,
        callLegId: LEG_B2,
        targetKind: 'user',
        target: 'user c@example.com',
        userId: C,
      },
      transferLeg(LEG_T1, C, 'sip:c@127.0.0.1;transport=ws'),
      { type: 'LegRinging', callId: CALL, callLegId: LEG_T1, sipStatus: 180 },
      {
        type: 'LegEnded',
        callId: CALL,
        callLegId: LEG_T1,
        sipStatus: 486,
        cause: 'Refused',
        sipReason: 'Busy Here',
      },
      { type: 'TransferFailed', callId: CALL, callLegId: LEG_B2, sipStatus: 486, reason: 'Busy Here' },
      {
        type: 'TransferRequested',
        callId: CALL,
        callLegId: LEG_B2,
        targetKind: 'number',
        target: 'number +358409999999',
      },
      transferLeg(LEG_T2, undefined, 'sip:+358409999999@127.0.0.1:5080'),
      answered(LEG_T2),
      { type: 'TransferCompleted', callId: CALL, callLegId: LEG_B2, newCallLegId: LEG_T2 },
      { type: 'LegEnded', callId: CALL, callLegId: LEG_B2, sipStatus: 200, cause: 'Transferred' },
      { type: 'LegEnded', callId: CALL, callLegId: LEG_T2, sipStatus: 200, cause: 'CallerHangup' },
      { type: 'LegEnded', callId: CALL, callLegId: LEG_A, sipStatus: 200, cause: 'CallerHangup' },
      { type: 'CallEnded', callId: CALL, reason: 'Normal', sipStatus: 200 },
    ];
    return facts.map((fact, index) => ({ seq: 700 + index, timeMs: T0 + index * 100, fact }));
  }
  const map = buildCallMap(transferEntries(), records())!;
  const line = (step: (typeof map.timeline)[number]) =>
    `${step.from} -> ${step.to}: ${step.label}${step.detail ? ` (${step.detail})` : ''}`;

  it('draws the REFERs, the legs to their targets and how each transfer ended', () => {
    expect(map.timeline.slice(7).map(line)).toEqual([
      `user:${B} -> switchboard: REFER \u2192 user c@example.com`,
      `switchboard -> user:${C}: INVITE (transfer to user c@example.com)`,
      `user:${C} -> switchboard: 180 Ringing`,
      `user:${C} -> switchboard: 486 Busy Here`,
      `switchboard -> user:${B}: transfer failed: 486 Busy Here`,
      `user:${B} -> switchboard: REFER \u2192 number +358409999999`,
      `switchboard -> trunk:${LEG_T2}: INVITE (transfer to number +358409999999)`,
      `trunk:${LEG_T2} -> switchboard: 200 OK`,
      `switchboard -> user:${B}: transfer completed (number +358409999999)`,
      `switchboard -> user:${B}: BYE (Transferred)`,
      `switchboard -> trunk:${LEG_T2}: BYE (CallerHangup)`,
      'caller -> switchboard: BYE',
      'switchboard -> switchboard: call ended: Normal',
    ]);
    const step = (label: string) => map.timeline.find((candidate) => candidate.label === label)!;
    expect(step('REFER \u2192 user c@example.com')).toMatchObject({
      factType: 'TransferRequested',
      kind: 'message',
      callLegId: LEG_B2,
    });
    expect(step('transfer failed: 486 Busy Here')).toMatchObject({
      factType: 'TransferFailed',
      callLegId: LEG_B2,
    });
    expect(step('transfer completed')).toMatchObject({ factType: 'TransferCompleted', callLegId: LEG_B2 });
  });

  it('shows the transfer legs with role Transfer, the one to a number as a trunk', () => {
    expect(map.legs.map((leg) => [leg.callLegId, leg.role, leg.userId, leg.endCause])).toEqual([
      [LEG_A, 'caller', A, 'CallerHangup'],
      [LEG_B2, 'allocation', B, 'Transferred'],
      [LEG_T1, 'transfer', C, 'Busy Here'],
      [LEG_T2, 'transfer', null, 'CallerHangup'],
    ]);
    expect(map.participants.find((participant) => participant.key === `trunk:${LEG_T2}`)).toMatchObject({
      kind: 'trunk',
    });
    const wire = toWireCallMap(map, directory, true);
    expect(wire.Legs.map((leg) => leg.Role)).toEqual(['Caller', 'Allocation', 'Transfer', 'Transfer']);
    expect(
      wire.Timeline.filter((step) => step.Fact.startsWith('Transfer')).map((step) => step.Label),
    ).toEqual([
      'REFER \u2192 user c@example.com',
      'transfer failed: 486 Busy Here',
      'REFER \u2192 number +358409999999',
      'transfer completed',
    ]);
    // B sees their own REFERs and their outcomes.
    const labels = restrictCallMap(map, user('b@example.com'))!.map.timeline.map((step) => step.label);
    expect(labels).toEqual(
      expect.arrayContaining([
        'REFER \u2192 user c@example.com',
        'transfer failed: 486 Busy Here',
        'transfer completed',
      ]),
    );
  });
});
