import { describe, expect, it } from 'vitest';
import { toWireUserCallEvent } from '../records/kinds/index.js';
import { verifySecretKey } from './auth.js';
import { COMPONENTS } from './schemas.js';
import {
  asRecord,
  asRecords,
  basic,
  IDS,
  PASSWORDS,
  request,
  T0,
  useTestApi,
  WIRE_HANDLED_OUTBOUND_DIRECT_CALL,
} from './test-fixtures.js';

const api = useTestApi();

const window = 'StartTime=2024-05-01 00:00:00&EndTime=2024-05-02 00:00:00';

describe('service discovery', () => {
  it('answers GET /api/user with the public URL of the API', async () => {
    const response = await request(api().baseUrl, '/api/user?user=A@Example.com');
    expect(response.status).toBe(200);
    expect(response.body).toEqual([
      {
        siloName: 'switchboard.test',
        username: 'a@example.com',
        apiEndpoint: api().baseUrl,
        uiEndpoint: api().baseUrl,
        authority: api().baseUrl,
        basicAuthEndpoint: api().baseUrl,
      },
    ]);
    expect(api().baseUrl.endsWith('/')).toBe(true);
  });

  it('answers POST /api/user with a JSON body, field name case-insensitive', async () => {
    const response = await request(api().baseUrl, '/api/user', {
      method: 'POST',
      body: { User: 'b@example.com' },
    });
    expect(response.status).toBe(200);
    expect(asRecords(response.body)[0]?.username).toBe('b@example.com');
  });

  it('answers an empty list for an unknown user', async () => {
    const response = await request(api().baseUrl, '/api/user?user=nobody-here@example.com');
    expect(response.status).toBe(200);
    expect(response.body).toEqual([]);
  });

  it('needs the user parameter', async () => {
    const response = await request(api().baseUrl, '/api/user');
    expect(response.status).toBe(400);
    expect(asRecord(response.body)).toMatchObject({ Parameter: 'user', Code: 'MISSING_PARAMETER' });
  });
});

