/**
 * Phones with media for the media suites: a test UA over UDP whose SDP names its own RTP peer on
 * loopback (src/testing/rtp-peer.ts sends a tone and decodes what arrives), registered with the
 * tenant's password for its extension — or, with `local`, a device at a fixed port that does not
 * register (the trunk's carrier). Both are handed to `opened`, which the suite closes after each test.
 */
import { expect } from 'vitest';
import type { Platform } from '../../src/platform.js';
import { RtpPeer } from '../../src/testing/rtp-peer.js';
import { TestUa } from '../../src/testing/test-ua.js';

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
