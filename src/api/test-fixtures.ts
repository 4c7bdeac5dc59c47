/**
 * Test support for the API's tests: the seed scenario's records in an in-memory RecordReader and
 * CredentialStore (the store is a boundary these tests do not test; its own suite tests the real
 * one), a tenant with one user per permission, and a small HTTP client.
 *
 * The in-memory reader implements the visibility semantics of src/records/types.ts faithfully:
 * a DirectCall event is visible iff its userId is in visibleDirectCallUserIds, a ServiceCall event
 * iff in visibleAgentCallUserIds; queue-owned records by queueId, callback calls by callbackListId.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { createDirectory } from '../config/directory.js';
import { parseTenantYaml } from '../config/load.js';
import type { Directory, Tenant } from '../config/types.js';
import type {
  CallbackOwnedQuery,
  IdScope,
  OutboundCallbackCall,
  OutboundServiceCall,
  QueueOwnedQuery,
  RecordReader,
  RecordSelection,
  ServiceCall,
  ServiceCallDetail,
  UserCallEvent,
  UserCallEventQuery,
} from '../records/types.js';
import type { CredentialStore, NewSecretKey, StoredSecretKey } from './credentials/index.js';
import { createApiServer } from './server.js';
import type { ApiDeps } from './types.js';

// ---------------------------------------------------------------------------------------------
// Tenant: the demo scenario plus one user per single permission.

export function testTenantYaml(publicUrl: string): string {
  return `
domain: switchboard.test
publicUrl: ${publicUrl}
users:
  - { username: a@example.com, displayName: User A, extension: "1001", password: secret-a, number: "+358401000001" }
  - { username: b@example.com, displayName: User B, extension: "1002", password: secret-b }
  - { username: c@example.com, extension: "1003", password: secret-c }
  - { username: admin@example.com, displayName: Admin, extension: "1000", password: secret-admin, role: admin }
  - username: direct-a@example.com
    extension: "2001"
    password: pw-direct-a
    permissions: [ { DirectCalls: a@example.com } ]
  - username: agent-b@example.com
    extension: "2002"
    password: pw-agent-b
    permissions: [ { AgentCalls: b@example.com } ]
  - username: agent-c@example.com
    extension: "2003"
    password: pw-agent-c
    permissions: [ { AgentCalls: c@example.com } ]
  - username: service@example.com
    extension: "2004"
    password: pw-service
    permissions: [ { ServiceCalls: Support } ]
  - username: callback@example.com
    extension: "2005"
    password: pw-callback
    permissions: [ { CallbackList: Support callbacks } ]
  - username: everything@example.com
    extension: "2006"
    password: pw-everything
    permissions: [ { DirectCalls: "*" }, { AgentCalls: "*" }, { ServiceCalls: "*" }, { CallbackList: "*" } ]
  - { username: nobody@example.com, extension: "2007", password: pw-nobody }
queues:
  - name: Support
    extension: "100"
    number: "+35810100100"
    members: [b@example.com, c@example.com]
    callbackList: Support callbacks
  - name: Sales
    extension: "200"
    number: "+35810100200"
    members: [a@example.com]
callbackLists:
  - name: Support callbacks
    queue: Support
    members: [b@example.com, c@example.com]
  - name: Sales callbacks
    queue: Sales
    members: [a@example.com]
trunks:
  - { name: pstn, host: 127.0.0.1, port: 5080, transport: udp }
`;
}

export const PASSWORDS: Record<string, string> = {
  'a@example.com': 'secret-a',
  'b@example.com': 'secret-b',
  'c@example.com': 'secret-c',
  'admin@example.com': 'secret-admin',
  'direct-a@example.com': 'pw-direct-a',
  'agent-b@example.com': 'pw-agent-b',
  'agent-c@example.com': 'pw-agent-c',
  'service@example.com': 'pw-service',
  'callback@example.com': 'pw-callback',
  'everything@example.com': 'pw-everything',
  'nobody@example.com': 'pw-nobody',
};

export function testTenant(publicUrl: string): Tenant {
  return parseTenantYaml(testTenantYaml(publicUrl), 'api test tenant');
}

// ---------------------------------------------------------------------------------------------
// The seed scenario's records.

/** 2024-05-01 08:00:00 UTC: when A calls Support. */
export const T0 = Date.UTC(2024, 4, 1, 8, 0, 0);