describe('authentication', () => {
  it('mints a new secret key per /authuser call, stores only scrypt hashes, and accepts each key', async () => {
    const login = () =>
      request(api().baseUrl, '/authuser/c@example.com', {
        method: 'POST',
        body: { UserName: 'c@example.com', Password: PASSWORDS['c@example.com'] },
      });
    const first = await login();
    const second = await login();
    expect(first.status).toBe(200);
    const c = api().directory.userByUsername('c@example.com')!;
    const firstKey = String(asRecord(first.body).SecretKey);
    const secondKey = String(asRecord(second.body).SecretKey);
    expect(asRecord(first.body).UserID).toBe(c.userId);
    expect(firstKey).not.toBe(secondKey);
    expect(firstKey.length).toBeGreaterThanOrEqual(40);
    expect(first.headers.get('cache-control')).toBe('no-store');

    const stored = (await api().credentials.listSecretKeys(c.userId)).map((key) => key.keyHash);
    expect(stored).toHaveLength(2);
    for (const hash of stored) {
      expect(hash).toMatch(/^scrypt\$16384\$8\$1\$/);
      expect(hash).not.toContain(firstKey);
      expect(hash).not.toContain(secondKey);
    }
    expect(await verifySecretKey(secondKey, stored[0]!)).toBe(true);
    expect(stored[0]).not.toBe(stored[1]);
    expect(asRecord(second.body).KeyId).toBe((await api().credentials.listSecretKeys(c.userId))[0]!.keyId);

    for (const key of [firstKey, secondKey]) {
      const me = await request(api().baseUrl, '/users/me', {
        headers: { authorization: basic('c@example.com', key) },
      });
      expect(me.status).toBe(200);
      expect(asRecord(me.body).Id).toBe(c.userId);
    }
  });

  it.each([
    ['a wrong password', 'b@example.com', 'wrong'],
    ['an unknown user, exactly like a wrong password', 'ghost@example.com', 'whatever'],
  ])('refuses %s with 401 and a JSON message', async (_label, username, password) => {
    const response = await request(api().baseUrl, `/authuser/${username}`, {
      method: 'POST',
      body: { UserName: username, Password: password },
    });
    expect(response.status).toBe(401);
    expect(asRecord(response.body)).toEqual({
      Message: 'Invalid user name or password',
      Code: 'UNAUTHORIZED',
    });
  });

  it.each([
    ['no Authorization header', undefined],
    ['a Bearer token', 'Bearer abc'],
    ['Basic without a colon', `Basic ${Buffer.from('a@example.com').toString('base64')}`],
    ['a wrong secret key', basic('a@example.com', 'not-the-key')],
    ['an unknown user', basic('ghost@example.com', 'not-the-key')],
    ['an empty key', basic('a@example.com', '')],
  ])('answers %s with 401, WWW-Authenticate and a JSON message', async (_label, authorization) => {
    const response = await request(api().baseUrl, '/users/me', {
      headers: authorization === undefined ? {} : { authorization },
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm="Switchboard"/);
    expect(asRecord(response.body).Code).toBe('UNAUTHORIZED');
    expect(typeof asRecord(response.body).Message).toBe('string');
  });

  it("does not accept one user's key for another user", async () => {
    const keyOfA = await api().keyOf('a@example.com');
    const response = await request(api().baseUrl, '/users/me', {
      headers: { authorization: basic('b@example.com', keyOfA) },
    });
    expect(response.status).toBe(401);
  });

  it('accepts the user name in any case', async () => {
    const key = await api().keyOf('a@example.com');
    const response = await request(api().baseUrl, '/users/me', {
      headers: { authorization: basic('A@EXAMPLE.COM', key) },
    });
    expect(response.status).toBe(200);
  });
});

describe('directory', () => {
  it('GET /users/me returns the caller', async () => {
    const response = await api().get('/users/me', 'a@example.com');
    expect(response.status).toBe(200);
    const a = api().directory.userByUsername('a@example.com')!;
    expect(response.body).toEqual({
      Id: a.userId,
      UserName: 'a@example.com',
      Email: 'a@example.com',
      FirstName: 'User',
      LastName: 'A',
      DisplayName: 'User A',
      Extension: '1001',
      Number: '+358401000001',
      Role: 'Agent',
      OrganizationID: api().directory.organizationId,
    });
    expect(JSON.stringify(response.body)).not.toContain('secret-a');
  });

  it('GET /users lists every user to any authenticated user, without passwords or grants', async () => {
    const response = await api().get('/users', 'nobody@example.com');
    expect(response.status).toBe(200);
    const users = asRecords(response.body);
    expect(users).toHaveLength(api().directory.tenant.users.length);
    expect(users.find((user) => user.UserName === 'admin@example.com')?.Role).toBe('Admin');
    expect(users.find((user) => user.UserName === 'c@example.com')).toMatchObject({
      FirstName: null,
      LastName: null,
    });
    expect(response.text).not.toMatch(/secret-|pw-|permissions|grants/i);
  });

  it('GET /users/{id} returns one user, 404 for an unknown id, 400 for a malformed one', async () => {
    const b = api().directory.userByUsername('b@example.com')!;
    const found = await api().get(`/users/${b.userId.toUpperCase()}`, 'nobody@example.com');
    expect(found.status).toBe(200);
    expect(asRecord(found.body).UserName).toBe('b@example.com');
    const unknown = await api().get('/users/00000000-0000-4000-8000-000000000000', 'nobody@example.com');
    expect(unknown.status).toBe(404);
    expect(asRecord(unknown.body).Code).toBe('NOT_FOUND');
    const malformed = await api().get('/users/not-an-id', 'nobody@example.com');
    expect(malformed.status).toBe(400);
    expect(asRecord(malformed.body)).toMatchObject({ Parameter: 'UserId', Code: 'BAD_PARAMETER' });
  });

  it('GET /queues and /callbacklists list the configuration', async () => {
    const queues = asRecords((await api().get('/queues', 'nobody@example.com')).body);
    const support = api().directory.queueByReference('Support')!;
    expect(queues.find((queue) => queue.Name === 'Support')).toEqual({
      Id: support.queueId,
      Name: 'Support',
      Extension: '100',
      Numbers: ['+35810100100'],
      MemberUserIds: support.memberUserIds,
      CallbackListId: support.callbackListId,
      TypeId: 4,
      // Without call control (no agent desk) the live counts are zeros; no opening hours: open.
      Status: {
        OpenStatus: 1,
        QueueLength: 0,
        MaxWaitTime: 0,
        OngoingCalls: 0,
        FreeAgents: 0,
        ServingAgents: 0,
        AgentsOnWrapUp: 0,
      },
    });
    const lists = asRecords((await api().get('/callbacklists', 'nobody@example.com')).body);
    expect(lists.map((list) => list.Name).sort()).toEqual(['Sales callbacks', 'Support callbacks']);
  });
});

describe('wire format', () => {
  it('returns bare arrays with exactly the contract fields and UTC ISO-8601 times', async () => {
    const response = await api().get(`/calls?CallId=${IDS.callId}`, 'admin@example.com');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const events = asRecords(response.body);
    expect(events).toHaveLength(3);
    const a = events.find((event) => event.Id === IDS.eventA)!;
    expect(Object.keys(a).sort()).toEqual(
      [
        'Id',
        'CallId',
        'CallLegId',
        'UserId',
        'UserName',
        'CallType',
        'CallTypeString',
        'Direction',
        'DirectionString',
        'Result',
        'EndResult',
        'ANum',
        'BNum',
        'QueueId',
        'QueueName',
        'TimeStamp',
        'AnswerTime',
        'EndTime',
        'Duration',
        'RecordingIds',
        'Modified',
        'TransferredTo',
      ].sort(),
    );
    expect(Object.keys(a).at(-1)).toBe('TransferredTo');
    expect(a).toMatchObject({
      CallId: IDS.callId,
      CallLegId: IDS.legA,
      ...WIRE_HANDLED_OUTBOUND_DIRECT_CALL,
      TimeStamp: new Date(T0).toISOString(),
      AnswerTime: '2024-05-01T08:00:20.000Z',
      EndTime: '2024-05-01T08:01:00.000Z',
      Duration: 40,
      RecordingIds: [],
      QueueId: null,
      TransferredTo: null,
    });
    const b = events.find((event) => event.Id === IDS.eventB)!;
    expect(b).toMatchObject({
      CallType: 2,
      CallTypeString: 'ServiceCall',
      Direction: 0,
      DirectionString: 'Inbound',
      Result: 'Allocated',
      EndResult: 1,
      AnswerTime: null,
    });
    for (const event of events) expect(() => COMPONENTS.UserCallEvent.parse(event)).not.toThrow();
  });

  it('serializes TransferredTo of a user who transferred the call, last, valid for the schema', async () => {
    const [event] = await api().records.listUserCallEvents({
      selection: { by: 'callId', callId: IDS.callId },
      visibleDirectCallUserIds: '*',
      visibleAgentCallUserIds: '*',
    });
    const wire = toWireUserCallEvent({ ...event!, transferredTo: 'user c@example.com' });
    expect(Object.entries(wire).at(-1)).toEqual(['TransferredTo', 'user c@example.com']);
    expect(COMPONENTS.UserCallEvent.parse(wire)).toMatchObject({ TransferredTo: 'user c@example.com' });
    expect(() => COMPONENTS.UserCallEvent.parse({ ...wire, TransferredTo: 42 })).toThrow();
  });

  it('returns service call headers and details in the contract format, details in event order', async () => {
    const headers = asRecords(
      (await api().get(`/servicecall?CallId=${IDS.callId}`, 'admin@example.com')).body,
    );
    expect(headers).toHaveLength(1);
    const c = api().directory.userByUsername('c@example.com')!;
    expect(headers[0]).toEqual({
      Id: IDS.header,
      CallId: IDS.callId,
      QueueId: api().directory.queueByReference('Support')!.queueId,
      QueueName: 'Support',
      ANum: '1001',
      BNum: '100',
      ArrivalTime: '2024-05-01T08:00:00.500Z',
      AnswerTime: '2024-05-01T08:00:20.000Z',
      EndTime: '2024-05-01T08:01:00.000Z',
      WaitTime: 19.5,
      Duration: 40,
      Result: 'Handled',
      AnsweredByUserId: c.userId,
      AnsweredByUserName: 'c@example.com',
      AllocationCount: 2,
      RecordingIds: ['rec-0001'],
      Modified: '2024-05-01T08:01:00.000Z',
    });
    const details = asRecords(
      (await api().get(`/servicecall/${IDS.callId}/details`, 'admin@example.com')).body,
    );
    expect(details.map((detail) => [detail.EventType, detail.EventTypeString])).toEqual([
      [1, 'CallArrival'],
      [201, 'UserAllocation'],
      [203, 'UserReject'],
      [201, 'UserAllocation'],
      [202, 'UserConnect'],
      [2, 'CallDisconnect'],
    ]);
    expect(details[2]).toMatchObject({
      Reason: 'GenericUserRejected',
      UserName: 'b@example.com',
      CallLegId: IDS.legB,
    });
    expect(details[0]).toMatchObject({ UserId: null, CallLegId: null, Reason: null });
  });

  it('returns outbound service and callback calls, with Result and EndResult null while in progress', async () => {
    const outbound = asRecords(
      (await api().get(`/outbound-servicecall?${window}`, 'admin@example.com')).body,
    );
    expect(outbound).toHaveLength(2);
    expect(outbound.find((call) => call.Id === IDS.salesOutboundEvent)).toMatchObject({
      Result: null,
      EndResult: null,
      EndTime: null,
      QueueName: 'Sales',
    });
    const callbacks = asRecords(
      (await api().get(`/outbound-callbackcall?${window}`, 'admin@example.com')).body,
    );
    expect(callbacks).toEqual([
      expect.objectContaining({
        Id: IDS.callbackEvent,
        CallbackListName: 'Support callbacks',
        CallbackRequestId: IDS.callbackRequestId,
        Result: 'Missed',
        EndResult: 2,
      }),
    ]);
  });

  it('honours X-Json-Serializer: 2 and refuses other serializer versions with a 400 naming the header', async () => {
    const withHeader = await api().get('/users/me', 'a@example.com', { 'x-json-serializer': '2' });
    const without = await request(api().baseUrl, '/users/me', {
      headers: { authorization: basic('a@example.com', await api().keyOf('a@example.com')) },
    });
    expect(withHeader.status).toBe(200);
    expect(without.text).toBe(withHeader.text);
    const other = await api().get('/users/me', 'a@example.com', { 'x-json-serializer': '1' });
    expect(other.status).toBe(400);
    expect(asRecord(other.body).Parameter).toBe('X-Json-Serializer');
  });

  it('serves paths with and without a trailing slash, and parameter names in any case', async () => {
    const plain = await api().get(`/calls?CallId=${IDS.callId}`, 'admin@example.com');
    const slashed = await api().get(`/calls/?callid=${IDS.callId}`, 'admin@example.com');
    const shouting = await api().get(`/calls/?CALLID=${IDS.callId.toUpperCase()}`, 'admin@example.com');
    expect(slashed.status).toBe(200);
    expect(slashed.body).toEqual(plain.body);
    expect(shouting.body).toEqual(plain.body);
    const details = await api().get(`/servicecall/${IDS.callId}/details/`, 'admin@example.com');
    expect(details.status).toBe(200);
    const me = await api().get('/users/me/', 'a@example.com');
    expect(me.status).toBe(200);
    const lower = await api().get(
      `/calls?starttime=2024-05-01 00:00:00&ENDTIME=2024-05-02 00:00:00`,
      'admin@example.com',
    );
    expect(asRecords(lower.body)).toHaveLength(3);
  });

  it('answers an unknown path with a JSON 404 and does not claim /, /sip or /webphone.js', async () => {
    for (const path of ['/', '/sip', '/webphone.js', '/nothing-here']) {
      const response = await request(api().baseUrl, path);
      expect(response.status).toBe(404);
      expect(asRecord(response.body).Code).toBe('NO_ROUTE');
    }
  });

  it('answers a failing store with a 500 that carries no stack trace or SQL, and logs it', async () => {
    api().records.failWith = new Error(
      'SQLITE_ERROR: no such table: user_call_events\n    at Statement.all (db.js:1:1)',
    );
    const response = await api().get(`/calls?CallId=${IDS.callId}`, 'admin@example.com');
    expect(response.status).toBe(500);
    expect(response.body).toEqual({ Message: 'Internal error; it has been logged', Code: 'INTERNAL' });
    expect(response.text).not.toMatch(/SQLITE|table|at Statement/);
  });
});

describe('OpenAPI document and reference page', () => {
  it('serves an OpenAPI 3.1 document generated from the request and response schemas', async () => {
    const response = await request(api().baseUrl, '/openapi.json');
    expect(response.status).toBe(200);
    const document = asRecord(response.body);
    expect(document.openapi).toBe('3.1.0');
    const paths = asRecord(document.paths);
    for (const path of [
      '/api/user',
      '/authuser/{email}',
      '/users/me',
      '/users',
      '/users/{UserId}',
      '/queues',
      '/callbacklists',
      '/calls',
      '/calls/{EventId}',
      '/servicecall',
      '/servicecall/{CallId}/details',
      '/outbound-servicecall',
      '/outbound-callbackcall',
    ]) {
      expect(paths, path).toHaveProperty([path]);
    }
    const listCalls = asRecord(asRecord(paths['/calls']).get);
    const parameterNames = (listCalls.parameters as Array<{ name: string }>).map(
      (parameter) => parameter.name,
    );
    expect(parameterNames).toEqual(
      expect.arrayContaining([
        'StartTime',
        'EndTime',
        'ModifiedAfter',
        'ModifiedBefore',
        'CallId',
        'UserIDs',
      ]),
    );
    const schemas = asRecord(asRecord(document.components).schemas);
    const userCallEvent = asRecord(schemas.UserCallEvent);
    expect(Object.keys(asRecord(userCallEvent.properties))).toContain('EndResult');
    // Transfers (DESIGN.md §10): a string, or null when the user did not transfer the call.
    expect(asRecord(asRecord(userCallEvent.properties).TransferredTo)).toMatchObject({
      type: ['string', 'null'],
    });
    expect(userCallEvent.required).toContain('TransferredTo');
    expect(asRecord(asRecord(userCallEvent.properties).TimeStamp).format).toBe('date-time');
    expect(asRecord(asRecord(asRecord(document.components).securitySchemes).basicAuth).scheme).toBe('basic');
  });

  it('documents the X-Json-Serializer header and serves the Swagger UI explorer from its own files', async () => {
    const document = asRecord((await request(api().baseUrl, '/openapi.json')).body);
    const me = asRecord(asRecord(asRecord(document.paths)['/users/me']).get);
    expect(me.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ in: 'header', name: 'X-Json-Serializer' })]),
    );
    const explorer = await request(api().baseUrl, '/docs/ui');
    expect(explorer.status).toBe(200);
    expect(explorer.text).not.toMatch(/(src|href)="https?:/);
  });

  it('serves a self-contained HTML reference at /docs', async () => {
    const response = await request(api().baseUrl, '/docs');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(response.text).toContain('/servicecall/{CallId}/details');
    expect(response.text).toContain('UserCallEvent');
    expect(response.text).not.toMatch(/<script|https?:\/\/(?!127\.0\.0\.1)/);
  });
});

