/**
 * Registration from a real browser (issue 2): JsSIP in headless Chromium registers over the
 * platform's SIP WebSocket endpoint with digest authentication. And the WebSocket front door under
 * bad input: an upgrade without subprotocol "sip", broken frames, garbage messages, oversize frames.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { demoTenant } from '../src/config/demo.js';
import type { Platform } from '../src/platform.js';
import type { SipCounterName } from '../src/sip/metrics.js';
import { WsClientTransport } from '../src/testing/ws-client-transport.js';
import {
  launchChromium,
  openSipPage,
  type RegisterConfig,
  serveTestPage,
  type TestPageServer,
} from './support/browser.js';
import { startSipTestPlatform, type TestPlatform } from './support/platform.js';

const DOMAIN = 'switchboard.local';

let env: TestPlatform;
let platform: Platform;
let browser: Browser;
let pageServer: TestPageServer;

beforeAll(async () => {
  env = await startSipTestPlatform(demoTenant({ publicUrl: 'http://127.0.0.1:8080/' }));
  platform = env.platform;
  [browser, pageServer] = await Promise.all([launchChromium(), serveTestPage()]);
});

afterEach(() => {
  for (const extension of ['1000', '1001', '1002', '1003'])
    platform.location.removeAll(extension, 'unregistered');
});

afterAll(async () => {
  await browser?.close();
  await pageServer?.close();
  await env?.close();
});

function config(overrides: Partial<RegisterConfig> = {}): RegisterConfig {
  return {
    wsUrl: platform.wsUrl,
    uri: `sip:1001@${DOMAIN}`,
    password: 'secret-a',
    authorizationUser: '1001',
    ...overrides,
  };
}

function counter(name: SipCounterName): number {
  return platform.metrics.get(name);
}

async function waitFor(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('JsSIP in Chromium registers over WebSocket', () => {
  it('registers with digest auth (registered event in the page, ws binding in the location service), then unregisters', async () => {
    const session = await openSipPage(browser, pageServer);
    try {
      const connectionsBefore = counter('webSocketConnections');
      const outcome = await session.page.evaluate((cfg) => window.sipHarness.register(cfg), config());
      expect(outcome).toMatchObject({ event: 'registered', status: 200 });
      expect(counter('webSocketConnections') - connectionsBefore).toBe(1);

      const bindings = platform.location.lookup('1001');
      expect(bindings).toHaveLength(1);
      const [binding] = bindings;
      expect(binding?.flow.protocol).toBe('ws');
      expect(binding?.flow.address).toBe('127.0.0.1');
      expect(binding?.contactUri).toMatch(/;transport=ws/);
      // The binding is the Contact JsSIP put in its REGISTER.
      expect(outcome.contact).toContain(binding?.contactUri.split(';')[0]);
      expect(binding?.userAgent).toBe('JsSIP-in-Chromium');
      expect(((binding?.expiresAtMs ?? 0) - Date.now()) / 1000).toBeGreaterThan(590);

      const unregistered = await session.page.evaluate(() => window.sipHarness.unregister());
      expect(unregistered).toMatchObject({ event: 'unregistered', status: 200 });
      expect(platform.location.lookup('1001')).toEqual([]);

      const events = await session.page.evaluate(() => window.sipHarness.events);
      expect(events).toEqual(['connecting', 'connected', 'registered', 'unregistered']);
      expect(session.errors).toEqual([]);
    } finally {
      await session.page.evaluate(() => window.sipHarness.stop()).catch(() => {});
      await session.close();
    }
  });

  it('drops the binding when the browser goes away (its WebSocket closes)', async () => {
    const session = await openSipPage(browser, pageServer);
    const outcome = await session.page.evaluate(
      (cfg) => window.sipHarness.register(cfg),
      config({ uri: `sip:1002@${DOMAIN}`, authorizationUser: '1002', password: 'secret-b' }),
    );
    expect(outcome.event).toBe('registered');
    expect(platform.location.lookup('1002')).toHaveLength(1);
    await session.close();
    await waitFor(
      () => platform.location.lookup('1002').length === 0,
      'the ws binding of 1002 to go with its connection',
    );
  });

  it('reports registrationFailed for a wrong password, and nothing is bound', async () => {
    const session = await openSipPage(browser, pageServer);
    try {
      const authFailuresBefore = counter('authFailures');
      const outcome = await session.page.evaluate(
        (cfg) => window.sipHarness.register(cfg),
        config({ password: 'not-secret-a' }),
      );
      expect(outcome).toMatchObject({
        // Wrong credentials are refused with 403 after the challenge, as for an unknown user (no enumeration).
        event: 'registrationFailed',
        status: 403,
        cause: 'Rejected',
      });
      expect(platform.location.lookup('1001')).toEqual([]);
      expect(counter('authFailures') - authFailuresBefore).toBe(1);
    } finally {
      await session.page.evaluate(() => window.sipHarness.stop()).catch(() => {});
      await session.close();
    }
  });
});

// ---- the WebSocket endpoint under bad input ----------------------------------------------------

/** Try an upgrade with these subprotocols; resolves with the HTTP status and body of a refusal. */
function upgradeRefusal(protocols: string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(platform.wsUrl, protocols);
    socket.once('open', () => {
      socket.close();
      reject(
        new Error(`upgrade with [${protocols.join(', ')}] was accepted (negotiated "${socket.protocol}")`),
      );
    });
    socket.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    socket.once('error', (err) => reject(err));
  });
}