export const IDS = {
  /** The CallId xyz of the seed scenario. */
  callId: '0190a1b2-0000-7000-8000-000000000001',
  legA: '0190a1b2-0000-7000-8000-0000000000a1',
  legB: '0190a1b2-0000-7000-8000-0000000000b1',
  legC: '0190a1b2-0000-7000-8000-0000000000c1',
  eventA: '5a0e0a00-0000-5000-8000-00000000000a',
  eventB: '5a0e0a00-0000-5000-8000-00000000000b',
  eventC: '5a0e0a00-0000-5000-8000-00000000000c',
  header: '5a0e0a00-0000-5000-8000-0000000000ff',
  outboundCallId: '0190a1b2-0000-7000-8000-000000000002',
  outboundLeg: '0190a1b2-0000-7000-8000-0000000000d1',
  outboundEvent: '5a0e0a00-0000-5000-8000-0000000000d0',
  salesOutboundCallId: '0190a1b2-0000-7000-8000-000000000004',
  salesOutboundLeg: '0190a1b2-0000-7000-8000-0000000000f1',
  salesOutboundEvent: '5a0e0a00-0000-5000-8000-0000000000f0',
  callbackCallId: '0190a1b2-0000-7000-8000-000000000003',
  callbackLeg: '0190a1b2-0000-7000-8000-0000000000e1',
  callbackEvent: '5a0e0a00-0000-5000-8000-0000000000e0',
  callbackRequestId: '0190a1b2-0000-7000-8000-0000000000e9',
} as const;

export interface SeedRecords {
  userCallEvents: UserCallEvent[];
  serviceCalls: ServiceCall[];
  serviceCallDetails: ServiceCallDetail[];
  outboundServiceCalls: OutboundServiceCall[];
  outboundCallbackCalls: OutboundCallbackCall[];
}

