/**
 * A reader of classic libpcap files (not pcapng) that yields the UDP datagrams in them: what
 * rtpengine's `--recording-method=pcap` writes (src/recordings/render.ts).
 *
 * - Both byte orders, microsecond (magic a1b2c3d4) and nanosecond (a1b23c4d) timestamps.
 * - Link types: raw IP (LINKTYPE_RAW 101, and DLT_RAW's OS-specific numbers 12 and 14; 228 IPv4;
 *   229 IPv6) — rtpengine's default `--recording-format=raw`; Ethernet (1, with 802.1Q tags) —
 *   its `--recording-format=eth`; Linux cooked v1 (113) and v2 (276) and BSD loopback (0, 108),
 *   as tcpdump writes them.
 * - IPv4 (options, unfragmented datagrams only) and IPv6 (skipping hop-by-hop, routing and
 *   destination-options headers; fragments are skipped) carrying UDP.
 *
 * Never throws on bad input: a file cut short (an engine that crashed leaves one, its stdio buffer
 * unflushed) gives the packets before the cut and `truncated: true`; a file that is not a pcap at
 * all gives no packets and `problem`.
 */

export interface PcapUdpPacket {
  /** Capture time, epoch ms (fractional). */
  timestampMs: number;
  srcAddr: string;
  srcPort: number;
  dstAddr: string;
  dstPort: number;
  /** The UDP payload (a view into the file's buffer). */
  payload: Buffer;
}

export interface PcapCapture {
  /** The file's link type (undefined when the header could not be read). */
  linkType: number | undefined;
  /** Whether timestamps are in nanoseconds. */
  nanosecond: boolean;
  packets: PcapUdpPacket[];
  /** Records that were not unfragmented UDP over IPv4/IPv6 (or of an unknown link type). */
  skipped: number;
  /** The file ends inside a header or a record: what came before it is in `packets`. */
  truncated: boolean;
  /** Why nothing (or not everything) could be read: not a pcap file, a corrupt record. */
  problem?: string;
}

const MAGIC_MICRO = 0xa1b2c3d4;
const MAGIC_NANO = 0xa1b23c4d;
const PCAPNG_MAGIC = 0x0a0d0d0a;
const FILE_HEADER = 24;
const RECORD_HEADER = 16;
/** Larger than any snap length tools write (262144); a bigger record length means corruption. */
const MAX_RECORD = 0x40000 + 0x10000;

