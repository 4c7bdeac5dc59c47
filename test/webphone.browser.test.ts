/**
 * The webphone SDK in real browsers (issue 7): three Chromium pages import `/webphone.js` from the
 * platform and run the seed's scenario — A calls Support, B rejects, C answers, media flows between
 * A and C over a real peer connection (fake devices), A hangs up. Every identifier each page saw is
 * checked against the REST records and the diagnostics map. Then one member offered the same call
 * twice sees two client callIds with one serverSideCallId; two calls at once with hold, mute and
 * DTMF; outbound service and callback calls placed with makeCall's options.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTenantYaml } from '../src/config/load.js';
import type { WireCallMap, WireLookupResult } from '../src/diagnostics/types.js';
import type { WebPhoneCall } from '../src/webphone/webphone.js';
import { launchChromium } from './support/browser.js';
import { type RestClient, startTestPlatform, type TestPlatform, waitFor } from './support/platform.js';
import {
  openPhonePage,
  openSeedPhones,
  type PhonePage,
  runSeedScenario,
  type SeedExtension,
  type SeedScenarioResult,
} from './support/webphone-pages.js';

const DOMAIN = 'switchboard.local';
const TENANT = parseTenantYaml(
  `
domain: ${DOMAIN}
users:
  - { username: a@example.com, displayName: User A, extension: "1001", password: secret-a }
  - { username: b@example.com, displayName: User B, extension: "1002", password: secret-b, permissions: [ { CallbackList: Support callbacks } ] }
  - { username: c@example.com, displayName: User C, extension: "1003", password: secret-c }
  - { username: admin@example.com, extension: "1000", password: secret-admin, role: admin }
queues:
  - { name: Support, extension: "100", number: "+35810100100", members: [b@example.com, c@example.com], callbackList: Support callbacks }
  - { name: Solo, extension: "200", members: [b@example.com] }
callbackLists:
  - { name: Support callbacks, queue: Support, members: [b@example.com, c@example.com] }
`,
  'webphone-browser.yaml',
);
const userId = (email: string) => TENANT.users.find((user) => user.username === email)!.userId;

type Json = Record<string, unknown>;

let env: TestPlatform;
let browser: Browser;
let admin: RestClient;

beforeAll(async () => {
  [env, browser] = await Promise.all([startTestPlatform(TENANT, 'sqlite'), launchChromium()]);
  admin = await env.rest('admin@example.com', 'secret-admin');
});

afterAll(async () => {
  await browser?.close();
  await env?.close();
});

describe('registration', () => {
  it('registers, reports a wrong password as registration-failed, and gives up on an unreachable server', async () => {
    const good = await openPhonePage(browser, env.platform.httpUrl, {
      extension: '1001',
      password: 'secret-a',
      domain: DOMAIN,
    });
    const wrong = await openPhonePage(
      browser,
      env.platform.httpUrl,
      { extension: '1001', password: 'not-secret-a', domain: DOMAIN },
      { register: false },
    );
    // Port 9 (discard) on the loopback: nothing listens there.
    const unreachable = await openPhonePage(
      browser,
      env.platform.httpUrl,
      {
        extension: '1001',
        password: 'secret-a',
        domain: DOMAIN,
        server: 'ws://127.0.0.1:9/sip',
        registerTimeoutMs: 1500,
      },
      { register: false },
    );
    try {
      expect((await good.events()).map((event) => event.name)).toEqual(['registered']);
      expect(await good.page.evaluate(() => window.sb.phone.isRegistered)).toBe(true);
      expect(env.platform.location.lookup('1001').length).toBeGreaterThanOrEqual(1);

      const register = (page: typeof wrong) =>
        page.page.evaluate(() =>
          window.sb.phone.register().then(
            () => 'registered',
            (error: { code: string }) => error.code,
          ),
        );
      expect(await register(wrong)).toBe('REGISTRATION_FAILED');
      const failed = await wrong.waitForEvent('registration-failed');
      expect(failed.payload).toMatchObject({
        extension: '1001',
        sipStatus: 403,
        cause: 'Rejected',
      });
      expect(await register(unreachable)).toBe('REGISTRATION_FAILED');
      expect((await unreachable.waitForEvent('error')).payload).toMatchObject({
        code: 'REGISTRATION_FAILED',
      });

      await good.page.evaluate(() => window.sb.phone.unregister());
      await good.waitForEvent('unregistered');
    } finally {
      await Promise.all([good.close(), wrong.close(), unreachable.close()]);
    }
  });
});

describe('the seed scenario with three webphone pages', () => {
  let run: SeedScenarioResult;
  let callId: string;
  let events: Json[];

  beforeAll(async () => {
    run = await runSeedScenario(browser, env.platform.httpUrl, DOMAIN);
    callId = run.aInProgress.serverSideCallId!;
    events = await waitFor(
      async () => {
        const list = await admin.list<Json>('/calls', { CallId: callId });
        return list.length === 3 && list.every((event) => event.EndTime) ? list : undefined;
      },
      10_000,
      'the three user call events',
    );
  }, 90_000);

  afterAll(async () => {
    await Promise.all([run?.a.close(), run?.b.close(), run?.c.close()]);
  });

  it('A learns serverSideCallId at call-in-progress, B and C at call-incoming; media reached connected', () => {
    expect(run.aInProgress).toMatchObject({ callId: run.aCallId, direction: 'outbound', state: 'progress' });
    expect(run.aInProgress.serverSideCallId).toMatch(/^[0-9a-f-]{36}$/);
    expect(run.aInProgress.callLegId).toMatch(/^[0-9a-f-]{36}$/);
    expect(run.bIncoming).toMatchObject({
      direction: 'inbound',
      state: 'ringing',
      queueName: 'Support',
      queueId: TENANT.queues[0]!.queueId,
    });
    expect(run.cIncoming).toMatchObject({ direction: 'inbound', state: 'ringing', queueName: 'Support' });
    expect(run.bIncoming.remoteParty.user).toBe('1001');
    expect(run.mediaStates).toEqual({ a: 'connected', c: 'connected' });
  });

  it("gives every page its own callId and all of them the same serverSideCallId = GET /calls?CallId='s CallId", () => {
    const callIds = [run.aCallId, run.bIncoming.callId, run.cIncoming.callId];
    expect(new Set(callIds).size).toBe(3);
    const serverSideCallIds = [
      run.aInProgress,
      run.aConnected,
      run.aEnded,
      run.bIncoming,
      run.bEnded,
      run.cIncoming,
      run.cConnected,
      run.cEnded,
    ].map((call) => call.serverSideCallId);
    expect(new Set(serverSideCallIds)).toEqual(new Set([callId]));
    expect(events.map((event) => event.CallId)).toEqual([callId, callId, callId]);
  });

  it('B and C received the callLegIds the REST records show; A its caller leg', () => {
    const byUser = new Map(events.map((event) => [event.UserId, event]));
    expect(byUser.get(userId('a@example.com'))).toMatchObject({
      CallLegId: run.aInProgress.callLegId,
      CallTypeString: 'DirectCall',
      Result: 'Handled',
    });
    expect(byUser.get(userId('b@example.com'))).toMatchObject({
      CallLegId: run.bIncoming.callLegId,
      CallTypeString: 'ServiceCall',
      Result: 'Allocated',
    });
    expect(byUser.get(userId('c@example.com'))).toMatchObject({
      CallLegId: run.cIncoming.callLegId,
      CallTypeString: 'ServiceCall',
      Result: 'Handled',
    });
    expect(run.bIncoming.callLegId).not.toBe(run.cIncoming.callLegId);
  });

  it('the diagnostics map shows each leg with the callId its page saw', async () => {
    const { status, body } = await admin.get(`/diagnostics/calls/${callId}`);
    expect(status).toBe(200);
    const map = body as WireCallMap;
    const legOf = (callLegId: string | null) => map.Legs.find((leg) => leg.CallLegId === callLegId);
    expect(legOf(run.aInProgress.callLegId)).toMatchObject({
      Role: 'Caller',
      ClientCallId: run.aCallId,
      User: { UserName: 'a@example.com' },
    });
    expect(legOf(run.bIncoming.callLegId)).toMatchObject({
      Role: 'Allocation',
      ClientCallId: run.bIncoming.callId,
      Allocation: { Ordinal: 1, Outcome: 'Rejected', RejectReason: 'GenericUserRejected' },
    });
    expect(legOf(run.cIncoming.callLegId)).toMatchObject({
      Role: 'Allocation',
      ClientCallId: run.cIncoming.callId,
      Allocation: { Ordinal: 2, Outcome: 'Connected' },
    });
    // Every client callId and every CallLegId leads back to the call.
    for (const identifier of [
      run.aCallId,
      run.bIncoming.callId,
      run.cIncoming.callId,
      run.bIncoming.callLegId!,
      run.cIncoming.callLegId!,
    ]) {
      const lookup = (await admin.get('/diagnostics/lookup', { id: identifier })).body as WireLookupResult;
      expect(lookup.Matches.map((match) => match.CallId)).toContain(callId);
    }
  });

  it('reports how each call ended: B rejected locally, A hung up, C got the BYE', () => {
    expect(run.bEnded).toMatchObject({ originator: 'local', cause: 'Rejected', state: 'ended' });
    expect(run.aEnded).toMatchObject({ originator: 'local', state: 'ended' });
    expect(run.cEnded).toMatchObject({ originator: 'remote', cause: 'Terminated' });
    expect(run.a.errors).toEqual([]);
    expect(run.b.errors).toEqual([]);
    expect(run.c.errors).toEqual([]);
  });
});

describe('the same member offered the same call twice', () => {
  it('sees two callIds with one serverSideCallId, and two allocation legs', async () => {
    const [a, b] = await openSeedPhones(browser, env.platform.httpUrl, DOMAIN, ['1001', '1002']);
    try {
      const aCallId = await a.page.evaluate(() => window.sb.phone.makeCall('200'));
      const first = (await b.waitForEvents('call-incoming', 1))[0]!.payload as unknown as WebPhoneCall;
      await b.page.evaluate((id) => window.sb.phone.reject(id), first.callId);
      // The one-member queue offers the call again after its retry pause.
      const second = (await b.waitForEvents('call-incoming', 2))[1]!.payload as unknown as WebPhoneCall;
      await b.page.evaluate((id) => window.sb.phone.answer(id), second.callId);
      await b.waitForEvent('call-connected', second.callId);
      await b.page.evaluate((id) => window.sb.phone.hangup(id), second.callId);
      const aEnded = await a.waitForEnded(aCallId);

      expect(first.callId).not.toBe(second.callId);
      expect(first.serverSideCallId).toBe(second.serverSideCallId);
      expect(first.serverSideCallId).toBe(aEnded.serverSideCallId);
      expect(first.callLegId).not.toBe(second.callLegId);
      expect(first.queueName).toBe('Solo');

      const callId = first.serverSideCallId!;
      const bEvents = await waitFor(
        async () => {
          const list = await admin.list<Json>('/calls', { CallId: callId, UserIDs: userId('b@example.com') });
          return list.length === 2 && list.some((event) => event.Result === 'Handled' && event.EndTime)
            ? list
            : undefined;
        },
        10_000,
        "B's two allocation events",
      );
      expect(bEvents.map((event) => event.CallLegId).sort()).toEqual(
        [first.callLegId, second.callLegId].sort(),
      );
      const map = (await admin.get(`/diagnostics/calls/${callId}`)).body as WireCallMap;
      const allocations = map.Legs.filter((leg) => leg.Role === 'Allocation');
      expect(
        allocations.map((leg) => [leg.User?.UserName, leg.ClientCallId, leg.Allocation?.Outcome]),
      ).toEqual([
        ['b@example.com', first.callId, 'Rejected'],
        ['b@example.com', second.callId, 'Connected'],
      ]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('several calls at once', () => {
  it('keeps two calls apart, and holds, mutes and sends DTMF on each one alone', async () => {
    const [a, b, c] = await openSeedPhones(browser, env.platform.httpUrl, DOMAIN, ['1001', '1002', '1003']);
    try {
      const [toB, toC] = await a.page.evaluate(() => [
        window.sb.phone.makeCall('1002'),
        window.sb.phone.makeCall('1003'),
      ]);
      const inB = await b.waitForCall('call-incoming');
      const inC = await c.waitForCall('call-incoming');
      await b.page.evaluate((id) => window.sb.phone.answer(id), inB.callId);
      await c.page.evaluate((id) => window.sb.phone.answer(id), inC.callId);
      await Promise.all([a.waitForEvent('call-connected', toB), a.waitForEvent('call-connected', toC)]);
      await Promise.all([a.waitForMediaConnected(toB), a.waitForMediaConnected(toC)]);

      const calls = await a.page.evaluate(() => window.sb.phone.calls());
      expect(calls.map((call) => [call.callId, call.remoteParty.user, call.state, call.queueId])).toEqual([
        [toB, '1002', 'connected', null],
        [toC, '1003', 'connected', null],
      ]);
      const [callB, callC] = calls as [WebPhoneCall, WebPhoneCall];
      expect(callB.serverSideCallId).not.toBe(callC.serverSideCallId);
      expect(inB.serverSideCallId).toBe(callB.serverSideCallId);
      expect(inC.serverSideCallId).toBe(callC.serverSideCallId);

      // Hold the call to B: B is told, C's call is untouched.
      await a.page.evaluate((id) => window.sb.phone.hold(id), toB);
      await b.page.waitForFunction(() => window.sb.phone.calls()[0]?.heldByRemote === true);
      await a.page.waitForFunction(
        (id) => window.sb.phone.calls().find((call) => call.callId === id)?.held === true,
        toB,
      );
      await a.page.evaluate((id) => window.sb.phone.unhold(id), toB);
      await b.page.waitForFunction(() => window.sb.phone.calls()[0]?.heldByRemote === false);
      // Mute the call to C and send it DTMF: C hears the tones (relayed as SIP INFO), B nothing.
      await a.page.evaluate((id) => {
        window.sb.phone.mute(id);
        window.sb.phone.sendDtmf(id, '12#');
      }, toC);
      const tones = await c.waitForEvents('call-dtmf', 3);
      expect(tones.map((event) => event.payload.tone)).toEqual(['1', '2', '#']);
      expect(tones.every((event) => event.payload.callId === inC.callId)).toBe(true);
      const after = await a.page.evaluate(() => window.sb.phone.calls());
      expect(after.map((call) => [call.callId, call.held, call.muted])).toEqual([
        [toB, false, false],
        [toC, false, true],
      ]);
      expect(await b.events().then((events) => events.filter((event) => event.name === 'call-dtmf'))).toEqual(
        [],
      );

      await a.page.evaluate(
        ([first, second]) => {
          window.sb.phone.hangup(first!);
          window.sb.phone.hangup(second!);
        },
        [toB, toC],
      );
      await Promise.all([b.waitForEvent('call-ended', inB.callId), c.waitForEvent('call-ended', inC.callId)]);
      expect(await a.page.evaluate(() => window.sb.phone.calls())).toEqual([]);
      expect([...a.errors, ...b.errors, ...c.errors]).toEqual([]);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });
});

/** Open a callback request for A's extension on Support's list, through the REST API; its Id. */
async function openCallbackRequestForA(): Promise<string> {
  const listId = TENANT.callbackLists[0]!.callbackListId;
  const { status, body } = await admin.post(`/callbacklists/${listId}/requests`, { Number: '1001' });
  expect(status).toBe(201);
  return String((body as Json).Id);
}

