/**
 * The media plane (issue 13, DESIGN.md §9) with a real rtpengine (the platform's own child): every
 * call's media is anchored, verified by the audio that arrives — each device sends a tone and
 * detects the other's, decoded from the RTP it received — and by where it came from (the engine,
 * never the other party). UDP phone ↔ UDP phone directly and through the seed's queue, and a user
 * ↔ the trunk's carrier.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseTenantYaml } from '../src/config/load.js';
import type { Platform } from '../src/platform.js';
import { parseRemoteSdp, RtpPeer } from '../src/testing/rtp-peer.js';
import { TestUa } from '../src/testing/test-ua.js';
import { waitUntil } from '../src/testing/wait.js';
import { mediaPhone, untilAgentConnected } from './support/media-phones.js';
import { startSipTestPlatform, type TestPlatform } from './support/platform.js';
import { freeUdpPort, sippUas } from './support/sipp.js';
import { expectSippPassed } from './support/sipp-expect.js';

const DOMAIN = 'switchboard.local';
const TONES = [500, 1000, 1500];
let env: TestPlatform;
let platform: Platform;
let trunkPort: number;
const opened: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  trunkPort = await freeUdpPort();
  const tenant = parseTenantYaml(
    `
domain: ${DOMAIN}
users:
  - { username: a@example.com, extension: "1001", password: secret-a, number: "+358401000001" }
  - { username: b@example.com, extension: "1002", password: secret-b }
  - { username: c@example.com, extension: "1003", password: secret-c }
queues:
  - { name: Support, extension: "100", number: "+35810100100", members: [b@example.com, c@example.com] }
trunks:
  - { name: pstn, host: 127.0.0.1, port: ${trunkPort} }
`,
    'media.yaml',
  );
  env = await startSipTestPlatform(tenant, { mediaDefault: 'auto', queueRetryDelayMs: 200 });
  ({ platform } = env);
  expect(platform.media, 'the platform started its own rtpengine').toBeDefined();
}, 30_000);

afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
  for (const extension of ['1001', '1002', '1003']) platform.location.removeAll(extension, 'unregistered');
  await waitUntil(() => platform.callControl.activeCalls.length === 0, 5000, 'no call left');
});

afterAll(() => env?.close());

/** A UDP phone with its own RTP peer, registered as `extension`. */
const phone = (extension: string): Promise<TestUa> =>
  mediaPhone(platform, extension, { domain: DOMAIN, opened });

/** The engine's port range: SDP from the engine names a port in it, never a phone's own. */
function enginePortRange(): [number, number] {
  const process = platform.mediaProcess!;
  return [process.portMin, process.portMax];
}

function expectEngineSdp(sdp: Buffer, notPort: number): void {
  const media = parseRemoteSdp(sdp.toString());
  const [min, max] = enginePortRange();
  expect(media.address).toBe('127.0.0.1');
  expect(media.port).not.toBe(notPort);
  expect(media.port).toBeGreaterThanOrEqual(min);
  expect(media.port).toBeLessThanOrEqual(max);
}

/** Each side hears the other's tone, and the audio comes from the engine's ports. */
async function expectTwoWayAudio(a: RtpPeer, aTone: number, b: RtpPeer, bTone: number): Promise<void> {
  a.startTone(aTone);
  b.startTone(bTone);
  const [heardByA, heardByB] = await Promise.all([
    a.waitForTone(bTone, TONES, { timeoutMs: 5000 }),
    b.waitForTone(aTone, TONES, { timeoutMs: 5000 }),
  ]);
  expect(heardByA.frequency).toBe(bTone);
  expect(heardByB.frequency).toBe(aTone);
  const [min, max] = enginePortRange();
  for (const peer of [a, b]) {
    expect(peer.received.sources.length).toBeGreaterThan(0);
    for (const source of peer.received.sources) {
      const port = Number(source.split(':').at(-1));
      expect(port, `${source} is one of the engine's ports`).toBeGreaterThanOrEqual(min);
      expect(port).toBeLessThanOrEqual(max);
    }
  }
}

