/** Bad input on every endpoint: a 400 whose message names the parameter, never a crash or a stack trace. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asRecord, asRecords, IDS, request, startTestApi, type TestApi } from './test-fixtures.js';

let api: TestApi;

beforeAll(async () => {
  // Hundreds of requests as one user in a second: above the default per-user limit, not what is tested here.
  api = await startTestApi({ rateLimits: { requests: { capacity: 10_000, refillPerSecond: 10_000 } } });
});
afterAll(async () => {
  await api.close();
});

const ADMIN = 'admin@example.com';
const LIST_ENDPOINTS = ['/calls', '/servicecall', '/outbound-servicecall', '/outbound-callbackcall'] as const;

/** Asserts a 400 that names `parameter` in its Parameter field and its message. */
function expect400(
  response: { status: number; body: unknown; text: string },
  parameter: string,
  code?: string,
) {
  expect(response.status, response.text).toBe(400);
  const body = asRecord(response.body);
  expect(body.Parameter).toBe(parameter);
  expect(String(body.Message)).toContain(parameter);
  if (code !== undefined) expect(body.Code).toBe(code);
  expect(response.text).not.toMatch(/\n\s+at |node_modules|zod/i);
}

describe.each(LIST_ENDPOINTS)('GET %s', (path) => {
  const get = (query: string) => api.get(`${path}?${query}`, ADMIN);

  it('needs a window or a CallId', async () => {
    expect400(await api.get(path, ADMIN), 'StartTime', 'MISSING_PARAMETER');
  });

  it('needs both ends of a window', async () => {
    expect400(await get('StartTime=2024-05-01 00:00:00'), 'EndTime', 'MISSING_PARAMETER');
    expect400(await get('EndTime=2024-05-01 00:00:00'), 'StartTime', 'MISSING_PARAMETER');
    expect400(await get('ModifiedAfter=2024-05-01 00:00:00'), 'ModifiedBefore', 'MISSING_PARAMETER');
    expect400(await get('ModifiedBefore=2024-05-01 00:00:00'), 'ModifiedAfter', 'MISSING_PARAMETER');
  });

  it('refuses a reversed or empty window', async () => {
    expect400(
      await get('StartTime=2024-05-02 00:00:00&EndTime=2024-05-01 00:00:00'),
      'EndTime',
      'BAD_PARAMETER',
    );
    expect400(await get('StartTime=2024-05-01 00:00:00&EndTime=2024-05-01 00:00:00'), 'EndTime');
    expect400(
      await get('ModifiedAfter=2024-05-02 00:00:00&ModifiedBefore=2024-05-01 00:00:00'),
      'ModifiedBefore',
    );
  });

  it('allows 31 days and refuses a second more', async () => {
    const ok = await get('StartTime=2024-05-01 00:00:00&EndTime=2024-06-01 00:00:00');
    expect(ok.status).toBe(200);
    const tooLong = await get('StartTime=2024-05-01 00:00:00&EndTime=2024-06-01 00:00:01');
    expect400(tooLong, 'EndTime');
    expect(String(asRecord(tooLong.body).Message)).toContain('31 days');
    expect400(
      await get('ModifiedAfter=2024-01-01 00:00:00&ModifiedBefore=2024-05-01 00:00:00'),
      'ModifiedBefore',
    );
  });

  it.each([
    'yesterday',
    '',
    '2024-13-01 00:00:00',
    '2024-02-30 00:00:00',
    '2023-02-29 00:00:00',
    '2024-05-01 24:00:00',
    '2024-05-01 10:60:00',
    '01.05.2024 10:00:00',
    '2024-05-01T10:00:00+25:00',
    '1715000000',
  ])('refuses the unparseable time %j naming the parameter', async (value) => {
    expect400(await get(`StartTime=${encodeURIComponent(value)}&EndTime=2024-05-02 00:00:00`), 'StartTime');
    expect400(
      await get(`ModifiedAfter=2024-05-01 00:00:00&ModifiedBefore=${encodeURIComponent(value)}`),
      'ModifiedBefore',
    );
  });

  it.each([
    ['a space', '2024-05-01 00:00:00', '2024-05-02 00:00:00'],
    ["a literal '+' (%2B)", '2024-05-01%2B00:00:00', '2024-05-02%2B00:00:00'],
    ['ISO-8601 with Z', '2024-05-01T00:00:00Z', '2024-05-02T00:00:00.000Z'],
    ['ISO-8601 with an offset', '2024-05-01T03:00:00%2B03:00', '2024-05-01T20:00:00-04:00'],
    ['dates alone', '2024-05-01', '2024-05-02'],
  ])('accepts times with %s', async (_label, start, end) => {
    const response = await api.get(`${path}?StartTime=${start}&EndTime=${end}`, ADMIN);
    expect(response.status, response.text).toBe(200);
    expect(asRecords(response.body).length).toBeGreaterThan(0);
  });

  it('refuses two kinds of window, and checks a window that comes with a CallId', async () => {
    const both = await get(
      'StartTime=2024-05-01 00:00:00&EndTime=2024-05-02 00:00:00&ModifiedAfter=2024-05-01 00:00:00&ModifiedBefore=2024-05-02 00:00:00',
    );
    expect(both.status).toBe(400);
    expect(asRecord(both.body).Code).toBe('UNKNOWN_PARAMETER');
    // CallId with a window is allowed (both apply, see compat tests); the window is checked as ever.
    expect400(
      await get(`CallId=${IDS.callId}&StartTime=2024-05-01 00:00:00`),
      'EndTime',
      'MISSING_PARAMETER',
    );
    expect400(
      await get(`CallId=${IDS.callId}&StartTime=2024-05-01 00:00:00&EndTime=2024-07-01 00:00:00`),
      'EndTime',
      'BAD_PARAMETER',
    );
    expect400(
      await get(`CallId=${IDS.callId}&ModifiedAfter=soon&ModifiedBefore=2024-05-01`),
      'ModifiedAfter',
    );
  });

  it('refuses a malformed CallId', async () => {
    expect400(await get('CallId=xyz'), 'CallId', 'BAD_PARAMETER');
    expect400(await get(`CallId=${IDS.callId}x`), 'CallId');
    expect400(await get('CallId='), 'CallId');
  });

  it('ignores unknown parameters and refuses repeated ones', async () => {
    const plain = await get(`CallId=${IDS.callId}`);
    const extra = await get(`CallId=${IDS.callId}&Foo=1&top=10&Foo=2&%24format=json`);
    expect(extra.status, extra.text).toBe(200);
    expect(extra.body).toEqual(plain.body);
    expect400(await get(`CallId=${IDS.callId}&callid=${IDS.callId}`), 'CallId');
    expect400(
      await get('StartTime=2024-05-01 00:00:00&StartTime=2024-05-01 01:00:00&EndTime=2024-05-02 00:00:00'),
      'StartTime',
    );
  });

  it("ignores another endpoint's entity filter, as any unknown parameter", async () => {
    const foreign = path === '/calls' ? 'QueueIDs' : 'UserIDs';
    const plain = await get(`CallId=${IDS.callId}`);
    const ignored = await get(`CallId=${IDS.callId}&${foreign}=not-even-an-id`);
    expect(ignored.status, ignored.text).toBe(200);
    expect(ignored.body).toEqual(plain.body);
  });

  it('refuses a malformed id in its entity filter, and accepts repeated and comma-separated ids', async () => {
    const filter =
      { '/calls': 'UserIDs', '/servicecall': 'QueueIDs', '/outbound-servicecall': 'QueueIDs' }[
        path as string
      ] ?? 'CallbackListIDs';
    expect400(await get(`CallId=${IDS.callId}&${filter}=not-an-id`), filter, 'BAD_PARAMETER');
    expect400(await get(`CallId=${IDS.callId}&${filter}=${IDS.callId},,${IDS.legA}`), filter);
    const ok = await get(
      `CallId=${IDS.callId}&${filter}=${IDS.callId}, ${IDS.legA}&${filter.toLowerCase()}=${IDS.legB}`,
    );
    expect(ok.status, ok.text).toBe(200);
  });

  it('refuses an X-Json-Serializer other than 2', async () => {
    expect400(
      await api.get(`${path}?CallId=${IDS.callId}`, ADMIN, { 'x-json-serializer': 'v3' }),
      'X-Json-Serializer',
    );
  });
});

