/**
 * Registration against the real platform over UDP, with sipp as the peer (issue 2), and the UDP
 * front door under bad input. Every assertion is made twice where it can be: sipp's verdict on the
 * wire, and the platform's own state (location service, metrics).
 */
import { createSocket, type Socket } from 'node:dgram';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { demoTenant } from '../src/config/demo.js';
import type { Platform } from '../src/platform.js';
import { SIP_ERRORS } from '../src/sip/errors.js';
import type { SipCounterName } from '../src/sip/metrics.js';
import type { BindingChange } from '../src/sip/registrar.js';
import { TestUa } from '../src/testing/test-ua.js';
import { startSipTestPlatform, type TestPlatform } from './support/platform.js';
import {
  describeSippResult,
  freeUdpPort,
  loadScenario,
  runSipp,
  type SippOptions,
  type SippResult,
  sippUas,
} from './support/sipp.js';
import { expectSippPassed } from './support/sipp-expect.js';

const DOMAIN = 'switchboard.local';
const EXTENSIONS = ['1000', '1001', '1002', '1003'];

let env: TestPlatform | undefined;
let platform: Platform;
/** Every binding change of the current test, as the location service announced it. */
const changes: BindingChange[] = [];

beforeAll(async () => {
  env = await startSipTestPlatform(demoTenant({ publicUrl: 'http://127.0.0.1:8080/' }));
  ({ platform } = env);
  platform.location.onChange((change) => changes.push(change));
});

afterEach(() => {
  // Each test starts from an empty location service, whatever the previous one left behind.
  for (const extension of EXTENSIONS) platform.location.removeAll(extension, 'unregistered');
  changes.length = 0;
});

afterAll(() => env?.close());

/** Run one of test/scenarios against the platform's UDP port as `extension`. */
function sipp(
  scenario: string,
  opts: Partial<SippOptions> & { extension: string; password?: string },
): Promise<SippResult> {
  const { extension, password, ...rest } = opts;
  return runSipp({
    scenario: loadScenario(scenario),
    name: scenario,
    remote: { host: '127.0.0.1', port: platform.sipPort },
    service: extension,
    authUser: extension,
    authPassword: password,
    timeoutMs: 20_000,
    ...rest,
    variables: { domain: DOMAIN, ...rest.variables },
  });
}

/** Register `extension` from sipp on `localPort` for `expires` seconds; sipp must see its 200. */
async function registerOk(
  extension: string,
  password: string,
  localPort: number,
  expires: number,
): Promise<void> {
  expectSippPassed(await sipp('register', { extension, password, localPort, variables: { expires } }));
}

/** Status lines of the responses sipp received, in order. */
function receivedStatuses(result: SippResult): number[] {
  const statuses: number[] = [];
  const pattern = /message received[^\n]*\n\s*\nSIP\/2\.0 (\d{3}) /g;
  for (const match of result.messageLog.matchAll(pattern)) statuses.push(Number(match[1]));
  return statuses;
}

function counters(): Record<SipCounterName, number> {
  const names: SipCounterName[] = [
    'messagesReceived',
    'parseErrors',
    'badRequestsAnswered',
    'droppedMessages',
    'registrations',
    'authFailures',
    'oversizeMessages',
  ];
  return Object.fromEntries(names.map((name) => [name, platform.metrics.get(name)])) as Record<
    SipCounterName,
    number
  >;
}

