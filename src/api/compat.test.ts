/**
 * Behaves like the public Python client `enreachvoice` (its Client class): the same requests, the
 * same headers, the same encodings, and the same checks on the answers, from discovery to
 * /servicecall. If this passes, that client works against Switchboard unchanged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDS, PASSWORDS, startTestApi, type TestApi } from './test-fixtures.js';

/** The client's fixed headers: sent on every API request, including GETs without a body. */
const HEADERS = {
  'Content-Type': 'application/json',
  Accept: 'application/json',
  'X-Json-Serializer': '2',
  'User-Agent': 'enreachvoice-python/0.1',
};

/** Python's urllib.parse.quote_plus, which `requests` applies to `params`. */
function quotePlus(text: string): string {
  return encodeURIComponent(text)
    .replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** Python's datetime.strftime("%Y-%m-%d %H:%M:%S") of a UTC time. */
function strftime(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 19).replace('T', ' ');
}

/** Python's json.dumps(dict): ", " and ": " separators. */
function jsonDumps(payload: Record<string, string>): string {
  return `{${Object.entries(payload)
    .map(([key, value]) => `${JSON.stringify(key)}: ${JSON.stringify(value)}`)
    .join(', ')}}`;
}

class PythonLikeClient {
  apiEndpoint = '';
  secretKey = '';
  userId = '';

  constructor(
    private readonly discoveryUrl: string,
    private readonly username: string,
  ) {}

  private basicAuth(): string {
    return `Basic ${Buffer.from(`${this.username}:${this.secretKey}`).toString('base64')}`;
  }

  /** get_apiurl: `requests.get(f"{DISCOVERY_URL}/api/user?user={username}")`, no headers; `[0]['apiEndpoint']`. */
  async discover(): Promise<void> {
    const response = await fetch(`${this.discoveryUrl}/api/user?user=${this.username}`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Array<{ apiEndpoint: string }>;
    let apiEndpoint = body[0]!.apiEndpoint;
    if (apiEndpoint.endsWith('/')) apiEndpoint = apiEndpoint.slice(0, -1);
    this.apiEndpoint = apiEndpoint;
  }

  /** authenticate_with_password: POST with HEADERS and a json.dumps body; status must be 200. */
  async authenticateWithPassword(password: string): Promise<void> {
    const response = await fetch(`${this.apiEndpoint}/authuser/${this.username}`, {
      method: 'POST',
      headers: HEADERS,
      body: jsonDumps({ UserName: this.username, Password: password }),
    });
    expect(response.status).toBe(200);
    this.secretKey = ((await response.json()) as { SecretKey: string }).SecretKey;
  }

  /** invoke_api: GET `{apiEndpoint}{path}` with HEADERS, Basic auth and quote_plus-encoded params; JSON always. */
  async invoke(
    path: string,
    params: Record<string, string> = {},
  ): Promise<{ status: number; body: unknown }> {
    const query = Object.entries(params)
      .map(([key, value]) => `${quotePlus(key)}=${quotePlus(value)}`)
      .join('&');
    const url = `${this.apiEndpoint}${path.startsWith('/') ? path : `/${path}`}${query === '' ? '' : `?${query}`}`;
    const response = await fetch(url, { headers: { ...HEADERS, Authorization: this.basicAuth() } });
    // The client calls response.json() on every answer, errors included.
    return { status: response.status, body: await response.json() };
  }

  /** Client.__init__ with a password: discovery, secret key, users/me. */
  async init(password: string): Promise<void> {
    await this.discover();
    await this.authenticateWithPassword(password);
    const me = await this.invoke('users/me');
    expect(me.status).toBe(200);
    this.userId = (me.body as { Id: string }).Id;
  }
}

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api.close();
});

describe('the enreachvoice Python client flow', () => {
  it('discovers, authenticates, reads users/me, /calls by CallId and window, and /servicecall', async () => {
    const discoveryUrl = api.baseUrl.replace(/\/$/, '');
    const client = new PythonLikeClient(discoveryUrl, 'admin@example.com');
    await client.init(PASSWORDS['admin@example.com']!);
    expect(client.apiEndpoint).toBe(discoveryUrl);
    expect(client.userId).toBe(api.directory.userByUsername('admin@example.com')!.userId);

    // get_usercalls(CallId=...)
    const byCallId = await client.invoke('/calls', { CallId: IDS.callId });
    expect(byCallId.status).toBe(200);
    const events = byCallId.body as Array<Record<string, unknown>>;
    expect(
      events
        .map((event) => [event.UserName, event.CallTypeString, event.DirectionString, event.Result])
        .sort(),
    ).toEqual([
      ['a@example.com', 'DirectCall', 'Outbound', 'Handled'],
      ['b@example.com', 'ServiceCall', 'Inbound', 'Allocated'],
      ['c@example.com', 'ServiceCall', 'Inbound', 'Handled'],
    ]);

    // get_usercalls(StartTime=datetime, EndTime=datetime): strftime in UTC, encoded by requests.
    const start = Date.UTC(2024, 4, 1, 0, 0, 0);
    const end = Date.UTC(2024, 4, 2, 0, 0, 0);
    const byWindow = await client.invoke('/calls', { StartTime: strftime(start), EndTime: strftime(end) });
    expect(byWindow.status).toBe(200);
    expect((byWindow.body as unknown[]).length).toBe(3);

    // get_inbound_queuecalls(StartTime=..., EndTime=...)
    const serviceCalls = await client.invoke('/servicecall', {
      StartTime: strftime(start),
      EndTime: strftime(end),
    });
    expect(serviceCalls.status).toBe(200);
    expect(serviceCalls.body).toEqual([
      expect.objectContaining({ CallId: IDS.callId, QueueName: 'Support' }),
    ]);

    // ModifiedAfter/ModifiedBefore, as the client also allows.
    const modified = await client.invoke('/calls', {
      ModifiedAfter: strftime(start),
      ModifiedBefore: strftime(end),
    });
    expect((modified.body as unknown[]).length).toBe(3);

    const details = await client.invoke(`/servicecall/${IDS.callId}/details`);
    expect((details.body as unknown[]).length).toBe(6);
  });

  it('a user without permissions gets only their own view, and JSON bodies on errors', async () => {
    const client = new PythonLikeClient(api.baseUrl.replace(/\/$/, ''), 'b@example.com');
    await client.init(PASSWORDS['b@example.com']!);
    const calls = await client.invoke('/calls', { CallId: IDS.callId });
    expect((calls.body as Array<{ UserName: string }>).map((event) => event.UserName)).toEqual([
      'b@example.com',
    ]);
    const forbidden = await client.invoke(`/servicecall/${IDS.callId}/details`);
    expect(forbidden.status).toBe(404);
    expect(forbidden.body).toMatchObject({ Message: expect.any(String) });
    const tooWide = await client.invoke('/calls', {
      StartTime: '2024-01-01 00:00:00',
      EndTime: '2024-03-01 00:00:00',
    });
    expect(tooWide.status).toBe(400);
    expect(tooWide.body).toMatchObject({ Message: expect.stringContaining('31 days') });
  });
});