describe('GET /servicecall/{CallId}/details and /calls/{EventId}', () => {
  it('refuses a malformed id naming it, and 404s an unknown one', async () => {
    expect400(await api.get('/servicecall/xyz/details', ADMIN), 'CallId', 'BAD_PARAMETER');
    expect400(await api.get('/calls/not-an-event', ADMIN), 'EventId', 'BAD_PARAMETER');
    const unknown = await api.get(`/servicecall/${IDS.legA}/details`, ADMIN);
    expect(unknown.status).toBe(404);
    expect(asRecord(unknown.body).Code).toBe('NOT_FOUND');
    expect((await api.get(`/calls/${IDS.legA}`, ADMIN)).status).toBe(404);
  });

  it('ignores query parameters it does not take', async () => {
    const response = await api.get(`/servicecall/${IDS.callId}/details?StartTime=2024-05-01`, ADMIN);
    expect(response.status, response.text).toBe(200);
  });
});

describe('malformed URLs', () => {
  it('get a JSON 400 in the API error format', async () => {
    const response = await request(api.baseUrl, '/users/%zz');
    expect(response.status).toBe(400);
    expect(asRecord(response.body)).toEqual({ Message: 'The URL is not valid', Code: 'BAD_REQUEST' });
  });
});

describe('directory endpoints', () => {
  it.each(['/users/me', '/users', '/callbacklists', '/directory'])(
    '%s ignores unknown parameters',
    async (path) => {
      const response = await api.get(`${path}?top=10`, ADMIN);
      expect(response.status, response.text).toBe(200);
    },
  );
});