export function seedRecords(directory: Directory): SeedRecords {
  const user = (username: string) => {
    const found = directory.userByUsername(username);
    if (found === undefined) throw new Error(`test tenant lacks ${username}`);
    return found;
  };
  const queue = (name: string) => {
    const found = directory.queueByReference(name);
    if (found === undefined) throw new Error(`test tenant lacks queue ${name}`);
    return found;
  };
  const [a, b, c] = [user('a@example.com'), user('b@example.com'), user('c@example.com')];
  const support = queue('Support');
  const sales = queue('Sales');
  const supportCallbacks = directory.callbackListByName('Support callbacks');
  if (supportCallbacks === undefined) throw new Error('test tenant lacks Support callbacks');
  const s = (seconds: number) => T0 + seconds * 1000;
  const end = s(60);

  const userCallEvents: UserCallEvent[] = [
    {
      eventId: IDS.eventA,
      callId: IDS.callId,
      callLegId: IDS.legA,
      userId: a.userId,
      userName: a.username,
      callType: 'DirectCall',
      direction: 'outbound',
      result: 'Handled',
      aNum: '1001',
      bNum: '100',
      queueId: null,
      queueName: null,
      timestampMs: s(0),
      answerTimeMs: s(20),
      endTimeMs: end,
      durationSeconds: 40,
      recordingIds: [],
      modifiedMs: end + 500,
      transferredTo: null,
    },
    {
      eventId: IDS.eventB,
      callId: IDS.callId,
      callLegId: IDS.legB,
      userId: b.userId,
      userName: b.username,
      callType: 'ServiceCall',
      direction: 'inbound',
      result: 'Allocated',
      aNum: '1001',
      bNum: '100',
      queueId: support.queueId,
      queueName: support.name,
      timestampMs: s(1),
      answerTimeMs: null,
      endTimeMs: s(6),
      durationSeconds: 0,
      recordingIds: [],
      modifiedMs: s(6),
      transferredTo: null,
    },
    {
      eventId: IDS.eventC,
      callId: IDS.callId,
      callLegId: IDS.legC,
      userId: c.userId,
      userName: c.username,
      callType: 'ServiceCall',
      direction: 'inbound',
      result: 'Handled',
      aNum: '1001',
      bNum: '100',
      queueId: support.queueId,
      queueName: support.name,
      timestampMs: s(6),
      answerTimeMs: s(20),
      endTimeMs: end,
      durationSeconds: 40,
      recordingIds: ['rec-0001'],
      modifiedMs: end,
      transferredTo: null,
    },
  ];

  const serviceCalls: ServiceCall[] = [
    {
      eventId: IDS.header,
      callId: IDS.callId,
      queueId: support.queueId,
      queueName: support.name,
      aNum: '1001',
      bNum: '100',
      arrivalTimeMs: s(0.5),
      answerTimeMs: s(20),
      endTimeMs: end,
      waitTimeSeconds: 19.5,
      durationSeconds: 40,
      result: 'Handled',
      answeredByUserId: c.userId,
      answeredByUserName: c.username,
      allocationCount: 2,
      recordingIds: ['rec-0001'],
      modifiedMs: end,
    },
  ];

  const detail = (
    seq: number,
    eventType: ServiceCallDetail['eventType'],
    at: number,
    who?: { userId: string; username: string; legId: string },
    reason: string | null = null,
  ): ServiceCallDetail => ({
    eventId: `5a0e0a00-0000-5000-8000-0000000001${String(seq).padStart(2, '0')}`,
    callId: IDS.callId,
    callLegId: who?.legId ?? null,
    queueId: support.queueId,
    queueName: support.name,
    userId: who?.userId ?? null,
    userName: who?.username ?? null,
    eventType,
    reason,
    timestampMs: at,
    modifiedMs: at,
    seq,
  });
  const atB = { userId: b.userId, username: b.username, legId: IDS.legB };
  const atC = { userId: c.userId, username: c.username, legId: IDS.legC };
  // Stored out of order on purpose: the API returns them in journal (seq) order.
  const serviceCallDetails: ServiceCallDetail[] = [
    detail(4, 'UserAllocation', s(6), atC),
    detail(1, 'CallArrival', s(0.5)),
    detail(2, 'UserAllocation', s(1), atB),
    detail(3, 'UserReject', s(6), atB, 'GenericUserRejected'),
    detail(5, 'UserConnect', s(20), atC),
    detail(6, 'CallDisconnect', end),
  ];

  const outboundServiceCalls: OutboundServiceCall[] = [
    {
      eventId: IDS.outboundEvent,
      callId: IDS.outboundCallId,
      callLegId: IDS.outboundLeg,
      queueId: support.queueId,
      queueName: support.name,
      userId: b.userId,
      userName: b.username,
      aNum: '+35810100100',
      bNum: '+358409999999',
      timestampMs: s(600),
      answerTimeMs: s(605),
      endTimeMs: s(665),
      durationSeconds: 60,
      result: 'Handled',
      recordingIds: ['rec-0002'],
      modifiedMs: s(665),
    },
    {
      eventId: IDS.salesOutboundEvent,
      callId: IDS.salesOutboundCallId,
      callLegId: IDS.salesOutboundLeg,
      queueId: sales.queueId,
      queueName: sales.name,
      userId: a.userId,
      userName: a.username,
      aNum: '+35810100200',
      bNum: '+358408888888',
      timestampMs: s(700),
      answerTimeMs: null,
      endTimeMs: null,
      durationSeconds: 0,
      result: null,
      recordingIds: [],
      modifiedMs: s(700),
    },
  ];

  const outboundCallbackCalls: OutboundCallbackCall[] = [
    {
      eventId: IDS.callbackEvent,
      callId: IDS.callbackCallId,
      callLegId: IDS.callbackLeg,
      callbackListId: supportCallbacks.callbackListId,
      callbackListName: supportCallbacks.name,
      callbackRequestId: IDS.callbackRequestId,
      queueId: support.queueId,
      userId: c.userId,
      userName: c.username,
      aNum: '+35810100100',
      bNum: '+358407777777',
      timestampMs: s(900),
      answerTimeMs: null,
      endTimeMs: s(930),
      durationSeconds: 0,
      result: 'Missed',
      recordingIds: [],
      modifiedMs: s(930),
    },
  ];

  return { userCallEvents, serviceCalls, serviceCallDetails, outboundServiceCalls, outboundCallbackCalls };
}

/** The codes of a user call event of an answered outbound direct call, as the API serves them. */
export const WIRE_HANDLED_OUTBOUND_DIRECT_CALL = {
  CallType: 1,
  CallTypeString: 'DirectCall',
  Direction: 1,
  DirectionString: 'Outbound',
  Result: 'Handled',
  EndResult: 0,
} as const;

// ---------------------------------------------------------------------------------------------
// In-memory store.

const inScope = (scope: IdScope, entityId: string | null): boolean =>
  scope === '*' || (entityId !== null && scope.includes(entityId));

