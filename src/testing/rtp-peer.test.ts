import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeG711, sineTone } from './audio.js';
import { buildRtpPacket, parseRemoteSdp, parseRtpHeader, RtpPeer } from './rtp-peer.js';
import { sleep } from './wait.js';

const CANDIDATES = [500, 1000];

describe('RTP header parsing', () => {
  it('reads the fixed header of a packet it built', () => {
    const packet = buildRtpPacket({
      payloadType: 8,
      sequenceNumber: 0xfffe,
      timestamp: 0xfffffff0,
      ssrc: 0xdeadbeef,
      marker: true,
      payload: new Uint8Array(160).fill(0xd5),
    });
    expect(packet[0]).toBe(0x80);
    expect(parseRtpHeader(packet)).toEqual({
      version: 2,
      padding: false,
      extension: false,
      csrcCount: 0,
      marker: true,
      payloadType: 8,
      sequenceNumber: 0xfffe,
      timestamp: 0xfffffff0,
      ssrc: 0xdeadbeef,
      csrcs: [],
      payloadOffset: 12,
      payloadLength: 160,
    });
  });

  it('skips CSRCs, a header extension and padding', () => {
    const payload = Buffer.from([1, 2, 3, 4, 5]);
    const packet = Buffer.concat([
      Buffer.from([0x80 | 0x20 | 0x10 | 2, 0x00, 0, 1, 0, 0, 0, 160, 0, 0, 0, 7]), // P, X, CC=2
      Buffer.from([0, 0, 0, 11, 0, 0, 0, 12]), // two CSRCs
      Buffer.from([0xbe, 0xde, 0, 2, 1, 1, 1, 1, 2, 2, 2, 2]), // extension of two words
      payload,
      Buffer.from([0, 0, 3]), // three bytes of padding
    ]);
    const header = parseRtpHeader(packet)!;
    expect(header.csrcs).toEqual([11, 12]);
    expect(header.payloadOffset).toBe(12 + 8 + 12);
    expect(packet.subarray(header.payloadOffset, header.payloadOffset + header.payloadLength)).toEqual(
      payload,
    );
  });

  it('rejects what is not RTP', () => {
    expect(parseRtpHeader(Buffer.from([0x80, 0]))).toBeNull(); // too short
    expect(parseRtpHeader(Buffer.alloc(20))).toBeNull(); // version 0
    expect(parseRtpHeader(Buffer.from([0x8f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toBeNull(); // CSRCs missing
    const badPadding = Buffer.from([0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 9]);
    expect(parseRtpHeader(badPadding)).toBeNull();
  });
});

describe('SDP', () => {
  it('offers PCMU, PCMA and telephone-event on its own port', async () => {
    const peer = await RtpPeer.open();
    try {
      const sdp = peer.sdp('alice');
      expect(sdp).toContain('c=IN IP4 127.0.0.1\r\n');
      expect(sdp).toContain(`m=audio ${peer.port} RTP/AVP 0 8 101\r\n`);
      expect(sdp).toMatch(
        /a=rtpmap:0 PCMU\/8000\r\na=rtpmap:8 PCMA\/8000\r\na=rtpmap:101 telephone-event\/8000\r\n/,
      );
      expect(sdp).toContain('a=ptime:20\r\na=sendrecv\r\n');
      expect(sdp).toMatch(/^v=0\r\no=alice \d+ 1 IN IP4 127\.0\.0\.1\r\n/);
      expect(peer.sdp('alice')).toMatch(/^v=0\r\no=alice \d+ 2 /); // the version goes up
      expect(parseRemoteSdp(sdp)).toMatchObject({
        address: '127.0.0.1',
        port: peer.port,
        payloadType: 0,
        codec: 'PCMU',
      });
    } finally {
      await peer.close();
    }
  });

  it('answers with the codec the offer preferred', async () => {
    const peer = await RtpPeer.open();
    try {
      peer.setRemote(
        'v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n',
      );
      const answer = peer.sdp();
      expect(answer).toContain(`m=audio ${peer.port} RTP/AVP 8 101\r\n`);
      expect(answer).toContain('a=rtpmap:8 PCMA/8000\r\n');
      expect(answer).not.toContain('PCMU');
    } finally {
      await peer.close();
    }
  });

  it('takes the media-level address, the first G.711 format and the direction', () => {
    const sdp = [
      'v=0',
      'o=rtpengine 1 1 IN IP4 10.0.0.1',
      's=-',
      'c=IN IP4 10.0.0.1',
      't=0 0',
      'm=audio 30000 RTP/AVP 18 96 8 0 101',
      'c=IN IP4 127.0.0.2',
      'a=rtpmap:18 G729/8000',
      'a=rtpmap:96 opus/48000/2',
      'a=rtpmap:101 telephone-event/8000',
      'a=sendonly',
      'm=video 30002 RTP/AVP 96',
      'c=IN IP4 10.9.9.9',
      '',
    ].join('\n');
    expect(parseRemoteSdp(sdp)).toEqual({
      address: '127.0.0.2',
      port: 30000,
      payloadType: 8,
      codec: 'PCMA',
      direction: 'sendonly',
      telephoneEventPayloadType: 101,
    });
    expect(
      parseRemoteSdp('v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 5000 RTP/AVP 97\r\na=rtpmap:97 pcmu/8000\r\n'),
    ).toMatchObject({ payloadType: 97, codec: 'PCMU' });
  });

  it('refuses an SDP without a usable audio stream', () => {
    expect(() => parseRemoteSdp('v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 0 RTP/AVP 0\r\n')).toThrow(/rejected/);
    expect(() => parseRemoteSdp('v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 5000 RTP/AVP 18\r\n')).toThrow(/PCMU/);
    expect(() => parseRemoteSdp('v=0\r\nm=audio 5000 RTP/AVP 0\r\n')).toThrow(/connection address/);
    expect(() => parseRemoteSdp('v=0\r\nc=IN IP4 127.0.0.1\r\n')).toThrow(/m=audio/);
  });
});

describe('two RtpPeers talking', () => {
  const peers: RtpPeer[] = [];
  afterEach(async () => {
    await Promise.all(peers.splice(0).map((peer) => peer.close()));
  });

  async function connectedPair(offerPayloadTypes?: number[]): Promise<[RtpPeer, RtpPeer]> {
    const a = await RtpPeer.open({ host: '127.0.0.1' });
    const b = await RtpPeer.open({ host: '127.0.0.1' });
    peers.push(a, b);
    const offer = a.sdp('a', { payloadTypes: offerPayloadTypes });
    b.setRemote(offer);
    a.setRemote(b.sdp('b'));
    return [a, b];
  }

  it.each([
    ['PCMU', undefined, 0],
    ['PCMA', [8, 101], 8],
  ] as const)(
    'each hears the other’s tone and not its own (%s)',
    async (_codec, offerPayloadTypes, payloadType) => {
      const [a, b] = await connectedPair(offerPayloadTypes ? [...offerPayloadTypes] : undefined);
      expect(a.remote?.payloadType).toBe(payloadType);
      expect(b.remote?.payloadType).toBe(payloadType);
      const started = Date.now();
      a.startTone(1000);
      b.startTone(500);
      const [heardByB, heardByA] = await Promise.all([
        b.waitForTone(1000, CANDIDATES, { timeoutMs: 3000 }),
        a.waitForTone(500, CANDIDATES, { timeoutMs: 3000 }),
      ]);
      expect(heardByB.relativePower).toBeGreaterThan(0.9);
      expect(heardByB.candidates.find((c) => c.frequency === 500)!.relativePower).toBeLessThan(0.01);
      expect(heardByA.relativePower).toBeGreaterThan(0.9);
      expect(heardByA.candidates.find((c) => c.frequency === 1000)!.relativePower).toBeLessThan(0.01);

      await sleep(600);
      const elapsed = Date.now() - started;
      for (const [listener, talker] of [
        [a, b],
        [b, a],
      ] as const) {
        const received = listener.received;
        expect(received.sources).toEqual([`127.0.0.1:${talker.port}`]);
        expect(received.ssrcs).toEqual([talker.ssrc]);
        expect(received.payloadTypes).toEqual([payloadType]);
        expect(received.markerSeen).toBe(true);
        expect(received.sequenceGaps).toBe(0);
        // Paced at 50 packets a second: never ahead of the clock, and not a trickle (the lower bound
        // leaves room for a loaded machine's stalled timers).
        expect(received.audioPackets).toBeLessThanOrEqual(Math.ceil(elapsed / 20) + 1);
        expect(received.audioPackets).toBeGreaterThanOrEqual(0.75 * (elapsed / 20));
      }
    },
  );

  it('hears silence after the other stops, and a new tone after it restarts', async () => {
    const [a, b] = await connectedPair();
    a.startTone(1000);
    await b.waitForTone(1000, CANDIDATES, { timeoutMs: 3000 });
    a.stop();
    const packetsAtStop = b.received.packets;
    await sleep(200);
    expect(b.received.packets - packetsAtStop).toBeLessThanOrEqual(1);
    expect(b.receivedTone(CANDIDATES).sinceLastPacketMs).toBeGreaterThanOrEqual(150);

    const mark = b.receivedSampleCount;
    a.startTone(500);
    const heard = await b.waitForTone(500, CANDIDATES, { timeoutMs: 3000, fromSample: mark });
    expect(heard.candidates.find((c) => c.frequency === 1000)!.relativePower).toBeLessThan(0.01);
    expect(b.received.ssrcs).toEqual([a.ssrc]); // one stream throughout
    expect(b.received.sequenceGaps).toBe(0);
  });

  it('receives nothing and detects no tone when nobody sends', async () => {
    const [a] = await connectedPair();
    await sleep(100);
    const result = a.receivedTone(CANDIDATES);
    expect(result.frequency).toBeNull();
    expect(result.sampleCount).toBe(0);
    expect(result.sinceLastPacketMs).toBe(Number.POSITIVE_INFINITY);
    expect(a.received.packets).toBe(0);
  });
});

describe('RtpPeer receiving', () => {
  it('decodes packets with CSRCs, extension and padding, and ignores RTCP', async () => {
    const peer = await RtpPeer.open();
    const sender = createSocket('udp4');
    try {
      await new Promise<void>((resolve) => sender.bind(0, '127.0.0.1', resolve));
      const tone = sineTone({ frequency: 1000, sampleRate: 8000, durationMs: 400 });
      for (let i = 0; i < 20; i++) {
        const payload = encodeG711(tone.subarray(i * 160, (i + 1) * 160), 'alaw');
        const header = Buffer.from([0xb1, 8, 0, i, 0, 0, 0, 0, 0, 0, 0x30, 0x39]); // P, X, CC=1, PT 8
        header.writeUInt32BE(i * 160, 4);
        const packet = Buffer.concat([
          header,
          Buffer.from([1, 2, 3, 4]), // CSRC
          Buffer.from([0xbe, 0xde, 0, 1, 9, 9, 9, 9]), // extension of one word
          payload,
          Buffer.from([0, 2]), // two bytes of padding
        ]);
        sender.send(packet, peer.port, '127.0.0.1');
      }
      // An RTCP receiver report: version 2, packet type 201.
      sender.send(Buffer.from([0x80, 201, 0, 1, 0, 0, 0x30, 0x39]), peer.port, '127.0.0.1');
      const deadline = Date.now() + 2000;
      while (peer.received.packets + peer.received.otherDatagrams < 21 && Date.now() < deadline)
        await sleep(10);
      expect(peer.received.packets).toBe(20);
      expect(peer.received.otherDatagrams).toBe(1);
      expect(peer.receivedSampleCount).toBe(3200);
      const result = peer.receivedTone(CANDIDATES);
      expect(result.frequency).toBe(1000);
      expect(result.relativePower).toBeGreaterThan(0.9);
      expect(peer.received.sources).toEqual([`127.0.0.1:${sender.address().port}`]);
    } finally {
      sender.close();
      await peer.close();
    }
  });
});
