import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSipTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { peerPool } from '../../test/support/sip-peers.js';
import { parseTenantYaml } from '../config/load.js';
import type { JournalEntry, JournalFact } from '../journal/types.js';
import type { Platform } from '../platform.js';
import { getTag } from '../sip/headers.js';
import type { SipResponse } from '../sip/message.js';
import { type OutgoingCall, TestUa, withTimeout } from '../testing/test-ua.js';
import { waitUntil } from '../testing/wait.js';

const TENANT = `
domain: switchboard.local
users:
  - { username: a@example.com, extension: "1001", password: secret-a, number: "+358401000001" }
  - { username: b@example.com, extension: "1002", password: secret-b }
  - { username: c@example.com, extension: "1003", password: secret-c }
  - { username: d@example.com, extension: "1004", password: secret-d }
queues:
  - { name: Support, extension: "100", number: "+35810100100", members: [b@example.com, c@example.com], allocationTimeoutSeconds: 15 }
  - { name: Solo, extension: "101", members: [b@example.com] }
  - { name: RingAll, extension: "102", members: [b@example.com, c@example.com], strategy: ring-all }
  - { name: Quick, extension: "103", members: [b@example.com, c@example.com], allocationTimeoutSeconds: 1 }
  - { name: Skippy, extension: "104", members: [d@example.com, b@example.com, c@example.com] }
  - { name: Idle, extension: "105", members: [b@example.com, c@example.com], strategy: longest-idle }
  - { name: Short, extension: "106", members: [d@example.com], maxWaitSeconds: 1 }
trunks:
  - { name: pstn, host: 127.0.0.1, port: 5999 }
`;

let env: TestPlatform;
let platform: Platform;
const peers = peerPool(() => platform, 'switchboard.local');
/** A test UA over WebSocket registered as `extension` (200 asserted). */
const ua = (extension: string): Promise<TestUa> => peers.ua(extension);
/** UAs a test opens without registering them. */
const unregistered: TestUa[] = [];

beforeAll(async () => {
  env = await startSipTestPlatform(parseTenantYaml(TENANT, 'test.yaml'), {
    queueRetryDelayMs: 200,
    probeIntervalMs: 400,
  });
  platform = env.platform;
});

// Close the test's devices and let the platform notice before the next test registers again.
afterEach(async () => {
  await Promise.all(unregistered.splice(0).map((agent) => agent.close()));
  await peers.reset();
});

afterAll(async () => {
  await env.close();
});

async function factsOf(callId: string): Promise<JournalFact[]> {
  await platform.journal.flush();
  const entries: JournalEntry[] = await platform.journal.read(0, 100_000);
  return entries.filter((e) => e.fact.callId === callId).map((e) => e.fact);
}

/** `call` is answered (200) by another device while `ringing`'s rings, and `ringing` gets the CANCEL. */
async function answeredElsewhere(call: OutgoingCall, ringing: TestUa): Promise<SipResponse> {
  const final = await call.waitForFinal();
  expect(final.status).toBe(200);
  await ringing.incoming[0]!.waitForCancel();
  return final;
}

/** Wait for the call to have ended in call control (journal CallEnded). */
async function callEnded(callId: string): Promise<JournalFact[]> {
  let facts: JournalFact[] = [];
  await waitUntil(() => platform.callControl.call(callId) === undefined, 5000);
  facts = await factsOf(callId);
  return facts;
}