function selects(
  selection: RecordSelection,
  record: { callId: string; modifiedMs: number },
  startMs: number,
) {
  switch (selection.by) {
    case 'callId':
      return record.callId === selection.callId;
    case 'time':
      return startMs >= selection.fromMs && startMs < selection.toMs;
    case 'modified':
      return record.modifiedMs >= selection.fromMs && record.modifiedMs < selection.toMs;
  }
}

/** Records every query it is given, so that tests can check what the API asked the store for. */
export class InMemoryRecords implements RecordReader {
  readonly queries: Array<UserCallEventQuery | QueueOwnedQuery | CallbackOwnedQuery> = [];
  /** When set, the next call throws it (a failing store). */
  failWith: Error | undefined;
  /** A buggy store that ignores the visibility scopes (the API must still filter). */
  ignoreVisibility = false;

  private visible(scope: IdScope, entityId: string | null): boolean {
    return this.ignoreVisibility || inScope(scope, entityId);
  }

  constructor(readonly data: SeedRecords) {}

  private failIfAsked(): void {
    const error = this.failWith;
    if (error !== undefined) {
      this.failWith = undefined;
      throw error;
    }
  }

  async listUserCallEvents(query: UserCallEventQuery): Promise<UserCallEvent[]> {
    this.failIfAsked();
    this.queries.push(query);
    return this.data.userCallEvents.filter(
      (event) =>
        selects(query.selection, event, event.timestampMs) &&
        (query.userIds === undefined || query.userIds.includes(event.userId)) &&
        (event.callType === 'DirectCall'
          ? this.visible(query.visibleDirectCallUserIds, event.userId)
          : this.visible(query.visibleAgentCallUserIds, event.userId)),
    );
  }

  async getUserCallEvent(eventId: string): Promise<UserCallEvent | undefined> {
    this.failIfAsked();
    return this.data.userCallEvents.find((event) => event.eventId === eventId);
  }

  /** A listing owned by a queue or a callback list: selection, the owner filter, visibility. */
  private listOwned<T extends { callId: string; modifiedMs: number }>(
    records: T[],
    query: QueueOwnedQuery | CallbackOwnedQuery,
    /** When the record's call started, and its owner (queue or callback list). */
    keysOf: (record: T) => [startMs: number, ownerId: string],
  ): T[] {
    this.failIfAsked();
    this.queries.push(query);
    const [wanted, visible] =
      'visibleQueueIds' in query
        ? [query.queueIds, query.visibleQueueIds]
        : [query.callbackListIds, query.visibleCallbackListIds];
    return records.filter((record) => {
      const [startMs, ownerId] = keysOf(record);
      return (
        selects(query.selection, record, startMs) &&
        (wanted === undefined || wanted.includes(ownerId)) &&
        this.visible(visible, ownerId)
      );
    });
  }

  async listServiceCalls(query: QueueOwnedQuery): Promise<ServiceCall[]> {
    return this.listOwned(this.data.serviceCalls, query, (call) => [call.arrivalTimeMs, call.queueId]);
  }

  async listServiceCallDetails(callId: string): Promise<ServiceCallDetail[]> {
    this.failIfAsked();
    return this.data.serviceCallDetails.filter((detail) => detail.callId === callId);
  }

  async listOutboundServiceCalls(query: QueueOwnedQuery): Promise<OutboundServiceCall[]> {
    return this.listOwned(this.data.outboundServiceCalls, query, (call) => [call.timestampMs, call.queueId]);
  }

  async listOutboundCallbackCalls(query: CallbackOwnedQuery): Promise<OutboundCallbackCall[]> {
    return this.listOwned(this.data.outboundCallbackCalls, query, (call) => [
      call.timestampMs,
      call.callbackListId,
    ]);
  }
}

export class InMemoryCredentials implements CredentialStore {
  /** Every user's keys, newest first. */
  readonly saved = new Map<string, StoredSecretKey[]>();
  readonly passwordHashes = new Map<string, string>();

  async saveSecretKey(key: NewSecretKey): Promise<void> {
    const keys = this.saved.get(key.userId) ?? [];
    keys.unshift({ ...key, lastUsedMs: null });
    this.saved.set(key.userId, keys);
  }

  async listSecretKeys(userId: string): Promise<StoredSecretKey[]> {
    return (this.saved.get(userId) ?? []).map((key) => ({ ...key }));
  }

  async findSecretKeyCandidates(userId: string, lookup: string): Promise<StoredSecretKey[]> {
    return (await this.listSecretKeys(userId)).filter((key) => key.lookup === lookup || key.lookup === null);
  }

