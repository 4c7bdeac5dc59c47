/**
 * The media engine failing (issue 13): unreachable from the start, calls go on signalling-only
 * (their SDP passes through, logged) rather than fail; killed in the middle of a call, the
 * platform's own rtpengine is restarted, the calls it anchored end at once with a clear cause on
 * both sides and in the journal, and the next call is anchored again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseTenantYaml } from '../src/config/load.js';
import { parseRemoteSdp } from '../src/testing/rtp-peer.js';
import type { TestUa } from '../src/testing/test-ua.js';
import { waitUntil } from '../src/testing/wait.js';
import { mediaPhone } from './support/media-phones.js';
import { startSipTestPlatform, type TestPlatform } from './support/platform.js';
import { freeUdpPort } from './support/sipp.js';

const DOMAIN = 'switchboard.local';
const USERS = `
domain: ${DOMAIN}
users:
  - { username: a@example.com, extension: "1001", password: secret-a }
  - { username: c@example.com, extension: "1003", password: secret-c }
`;
const opened: { close(): Promise<void> }[] = [];

afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
});

const phone = (env: TestPlatform, extension: string): Promise<TestUa> =>
  mediaPhone(env.platform, extension, { domain: DOMAIN, opened });

describe('the media engine failing', () => {
  it('unreachable from the start: calls connect signalling-only, with the parties’ own SDP', async () => {
    const deadPort = await freeUdpPort();
    const tenant = parseTenantYaml(`${USERS}media: { rtpengine: "127.0.0.1:${deadPort}" }\n`, 'dead.yaml');
    const env = await startSipTestPlatform(tenant);
    opened.push(env);
    const a = await phone(env, '1001');
    const c = await phone(env, '1003');
    c.answerAfterRinging(20);
    const call = a.call('1003');
    const answer = await call.waitForFinal(10_000);
    expect(answer.status).toBe(200);
    // Not anchored: C's own media address reached A, and A's reached C.
    expect(parseRemoteSdp(answer.body.toString()).port).toBe(c.media!.port);
    const invite = c.receivedRequests.find((request) => request.method === 'INVITE')!;
    expect(parseRemoteSdp(invite.body.toString()).port).toBe(a.media!.port);
    expect((await call.hangup()).status).toBe(200);
  }, 20_000);

  it('killed mid-call: restarted, the anchored call ends on both sides with MediaEngineRestarted, the next call is anchored', async () => {
    const tenant = parseTenantYaml(USERS, 'restart.yaml');
    const env = await startSipTestPlatform(tenant, { mediaDefault: 'auto' });
    opened.push(env);
    const { platform } = env;
    const a = await phone(env, '1001');
    const c = await phone(env, '1003');
    c.answerAfterRinging(20);
    const call = a.call('1003');
    expect((await call.waitForFinal(5000)).status).toBe(200);
    const callId = platform.callControl.activeCalls[0]!.callId;
    const incoming = c.receivedRequests.find((request) => request.method === 'INVITE')!;
    expect(parseRemoteSdp(incoming.body.toString()).port).not.toBe(a.media!.port);

    const oldPid = platform.mediaProcess!.pid!;
    process.kill(oldPid, 'SIGKILL');
    await call.waitForBye(10_000);
    await waitUntil(() => platform.callControl.activeCalls.length === 0, 5000, 'the call ended');
    await waitUntil(
      () => c.receivedRequests.some((request) => request.method === 'BYE'),
      5000,
      'the BYE at C',
    );
    await platform.journal.flush();
    const facts = (await platform.journal.read(0, 100_000))
      .map((entry) => entry.fact)
      .filter((fact) => fact.callId === callId);
    expect(
      facts.filter((fact) => fact.type === 'LegEnded').map((fact) => fact.type === 'LegEnded' && fact.cause),
    ).toContain('MediaEngineRestarted');

    await waitUntil(
      () => platform.mediaProcess!.running && platform.mediaProcess!.pid !== oldPid,
      10_000,
      'rtpengine restarted',
    );
    a.media!.startTone(1000);
    c.media!.startTone(500);
    const next = a.call('1003');
    const answer = await next.waitForFinal(5000);
    expect(answer.status).toBe(200);
    expect(parseRemoteSdp(answer.body.toString()).port).not.toBe(c.media!.port);
    await c.media!.waitForTone(1000, [500, 1000, 1500], { timeoutMs: 5000 });
    expect((await next.hangup()).status).toBe(200);
  }, 40_000);
});
