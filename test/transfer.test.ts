/**
 * Blind transfers (issue 15, DESIGN.md §10) with test UAs as SIP phones and the platform's own
 * rtpengine: an agent REFERs the queue call it answered to another user, another queue or an
 * external number (a carrier device at the trunk's address). The REFER gets 202 and the
 * transferor NOTIFYs (message/sipfrag) of the target's progress; the caller ends up talking to the
 * target — verified by each side's tone arriving at the other — with the same CallId. A target
 * that refuses leaves the call with the agent; bad REFERs get a clear 4xx and change nothing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseTenantYaml } from '../src/config/load.js';
import type { Platform } from '../src/platform.js';
import { Dialog } from '../src/sip/dialog.js';
import type { SipRequest, SipResponse } from '../src/sip/message.js';
import type { RtpPeer } from '../src/testing/rtp-peer.js';
import type { IncomingCall, OutgoingCall, TestUa } from '../src/testing/test-ua.js';
import { removeToneWav, writeToneWav } from '../src/testing/tone-wav.js';
import { waitUntil } from '../src/testing/wait.js';
import { mediaPhone, refer as referFrom, untilAgentConnected } from './support/media-phones.js';
import { startTestPlatform, type TestPlatform } from './support/platform.js';
import { freeUdpPort } from './support/sipp.js';

const DOMAIN = 'switchboard.local';
const HZ = { caller: 1000, agent: 500, target: 1500, salesGreeting: 700, music: 450, carrier: 350 } as const;
const ALL = Object.values(HZ);

let env: TestPlatform;
let platform: Platform;
let trunkPort: number;
const files: string[] = [];
const opened: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  trunkPort = await freeUdpPort();
  const tone = async (frequency: number) => {
    const path = await writeToneWav({ frequency, durationMs: 1000, sampleRate: 8000 });
    files.push(path);
    return path;
  };
  const salesGreeting = await tone(HZ.salesGreeting);
  const music = await tone(HZ.music);
  const tenant = parseTenantYaml(
    `
domain: ${DOMAIN}
users:
  - { username: a@example.com, extension: "1001", password: secret-a }
  - { username: b@example.com, extension: "1002", password: secret-b }
  - { username: c@example.com, extension: "1003", password: secret-c }
  - { username: d@example.com, extension: "1004", password: secret-d }
  - { username: admin@example.com, extension: "1999", password: secret-admin, role: admin }
queues:
  - { name: Support, extension: "100", number: "+35810100100", members: [b@example.com], greeting: none, musicOnHold: ${music} }
  - { name: Sales, extension: "200", members: [c@example.com], greeting: ${salesGreeting}, musicOnHold: ${music} }
trunks:
  - { name: pstn, host: 127.0.0.1, port: ${trunkPort} }
`,
    'transfer.yaml',
  );
  env = await startTestPlatform(tenant, 'sqlite', { mediaDefault: 'auto' });
  ({ platform } = env);
  expect(platform.media).toBeDefined();
}, 30_000);

afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
  for (const extension of ['1001', '1002', '1003', '1004'])
    platform.location.removeAll(extension, 'unregistered');
  await waitUntil(() => platform.callControl.activeCalls.length === 0, 8000, 'no call left');
});

afterAll(async () => {
  await env?.close();
  for (const file of files) await removeToneWav(file);
});

const phone = (extension: string): Promise<TestUa> =>
  mediaPhone(platform, extension, { domain: DOMAIN, opened });

/** A calls the Support queue and B (the agent) answers; both are talking when this resolves. */
async function queueCallAnsweredByB(): Promise<{
  a: TestUa;
  b: TestUa;
  call: OutgoingCall;
  agentCall: IncomingCall;
  callId: string;
}> {
  const a = await phone('1001');
  const b = await phone('1002');
  b.answerAfterRinging(30);
  const call = a.call('100');
  const answer = await call.waitForFinal(5000);
  expect(answer.status).toBe(200);
  await untilAgentConnected(a, answer);
  const agentCall = b.incoming[0]!;
  a.media!.startTone(HZ.caller);
  b.media!.startTone(HZ.agent);
  await a.media!.waitForTone(HZ.agent, ALL, { timeoutMs: 5000 });
  await b.media!.waitForTone(HZ.caller, ALL, { timeoutMs: 5000 });
  return { a, b, call, agentCall, callId: answer.headers.get('X-Server-Call-Id')! };
}

