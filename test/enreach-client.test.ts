/**
 * The public EnreachVoice Python client (mokso/enreachvoice, `enreachvoice/client.py`) and the
 * public EnreachVoice MCP server (mokso/enreachvoice_mcp, `main.py`) against a live platform
 * (issue 16): each of their methods reproduced with the requests they send — the same URLs,
 * headers, encodings and redirect following as Python `requests` — and the checks they make on the
 * answers (the fields they read). Records come from the seed's queue call with real media and
 * `recordInbound`, so that there is a recording to download.
 *
 * Reproduced: `Client.__init__` (discovery, `authenticate_with_password`, `users/me`, or a stored
 * secret key), `get_apiurl`, `invoke_api` (GET, POST, DELETE; its error mapping), `get_usercalls`,
 * `get_inbound_queuecalls`, `get_recording_file`, `get_transcript`; the MCP server's `get_queues`
 * (`/queues` with TypeId and Status, the Default directory's queue entries) and
 * `get_directoryentry_by_number`; key management and a doubled slash through `invoke_api`.
 * The classification methods are left to the classification suite.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTenantYaml } from '../src/config/load.js';
import type { Platform } from '../src/platform.js';
import { seedCallWithTones } from './support/media-phones.js';
import { startTestPlatform, type TestPlatform, waitFor } from './support/platform.js';

const DOMAIN = 'switchboard.local';
type Json = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Python `requests`, as far as the client uses it.

/** The client's fixed headers (client.py HEADERS), sent on every API request, GETs included. */
const HEADERS = {
  'Content-Type': 'application/json',
  Accept: 'application/json',
  'X-Json-Serializer': '2',
  'User-Agent': 'enreachvoice-python/0.1',
};

/** urllib.parse.quote_plus, which `requests` applies to `params`. */
function quotePlus(text: string): string {
  return encodeURIComponent(text)
    .replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** json.dumps(dict): ", " and ": " separators. */
function jsonDumps(payload: Json | null): string {
  if (payload === null) return 'null';
  return `{${Object.entries(payload)
    .map(([key, value]) => `${JSON.stringify(key)}: ${JSON.stringify(value)}`)
    .join(', ')}}`;
}

/** datetime.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"). */
function strftime(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * The client's time window: StartTime and EndTime, or ModifiedAfter and ModifiedBefore, as strftime
 * in UTC; it raises without either unless `optional` (a CallId filter needs none).
 */
function windowParams(
  filter: { StartTime?: number; EndTime?: number; ModifiedAfter?: number; ModifiedBefore?: number },
  optional: boolean,
): Record<string, string> {
  if (filter.StartTime !== undefined && filter.EndTime !== undefined)
    return { StartTime: strftime(filter.StartTime), EndTime: strftime(filter.EndTime) };
  if (filter.ModifiedAfter !== undefined && filter.ModifiedBefore !== undefined)
    return { ModifiedAfter: strftime(filter.ModifiedAfter), ModifiedBefore: strftime(filter.ModifiedBefore) };
  if (optional) return {};
  throw new Error('Must have StartTime and EndTime or ModifiedAfter and ModifiedBefore');
}

interface PyResponse {
  status: number;
  text: string;
  bytes: Buffer;
  headers: Record<string, string | string[] | undefined>;
  json(): unknown;
}

/**
 * One `requests.request(method, url, headers=, auth=, params=, data=)`: Content-Length 0 on a
 * body-less non-GET (requests' prepare_content_length), redirects followed — on 307/308 with the
 * same method, body and (same host) Authorization.
 */
async function pyRequest(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  options: {
    headers?: Record<string, string>;
    auth?: [string, string];
    params?: Record<string, string>;
    data?: string;
  } = {},
): Promise<PyResponse> {
  let target = new URL(url);
  if (options.params !== undefined && Object.keys(options.params).length > 0) {
    const query = Object.entries(options.params)
      .map(([key, value]) => `${quotePlus(key)}=${quotePlus(value)}`)
      .join('&');
    target = new URL(`${url}${url.includes('?') ? '&' : '?'}${query}`);
  }
  const headers: Record<string, string> = { ...options.headers };
  if (options.auth !== undefined) {
    headers.Authorization = `Basic ${Buffer.from(`${options.auth[0]}:${options.auth[1]}`, 'latin1').toString('base64')}`;
  }
  if (options.data !== undefined) headers['Content-Length'] = String(Buffer.byteLength(options.data));
  else if (method !== 'GET') headers['Content-Length'] = '0';
  for (let hops = 0; ; hops += 1) {
    // The raw path as written (a URL object would keep doubled slashes too, but say so explicitly).
    const response = await new Promise<PyResponse>((resolve, reject) => {
      const sent = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method,
          path: `${target.pathname}${target.search}`,
          headers,
        },
        (incoming) => {
          const chunks: Buffer[] = [];
          incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
          incoming.on('end', () => {
            const bytes = Buffer.concat(chunks);
            const text = bytes.toString('utf8');
            resolve({
              status: incoming.statusCode ?? 0,
              text,
              bytes,
              headers: incoming.headers,
              json: () => JSON.parse(text),
            });
          });
        },
      );
      sent.on('error', reject);
      sent.end(options.data);
    });
    const location = response.headers.location;
    if (![301, 302, 303, 307, 308].includes(response.status) || typeof location !== 'string' || hops >= 30) {
      return response;
    }
    target = new URL(location, target);
  }
}

