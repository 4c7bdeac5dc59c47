/**
 * Call control through the trunk (issue 3), with sipp as the trunk's SIP peer over UDP and the test
 * UA (over WebSocket) as our users' devices. The trunk is trusted by source address AND port, so
 * sipp binds exactly the configured trunk port (-p) when it plays the carrier, and any other port
 * on the same host must authenticate. Every proof is made on the wire (sipp's verdict and message
 * log, the device's INVITE) and in the journal of call-control facts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseTenantYaml } from '../src/config/load.js';
import type { JournalEntry, JournalFact } from '../src/journal/types.js';
import type { Platform } from '../src/platform.js';
import type { TestUa } from '../src/testing/test-ua.js';
import { waitUntil } from '../src/testing/wait.js';
import { EXTERNAL_CALLEE, EXTERNAL_CALLER, QUEUE_NUMBER, UUID, withTrunk } from './support/carrier.js';
import { startSipTestPlatform, type TestPlatform } from './support/platform.js';
import { peerPool } from './support/sip-peers.js';
import * as sipp from './support/sipp.js';
import { expectSippPassed } from './support/sipp-expect.js';

const DOMAIN = 'switchboard.local';
const USER_A_NUMBER = '+358401000001';
// Users and queues; withTrunk adds the trunk once its port is known.
const ENTITIES = `
users:
  - { username: a@example.com, extension: "1001", password: secret-a, number: "${USER_A_NUMBER}" }
  - { username: b@example.com, extension: "1002", password: secret-b }
queues:
  - { name: Support, extension: "100", number: "${QUEUE_NUMBER}", members: [b@example.com] }
`;

let env: TestPlatform;
let platform: Platform;
let trunkPort: number;
const peers = peerPool(() => platform, DOMAIN);
/** A test UA over WebSocket registered as `extension` (200 asserted). */
const ua = (extension: string): Promise<TestUa> => peers.ua(extension);

beforeAll(async () => {
  trunkPort = await sipp.freeUdpPort();
  env = await startSipTestPlatform(parseTenantYaml(withTrunk(DOMAIN, trunkPort, ENTITIES), 'trunk.yaml'));
  platform = env.platform;
});

afterEach(() => peers.reset());

afterAll(async () => {
  await env?.close();
});

/** The journal facts of one call, once call control has let go of it. */
async function factsOfEndedCall(callId: string): Promise<JournalFact[]> {
  await waitUntil(() => platform.callControl.call(callId) === undefined, 5000);
  await platform.journal.flush();
  const entries: JournalEntry[] = await platform.journal.read(0, 100_000);
  return entries.filter((e) => e.fact.callId === callId).map((e) => e.fact);
}

/** sipp as a caller on the carrier's side: from the trunk's own port unless told otherwise. */
function trunkCaller(
  scenario: string,
  opts: Partial<sipp.SippOptions> & { service: string },
): Promise<sipp.SippResult> {
  return sipp.runSipp({
    scenario: sipp.loadScenario(scenario),
    name: scenario,
    remote: { host: '127.0.0.1', port: platform.sipPort },
    localPort: trunkPort,
    timeoutMs: 15_000,
    ...opts,
    variables: { caller: EXTERNAL_CALLER, ...opts.variables },
  });
}

/** sipp as the carrier's far end, on the trunk's own port, playing one of test/scenarios. */
function carrierPlaying(scenario: string, opts: Partial<sipp.SippOptions> = {}): Promise<sipp.SippProcess> {
  return sipp.sippUas({
    scenario: sipp.loadScenario(scenario),
    name: scenario,
    localPort: trunkPort,
    timeoutMs: 15_000,
    ...opts,
  });
}

interface LoggedMessage {
  direction: 'sent' | 'received';
  /** The start line: a request line or a status line. */
  startLine: string;
  text: string;
}

