/**
 * What real EnreachAPI clients (ASP.NET on the other side) rely on (DESIGN.md §11): doubled slashes
 * in paths, unknown query parameters ignored (and logged at debug), CallId with a time window (both
 * applied), a JSON 404 in the API's error shape for unknown paths — also when the API is mounted
 * into a host —, discovery's authority and basicAuthEndpoint, and GET /calls/transcripts/{id}.
 */
import { Writable } from 'node:stream';
import { fastify } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiPlugin } from './server.js';
import {
  asRecord,
  asRecords,
  basic,
  IDS,
  PASSWORDS,
  request,
  startTestApi,
  T0,
  type TestApi,
} from './test-fixtures.js';

const ADMIN = 'admin@example.com';
const logLines: Array<Record<string, unknown>> = [];
let api: TestApi;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim() !== '') logLines.push(JSON.parse(line));
      done();
    },
  });
  api = await startTestApi({ logger: pino({ level: 'debug' }, sink) });
});
afterAll(async () => {
  await api.close();
});

const time = (epochMs: number) => new Date(epochMs).toISOString().slice(0, 19).replace('T', ' ');

describe('doubled slashes', () => {
  it('route as single slashes, for GET and POST', async () => {
    const login = await request(api.baseUrl, '//authuser/a@example.com', {
      method: 'POST',
      body: { UserName: 'a@example.com', Password: PASSWORDS['a@example.com'] },
    });
    expect(login.status, login.text).toBe(200);
    for (const path of [
      `//calls?CallId=${IDS.callId}`,
      `/servicecall//${IDS.callId}//details`,
      '/users//me/',
      '//api//user?user=a@example.com',
    ]) {
      const response = await api.get(path, ADMIN);
      expect(response.status, `${path}: ${response.text}`).toBe(200);
    }
    // Recordings are not served here (no recording store; test/enreach-client.test.ts has them): a
    // transcript path shows the doubled slash routed to its endpoint.
    const transcript = await api.get('/calls//transcripts/0190a1b2-0000-7000-8000-000000000001', ADMIN);
    expect(transcript.status).toBe(404);
    expect(asRecord(transcript.body).Code).toBe('NOT_FOUND');
  });
});

describe('unknown paths', () => {
  it('get a JSON 404 with Message, also under the API prefixes', async () => {
    for (const path of ['/nothing-here', '/calls/recordings/x/y/z', '/authuser', '/directory/x/y']) {
      const response = await request(api.baseUrl, path);
      expect(response.status, path).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(asRecord(response.body)).toEqual({
        Message: expect.stringContaining('No such endpoint'),
        Code: 'NO_ROUTE',
      });
    }
  });

  it('get the same 404 from a host the API is mounted into; doubled slashes there are redirected (308)', async () => {
    const host = fastify({ routerOptions: { ignoreTrailingSlash: true } });
    host.get('/', async () => 'console');
    await host.register(apiPlugin, {
      directory: api.directory,
      records: api.records,
      credentials: api.credentials,
    });
    await host.listen({ port: 0, host: '127.0.0.1' });
    try {
      const address = host.server.address();
      const baseUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/`;
      expect((await request(baseUrl, '/')).text).toBe('console');
      const missing = await request(baseUrl, '/no/such/page');
      expect(missing.status).toBe(404);
      expect(asRecord(missing.body)).toMatchObject({ Code: 'NO_ROUTE', Message: expect.any(String) });
      // Not followed: the redirect itself.
      const redirect = await fetch(`${baseUrl}/authuser/a@example.com?trace=1`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ Password: PASSWORDS['a@example.com'] }),
      });
      expect(redirect.status).toBe(308);
      expect(redirect.headers.get('location')).toBe('/authuser/a@example.com?trace=1');
      // Followed (fetch resends method and body on a 308): the login succeeds.
      const followed = await fetch(`${baseUrl}/authuser//a@example.com`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ Password: PASSWORDS['a@example.com'] }),
      });
      expect(followed.status).toBe(200);
      const key = String(((await followed.json()) as { SecretKey: string }).SecretKey);
      const calls = await fetch(`${baseUrl}/calls//?CallId=${IDS.callId}`, {
        headers: { authorization: basic('a@example.com', key) },
      });
      expect(calls.status).toBe(200);
    } finally {
      await host.close();
    }
  });

  it("keep a host's own not-found handler", async () => {
    const host = fastify({ routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true } });
    host.setNotFoundHandler(async (_request, reply) => reply.code(404).type('text/plain').send('host 404'));
    await host.register(apiPlugin, {
      directory: api.directory,
      records: api.records,
      credentials: api.credentials,
    });
    await host.ready();
    const response = await host.inject({ url: '/nothing' });
    expect(response.body).toBe('host 404');
    expect((await host.inject({ url: '//api/user?user=a@example.com' })).statusCode).toBe(200);
    await host.close();
  });
});