// ---------------------------------------------------------------------------------------------
// enreachvoice.Client, method by method.

class EnreachAPIException extends Error {
  constructor(
    message: string,
    readonly statusCode?: number,
    readonly response?: unknown,
  ) {
    super(message);
  }
}
class AuthenticationException extends EnreachAPIException {}
class RateLimitException extends EnreachAPIException {}

class PythonClient {
  apiEndpoint = '';
  secretkey = '';
  userid = '';

  private constructor(
    readonly username: string,
    readonly discoveryUrl: string,
  ) {}

  /** Client(username, secretkey=None, password=None, discovery_url=None, api_endpoint=None). */
  static async create(options: {
    username: string;
    secretkey?: string;
    password?: string;
    discoveryUrl?: string;
    apiEndpoint?: string;
  }): Promise<PythonClient> {
    const client = new PythonClient(
      options.username,
      options.discoveryUrl ?? 'https://discover.enreachvoice.com',
    );
    client.apiEndpoint =
      options.apiEndpoint !== undefined ? options.apiEndpoint.replace(/\/+$/, '') : await client.getApiurl();
    if (options.secretkey !== undefined) client.secretkey = options.secretkey;
    else if (options.password !== undefined)
      client.secretkey = await client.authenticateWithPassword(options.password);
    else throw new Error('Either secretkey or password must be provided');
    const user = (await client.invokeApi('users/me')) as Json;
    client.userid = String(user.Id);
    return client;
  }

  /** get_apiurl: `requests.get(f"{discovery_url}/api/user?user={username}")`; `[0]['apiEndpoint']`, trailing '/' cut. */
  async getApiurl(): Promise<string> {
    const response = await pyRequest('GET', `${this.discoveryUrl}/api/user?user=${this.username}`);
    if (response.status !== 200) {
      throw new EnreachAPIException(
        `Discovery failed with status ${response.status}`,
        response.status,
        response.text,
      );
    }
    let apiEndpoint = String((response.json() as Json[])[0]!.apiEndpoint);
    if (apiEndpoint.endsWith('/')) apiEndpoint = apiEndpoint.slice(0, -1);
    return apiEndpoint;
  }

  /** invoke_api: response.json() on every answer, then 401/404/429/!ok → exceptions. */
  async invokeApi(
    path: string,
    method: 'GET' | 'POST' | 'PUT' | 'DELETE' = 'GET',
    params?: Record<string, string>,
    payload: Json | null = null,
  ): Promise<unknown> {
    const url = `${this.apiEndpoint}${path.startsWith('/') ? path : `/${path}`}`;
    const response = await pyRequest(method, url, {
      headers: HEADERS,
      auth: [this.username, this.secretkey],
      ...(params === undefined ? {} : { params }),
      ...(method === 'POST' || method === 'PUT' ? { data: jsonDumps(payload) } : {}),
    });
    let body: unknown;
    try {
      body = response.json();
    } catch (error) {
      throw new EnreachAPIException(
        `API returned invalid JSON: ${String(error)}`,
        response.status,
        response.text,
      );
    }
    if (response.status === 401) {
      throw new AuthenticationException('Authentication failed. Check your credentials.', 401, body);
    }
    if (response.status === 404) throw new EnreachAPIException(`Resource not found: ${path}`, 404, body);
    if (response.status === 429) throw new RateLimitException('API rate limit exceeded.', 429, body);
    if (response.status < 200 || response.status >= 400) {
      throw new EnreachAPIException(`API request failed: ${response.status}`, response.status, body);
    }
    return body;
  }