describe('inbound queue calls', () => {
  it("runs the seed's scenario: A calls Support, B declines, C answers, A hangs up", async () => {
    const [a, b, c] = await Promise.all([ua('1001'), ua('1002'), ua('1003')]);
    b.rejectAfterRinging(603, 50);
    c.answerAfterRinging(50);
    const call = a.call('100');
    const progress = await call.waitForProgress();
    const final = await call.waitForFinal();
    expect(final.status).toBe(200);

    const callId = final.headers.get('X-Server-Call-Id')!;
    expect(callId).toMatch(/^[0-9a-f-]{36}$/);
    expect(progress.headers.get('X-Server-Call-Id')).toBe(callId);
    const callerLegId = final.headers.get('X-Call-Leg-Id')!;
    expect(progress.headers.get('X-Call-Leg-Id')).toBe(callerLegId);

    const offerB = b.incoming[0]!;
    const offerC = c.incoming[0]!;
    for (const offer of [offerB, offerC]) {
      expect(offer.header('X-Server-Call-Id')).toBe(callId);
      expect(offer.header('X-Queue-Name')).toBe('Support');
      expect(offer.header('X-Queue-Id')).toBe(platform.directory.queueByReference('Support')!.queueId);
    }
    const legIds = new Set([callerLegId, offerB.header('X-Call-Leg-Id'), offerC.header('X-Call-Leg-Id')]);
    expect(legIds.size).toBe(3);
    const sipCallIds = new Set([
      call.invite.headers.get('Call-ID'),
      offerB.header('Call-ID'),
      offerC.header('Call-ID'),
    ]);
    expect(sipCallIds.size).toBe(3);
    expect(new Set([offerB.sessionId, offerC.sessionId]).size).toBe(2);
    // The SDP of C's answer reached A unchanged (late answer relayed).
    expect(final.body.toString()).toContain('o=1003');
    expect(offerC.invite.body.toString()).toContain('o=1001');

    await call.hangup();
    await offerC.waitForBye();
    const facts = await callEnded(callId);
    const b2 = platform.directory.userByExtension('1002')!.userId;
    const c3 = platform.directory.userByExtension('1003')!.userId;
    const summary = facts.map((f) => {
      switch (f.type) {
        case 'AllocationOffered':
        case 'AllocationConnected':
          return `${f.type}:${f.userId === b2 ? 'B' : f.userId === c3 ? 'C' : '?'}`;
        case 'AllocationRejected':
          return `${f.type}:${f.userId === b2 ? 'B' : 'C'}:${f.reason}`;
        case 'QueueLeft':
          return `${f.type}:${f.reason}`;
        case 'CallEnded':
          return `${f.type}:${f.reason}`;
        default:
          return f.type;
      }
    });
    expect(summary).toEqual([
      'CallStarted',
      'LegCreated',
      'QueueEntered',
      'LegCreated',
      'AllocationOffered:B',
      'LegRinging',
      'AllocationRejected:B:GenericUserRejected',
      'LegEnded',
      'LegCreated',
      'AllocationOffered:C',
      'LegRinging',
      'LegAnswered',
      'AllocationConnected:C',
      'QueueLeft:Answered',
      'LegAnswered',
      'LegEnded',
      'LegEnded',
      'CallEnded:Normal',
    ]);
    // Journal facts carry the SIP identifiers of each leg.
    const created = facts.filter(
      (f): f is Extract<JournalFact, { type: 'LegCreated' }> => f.type === 'LegCreated',
    );
    expect(created.map((f) => f.callLegId)).toEqual([
      callerLegId,
      offerB.header('X-Call-Leg-Id'),
      offerC.header('X-Call-Leg-Id'),
    ]);
    expect(created[0]!.sip.sipCallId).toBe(call.invite.headers.get('Call-ID'));
    expect(created[1]!.sip.sipCallId).toBe(offerB.header('Call-ID'));
    expect(created[2]!.sip.localTag).toBe(getTag(offerC.header('From')!));
  });

  it('offers the same member the call again with a new leg and a new SIP session', async () => {
    const [a, b] = await Promise.all([ua('1001'), ua('1002')]);
    let offers = 0;
    b.onIncoming((call) => {
      offers++;
      call.ring();
      if (offers === 1) setTimeout(() => call.reject(486), 20);
      else setTimeout(() => call.answer(), 20);
    });
    const call = a.call('101');
    const final = await call.waitForFinal();
    expect(final.status).toBe(200);
    expect(b.incoming).toHaveLength(2);
    const [first, second] = b.incoming;
    expect(first!.header('X-Server-Call-Id')).toBe(second!.header('X-Server-Call-Id'));
    expect(first!.header('X-Call-Leg-Id')).not.toBe(second!.header('X-Call-Leg-Id'));
    expect(first!.sessionId).not.toBe(second!.sessionId);
    await second!.hangup();
    await call.waitForBye();
    const facts = await callEnded(final.headers.get('X-Server-Call-Id')!);
    expect(facts.filter((f) => f.type === 'AllocationOffered')).toHaveLength(2);
  });

  it('ring-all offers every member and CANCELs the others with OtherConnected when one answers', async () => {
    const [a, b, c] = await Promise.all([ua('1001'), ua('1002'), ua('1003')]);
    c.answerAfterRinging(100);
    const call = a.call('102');
    const final = await answeredElsewhere(call, b);
    expect(b.incoming[0]!.cancelRequest?.headers.get('Reason')).toContain('OtherConnected');
    const callId = final.headers.get('X-Server-Call-Id')!;
    await call.hangup();
    const facts = await callEnded(callId);
    expect(facts.filter((f) => f.type === 'AllocationOffered')).toHaveLength(2);
    expect(facts.find((f) => f.type === 'AllocationRejected')).toMatchObject({ reason: 'OtherConnected' });
  });

  it('moves on after allocationTimeoutSeconds and journals the Timeout', async () => {
    const [a, b, c] = await Promise.all([ua('1001'), ua('1002'), ua('1003')]);
    b.onIncoming((call) => call.ring()); // never answers
    c.answerAfterRinging(20);
    const call = a.call('103');
    const final = await call.waitForFinal(5000);
    expect(final.status).toBe(200);
    await b.incoming[0]!.waitForCancel();
    const callId = final.headers.get('X-Server-Call-Id')!;
    await call.hangup();
    const facts = await callEnded(callId);
    expect(facts.find((f) => f.type === 'AllocationRejected')).toMatchObject({ reason: 'Timeout' });
  });

  it('CANCELs pending allocations when the caller abandons', async () => {
    const [a, b] = await Promise.all([ua('1001'), ua('1002')]);
    b.onIncoming((call) => call.ring());
    const call = a.call('100');
    await b.waitForIncoming();
    await call.waitForProgress();
    call.cancel();
    const final = await call.waitForFinal();
    expect(final.status).toBe(487);
    await b.incoming[0]!.waitForCancel();
    const callId = final.headers.get('X-Server-Call-Id')!;
    const facts = await callEnded(callId);
    expect(facts.find((f) => f.type === 'AllocationRejected')).toMatchObject({ reason: 'CallDisconnected' });
    expect(facts.find((f) => f.type === 'QueueLeft')).toMatchObject({ reason: 'CallerHungUp' });
    expect(facts.at(-1)).toMatchObject({ type: 'CallEnded', reason: 'CallerCancelled' });
  });

  it('skips members who are not registered or already on a call', async () => {
    // Queue Skippy: d (not registered), b (busy on a direct call with a), c (free).
    const [a, b, c, d2] = await Promise.all([ua('1001'), ua('1002'), ua('1003'), ua('1004')]);
    await d2.unregister();
    b.onIncoming((call) => call.answer());
    const busyCall = a.call('1002');
    expect((await busyCall.waitForFinal()).status).toBe(200);

    const caller = await TestUa.overWebSocket(platform.wsUrl, {
      extension: '1004',
      password: 'secret-d',
      domain: 'switchboard.local',
    });
    unregistered.push(caller);
    c.onIncoming((call) => call.answer());
    const call = caller.call('104');
    const final = await call.waitForFinal();
    expect(final.status).toBe(200);
    expect(b.incoming).toHaveLength(1); // only the direct call
    expect(c.incoming).toHaveLength(1);
    await call.hangup();
    await busyCall.hangup();
  });

  it('longest-idle offers the member idle the longest', async () => {
    const [a, b, c] = await Promise.all([ua('1001'), ua('1002'), ua('1003')]);
    // c takes a call first, so b has been idle longer.
    c.onIncoming((call) => call.answer());
    b.onIncoming((call) => call.answer());
    const direct = a.call('1003');
    expect((await direct.waitForFinal()).status).toBe(200);
    await direct.hangup();
    await waitUntil(() => platform.callControl.activeCalls.length === 0, 5000);
    const call = a.call('105');
    expect((await call.waitForFinal()).status).toBe(200);
    expect(b.incoming).toHaveLength(1);
    expect(c.incoming).toHaveLength(1);
    await call.hangup();
  });

  it('ends the call with 480 when maxWaitSeconds passes and nobody can take it', async () => {
    const a = await ua('1001');
    const call = a.call('106');
    const final = await call.waitForFinal(5000);
    expect(final.status).toBe(480);
    const facts = await callEnded(final.headers.get('X-Server-Call-Id')!);
    expect(facts.find((f) => f.type === 'QueueLeft')).toMatchObject({ reason: 'MaxWaitExceeded' });
  });
});