/** The SIP messages of a -trace_msg log, in order. */
function loggedMessages(result: sipp.SippResult): LoggedMessage[] {
  const messages: LoggedMessage[] = [];
  const pattern =
    /message (sent|received) (?:\[\d+\] bytes :|\(\d+ bytes\):)[^\n]*\n\s*\n([\s\S]*?)(?=\n-{10,} |$)/g;
  for (const match of result.messageLog.matchAll(pattern)) {
    const text = match[2]!.replace(/\r/g, '');
    messages.push({
      direction: match[1] === 'sent' ? 'sent' : 'received',
      startLine: text.split('\n', 1)[0]!.trim(),
      text,
    });
  }
  return messages;
}

function headerOf(message: LoggedMessage, name: string): string | undefined {
  const match = new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(message.text);
  return match?.[1]?.trim();
}

/** Status codes of the responses sipp received, in order. */
function receivedStatuses(result: sipp.SippResult): number[] {
  return loggedMessages(result)
    .filter((m) => m.direction === 'received' && m.startLine.startsWith('SIP/2.0 '))
    .map((m) => Number(m.startLine.split(' ')[1]));
}

function receivedResponse(result: sipp.SippResult, status: number): LoggedMessage {
  const message = loggedMessages(result).find(
    (m) => m.direction === 'received' && m.startLine.startsWith(`SIP/2.0 ${status} `),
  );
  expect(message, `sipp received no ${status}\n${sipp.describeSippResult(result)}`).toBeDefined();
  return message!;
}