export const LINKTYPE = {
  NULL: 0,
  ETHERNET: 1,
  RAW_DLT12: 12,
  RAW_DLT14: 14,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

/** Read every UDP datagram of a classic pcap file. Never throws. */
export function readPcap(file: Uint8Array): PcapCapture {
  const capture: PcapCapture = {
    linkType: undefined,
    nanosecond: false,
    packets: [],
    skipped: 0,
    truncated: false,
  };
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (buf.length < 4) {
    capture.truncated = true;
    capture.problem = buf.length === 0 ? 'the file is empty' : 'the file ends inside the pcap header';
    return capture;
  }
  const magicBE = buf.readUInt32BE(0);
  const magicLE = buf.readUInt32LE(0);
  let littleEndian: boolean;
  if (magicLE === MAGIC_MICRO || magicLE === MAGIC_NANO) littleEndian = true;
  else if (magicBE === MAGIC_MICRO || magicBE === MAGIC_NANO) littleEndian = false;
  else {
    capture.problem =
      magicBE === PCAPNG_MAGIC ? 'pcapng files are not supported' : 'not a pcap file (unknown magic number)';
    return capture;
  }
  capture.nanosecond = (littleEndian ? magicLE : magicBE) === MAGIC_NANO;
  if (buf.length < FILE_HEADER) {
    capture.truncated = true;
    capture.problem = 'the file ends inside the pcap header';
    return capture;
  }
  const u32 = (offset: number) => (littleEndian ? buf.readUInt32LE(offset) : buf.readUInt32BE(offset));
  // The link type's upper bits may carry an FCS length (pcap-linktype(7)); the type is the low 16.
  const linkType = u32(20) & 0xffff;
  capture.linkType = linkType;
  const fractionToMs = capture.nanosecond ? 1e-6 : 1e-3;

  let offset = FILE_HEADER;
  while (offset < buf.length) {
    if (offset + RECORD_HEADER > buf.length) {
      capture.truncated = true;
      break;
    }
    const seconds = u32(offset);
    const fraction = u32(offset + 4);
    const capturedLength = u32(offset + 8);
    if (capturedLength > MAX_RECORD) {
      capture.truncated = true;
      capture.problem = `corrupt record at byte ${offset} (captured length ${capturedLength})`;
      break;
    }
    const body = offset + RECORD_HEADER;
    if (body + capturedLength > buf.length) {
      capture.truncated = true;
      break;
    }
    const frame = buf.subarray(body, body + capturedLength);
    offset = body + capturedLength;
    const datagram = udpOfFrame(frame, linkType);
    if (!datagram) {
      capture.skipped++;
      continue;
    }
    capture.packets.push({ timestampMs: seconds * 1000 + fraction * fractionToMs, ...datagram });
  }
  return capture;
}

type Datagram = Omit<PcapUdpPacket, 'timestampMs'>;

/** The UDP datagram in one captured frame, or undefined. */
function udpOfFrame(frame: Buffer, linkType: number): Datagram | undefined {
  switch (linkType) {
    case LINKTYPE.RAW:
    case LINKTYPE.RAW_DLT12:
    case LINKTYPE.RAW_DLT14:
      return udpOfIp(frame);
    case LINKTYPE.IPV4:
      return frame.length > 0 && frame[0]! >> 4 === 4 ? udpOfIp(frame) : undefined;
    case LINKTYPE.IPV6:
      return frame.length > 0 && frame[0]! >> 4 === 6 ? udpOfIp(frame) : undefined;
    case LINKTYPE.ETHERNET: {
      if (frame.length < 14) return undefined;
      let typeAt = 12;
      let etherType = frame.readUInt16BE(typeAt);
      // 802.1Q / 802.1ad VLAN tags.
      while ((etherType === 0x8100 || etherType === 0x88a8) && typeAt + 6 <= frame.length) {
        typeAt += 4;
        etherType = frame.readUInt16BE(typeAt);
      }
      return ipOfEtherType(etherType, frame.subarray(typeAt + 2));
    }
    case LINKTYPE.LINUX_SLL:
      return frame.length < 16 ? undefined : ipOfEtherType(frame.readUInt16BE(14), frame.subarray(16));
    case LINKTYPE.LINUX_SLL2:
      return frame.length < 20 ? undefined : ipOfEtherType(frame.readUInt16BE(0), frame.subarray(20));
    case LINKTYPE.NULL:
    case LINKTYPE.LOOP:
      // A 4-byte address family (host order for NULL, network order for LOOP); the IP version
      // nibble says the rest.
      return frame.length < 4 ? undefined : udpOfIp(frame.subarray(4));
    default:
      return undefined;
  }
}

function ipOfEtherType(etherType: number, packet: Buffer): Datagram | undefined {
  if (etherType === 0x0800 || etherType === 0x86dd) return udpOfIp(packet);
  return undefined;
}

const UDP = 17;

/** UDP in an IPv4 or IPv6 packet (version from the first nibble). */
function udpOfIp(packet: Buffer): Datagram | undefined {
  if (packet.length < 1) return undefined;
  const version = packet[0]! >> 4;
  if (version === 4) {
    if (packet.length < 20) return undefined;
    const headerLength = (packet[0]! & 0x0f) * 4;
    if (headerLength < 20 || packet.length < headerLength) return undefined;
    const fragment = packet.readUInt16BE(6);
    if ((fragment & 0x2000) !== 0 || (fragment & 0x1fff) !== 0) return undefined; // a fragment
    if (packet[9] !== UDP) return undefined;
    const totalLength = packet.readUInt16BE(2);
    // A total length of 0 appears with segmentation offload: take what was captured.
    const end = totalLength >= headerLength ? Math.min(totalLength, packet.length) : packet.length;
    return udpOf(
      packet.subarray(headerLength, end),
      ipv4Text(packet.subarray(12, 16)),
      ipv4Text(packet.subarray(16, 20)),
    );
  }
  if (version === 6) {
    if (packet.length < 40) return undefined;
    const payloadLength = packet.readUInt16BE(4);
    let next = packet[6]!;
    let offset = 40;
    const end = payloadLength > 0 ? Math.min(40 + payloadLength, packet.length) : packet.length;
    // Hop-by-hop (0), routing (43), destination options (60): skip; fragment (44): give up.
    while (next === 0 || next === 43 || next === 60) {
      if (offset + 8 > end) return undefined;
      const following = packet[offset]!;
      offset += (packet[offset + 1]! + 1) * 8;
      next = following;
    }
    if (next !== UDP || offset > end) return undefined;
    return udpOf(
      packet.subarray(offset, end),
      ipv6Text(packet.subarray(8, 24)),
      ipv6Text(packet.subarray(24, 40)),
    );
  }
  return undefined;
}

function udpOf(segment: Buffer, srcAddr: string, dstAddr: string): Datagram | undefined {
  if (segment.length < 8) return undefined;
  const length = segment.readUInt16BE(4);
  // The UDP length may be 0 (jumbograms) or larger than captured (snap length): take what is there.
  const end = length >= 8 ? Math.min(length, segment.length) : segment.length;
  return {
    srcAddr,
    srcPort: segment.readUInt16BE(0),
    dstAddr,
    dstPort: segment.readUInt16BE(2),
    payload: segment.subarray(8, end),
  };
}

function ipv4Text(bytes: Buffer): string {
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/** RFC 5952 text: lower case, leading zeros dropped, the longest run (≥ 2) of zero groups as `::`. */
export function ipv6Text(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // IPv4-mapped ::ffff:a.b.c.d
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff)
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLength < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

// ---- writing (tests, tools) ----------------------------------------------------------------------

export interface PcapWriteOptions {
  linkType?: number;
  /** Default little. */
  endianness?: 'little' | 'big';
  nanosecond?: boolean;
}

/** A classic pcap file of the given frames (already framed for `linkType`). */
export function writePcap(
  frames: ReadonlyArray<{ timestampMs: number; frame: Uint8Array }>,
  options: PcapWriteOptions = {},
): Buffer {
  const little = (options.endianness ?? 'little') === 'little';
  const nano = options.nanosecond ?? false;
  const total = FILE_HEADER + frames.reduce((n, f) => n + RECORD_HEADER + f.frame.length, 0);
  const out = Buffer.alloc(total);
  const w32 = (value: number, at: number) =>
    little ? out.writeUInt32LE(value >>> 0, at) : out.writeUInt32BE(value >>> 0, at);
  const w16 = (value: number, at: number) =>
    little ? out.writeUInt16LE(value, at) : out.writeUInt16BE(value, at);
  w32(nano ? MAGIC_NANO : MAGIC_MICRO, 0);
  w16(2, 4);
  w16(4, 6);
  w32(0, 8);
  w32(0, 12);
  w32(65535, 16);
  w32(options.linkType ?? LINKTYPE.RAW, 20);
  let offset = FILE_HEADER;
  for (const { timestampMs, frame } of frames) {
    const seconds = Math.floor(timestampMs / 1000);
    const fraction = Math.round((timestampMs - seconds * 1000) * (nano ? 1e6 : 1e3));
    w32(seconds, offset);
    w32(fraction, offset + 4);
    w32(frame.length, offset + 8);
    w32(frame.length, offset + 12);
    out.set(frame, offset + RECORD_HEADER);
    offset += RECORD_HEADER + frame.length;
  }
  return out;
}

/** An IPv4 (or IPv6, when the addresses contain ':') + UDP packet, as LINKTYPE_RAW frames it. */
export function buildIpUdpPacket(datagram: {
  srcAddr: string;
  srcPort: number;
  dstAddr: string;
  dstPort: number;
  payload: Uint8Array;
}): Buffer {
  const udp = Buffer.alloc(8 + datagram.payload.length);
  udp.writeUInt16BE(datagram.srcPort, 0);
  udp.writeUInt16BE(datagram.dstPort, 2);
  udp.writeUInt16BE(udp.length, 4);
  udp.set(datagram.payload, 8);
  if (datagram.srcAddr.includes(':')) {
    const ip = Buffer.alloc(40);
    ip[0] = 0x60;
    ip.writeUInt16BE(udp.length, 4);
    ip[6] = UDP;
    ip[7] = 64;
    ipv6Bytes(datagram.srcAddr).copy(ip, 8);
    ipv6Bytes(datagram.dstAddr).copy(ip, 24);
    return Buffer.concat([ip, udp]);
  }
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + udp.length, 2);
  ip[8] = 64;
  ip[9] = UDP;
  Buffer.from(datagram.srcAddr.split('.').map(Number)).copy(ip, 12);
  Buffer.from(datagram.dstAddr.split('.').map(Number)).copy(ip, 16);
  return Buffer.concat([ip, udp]);
}

function ipv6Bytes(text: string): Buffer {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const parse = (part: string | undefined) =>
    part ? part.split(':').map((g) => Number.parseInt(g, 16)) : [];
  const first = parse(head);
  const last = parse(tail);
  const groups =
    tail === undefined ? first : [...first, ...new Array(8 - first.length - last.length).fill(0), ...last];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => {
    out.writeUInt16BE(g & 0xffff, 2 * i);
  });
  return out;
}