const refer = (ua: TestUa, incoming: IncomingCall, target: string): Promise<SipResponse> =>
  referFrom(ua, incoming, target, DOMAIN);

/** The sipfrag status lines of the NOTIFYs a UA received, in order. */
function notified(ua: TestUa): string[] {
  return ua.receivedRequests
    .filter((request: SipRequest) => request.method === 'NOTIFY')
    .map((request) => {
      expect(request.headers.get('Event')).toBe('refer');
      expect(request.headers.get('Content-Type')).toMatch(/^message\/sipfrag/);
      return request.body.toString().trim();
    });
}

/** Both directions between two RTP peers, measured on audio received from now on. */
async function expectTalking(x: RtpPeer, xTone: number, y: RtpPeer, yTone: number): Promise<void> {
  x.startTone(xTone);
  y.startTone(yTone);
  const fromX = x.receivedSampleCount;
  const fromY = y.receivedSampleCount;
  expect((await x.waitForTone(yTone, ALL, { timeoutMs: 6000, fromSample: fromX })).frequency).toBe(yTone);
  expect((await y.waitForTone(xTone, ALL, { timeoutMs: 6000, fromSample: fromY })).frequency).toBe(xTone);
}

describe('blind transfer of a queue call by its agent', () => {
  it('to another user: 202, NOTIFY 100/180/200, the agent is released, the caller talks to the target', async () => {
    const { a, b, call, agentCall, callId } = await queueCallAnsweredByB();
    const c = await phone('1003');
    c.answerAfterRinging(200);
    const accepted = await refer(b, agentCall, `<sip:1003@${DOMAIN}>`);
    expect(accepted.status).toBe(202);
    await agentCall.waitForBye(8000);
    expect(notified(b)).toEqual(['SIP/2.0 100 Trying', 'SIP/2.0 180 Ringing', 'SIP/2.0 200 OK']);
    const invite = c.incoming[0]!.invite;
    expect(invite.headers.get('X-Server-Call-Id')).toBe(callId);
    const targetLegId = invite.headers.get('X-Call-Leg-Id');
    expect(targetLegId).toMatch(/^[0-9a-f-]{36}$/);
    expect(targetLegId).not.toBe(agentCall.invite.headers.get('X-Call-Leg-Id'));
    await expectTalking(a.media!, HZ.caller, c.media!, HZ.target);
    const journal = (await platform.journal.readCall(callId)).map((entry) => entry.fact.type);
    expect(journal).toEqual(expect.arrayContaining(['TransferRequested', 'TransferCompleted']));
    expect((await call.hangup()).status).toBe(200);
    await c.incoming[0]!.waitForBye(5000);
  });

  it('to a busy user: NOTIFY 486, and the caller and the agent still talk', async () => {
    const { a, b, call, agentCall } = await queueCallAnsweredByB();
    const d = await phone('1004');
    d.rejectAfterRinging(486, 50);
    expect((await refer(b, agentCall, `<sip:1004@${DOMAIN}>`)).status).toBe(202);
    await waitUntil(() => notified(b).length >= 3, 5000, 'the final NOTIFY');
    expect(notified(b).at(-1)).toBe('SIP/2.0 486 Busy Here');
    expect(agentCall.ended).toBe(false);
    await expectTalking(a.media!, HZ.caller, b.media!, HZ.agent);
    expect((await call.hangup()).status).toBe(200);
  });

  it('to another queue: the queue takes it at once (NOTIFY 200), the caller hears its greeting, then its agent', async () => {
    const { a, b, call, agentCall, callId } = await queueCallAnsweredByB();
    expect((await refer(b, agentCall, `<sip:200@${DOMAIN}>`)).status).toBe(202);
    await agentCall.waitForBye(5000);
    expect(notified(b)).toEqual(['SIP/2.0 100 Trying', 'SIP/2.0 200 OK']);
    const mark = a.media!.receivedSampleCount;
    expect(
      (await a.media!.waitForTone(HZ.salesGreeting, ALL, { timeoutMs: 5000, fromSample: mark })).frequency,
    ).toBe(HZ.salesGreeting);
    const c = await phone('1003');
    c.answerAfterRinging(50);
    await waitUntil(
      () => c.incoming.some((incoming) => incoming.dialog !== undefined),
      8000,
      'Sales answered',
    );
    expect(c.incoming[0]!.invite.headers.get('X-Server-Call-Id')).toBe(callId);
    await waitUntil(
      () => a.receivedRequests.filter((r) => r.headers.get('X-Queue-State') === 'connected').length >= 2,
      8000,
      'the caller bridged to Sales',
    );
    await expectTalking(a.media!, HZ.caller, c.media!, HZ.target);
    expect((await call.hangup()).status).toBe(200);
  });

  it('to an external number: the carrier gets the queue as caller id and talks to the caller', async () => {
    const { a, b, call, agentCall, callId } = await queueCallAnsweredByB();
    // The carrier: a device at the trunk's address (it does not register).
    const carrier = await mediaPhone(platform, 'carrier', {
      domain: DOMAIN,
      opened,
      local: { port: trunkPort },
    });
    const carrierMedia = carrier.media!;
    carrier.answerAfterRinging(50);
    expect((await refer(b, agentCall, `<sip:+3589555000@${DOMAIN}>`)).status).toBe(202);
    await agentCall.waitForBye(8000);
    const invite = carrier.incoming[0]!.invite;
    expect(invite.uri).toContain(`sip:+3589555000@127.0.0.1:${trunkPort}`);
    expect(invite.headers.get('From')).toContain('+35810100100');
    expect(invite.headers.get('X-Server-Call-Id')).toBe(callId);
    await expectTalking(a.media!, HZ.caller, carrierMedia, HZ.carrier);
    expect((await call.hangup()).status).toBe(200);
  });

  it('the agent hangs up right after the REFER is accepted: the target still gets the caller', async () => {
    const { a, b, call, agentCall } = await queueCallAnsweredByB();
    const c = await phone('1003');
    c.answerAfterRinging(500);
    expect((await refer(b, agentCall, `<sip:1003@${DOMAIN}>`)).status).toBe(202);
    expect((await agentCall.hangup()).status).toBe(200);
    await waitUntil(() => c.incoming.some((incoming) => incoming.dialog !== undefined), 5000, 'C answered');
    await expectTalking(a.media!, HZ.caller, c.media!, HZ.target);
    expect((await call.hangup()).status).toBe(200);
  });
});

