/**
 * Test support: a real platform on ephemeral ports with its own data directory (and, for
 * PostgreSQL, its own schema), test UAs registered over WebSocket, and a REST client that signs in
 * the way integrations do (POST /authuser/{email} → HTTP Basic email:SecretKey).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Tenant } from '../../src/config/types.js';
import { type Platform, type PlatformOptions, startPlatform } from '../../src/platform.js';
import { TestUa } from '../../src/testing/test-ua.js';

export const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export type StoreKind = 'sqlite' | 'postgres';

export interface TestPlatform {
  platform: Platform;
  /** The platform's data directory (removed on close). */
  dataDir: string;
  /**
   * A test UA over WebSocket, registered as `extension` (throws unless the REGISTER gets a 200).
   * The password defaults to the tenant's for that extension. Closed with the platform.
   */
  ua(extension: string, password?: string): Promise<TestUa>;
  /** `ua` for each extension, in parallel, in the order given. */
  uas(...extensions: string[]): Promise<TestUa[]>;
  rest(email: string, password: string): Promise<RestClient>;
  close(): Promise<void>;
}

/**
 * A platform for end-to-end tests: a generous API budget (tests sign in and poll a lot) and a short
 * queue retry pause (tests wait for the second offer of a call).
 */
export async function startTestPlatform(
  tenant: Tenant,
  store: StoreKind,
  extra: Partial<PlatformOptions> = {},
): Promise<TestPlatform> {
  return launchTestPlatform(tenant, store, {
    apiRateLimits: { requests: { capacity: 10_000, refillPerSecond: 10_000 } },
    queueRetryDelayMs: 200,
    ...extra,
  });
}

/**
 * A platform for SIP-level tests: SQLite, ports 0, and otherwise the platform's own defaults —
 * registration and call-control timing as in production unless `extra` says otherwise.
 */
export function startSipTestPlatform(
  tenant: Tenant,
  extra: Partial<PlatformOptions> = {},
): Promise<TestPlatform> {
  return launchTestPlatform(tenant, 'sqlite', extra);
}

async function launchTestPlatform(
  tenant: Tenant,
  store: StoreKind,
  options: Partial<PlatformOptions>,
): Promise<TestPlatform> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-e2e-'));
  // A schema given by the caller is the caller's (a cluster's nodes share one); else the test's own.
  const ownSchema = store === 'postgres' && options.databaseSchema === undefined;
  const schema = ownSchema ? `sb_e2e_${randomBytes(5).toString('hex')}` : options.databaseSchema;
  // Discovery hands out the tenant's publicUrl: it must name the port the platform really uses.
  const httpPort = await freeTcpPort();
  const platform = await startPlatform({
    tenant: { ...tenant, publicUrl: `${options.tls ? 'https' : 'http'}://127.0.0.1:${httpPort}/` },
    dataDir,
    host: '127.0.0.1',
    httpPort,
    sipPort: 0,
    databaseUrl: store === 'postgres' ? POSTGRES_URL : undefined,
    databaseSchema: schema,
    // Suites that look at media ask for the engine (`mediaDefault: 'auto'`); the rest spare the process.
    mediaDefault: 'off',
    ...options,
  });
  const uas: TestUa[] = [];
  const ua = async (extension: string, password?: string): Promise<TestUa> => {
    const secret = password ?? platform.directory.userByExtension(extension)?.password;
    if (secret === undefined) throw new Error(`no user with extension ${extension} in the tenant`);
    const agent = await TestUa.overWebSocket(platform.wsUrl, {
      extension,
      password: secret,
      domain: tenant.domain,
    });
    uas.push(agent);
    const response = await agent.register();
    if (response.status !== 200) throw new Error(`register ${extension}: ${response.status}`);
    return agent;
  };
  return {
    platform,
    dataDir,
    ua,
    uas: (...extensions) => Promise.all(extensions.map((extension) => ua(extension))),
    async rest(email, password) {
      return RestClient.signIn(platform.httpUrl, email, password);
    },
    async close() {
      await Promise.all(uas.map((agent) => agent.close()));
      await platform.close();
      rmSync(dataDir, { recursive: true, force: true });
      if (ownSchema && schema) {
        const client = new pg.Client({ connectionString: POSTGRES_URL });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await client.end();
      }
    },
  };
}

