/**
 * The SIP-level suites' devices: test UAs over WebSocket registered as the tenant's users, opened
 * per test and closed after it. Kept apart from platform.ts because it asserts with vitest's
 * `expect` (a failed REGISTER fails the test the way the suites always checked it), and
 * platform.ts is also imported by the benchmarks, which run outside vitest.
 */
import { expect } from 'vitest';
import type { Platform } from '../../src/platform.js';
import { TestUa } from '../../src/testing/test-ua.js';
import { waitUntil } from '../../src/testing/wait.js';

export interface PeerPool {
  /** A test UA registered as `extension` with the tenant's password for it. */
  ua(extension: string): Promise<TestUa>;
  /**
   * Close every UA opened since the last reset and give the platform time to notice (bindings
   * gone, no call left), so that the next test starts from a quiet platform. Meant for afterEach.
   */
  reset(): Promise<void>;
}

/** `platform` is read when a UA is opened: suites start their platform in beforeAll. */
export function peerPool(platform: () => Platform, domain: string): PeerPool {
  const open: TestUa[] = [];
  return {
    async ua(extension) {
      const password = platform().directory.userByExtension(extension)?.password;
      if (password === undefined) throw new Error(`no user with extension ${extension} in the tenant`);
      const agent = await TestUa.overWebSocket(platform().wsUrl, { extension, password, domain });
      open.push(agent);
      const response = await agent.register();
      expect(response.status).toBe(200);
      return agent;
    },
    async reset() {
      await Promise.all(open.splice(0).map((agent) => agent.close()));
      await waitUntil(
        () => platform().location.size === 0 && platform().callControl.activeCalls.length === 0,
        3000,
      ).catch(() => {});
    },
  };
}