describe('blind transfer by the caller', () => {
  it('A calls B, then transfers B to C: B and C talk, A is released, the CallId stays', async () => {
    const a = await phone('1001');
    const b = await phone('1002');
    const c = await phone('1003');
    b.answerAfterRinging(30);
    c.answerAfterRinging(200);
    const call = a.call('1002');
    const answer = await call.waitForFinal(5000);
    expect(answer.status).toBe(200);
    const callId = answer.headers.get('X-Server-Call-Id')!;
    await expectTalking(a.media!, HZ.caller, b.media!, HZ.agent);
    const accepted = await a.sendInDialog(call.dialog!, 'REFER', undefined, [
      ['Refer-To', `<sip:1003@${DOMAIN}>`],
    ]);
    expect(accepted.status).toBe(202);
    await call.waitForBye(8000);
    expect(notified(a)).toEqual(['SIP/2.0 100 Trying', 'SIP/2.0 180 Ringing', 'SIP/2.0 200 OK']);
    expect(c.incoming[0]!.invite.headers.get('X-Server-Call-Id')).toBe(callId);
    // B is re-INVITEd to C's media.
    await waitUntil(
      () => b.receivedRequests.some((r) => r.method === 'INVITE' && r !== b.incoming[0]!.invite),
      5000,
      'B re-INVITEd',
    );
    await expectTalking(b.media!, HZ.agent, c.media!, HZ.target);
    expect(platform.callControl.call(callId)?.state).toBe('connected');
    expect((await b.incoming[0]!.hangup()).status).toBe(200);
    await c.incoming[0]!.waitForBye(5000);
  });
});