describe('mounted as a plugin into the platform server', () => {
  it('serves the API next to the host routes, also when the host ignores trailing slashes', async () => {
    const { fastify } = await import('fastify');
    const { apiPlugin } = await import('./server.js');
    const host = fastify({ routerOptions: { ignoreTrailingSlash: true } });
    host.get('/', async () => 'console');
    host.get('/sip', async () => 'sip');
    await host.register(apiPlugin, {
      directory: api().directory,
      records: api().records,
      credentials: api().credentials,
    });
    await host.listen({ port: 0, host: '127.0.0.1' });
    try {
      const address = host.server.address();
      const baseUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/`;
      expect((await request(baseUrl, '/')).text).toBe('console');
      expect((await request(baseUrl, '/sip')).text).toBe('sip');
      const login = await request(baseUrl, '/authuser/a@example.com', {
        method: 'POST',
        body: { Password: PASSWORDS['a@example.com'] },
      });
      expect(login.status).toBe(200);
      const authorization = basic('a@example.com', String(asRecord(login.body).SecretKey));
      for (const path of [`/calls?CallId=${IDS.callId}`, `/calls/?CallId=${IDS.callId}`]) {
        const response = await request(baseUrl, path, { headers: { authorization } });
        expect(response.status).toBe(200);
        expect(asRecords(response.body).map((event) => event.Id)).toEqual([IDS.eventA]);
      }
      const bad = await request(baseUrl, '/calls', { headers: { authorization } });
      expect(bad.status).toBe(400);
      expect(asRecord(bad.body).Parameter).toBe('StartTime');
    } finally {
      await host.close();
    }
  });
});
