/**
 * Parser / serializer throughput on a typical INVITE with SDP (about 1 KB, as a softphone sends it).
 * `benchParser()` is aggregated by bench/run.ts; `npx tsx bench/parser.bench.ts` prints a table.
 */

import { pathToFileURL } from 'node:url';
import { parseMessage } from '../src/sip/parser.js';
import { serializeMessage } from '../src/sip/serializer.js';

const SDP = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 192.0.2.10',
  's=-',
  'c=IN IP4 192.0.2.10',
  't=0 0',
  'm=audio 49170 RTP/AVP 111 0 8 101',
  'a=rtpmap:111 opus/48000/2',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=ptime:20',
  'a=sendrecv',
  '',
].join('\r\n');

export const TYPICAL_INVITE: Buffer = Buffer.from(
  [
    'INVITE sip:100@switchboard.local SIP/2.0',
    'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport',
    'Max-Forwards: 70',
    'To: "Support" <sip:100@switchboard.local>',
    'From: "Alice A." <sip:1001@switchboard.local>;tag=1928301774',
    'Call-ID: a84b4c76e66710@pc33.example.com',
    'CSeq: 314159 INVITE',
    'Contact: <sip:1001@192.0.2.10:5060;transport=udp>;+sip.instance="<urn:uuid:0C67446E-F1A1-11D9-94D3-000A95A0E128>"',
    'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, MESSAGE',
    'Supported: replaces, timer, outbound',
    'User-Agent: Switchboard-Bench/1.0',
    'Authorization: Digest username="1001", realm="switchboard.local", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:100@switchboard.local", response="6629fae49393a05397450978507c4ef1", algorithm=MD5',
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(SDP)}`,
    '',
    SDP,
  ].join('\r\n'),
);

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
}

/**
 * Runs `fn` in batches for about `ms` of CPU time; returns operations per CPU-second of this process.
 * CPU time rather than wall time, so that other work on a shared machine does not skew the figure:
 * it is the rate one core sustains.
 */
function measure(fn: () => void, ms: number): number {
  for (let i = 0; i < 2000; i++) fn(); // warm-up for the JIT
  const batch = 1000;
  let ops = 0;
  const started = process.cpuUsage();
  let usedMicros = 0;
  while (usedMicros < ms * 1000) {
    for (let i = 0; i < batch; i++) fn();
    ops += batch;
    const used = process.cpuUsage(started);
    usedMicros = used.user + used.system;
  }
  return ops / (usedMicros / 1e6);
}

export async function benchParser(): Promise<BenchResult[]> {
  const first = parseMessage(TYPICAL_INVITE);
  if (!first.ok) throw new Error(`benchmark message does not parse: ${first.error.reason}`);
  const message = first.message;
  let sink = 0;
  const parseRate = measure(() => {
    const result = parseMessage(TYPICAL_INVITE);
    if (result.ok) sink += result.message.headers.size;
  }, 1500);
  const serializeRate = measure(() => {
    sink += serializeMessage(message).length;
  }, 1000);
  const roundTripRate = measure(() => {
    const result = parseMessage(TYPICAL_INVITE);
    if (result.ok) sink += serializeMessage(result.message).length;
  }, 1000);
  if (sink === 0) throw new Error('benchmark did no work');
  return [
    {
      name: `sip parse INVITE (${TYPICAL_INVITE.length} B)`,
      value: Math.round(parseRate),
      unit: 'msg/s (1 core)',
    },
    {
      name: `sip serialize INVITE (${TYPICAL_INVITE.length} B)`,
      value: Math.round(serializeRate),
      unit: 'msg/s (1 core)',
    },
    { name: 'sip parse+serialize INVITE', value: Math.round(roundTripRate), unit: 'msg/s (1 core)' },
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = await benchParser();
  console.table(
    results.map((r) => ({ benchmark: r.name, value: r.value.toLocaleString('en-US'), unit: r.unit })),
  );
}
