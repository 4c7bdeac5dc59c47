/**
 * Behind a front proxy every phone's request comes from the proxy's address. With the proxy in
 * the tenant's `sip.trustedProxies`, the authentication throttle counts failures per phone (the
 * Via below the proxy's): a phone with a wrong password is refused, the others still register.
 * Phones sit on other loopback addresses (127.0.0.2, 127.0.0.3): other machines to Kamailio.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { demoTenant } from '../src/config/demo.js';
import type { Tenant } from '../src/config/types.js';
import { TestUa } from '../src/testing/test-ua.js';
import { type KamailioProcess, startKamailio } from './support/kamailio.js';
import { startSipTestPlatform, type TestPlatform } from './support/platform.js';

const base = demoTenant({ publicUrl: 'http://127.0.0.1:8080/' });

function tenantWith(trustedProxies: string[]): Tenant {
  return {
    ...base,
    sip: {
      ...base.sip,
      authThrottle: { maxFailures: 3, windowSeconds: 60, cooldownSeconds: 300 },
      trustedProxies,
    },
  };
}

describe('the authentication throttle behind Kamailio', () => {
  let node: TestPlatform | undefined;
  let kamailio: KamailioProcess | undefined;
  const phones: TestUa[] = [];

  afterEach(async () => {
    await Promise.allSettled(phones.splice(0).map((ua) => ua.close()));
    await kamailio?.stop();
    await node?.close();
  });

  /** Five wrong-password REGISTERs from 127.0.0.2, then a good phone at 127.0.0.3: its status. */
  async function badThenGood(
    trustedProxies: string[],
  ): Promise<{ bad: number[]; good: number; badRetry: number }> {
    node = await startSipTestPlatform(tenantWith(trustedProxies));
    kamailio = await startKamailio({ nodes: [{ host: '127.0.0.1', port: node.platform.sipPort }] });
    const phone = async (host: string, password: string) => {
      const ua = await TestUa.overUdp(
        kamailio!,
        { extension: '1001', password, domain: base.domain },
        { host },
      );
      phones.push(ua);
      return ua;
    };
    const bad = await phone('127.0.0.2', 'wrong');
    const statuses: number[] = [];
    for (let n = 0; n < 5; n++) statuses.push((await bad.register()).status);
    const good = await phone('127.0.0.3', 'secret-a');
    const badAgain = await phone('127.0.0.2', 'secret-a');
    return {
      bad: statuses,
      good: (await good.register()).status,
      badRetry: (await badAgain.register()).status,
    };
  }

  it('counts failures per phone when Kamailio is a trusted proxy: the bad phone is refused, the others register', async () => {
    const { bad, good, badRetry } = await badThenGood(['127.0.0.1']);
    expect(bad).toEqual([403, 403, 403, 403, 403]);
    expect(good).toBe(200);
    // The phone that failed is cooling down, even with the right password now.
    expect(badRetry).toBe(403);
  });

  it('without trustedProxies one bad phone locks every phone behind the proxy out (why the setting exists)', async () => {
    const { good } = await badThenGood([]);
    expect(good).toBe(403);
  });
});