/** The device rings on every incoming call and answers it `delayMs` later. */
export function answersAfter(ua: TestUa, delayMs: number): void {
  ua.onIncoming((call) => {
    call.ring();
    setTimeout(() => call.answer(), delayMs);
  });
}

/** The device rings on every incoming call and declines it with `status` `delayMs` later. */
export function declinesAfter(ua: TestUa, delayMs: number, status = 603): void {
  ua.onIncoming((call) => {
    call.ring();
    setTimeout(() => call.reject(status), delayMs);
  });
}

/**
 * The records of the seed's call once post-processing has them all: its service call header
 * Handled and the three user call events ended.
 */
export function seedRecords(
  admin: RestClient,
  callId: string,
  timeoutMs = 10_000,
): Promise<{ header: Record<string, unknown>; events: Record<string, unknown>[] }> {
  return waitFor(
    async () => {
      const [header] = await admin.list('/servicecall', { CallId: callId });
      const events = await admin.list('/calls', { CallId: callId });
      return header?.Result === 'Handled' && events.length === 3 && events.every((e) => e.EndTime)
        ? { header, events }
        : undefined;
    },
    timeoutMs,
    'records of the scenario',
  );
}

/** The seed's queue members (DESIGN.md §2): B declines (603) and C answers, each `delayMs` after ringing. */
export function seedMembers(b: TestUa, c: TestUa, delayMs: number): void {
  declinesAfter(b, delayMs);
  answersAfter(c, delayMs);
}

export class RestClient {
  private constructor(
    readonly baseUrl: string,
    readonly userId: string,
    private readonly authorization: string,
  ) {}

  static async signIn(baseUrl: string, email: string, password: string): Promise<RestClient> {
    const response = await fetch(new URL(`authuser/${encodeURIComponent(email)}`, baseUrl), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Json-Serializer': '2' },
      body: JSON.stringify({ UserName: email, Password: password }),
    });
    if (response.status !== 200)
      throw new Error(`authuser ${email}: ${response.status} ${await response.text()}`);
    const { UserID, SecretKey } = (await response.json()) as { UserID: string; SecretKey: string };
    return new RestClient(
      baseUrl,
      UserID,
      `Basic ${Buffer.from(`${email}:${SecretKey}`).toString('base64')}`,
    );
  }

  async get(path: string, query: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
    const url = new URL(path.replace(/^\//, ''), this.baseUrl);
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    const response = await fetch(url, {
      headers: { Authorization: this.authorization, 'X-Json-Serializer': '2' },
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  /** POST a JSON body; the answer's status and parsed body. */
  async post(path: string, body: unknown): Promise<{ status: number; body: unknown }> {
    const response = await fetch(new URL(path.replace(/^\//, ''), this.baseUrl), {
      method: 'POST',
      headers: {
        Authorization: this.authorization,
        'Content-Type': 'application/json',
        'X-Json-Serializer': '2',
      },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  /**
   * The rows of a record endpoint for one call once its first row is final (Result 'Handled'):
   * post-processing writes records as it catches up with the journal.
   */
  handledRows<T extends { Result?: unknown } = Record<string, unknown>>(
    path: string,
    callId: string,
    timeoutMs: number,
    what: string,
  ): Promise<T[]> {
    return waitFor(
      async () => {
        const rows = await this.list<T>(path, { CallId: callId });
        return rows[0]?.Result === 'Handled' ? rows : undefined;
      },
      timeoutMs,
      what,
    );
  }

  /** GET that must succeed with a JSON array. */
  async list<T = Record<string, unknown>>(path: string, query: Record<string, string> = {}): Promise<T[]> {
    const { status, body } = await this.get(path, query);
    if (status !== 200 || !Array.isArray(body))
      throw new Error(`GET ${path}: ${status} ${JSON.stringify(body)}`);
    return body as T[];
  }
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