describe('REFERs that are refused', () => {
  it('from the caller, with a bad Refer-To, to nobody: a clear 4xx, and the call goes on', async () => {
    const { a, b, call, agentCall } = await queueCallAnsweredByB();
    // The caller may transfer its peer to a user or a number, not put the agent into a queue.
    const byCaller = await a.sendInDialog(call.dialog!, 'REFER', undefined, [
      ['Refer-To', `<sip:200@${DOMAIN}>`],
    ]);
    expect(byCaller.status).toBe(403);
    expect((await refer(b, agentCall, 'not a uri')).status).toBe(400);
    expect((await b.sendInDialog(agentCall.dialog!, 'REFER')).status).toBe(400);
    const nobody = await refer(b, agentCall, `<sip:nobody@${DOMAIN}>`);
    expect(nobody.status).toBe(404);
    expect(nobody.reason).toMatch(/Not Found/);
    expect(notified(b)).toEqual([]);
    await expectTalking(a.media!, HZ.caller, b.media!, HZ.agent);
    expect((await call.hangup()).status).toBe(200);
  });

  it('outside any dialog: refused, no call is touched', async () => {
    const { a, b, call } = await queueCallAnsweredByB();
    const stranger = await phone('1004');
    // A REFER with the call's SIP Call-ID and tags but a forged local tag: no such dialog.
    const forgedDialog = new Dialog({
      ...call.dialog!,
      localTag: 'forged',
      localParty: `<sip:1004@${DOMAIN}>;tag=forged`,
    });
    const forged = await stranger.sendInDialog(forgedDialog, 'REFER', undefined, [
      ['Refer-To', `<sip:1004@${DOMAIN}>`],
    ]);
    expect(forged.status).toBeGreaterThanOrEqual(400);
    expect(forged.status).toBeLessThan(500);
    await expectTalking(a.media!, HZ.caller, b.media!, HZ.agent);
    expect((await call.hangup()).status).toBe(200);
  });
});

