/**
 * /calls/recordings over real HTTP against a real SQLite recording store and real files: who may
 * see a recording (the visibility matrix), token downloads without Authorization, Basic downloads,
 * bad / foreign / expired tokens, failed and missing audio, byte ranges, throttling, the OpenAPI
 * document, and the two requests of the Python client's `get_recording_file`, reproduced exactly.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localRecordingFiles } from '../recordings/files.js';
import { recordingRow } from '../recordings/store.case.js';
import { openRecordingStore, type RecordingStore } from '../recordings/store.js';
import { tinyMp3 } from '../recordings/testing.js';
import { createRecordingTokens, type RecordingTokens } from '../recordings/token.js';
import { openDatabase, type SqlDatabase } from '../records/store/index.js';
import { asRecord, basic, IDS, request, startTestApi, type TestApi } from './test-fixtures.js';

const REC = {
  queue: '7ec00000-0000-4000-8000-000000000001',
  user: '7ec00000-0000-4000-8000-000000000002',
  failed: '7ec00000-0000-4000-8000-000000000003',
  missing: '7ec00000-0000-4000-8000-000000000004',
  unknown: '7ec00000-0000-4000-8000-0000000000ff',
} as const;
const STARTED = Date.UTC(2024, 4, 1, 8, 0, 20);
const HOUR = 3_600_000;

let dir: string;
let database: SqlDatabase;
let store: RecordingStore;
let tokens: RecordingTokens;
let api: TestApi;
let clock = Date.now();

const userId = (username: string) => api.directory.userByUsername(username)!.userId;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'api-recordings-'));
  database = await openDatabase({ dataDir: dir });
  store = await openRecordingStore(database);
  tokens = createRecordingTokens({ key: { file: join(dir, 'recording-token.key') } });
  const recordingsDir = join(dir, 'recordings');
  api = await startTestApi({
    recordings: { store, files: localRecordingFiles(recordingsDir), tokens },
    now: () => clock,
  });
  const support = api.directory.queueByReference('Support')!.queueId;
  mkdirSync(recordingsDir);
  const put = async (recordingId: string, overrides: Parameters<typeof recordingRow>[0], file = true) => {
    await store.putRecording(
      recordingRow({
        recordingId,
        fileName: `${recordingId}.mp3`,
        startedAt: new Date(STARTED).toISOString(),
        ...overrides,
      }),
    );
    if (file) writeFileSync(join(recordingsDir, `${recordingId}.mp3`), tinyMp3());
  };
  // The seed call, recorded by Support: A (caller) and C (who answered) were connected; B declined.
  await put(REC.queue, {
    callId: IDS.callId,
    callLegIds: [IDS.legA, IDS.legC],
    ownerKind: 'queue',
    ownerId: support,
    partyUserIds: [userId('a@example.com'), userId('c@example.com')],
    durationMs: 41_250,
    sizeBytes: tinyMp3().length,
  });
  // A's direct call to B, recorded for A.
  await put(REC.user, {
    callId: IDS.outboundCallId,
    ownerKind: 'user',
    ownerId: userId('a@example.com'),
    partyUserIds: [userId('a@example.com'), userId('b@example.com')],
  });
  await put(
    REC.failed,
    { ownerKind: 'queue', ownerId: support, state: 'failed', error: 'no capture', sizeBytes: 0 },
    false,
  );
  await put(REC.missing, { ownerKind: 'queue', ownerId: support }, false);
});

afterAll(async () => {
  await api?.close();
  await database?.close();
  rmSync(dir, { recursive: true, force: true });
});

const metadata = (recordingId: string, username: string) =>
  api.get(`/calls/recordings/${recordingId}`, username);

async function fileWithBasic(recordingId: string, username: string, headers: Record<string, string> = {}) {
  return fetch(new URL(`calls/recordings/${recordingId}/file`, api.baseUrl), {
    headers: { authorization: basic(username, await api.keyOf(username)), ...headers },
  });
}

/** A GET of apiEndpoint + path with no headers at all (as the token URL is meant to be used). */
const anonymous = (path: string, headers: Record<string, string> = {}) =>
  fetch(new URL(path, api.baseUrl), { headers });