describe('direct calls', () => {
  it('rings every registered device of the user; the first to answer wins, the other is CANCELled', async () => {
    const a = await ua('1001');
    const b1 = await ua('1002');
    const b2 = await ua('1002');
    expect(platform.location.lookup('1002')).toHaveLength(2);
    b2.answerAfterRinging(50);
    const call = a.call('1002');
    const final = await answeredElsewhere(call, b1);
    expect(b1.incoming[0]!.header('X-Server-Call-Id')).toBe(final.headers.get('X-Server-Call-Id'));
    await b2.incoming[0]!.hangup();
    await call.waitForBye();
    const facts = await callEnded(final.headers.get('X-Server-Call-Id')!);
    expect(facts[0]).toMatchObject({
      type: 'CallStarted',
      callKind: 'direct',
      aNum: '+358401000001',
      bNum: '1002',
    });
  });

  it('answers 480 for a user with no registered device and 404 for a target that is neither a user, a queue nor a number', async () => {
    const a = await ua('1001');
    expect(platform.location.lookup('1003')).toHaveLength(0);
    expect((await a.call('1003').waitForFinal()).status).toBe(480);
    expect((await a.call('nobody').waitForFinal()).status).toBe(404);
  });

  it('requires digest authentication for INVITEs from users', async () => {
    const intruder = await TestUa.overWebSocket(platform.wsUrl, {
      extension: '1001',
      password: 'wrong',
      domain: 'switchboard.local',
    });
    unregistered.push(intruder);
    const final = await intruder.call('1002').waitForFinal();
    // Challenged (407), then refused: wrong credentials get 403 whether or not the user exists.
    expect(final.status).toBe(403);
  });

  it('ends a call whose party vanished: the in-dialog OPTIONS probe gets 481', async () => {
    const [a, b] = await Promise.all([ua('1001'), ua('1002')]);
    b.onIncoming((call) => call.answer());
    const call = a.call('1002');
    const final = await call.waitForFinal();
    expect(final.status).toBe(200);
    // Probes of a live call are answered: the call survives several intervals.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(platform.callControl.call(final.headers.get('X-Server-Call-Id')!)?.state).toBe('connected');
    expect(b.receivedRequests.some((r) => r.method === 'OPTIONS')).toBe(true);
    b.forgetDialogs(); // B "restarts": its dialog is gone, OPTIONS gets 481
    await call.waitForBye(3000);
    const facts = await callEnded(final.headers.get('X-Server-Call-Id')!);
    expect(facts.find((f) => f.type === 'LegEnded' && f.cause === 'PartyGone')).toBeDefined();
  });

  it('relays re-INVITE (hold) and INFO, and answers 481 for unknown dialogs', async () => {
    const [a, b] = await Promise.all([ua('1001'), ua('1002')]);
    b.onIncoming((call) => call.answer());
    const call = a.call('1002');
    expect((await call.waitForFinal()).status).toBe(200);
    const reinvite = await a.sendInDialog(call.dialog!, 'INVITE', Buffer.from('v=0\r\na=sendonly\r\n'));
    expect(reinvite.status).toBe(200);
    const relayed = b.receivedRequests.find(
      (r) => r.method === 'INVITE' && getTag(r.headers.get('To') ?? ''),
    );
    expect(relayed?.body.toString()).toContain('a=sendonly');
    const info = await a.sendInDialog(call.dialog!, 'INFO');
    expect(info.status).toBe(200);
    await call.hangup();
    const bye = await withTimeout(a.sendInDialog(call.dialog!, 'BYE'), 5000, 'stale BYE');
    expect(bye.status).toBe(481);
  });
});
