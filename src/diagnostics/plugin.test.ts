/**
 * The diagnostics endpoints and the browser assets on a real platform (SQLite, ports 0): the seed's
 * scenario is played by SIP user agents over WebSocket, then looked up by every identifier it has,
 * as viewers with different permissions, over real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type RestClient,
  seedMembers,
  startTestPlatform,
  type TestPlatform,
  waitFor,
} from '../../test/support/platform.js';
import { seedTenantYaml } from '../../test/support/tenants.js';
import { parseTenantYaml } from '../config/load.js';
import { getTag } from '../sip/headers.js';
import type { IncomingCall, OutgoingCall } from '../testing/test-ua.js';
import type { WireCallMap, WireLookupResult } from './types.js';

const TENANT = parseTenantYaml(
  seedTenantYaml({ displayNames: true, viewers: ['sees-support', 'sees-nothing'] }),
  'diagnostics.test.yaml',
);

type Json = Record<string, unknown>;

let env: TestPlatform;
let admin: RestClient;
let callId: string;
let callerLegId: string;
let outgoing: OutgoingCall;
let offerB: IncomingCall;
let offerC: IncomingCall;

beforeAll(async () => {
  env = await startTestPlatform(TENANT, 'sqlite');
  const [a, b, c] = await env.uas('1001', '1002', '1003');
  seedMembers(b, c, 20);
  outgoing = a.call('100');
  const final = await outgoing.waitForFinal();
  callId = final.headers.get('X-Server-Call-Id')!;
  callerLegId = final.headers.get('X-Call-Leg-Id')!;
  offerB = b.incoming[0]!;
  offerC = c.incoming[0]!;
  await outgoing.hangup();
  await offerC.waitForBye();
  admin = await env.rest('admin@example.com', 'secret-admin');
  await waitFor(
    async () =>
      (await admin.list('/servicecall', { CallId: callId }))[0]?.Result === 'Handled' ? true : undefined,
    10_000,
    'the service call header',
  );
});

afterAll(async () => {
  await env?.close();
});

const sessionIdOfCaller = () =>
  `${outgoing.invite.headers.get('Call-ID')}${getTag(outgoing.invite.headers.get('From') ?? '')}`;

describe('GET /diagnostics/calls/{CallId}', () => {
  it('gives an admin every leg with its SIP ids and client callId, and every record', async () => {
    const { status, body } = await admin.get(`/diagnostics/calls/${callId}`);
    expect(status).toBe(200);
    const map = body as WireCallMap;
    expect(map).toMatchObject({
      CallId: callId,
      CallKind: 'InboundServiceCall',
      ANum: '1001',
      BNum: '100',
      Complete: true,
      EndReason: 'Normal',
    });
    expect(map.Legs.map((leg) => [leg.Role, leg.CallLegId, leg.ClientCallId])).toEqual([
      ['Caller', callerLegId, sessionIdOfCaller()],
      ['Allocation', offerB.header('X-Call-Leg-Id'), offerB.sessionId],
      ['Allocation', offerC.header('X-Call-Leg-Id'), offerC.sessionId],
    ]);
    expect(map.Legs[1]!.Sip.CallId).toBe(offerB.header('Call-ID'));
    const events = await admin.list<Json>('/calls', { CallId: callId });
    const details = await admin.list<Json>(`/servicecall/${callId}/details`);
    const recordIds = map.Records.map((record) => record.Id).sort();
    expect(recordIds).toEqual(
      [
        ...events.map((event) => event.Id),
        ...details.map((detail) => detail.Id),
        ...(await admin.list<Json>('/servicecall', { CallId: callId })).map((h) => h.Id),
      ].sort(),
    );
    // Records appear exactly as their endpoints serve them.
    const eventOfB = events.find((event) => event.CallLegId === offerB.header('X-Call-Leg-Id'))!;
    expect(map.Records.find((record) => record.Id === eventOfB.Id)).toMatchObject({
      Kind: 'UserCallEvent',
      Endpoint: `GET /calls?CallId=${callId}`,
      Permission: { Kind: 'AgentCalls', Text: 'AgentCalls of b@example.com' },
      Record: eventOfB,
    });
    expect(map.Timeline.filter((step) => step.Label === 'INVITE').map((step) => step.CallLegId)).toEqual([
      offerB.header('X-Call-Leg-Id'),
      offerC.header('X-Call-Leg-Id'),
    ]);
  });

  it('shows B their own leg and record only, and nothing to a user without grants', async () => {
    const b = await env.rest('b@example.com', 'secret-b');
    const map = (await b.get(`/diagnostics/calls/${callId}`)).body as WireCallMap;
    expect(map.Complete).toBe(false);
    expect(map.Legs.map((leg) => leg.CallLegId)).toEqual([offerB.header('X-Call-Leg-Id')]);
    expect(map.Records.map((record) => record.Permission.Text)).toEqual(['AgentCalls of b@example.com']);
    expect(map.Caller).toBeNull();
    const nobody = await env.rest('sees-nothing@example.com', 'pw');
    const refused = await nobody.get(`/diagnostics/calls/${callId}`);
    expect(refused).toMatchObject({ status: 404, body: { Code: 'NOT_FOUND' } });
  });

  it('answers 404 for an unknown or malformed CallId and 401 without credentials', async () => {
    expect((await admin.get('/diagnostics/calls/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await admin.get('/diagnostics/calls/not-a-call')).status).toBe(404);
    const anonymous = await fetch(new URL(`diagnostics/calls/${callId}`, env.platform.httpUrl));
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic/);
    expect(await anonymous.json()).toMatchObject({ Code: 'UNAUTHORIZED' });
  });
});

describe('GET /diagnostics/lookup?id=', () => {
  const lookup = async (client: RestClient, identifier: string) =>
    client.get('/diagnostics/lookup', { id: identifier });

  it('finds the call by each of its identifiers and says which kind matched', async () => {
    const events = await admin.list<Json>('/calls', { CallId: callId });
    const details = await admin.list<Json>(`/servicecall/${callId}/details`);
    const cases: [string, string, Json][] = [
      [callId, 'CallId', {}],
      [callerLegId, 'CallLegId', { CallLegId: callerLegId }],
      [offerB.header('X-Call-Leg-Id')!, 'CallLegId', { CallLegId: offerB.header('X-Call-Leg-Id') }],
      [String(events[0]!.Id), 'EventId', { RecordKind: 'UserCallEvent', EventId: events[0]!.Id }],
      [String(details[2]!.Id), 'EventId', { RecordKind: 'ServiceCallDetail' }],
      [offerB.header('Call-ID')!, 'SipCallId', { CallLegId: offerB.header('X-Call-Leg-Id') }],
      [offerB.sessionId, 'ClientCallId', { CallLegId: offerB.header('X-Call-Leg-Id') }],
      [offerC.sessionId, 'ClientCallId', { CallLegId: offerC.header('X-Call-Leg-Id') }],
      [outgoing.invite.headers.get('Call-ID')!, 'SipCallId', { CallLegId: callerLegId }],
      [sessionIdOfCaller(), 'ClientCallId', { CallLegId: callerLegId }],
    ];
    for (const [identifier, kind, extra] of cases) {
      const { status, body } = await lookup(admin, identifier);
      expect(status, identifier).toBe(200);
      const result = body as WireLookupResult;
      expect(result.Query).toBe(identifier);
      expect(result.Matches, identifier).toEqual([
        expect.objectContaining({
          Kind: kind,
          CallId: callId,
          Href: `/diagnostics/calls/${callId}`,
          ...extra,
        }),
      ]);
    }
    // Parameter names are case-insensitive, like the REST API's; UUIDs in any case.
    expect((await admin.get('/diagnostics/lookup', { ID: callId.toUpperCase() })).status).toBe(200);
  });

  it('finds only what the viewer may see', async () => {
    const b = await env.rest('b@example.com', 'secret-b');
    expect((await lookup(b, offerB.sessionId)).status).toBe(200);
    expect((await lookup(b, sessionIdOfCaller())).status).toBe(404);
    expect((await lookup(b, offerC.header('X-Call-Leg-Id')!)).status).toBe(404);
    const support = await env.rest('sees-support@example.com', 'pw');
    expect((await lookup(support, offerC.sessionId)).status).toBe(200);
    expect((await lookup(support, callerLegId)).status).toBe(404);
    const nobody = await env.rest('sees-nothing@example.com', 'pw');
    expect(await lookup(nobody, callId)).toMatchObject({ status: 404, body: { Code: 'NOT_FOUND' } });
  });

  it('refuses a missing or malformed identifier with a 400 naming the parameter', async () => {
    expect(await admin.get('/diagnostics/lookup')).toMatchObject({
      status: 400,
      body: { Code: 'MISSING_PARAMETER', Parameter: 'id' },
    });
    expect(await lookup(admin, 'two words')).toMatchObject({
      status: 400,
      body: { Code: 'BAD_PARAMETER', Parameter: 'id' },
    });
    expect(await lookup(admin, 'x'.repeat(257))).toMatchObject({
      status: 400,
      body: { Code: 'BAD_PARAMETER' },
    });
    expect((await lookup(admin, 'nothing-like-this')).status).toBe(404);
  });
});

describe('browser assets', () => {
  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(new URL(path, env.platform.httpUrl), { headers });

  it('serves the webphone SDK as an ES module with its TypeScript declarations, revalidated by ETag', async () => {
    const module = await get('webphone.js');
    expect(module.status).toBe(200);
    expect(module.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(module.headers.get('x-typescript-types')).toBe('/webphone.d.ts');
    const source = await module.text();
    expect(source).toMatch(/export\s*\{[^}]*\bWebPhone\b/);
    const etag = module.headers.get('etag')!;
    expect((await get('webphone.js', { 'If-None-Match': etag })).status).toBe(304);

    const declarations = await get('webphone.d.ts');
    expect(declarations.status).toBe(200);
    const text = await declarations.text();
    expect(text).toContain('export declare class WebPhone');
    expect(text).toContain('makeCall(target: string, options?: MakeCallOptions): string;');
    expect(text).toContain('serverSideCallId: string | null;');
  });

  it('serves the console page with the SIP domain and a strict CSP, and its script and styles', async () => {
    const page = await get('');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await page.text()).toContain('<meta name="switchboard-sip-domain" content="switchboard.local" />');
    expect((await get('console/app.js')).status).toBe(200);
    expect((await get('console/console.css')).headers.get('content-type')).toMatch(/^text\/css/);
  });
});

describe('one request budget for the REST API and diagnostics', () => {
  it('counts requests to both against the same per-user budget', async () => {
    const limited = await startTestPlatform(TENANT, 'sqlite', {
      apiRateLimits: { requests: { capacity: 4, refillPerSecond: 0.001 } },
    });
    try {
      const a = await limited.rest('a@example.com', 'secret-a');
      // Alternating: two requests to each API spend the budget of four.
      expect((await a.get('/users/me')).status).toBe(200);
      expect((await a.get('/diagnostics/lookup', { id: 'nothing-like-this' })).status).toBe(404);
      expect((await a.get('/users/me')).status).toBe(200);
      expect((await a.get('/diagnostics/lookup', { id: 'nothing-like-this' })).status).toBe(404);
      const apiRefused = await a.get('/users/me');
      const diagnosticsRefused = await a.get('/diagnostics/lookup', { id: 'nothing-like-this' });
      for (const refused of [apiRefused, diagnosticsRefused]) {
        expect(refused).toMatchObject({ status: 429, body: { Code: 'TOO_MANY_REQUESTS' } });
      }
      // Another user has a budget of their own.
      const b = await limited.rest('b@example.com', 'secret-b');
      expect((await b.get('/diagnostics/lookup', { id: 'nothing-like-this' })).status).toBe(404);
    } finally {
      await limited.close();
    }
  });

  it('lists the diagnostics endpoints in /openapi.json', async () => {
    const response = await fetch(new URL('openapi.json', env.platform.httpUrl));
    const document = (await response.json()) as { paths: Record<string, Record<string, Json>> };
    expect(document.paths['/diagnostics/calls/{CallId}']?.get).toMatchObject({ operationId: 'getCallMap' });
    expect(document.paths['/diagnostics/lookup']?.get).toMatchObject({ operationId: 'lookupIdentifier' });
  });
});
