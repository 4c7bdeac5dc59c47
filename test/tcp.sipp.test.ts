/**
 * SIP over TCP (RFC 3261 §18, DESIGN.md §6) with sipp as the phones (`-t t1`: one connection, from
 * and listening on sipp's own port): registration, the seed's queue call with a decline and an
 * answer, and a direct call. The caller is the project's test UA over TCP (a connection it opens,
 * Via `alias`). Proofs are sipp's own verdicts on the wire and the platform's location and calls.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { demoTenant } from '../src/config/demo.js';
import type { Platform } from '../src/platform.js';
import { TestUa } from '../src/testing/test-ua.js';
import { waitUntil } from '../src/testing/wait.js';
import { startSipTestPlatform, type TestPlatform } from './support/platform.js';
import { freeTcpPort, loadScenario, runSipp, type SippProcess, startSipp } from './support/sipp.js';
import { expectSippPassed } from './support/sipp-expect.js';

const DOMAIN = 'switchboard.local';
let env: TestPlatform;
let platform: Platform;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  env = await startSipTestPlatform(demoTenant({ publicUrl: 'http://127.0.0.1:8080/' }), {
    queueRetryDelayMs: 200,
  });
  ({ platform } = env);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  for (const extension of ['1001', '1002', '1003']) platform.location.removeAll(extension, 'unregistered');
  await waitUntil(() => platform.callControl.activeCalls.length === 0, 5000, 'no call left');
});

afterAll(() => env.close());

const password = (extension: string) => platform.directory.userByExtension(extension)!.password;

/** sipp registers `extension` over TCP from `localPort`, with a `transport=tcp` Contact. */
async function registerOverTcp(extension: string, localPort: number) {
  const result = await runSipp({
    scenario: loadScenario('register'),
    name: `register-${extension}`,
    remote: { host: '127.0.0.1', port: platform.sipPort },
    transport: 't1',
    localPort,
    service: extension,
    authUser: extension,
    authPassword: password(extension),
    variables: { domain: DOMAIN, expires: 600, contactParams: ';transport=tcp' },
  });
  expectSippPassed(result);
  return result;
}

/** A sipp phone over TCP: registered as `extension`, then answering (or refusing) one call. */
async function sippPhone(extension: string, scenario: 'uas-answer' | 'uas-busy'): Promise<SippProcess> {
  const localPort = await freeTcpPort();
  await registerOverTcp(extension, localPort);
  const phone = await startSipp({
    scenario: loadScenario(scenario),
    name: `${scenario}-${extension}`,
    transport: 't1',
    localPort,
    service: extension,
    timeoutMs: 20_000,
  });
  cleanups.push(() => phone.stop());
  return phone;
}

async function callerOverTcp(): Promise<TestUa> {
  const caller = await TestUa.overStream(
    'tcp',
    { host: '127.0.0.1', port: platform.sipPort },
    { extension: '1001', password: password('1001'), domain: DOMAIN },
  );
  cleanups.push(() => caller.close());
  expect((await caller.register()).status).toBe(200);
  return caller;
}

describe('SIP over TCP with sipp (-t t1)', () => {
  it('registers over TCP: 401, 200 with the Contact; the binding is reached at its Contact over TCP', async () => {
    const localPort = await freeTcpPort();
    const result = await registerOverTcp('1002', localPort);
    expect(result.messageLog).toContain(
      `Contact: <sip:1002@127.0.0.1:${localPort};transport=tcp>;expires=600`,
    );
    expect(result.messageLog).toMatch(/^SIP\/2\.0 401 /m);
    const [binding] = platform.location.lookup('1002');
    expect(binding?.flow).toMatchObject({ protocol: 'tcp', address: '127.0.0.1', port: localPort });
    expect(binding?.flow.protocol === 'tcp' && binding.flow.connectionId).toBeTruthy();
    expect(binding?.target).toEqual({ protocol: 'tcp', address: '127.0.0.1', port: localPort });
    expect(platform.metrics.get('streamConnectionsAccepted')).toBeGreaterThan(0);
  });

  it("the seed's queue call over TCP: B declines (486), C answers; the caller gets the CallId; BYE reaches C", async () => {
    const b = await sippPhone('1002', 'uas-busy');
    const c = await sippPhone('1003', 'uas-answer');
    const caller = await callerOverTcp();

    const call = caller.call('100');
    const answer = await call.waitForFinal(15_000);
    expect(answer.status).toBe(200);
    const callId = answer.headers.get('X-Server-Call-Id');
    expect(callId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await call.hangup()).status).toBe(200);

    const [declined, answered] = await Promise.all([b.done, c.done]);
    expectSippPassed(declined);
    expectSippPassed(answered);
    expect(declined.messageLog).toMatch(/^INVITE sip:1002@127\.0\.0\.1:\d+;transport=tcp SIP\/2\.0$/m);
    expect(declined.messageLog).toMatch(/^Via: SIP\/2\.0\/TCP /m);
    expect(answered.messageLog).toContain(`X-Server-Call-Id: ${callId}`);
    expect(answered.messageLog).toMatch(/^BYE sip:/m);
  });

  it('a direct call over TCP: A calls C, C answers, A hangs up', async () => {
    const c = await sippPhone('1003', 'uas-answer');
    const caller = await callerOverTcp();
    const call = caller.call('1003');
    const answer = await call.waitForFinal(10_000);
    expect(answer.status).toBe(200);
    expect(answer.body.toString()).toContain('m=audio');
    expect((await call.hangup()).status).toBe(200);
    const result = await c.done;
    expectSippPassed(result);
    expect(result.messageLog).toMatch(/^X-Call-Leg-Id: [0-9a-f-]{36}$/im);
  });
});
