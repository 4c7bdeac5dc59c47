/**
 * Registrar (RFC 3261 §10.3) against the running platform — REGISTERs crafted on a raw UDP socket
 * and test UAs over WebSocket — and, for expiry and stale nonces, a registrar assembled directly
 * on a SipStack with a clock the test moves.
 */
import { createHash } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSipTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { DEMO_TENANT_YAML } from '../config/demo.js';
import { parseTenantYaml } from '../config/load.js';
import type { Platform } from '../platform.js';
import { TestUa } from '../testing/test-ua.js';
import { waitUntil } from '../testing/wait.js';
import { AuthFailureThrottle } from './auth-throttle.js';
import { DigestAuthenticator } from './digest.js';
import { parseAuthParams, parseContactList } from './headers.js';
import type { SipMessage, SipResponse } from './message.js';
import { parseMessage } from './parser.js';
import { type BindingChange, LocationService, Registrar } from './registrar.js';
import { SipStack } from './stack.js';
import { UdpTransport } from './transport/udp.js';

const DOMAIN = 'switchboard.local';
const PASSWORDS: Record<string, string> = { '1001': 'secret-a', '1002': 'secret-b', '1003': 'secret-c' };

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

// ---- a REGISTER client on a raw UDP socket ------------------------------------------------------

interface RegisterSpec {
  /** Address-of-record user (To). */
  aor: string;
  /** Contact header values; none = a query. */
  contacts?: string[];
  expires?: number;
  /** Digest username and password (default: the AOR's own). */
  authUser?: string;
  password?: string;
  callId?: string;
  /** CSeq of the unauthenticated attempt; the authenticated retry uses cseq + 1. */
  cseq?: number;
  /** Stop after the first response (do not answer a challenge). */
  noAuth?: boolean;
}

interface RegisterResult {
  first: SipResponse;
  final: SipResponse;
  /** CSeq of the request that got `final`. */
  cseq: number;
}

class RawSipClient {
  private readonly inbox: SipMessage[] = [];
  private branchSeq = 0;
  readonly callId = `reg-${Math.random().toString(36).slice(2)}@raw`;
  private nextCseq = 1;

  private constructor(
    private readonly socket: Socket,
    private readonly serverPort: number,
    /** The loopback address the socket is bound to: the request's source address. */
    readonly host: string,
  ) {
    socket.on('message', (data: Buffer) => {
      const parsed = parseMessage(data);
      if (parsed.ok) this.inbox.push(parsed.message);
    });
  }