describe('registration over UDP with sipp', () => {
  it('registers with digest auth: 401 challenge, 200 with the Contact, and a UDP binding in the location service', async () => {
    const before = counters();
    const localPort = await freeUdpPort();
    const startedAt = Date.now();
    const result = await sipp('register', {
      extension: '1001',
      password: 'secret-a',
      localPort,
      variables: { expires: 600 },
    });

    expectSippPassed(result);
    expect(receivedStatuses(result)).toEqual([401, 200]);
    expect(result.messageLog).toContain(`Contact: <sip:1001@127.0.0.1:${localPort}>;expires=600`);

    const bindings = platform.location.lookup('1001');
    expect(bindings).toHaveLength(1);
    const [binding] = bindings;
    expect(binding?.contactUri).toBe(`sip:1001@127.0.0.1:${localPort}`);
    expect(binding?.flow).toEqual({ protocol: 'udp', address: '127.0.0.1', port: localPort });
    expect(binding?.userAgent).toBe('sipp');
    expect(binding?.cseq).toBe(2);
    const lifetimeSeconds = ((binding?.expiresAtMs ?? 0) - startedAt) / 1000;
    expect(lifetimeSeconds).toBeGreaterThan(590);
    expect(lifetimeSeconds).toBeLessThanOrEqual(601);
    expect(changes.map((c) => c.kind)).toEqual(['added']);
    expect(platform.metrics.get('registrations') - before.registrations).toBe(1);
    expect(platform.metrics.get('authFailures') - before.authFailures).toBe(0);
  });

  it('refreshes a binding in the same registration (higher CSeq) and keeps exactly one binding with the new lifetime', async () => {
    const localPort = await freeUdpPort();
    const result = await sipp('reregister', {
      extension: '1002',
      password: 'secret-b',
      localPort,
      variables: { expires: 600, reexpires: 120 },
    });

    expectSippPassed(result);
    expect(receivedStatuses(result)).toEqual([401, 200, 401, 200]);
    expect(result.messageLog).toContain(`Contact: <sip:1002@127.0.0.1:${localPort}>;expires=120`);

    const bindings = platform.location.lookup('1002');
    expect(bindings).toHaveLength(1);
    expect(bindings[0]?.cseq).toBe(4);
    const remainingSeconds = ((bindings[0]?.expiresAtMs ?? 0) - Date.now()) / 1000;
    expect(remainingSeconds).toBeGreaterThan(110);
    expect(remainingSeconds).toBeLessThanOrEqual(120);
    expect(changes.map((c) => c.kind)).toEqual(['added', 'refreshed']);
    expect(changes[1]?.binding.registeredAtMs).toBe(changes[0]?.binding.registeredAtMs);
  });

  it('refreshes a binding from a new registration (new Call-ID, same Contact) without duplicating it', async () => {
    const localPort = await freeUdpPort();
    await registerOk('1001', 'secret-a', localPort, 600);
    const first = platform.location.lookup('1001')[0];
    await registerOk('1001', 'secret-a', localPort, 300);

    const bindings = platform.location.lookup('1001');
    expect(bindings).toHaveLength(1);
    expect(bindings[0]?.sipCallId).not.toBe(first?.sipCallId);
    expect(bindings[0]?.registeredAtMs).toBe(first?.registeredAtMs);
    expect(changes.map((c) => c.kind)).toEqual(['added', 'refreshed']);
  });

  it('unregisters with Expires: 0: the 200 lists no Contact and the binding is gone', async () => {
    const localPort = await freeUdpPort();
    await registerOk('1001', 'secret-a', localPort, 600);
    expect(platform.location.lookup('1001')).toHaveLength(1);

    const result = await sipp('unregister', { extension: '1001', password: 'secret-a', localPort });
    expectSippPassed(result);
    expect(receivedStatuses(result)).toEqual([401, 200]);
    const finalResponse = result.messageLog.slice(result.messageLog.lastIndexOf('SIP/2.0 200 OK'));
    expect(finalResponse).not.toMatch(/^Contact:/im);

    expect(platform.location.lookup('1001')).toEqual([]);
    expect(platform.location.isRegistered('1001')).toBe(false);
    expect(changes.map((c) => `${c.kind}:${c.why ?? ''}`)).toEqual(['added:', 'removed:unregistered']);
  });

  it('unregisters only its own binding: another device of the same user stays registered', async () => {
    const devicePort = await freeUdpPort();
    const otherPort = await freeUdpPort();
    await registerOk('1003', 'secret-c', devicePort, 600);
    await registerOk('1003', 'secret-c', otherPort, 600);
    expect(platform.location.lookup('1003')).toHaveLength(2);

    // The scenario's own check (no Contact left in the 200) must fail here: the other binding is listed.
    const result = await sipp('unregister', {
      extension: '1003',
      password: 'secret-c',
      localPort: devicePort,
    });
    expect(result.exitCode, describeSippResult(result)).toBe(1);
    expect(result.errorLog).toContain(`sip:1003@127.0.0.1:${otherPort}`);

    const remaining = platform.location.lookup('1003');
    expect(remaining.map((b) => b.contactUri)).toEqual([`sip:1003@127.0.0.1:${otherPort}`]);
  });

  it('unregisters every binding of a user with Contact: * and Expires: 0', async () => {
    for (let i = 0; i < 2; i++) {
      const localPort = await freeUdpPort();
      await registerOk('1002', 'secret-b', localPort, 600);
    }
    expect(platform.location.lookup('1002')).toHaveLength(2);

    const result = await sipp('unregister-all', { extension: '1002', password: 'secret-b' });
    expectSippPassed(result);
    expect(receivedStatuses(result)).toEqual([401, 200]);
    expect(platform.location.lookup('1002')).toEqual([]);
    expect(changes.filter((c) => c.kind === 'removed').map((c) => c.why)).toEqual([
      'unregistered',
      'unregistered',
    ]);
  });

  it('refuses a wrong password: challenged, retried with credentials, rejected again; nothing is bound', async () => {
    const before = counters();
    const result = await sipp('register-wrong-password', {
      extension: '1001',
      password: 'not-secret-a',
      variables: { expires: 600 },
    });

    expectSippPassed(result);
    const statuses = receivedStatuses(result);
    expect(statuses[0]).toBe(401);
    expect(statuses).toHaveLength(2);
    expect([401, 403]).toContain(statuses[1]);
    expect(platform.location.lookup('1001')).toEqual([]);
    expect(changes).toEqual([]);
    expect(platform.metrics.get('authFailures') - before.authFailures).toBe(1);
    expect(platform.metrics.get('registrations') - before.registrations).toBe(0);
  });

  it('challenges an unknown user exactly like a known one, then refuses it with the same 403 (no enumeration)', async () => {
    const known = await sipp('register-wrong-password', {
      extension: '1001',
      password: 'not-secret-a',
      variables: { expires: 600 },
    });
    const unknown = await sipp('register-wrong-password', {
      extension: '9999',
      password: 'whatever',
      variables: { expires: 600 },
    });

    expectSippPassed(unknown);
    expect(receivedStatuses(unknown)).toEqual([401, 403]);
    expect(receivedStatuses(unknown)).toEqual(receivedStatuses(known));
    const challenge = (result: SippResult) =>
      /^WWW-Authenticate: (.*)$/m.exec(result.messageLog)?.[1]?.replace(/nonce="[^"]*"/, 'nonce=…');
    expect(challenge(unknown)).toBeTruthy();
    expect(challenge(unknown)).toBe(challenge(known));
    const refusal = (result: SippResult) => /^SIP\/2\.0 403 .*$/m.exec(result.messageLog)?.[0];
    expect(refusal(unknown)).toBe(refusal(known));
    expect(platform.location.lookup('9999')).toEqual([]);
    expect(platform.location.size).toBe(0);
  });

  it('a sipp UAS registered as 1003 answers a call from 1001 and takes the BYE (sippUas works)', async () => {
    const localPort = await freeUdpPort();
    await registerOk('1003', 'secret-c', localPort, 600);
    const uas = await sippUas({ localPort, service: '1003', timeoutMs: 20_000 });
    const caller = await TestUa.overUdp(
      { host: '127.0.0.1', port: platform.sipPort },
      { extension: '1001', password: 'secret-a', domain: DOMAIN },
    );
    try {
      const call = caller.call('1003');
      const answer = await call.waitForFinal(10_000);
      expect(answer.status).toBe(200);
      expect(answer.body.toString()).toContain('m=audio');
      const bye = await call.hangup();
      expect(bye.status).toBe(200);

      const result = await uas.done;
      expectSippPassed(result);
      // What sipp received is what call control sent to a device (DESIGN.md §1).
      expect(result.messageLog).toMatch(/^X-Server-Call-Id: [0-9a-f-]{36}$/im);
      expect(result.messageLog).toMatch(/^X-Call-Leg-Id: [0-9a-f-]{36}$/im);
    } finally {
      await caller.close();
      await uas.stop();
    }
  });
});

