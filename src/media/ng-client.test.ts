import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBencode, encodeBencode, isBencodeDict } from './bencode.js';
import { isMediaError, type MediaError } from './errors.js';
import { NgClient } from './ng-client.js';
import { pickFreeUdpPort, type RtpEngineProcess, startRtpEngineProcess } from './rtpengine-process.js';

async function rejection(p: Promise<unknown>): Promise<MediaError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isMediaError(err)) throw new Error(`expected a MediaError, got ${String(err)}`);
  return err;
}

/** A fake engine: `handle` gets each request (cookie, dict) and returns the datagram to send, or nothing. */
async function fakeEngine(
  handle: (cookie: string, dict: Record<string, unknown>, n: number) => Buffer | undefined,
): Promise<{ port: number; socket: Socket; received: string[] }> {
  const socket = createSocket('udp4');
  const received: string[] = [];
  socket.on('message', (msg, rinfo) => {
    const space = msg.indexOf(0x20);
    const cookie = msg.toString('latin1', 0, space);
    received.push(cookie);
    const r = decodeBencode(msg.subarray(space + 1));
    const dict = r.ok && isBencodeDict(r.value) ? (r.value as Record<string, unknown>) : {};
    const reply = handle(cookie, dict, received.length);
    if (reply) socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, socket, received };
}

const frame = (cookie: string, dict: Parameters<typeof encodeBencode>[0]) =>
  Buffer.concat([Buffer.from(`${cookie} `), encodeBencode(dict)]);

describe('NgClient against a fake engine', () => {
  it('retransmits with the same cookie until a reply comes', async () => {
    const fake = await fakeEngine((cookie, _dict, n) =>
      n < 3 ? undefined : frame(cookie, { result: 'pong' }),
    );
    const client = new NgClient({
      host: '127.0.0.1',
      port: fake.port,
      retransmitMs: [100, 100],
      timeoutMs: 2000,
    });
    try {
      const started = Date.now();
      await client.ping();
      expect(Date.now() - started).toBeGreaterThanOrEqual(180);
      expect(fake.received).toHaveLength(3);
      expect(new Set(fake.received).size).toBe(1);
    } finally {
      await client.close();
      fake.socket.close();
    }
  });

  it('matches replies by cookie: foreign and late cookies are dropped', async () => {
    const fake = await fakeEngine((cookie, dict) => {
      // First a reply to someone else, then the real one.
      if (clientPort)
        fake.socket.send(
          frame('not-mine', { result: 'error', 'error-reason': 'nope' }),
          clientPort,
          '127.0.0.1',
        );
      return frame(cookie, { result: dict.command === 'ping' ? 'pong' : 'ok', echo: String(dict.n) });
    });
    let clientPort = 0;
    const client = new NgClient({ host: '127.0.0.1', port: fake.port });
    try {
      await client.ping(); // binds the socket
      clientPort = (client as unknown as { socket: Socket }).socket.address().port;
      const [a, b] = await Promise.all([client.command('x', { n: 1 }), client.command('x', { n: 2 })]);
      expect(a.echo).toBe('1');
      expect(b.echo).toBe('2');
      expect(new Set(fake.received).size).toBe(fake.received.length);
    } finally {
      await client.close();
      fake.socket.close();
    }
  });

  it('turns result: error into MEDIA_ENGINE_ERROR with the reason', async () => {
    const fake = await fakeEngine((cookie) =>
      frame(cookie, { result: 'error', 'error-reason': 'Unknown call-id' }),
    );
    const client = new NgClient({ host: '127.0.0.1', port: fake.port });
    try {
      const err = await rejection(client.command('query', { 'call-id': 'x' }));
      expect(err.code).toBe('MEDIA_ENGINE_ERROR');
      expect(err.reason).toBe('Unknown call-id');
      expect(err.command).toBe('query');
    } finally {
      await client.close();
      fake.socket.close();
    }
  });

  it.each([
    ['not bencode', (cookie: string) => Buffer.from(`${cookie} d6:result`)],
    ['not a dictionary', (cookie: string) => frame(cookie, ['ok'])],
    ['an unknown result', (cookie: string) => frame(cookie, { result: 'maybe' })],
    ['an offer reply without sdp', (cookie: string) => frame(cookie, { result: 'ok' })],
  ])('rejects %s with MEDIA_BAD_REPLY', async (_what, reply) => {
    const fake = await fakeEngine((cookie) => reply(cookie));
    const client = new NgClient({ host: '127.0.0.1', port: fake.port });
    try {
      const err = await rejection(client.offer({ callId: 'c', fromTag: 'f', sdp: 'v=0\r\n' }));
      expect(err.code).toBe('MEDIA_BAD_REPLY');
    } finally {
      await client.close();
      fake.socket.close();
    }
  });

  it('encodes offer options under their ng names', async () => {
    let seen: Record<string, unknown> = {};
    const fake = await fakeEngine((cookie, dict) => {
      seen = dict;
      return frame(cookie, { result: 'ok', sdp: 'v=0\r\n' });
    });
    const client = new NgClient({ host: '127.0.0.1', port: fake.port });
    try {
      const reply = await client.offer({
        callId: 'c',
        fromTag: 'f',
        viaBranch: 'b',
        sdp: Buffer.from('v=0\r\n'),
        transportProtocol: 'RTP/AVP',
        ice: 'remove',
        dtls: 'off',
        rtcpMux: ['demux'],
        replace: ['origin'],
        codec: { transcode: ['PCMU'] },
        record: true,
      });
      expect(reply.sdp).toEqual(Buffer.from('v=0\r\n'));
      expect(seen).toMatchObject({
        command: 'offer',
        'call-id': 'c',
        'from-tag': 'f',
        'via-branch': 'b',
        'transport-protocol': 'RTP/AVP',
        ICE: 'remove',
        DTLS: 'off',
        'rtcp-mux': ['demux'],
        replace: ['origin'],
        codec: { transcode: ['PCMU'] },
        'record call': 'yes',
      });
      expect(Buffer.isBuffer(seen.sdp)).toBe(true);
      expect('to-tag' in seen).toBe(false);
    } finally {
      await client.close();
      fake.socket.close();
    }
  });

  it('times out with MEDIA_ENGINE_TIMEOUT when nothing listens', async () => {
    const port = await pickFreeUdpPort();
    const client = new NgClient({ host: '127.0.0.1', port, timeoutMs: 600, retransmitMs: [200, 200] });
    try {
      const started = Date.now();
      const err = await rejection(client.ping());
      const took = Date.now() - started;
      expect(err.code).toBe('MEDIA_ENGINE_TIMEOUT');
      expect(err.message).toContain(`127.0.0.1:${port}`);
      expect(took).toBeGreaterThanOrEqual(550);
      expect(took).toBeLessThan(1500);
    } finally {
      await client.close();
    }
  });

  it('close() rejects pending commands with MEDIA_ENGINE_UNAVAILABLE, later ones too', async () => {
    const fake = await fakeEngine(() => undefined);
    const client = new NgClient({ host: '127.0.0.1', port: fake.port });
    const pending = rejection(client.ping());
    await new Promise((r) => setTimeout(r, 20));
    await client.close();
    await client.close();
    expect((await pending).code).toBe('MEDIA_ENGINE_UNAVAILABLE');
    expect((await rejection(client.ping())).code).toBe('MEDIA_ENGINE_UNAVAILABLE');
    fake.socket.close();
  });
});

// A missing rtpengine fails these suites (startRtpEngineProcess says so): CI installs rtpengine-daemon.
describe('NgClient against rtpengine', () => {
  let dataDir: string;
  let engine: RtpEngineProcess;
  let client: NgClient;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sb-ng-'));
    engine = await startRtpEngineProcess({ dataDir });
    client = new NgClient({ host: engine.host, port: engine.ngPort });
  });

  afterAll(async () => {
    await client?.close();
    await engine?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('ping answers pong', async () => {
    await expect(client.ping()).resolves.toBe(true);
  });

  it('an incomplete offer is an error with rtpengine reason', async () => {
    const err = await rejection(client.command('offer', { 'call-id': 'c' }));
    expect(err.code).toBe('MEDIA_ENGINE_ERROR');
    expect(err.reason).toBeTruthy();
  });

  it('query of an unknown call is an error; delete of one is ok with a warning', async () => {
    const err = await rejection(client.query({ callId: 'no-such-call' }));
    expect(err.code).toBe('MEDIA_ENGINE_ERROR');
    expect(err.reason).toMatch(/unknown call|not found/i);
    const reply = await client.delete({ callId: 'no-such-call' });
    expect(reply.result).toBe('ok');
    expect(String(reply.warning)).toMatch(/not found/i);
  });

  it('offer, query and delete a call', async () => {
    const sdp = [
      'v=0',
      'o=a 1 1 IN IP4 127.0.0.1',
      's=-',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      'm=audio 40000 RTP/AVP 0',
      'a=rtpmap:0 PCMU/8000',
      '',
    ].join('\r\n');
    const offer = await client.offer({ callId: 'ng-call', fromTag: 'a', sdp });
    expect(offer.sdp.toString()).toMatch(/^m=audio \d+ RTP\/AVP 0/m);
    const q = await client.query({ callId: 'ng-call' });
    expect(q.result).toBe('ok');
    expect(isBencodeDict(q.tags) && Object.keys(q.tags)).toContain('a');
    await client.delete({ callId: 'ng-call', deleteDelay: 0 });
    expect((await rejection(client.query({ callId: 'ng-call' }))).code).toBe('MEDIA_ENGINE_ERROR');
  });
});
