import { createSocket, type Socket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { isMediaError } from './errors.js';
import { parseNgAddress, RtpEngine, sideFlags } from './rtpengine.js';
import { pickFreeUdpPort } from './rtpengine-process.js';
import { useRtpEngine } from './testing.js';

const sdp = (lines: string[]) => Buffer.from(`${lines.join('\r\n')}\r\n`);

/** A Chrome-like WebRTC offer (as JsSIP sends it after ICE gathering). */
const webrtcOffer = (port: number) =>
  sdp([
    'v=0',
    'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'a=extmap-allow-mixed',
    'a=msid-semantic: WMS 3fd4b0a1-5c9f-4f43-9d2b-77c0e1f1b7a2',
    `m=audio ${port} UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126`,
    'c=IN IP4 127.0.0.1',
    'a=rtcp:9 IN IP4 0.0.0.0',
    `a=candidate:2999745851 1 udp 2122260223 127.0.0.1 ${port} typ host generation 0 network-id 1`,
    'a=ice-ufrag:Kq7f',
    'a=ice-pwd:3e1X6bJm0e4Xhm1S7kOZ2c8R',
    'a=ice-options:trickle',
    'a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08',
    'a=setup:actpass',
    'a=mid:0',
    'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
    'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
    'a=sendrecv',
    'a=msid:3fd4b0a1-5c9f-4f43-9d2b-77c0e1f1b7a2 0c1f4a8e-8a3a-4d53-9a41-6d4c2a3b5e11',
    'a=rtcp-mux',
    'a=rtpmap:111 opus/48000/2',
    'a=rtcp-fb:111 transport-cc',
    'a=fmtp:111 minptime=10;useinbandfec=1',
    'a=rtpmap:63 red/48000/2',
    'a=fmtp:63 111/111',
    'a=rtpmap:9 G722/8000',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:13 CN/8000',
    'a=rtpmap:110 telephone-event/48000',
    'a=rtpmap:126 telephone-event/8000',
    'a=ssrc:1001 cname:x3GZ0ZpQ4kGfKm5y',
    'a=ssrc:1001 msid:3fd4b0a1-5c9f-4f43-9d2b-77c0e1f1b7a2 0c1f4a8e-8a3a-4d53-9a41-6d4c2a3b5e11',
  ]);

/** A plain SIP phone offering or answering G.711 on 127.0.0.1:port. */
const phoneSdp = (port: number, pts: Array<0 | 8> = [0, 8]) =>
  sdp([
    'v=0',
    `o=phone ${port} 1 IN IP4 127.0.0.1`,
    's=phone',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${port} RTP/AVP ${pts.join(' ')} 101`,
    ...pts.map((pt) => (pt === 0 ? 'a=rtpmap:0 PCMU/8000' : 'a=rtpmap:8 PCMA/8000')),
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-16',
    'a=ptime:20',
    'a=sendrecv',
  ]);

/** The parts of an SDP the tests look at (first audio section). */
function parseSdp(buf: Buffer) {
  const text = buf.toString();
  const lines = text.split('\r\n');
  const m = /^m=audio (\d+) (\S+) (.*)$/m.exec(text);
  if (!m) throw new Error(`no audio m-line in:\n${text}`);
  return {
    text,
    port: Number(m[1]),
    proto: m[2]!,
    pts: m[3]!.split(' ').map(Number),
    connection: /^c=IN IP4 (\S+)$/m.exec(text)?.[1],
    origin: /^o=\S+ \S+ \S+ IN IP4 (\S+)$/m.exec(text)?.[1],
    has: (prefix: string) => lines.some((l) => l.startsWith(prefix)),
    codec: (pt: number) => new RegExp(`^a=rtpmap:${pt} ([^/\\r]+)`, 'm').exec(text)?.[1],
  };
}

function rtpPacket(pt: number, seq: number, ssrc: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(12);
  header[0] = 0x80;
  header[1] = pt & 0x7f;
  header.writeUInt16BE(seq & 0xffff, 2);
  header.writeUInt32BE((seq * 160) >>> 0, 4);
  header.writeUInt32BE(ssrc, 8);
  return Buffer.concat([header, payload]);
}

async function udpParty(): Promise<{ socket: Socket; port: number; packets: Buffer[] }> {
  const socket = createSocket('udp4');
  const packets: Buffer[] = [];
  socket.on('message', (msg) => packets.push(msg));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { socket, port: socket.address().port, packets };
}

async function sendPackets(
  from: Socket,
  toPort: number,
  pt: number,
  ssrc: number,
  fill: (i: number) => number,
) {
  const sent: Buffer[] = [];
  for (let i = 0; i < 20; i++) {
    const payload = Buffer.alloc(160, fill(i));
    payload.writeUInt16BE(i, 0);
    sent.push(payload);
    await new Promise<void>((resolve, reject) =>
      from.send(rtpPacket(pt, 1000 + i, ssrc, payload), toPort, '127.0.0.1', (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    await new Promise((r) => setTimeout(r, 5));
  }
  return sent;
}

async function waitFor(predicate: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!predicate() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
}

describe('RtpEngine helpers', () => {
  it('parses ng addresses', () => {
    expect(parseNgAddress('127.0.0.1:22222')).toEqual({ host: '127.0.0.1', port: 22222 });
    expect(parseNgAddress('udp:10.0.0.5:2223')).toEqual({ host: '10.0.0.5', port: 2223 });
    expect(parseNgAddress('[::1]:2223')).toEqual({ host: '::1', port: 2223 });
    expect(parseNgAddress('rtpengine.local:2223')).toEqual({ host: 'rtpengine.local', port: 2223 });
    expect(parseNgAddress('127.0.0.1')).toBeUndefined();
    expect(parseNgAddress('127.0.0.1:0')).toBeUndefined();
    expect(parseNgAddress('127.0.0.1:70000')).toBeUndefined();
    expect(() => new RtpEngine({ address: 'nope' })).toThrow(TypeError);
  });

  it('chooses flags per kind of party', () => {
    expect(sideFlags('webrtc')).toMatchObject({
      transportProtocol: 'UDP/TLS/RTP/SAVPF',
      ice: 'force',
      sdes: ['off'],
    });
    expect(sideFlags('rtp')).toMatchObject({ transportProtocol: 'RTP/AVP', ice: 'remove', dtls: 'off' });
  });

  it('an unreachable engine: offer rejects with MEDIA_ENGINE_TIMEOUT within the timeout, ping is false', async () => {
    const port = await pickFreeUdpPort();
    const media = new RtpEngine({ host: '127.0.0.1', port, timeoutMs: 700, retransmitMs: [200, 200] });
    try {
      const started = Date.now();
      const err = await media
        .offer({ callId: 'c', fromTag: 'a', sdp: phoneSdp(4000), toward: 'rtp' })
        .catch((e: unknown) => e);
      expect(isMediaError(err) && err.code).toBe('MEDIA_ENGINE_TIMEOUT');
      expect(Date.now() - started).toBeLessThan(1500);
      await expect(media.ping()).resolves.toBe(false);
      await expect(media.delete('c')).rejects.toMatchObject({ code: 'MEDIA_ENGINE_TIMEOUT' });
    } finally {
      await media.close();
    }
  });
});

// A missing rtpengine fails these suites (startRtpEngineProcess says so): CI installs rtpengine-daemon.
describe('RtpEngine against rtpengine', () => {
  const engine = useRtpEngine('sb-rtpe-');
  let callN = 0;
  const callId = () => `call-${process.pid}-${++callN}`;
  const inRange = (port: number) => port >= engine.proc.portMin && port <= engine.proc.portMax;

  it('ping', async () => {
    await expect(engine.media.ping()).resolves.toBe(true);
    expect(engine.media.description).toBe(`rtpengine ${engine.proc.address}`);
  });

  it('RTP ↔ RTP: both SDPs name the engine address and ports in its range, not the parties', async () => {
    const id = callId();
    const out = parseSdp(
      await engine.media.offer({ callId: id, fromTag: 'A', sdp: phoneSdp(40_000), toward: 'rtp' }),
    );
    expect(out.proto).toBe('RTP/AVP');
    expect(out.connection).toBe('127.0.0.1');
    expect(inRange(out.port)).toBe(true);
    expect(out.port).not.toBe(40_000);
    expect(out.pts.slice(0, 2)).toEqual([0, 8]);
    const back = parseSdp(
      await engine.media.answer({
        callId: id,
        fromTag: 'A',
        toTag: 'B',
        sdp: phoneSdp(40_002, [0]),
        toward: 'rtp',
      }),
    );
    expect(back.proto).toBe('RTP/AVP');
    expect(back.connection).toBe('127.0.0.1');
    expect(inRange(back.port)).toBe(true);
    expect(back.port).not.toBe(40_002);
    expect(back.port).not.toBe(out.port);
    expect(back.pts[0]).toBe(0);
    expect(back.has('a=sendrecv')).toBe(true);
    await engine.media.delete(id);
  });

  it('WebRTC offer toward an RTP phone: RTP/AVP with G.711, no ICE / DTLS; a PCMU answer reaches the browser as PCMU over SAVPF', async () => {
    const id = callId();
    const out = parseSdp(
      await engine.media.offer({ callId: id, fromTag: 'B1', sdp: webrtcOffer(50_000), toward: 'rtp' }),
    );
    expect(out.proto).toBe('RTP/AVP');
    expect(out.connection).toBe('127.0.0.1');
    expect(inRange(out.port)).toBe(true);
    expect(out.pts).toContain(0);
    expect(out.pts).toContain(8);
    for (const prefix of [
      'a=ice-',
      'a=candidate',
      'a=fingerprint',
      'a=setup',
      'a=crypto',
      'a=rtcp-mux',
      'a=extmap:',
    ]) {
      expect(out.has(prefix), prefix).toBe(false);
    }
    const back = parseSdp(
      await engine.media.answer({
        callId: id,
        fromTag: 'B1',
        toTag: 'P1',
        sdp: phoneSdp(40_010, [0]),
        toward: 'webrtc',
      }),
    );
    expect(back.proto).toBe('UDP/TLS/RTP/SAVPF');
    expect(back.pts[0]).toBe(0);
    expect(back.codec(0)).toBe('PCMU');
    expect(back.has('a=ice-ufrag:')).toBe(true);
    expect(back.has('a=fingerprint:')).toBe(true);
    expect(back.has('a=rtcp-mux')).toBe(true);
    expect(back.has('a=setup:active') || back.has('a=setup:passive')).toBe(true);
    expect(back.text).toMatch(/^a=candidate:\S+ 1 UDP \d+ 127\.0\.0\.1 \d+ typ host/m);
    await engine.media.delete(id);
  });

  it('a WebRTC offer with Opus only still gives a phone PCMU / PCMA (transcoding)', async () => {
    const id = callId();
    const opusOnly = Buffer.from(
      webrtcOffer(50_010)
        .toString()
        .replace(/^m=audio (\d+) (\S+) .*$/m, 'm=audio $1 $2 111')
        .replace(/^a=(rtpmap|fmtp|rtcp-fb):(63|9|0|8|13|110|126) .*\r\n/gm, ''),
    );
    expect(opusOnly.toString()).not.toContain('PCMU');
    const out = parseSdp(
      await engine.media.offer({ callId: id, fromTag: 'B1', sdp: opusOnly, toward: 'rtp' }),
    );
    expect(out.pts).toContain(0);
    expect(out.codec(0)).toBe('PCMU');
    expect(out.pts).toContain(8);
    const back = parseSdp(
      await engine.media.answer({
        callId: id,
        fromTag: 'B1',
        toTag: 'P1',
        sdp: phoneSdp(40_020, [0]),
        toward: 'webrtc',
      }),
    );
    expect(back.proto).toBe('UDP/TLS/RTP/SAVPF');
    expect(back.codec(back.pts[0]!)).toBe('opus');
    await engine.media.delete(id);
  });

  it('a browser is offered G.711 only (so every leg records as G.711), even by another browser', async () => {
    const id = callId();
    const offer = webrtcOffer(50_020);
    expect(offer.toString()).toMatch(/opus/i);
    const out = parseSdp(
      await engine.media.offer({ callId: id, fromTag: 'B1', sdp: offer, toward: 'webrtc' }),
    );
    expect(out.proto).toBe('UDP/TLS/RTP/SAVPF');
    const codecs = out.pts.map((pt) => out.codec(pt)?.toLowerCase());
    expect(codecs).toContain('pcmu');
    expect(codecs.every((codec) => codec === 'pcmu' || codec === 'pcma' || codec === 'telephone-event')).toBe(
      true,
    );
    await engine.media.delete(id);
  });

  it('RTP offer toward WebRTC: UDP/TLS/RTP/SAVPF with ICE, fingerprint, rtcp-mux, mid', async () => {
    const id = callId();
    const out = parseSdp(
      await engine.media.offer({ callId: id, fromTag: 'P1', sdp: phoneSdp(40_030), toward: 'webrtc' }),
    );
    expect(out.proto).toBe('UDP/TLS/RTP/SAVPF');
    expect(inRange(out.port)).toBe(true);
    expect(out.has('a=ice-ufrag:')).toBe(true);
    expect(out.has('a=ice-pwd:')).toBe(true);
    expect(out.has('a=fingerprint:sha-256 ')).toBe(true);
    expect(out.has('a=setup:actpass')).toBe(true);
    expect(out.has('a=rtcp-mux')).toBe(true);
    expect(out.has('a=mid:')).toBe(true);
    expect(out.has('a=crypto:')).toBe(false);
    expect(out.pts.slice(0, 2)).toEqual([0, 8]);
    await engine.media.delete(id);
  });

  it('forking: each branch gets its own ports, the answer picks its branch', async () => {
    const id = callId();
    const b1 = parseSdp(
      await engine.media.offer({
        callId: id,
        fromTag: 'A',
        branch: 'dev1',
        sdp: phoneSdp(40_040),
        toward: 'webrtc',
      }),
    );
    const b2 = parseSdp(
      await engine.media.offer({
        callId: id,
        fromTag: 'A',
        branch: 'dev2',
        sdp: phoneSdp(40_040),
        toward: 'rtp',
      }),
    );
    expect(b1.proto).toBe('UDP/TLS/RTP/SAVPF');
    expect(b2.proto).toBe('RTP/AVP');
    expect(b1.port).not.toBe(b2.port);
    const back = parseSdp(
      await engine.media.answer({
        callId: id,
        fromTag: 'A',
        toTag: 'dev2-leg',
        branch: 'dev2',
        sdp: phoneSdp(40_042, [8]),
        toward: 'rtp',
      }),
    );
    expect(back.proto).toBe('RTP/AVP');
    expect(back.pts[0]).toBe(8);
    await engine.media.delete(id);
  });

  it('real RTP flows both ways through the engine after offer/answer', async () => {
    const a = await udpParty();
    const b = await udpParty();
    const id = callId();
    try {
      const toB = parseSdp(
        await engine.media.offer({ callId: id, fromTag: 'A', sdp: phoneSdp(a.port, [0]), toward: 'rtp' }),
      );
      const toA = parseSdp(
        await engine.media.answer({
          callId: id,
          fromTag: 'A',
          toTag: 'B',
          sdp: phoneSdp(b.port, [0]),
          toward: 'rtp',
        }),
      );
      // A sends to the port in the answer it got; B to the port in the offer it got.
      const [fromA, fromB] = await Promise.all([
        sendPackets(a.socket, toA.port, 0, 0x1111, (i) => 0x10 + i),
        sendPackets(b.socket, toB.port, 0, 0x2222, (i) => 0x80 + i),
      ]);
      await waitFor(() => a.packets.length >= 20 && b.packets.length >= 20, 3000);
      const payloads = (packets: Buffer[]) =>
        packets.filter((p) => (p[1]! & 0x7f) === 0).map((p) => p.subarray(12).toString('hex'));
      expect(payloads(b.packets).sort()).toEqual(fromA.map((p) => p.toString('hex')).sort());
      expect(payloads(a.packets).sort()).toEqual(fromB.map((p) => p.toString('hex')).sort());
    } finally {
      await engine.media.delete(id);
      a.socket.close();
      b.socket.close();
    }
  });

  it('transcodes PCMA from one party into the PCMU the other chose', async () => {
    const a = await udpParty();
    const b = await udpParty();
    const id = callId();
    try {
      const toB = parseSdp(
        await engine.media.offer({ callId: id, fromTag: 'A', sdp: phoneSdp(a.port, [8]), toward: 'rtp' }),
      );
      expect(toB.pts).toContain(0);
      const toA = parseSdp(
        await engine.media.answer({
          callId: id,
          fromTag: 'A',
          toTag: 'B',
          sdp: phoneSdp(b.port, [0]),
          toward: 'rtp',
        }),
      );
      expect(toA.pts[0]).toBe(8);
      // 0xd5 is PCMA silence; transcoded to PCMU it becomes 0xff.
      await sendPackets(a.socket, toA.port, 8, 0x3333, () => 0xd5);
      await waitFor(() => b.packets.length >= 10, 3000);
      expect(b.packets.length).toBeGreaterThanOrEqual(10);
      expect(b.packets.every((p) => (p[1]! & 0x7f) === 0)).toBe(true);
    } finally {
      await engine.media.delete(id);
      a.socket.close();
      b.socket.close();
    }
  });

  it('delete releases the call; deleting again and unknown calls succeed', async () => {
    const id = callId();
    await engine.media.offer({ callId: id, fromTag: 'A', sdp: phoneSdp(40_050), toward: 'rtp' });
    await expect(engine.media.query(id)).resolves.toMatchObject({ result: 'ok' });
    await engine.media.delete(id);
    await engine.media.delete(id);
    await engine.media.delete('never-seen-call');
  });

  it('an engine error (unparseable SDP) is a MEDIA_ENGINE_ERROR with the reason', async () => {
    const err = await engine.media
      .offer({ callId: callId(), fromTag: 'A', sdp: Buffer.from('this is not sdp'), toward: 'rtp' })
      .catch((e: unknown) => e);
    expect(isMediaError(err) && err.code).toBe('MEDIA_ENGINE_ERROR');
    expect(isMediaError(err) && err.reason).toBeTruthy();
  });
});