  /** authenticate_with_password: POST HEADERS + json.dumps({UserName, Password}), no auth; 200 and ['SecretKey']. */
  async authenticateWithPassword(password: string): Promise<string> {
    const response = await pyRequest('POST', `${this.apiEndpoint}/authuser/${this.username}`, {
      headers: HEADERS,
      data: jsonDumps({ UserName: this.username, Password: password }),
    });
    if (response.status !== 200) {
      throw new AuthenticationException(
        `Authentication failed with status ${response.status}`,
        response.status,
      );
    }
    return String((response.json() as Json).SecretKey);
  }

  /** get_usercalls(**filterParameters): datetimes as strftime in UTC; a window, or CallId. */
  async getUsercalls(filter: {
    StartTime?: number;
    EndTime?: number;
    CallId?: string;
    ModifiedAfter?: number;
    ModifiedBefore?: number;
    UserIDs?: string;
  }): Promise<Json[]> {
    const params = windowParams(filter, filter.CallId !== undefined);
    if (filter.CallId !== undefined) params.CallId = filter.CallId;
    if (filter.UserIDs !== undefined) params.UserIDs = filter.UserIDs;
    return (await this.invokeApi('/calls', 'GET', params)) as Json[];
  }

  /** get_inbound_queuecalls(**filterParameters): a window is required. */
  async getInboundQueuecalls(filter: {
    StartTime?: number;
    EndTime?: number;
    ModifiedAfter?: number;
    ModifiedBefore?: number;
    QueueIDs?: string;
  }): Promise<Json[]> {
    const params = windowParams(filter, false);
    if (filter.QueueIDs !== undefined) params.QueueIDs = filter.QueueIDs;
    return (await this.invokeApi('/servicecall', 'GET', params)) as Json[];
  }

  /**
   * get_recording_file(recordingId, path): metadata with HEADERS and Basic, then
   * `requests.get(f"{apiEndpoint}/{URL}")` with nothing else, written to <path>/<recordingId>.mp3.
   */
  async getRecordingFile(recordingId: string, directory: string): Promise<string> {
    const metadata = await pyRequest('GET', `${this.apiEndpoint}/calls/recordings/${recordingId}`, {
      headers: HEADERS,
      auth: [this.username, this.secretkey],
    });
    if (metadata.status !== 200) {
      throw new EnreachAPIException(
        `Failed to get recording metadata: ${metadata.status}`,
        metadata.status,
        metadata.text,
      );
    }
    const audio = await pyRequest('GET', `${this.apiEndpoint}/${String((metadata.json() as Json).URL)}`);
    const file = join(directory, `${recordingId}.mp3`);
    writeFileSync(file, audio.bytes);
    return file;
  }

  /** get_transcript(transcriptId): invoke_api GET /calls/transcripts/{id}; reads ['TranscriptStatus']. */
  async getTranscript(transcriptId: string): Promise<Json> {
    const transcript = (await this.invokeApi(`/calls/transcripts/${transcriptId}`)) as Json;
    if (!('TranscriptStatus' in transcript)) throw new Error("KeyError: 'TranscriptStatus'");
    return transcript;
  }
}

// ---------------------------------------------------------------------------------------------
// The platform, one recorded queue call.