/**
 * Both outbound kinds run the same way: B places the call with makeCall's option, the callee's
 * page (C for a service call, A — the request's number — for a callback call) answers, one side
 * hangs up, and the record and the diagnostics map belong to the queue or the list.
 */
interface OutboundCase {
  kind: string;
  title: string;
  /** The pages opened: B is the caller. */
  phones: readonly SeedExtension[];
  calleeExtension: SeedExtension;
  /** What the call needs before the pages open (the callback request's Id), for `dial` and `recordFields`. */
  prepare?(): Promise<string>;
  /** Place B's call (runs in B's page); the client callId. */
  dial(b: PhonePage, prepared: string): Promise<string>;
  /** The callee hangs up (the callback call) rather than B (the service call). */
  calleeHangsUp: boolean;
  endpoint: '/outbound-servicecall' | '/outbound-callbackcall';
  what: string;
  /** The record's fields beyond CallId, CallLegId and UserName. */
  recordFields(prepared: string): Json;
  callKind: string;
  recordKind: string;
  permission: string;
  /** What else the case proves with the pages still open. */
  more?(pages: Map<SeedExtension, PhonePage>): Promise<void>;
}

const OUTBOUND_CASES: OutboundCase[] = [
  {
    kind: 'an outbound service call (makeCall with onBehalfOfQueue)',
    title: 'is placed for the queue: the callee sees the queue, the records and the map belong to it',
    phones: ['1001', '1002', '1003'],
    calleeExtension: '1003',
    // B is a member of Support and may call on its behalf.
    dial: (b) => b.page.evaluate(() => window.sb.phone.makeCall('1003', { onBehalfOfQueue: 'Support' })),
    calleeHangsUp: false,
    endpoint: '/outbound-servicecall',
    what: 'the outbound service call record',
    recordFields: () => ({ QueueName: 'Support' }),
    callKind: 'OutboundServiceCall',
    recordKind: 'OutboundServiceCall',
    permission: 'ServiceCalls of Support',
    async more(pages) {
      // A is not a member: the platform refuses, and the SDK reports why.
      const a = pages.get('1001')!;
      const aCallId = await a.page.evaluate(() =>
        window.sb.phone.makeCall('1003', { onBehalfOfQueue: 'Support' }),
      );
      const refused = await a.waitForEnded(aCallId);
      expect(refused).toMatchObject({ sipStatus: 403, originator: 'remote' });
    },
  },
  {
    kind: 'an outbound callback call (makeCall with callbackRequestId)',
    title:
      "calls the request's number for its list: the callee sees the queue, the record belongs to the list",
    phones: ['1001', '1002'],
    calleeExtension: '1001',
    prepare: openCallbackRequestForA,
    // The Request-URI is not used: the request's number is called.
    dial: (b, callbackRequestId) =>
      b.page.evaluate(
        (id) => window.sb.phone.makeCall('callback', { callbackRequestId: id }),
        callbackRequestId,
      ),
    calleeHangsUp: true,
    endpoint: '/outbound-callbackcall',
    what: 'the outbound callback call record',
    recordFields: (callbackRequestId) => ({ CallbackRequestId: callbackRequestId }),
    callKind: 'OutboundCallbackCall',
    recordKind: 'OutboundCallbackCall',
    permission: 'CallbackList of Support callbacks',
  },
];

