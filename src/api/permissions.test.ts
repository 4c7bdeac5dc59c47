/**
 * The permission matrix of DESIGN.md §4 over the seed scenario's records: each user sees exactly
 * what their grants name — lists filtered, a single record 404, an explicit filter 403 — and the
 * admin sees everything.
 */
import { describe, expect, it } from 'vitest';
import { asRecord, asRecords, IDS, useTestApi } from './test-fixtures.js';

const api = useTestApi();

const window = 'StartTime=2024-05-01 00:00:00&EndTime=2024-05-02 00:00:00';

const USERS = [
  'a@example.com',
  'b@example.com',
  'c@example.com',
  'direct-a@example.com',
  'agent-b@example.com',
  'agent-c@example.com',
  'service@example.com',
  'callback@example.com',
  'everything@example.com',
  'nobody@example.com',
  'admin@example.com',
] as const;
type Username = (typeof USERS)[number];

const ALL_SEEING: Username[] = ['everything@example.com', 'admin@example.com'];

/** Who may see each record of the scenario. */
const SEES = {
  /** A's outbound DirectCall event: DirectCalls of A. */
  eventA: ['a@example.com', 'direct-a@example.com', ...ALL_SEEING],
  /** B's ServiceCall (Allocated) event: AgentCalls of B. */
  eventB: ['b@example.com', 'agent-b@example.com', ...ALL_SEEING],
  /** C's ServiceCall (Handled) event: AgentCalls of C. */
  eventC: ['c@example.com', 'agent-c@example.com', ...ALL_SEEING],
  /** The Support header, its details and Support's outbound service calls: ServiceCalls of Support. */
  support: ['service@example.com', ...ALL_SEEING],
  /** Sales' outbound service call. */
  sales: [...ALL_SEEING],
  /** The Support callbacks list's callback call: CallbackList of it. */
  supportCallbacks: ['callback@example.com', ...ALL_SEEING],
} satisfies Record<string, Username[]>;

const sees = (who: Username, record: keyof typeof SEES): boolean =>
  (SEES[record] as Username[]).includes(who);

const ids = (body: unknown): string[] =>
  asRecords(body)
    .map((record) => String(record.Id))
    .sort();