let env: TestPlatform;
let platform: Platform;
let callId: string;
let recordingId: string;
let startedMs: number;
let downloads: string;
const opened: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  const tenant = parseTenantYaml(
    `
domain: ${DOMAIN}
users:
  - { username: a@example.com, displayName: Anna Caller, extension: "1001", password: secret-a, number: "+358401000001" }
  - { username: b@example.com, displayName: Bert Agent, extension: "1002", password: secret-b }
  - { username: c@example.com, displayName: Cecilia Agent, extension: "1003", password: secret-c }
  - { username: admin@example.com, extension: "1000", password: secret-admin, role: admin }
queues:
  - { name: Support, extension: "100", number: "+35810100100", members: [b@example.com, c@example.com], recordInbound: true }
`,
    'enreach-client.yaml',
  );
  downloads = mkdtempSync(join(tmpdir(), 'enreach-client-'));
  env = await startTestPlatform(tenant, 'sqlite', { mediaDefault: 'auto' });
  ({ platform } = env);
  startedMs = Date.now();
  ({ callId } = await seedCallWithTones(platform, { domain: DOMAIN, opened, talkMs: 1500 }));
  const admin = await env.rest('admin@example.com', 'secret-admin');
  const header = await waitFor(
    async () => {
      const rows = await admin.list<{ Result: unknown; RecordingIds: string[] }>('/servicecall', {
        CallId: callId,
      });
      const events = await admin.list<Json>('/calls', { CallId: callId });
      return rows[0]?.Result === 'Handled' && rows[0].RecordingIds.length > 0 && events.length === 3
        ? rows[0]
        : undefined;
    },
    15_000,
    'the records and RecordingIds of the call',
  );
  recordingId = header.RecordingIds[0]!;
  await waitFor(
    async () => (await platform.recordings.getRecording(recordingId))?.state === 'ready' || undefined,
    30_000,
    'the rendered recording',
  );
}, 90_000);

afterAll(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
  await env?.close();
  if (downloads) rmSync(downloads, { recursive: true, force: true });
});

const discoveryUrl = () => platform.httpUrl.replace(/\/$/, '');
const userId = (email: string) => platform.directory.userByUsername(email)!.userId;

