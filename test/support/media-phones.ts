/**
 * Phones with media for the media suites: a test UA over UDP whose SDP names its own RTP peer on
 * loopback (src/testing/rtp-peer.ts sends a tone and decodes what arrives), registered with the
 * tenant's password for its extension — or, with `local`, a device at a fixed port that does not
 * register (the trunk's carrier). Both are handed to `opened`, which the suite closes after each test.
 * And the seed's recorded queue call with tones, which the recording suites share.
 */
import { expect } from 'vitest';
import type { Platform } from '../../src/platform.js';
import type { SipResponse } from '../../src/sip/message.js';
import { RtpPeer } from '../../src/testing/rtp-peer.js';
import { type IncomingCall, TestUa } from '../../src/testing/test-ua.js';
import { waitUntil, waitUntilAsync } from '../../src/testing/wait.js';

export interface Closable {
  close(): Promise<void>;
}

export async function mediaPhone(
  platform: Platform,
  extension: string,
  options: { domain: string; opened: Closable[]; local?: { port: number }; password?: string },
): Promise<TestUa> {
  const media = await RtpPeer.open({ host: '127.0.0.1' });
  const password = options.password ?? platform.directory.userByExtension(extension)?.password ?? 'none';
  const ua = await TestUa.overUdp(
    { host: '127.0.0.1', port: platform.sipPort },
    { extension, password, domain: options.domain, media },
    options.local,
  );
  options.opened.push(media, ua);
  if (!options.local) expect((await ua.register()).status).toBe(200);
  return ua;
}

/**
 * A queue call with a media engine is answered by the queue (`X-Queue-State: waiting`: the caller
 * hears its audio) and connected to the agent later, by a re-INVITE with `X-Queue-State:
 * connected`. Resolves once the caller is talking to the agent (at once for any other answer).
 */
export async function untilAgentConnected(
  caller: TestUa,
  answer: SipResponse,
  timeoutMs = 10_000,
): Promise<void> {
  if (answer.headers.get('X-Queue-State') !== 'waiting') return;
  await waitUntil(
    () =>
      caller.receivedRequests.some(
        (request) => request.method === 'INVITE' && request.headers.get('X-Queue-State') === 'connected',
      ),
    timeoutMs,
    'the caller was connected to the agent',
  );
}

/** The tones of the seed's recorded call: A (the caller) and C (the agent who answers). */
export const SEED_TONES = { a: 1000, c: 500 } as const;

/**
 * The seed's queue call with real RTP, on a tenant whose queue (extension 100) has B (1002) then C
 * (1003): B declines, C answers, A (1001) and C send their tones for `talkMs` after the answer,
 * then A hangs up. Resolves once the call has ended, with its ids and how long it was connected.
 */
export async function seedCallWithTones(
  platform: Platform,
  options: { domain: string; opened: Closable[]; talkMs: number },
): Promise<{ callId: string; legA: string; legC: string; connectedMs: number }> {
  const phone = (extension: string) => mediaPhone(platform, extension, options);
  const [a, b, c] = [await phone('1001'), await phone('1002'), await phone('1003')];
  b.rejectAfterRinging(603, 50);
  c.answerAfterRinging(50);
  const call = a.call('100');
  const answer = await call.waitForFinal(10_000);
  expect(answer.status).toBe(200);
  await untilAgentConnected(a, answer);
  const answeredAt = Date.now();
  a.media!.startTone(SEED_TONES.a);
  c.media!.startTone(SEED_TONES.c);
  await c.media!.waitForTone(SEED_TONES.a, [SEED_TONES.c, SEED_TONES.a, 1500], { timeoutMs: 5000 });
  await new Promise((resolve) =>
    setTimeout(resolve, Math.max(0, options.talkMs - (Date.now() - answeredAt))),
  );
  const callId = answer.headers.get('X-Server-Call-Id')!;
  const live = platform.callControl.call(callId)!;
  const legs = { legA: live.callerLeg.callLegId, legC: live.connectedLeg!.callLegId };
  expect((await call.hangup()).status).toBe(200);
  const connectedMs = Date.now() - answeredAt;
  await waitUntil(() => platform.callControl.activeCalls.length === 0, 5000, 'the call ended');
  return { callId, ...legs, connectedMs };
}

/**
 * The end of a media test: close what it opened, forget its phones' registrations, and check
 * that no call is left — in call control, and in the media engine (no leaked engine state).
 */
export async function endMediaTest(
  platform: Platform,
  opened: Closable[],
  extensions: readonly string[],
): Promise<void> {
  for (const item of opened.splice(0).reverse()) await item.close();
  for (const extension of extensions) platform.location.removeAll(extension, 'unregistered');
  await waitUntil(() => platform.callControl.activeCalls.length === 0, 8000, 'no call left');
  await waitUntilAsync(
    async () => (await platform.media!.listCalls()).length === 0,
    5000,
    'the engine holds no call',
  );
}

/** A REFER in the dialog of a call a test UA answered (a blind transfer to `target`). */
export function refer(
  ua: TestUa,
  incoming: IncomingCall,
  target: string,
  domain: string,
): Promise<SipResponse> {
  return ua.sendInDialog(incoming.dialog!, 'REFER', undefined, [
    ['Refer-To', target],
    ['Referred-By', `<sip:${ua.extension}@${domain}>`],
  ]);
}