describe('media anchored in rtpengine', () => {
  it('health says which engine anchors the calls', async () => {
    const health = (await (await fetch(new URL('health', platform.httpUrl))).json()) as {
      media: { engine: string | null; anchored: boolean };
    };
    expect(health.media.anchored).toBe(true);
    expect(health.media.engine).toContain('rtpengine');
  });

  it('a direct call between two UDP phones: each hears the other, through the engine only', async () => {
    const a = await phone('1001');
    const c = await phone('1003');
    c.onIncoming((incoming) => {
      incoming.ring();
      setTimeout(() => incoming.answer(), 50);
    });
    const call = a.call('1003');
    const answer = await call.waitForFinal(5000);
    expect(answer.status).toBe(200);

    // The SDP each party received names the engine, never the other party.
    const invite = c.receivedRequests.find((request) => request.method === 'INVITE')!;
    expectEngineSdp(invite.body, a.media!.port);
    expectEngineSdp(answer.body, c.media!.port);

    await expectTwoWayAudio(a.media!, 1000, c.media!, 500);
    expect((await call.hangup()).status).toBe(200);
  });

  it("the seed's queue call: B declines, C answers; A and C hear each other", async () => {
    const a = await phone('1001');
    const b = await phone('1002');
    const c = await phone('1003');
    b.rejectAfterRinging(603, 50);
    c.answerAfterRinging(50);
    const call = a.call('100');
    const answer = await call.waitForFinal(10_000);
    expect(answer.status).toBe(200);
    expectEngineSdp(answer.body, c.media!.port);
    await untilAgentConnected(a, answer);
    await expectTwoWayAudio(a.media!, 1000, c.media!, 1500);
    // B only declined: nothing reached its RTP peer.
    expect(b.media!.received.packets).toBe(0);
    expect((await call.hangup()).status).toBe(200);
  });

  it("a user calls out through the trunk: the carrier's device and the user hear each other", async () => {
    const a = await phone('1001');
    const carrierMedia = await RtpPeer.open({ host: '127.0.0.1' });
    // The carrier is a device at the trunk's address (it does not register).
    const carrier = await TestUa.overUdp(
      { host: '127.0.0.1', port: platform.sipPort },
      { extension: 'carrier', password: 'none', domain: DOMAIN, media: carrierMedia },
      { port: trunkPort },
    );
    opened.push(carrierMedia, carrier);
    carrier.answerAfterRinging(50);
    const call = a.call('+3589555000');
    const answer = await call.waitForFinal(5000);
    expect(answer.status).toBe(200);
    const invite = carrier.receivedRequests.find((request) => request.method === 'INVITE')!;
    expect(invite.uri).toContain(`sip:+3589555000@127.0.0.1:${trunkPort}`);
    expectEngineSdp(invite.body, a.media!.port);
    await expectTwoWayAudio(a.media!, 1000, carrierMedia, 500);
    expect((await call.hangup()).status).toBe(200);
  });

  it("sipp as the carrier (-rtp_echo): the user's tone crosses the trunk through the engine and comes back", async () => {
    const a = await phone('1001');
    const mediaPort = await freeUdpPort();
    const carrier = await sippUas({
      localPort: trunkPort,
      service: 'carrier',
      timeoutMs: 20_000,
      args: ['-rtp_echo', '-mp', String(mediaPort)],
    });
    try {
      const call = a.call('+3589555001');
      const answer = await call.waitForFinal(5000);
      expect(answer.status).toBe(200);
      expectEngineSdp(answer.body, mediaPort);
      a.media!.startTone(1000);
      const heard = await a.media!.waitForTone(1000, TONES, { timeoutMs: 5000 });
      expect(heard.frequency).toBe(1000);
      const [min, max] = enginePortRange();
      for (const source of a.media!.received.sources) {
        const port = Number(source.split(':').at(-1));
        expect(port).toBeGreaterThanOrEqual(min);
        expect(port).toBeLessThanOrEqual(max);
      }
      expect((await call.hangup()).status).toBe(200);
      const result = await carrier.done;
      expectSippPassed(result);
      // What sipp got was the engine's offer, not the phone's.
      expect(result.messageLog).not.toContain(`m=audio ${a.media!.port} `);
    } finally {
      await carrier.stop();
    }
  });

  it("hold and resume go through the engine: directions and the engine's address in both re-INVITEs, audio both ways after resume", async () => {
    const a = await phone('1001');
    const c = await phone('1003');
    c.answerAfterRinging(20);
    const call = a.call('1003');
    expect((await call.waitForFinal(5000)).status).toBe(200);
    await expectTwoWayAudio(a.media!, 1000, c.media!, 500);

    // A holds: its re-INVITE offers sendonly; C is told recvonly by the engine, at the engine's address.
    const hold = await a.sendInDialog(
      call.dialog!,
      'INVITE',
      Buffer.from(a.media!.sdp('1001', { direction: 'sendonly' })),
    );
    expect(hold.status).toBe(200);
    const reinvite = c.receivedRequests.filter((request) => request.method === 'INVITE').at(-1)!;
    expect(reinvite.body.toString()).toMatch(/^a=sendonly/m);
    expectEngineSdp(reinvite.body, a.media!.port);
    expect(hold.body.toString()).toMatch(/^a=recvonly/m);
    expectEngineSdp(hold.body, c.media!.port);
    a.media!.stop(); // on hold, A's phone sends nothing of its own

    // Resume: sendrecv again, and the tones cross both ways once more.
    const resume = await a.sendInDialog(call.dialog!, 'INVITE', Buffer.from(a.media!.sdp('1001')));
    expect(resume.status).toBe(200);
    expect(resume.body.toString()).not.toMatch(/^a=(sendonly|recvonly|inactive)/m);
    const fromA = a.media!.receivedSampleCount;
    const fromC = c.media!.receivedSampleCount;
    a.media!.startTone(1500);
    expect((await c.media!.waitForTone(1500, TONES, { timeoutMs: 5000, fromSample: fromC })).frequency).toBe(
      1500,
    );
    expect((await a.media!.waitForTone(500, TONES, { timeoutMs: 5000, fromSample: fromA })).frequency).toBe(
      500,
    );
    expect((await call.hangup()).status).toBe(200);
  });

  it('ends the media with the call: the engine forgets it', async () => {
    const a = await phone('1001');
    const c = await phone('1003');
    c.answerAfterRinging(20);
    const call = a.call('1003');
    expect((await call.waitForFinal(5000)).status).toBe(200);
    const callId = platform.callControl.activeCalls[0]!.callId;
    expect((await call.hangup()).status).toBe(200);
    await waitUntil(() => platform.callControl.activeCalls.length === 0, 3000, 'the call ended');
    const engine = platform.media as unknown as { query(callId: string): Promise<unknown> };
    const forgotten = async () => {
      try {
        await engine.query(callId);
        return false;
      } catch (err) {
        return /unknown call-id/i.test(String(err));
      }
    };
    const deadline = Date.now() + 3000;
    while (!(await forgotten())) {
      if (Date.now() > deadline) throw new Error('rtpengine still knows the call 3 s after it ended');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
});