// ---- raw UDP: bad input ------------------------------------------------------------------------

interface Received {
  status: number;
  reason: string;
  text: string;
}

/** A bare UDP socket that sends bytes to the platform and collects what comes back. */
class UdpProbe {
  private readonly inbox: Received[] = [];
  private waiter?: () => void;

  private constructor(
    private readonly socket: Socket,
    readonly port: number,
  ) {
    socket.on('message', (data) => {
      const text = data.toString('utf8');
      const match = /^SIP\/2\.0 (\d{3}) ([^\r\n]*)\r?\n/.exec(text);
      this.inbox.push({ status: match ? Number(match[1]) : 0, reason: match?.[2] ?? '', text });
      this.waiter?.();
    });
  }

  static async open(): Promise<UdpProbe> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    return new UdpProbe(socket, socket.address().port);
  }

  send(data: Buffer | string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.send(
        typeof data === 'string' ? Buffer.from(data) : data,
        platform.sipPort,
        '127.0.0.1',
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }

  /** The next datagram, or undefined when none arrives within `ms`. */
  async next(ms: number): Promise<Received | undefined> {
    if (this.inbox.length === 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.inbox.shift();
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

function request(
  probe: UdpProbe,
  opts: { method?: string; cseq?: string; callId?: string | null; extra?: string; branch?: string } = {},
): string {
  const method = opts.method ?? 'OPTIONS';
  const lines = [
    `${method} sip:${DOMAIN} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${probe.port};branch=${opts.branch ?? `z9hG4bK${Math.random().toString(36).slice(2)}`};rport`,
    'Max-Forwards: 70',
    `From: <sip:probe@${DOMAIN}>;tag=probe${probe.port}`,
    `To: <sip:${DOMAIN}>`,
  ];
  if (opts.callId !== null)
    lines.push(`Call-ID: ${opts.callId ?? `probe-${Math.random().toString(36).slice(2)}`}`);
  lines.push(`CSeq: ${opts.cseq ?? `1 ${method}`}`);
  if (opts.extra) lines.push(opts.extra);
  lines.push('Content-Length: 0', '', '');
  return lines.join('\r\n');
}

/** Wait until the platform has counted `count` more received messages than `before` (UDP is async). */
async function waitForReceived(before: number, count: number): Promise<void> {
  const deadline = Date.now() + 3000;
  while (platform.metrics.get('messagesReceived') < before + count) {
    if (Date.now() > deadline)
      throw new Error(
        `platform received ${platform.metrics.get('messagesReceived') - before} of ${count} datagrams`,
      );
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Settling time after a datagram was counted: an answer would have been sent by then. */
const NO_ANSWER_MS = 250;

describe('bad input over raw UDP', () => {
  let probe: UdpProbe;

  beforeAll(async () => {
    probe = await UdpProbe.open();
  });

  afterAll(async () => {
    await probe.close();
  });

  it('drops garbage datagrams silently and counts them', async () => {
    const before = counters();
    const binary = Buffer.alloc(512);
    for (let i = 0; i < binary.length; i++) binary[i] = (i * 151 + 7) & 0xff;
    const garbage = [
      binary,
      'hello world\r\n\r\n',
      'SIP/2.0\r\n',
      '\x00\x01\x02 INVITE',
      'INVITE sip:x SIP/2.0\r\nVia: nonsense\r\n\r\n',
    ];
    for (const datagram of garbage) await probe.send(datagram);
    await waitForReceived(before.messagesReceived, garbage.length);

    expect(await probe.next(NO_ANSWER_MS)).toBeUndefined();
    expect(platform.metrics.get('parseErrors') - before.parseErrors).toBe(garbage.length);
    expect(platform.metrics.get('droppedMessages') - before.droppedMessages).toBe(garbage.length);
    expect(platform.metrics.get('badRequestsAnswered') - before.badRequestsAnswered).toBe(0);
  });

  it('answers a request with a broken CSeq with 400 and a reason phrase naming CSeq', async () => {
    const before = counters();
    await probe.send(request(probe, { cseq: 'one OPTIONS', callId: 'broken-cseq-1' }));
    const answer = await probe.next(2000);
    expect(answer?.status).toBe(400);
    expect(answer?.reason).toMatch(/CSeq/);
    // The 400 is a proper response to that request: same Call-ID, our Via, rport filled.
    expect(answer?.text).toMatch(/^Call-ID: broken-cseq-1\r?$/m);
    expect(answer?.text).toMatch(
      new RegExp(`^Via: SIP/2\\.0/UDP 127\\.0\\.0\\.1:${probe.port};.*rport=${probe.port}`, 'm'),
    );

    await probe.send(request(probe, { cseq: '1 REGISTER', callId: 'broken-cseq-2' }));
    const mismatch = await probe.next(2000);
    expect(mismatch?.status).toBe(400);
    expect(mismatch?.reason).toMatch(/CSeq method REGISTER does not match request method OPTIONS/);

    expect(platform.metrics.get('parseErrors') - before.parseErrors).toBe(2);
    expect(platform.metrics.get('badRequestsAnswered') - before.badRequestsAnswered).toBe(2);
  });

  it('cannot answer a request without Call-ID: it is dropped and counted', async () => {
    const before = counters();
    await probe.send(request(probe, { callId: null }));
    await waitForReceived(before.messagesReceived, 1);
    expect(await probe.next(NO_ANSWER_MS)).toBeUndefined();
    expect(platform.metrics.get('parseErrors') - before.parseErrors).toBe(1);
    expect(platform.metrics.get('droppedMessages') - before.droppedMessages).toBe(1);
  });

  it('withstands a header flood (thousands of header fields) as the error contract says', async () => {
    const before = counters();
    // 3000 short fields: under the header-byte limit, far over the header-count limit.
    const manyFields = Array.from({ length: 3000 }, (_, i) => `X:${i % 10}`).join('\r\n');
    await probe.send(request(probe, { extra: manyFields }));
    // 1500 longer fields: over the header-byte limit as well (but under the datagram limit).
    const manyBytes = Array.from({ length: 1500 }, (_, i) => `X-F${i}: ${'f'.repeat(8)}`).join('\r\n');
    await probe.send(request(probe, { extra: manyBytes }));
    await waitForReceived(before.messagesReceived, 2);

    const answers: Received[] = [];
    for (let answer = await probe.next(NO_ANSWER_MS); answer; answer = await probe.next(NO_ANSWER_MS))
      answers.push(answer);
    const contract: (number | null)[] = [SIP_ERRORS.TooManyHeaders.status, SIP_ERRORS.HeadersTooLarge.status];
    const expected = contract.filter((status): status is number => status !== null);
    expect(answers.map((a) => a.status)).toEqual(expected);
    for (const answer of answers) expect(answer.reason).toMatch(/header/i);
    expect(platform.metrics.get('parseErrors') - before.parseErrors).toBe(2);
  });

  it('withstands an oversize datagram (a 65,000-byte header line)', async () => {
    const before = counters();
    const huge = request(probe, { extra: `Subject: ${'x'.repeat(64_000)}` });
    expect(Buffer.byteLength(huge)).toBeGreaterThan(64_000);
    await probe.send(huge);
    // Over the UDP transport's message limit: dropped before parsing, and counted.
    const deadline = Date.now() + 3000;
    while (platform.metrics.get('oversizeMessages') === before.oversizeMessages && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(platform.metrics.get('oversizeMessages') - before.oversizeMessages).toBe(1);
    expect(await probe.next(NO_ANSWER_MS)).toBeUndefined();
  });

  it('still answers OPTIONS after all of that', async () => {
    await probe.send(request(probe, { callId: 'alive-after-abuse' }));
    const answer = await probe.next(2000);
    expect(answer?.status).toBe(200);
    expect(answer?.text).toMatch(/^Call-ID: alive-after-abuse\r?$/m);
    expect(answer?.text).toMatch(/^Allow: .*OPTIONS/m);
  });
});