describe('POST /authuser/{email}', () => {
  const post = (body: unknown, init: { contentType?: string; raw?: string } = {}) =>
    request(api.baseUrl, '/authuser/a@example.com', {
      method: 'POST',
      headers: { 'content-type': init.contentType ?? 'application/json' },
      ...(init.raw === undefined ? { body } : { rawBody: init.raw }),
    });

  it('names a missing, empty or mistyped Password', async () => {
    expect400(await post({ UserName: 'a@example.com' }), 'Password', 'MISSING_PARAMETER');
    expect400(await post({ UserName: 'a@example.com', Password: '' }), 'Password');
    expect400(await post({ UserName: 'a@example.com', Password: 1234 }), 'Password');
  });

  it('refuses a UserName that is not the one in the path', async () => {
    expect400(await post({ UserName: 'b@example.com', Password: 'secret-a' }), 'UserName');
  });

  it('accepts field names in any case and no UserName', async () => {
    expect((await post({ username: 'A@example.com', password: 'secret-a' })).status).toBe(200);
    expect((await post({ Password: 'secret-a' })).status).toBe(200);
  });

  it('refuses unknown fields, non-objects, invalid JSON and other media types', async () => {
    expect400(await post({ Password: 'secret-a', Remember: true }), 'Remember', 'UNKNOWN_PARAMETER');
    const array = await post(['secret-a']);
    expect(array.status).toBe(400);
    expect(asRecord(array.body).Code).toBe('BAD_BODY');
    const broken = await post(undefined, { raw: '{"Password": ' });
    expect(broken.status).toBe(400);
    expect(asRecord(broken.body)).toEqual({
      Message: 'The request body is not valid JSON',
      Code: 'BAD_BODY',
    });
    const empty = await post(undefined, { raw: '' });
    expect(empty.status).toBe(400);
    const text = await post(undefined, {
      raw: 'Password=secret-a',
      contentType: 'application/x-www-form-urlencoded',
    });
    expect(text.status).toBe(415);
    expect(asRecord(text.body).Code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses a body over the size limit', async () => {
    const response = await post({ Password: 'x'.repeat(20_000) });
    expect(response.status).toBe(413);
    expect(asRecord(response.body).Code).toBe('PAYLOAD_TOO_LARGE');
  });
});

describe('service discovery', () => {
  it('names a missing or empty user', async () => {
    expect400(await request(api.baseUrl, '/api/user?user='), 'user');
    expect400(
      await request(api.baseUrl, '/api/user', { method: 'POST', body: {} }),
      'user',
      'MISSING_PARAMETER',
    );
    expect400(await request(api.baseUrl, '/api/user', { method: 'POST', body: { user: 5 } }), 'user');
    const extra = await request(api.baseUrl, '/api/user?user=a@example.com&extra=1');
    expect(extra.status).toBe(200);
    expect(asRecords(extra.body)).toHaveLength(1);
  });
});