  /** A client on `host` (127.0.0.2 is a second source address on the loopback interface). */
  static async open(serverPort: number, host = '127.0.0.1'): Promise<RawSipClient> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, host, () => resolve()));
    const client = new RawSipClient(socket, serverPort, host);
    openClients.push(client);
    return client;
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** The Contact URI of this client (where the socket listens). */
  contact(user: string, params = ''): string {
    return `<sip:${user}@${this.host}:${this.port}${params}>`;
  }

  /** Send one request with the given Via branch (no waiting). */
  send(lines: string[], branch: string): void {
    const text = [
      lines[0],
      `Via: SIP/2.0/UDP ${this.host}:${this.port};branch=${branch};rport`,
      ...lines.slice(1),
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    this.socket.send(Buffer.from(text, 'latin1'), this.serverPort, '127.0.0.1');
  }

  /** Send one request and wait for its final response (matched by branch). */
  async transact(lines: string[], timeoutMs = 3000): Promise<SipResponse> {
    const branch = `z9hG4bK-raw-${this.port}-${++this.branchSeq}`;
    this.send(lines, branch);
    let found: SipResponse | undefined;
    await waitUntil(
      () => {
        found = this.inbox.find(
          (m): m is SipResponse =>
            m.kind === 'response' &&
            m.status >= 200 &&
            (m.headers.getAll('Via')[0] ?? '').includes(`branch=${branch}`),
        );
        return found !== undefined;
      },
      timeoutMs,
      `final response to ${lines[0]}`,
    );
    return found!;
  }

  registerLines(spec: RegisterSpec, cseq: number, authorization?: string): string[] {
    const lines = [
      `REGISTER sip:${DOMAIN} SIP/2.0`,
      'Max-Forwards: 70',
      `From: <sip:${spec.aor}@${DOMAIN}>;tag=raw${this.port}`,
      `To: <sip:${spec.aor}@${DOMAIN}>`,
      `Call-ID: ${spec.callId ?? this.callId}`,
      `CSeq: ${cseq} REGISTER`,
    ];
    for (const contact of spec.contacts ?? []) lines.push(`Contact: ${contact}`);
    if (spec.expires !== undefined) lines.push(`Expires: ${spec.expires}`);
    if (authorization) lines.push(`Authorization: ${authorization}`);
    return lines;
  }

  /** REGISTER, answering the 401 challenge with digest credentials computed here. */
  async register(spec: RegisterSpec): Promise<RegisterResult> {
    let cseq = spec.cseq ?? this.nextCseq;
    const first = await this.transact(this.registerLines(spec, cseq));
    let final = first;
    if (first.status === 401 && !spec.noAuth) {
      cseq += 1;
      const authorization = digestAuthorization(
        first,
        spec.authUser ?? spec.aor,
        spec.password ?? PASSWORDS[spec.authUser ?? spec.aor] ?? 'x',
      );
      final = await this.transact(this.registerLines(spec, cseq, authorization));
    }
    this.nextCseq = Math.max(this.nextCseq, cseq + 1);
    return { first, final, cseq };
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

const openClients: RawSipClient[] = [];

function digestAuthorization(
  challengeResponse: SipResponse,
  username: string,
  password: string,
  nc = '00000001',
): string {
  const challenge = parseAuthParams(challengeResponse.headers.get('WWW-Authenticate') ?? '');
  if (!challenge) throw new Error('no WWW-Authenticate in the 401');
  const realm = challenge.params.get('realm') ?? '';
  const nonce = challenge.params.get('nonce') ?? '';
  const uri = `sip:${DOMAIN}`;
  const cnonce = Math.random().toString(36).slice(2);
  const ha1 = md5(`${username}:${realm}:${password}`);
  const ha2 = md5(`REGISTER:${uri}`);
  const response = md5(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`);
  return `Digest username="${username}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
}

/** The Contact values of a 200 as (uri → expires). */
function bindingsIn(response: SipResponse): Map<string, number> {
  const out = new Map<string, number>();
  const list = parseContactList(response.headers.getLines('Contact'));
  if (!list || list.star) return out;
  for (const contact of list.contacts) out.set(contact.uriText, Number(contact.params.get('expires')));
  return out;
}

afterEach(async () => {
  await Promise.all(openClients.splice(0).map((c) => c.close()));
});

// ================================================================================================

describe('registrar on the platform (demo tenant)', () => {
  let env: TestPlatform;
  let platform: Platform;
  const uas: TestUa[] = [];

  beforeAll(async () => {
    env = await startSipTestPlatform(parseTenantYaml(DEMO_TENANT_YAML, 'demo'));
    platform = env.platform;
  });

  afterEach(async () => {
    await Promise.all(uas.splice(0).map((ua) => ua.close()));
    for (const aor of ['1001', '1002', '1003']) platform.location.removeAll(aor, 'unregistered');
  });

  afterAll(async () => {
    await env.close();
  });

  async function wsUa(extension: string): Promise<TestUa> {
    const ua = await TestUa.overWebSocket(platform.wsUrl, {
      extension,
      password: PASSWORDS[extension]!,
      domain: DOMAIN,
    });
    uas.push(ua);
    return ua;
  }

  it('challenges with 401 (digest, qop=auth), then answers 200 listing the binding with its expiry', async () => {
    const client = await RawSipClient.open(platform.sipPort);
    const { first, final } = await client.register({
      aor: '1001',
      contacts: [client.contact('1001')],
      expires: 600,
    });
    expect(first.status).toBe(401);
    const challenge = parseAuthParams(first.headers.get('WWW-Authenticate') ?? '');
    expect(challenge?.scheme).toBe('Digest');
    expect(challenge?.params.get('realm')).toBe(DOMAIN);
    expect(challenge?.params.get('qop')).toBe('auth');
    expect(challenge?.params.get('nonce')).toBeTruthy();

    expect(final.status).toBe(200);
    const listed = bindingsIn(final);
    expect([...listed.keys()]).toEqual([`sip:1001@127.0.0.1:${client.port}`]);
    expect(listed.get(`sip:1001@127.0.0.1:${client.port}`)).toBeGreaterThanOrEqual(599);
    expect(listed.get(`sip:1001@127.0.0.1:${client.port}`)).toBeLessThanOrEqual(600);
    expect(final.headers.get('Date')).toMatch(/GMT$/);
    const [binding] = platform.location.lookup('1001');
    expect(binding?.flow).toEqual({ protocol: 'udp', address: '127.0.0.1', port: client.port });
    expect(platform.metrics.get('registrations')).toBeGreaterThanOrEqual(1);

    // A REGISTER without Contact is a query: it lists without changing anything.
    const query = await client.register({ aor: '1001' });
    expect(query.final.status).toBe(200);
    expect([...bindingsIn(query.final).keys()]).toEqual([`sip:1001@127.0.0.1:${client.port}`]);
  });

  it('echoes the RFC 5626 parameters (+sip.instance, reg-id) of each binding in the 200', async () => {
    const client = await RawSipClient.open(platform.sipPort);
    const instance = '"<urn:uuid:00000000-0000-1000-8000-aabbccddeeff>"';
    const { final } = await client.register({
      aor: '1001',
      contacts: [`${client.contact('1001', ';transport=udp')};+sip.instance=${instance};reg-id=1`],
      expires: 600,
    });
    expect(final.status).toBe(200);
    const list = parseContactList(final.headers.getLines('Contact'));
    const contact = list && !list.star ? list.contacts[0] : undefined;
    expect(contact?.uriText).toBe(`sip:1001@127.0.0.1:${client.port};transport=udp`);
    expect(contact?.params.get('+sip.instance')).toBe(instance);
    expect(contact?.params.get('reg-id')).toBe('1');
    expect(Number(contact?.params.get('expires'))).toBeGreaterThanOrEqual(599);
  });

  it('clamps a long expiry to the maximum (3600)', async () => {
    const client = await RawSipClient.open(platform.sipPort);
    const { final } = await client.register({
      aor: '1001',
      contacts: [`${client.contact('1001')};expires=100000`],
    });
    expect(final.status).toBe(200);
    expect([...bindingsIn(final).values()][0]).toBe(3600);
  });

  it('keeps several contacts per user (two UAs), and lists each URI with its own parameters', async () => {
    const first = await wsUa('1002');
    const second = await wsUa('1002');
    expect((await first.register(600)).status).toBe(200);
    const response = await second.register(300);
    expect(response.status).toBe(200);
    const listed = bindingsIn(response);
    expect(new Set(listed.keys())).toEqual(new Set([first.contactUri, second.contactUri]));
    expect(first.contactUri).toMatch(/;transport=ws$/);
    expect(listed.get(second.contactUri)).toBeLessThanOrEqual(300);
    expect(listed.get(first.contactUri)).toBeGreaterThan(300);
    expect(platform.location.lookup('1002')).toHaveLength(2);
  });

  it('Contact: * with Expires: 0 removes every binding of the AOR', async () => {
    const client = await RawSipClient.open(platform.sipPort);
    const ua = await wsUa('1001');
    expect((await ua.register()).status).toBe(200);
    expect(
      (await client.register({ aor: '1001', contacts: [client.contact('1001')], expires: 600 })).final.status,
    ).toBe(200);
    expect(platform.location.lookup('1001')).toHaveLength(2);
    const removal: BindingChange[] = [];
    const stop = platform.location.onChange((change) => removal.push(change));
    const { final } = await client.register({ aor: '1001', contacts: ['*'], expires: 0 });
    stop();
    expect(final.status).toBe(200);
    expect(final.headers.getLines('Contact')).toEqual([]);
    expect(platform.location.lookup('1001')).toEqual([]);
    expect(removal.map((c) => [c.kind, c.why])).toEqual([
      ['removed', 'unregistered'],
      ['removed', 'unregistered'],
    ]);
  });

  it('Contact: * is refused (400) with Expires other than 0, without Expires, or mixed with contacts', async () => {
    const client = await RawSipClient.open(platform.sipPort);
    expect(
      (await client.register({ aor: '1001', contacts: [client.contact('1001')], expires: 600 })).final.status,
    ).toBe(200);
    for (const spec of [
      { contacts: ['*'], expires: 3600 },
      { contacts: ['*'] },
      { contacts: ['*', client.contact('1001')], expires: 0 },
    ]) {
      const { final } = await client.register({ aor: '1001', ...spec });
      expect(final.status).toBe(400);
    }
    expect(platform.location.lookup('1001')).toHaveLength(1);
  });

  it('Contact: * does not remove bindings of the same Call-ID made with a newer CSeq (500)', async () => {
    const client = await RawSipClient.open(platform.sipPort);
    const made = await client.register({
      aor: '1001',
      contacts: [client.contact('1001')],
      expires: 600,
      cseq: 20,
    });
    expect(made.final.status).toBe(200);
    const stale = await client.register({ aor: '1001', contacts: ['*'], expires: 0, cseq: 5 });
    expect(stale.final.status).toBe(500);
    expect(platform.location.lookup('1001')).toHaveLength(1);
    const fresh = await client.register({ aor: '1001', contacts: ['*'], expires: 0, cseq: 30 });
    expect(fresh.final.status).toBe(200);
    expect(platform.location.lookup('1001')).toEqual([]);
  });

  it('expires=0 on one contact removes only that contact', async () => {
    const client = await RawSipClient.open(platform.sipPort);
    const a = client.contact('1003', ';line=a');
    const b = client.contact('1003', ';line=b');
    const made = await client.register({ aor: '1003', contacts: [a, b], expires: 600 });
    expect(made.final.status).toBe(200);
    expect(bindingsIn(made.final).size).toBe(2);
    const { final } = await client.register({ aor: '1003', contacts: [`${a};expires=0`] });
    expect(final.status).toBe(200);
    expect([...bindingsIn(final).keys()]).toEqual([b.slice(1, -1)]);
    expect(platform.location.lookup('1003').map((binding) => binding.contactUri)).toEqual([b.slice(1, -1)]);
  });

  it('refuses an expiry below the minimum with 423 and Min-Expires, changing nothing', async () => {
    const client = await RawSipClient.open(platform.sipPort);
    const viaHeader = await client.register({ aor: '1001', contacts: [client.contact('1001')], expires: 30 });
    expect(viaHeader.final.status).toBe(423);
    expect(viaHeader.final.headers.get('Min-Expires')).toBe('60');
    const viaParam = await client.register({
      aor: '1001',
      contacts: [`${client.contact('1001')};expires=59`],
      expires: 3600,
    });
    expect(viaParam.final.status).toBe(423);
    expect(platform.location.lookup('1001')).toEqual([]);
    // Exactly the minimum is fine.
    expect(
      (await client.register({ aor: '1001', contacts: [client.contact('1001')], expires: 60 })).final.status,
    ).toBe(200);
  });

  it('refuses an out-of-order CSeq on the same Call-ID with 500', async () => {
    const client = await RawSipClient.open(platform.sipPort);
    const made = await client.register({
      aor: '1001',
      contacts: [client.contact('1001')],
      expires: 600,
      cseq: 10,
    });
    expect(made.final.status).toBe(200);
    const older = await client.register({
      aor: '1001',
      contacts: [client.contact('1001')],
      expires: 900,
      cseq: 3,
    });
    expect(older.final.status).toBe(500);
    expect(platform.location.lookup('1001')[0]?.cseq).toBe(11);
    // Another Call-ID may use any CSeq (a restarted UA).
    const restarted = await client.register({
      aor: '1001',
      contacts: [client.contact('1001')],
      expires: 900,
      cseq: 1,
      callId: 'restarted@raw',
    });
    expect(restarted.final.status).toBe(200);
  });

  it('refuses digest credentials of another user with 403', async () => {
    const client = await RawSipClient.open(platform.sipPort);
    const { final } = await client.register({
      aor: '1001',
      contacts: [client.contact('1001')],
      expires: 600,
      authUser: '1002',
    });
    expect(final.status).toBe(403);
    expect(final.reason).toBe('Forbidden');
    expect(final.headers.has('WWW-Authenticate')).toBe(false);
    expect(platform.location.lookup('1001')).toEqual([]);
  });

  it('refuses a wrong password with 403 (no second challenge) and counts the failure', async () => {
    const client = await RawSipClient.open(platform.sipPort);
    const failures = platform.metrics.get('authFailures');
    const { first, final } = await client.register({
      aor: '1001',
      contacts: [client.contact('1001')],
      expires: 600,
      password: 'guess',
    });
    expect(first.status).toBe(401);
    expect(final.status).toBe(403);
    expect(final.reason).toBe('Forbidden');
    expect(final.headers.has('WWW-Authenticate')).toBe(false);
    expect(platform.metrics.get('authFailures')).toBe(failures + 1);
    expect(platform.location.lookup('1001')).toEqual([]);
  });

  it('challenges an unknown address-of-record exactly like a known one, then refuses it like a wrong password', async () => {
    const client = await RawSipClient.open(platform.sipPort);
    const failures = platform.metrics.get('authFailures');
    const spec = (aor: string) => ({ aor, contacts: [client.contact(aor)], expires: 600 });
    const known = await client.register({ ...spec('1001'), noAuth: true });
    const unknown = await client.register({ ...spec('9999'), noAuth: true });

    // The same challenge: status line, header names in order, and every challenge parameter but the nonce.
    expect(unknown.first.status).toBe(401);
    expect([unknown.first.status, unknown.first.reason]).toEqual([known.first.status, known.first.reason]);
    const names = (response: SipResponse) => [...response.headers].map((field) => field.name);
    expect(names(unknown.first)).toEqual(names(known.first));
    const knownChallenge = parseAuthParams(known.first.headers.get('WWW-Authenticate') ?? '');
    const unknownChallenge = parseAuthParams(unknown.first.headers.get('WWW-Authenticate') ?? '');
    expect(unknownChallenge?.scheme).toBe(knownChallenge?.scheme);
    expect([...(unknownChallenge?.params.keys() ?? [])]).toEqual([...(knownChallenge?.params.keys() ?? [])]);
    for (const param of ['realm', 'qop', 'algorithm']) {
      expect(unknownChallenge?.params.get(param), param).toBe(knownChallenge?.params.get(param));
    }
    expect(unknownChallenge?.params.get('realm')).toBe(DOMAIN);
    expect(unknownChallenge?.params.get('algorithm')).toBe('MD5');
    expect(unknownChallenge?.params.has('stale')).toBe(false);
    expect(unknownChallenge?.params.get('nonce')).toBeTruthy();
    expect(unknownChallenge?.params.get('nonce')).not.toBe(knownChallenge?.params.get('nonce'));

    // Credentials for the unknown user and a wrong password for the known one: the same refusal.
    const unknownFinal = await client.register({ ...spec('9999'), password: 'whatever' });
    const wrongFinal = await client.register({ ...spec('1001'), password: 'guess' });
    expect(unknownFinal.first.status).toBe(401);
    expect(unknownFinal.final.status).toBe(403);
    expect([unknownFinal.final.status, unknownFinal.final.reason]).toEqual([
      wrongFinal.final.status,
      wrongFinal.final.reason,
    ]);
    expect(names(unknownFinal.final)).toEqual(names(wrongFinal.final));
    expect(unknownFinal.final.headers.has('WWW-Authenticate')).toBe(false);
    expect(platform.metrics.get('authFailures')).toBe(failures + 2);
    expect(platform.location.lookup('9999')).toEqual([]);
    expect(platform.location.lookup('1001')).toEqual([]);
  });

  it('removes the bindings of a WebSocket connection when it closes', async () => {
    const ua = await TestUa.overWebSocket(platform.wsUrl, {
      extension: '1003',
      password: PASSWORDS['1003']!,
      domain: DOMAIN,
    });
    const client = await RawSipClient.open(platform.sipPort);
    expect((await ua.register()).status).toBe(200);
    expect(
      (await client.register({ aor: '1003', contacts: [client.contact('1003')], expires: 600 })).final.status,
    ).toBe(200);
    expect(platform.location.lookup('1003')).toHaveLength(2);
    const removed: BindingChange[] = [];
    const stop = platform.location.onChange((change) => removed.push(change));
    await ua.close();
    await waitUntil(() => platform.location.lookup('1003').length === 1, 3000, 'WS binding removed');
    stop();
    expect(platform.location.lookup('1003')[0]?.flow.protocol).toBe('udp');
    expect(removed.map((c) => [c.kind, c.why, c.binding.contactUri])).toEqual([
      ['removed', 'flow-closed', ua.contactUri],
    ]);
  });

  it('answers OPTIONS outside a dialog with 200 and Allow', async () => {
    const client = await RawSipClient.open(platform.sipPort);
    const response = await client.transact([
      `OPTIONS sip:${DOMAIN} SIP/2.0`,
      'Max-Forwards: 70',
      `From: <sip:probe@${DOMAIN}>;tag=probe`,
      `To: <sip:${DOMAIN}>`,
      'Call-ID: options-probe@raw',
      'CSeq: 1 OPTIONS',
    ]);
    expect(response.status).toBe(200);
    const allow = (response.headers.get('Allow') ?? '').split(',').map((m) => m.trim());
    expect(allow).toEqual(expect.arrayContaining(['INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS']));
    expect(response.headers.get('To')).toMatch(/;tag=/);
  });
});

// ---- a registrar assembled by hand, on a clock the test moves ------------------------------------

describe('registrar with an injected clock', () => {
  const REALM = DOMAIN;
  let stack: SipStack;
  let registrar: Registrar;
  let location: LocationService;
  let serverPort: number;
  const clock = { now: 1_700_000_000_000 };

  beforeAll(async () => {
    const udp = await UdpTransport.listen({ host: '127.0.0.1', port: 0 });
    serverPort = udp.port;
    stack = new SipStack({ transports: [udp], timers: { T1: 20, T2: 160, T4: 200 } });
    const now = (): number => clock.now;
    location = new LocationService(now);
    registrar = new Registrar({
      stack,
      auth: new DigestAuthenticator({ realm: REALM, nonceTtlSeconds: 300, now }),
      subscribers: { passwordFor: (user) => PASSWORDS[user] },
      location,
      now,
      sweepIntervalMs: 20,
    });
    stack.onRequest = (request, tx) => registrar.handle(request, tx);
  });

  afterAll(async () => {
    registrar.close();
    await stack.close();
  });

  it('lets a binding expire: lookup hides it at once, the sweep removes it', async () => {
    const client = await RawSipClient.open(serverPort);
    const changes: BindingChange[] = [];
    const stop = location.onChange((change) => changes.push(change));
    const { final } = await client.register({ aor: '1001', contacts: [client.contact('1001')], expires: 60 });
    expect(final.status).toBe(200);
    expect(bindingsIn(final).get(`sip:1001@127.0.0.1:${client.port}`)).toBe(60);

    clock.now += 59_000;
    const query = await client.register({ aor: '1001' });
    expect(bindingsIn(query.final).get(`sip:1001@127.0.0.1:${client.port}`)).toBe(1);
    expect(location.size).toBe(1);

    clock.now += 2_000;
    expect(location.lookup('1001')).toEqual([]);
    expect(location.isRegistered('1001')).toBe(false);
    // The registrar's own sweep timer removes it and says why.
    await waitUntil(() => location.size === 0, 2000, 'sweep');
    stop();
    expect(changes.map((c) => [c.kind, c.why])).toEqual([
      ['added', undefined],
      ['removed', 'expired'],
    ]);
    expect(location.sweep()).toBe(0);
  });

  it('sweep() reports how many bindings it removed', async () => {
    const manual = new LocationService(() => clock.now);
    const flow = { protocol: 'udp' as const, address: '127.0.0.1', port: 5555 };
    for (const [aor, seconds] of [
      ['1001', 10],
      ['1002', 10],
      ['1002', 100],
    ] as const) {
      manual.upsert({
        aor,
        contactUri: `sip:${aor}@h${seconds}`,
        bindingKey: `sip:${aor}@h${seconds}`,
        expiresAtMs: clock.now + seconds * 1000,
        registeredAtMs: clock.now,
        sipCallId: 'x',
        cseq: 1,
        flow,
        // A host name, not the REGISTER's address: reached over the REGISTER's flow (./reach.ts).
        target: flow,
        reachReason: 'nat',
      });
    }
    clock.now += 11_000;
    expect(manual.sweep()).toBe(2);
    expect(manual.size).toBe(1);
    expect(manual.lookup('1002').map((b) => b.contactUri)).toEqual(['sip:1002@h100']);
  });

  it('answers correct credentials on an expired nonce with a new 401 carrying stale=true', async () => {
    const client = await RawSipClient.open(serverPort);
    const spec = { aor: '1002', contacts: [client.contact('1002')], expires: 600 };
    const challenged = await client.register({ ...spec, noAuth: true, cseq: 1 });
    expect(challenged.first.status).toBe(401);
    clock.now += 301_000;
    const late = await client.transact([
      `REGISTER sip:${DOMAIN} SIP/2.0`,
      'Max-Forwards: 70',
      `From: <sip:1002@${DOMAIN}>;tag=late`,
      `To: <sip:1002@${DOMAIN}>`,
      `Call-ID: ${client.callId}`,
      'CSeq: 2 REGISTER',
      `Contact: ${client.contact('1002')}`,
      'Expires: 600',
      `Authorization: ${digestAuthorization(challenged.first, '1002', PASSWORDS['1002']!)}`,
    ]);
    expect(late.status).toBe(401);
    expect(parseAuthParams(late.headers.get('WWW-Authenticate') ?? '')?.params.get('stale')).toBe('true');
    expect(location.lookup('1002')).toEqual([]);
    // The client retries with the fresh nonce and the same password: accepted.
    const retry = await client.register({ ...spec, cseq: 3 });
    expect(retry.final.status).toBe(200);
    expect(location.lookup('1002')).toHaveLength(1);
  });

  it('refuses a replayed Authorization (same nonce and nc) with a new challenge', async () => {
    const client = await RawSipClient.open(serverPort);
    const challenged = await client.register({
      aor: '1003',
      contacts: [client.contact('1003')],
      expires: 600,
      noAuth: true,
      cseq: 1,
    });
    const authorization = digestAuthorization(challenged.first, '1003', PASSWORDS['1003']!);
    const lines = (cseq: number): string[] => [
      `REGISTER sip:${DOMAIN} SIP/2.0`,
      'Max-Forwards: 70',
      `From: <sip:1003@${DOMAIN}>;tag=replay`,
      `To: <sip:1003@${DOMAIN}>`,
      `Call-ID: ${client.callId}`,
      `CSeq: ${cseq} REGISTER`,
      `Contact: ${client.contact('1003')}`,
      'Expires: 600',
      `Authorization: ${authorization}`,
    ];
    expect((await client.transact(lines(2))).status).toBe(200);
    const replayed = await client.transact(lines(3));
    expect(replayed.status).toBe(401);
    expect(parseAuthParams(replayed.headers.get('WWW-Authenticate') ?? '')?.params.has('stale')).toBe(false);
  });

  it('answers qop=auth-int credentials with 400 (unsupported)', async () => {
    const client = await RawSipClient.open(serverPort);
    const challenged = await client.register({ aor: '1001', noAuth: true, cseq: 1 });
    const authInt = digestAuthorization(challenged.first, '1001', PASSWORDS['1001']!).replace(
      'qop=auth',
      'qop=auth-int',
    );
    const response = await client.transact([
      `REGISTER sip:${DOMAIN} SIP/2.0`,
      'Max-Forwards: 70',
      `From: <sip:1001@${DOMAIN}>;tag=ai`,
      `To: <sip:1001@${DOMAIN}>`,
      `Call-ID: ${client.callId}`,
      'CSeq: 2 REGISTER',
      `Authorization: ${authInt}`,
    ]);
    expect(response.status).toBe(400);
  });
});

// ---- failed authentications throttled per source address, on a clock the test moves --------------

describe('registrar with an authentication throttle', () => {
  const clock = { now: 1_700_000_000_000 };
  const now = (): number => clock.now;
  let stack: SipStack;
  let registrar: Registrar;
  let location: LocationService;
  let serverPort: number;
  const logged: { level: number; msg: string; address?: string }[] = [];

  beforeAll(async () => {
    const udp = await UdpTransport.listen({ host: '127.0.0.1', port: 0 });
    serverPort = udp.port;
    stack = new SipStack({ transports: [udp], timers: { T1: 20, T2: 160, T4: 200 } });
    location = new LocationService(now);
    registrar = new Registrar({
      stack,
      auth: new DigestAuthenticator({ realm: DOMAIN, nonceTtlSeconds: 3600, now }),
      subscribers: { passwordFor: (user) => PASSWORDS[user] },
      location,
      now,
      authThrottle: new AuthFailureThrottle({
        maxFailures: 10,
        windowSeconds: 60,
        cooldownSeconds: 300,
        now,
      }),
      logger: pino({ level: 'info' }, { write: (line: string) => logged.push(JSON.parse(line)) }),
    });
    stack.onRequest = (request, tx) => {
      if (request.method === 'REGISTER') {
        registrar.handle(request, tx);
      } else if (registrar.authenticate(request, tx, true)) {
        tx.respond(stack.createResponse(request, 480, 'Temporarily Unavailable'));
      }
    };
  });

  afterEach(() => {
    for (const aor of Object.keys(PASSWORDS)) location.removeAll(aor, 'unregistered');
    // Past every cooldown, so that each test starts with no address throttled.
    clock.now += 3_600_000;
  });

  afterAll(async () => {
    registrar.close();
    await stack.close();
  });

  /** One failed registration: challenged (401), then refused (403). */
  async function fail(client: RawSipClient, kind: 'wrong-password' | 'unknown-user' | 'other-user') {
    const aor = kind === 'unknown-user' ? '9999' : '1001';
    const { first, final } = await client.register({
      aor,
      contacts: [client.contact(aor)],
      expires: 600,
      ...(kind === 'wrong-password' ? { password: 'guess' } : {}),
      ...(kind === 'other-user' ? { authUser: '1002' } : {}),
    });
    expect(first.status).toBe(401);
    expect(final.status).toBe(403);
    return first;
  }

  it('after 10 failures within a minute refuses the address with 403 at once, even with correct credentials, until the cooldown ends', async () => {
    const attacker = await RawSipClient.open(serverPort);
    const other = await RawSipClient.open(serverPort, '127.0.0.2');
    const failures = stack.metrics.get('authFailures');
    const throttled = stack.metrics.get('authThrottled');
    const warningsBefore = logged.filter((entry) => entry.level === 40).length;

    let lastChallenge: SipResponse | undefined;
    const kinds = ['wrong-password', 'unknown-user', 'other-user'] as const;
    for (let i = 0; i < 10; i++) {
      expect(registrar.throttledAddresses).toBe(0);
      lastChallenge = await fail(attacker, kinds[i % 3]!);
      clock.now += 5_000; // ten failures in 50 s
    }
    expect(stack.metrics.get('authFailures')).toBe(failures + 10);
    expect(registrar.throttledAddresses).toBe(1);

    // The 11th attempt: no challenge, and correct credentials (on a valid nonce) do not help either.
    const spec = { aor: '1001', contacts: [attacker.contact('1001')], expires: 600 };
    const unchallenged = await attacker.register({ ...spec, noAuth: true });
    expect(unchallenged.first.status).toBe(403);
    expect(unchallenged.first.reason).toBe('Forbidden');
    expect(unchallenged.first.headers.has('WWW-Authenticate')).toBe(false);
    const correct = await attacker.transact(
      attacker.registerLines(spec, 100, digestAuthorization(lastChallenge!, '1001', PASSWORDS['1001']!)),
    );
    expect(correct.status).toBe(403);
    expect(correct.headers.has('WWW-Authenticate')).toBe(false);
    expect(location.lookup('1001')).toEqual([]);
    expect(stack.metrics.get('authThrottled')).toBe(throttled + 2);
    // Refusals while cooling down are not failures: they neither count nor extend the cooldown.
    expect(stack.metrics.get('authFailures')).toBe(failures + 10);

    // Logged once, at warn, with the address.
    const warnings = logged.filter((entry) => entry.level === 40).slice(warningsBefore);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.address).toBe('127.0.0.1');

    // Another source address is not affected.
    const fromOther = await other.register({ aor: '1002', contacts: [other.contact('1002')], expires: 600 });
    expect(fromOther.first.status).toBe(401);
    expect(fromOther.final.status).toBe(200);
    expect(location.lookup('1002')[0]?.flow).toMatchObject({ protocol: 'udp', address: '127.0.0.2' });

    // Still cooling down just before the end; after it, the address works again.
    // The cooldown began with the 10th failure, 5 s ago: it ends 295 s from now.
    clock.now += 294_000;
    expect((await attacker.register({ ...spec, noAuth: true })).first.status).toBe(403);
    clock.now += 1_000;
    expect(registrar.throttledAddresses).toBe(0);
    const after = await attacker.register(spec);
    expect(after.first.status).toBe(401);
    expect(after.final.status).toBe(200);
    expect(location.lookup('1001')).toHaveLength(1);
  });

  it('counts only failures within the window', async () => {
    const client = await RawSipClient.open(serverPort);
    for (let i = 0; i < 9; i++) await fail(client, 'wrong-password');
    clock.now += 61_000;
    // The nine are out of the window: nine more failures still do not throttle.
    for (let i = 0; i < 9; i++) await fail(client, 'unknown-user');
    expect(registrar.throttledAddresses).toBe(0);
    const ok = await client.register({ aor: '1003', contacts: [client.contact('1003')], expires: 600 });
    expect(ok.final.status).toBe(200);
    // The tenth within the window does.
    await fail(client, 'other-user');
    expect(registrar.throttledAddresses).toBe(1);
    expect((await client.register({ aor: '1003', noAuth: true })).first.status).toBe(403);
  });

  it('challenges INVITEs of unknown users with 407 like known ones, then refuses both alike with 403', async () => {
    const client = await RawSipClient.open(serverPort, '127.0.0.2');
    const callId = `inv-${Math.random().toString(36).slice(2)}@raw`;
    let cseq = 0;
    /** An INVITE from `user` (with Proxy-Authorization when given), ACKed after its final response. */
    const invite = async (user: string, proxyAuthorization?: string): Promise<SipResponse> => {
      cseq++;
      const head = [
        'INVITE sip:1003@switchboard.local SIP/2.0',
        'Max-Forwards: 70',
        `From: <sip:${user}@${DOMAIN}>;tag=inv${cseq}`,
        `To: <sip:1003@${DOMAIN}>`,
        `Call-ID: ${callId}-${cseq}`,
      ];
      const lines = [...head, `CSeq: ${cseq} INVITE`, `Contact: ${client.contact(user)}`];
      if (proxyAuthorization) lines.push(`Proxy-Authorization: ${proxyAuthorization}`);
      const response = await client.transact(lines);
      const via = response.headers.getAll('Via')[0] ?? '';
      const branch = /branch=([^;]+)/.exec(via)?.[1] ?? '';
      client.send(
        [
          'ACK sip:1003@switchboard.local SIP/2.0',
          ...head.slice(1, 3),
          `To: ${response.headers.get('To')}`,
          head[4]!,
          `CSeq: ${cseq} ACK`,
        ],
        branch,
      );
      return response;
    };
    /** Proxy-Authorization for INVITE computed from a 407. */
    const credentials = (challenge: SipResponse, username: string, password: string): string => {
      const params = parseAuthParams(challenge.headers.get('Proxy-Authenticate') ?? '')?.params;
      const realm = params?.get('realm') ?? '';
      const nonce = params?.get('nonce') ?? '';
      const uri = 'sip:1003@switchboard.local';
      const ha1 = md5(`${username}:${realm}:${password}`);
      const response = md5(`${ha1}:${nonce}:00000001:c0ffee:auth:${md5(`INVITE:${uri}`)}`);
      return `Digest username="${username}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="c0ffee"`;
    };

    const known = await invite('1001');
    const unknown = await invite('9999');
    expect(unknown.status).toBe(407);
    expect([unknown.status, unknown.reason]).toEqual([known.status, known.reason]);
    const names = (response: SipResponse) => [...response.headers].map((field) => field.name);
    expect(names(unknown)).toEqual(names(known));
    expect(unknown.headers.has('WWW-Authenticate')).toBe(false);
    const knownChallenge = parseAuthParams(known.headers.get('Proxy-Authenticate') ?? '')?.params;
    const unknownChallenge = parseAuthParams(unknown.headers.get('Proxy-Authenticate') ?? '')?.params;
    expect([...(unknownChallenge?.keys() ?? [])]).toEqual([...(knownChallenge?.keys() ?? [])]);
    for (const param of ['realm', 'qop', 'algorithm']) {
      expect(unknownChallenge?.get(param), param).toBe(knownChallenge?.get(param));
    }
    expect(unknownChallenge?.get('nonce')).not.toBe(knownChallenge?.get('nonce'));

    const unknownRefused = await invite('9999', credentials(unknown, '9999', 'whatever'));
    const wrongRefused = await invite('1001', credentials(known, '1001', 'guess'));
    expect(unknownRefused.status).toBe(403);
    expect([unknownRefused.status, unknownRefused.reason]).toEqual([
      wrongRefused.status,
      wrongRefused.reason,
    ]);
    expect(names(unknownRefused)).toEqual(names(wrongRefused));
    // Correct credentials pass authentication (this test's handler then answers 480).
    const fresh = await invite('1001');
    expect((await invite('1001', credentials(fresh, '1001', PASSWORDS['1001']!))).status).toBe(480);
  });
});