for (const outbound of OUTBOUND_CASES) {
  describe(outbound.kind, () => {
    it(outbound.title, async () => {
      const prepared = (await outbound.prepare?.()) ?? '';
      const opened = await openSeedPhones(browser, env.platform.httpUrl, DOMAIN, outbound.phones);
      const pages = new Map(opened.map((page) => [page.extension as SeedExtension, page]));
      const b = pages.get('1002')!;
      const callee = pages.get(outbound.calleeExtension)!;
      try {
        const bCallId = await outbound.dial(b, prepared);
        const progress = await b.waitForCall('call-in-progress', bCallId);
        const incoming = await callee.waitForCall('call-incoming');
        expect(incoming.serverSideCallId).toBe(progress.serverSideCallId);
        expect(incoming.remoteParty).toMatchObject({ user: '+35810100100', displayName: 'Support' });
        await callee.page.evaluate((id) => window.sb.phone.answer(id), incoming.callId);
        await b.waitForEvent('call-connected', bCallId);
        if (outbound.calleeHangsUp) {
          await callee.page.evaluate((id) => window.sb.phone.hangup(id), incoming.callId);
          await b.waitForEvent('call-ended', bCallId);
        } else {
          await b.page.evaluate((id) => window.sb.phone.hangup(id), bCallId);
          await callee.waitForEvent('call-ended', incoming.callId);
        }

        const callId = progress.serverSideCallId!;
        const [record] = await admin.handledRows(outbound.endpoint, callId, 10_000, outbound.what);
        expect(record).toMatchObject({
          CallId: callId,
          CallLegId: progress.callLegId,
          ...outbound.recordFields(prepared),
          UserName: 'b@example.com',
        });
        const map = (await admin.get(`/diagnostics/calls/${callId}`)).body as WireCallMap;
        expect(map.CallKind).toBe(outbound.callKind);
        expect(map.Legs.map((leg) => [leg.Role, leg.ClientCallId])).toEqual([
          ['Caller', bCallId],
          ['Callee', incoming.callId],
        ]);
        expect(map.Records.find((entry) => entry.Kind === outbound.recordKind)).toMatchObject({
          Endpoint: `GET ${outbound.endpoint}?CallId=${callId}`,
          Permission: { Text: outbound.permission },
        });

        await outbound.more?.(pages);
      } finally {
        await Promise.all(opened.map((page) => page.close()));
      }
    });
  });
}