/** The status, after reading the body (an unread body would hold its connection). */
async function statusOf(pending: Promise<Response>): Promise<number> {
  const response = await pending;
  await response.arrayBuffer();
  return response.status;
}

async function urlOf(recordingId: string, username = 'admin@example.com'): Promise<string> {
  const response = await metadata(recordingId, username);
  expect(response.status, response.text).toBe(200);
  return String(asRecord(response.body).URL);
}

describe('GET /calls/recordings/{RecordingId}', () => {
  it('answers the EnreachAPI shape: Id, CallId, URL (relative, with a token), Duration in seconds, TimeStamp, ContentType', async () => {
    const response = await metadata(REC.queue, 'admin@example.com');
    expect(response.status, response.text).toBe(200);
    const body = asRecord(response.body);
    expect(Object.keys(body)).toEqual(['Id', 'CallId', 'URL', 'Duration', 'TimeStamp', 'ContentType']);
    expect(body).toEqual({
      Id: REC.queue,
      CallId: IDS.callId,
      URL: expect.stringMatching(new RegExp(`^calls/recordings/${REC.queue}/file\\?token=[A-Za-z0-9._-]+$`)),
      Duration: 41,
      TimeStamp: '2024-05-01T08:00:20.000Z',
      ContentType: 'audio/mpeg',
    });
    expect(response.headers.get('content-type')).toContain('application/json');
  });

  const matrix: Array<[string, string, 200 | 404]> = [
    // The queue's recording of the seed call.
    [REC.queue, 'admin@example.com', 200],
    [REC.queue, 'a@example.com', 200], // the caller: a party
    [REC.queue, 'c@example.com', 200], // answered: a party
    [REC.queue, 'service@example.com', 200], // ServiceCalls of Support
    [REC.queue, 'everything@example.com', 200],
    [REC.queue, 'b@example.com', 404], // only declined: not a party, no grant of the queue
    [REC.queue, 'agent-c@example.com', 200], // AgentCalls of C, whose event lists it
    [REC.queue, 'direct-a@example.com', 200], // DirectCalls of A, whose event lists it
    [REC.queue, 'agent-b@example.com', 404], // AgentCalls of B, whose event does not list it
    [REC.queue, 'nobody@example.com', 404],
    [REC.queue, 'callback@example.com', 404],
    // A user's recording of a direct call.
    [REC.user, 'admin@example.com', 200],
    [REC.user, 'a@example.com', 200], // the owner, a party
    [REC.user, 'b@example.com', 200], // the other party
    [REC.user, 'direct-a@example.com', 200], // DirectCalls of the owner
    [REC.user, 'service@example.com', 404],
    [REC.user, 'agent-b@example.com', 404], // a direct call's events show with DirectCalls, not AgentCalls
    [REC.user, 'c@example.com', 404],
  ];
  it.each(matrix)('%s as %s → %i', async (recordingId, username, status) => {
    const response = await metadata(recordingId, username);
    expect(response.status, response.text).toBe(status);
    if (status === 404) {
      // Exactly the answer for an id that does not exist.
      expect(response.body).toEqual({ Message: `No recording ${recordingId}`, Code: 'NOT_FOUND' });
    }
  });

  it('an unknown id is a 404, a malformed one a 400 naming RecordingId (as for every id in the API)', async () => {
    const unknown = await metadata(REC.unknown, 'admin@example.com');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ Message: `No recording ${REC.unknown}`, Code: 'NOT_FOUND' });
    const malformed = await metadata('not-a-recording', 'admin@example.com');
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ Code: 'BAD_PARAMETER', Parameter: 'RecordingId' });
    // Upper-case ids name the same recording.
    expect((await metadata(REC.queue.toUpperCase(), 'admin@example.com')).status).toBe(200);
  });

  it('needs credentials', async () => {
    const response = await request(api.baseUrl, `/calls/recordings/${REC.queue}`);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('Basic');
  });

  it('a recording whose audio failed or is missing is a 404 that says so (to who may see it)', async () => {
    const failed = await metadata(REC.failed, 'admin@example.com');
    expect(failed.status).toBe(404);
    expect(asRecord(failed.body).Message).toContain('could not be rendered');
    const missing = await metadata(REC.missing, 'service@example.com');
    expect(missing.status).toBe(404);
    expect(asRecord(missing.body).Message).toContain('file is missing');
    // Someone who may not see it learns nothing more than for an unknown id.
    expect((await metadata(REC.failed, 'nobody@example.com')).body).toEqual({
      Message: `No recording ${REC.failed}`,
      Code: 'NOT_FOUND',
    });
  });
});