function optionsRequest(callId: string): string {
  const host = `${randomBytes(4).toString('hex')}.invalid`;
  return [
    `OPTIONS sip:${DOMAIN} SIP/2.0`,
    `Via: SIP/2.0/WS ${host};branch=z9hG4bK${randomBytes(6).toString('hex')}`,
    'Max-Forwards: 70',
    `From: <sip:probe@${DOMAIN}>;tag=${randomBytes(4).toString('hex')}`,
    `To: <sip:${DOMAIN}>`,
    `Call-ID: ${callId}`,
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** A SIP-over-WS client that collects every message the server sends it. */
async function wsClient(): Promise<{ transport: WsClientTransport; received: string[] }> {
  const transport = await WsClientTransport.connect(platform.wsUrl);
  const received: string[] = [];
  transport.onData = ({ data }) => received.push(data.toString('utf8'));
  return { transport, received };
}

async function expectOptionsAnswered(callId: string): Promise<void> {
  const { transport, received } = await wsClient();
  try {
    transport.sendRaw(optionsRequest(callId));
    await waitFor(
      () => received.some((m) => m.includes(`Call-ID: ${callId}`)),
      `the answer to OPTIONS ${callId}`,
    );
    const answer = received.find((m) => m.includes(`Call-ID: ${callId}`)) ?? '';
    expect(answer).toMatch(/^SIP\/2\.0 200 OK\r\n/);
  } finally {
    await transport.close();
  }
}

/** A raw TCP connection that has completed a WebSocket handshake for subprotocol sip. */
async function rawWebSocket(): Promise<{ socket: Socket; closed: Promise<Buffer> }> {
  const url = new URL(platform.wsUrl);
  const socket = connect(Number(url.port), url.hostname);
  const chunks: Buffer[] = [];
  const closed = new Promise<Buffer>((resolve) => {
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  socket.write(
    [
      `GET ${url.pathname} HTTP/1.1`,
      `Host: ${url.host}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Protocol: sip',
      '',
      '',
    ].join('\r\n'),
  );
  await waitFor(() => Buffer.concat(chunks).includes('\r\n\r\n'), 'the 101 Switching Protocols');
  const head = Buffer.concat(chunks).toString('latin1');
  expect(head).toMatch(/^HTTP\/1\.1 101 /);
  expect(head).toMatch(/^Sec-WebSocket-Protocol: sip\r$/im);
  chunks.length = 0;
  return { socket, closed };
}

describe('the SIP WebSocket endpoint under bad input', () => {
  it('refuses an upgrade without subprotocol "sip" with 400 and says why', async () => {
    const rejectedBefore = counter('webSocketRejected');
    const none = await upgradeRefusal([]);
    expect(none.status).toBe(400);
    expect(none.body).toContain('subprotocol "sip" required');
    const other = await upgradeRefusal(['chat']);
    expect(other.status).toBe(400);
    expect(counter('webSocketRejected') - rejectedBefore).toBe(2);
  });

  it('answers nothing to garbage text and binary messages, counts them, and keeps the connection', async () => {
    const parseErrorsBefore = counter('parseErrors');
    const { transport, received } = await wsClient();
    try {
      transport.sendRaw('this is not SIP at all');
      transport.sendRaw(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0d, 0x0a, 0x0d, 0x0a]), true);
      transport.sendRaw('INVITE sip:1002@switchboard.local SIP/2.0\r\nVia: broken\r\n\r\n');
      await waitFor(() => counter('parseErrors') - parseErrorsBefore === 3, 'three parse errors');
      // The same connection still carries SIP: garbage does not cost a client its connection.
      transport.sendRaw(optionsRequest('same-connection-after-garbage'));
      await waitFor(() => received.length > 0, 'the answer to OPTIONS');
      expect(received).toHaveLength(1);
      expect(received[0]).toMatch(/^SIP\/2\.0 200 OK\r\n/);
      expect(transport.isOpen).toBe(true);
    } finally {
      await transport.close();
    }
  });

  it('answers a request with a broken CSeq on a WebSocket with 400 naming CSeq', async () => {
    const { transport, received } = await wsClient();
    try {
      transport.sendRaw(optionsRequest('broken-cseq-ws').replace('CSeq: 1 OPTIONS', 'CSeq: x OPTIONS'));
      await waitFor(() => received.length > 0, 'the 400');
      expect(received[0]).toMatch(/^SIP\/2\.0 400 [^\r\n]*CSeq[^\r\n]*\r\n/);
      expect(received[0]).toContain('Call-ID: broken-cseq-ws');
    } finally {
      await transport.close();
    }
  });

  it('closes a connection that sends a broken frame, counts it, and stays up', async () => {
    const badFramesBefore = counter('badWebSocketFrames');
    // A frame with the reserved opcode 0xF (masked, empty payload).
    const reservedOpcode = await rawWebSocket();
    reservedOpcode.socket.write(Buffer.from([0x8f, 0x80, 0x01, 0x02, 0x03, 0x04]));
    const reply1 = await reservedOpcode.closed;
    // An unmasked client frame (RFC 6455 §5.1: the server must close the connection).
    const unmasked = await rawWebSocket();
    unmasked.socket.write(Buffer.concat([Buffer.from([0x81, 0x05]), Buffer.from('hello')]));
    const reply2 = await unmasked.closed;

    // Each connection got a close frame (opcode 0x8) with status 1002 (protocol error).
    for (const reply of [reply1, reply2]) {
      expect(reply[0]).toBe(0x88);
      expect(reply.readUInt16BE(2)).toBe(1002);
    }
    await waitFor(() => counter('badWebSocketFrames') - badFramesBefore === 2, 'two bad frames counted');
    await expectOptionsAnswered('alive-after-bad-frames');
  });

  it('closes a connection that sends an oversize message with 1009, and stays up', async () => {
    const badFramesBefore = counter('badWebSocketFrames');
    const socket = new WebSocket(platform.wsUrl, ['sip']);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const closeCode = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    socket.send(`OPTIONS sip:${DOMAIN} SIP/2.0\r\nSubject: ${'x'.repeat(200_000)}\r\n\r\n`);
    expect(await closeCode).toBe(1009);
    await waitFor(() => counter('badWebSocketFrames') - badFramesBefore === 1, 'the oversize frame counted');
    await expectOptionsAnswered('alive-after-oversize');
  });
});
