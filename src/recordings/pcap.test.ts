import { describe, expect, it } from 'vitest';
import { buildIpUdpPacket, ipv6Text, LINKTYPE, readPcap, writePcap } from './pcap.js';

const v4 = { srcAddr: '10.1.2.3', srcPort: 40000, dstAddr: '127.0.0.1', dstPort: 30000 };
const v6 = { srcAddr: '2001:db8::1', srcPort: 40002, dstAddr: '::1', dstPort: 30002 };
const payload = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => i & 0xff));

describe('readPcap', () => {
  it('reads raw IPv4 and IPv6 UDP in both byte orders, µs and ns timestamps', () => {
    const frames = [
      { timestampMs: 1_700_000_000_123.456, frame: buildIpUdpPacket({ ...v4, payload: payload(172) }) },
      { timestampMs: 1_700_000_000_143.5, frame: buildIpUdpPacket({ ...v6, payload: payload(20) }) },
    ];
    for (const endianness of ['little', 'big'] as const) {
      for (const nanosecond of [false, true]) {
        const capture = readPcap(writePcap(frames, { endianness, nanosecond }));
        expect(capture.linkType).toBe(LINKTYPE.RAW);
        expect(capture.nanosecond).toBe(nanosecond);
        expect(capture.truncated).toBe(false);
        expect(capture.problem).toBeUndefined();
        expect(capture.packets).toHaveLength(2);
        const [a, b] = capture.packets;
        expect(a).toMatchObject(v4);
        expect(a!.payload.equals(payload(172))).toBe(true);
        expect(a!.timestampMs).toBeCloseTo(1_700_000_000_123.456, 3);
        expect(b).toMatchObject(v6);
        expect(b!.payload.equals(payload(20))).toBe(true);
      }
    }
  });

  it('reads Ethernet (with a VLAN tag), Linux cooked v1/v2, IPv4/IPv6 link types and loopback', () => {
    const ip = buildIpUdpPacket({ ...v4, payload: payload(10) });
    const eth = Buffer.concat([Buffer.alloc(12), Buffer.from([0x08, 0x00]), ip]);
    const vlan = Buffer.concat([Buffer.alloc(12), Buffer.from([0x81, 0x00, 0x00, 0x07, 0x08, 0x00]), ip]);
    const sll = Buffer.concat([Buffer.alloc(14), Buffer.from([0x08, 0x00]), ip]);
    const sll2 = Buffer.concat([Buffer.from([0x08, 0x00]), Buffer.alloc(18), ip]);
    const loop = Buffer.concat([Buffer.from([2, 0, 0, 0]), ip]);
    const cases: Array<[number, Buffer]> = [
      [LINKTYPE.ETHERNET, eth],
      [LINKTYPE.ETHERNET, vlan],
      [LINKTYPE.LINUX_SLL, sll],
      [LINKTYPE.LINUX_SLL2, sll2],
      [LINKTYPE.IPV4, ip],
      [LINKTYPE.RAW_DLT12, ip],
      [LINKTYPE.NULL, loop],
    ];
    for (const [linkType, frame] of cases) {
      const capture = readPcap(writePcap([{ timestampMs: 1000, frame }], { linkType }));
      expect(capture.packets, `link type ${linkType}`).toHaveLength(1);
      expect(capture.packets[0]).toMatchObject(v4);
      expect(capture.packets[0]!.payload.equals(payload(10))).toBe(true);
    }
    const ip6 = buildIpUdpPacket({ ...v6, payload: payload(4) });
    expect(
      readPcap(writePcap([{ timestampMs: 0, frame: ip6 }], { linkType: LINKTYPE.IPV6 })).packets[0],
    ).toMatchObject(v6);
  });

  it('skips what is not UDP: TCP, IPv4 fragments, ARP, unknown link types', () => {
    const udp = buildIpUdpPacket({ ...v4, payload: payload(8) });
    const tcp = Buffer.from(udp);
    tcp[9] = 6;
    const fragment = Buffer.from(udp);
    fragment.writeUInt16BE(0x2000, 6); // more fragments
    const arp = Buffer.concat([Buffer.alloc(12), Buffer.from([0x08, 0x06]), Buffer.alloc(28)]);
    const raw = readPcap(
      writePcap([
        { timestampMs: 0, frame: tcp },
        { timestampMs: 1, frame: fragment },
        { timestampMs: 2, frame: udp },
        { timestampMs: 3, frame: Buffer.alloc(3) },
      ]),
    );
    expect(raw.packets).toHaveLength(1);
    expect(raw.skipped).toBe(3);
    expect(
      readPcap(writePcap([{ timestampMs: 0, frame: arp }], { linkType: LINKTYPE.ETHERNET })).skipped,
    ).toBe(1);
    expect(readPcap(writePcap([{ timestampMs: 0, frame: udp }], { linkType: 147 })).skipped).toBe(1);
  });

  it('a file cut anywhere gives the whole records before the cut and says it was truncated; never throws', () => {
    const frames = Array.from({ length: 20 }, (_, i) => ({
      timestampMs: 1000 + 20 * i,
      frame: buildIpUdpPacket({ ...v4, payload: payload(172) }),
    }));
    const file = writePcap(frames);
    const recordSize = 16 + frames[0]!.frame.length;
    for (let cut = 0; cut < file.length; cut += 7) {
      const capture = readPcap(file.subarray(0, cut));
      expect(capture.truncated, `cut at ${cut}`).toBe(
        cut !== 24 && (cut < 24 || (cut - 24) % recordSize !== 0),
      );
      expect(capture.packets.length).toBe(Math.max(0, Math.floor((cut - 24) / recordSize)));
    }
    expect(readPcap(file).truncated).toBe(false);
    expect(readPcap(file).packets).toHaveLength(20);
  });

  it('says what is wrong with a file that is not a classic pcap', () => {
    expect(readPcap(Buffer.from('hello world, not a capture')).problem).toMatch(/not a pcap/);
    const pcapng = Buffer.alloc(32);
    pcapng.writeUInt32BE(0x0a0d0d0a, 0);
    expect(readPcap(pcapng).problem).toMatch(/pcapng/);
    expect(readPcap(Buffer.alloc(0))).toMatchObject({ truncated: true, packets: [] });
    // A record claiming to be huge: corrupt, stop there.
    const file = writePcap([{ timestampMs: 0, frame: buildIpUdpPacket({ ...v4, payload: payload(4) }) }]);
    const corrupt = Buffer.concat([file, Buffer.alloc(16, 0xff)]);
    const capture = readPcap(corrupt);
    expect(capture.packets).toHaveLength(1);
    expect(capture.problem).toMatch(/corrupt record/);
  });

  it('writes IPv6 addresses as RFC 5952 text', () => {
    const bytes = (groups: number[]) => {
      const b = Buffer.alloc(16);
      groups.forEach((g, i) => {
        b.writeUInt16BE(g, 2 * i);
      });
      return b;
    };
    expect(ipv6Text(bytes([0, 0, 0, 0, 0, 0, 0, 1]))).toBe('::1');
    expect(ipv6Text(bytes([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1]))).toBe('2001:db8::1:0:0:1');
    expect(ipv6Text(bytes([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1]))).toBe('2001:db8:0:1:1:1:1:1');
    expect(ipv6Text(bytes([0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]))).toBe('::ffff:127.0.0.1');
    expect(ipv6Text(bytes([0, 0, 0, 0, 0, 0, 0, 0]))).toBe('::');
  });
});