describe('inbound calls from the trunk', () => {
  it('an external caller reaches the queue without digest; the member answers; sipp sees the ids and hangs up', async () => {
    const member = await ua('1002');
    member.answerAfterRinging(50);

    const result = await trunkCaller('trunk-call', { service: QUEUE_NUMBER });
    expectSippPassed(result);
    expect(receivedStatuses(result).filter((s) => s !== 100)).toEqual([180, 200, 200]);
    // No challenge: the trunk is trusted by its source address and port.
    expect(result.messageLog).not.toMatch(/^SIP\/2\.0 407/m);

    const ringing = receivedResponse(result, 180);
    const answer = receivedResponse(result, 200);
    const callId = headerOf(answer, 'X-Server-Call-Id')!;
    const callerLegId = headerOf(answer, 'X-Call-Leg-Id')!;
    expect(callId).toMatch(UUID);
    expect(callerLegId).toMatch(UUID);
    expect(headerOf(ringing, 'X-Server-Call-Id')).toBe(callId);
    expect(headerOf(ringing, 'X-Call-Leg-Id')).toBe(callerLegId);
    // The member's SDP answer reached the carrier unchanged.
    expect(answer.text).toContain('o=1002');

    const offer = member.incoming[0]!;
    expect(member.incoming).toHaveLength(1);
    const queue = platform.directory.queueByReference('Support')!;
    expect(offer.header('X-Server-Call-Id')).toBe(callId);
    expect(offer.header('X-Queue-Name')).toBe('Support');
    expect(offer.header('X-Queue-Id')).toBe(queue.queueId);
    expect(offer.header('X-Call-Leg-Id')).toMatch(UUID);
    expect(offer.header('X-Call-Leg-Id')).not.toBe(callerLegId);
    // The member sees the external caller (number and display name from the carrier's From).
    expect(offer.header('From')).toMatch(
      new RegExp(`^"External caller" <sip:\\${EXTERNAL_CALLER}@${DOMAIN}>;tag=`),
    );
    expect(offer.invite.body.toString()).toContain('o=trunk');
    await offer.waitForBye();

    const facts = await factsOfEndedCall(callId);
    expect(facts[0]).toMatchObject({
      type: 'CallStarted',
      callKind: 'inbound-service',
      aNum: EXTERNAL_CALLER,
      bNum: QUEUE_NUMBER,
      queueId: queue.queueId,
    });
    expect(facts[0]).not.toHaveProperty('callerUserId', expect.anything());
    expect(facts.find((f) => f.type === 'LegCreated' && f.role === 'caller')).toMatchObject({
      callLegId: callerLegId,
      target: `udp:127.0.0.1:${trunkPort}`,
    });
    expect(facts.find((f) => f.type === 'AllocationConnected')).toMatchObject({
      callLegId: offer.header('X-Call-Leg-Id'),
      queueId: queue.queueId,
      userId: platform.directory.userByExtension('1002')!.userId,
    });
    expect(facts.at(-1)).toMatchObject({ type: 'CallEnded', reason: 'Normal', sipStatus: 200 });
    expect(facts.find((f) => f.type === 'LegEnded' && f.callLegId === callerLegId)).toMatchObject({
      cause: 'CallerHangup',
    });
  });

  it("the trunk hangs up a direct call to a user's number: the user's device gets the BYE", async () => {
    const a = await ua('1001');
    a.answerAfterRinging(50);

    const result = await trunkCaller('trunk-call', { service: USER_A_NUMBER });
    expectSippPassed(result);
    const callId = headerOf(receivedResponse(result, 200), 'X-Server-Call-Id')!;
    expect(callId).toMatch(UUID);

    const incoming = a.incoming[0]!;
    expect(incoming.header('X-Server-Call-Id')).toBe(callId);
    expect(incoming.header('X-Queue-Id')).toBeUndefined();
    await incoming.waitForBye();
    expect(a.receivedRequests.filter((r) => r.method === 'BYE')).toHaveLength(1);

    const facts = await factsOfEndedCall(callId);
    expect(facts[0]).toMatchObject({
      type: 'CallStarted',
      callKind: 'direct',
      aNum: EXTERNAL_CALLER,
      bNum: USER_A_NUMBER,
    });
    expect(facts.find((f) => f.type === 'LegCreated' && f.role === 'callee')).toMatchObject({
      userId: platform.directory.userByExtension('1001')!.userId,
    });
    expect(facts.at(-1)).toMatchObject({
      type: 'CallEnded',
      reason: 'Normal',
      answeredByUserId: platform.directory.userByExtension('1001')!.userId,
    });
  });

  it('refuses a trunk call to a number that matches nothing with 404', async () => {
    const callsBefore = (await platform.journal.read(0, 100_000)).length;
    const result = await trunkCaller('invite-refused', { service: '+4930999999' });
    expectSippPassed(result);
    expect(receivedStatuses(result).filter((s) => s !== 100)).toEqual([404]);
    // Only users may call out through the trunk: the carrier cannot hairpin through us.
    await platform.journal.flush();
    expect(await platform.journal.read(0, 100_000)).toHaveLength(callsBefore);
  });

  it('challenges an INVITE from the trunk host on another port with 407: host alone is not trusted', async () => {
    const otherPort = await sipp.freeUdpPort();
    expect(otherPort).not.toBe(trunkPort);
    const result = await trunkCaller('invite-refused', { service: QUEUE_NUMBER, localPort: otherPort });
    expectSippPassed(result);
    expect(receivedStatuses(result).filter((s) => s !== 100)).toEqual([407]);
    expect(headerOf(receivedResponse(result, 407), 'Proxy-Authenticate')).toMatch(
      new RegExp(`^Digest .*realm="${DOMAIN}"`),
    );
    expect(platform.callControl.activeCalls).toHaveLength(0);
  });
});