describe('attended transfer', () => {
  /** B (the agent of A's queue call) consults C in a call of its own, which C answers. */
  async function consultation() {
    const call1 = await queueCallAnsweredByB();
    const c = await phone('1003');
    c.answerAfterRinging(30);
    const consult = call1.b.call('1003');
    const answer = await consult.waitForFinal(5000);
    expect(answer.status).toBe(200);
    const consultCallId = answer.headers.get('X-Server-Call-Id')!;
    return { ...call1, c, consult, consultCallId };
  }

  /** Refer-To naming C with Replaces = B's consultation dialog (as B sees it: to-tag = ours). */
  const replacing = (dialog: Dialog, user = '1003') =>
    `<sip:${user}@${DOMAIN}?Replaces=${encodeURIComponent(
      `${dialog.sipCallId};to-tag=${dialog.remoteTag};from-tag=${dialog.localTag}`,
    )}>`;

  it("REFER with Replaces: A and C are joined in A's call (same CallId), both of B's calls end", async () => {
    const { a, b, c, call, agentCall, callId, consult, consultCallId } = await consultation();
    expect(consultCallId).not.toBe(callId);
    const accepted = await refer(b, agentCall, replacing(consult.dialog!));
    expect(accepted.status).toBe(202);
    await agentCall.waitForBye(5000);
    await consult.waitForBye(5000);
    expect(notified(b)).toEqual(['SIP/2.0 100 Trying', 'SIP/2.0 200 OK']);
    // C is re-INVITEd into A's call and told its identifiers there.
    await waitUntil(
      () =>
        c.receivedRequests.some((r) => r.method === 'INVITE' && r.headers.get('X-Server-Call-Id') === callId),
      5000,
      'C re-INVITEd into the transferred call',
    );
    const reinvite = c.receivedRequests.find((r) => r.headers.get('X-Server-Call-Id') === callId)!;
    expect(reinvite.headers.get('X-Call-Leg-Id')).not.toBe(
      c.incoming[0]!.invite.headers.get('X-Call-Leg-Id'),
    );
    await expectTalking(a.media!, HZ.caller, c.media!, HZ.target);
    expect(platform.callControl.call(consultCallId)).toBeUndefined();
    expect(platform.callControl.call(callId)?.state).toBe('connected');
    expect((await call.hangup()).status).toBe(200);
    await c.incoming[0]!.waitForBye(5000);
  });

  it("a Replaces naming no call, or another user's call: 481 / 403, and nothing changes", async () => {
    const { b, c, call, agentCall, consult, callId } = await consultation();
    const unknown = await refer(
      b,
      agentCall,
      `<sip:1003@${DOMAIN}?Replaces=${encodeURIComponent('no-such-call;to-tag=x;from-tag=y')}>`,
    );
    expect(unknown.status).toBe(481);
    // C's dialog of the consultation is C's, not B's: naming it from B's REFER is refused.
    const cDialog = c.incoming[0]!.dialog!;
    const others = await refer(
      b,
      agentCall,
      `<sip:1003@${DOMAIN}?Replaces=${encodeURIComponent(`${cDialog.sipCallId};to-tag=${cDialog.remoteTag};from-tag=${cDialog.localTag}`)}>`,
    );
    expect(others.status).toBeGreaterThanOrEqual(400);
    expect(others.status).toBeLessThan(500);
    expect(notified(b)).toEqual([]);
    // Both calls go on (B's one RTP peer now talks in the consultation: the calls are checked as calls).
    expect(platform.callControl.call(callId)?.state).toBe('connected');
    expect(platform.callControl.activeCalls.filter((live) => live.state === 'connected')).toHaveLength(2);
    expect(agentCall.ended).toBe(false);
    expect(consult.ended).toBe(false);
    expect((await consult.hangup()).status).toBe(200);
    expect((await call.hangup()).status).toBe(200);
  });
});
describe('INVITE with Replaces', () => {
  it("another device of B takes over B's call: A is re-INVITEd and talks to it, the first device gets BYE", async () => {
    const a = await phone('1001');
    const b1 = await phone('1002');
    b1.answerAfterRinging(30);
    const call = a.call('1002');
    const answer = await call.waitForFinal(5000);
    expect(answer.status).toBe(200);
    const callId = answer.headers.get('X-Server-Call-Id')!;
    await expectTalking(a.media!, HZ.caller, b1.media!, HZ.agent);
    const first = b1.incoming[0]!;
    const dialog = first.dialog!;
    // The second device registers for 1002 too and replaces the first one's dialog (to-tag: ours).
    const b2 = await phone('1002');
    const takeOver = b2.call('1001', [
      ['Replaces', `${dialog.sipCallId};to-tag=${dialog.remoteTag};from-tag=${dialog.localTag}`],
    ]);
    const taken = await takeOver.waitForFinal(8000);
    expect(taken.status).toBe(200);
    expect(taken.headers.get('X-Server-Call-Id')).toBe(callId);
    await first.waitForBye(5000);
    await expectTalking(a.media!, HZ.caller, b2.media!, HZ.target);
    expect(platform.callControl.call(callId)?.state).toBe('connected');
    expect((await call.hangup()).status).toBe(200);
    await takeOver.waitForBye(5000);
  });

  it("naming no call is 481, another user's call 403", async () => {
    const a = await phone('1001');
    const b = await phone('1002');
    b.answerAfterRinging(30);
    const call = a.call('1002');
    expect((await call.waitForFinal(5000)).status).toBe(200);
    const d = await phone('1004');
    const nothing = await d
      .call('1001', [['Replaces', 'no-such-call;to-tag=x;from-tag=y']])
      .waitForFinal(5000);
    expect(nothing.status).toBe(481);
    const dialog = b.incoming[0]!.dialog!;
    const foreign = await d
      .call('1001', [
        ['Replaces', `${dialog.sipCallId};to-tag=${dialog.remoteTag};from-tag=${dialog.localTag}`],
      ])
      .waitForFinal(5000);
    expect(foreign.status).toBe(403);
    expect(b.incoming[0]!.ended).toBe(false);
    expect((await call.hangup()).status).toBe(200);
  });
});