  async markSecretKeyUsed(keyId: string, usedMs: number, lookup: string): Promise<void> {
    for (const keys of this.saved.values()) {
      for (const key of keys) {
        if (key.keyId !== keyId) continue;
        key.lastUsedMs = usedMs;
        key.lookup = lookup;
      }
    }
  }

  async deleteSecretKey(userId: string, keyId: string): Promise<boolean> {
    const keys = this.saved.get(userId) ?? [];
    const kept = keys.filter((key) => key.keyId !== keyId);
    this.saved.set(userId, kept);
    return kept.length < keys.length;
  }

  async deleteSecretKeys(userId: string): Promise<number> {
    const count = this.saved.get(userId)?.length ?? 0;
    this.saved.delete(userId);
    return count;
  }

  async getPasswordHash(userId: string): Promise<string | undefined> {
    return this.passwordHashes.get(userId);
  }

  async setPasswordHash(userId: string, passwordHash: string): Promise<void> {
    this.passwordHashes.set(userId, passwordHash);
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP.

/** A free TCP port on the loopback address (for a tenant whose publicUrl must name the real port). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function basic(username: string, secretKey: string): string {
  return `Basic ${Buffer.from(`${username}:${secretKey}`, 'utf8').toString('base64')}`;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

export async function request(
  baseUrl: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown; rawBody?: string } = {},
): Promise<TestResponse> {
  const headers: Record<string, string> = { ...init.headers };
  let body: string | undefined = init.rawBody;
  if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(new URL(path.replace(/^\//, ''), baseUrl), {
    method: init.method ?? 'GET',
    headers,
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    // Not JSON (the /docs page): keep the text.
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

export function asRecords(body: unknown): Array<Record<string, unknown>> {
  if (!Array.isArray(body)) throw new Error(`expected a JSON array, got ${JSON.stringify(body)}`);
  return body as Array<Record<string, unknown>>;
}

export function asRecord(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new Error(`expected a JSON object, got ${JSON.stringify(body)}`);
  }
  return body as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// A running API over the seed records.

export interface TestApi {
  baseUrl: string;
  directory: Directory;
  records: InMemoryRecords;
  credentials: InMemoryCredentials;
  /** A secret key for the user, minted through POST /authuser once and reused. */
  keyOf(username: string): Promise<string>;
  /** GET as the user (with X-Json-Serializer: 2, as EnreachVoice clients send). */
  get(path: string, username: string, headers?: Record<string, string>): Promise<TestResponse>;
  close(): Promise<void>;
}

export async function startTestApi(options: Partial<Omit<ApiDeps, 'directory'>> = {}): Promise<TestApi> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}/`;
  const directory = createDirectory(testTenant(baseUrl));
  const records = new InMemoryRecords(seedRecords(directory));
  const credentials = new InMemoryCredentials();
  const app = createApiServer({ directory, records, credentials, ...options });
  await app.listen({ port, host: '127.0.0.1' });
  const keys = new Map<string, string>();
  const keyOf = async (username: string): Promise<string> => {
    const known = keys.get(username);
    if (known !== undefined) return known;
    const response = await request(baseUrl, `/authuser/${username}`, {
      method: 'POST',
      body: { UserName: username, Password: PASSWORDS[username] },
    });
    if (response.status !== 200) throw new Error(`login of ${username} failed: ${response.text}`);
    const secretKey = String(asRecord(response.body).SecretKey);
    keys.set(username, secretKey);
    return secretKey;
  };
  return {
    baseUrl,
    directory,
    records,
    credentials,
    keyOf,
    get: async (path, username, headers = {}) =>
      request(baseUrl, path, {
        headers: {
          authorization: basic(username, await keyOf(username)),
          'x-json-serializer': '2',
          ...headers,
        },
      }),
    close: async () => {
      // fetch (undici) keeps connections alive between tests; under load one can still count as
      // busy when the test ends, and app.close() would wait for it forever. Tests are done with
      // every response by then: cut them all.
      const closing = app.close();
      app.server.closeAllConnections();
      await closing;
    },
  };
}

/** One API over the seed records for a whole test file: started before its tests, closed after. */
export function useTestApi(options: Partial<Omit<ApiDeps, 'directory'>> = {}): () => TestApi {
  let api: TestApi | undefined;
  beforeAll(async () => {
    api = await startTestApi(options);
  });
  afterAll(async () => {
    await api?.close();
  });
  return () => {
    if (api === undefined) throw new Error('the test API is started in beforeAll');
    return api;
  };
}