describe('outbound calls to the trunk', () => {
  it('a user calls an external number: the INVITE reaches the carrier with the number and identity, and the BYE follows', async () => {
    const carrier = await sipp.sippUas({ localPort: trunkPort, service: EXTERNAL_CALLEE, timeoutMs: 15_000 });
    try {
      const a = await ua('1001');
      const call = a.call(EXTERNAL_CALLEE);
      const final = await call.waitForFinal();
      expect(final.status).toBe(200);
      const callId = final.headers.get('X-Server-Call-Id')!;
      expect(callId).toMatch(UUID);
      expect(final.headers.get('X-Call-Leg-Id')).toMatch(UUID);
      // The carrier's SDP answer reached the user unchanged.
      expect(final.body.toString()).toContain('o=sipp');

      expect((await call.hangup()).status).toBe(200);
      const result = await carrier.done;
      expectSippPassed(result);

      const received = loggedMessages(result).filter((m) => m.direction === 'received');
      const invite = received.find((m) => m.startLine.startsWith('INVITE '))!;
      expect(invite.startLine).toBe(`INVITE sip:${EXTERNAL_CALLEE}@127.0.0.1:${trunkPort} SIP/2.0`);
      expect(headerOf(invite, 'From')).toContain(`<sip:${USER_A_NUMBER}@${DOMAIN}>`);
      expect(headerOf(invite, 'P-Asserted-Identity')).toContain(`<sip:${USER_A_NUMBER}@${DOMAIN}>`);
      expect(headerOf(invite, 'To')).toContain(`sip:${EXTERNAL_CALLEE}@127.0.0.1:${trunkPort}`);
      expect(headerOf(invite, 'X-Server-Call-Id')).toBe(callId);
      expect(invite.text).toContain('o=1001');
      const bye = received.find((m) => m.startLine.startsWith('BYE '));
      expect(bye, sipp.describeSippResult(result)).toBeDefined();
      expect(headerOf(bye!, 'Call-ID')).toBe(headerOf(invite, 'Call-ID'));

      const facts = await factsOfEndedCall(callId);
      expect(facts[0]).toMatchObject({
        type: 'CallStarted',
        callKind: 'direct',
        aNum: USER_A_NUMBER,
        bNum: EXTERNAL_CALLEE,
        callerUserId: platform.directory.userByExtension('1001')!.userId,
      });
      const trunkLeg = facts.find((f) => f.type === 'LegCreated' && f.role === 'trunk');
      expect(trunkLeg).toMatchObject({
        direction: 'outbound',
        target: `sip:${EXTERNAL_CALLEE}@127.0.0.1:${trunkPort}`,
        sip: { sipCallId: headerOf(invite, 'Call-ID') },
      });
      expect(facts.at(-1)).toMatchObject({ type: 'CallEnded', reason: 'Normal', sipStatus: 200 });
    } finally {
      await carrier.stop();
    }
  });

  it("the carrier's far end hangs up: the user gets the BYE and the call ends Normal", async () => {
    const carrier = await carrierPlaying('uas-answer-hangup', { service: EXTERNAL_CALLEE });
    try {
      const a = await ua('1001');
      const call = a.call(EXTERNAL_CALLEE);
      const final = await call.waitForFinal();
      expect(final.status).toBe(200);
      await call.waitForBye();
      const result = await carrier.done;
      expectSippPassed(result);
      expect(receivedStatuses(result)).toEqual([200]);

      const callId = final.headers.get('X-Server-Call-Id')!;
      const facts = await factsOfEndedCall(callId);
      const trunkLeg = facts.find((f) => f.type === 'LegCreated' && f.role === 'trunk');
      expect(trunkLeg).toBeDefined();
      const trunkLegId = trunkLeg?.type === 'LegCreated' ? trunkLeg.callLegId : undefined;
      expect(facts.find((f) => f.type === 'LegEnded' && f.callLegId === trunkLegId)).toMatchObject({
        cause: 'CalleeHangup',
      });
      expect(facts.at(-1)).toMatchObject({ type: 'CallEnded', reason: 'Normal' });
    } finally {
      await carrier.stop();
    }
  });

  it("relays the carrier's 486 to the user and journals the call as Busy", async () => {
    const carrier = await carrierPlaying('uas-busy');
    try {
      const a = await ua('1001');
      const final = await a.call(EXTERNAL_CALLEE).waitForFinal();
      expect(final.status).toBe(486);
      const result = await carrier.done;
      expectSippPassed(result);

      const facts = await factsOfEndedCall(final.headers.get('X-Server-Call-Id')!);
      expect(facts.find((f) => f.type === 'LegCreated' && f.role === 'trunk')).toBeDefined();
      expect(facts.at(-1)).toMatchObject({ type: 'CallEnded', reason: 'Busy', sipStatus: 486 });
    } finally {
      await carrier.stop();
    }
  });
});