describe('GET /calls/recordings/{RecordingId}/file', () => {
  it('downloads with the token alone, without Authorization', async () => {
    const response = await anonymous(await urlOf(REC.queue, 'c@example.com'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('audio/mpeg');
    expect(response.headers.get('content-length')).toBe(String(tinyMp3().length));
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="${REC.queue}.mp3"`);
    expect(response.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await response.arrayBuffer())).toEqual(tinyMp3());
  });

  it('downloads with HTTP Basic and no token, for whoever may see the recording', async () => {
    const party = await fileWithBasic(REC.queue, 'a@example.com');
    expect(party.status).toBe(200);
    expect(Buffer.from(await party.arrayBuffer())).toEqual(tinyMp3());
    const declined = await fileWithBasic(REC.queue, 'b@example.com');
    expect(declined.status).toBe(404);
    expect(await declined.json()).toEqual({ Message: `No recording ${REC.queue}`, Code: 'NOT_FOUND' });
    expect(await statusOf(fileWithBasic(REC.unknown, 'admin@example.com'))).toBe(404);
    const noCredentials = await anonymous(`calls/recordings/${REC.queue}/file`);
    expect(noCredentials.status).toBe(401);
    await noCredentials.arrayBuffer();
    const wrongKey = await anonymous(`calls/recordings/${REC.queue}/file`, {
      authorization: basic('a@example.com', 'not-the-key'),
    });
    expect(wrongKey.status).toBe(401);
    await wrongKey.arrayBuffer();
    expect(await statusOf(anonymous(`calls/recordings/nope/file?token=x`))).toBe(400);
  });

  it('refuses an altered token, a token of another recording, and an empty one (403 / 400)', async () => {
    const url = await urlOf(REC.queue);
    const token = new URL(url, api.baseUrl).searchParams.get('token')!;
    const flipped = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    for (const bad of [flipped, `${Number(token.split('.')[0]) + 1}.${token.split('.')[1]}`, 'garbage']) {
      const response = await anonymous(`calls/recordings/${REC.queue}/file?token=${encodeURIComponent(bad)}`);
      expect(response.status, bad).toBe(403);
      expect(await response.json()).toEqual({
        Message: 'The token is not valid for this recording',
        Code: 'FORBIDDEN',
        Parameter: 'token',
      });
    }
    // A good token, for another recording.
    const other = await anonymous(`calls/recordings/${REC.user}/file?token=${encodeURIComponent(token)}`);
    expect(other.status).toBe(403);
    await other.arrayBuffer();
    // Even with credentials that could see it: the token decides when one is given.
    const withBasic = await fileWithBasic(REC.user, 'admin@example.com');
    expect(withBasic.status).toBe(200);
    await withBasic.arrayBuffer();
    const tokenAndBasic = await fetch(
      new URL(`calls/recordings/${REC.user}/file?token=${encodeURIComponent(token)}`, api.baseUrl),
      { headers: { authorization: basic('admin@example.com', await api.keyOf('admin@example.com')) } },
    );
    expect(tokenAndBasic.status).toBe(403);
    await tokenAndBasic.arrayBuffer();
    expect(await statusOf(anonymous(`calls/recordings/${REC.queue}/file?token=`))).toBe(400);
  });

  it('a token lasts 4 hours (the contract: at least 1), then is a 403 that says it expired', async () => {
    const issuedAt = clock;
    const url = await urlOf(REC.user, 'b@example.com');
    try {
      clock = issuedAt + 4 * HOUR - 1000;
      expect(await statusOf(anonymous(url))).toBe(200);
      clock = issuedAt + 4 * HOUR + 1000;
      const expired = await anonymous(url);
      expect(expired.status).toBe(403);
      expect(await expired.json()).toMatchObject({
        Code: 'FORBIDDEN',
        Parameter: 'token',
        Message: expect.stringContaining('expired'),
      });
    } finally {
      clock = issuedAt;
    }
  });

  it('failed or missing audio is a 404 that says so, with a token and with Basic', async () => {
    for (const [recordingId, words] of [
      [REC.failed, 'could not be rendered'],
      [REC.missing, 'file is missing'],
    ] as const) {
      const token = encodeURIComponent(tokens.sign(recordingId, clock));
      const viaToken = await anonymous(`calls/recordings/${recordingId}/file?token=${token}`);
      expect(viaToken.status).toBe(404);
      expect(((await viaToken.json()) as { Message: string }).Message).toContain(words);
      const viaBasic = await fileWithBasic(recordingId, 'service@example.com');
      expect(viaBasic.status).toBe(404);
      expect(((await viaBasic.json()) as { Message: string }).Message).toContain(words);
    }
  });

  it('serves single byte ranges as 206 and ignores ranges it cannot serve', async () => {
    const url = await urlOf(REC.queue);
    const size = tinyMp3().length;
    const head = await anonymous(url, { range: 'bytes=0-3' });
    expect(head.status).toBe(206);
    expect(head.headers.get('content-range')).toBe(`bytes 0-3/${size}`);
    expect(head.headers.get('content-length')).toBe('4');
    expect(Buffer.from(await head.arrayBuffer())).toEqual(tinyMp3().subarray(0, 4));
    const tail = await anonymous(url, { range: 'bytes=-10' });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer())).toEqual(tinyMp3().subarray(size - 10));
    const from = await anonymous(url, { range: `bytes=${size - 2}-` });
    expect(from.status).toBe(206);
    expect((await from.arrayBuffer()).byteLength).toBe(2);
    for (const ignored of [`bytes=${size}-`, 'bytes=0-1,4-5', 'items=0-1']) {
      const whole = await anonymous(url, { range: ignored });
      expect(whole.status, ignored).toBe(200);
      expect((await whole.arrayBuffer()).byteLength).toBe(size);
    }
  });

  it('the token key is a 0600 file of the data directory, shared by every instance using it', () => {
    const file = join(dir, 'recording-token.key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = createRecordingTokens({ key: { file } });
    expect(again.verify(REC.queue, tokens.sign(REC.queue, clock), clock)).toBe('valid');
    const otherKey = createRecordingTokens({ key: Buffer.alloc(32, 7) });
    expect(otherKey.verify(REC.queue, tokens.sign(REC.queue, clock), clock)).toBe('invalid');
  });
});

describe("the Python client's get_recording_file", () => {
  it('makes exactly its two requests: metadata with its headers and Basic, then apiEndpoint/URL with none', async () => {
    const username = 'c@example.com';
    const secretKey = await api.keyOf(username);
    // self.apiEndpoint: discovery's apiEndpoint without its trailing '/'.
    const apiEndpoint = api.baseUrl.replace(/\/$/, '');
    // requests.get(f"{self.apiEndpoint}/calls/recordings/{recordingId}", headers=HEADERS, auth=(username, secretkey))
    const metadataResponse = await fetch(`${apiEndpoint}/calls/recordings/${REC.queue}`, {
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json',
        'X-Json-Serializer': '2',
        'User-Agent': 'enreachvoice-python/0.1',
        Authorization: `Basic ${Buffer.from(`${username}:${secretKey}`).toString('base64')}`,
      },
    });
    expect(metadataResponse.status).toBe(200);
    const recordingMetadata = (await metadataResponse.json()) as { URL: string };
    // requests.get(f"{self.apiEndpoint}/{recording_metadata['URL']}"): requests' default headers only.
    const audio = await fetch(`${apiEndpoint}/${recordingMetadata.URL}`, {
      headers: {
        'User-Agent': 'python-requests/2.32.3',
        'Accept-Encoding': 'gzip, deflate',
        Accept: '*/*',
        Connection: 'keep-alive',
      },
    });
    expect(audio.status).toBe(200);
    // open(f"{path}/{recordingId}.mp3", 'wb').write(recording_audio.content)
    expect(Buffer.from(await audio.arrayBuffer())).toEqual(tinyMp3());
  });
});

describe('recordings and the rest of the API', () => {
  it('are in the OpenAPI document: the Recording component and the audio/mpeg download', async () => {
    const response = await request(api.baseUrl, '/openapi.json');
    const document = asRecord(response.body) as {
      paths: Record<
        string,
        Record<string, { responses: Record<string, { content: Record<string, unknown> }> }>
      >;
      components: { schemas: Record<string, { properties: Record<string, unknown> }> };
    };
    expect(Object.keys(document.components.schemas.Recording!.properties)).toEqual([
      'Id',
      'CallId',
      'URL',
      'Duration',
      'TimeStamp',
      'ContentType',
    ]);
    expect(document.paths['/calls/recordings/{RecordingId}']!.get!.responses['200']).toBeDefined();
    const file = document.paths['/calls/recordings/{RecordingId}/file']!.get!;
    expect(Object.keys(file.responses['200']!.content)).toEqual(['audio/mpeg']);
    expect(Object.keys(file.responses).sort()).toEqual(['200', '206', '400', '401', '403', '404', '429']);
    const docs = await request(api.baseUrl, '/docs');
    expect(docs.status).toBe(200);
    expect(docs.text).toContain('/calls/recordings/{RecordingId}/file');
  });

  it('token downloads spend the per-address budget; Basic downloads the caller’s', async () => {
    const limited = await startTestApi({
      recordings: { store, files: localRecordingFiles(join(dir, 'recordings')), tokens },
      rateLimits: {
        anonymous: { capacity: 2, refillPerSecond: 0.001 },
        requests: { capacity: 3, refillPerSecond: 0.001 },
      },
    });
    try {
      const url = `calls/recordings/${REC.queue}/file?token=${encodeURIComponent(tokens.sign(REC.queue, Date.now()))}`;
      expect(await statusOf(fetch(new URL(url, limited.baseUrl)))).toBe(200);
      // The login spent one anonymous token: this is the third anonymous request.
      const key = await limited.keyOf('a@example.com');
      const throttled = await fetch(new URL(url, limited.baseUrl));
      expect(throttled.status).toBe(429);
      await throttled.arrayBuffer();
      expect(throttled.headers.get('retry-after')).toMatch(/^\d+$/);
      const auth = { authorization: basic('a@example.com', key) };
      const path = new URL(`calls/recordings/${REC.queue}/file`, limited.baseUrl);
      for (let i = 0; i < 3; i++) expect(await statusOf(fetch(path, { headers: auth }))).toBe(200);
      expect(await statusOf(fetch(path, { headers: auth }))).toBe(429);
    } finally {
      await limited.close();
    }
  });

  it('are not served without the recordings dependency', async () => {
    const without = await startTestApi();
    try {
      const response = await without.get(`/calls/recordings/${REC.queue}`, 'admin@example.com');
      expect(response.status).toBe(404);
      expect(response.body).toMatchObject({ Code: 'NO_ROUTE' });
    } finally {
      await without.close();
    }
  });
});