describe.each(USERS)('as %s', (who) => {
  it('GET /calls?CallId= lists exactly the visible user call events', async () => {
    const response = await api().get(`/calls?CallId=${IDS.callId}`, who);
    expect(response.status).toBe(200);
    const expected = (['eventA', 'eventB', 'eventC'] as const)
      .filter((event) => sees(who, event))
      .map((e) => IDS[e]);
    expect(ids(response.body)).toEqual(expected.sort());
  });

  it('GET /calls with a time window lists the same events', async () => {
    const response = await api().get(`/calls?${window}`, who);
    const expected = (['eventA', 'eventB', 'eventC'] as const)
      .filter((event) => sees(who, event))
      .map((e) => IDS[e]);
    expect(ids(response.body)).toEqual(expected.sort());
  });

  it('GET /calls/{EventId} is 200 for a visible event and 404 for an invisible one', async () => {
    for (const event of ['eventA', 'eventB', 'eventC'] as const) {
      const response = await api().get(`/calls/${IDS[event]}`, who);
      expect(response.status, event).toBe(sees(who, event) ? 200 : 404);
      if (response.status === 404) expect(asRecord(response.body).Code).toBe('NOT_FOUND');
    }
  });

  it('GET /calls?UserIDs= is 403 for a user whose calls are invisible, else filtered to that user', async () => {
    const users = { eventA: 'a@example.com', eventB: 'b@example.com', eventC: 'c@example.com' } as const;
    for (const [event, username] of Object.entries(users) as Array<[keyof typeof users, string]>) {
      const userId = api().directory.userByUsername(username)!.userId;
      const response = await api().get(`/calls?${window}&UserIDs=${userId}`, who);
      if (sees(who, event)) {
        expect(response.status, username).toBe(200);
        expect(ids(response.body)).toEqual([IDS[event]]);
      } else {
        expect(response.status, username).toBe(403);
        expect(asRecord(response.body)).toMatchObject({ Code: 'FORBIDDEN', Parameter: 'UserIDs' });
      }
    }
  });

  it('GET /servicecall lists the Support header only with ServiceCalls of Support', async () => {
    const byCallId = await api().get(`/servicecall?CallId=${IDS.callId}`, who);
    const byWindow = await api().get(`/servicecall?${window}`, who);
    const expected = sees(who, 'support') ? [IDS.header] : [];
    expect(ids(byCallId.body)).toEqual(expected);
    expect(ids(byWindow.body)).toEqual(expected);
  });

  it('GET /servicecall/{CallId}/details is the 6 details with ServiceCalls of Support, else 404', async () => {
    const response = await api().get(`/servicecall/${IDS.callId}/details`, who);
    if (sees(who, 'support')) {
      expect(response.status).toBe(200);
      expect(asRecords(response.body)).toHaveLength(6);
    } else {
      expect(response.status).toBe(404);
      expect(asRecord(response.body).Code).toBe('NOT_FOUND');
    }
  });

  it('QueueIDs naming an invisible queue is a 403 on /servicecall and /outbound-servicecall', async () => {
    const support = api().directory.queueByReference('Support')!.queueId;
    const sales = api().directory.queueByReference('Sales')!.queueId;
    for (const path of ['/servicecall', '/outbound-servicecall']) {
      const supportResponse = await api().get(`${path}?${window}&QueueIDs=${support}`, who);
      expect(supportResponse.status, path).toBe(sees(who, 'support') ? 200 : 403);
      const salesResponse = await api().get(`${path}?${window}&queueids=${sales}`, who);
      expect(salesResponse.status, path).toBe(sees(who, 'sales') ? 200 : 403);
      if (salesResponse.status === 403) expect(asRecord(salesResponse.body).Parameter).toBe('QueueIDs');
    }
  });

  it('GET /outbound-servicecall lists the calls of visible queues', async () => {
    const response = await api().get(`/outbound-servicecall?${window}`, who);
    const expected = [
      ...(sees(who, 'support') ? [IDS.outboundEvent] : []),
      ...(sees(who, 'sales') ? [IDS.salesOutboundEvent] : []),
    ];
    expect(ids(response.body)).toEqual(expected.sort());
  });

  it('GET /outbound-callbackcall lists calls of visible callback lists; CallbackListIDs of others is 403', async () => {
    const response = await api().get(`/outbound-callbackcall?${window}`, who);
    expect(ids(response.body)).toEqual(sees(who, 'supportCallbacks') ? [IDS.callbackEvent] : []);
    const listId = api().directory.callbackListByName('Support callbacks')!.callbackListId;
    const filtered = await api().get(`/outbound-callbackcall?${window}&CallbackListIDs=${listId}`, who);
    expect(filtered.status).toBe(sees(who, 'supportCallbacks') ? 200 : 403);
  });
});

describe('scopes handed to the store', () => {
  it('passes DirectCalls and AgentCalls scopes including the caller themselves', async () => {
    const directA = api().directory.userByUsername('direct-a@example.com')!.userId;
    const a = api().directory.userByUsername('a@example.com')!.userId;
    api().records.queries.length = 0;
    await api().get(`/calls?CallId=${IDS.callId}`, 'direct-a@example.com');
    const query = api().records.queries[0];
    expect(query).toMatchObject({ selection: { by: 'callId', callId: IDS.callId } });
    expect(
      query && 'visibleDirectCallUserIds' in query ? [...query.visibleDirectCallUserIds].sort() : [],
    ).toEqual([a, directA].sort());
    expect(query && 'visibleAgentCallUserIds' in query ? query.visibleAgentCallUserIds : []).toEqual([
      directA,
    ]);
  });

  it("passes '*' for the admin", async () => {
    api().records.queries.length = 0;
    await api().get(`/servicecall?${window}`, 'admin@example.com');
    expect(api().records.queries[0]).toMatchObject({ visibleQueueIds: '*' });
  });
});

describe('a store that ignores the visibility scopes', () => {
  it('still shows nothing invisible: the API filters again', async () => {
    api().records.ignoreVisibility = true;
    try {
      expect(ids((await api().get(`/calls?CallId=${IDS.callId}`, 'nobody@example.com')).body)).toEqual([]);
      expect(ids((await api().get(`/calls?CallId=${IDS.callId}`, 'agent-b@example.com')).body)).toEqual([
        IDS.eventB,
      ]);
      expect(ids((await api().get(`/servicecall?${window}`, 'callback@example.com')).body)).toEqual([]);
      expect(ids((await api().get(`/outbound-servicecall?${window}`, 'service@example.com')).body)).toEqual([
        IDS.outboundEvent,
      ]);
      expect(ids((await api().get(`/outbound-callbackcall?${window}`, 'service@example.com')).body)).toEqual(
        [],
      );
    } finally {
      api().records.ignoreVisibility = false;
    }
  });
});