describe('enreachvoice.Client against a live platform', () => {
  it('__init__ with a password: get_apiurl, authenticate_with_password, users/me', async () => {
    const client = await PythonClient.create({
      username: 'admin@example.com',
      password: 'secret-admin',
      discoveryUrl: discoveryUrl(),
    });
    expect(client.apiEndpoint).toBe(discoveryUrl());
    expect(client.userid).toBe(userId('admin@example.com'));
    expect(client.secretkey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The discovery answer carries the fields clients read, authority and basicAuthEndpoint among them.
    const discovery = (
      await pyRequest('GET', `${discoveryUrl()}/api/user?user=admin@example.com`)
    ).json() as Json[];
    expect(discovery[0]).toMatchObject({
      apiEndpoint: platform.httpUrl,
      authority: platform.httpUrl,
      basicAuthEndpoint: platform.httpUrl,
    });
  });

  it('__init__ with a stored secret key, still valid after 20 more logins; api_endpoint bypasses discovery', async () => {
    const first = await PythonClient.create({
      username: 'c@example.com',
      password: 'secret-c',
      discoveryUrl: discoveryUrl(),
    });
    for (let n = 0; n < 20; n += 1) {
      await PythonClient.create({
        username: 'c@example.com',
        password: 'secret-c',
        apiEndpoint: platform.httpUrl,
      });
    }
    const again = await PythonClient.create({
      username: 'c@example.com',
      secretkey: first.secretkey,
      apiEndpoint: platform.httpUrl,
    });
    expect(again.userid).toBe(userId('c@example.com'));
  });

  it('a wrong password is an AuthenticationException, an unknown user an EnreachAPIException at discovery', async () => {
    await expect(
      PythonClient.create({ username: 'a@example.com', password: 'wrong', discoveryUrl: discoveryUrl() }),
    ).rejects.toMatchObject({ constructor: AuthenticationException, statusCode: 401 });
    // Discovery answers [] for an unknown user: the client's [0] fails (its "Invalid discovery response").
    await expect(
      PythonClient.create({ username: 'ghost@example.com', password: 'x', discoveryUrl: discoveryUrl() }),
    ).rejects.toThrow();
  });

  it('get_usercalls by CallId, by window, by modification, and by CallId and window together', async () => {
    const client = await PythonClient.create({
      username: 'admin@example.com',
      password: 'secret-admin',
      discoveryUrl: discoveryUrl(),
    });
    const byCallId = await client.getUsercalls({ CallId: callId });
    expect(
      byCallId
        .map((event) => [event.UserName, event.CallTypeString, event.DirectionString, event.Result])
        .sort(),
    ).toEqual([
      ['a@example.com', 'DirectCall', 'Outbound', 'Handled'],
      ['b@example.com', 'ServiceCall', 'Inbound', 'Allocated'],
      ['c@example.com', 'ServiceCall', 'Inbound', 'Handled'],
    ]);
    for (const event of byCallId) {
      expect(event).toMatchObject({
        CallId: callId,
        Id: expect.any(String),
        TimeStamp: expect.stringMatching(/Z$/),
      });
    }
    const window = { StartTime: startedMs - 60_000, EndTime: Date.now() + 60_000 };
    expect(await client.getUsercalls(window)).toHaveLength(3);
    expect(
      await client.getUsercalls({ ModifiedAfter: window.StartTime, ModifiedBefore: window.EndTime }),
    ).toHaveLength(3);
    // CallId with a window: both apply (the client passes both through).
    expect(await client.getUsercalls({ ...window, CallId: callId })).toHaveLength(3);
    expect(
      await client.getUsercalls({
        StartTime: startedMs - 7_200_000,
        EndTime: startedMs - 3_600_000,
        CallId: callId,
      }),
    ).toEqual([]);
    expect(await client.getUsercalls({ CallId: callId, UserIDs: userId('c@example.com') })).toHaveLength(1);
  });

  it('get_usercalls as an agent sees only their own events; bad input is an exception with a JSON body naming it', async () => {
    const agent = await PythonClient.create({
      username: 'b@example.com',
      password: 'secret-b',
      discoveryUrl: discoveryUrl(),
    });
    expect((await agent.getUsercalls({ CallId: callId })).map((event) => event.UserName)).toEqual([
      'b@example.com',
    ]);
    await expect(agent.getUsercalls({ CallId: 'not-a-call-id' })).rejects.toMatchObject({
      statusCode: 400,
      response: { Parameter: 'CallId', Message: expect.stringContaining('CallId') },
    });
  });

  it('get_inbound_queuecalls by window and by modification, with the header fields', async () => {
    const client = await PythonClient.create({
      username: 'admin@example.com',
      password: 'secret-admin',
      discoveryUrl: discoveryUrl(),
    });
    const window = { StartTime: startedMs - 60_000, EndTime: Date.now() + 60_000 };
    const calls = await client.getInboundQueuecalls(window);
    expect(calls).toEqual([
      expect.objectContaining({
        CallId: callId,
        QueueName: 'Support',
        Result: 'Handled',
        AnsweredByUserName: 'c@example.com',
        RecordingIds: [recordingId],
        Duration: expect.any(Number),
      }),
    ]);
    expect(
      await client.getInboundQueuecalls({ ModifiedAfter: window.StartTime, ModifiedBefore: window.EndTime }),
    ).toHaveLength(1);
    const details = (await client.invokeApi(`/servicecall/${callId}/details`)) as Json[];
    expect(details.map((detail) => detail.EventTypeString)).toContain('UserConnect');
  });

  it('get_recording_file downloads the MP3 through the URL the metadata gives, without credentials', async () => {
    const client = await PythonClient.create({
      username: 'c@example.com',
      password: 'secret-c',
      discoveryUrl: discoveryUrl(),
    });
    const file = await client.getRecordingFile(recordingId, downloads);
    const mp3 = readFileSync(file);
    expect(mp3.length).toBeGreaterThan(1000);
    // An MP3: an ID3 tag or an MPEG frame sync at the start.
    expect(
      mp3.subarray(0, 3).toString('latin1') === 'ID3' || (mp3[0] === 0xff && (mp3[1]! & 0xe0) === 0xe0),
    ).toBe(true);
    // A doubled slash in the metadata path (a joined base URL) routes too.
    const doubled = await pyRequest('GET', `${client.apiEndpoint}/calls//recordings/${recordingId}`, {
      headers: HEADERS,
      auth: [client.username, client.secretkey],
    });
    expect(doubled.status).toBe(200);
    expect((doubled.json() as Json).Id).toBe(recordingId);
    // B was only offered the call: not a party, no grant.
    const b = await PythonClient.create({
      username: 'b@example.com',
      password: 'secret-b',
      discoveryUrl: discoveryUrl(),
    });
    await expect(b.getRecordingFile(recordingId, downloads)).rejects.toMatchObject({ statusCode: 404 });
  });

  it('get_transcript: a 404 with a JSON message (no speech-to-text yet), raised as "Resource not found"', async () => {
    const client = await PythonClient.create({
      username: 'admin@example.com',
      password: 'secret-admin',
      discoveryUrl: discoveryUrl(),
    });
    const failure = await client.getTranscript(recordingId).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(EnreachAPIException);
    expect(failure).toMatchObject({
      statusCode: 404,
      message: `Resource not found: /calls/transcripts/${recordingId}`,
      response: { Message: expect.stringContaining('speech-to-text') },
    });
  });

  it('invoke_api: users, users/me, queues — the fields the client and the MCP server read', async () => {
    const client = await PythonClient.create({
      username: 'a@example.com',
      password: 'secret-a',
      discoveryUrl: discoveryUrl(),
    });
    const users = (await client.invokeApi('users')) as Json[];
    expect(users.map((user) => user.UserName).sort()).toEqual([
      'a@example.com',
      'admin@example.com',
      'b@example.com',
      'c@example.com',
    ]);
    expect(await client.invokeApi(`users/${userId('b@example.com')}`)).toMatchObject({
      Id: userId('b@example.com'),
    });
    const queues = (await client.invokeApi('queues')) as Json[];
    expect(queues).toEqual([
      expect.objectContaining({
        Id: platform.directory.queueByReference('Support')!.queueId,
        Name: 'Support',
        Numbers: ['+35810100100'],
      }),
    ]);
  });

  it('invoke_api: list and revoke secret keys (DELETE as requests sends it); a revoked key is an AuthenticationException', async () => {
    const client = await PythonClient.create({
      username: 'a@example.com',
      password: 'secret-a',
      discoveryUrl: discoveryUrl(),
    });
    const spare = await PythonClient.create({
      username: 'a@example.com',
      password: 'secret-a',
      apiEndpoint: platform.httpUrl,
    });
    const keys = (await client.invokeApi('authuser/a@example.com/keys')) as Json[];
    const spareKey = keys.find((key) => key.Current === false && key.LastUsed !== null);
    expect(keys.find((key) => key.Current === true)).toBeDefined();
    expect(spareKey).toBeDefined();
    expect(JSON.stringify(keys)).not.toContain(spare.secretkey);
    const revoked = (await client.invokeApi(
      `authuser/a@example.com/keys/${String(spareKey!.Id)}`,
      'DELETE',
    )) as Json;
    expect(revoked).toMatchObject({ Id: spareKey!.Id });
    await expect(spare.invokeApi('users/me')).rejects.toBeInstanceOf(AuthenticationException);
    expect(await client.invokeApi('users/me')).toMatchObject({ Id: userId('a@example.com') });
  });

  it('paths with a doubled slash (a browser extension joining URLs) reach their endpoints', async () => {
    const login = await pyRequest('POST', `${platform.httpUrl}/authuser/c@example.com`, {
      headers: HEADERS,
      data: jsonDumps({ UserName: 'c@example.com', Password: 'secret-c' }),
    });
    expect(login.status).toBe(200);
    const key = String((login.json() as Json).SecretKey);
    const calls = await pyRequest('GET', `${platform.httpUrl}/calls`, {
      headers: HEADERS,
      auth: ['c@example.com', key],
      params: { CallId: callId, OnlyForUser: userId('c@example.com') },
    });
    expect(calls.status).toBe(200);
    expect((calls.json() as Json[]).map((event) => event.UserName)).toEqual(['c@example.com']);
  });

  it('unknown paths answer a JSON 404 in the API error shape, which invoke_api can parse', async () => {
    const client = await PythonClient.create({
      username: 'a@example.com',
      password: 'secret-a',
      discoveryUrl: discoveryUrl(),
    });
    await expect(client.invokeApi('no/such/endpoint')).rejects.toMatchObject({
      statusCode: 404,
      response: { Message: expect.stringContaining('No such endpoint') },
    });
  });
});

describe('the EnreachVoice MCP server against a live platform', () => {
  /** get_queue_directoryinfo: GET /directory, the one named Default, its entries with EntryTypes=2. */
  async function queueDirectoryInfo(client: PythonClient): Promise<Json[]> {
    const directories = (await client.invokeApi('/directory')) as Json[];
    const directoryId = directories.find((directory) => directory.Name === 'Default')?.ID;
    expect(directoryId).toBeDefined();
    const result = (await client.invokeApi(`/directory/${String(directoryId)}`, 'GET', {
      EntryTypes: '2',
      MaxCount: '1000',
    })) as Json;
    return result.Entries as Json[];
  }

  it('get_queues: /queues with TypeId and Status, and each queue’s directory entry', async () => {
    const client = await PythonClient.create({
      username: 'a@example.com',
      password: 'secret-a',
      discoveryUrl: discoveryUrl(),
    });
    const queues = (await client.invokeApi('/queues')) as Json[];
    const entries = await queueDirectoryInfo(client);
    const result = queues.map((queue) => {
      const status = queue.Status as Json;
      const entry = entries.find((candidate) => candidate.QueueId === queue.Id);
      return {
        id: queue.Id,
        name: queue.Name,
        number: (queue.Numbers as string[])[0] ?? null,
        type: { 1: 'UserDirect', 2: 'PersonalWork', 4: 'ServiceQueue' }[queue.TypeId as number] ?? 'Unknown',
        openstatus: status.OpenStatus,
        numbers: [
          status.MaxWaitTime,
          status.QueueLength,
          status.OngoingCalls,
          status.AgentsOnWrapUp,
          status.FreeAgents,
          status.ServingAgents,
        ],
        description: entry?.Description,
      };
    });
    expect(result).toEqual([
      {
        id: platform.directory.queueByReference('Support')!.queueId,
        name: 'Support',
        number: '+35810100100',
        type: 'ServiceQueue',
        openstatus: expect.any(Number),
        numbers: Array.from({ length: 6 }, () => expect.any(Number)),
        description: 'Service queue',
      },
    ]);
  });

  it('get_directoryentry_by_number: every directory searched by Number, entries read field by field', async () => {
    const client = await PythonClient.create({
      username: 'b@example.com',
      password: 'secret-b',
      discoveryUrl: discoveryUrl(),
    });
    const byNumber = async (number: string) => {
      const entries: Json[] = [];
      for (const directory of (await client.invokeApi('/directory')) as Json[]) {
        const result = (await client.invokeApi(`/directory/${String(directory.ID)}`, 'GET', {
          Number: number,
          MaxCount: '1000',
        })) as Json;
        if ((result.Entries as Json[]).length > 0) entries.push(...(result.Entries as Json[]));
      }
      return entries.map((entry) => ({
        id: entry.Id,
        name: entry.FirstName ? `${String(entry.FirstName)} ${String(entry.LastName)}` : entry.LastName,
        email: entry.Email,
        worknumber: entry.WorkNumber,
        mobilenumber: entry.MobileNumber,
        othernumber: entry.OtherNumber,
        description: entry.Description,
        company: entry.Company,
        subcompany: entry.Subcompany,
        location: entry.Location,
        department: entry.Department,
      }));
    };
    expect(await byNumber('+358401000001')).toEqual([
      {
        id: userId('a@example.com'),
        name: 'Anna Caller',
        email: 'a@example.com',
        worknumber: '+358401000001',
        mobilenumber: null,
        othernumber: null,
        description: null,
        company: DOMAIN,
        subcompany: null,
        location: null,
        department: null,
      },
    ]);
    expect((await byNumber('100')).map((entry) => entry.name)).toEqual(['Support']);
    expect((await byNumber('1000')).map((entry) => entry.name)).toEqual(['admin@example.com']);
    expect(await byNumber('+999')).toEqual([]);
  });
});
