/**
 * The front door under a flood (issue 12): 2,000 TCP connections that send garbage (or nothing, or
 * half a message) and 2,000 garbage datagrams leave registration and calls working, every
 * connection is let go, and resident memory does not grow with the flood (nothing is buffered
 * without bound). Bounded in count and time; loopback only.
 */
import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoTenant } from '../src/config/demo.js';
import type { Platform } from '../src/platform.js';
import { TestUa } from '../src/testing/test-ua.js';
import { sleep, waitUntil } from '../src/testing/wait.js';
import { startSipTestPlatform, type TestPlatform } from './support/platform.js';

const DOMAIN = 'switchboard.local';
const CONNECTIONS = 2000;
const DATAGRAMS = 2000;
let env: TestPlatform;
let platform: Platform;

beforeAll(async () => {
  const tenant = demoTenant({ publicUrl: 'http://127.0.0.1:8080/' });
  // Short stream timeouts so that silent and stalled connections are reaped within the test.
  tenant.sip.tcp = { ...tenant.sip.tcp, firstMessageTimeoutSeconds: 2, stallTimeoutSeconds: 2 };
  env = await startSipTestPlatform(tenant);
  ({ platform } = env);
});

afterAll(() => env.close());

const GARBAGE = [
  Buffer.from([0, 1, 2, 3, 0xff, 0xfe, 0x80, 13, 10, 13, 10]),
  Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
  Buffer.from('INVITE sip:100@switchboard.local SIP/2.0\r\nContent-Length: -5\r\n\r\n'),
  Buffer.from(`REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1\r\n${'X-Pad: y\r\n'.repeat(4000)}`),
  Buffer.from('OPTIONS sip:x SIP/2.0\r\nContent-Length: 99999\r\n\r\nhalf'),
  Buffer.alloc(0), // connects and sends nothing
];

/** One garbage connection: connect, write its garbage, and wait until either side closes. */
function garbageConnection(index: number): Promise<void> {
  return new Promise((resolve) => {
    const socket: Socket = connect({ host: '127.0.0.1', port: platform.sipPort });
    socket.setTimeout(15_000, () => socket.destroy());
    socket.on('error', () => {});
    socket.on('close', () => resolve());
    socket.on('data', () => {});
    socket.once('connect', () => {
      const garbage = GARBAGE[index % GARBAGE.length]!;
      if (garbage.length > 0) socket.write(garbage);
      // Half of them hang up at once; the others wait for the server to close them.
      if (index % 2 === 0) setTimeout(() => socket.end(), 20);
    });
  });
}

async function registerAndCall(): Promise<void> {
  const server = { host: '127.0.0.1', port: platform.sipPort };
  const password = (extension: string) => platform.directory.userByExtension(extension)!.password;
  const caller = await TestUa.overStream('tcp', server, {
    extension: '1001',
    password: password('1001'),
    domain: DOMAIN,
  });
  const callee = await TestUa.overUdp(server, {
    extension: '1003',
    password: password('1003'),
    domain: DOMAIN,
  });
  try {
    expect((await caller.register()).status).toBe(200);
    expect((await callee.register()).status).toBe(200);
    callee.answerAfterRinging(10);
    const call = caller.call('1003');
    expect((await call.waitForFinal(5000)).status).toBe(200);
    expect((await call.hangup()).status).toBe(200);
  } finally {
    await caller.close();
    await callee.close();
    platform.location.removeAll('1001', 'unregistered');
    platform.location.removeAll('1003', 'unregistered');
  }
}

describe('a flood of garbage over TCP and UDP', () => {
  it('leaves registration and calls working, lets every connection go, and does not grow memory', async () => {
    await registerAndCall(); // warm up: the code paths are loaded before the first measurement
    const rssBefore = process.memoryUsage().rss;

    const datagrams = createSocket('udp4');
    for (let i = 0; i < DATAGRAMS; i++) {
      const garbage = GARBAGE[i % (GARBAGE.length - 1)]!;
      datagrams.send(garbage, platform.sipPort, '127.0.0.1');
      if (i % 200 === 199) await sleep(5);
    }
    // Connections in waves of 250 so that the test's own side stays within its file limits.
    for (let wave = 0; wave < CONNECTIONS / 250; wave++)
      await Promise.all(Array.from({ length: 250 }, (_, k) => garbageConnection(wave * 250 + k)));
    datagrams.close();

    await registerAndCall();
    await waitUntil(() => openStreamConnections() === 0, 10_000, 'every flood connection closed');
    const rssAfter = process.memoryUsage().rss;
    const grownMiB = (rssAfter - rssBefore) / 2 ** 20;
    console.log(
      `flood: rss before ${(rssBefore / 2 ** 20).toFixed(1)} MiB, after ${(rssAfter / 2 ** 20).toFixed(1)} MiB (+${grownMiB.toFixed(1)} MiB); ` +
        `accepted ${platform.metrics.get('streamConnectionsAccepted')}, timed out ${platform.metrics.get('streamConnectionsTimedOut')}, ` +
        `framing errors ${platform.metrics.get('streamFramingErrors')}, parse errors ${platform.metrics.get('parseErrors')}`,
    );
    expect(platform.metrics.get('streamConnectionsAccepted')).toBeGreaterThanOrEqual(CONNECTIONS);
    expect(platform.metrics.get('streamConnectionsTimedOut')).toBeGreaterThan(0);
    expect(platform.metrics.get('streamFramingErrors')).toBeGreaterThan(0);
    // 2,000 connections each allowed to buffer up to 64 KiB would be 128 MiB if nothing were freed.
    expect(grownMiB).toBeLessThan(48);
  }, 90_000);
});

function openStreamConnections(): number {
  const tcp = platform.stack.transport('tcp') as unknown as { connectionCount: number } | undefined;
  return tcp?.connectionCount ?? -1;
}