describe('unknown query parameters', () => {
  it('are ignored and logged at debug; a known one with a bad value is still a 400', async () => {
    const plain = await api.get(`/calls?CallId=${IDS.callId}`, ADMIN);
    const extra = await api.get(`/calls?CallId=${IDS.callId}&OnlyForUser=x&_=1715000000`, ADMIN);
    expect(extra.status).toBe(200);
    expect(extra.body).toEqual(plain.body);
    expect(logLines).toContainEqual(
      expect.objectContaining({
        level: 20,
        parameters: ['OnlyForUser', '_'],
        msg: 'unknown query parameters ignored',
      }),
    );
    const bad = await api.get(`/calls?CallId=not-an-id&Extra=1`, ADMIN);
    expect(bad.status).toBe(400);
    expect(asRecord(bad.body).Parameter).toBe('CallId');
  });

  it('do not make unknown body fields acceptable', async () => {
    const response = await request(api.baseUrl, '/authuser/a@example.com?Remember=1', {
      method: 'POST',
      body: { Password: PASSWORDS['a@example.com'], Remember: true },
    });
    expect(response.status).toBe(400);
    expect(asRecord(response.body)).toMatchObject({ Parameter: 'Remember', Code: 'UNKNOWN_PARAMETER' });
  });
});

describe('CallId with a time window', () => {
  const inside = `StartTime=${time(T0 - 60_000)}&EndTime=${time(T0 + 60_000)}`;
  const outside = `StartTime=${time(T0 + 3_600_000)}&EndTime=${time(T0 + 7_200_000)}`;

  it('applies both: the call’s records in the window, none outside it', async () => {
    const all = asRecords((await api.get(`/calls?CallId=${IDS.callId}`, ADMIN)).body);
    expect(all).toHaveLength(3);
    const both = await api.get(`/calls?CallId=${IDS.callId}&${inside}`, ADMIN);
    expect(both.status, both.text).toBe(200);
    expect(
      asRecords(both.body)
        .map((event) => event.Id)
        .sort(),
    ).toEqual(all.map((event) => event.Id).sort());
    expect((await api.get(`/calls?CallId=${IDS.callId}&${outside}`, ADMIN)).body).toEqual([]);
    // Other calls in the window are not added.
    const window = asRecords((await api.get(`/calls?${inside}`, ADMIN)).body);
    expect(window.every((event) => event.CallId === IDS.callId)).toBe(true);
  });

  it('on every record listing, by time and by modification', async () => {
    const wide = `StartTime=${time(T0 - 86_400_000)}&EndTime=${time(T0 + 86_400_000)}`;
    const modifiedWide = `ModifiedAfter=${time(T0 - 86_400_000)}&ModifiedBefore=${time(T0 + 86_400_000)}`;
    const cases = [
      ['/servicecall', IDS.callId],
      ['/outbound-servicecall', IDS.outboundCallId],
      ['/outbound-callbackcall', IDS.callbackCallId],
    ] as const;
    for (const [path, callId] of cases) {
      const alone = asRecords((await api.get(`${path}?CallId=${callId}`, ADMIN)).body);
      expect(alone.length, path).toBeGreaterThan(0);
      expect((await api.get(`${path}?CallId=${callId}&${wide}`, ADMIN)).body, path).toEqual(alone);
      expect((await api.get(`${path}?CallId=${callId}&${modifiedWide}`, ADMIN)).body, path).toEqual(alone);
      expect((await api.get(`${path}?CallId=${callId}&${outside}`, ADMIN)).body, path).toEqual([]);
    }
  });
});

describe('service discovery', () => {
  it('tells the authority and the basic-auth endpoint: this server', async () => {
    const response = await request(api.baseUrl, '/api/user', {
      method: 'POST',
      body: { user: 'b@example.com' },
    });
    expect(asRecords(response.body)[0]).toMatchObject({
      apiEndpoint: api.baseUrl,
      authority: api.baseUrl,
      basicAuthEndpoint: api.baseUrl,
    });
  });
});

describe('GET /calls/transcripts/{TranscriptId}', () => {
  it('is a 404 saying there is no speech-to-text yet', async () => {
    const response = await api.get('/calls/transcripts/0190a1b2-0000-7000-8000-0000000000aa', ADMIN);
    expect(response.status).toBe(404);
    expect(asRecord(response.body)).toEqual({
      Message: expect.stringMatching(/no speech-to-text/),
      Code: 'NOT_FOUND',
    });
  });

  it('needs credentials and a well-formed id', async () => {
    expect(
      (await request(api.baseUrl, '/calls/transcripts/0190a1b2-0000-7000-8000-0000000000aa')).status,
    ).toBe(401);
    const malformed = await api.get('/calls/transcripts/not-an-id', ADMIN);
    expect(malformed.status).toBe(400);
    expect(asRecord(malformed.body)).toMatchObject({ Parameter: 'TranscriptId', Code: 'BAD_PARAMETER' });
  });
});

describe('OpenAPI', () => {
  it('documents the key, phonebook and transcript endpoints', async () => {
    const paths = asRecord(asRecord((await request(api.baseUrl, '/openapi.json')).body).paths);
    expect(Object.keys(asRecord(paths['/authuser/{email}/keys']))).toEqual(['get']);
    expect(Object.keys(asRecord(paths['/authuser/{email}/keys/{KeyId}']))).toEqual(['delete']);
    expect(paths).toHaveProperty(['/calls/transcripts/{TranscriptId}']);
    expect(paths).toHaveProperty(['/directory/{DirectoryId}']);
    const schemas = asRecord(
      asRecord(asRecord((await request(api.baseUrl, '/openapi.json')).body).components).schemas,
    );
    expect(Object.keys(asRecord(asRecord(schemas.DiscoveryEntry).properties))).toEqual(
      expect.arrayContaining(['authority', 'basicAuthEndpoint']),
    );
    expect(Object.keys(asRecord(asRecord(schemas.SecretKeyInfo).properties)).sort()).toEqual(
      ['Created', 'Current', 'Id', 'LastUsed', 'UserId'].sort(),
    );
  });
});
