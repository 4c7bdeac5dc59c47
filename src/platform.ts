/**
 * The whole platform in one process: SIP over UDP and WebSocket, registrar, call control, the
 * journal, post-processing into the record store, and the HTTP server (REST API, SIP WebSocket
 * endpoint). Data flows one way (DESIGN.md §7); this file only wires the parts together.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { CallControl } from './calls/call-control.js';
import { openSqliteJournal, type SqliteJournal } from './calls/journal/sqlite-journal.js';
import { createDirectory } from './config/directory.js';
import type { Directory, Tenant } from './config/types.js';
import { createLogger, type Logger } from './logger.js';
import { DigestAuthenticator } from './sip/digest.js';
import { SipMetrics } from './sip/metrics.js';
import { LocationService, Registrar } from './sip/registrar.js';
import { SipStack } from './sip/stack.js';
import type { TimerConfig } from './sip/transaction.js';
import { UdpTransport } from './sip/transport/udp.js';
import { WsTransport } from './sip/transport/ws.js';

export interface PlatformOptions {
  tenant: Tenant;
  /** Directory for the embedded databases (journal, SQLite records). */
  dataDir: string;
  /** postgres://… switches the record store to PostgreSQL. */
  databaseUrl?: string;
  host: string;
  httpPort: number;
  sipPort: number;
  logger?: Logger;
  sipTimers?: Partial<TimerConfig>;
  /** Pause before a queue re-offers a call within a round (ms). */
  queueRetryDelayMs?: number;
  /** Group commit interval of the journal (ms). */
  journalGroupCommitMs?: number;
}

export interface Platform {
  readonly directory: Directory;
  readonly stack: SipStack;
  readonly metrics: SipMetrics;
  readonly location: LocationService;
  readonly registrar: Registrar;
  readonly callControl: CallControl;
  readonly journal: SqliteJournal;
  readonly http: FastifyInstance;
  readonly httpPort: number;
  readonly sipPort: number;
  readonly httpUrl: string;
  readonly wsUrl: string;
  close(): Promise<void>;
}

export async function startPlatform(opts: PlatformOptions): Promise<Platform> {
  const logger = opts.logger ?? createLogger();
  mkdirSync(opts.dataDir, { recursive: true });
  const directory = createDirectory(opts.tenant);
  const metrics = new SipMetrics();
  const journal = openSqliteJournal(join(opts.dataDir, 'journal.db'), { groupCommitMs: opts.journalGroupCommitMs });

  const http: FastifyInstance = Fastify({ loggerInstance: logger.child({ component: 'http' }) as FastifyBaseLogger, disableRequestLogging: true });
  http.get('/health', async () => ({ status: 'ok' }));
  http.get('/metrics', async () => metrics.snapshot());
  await http.listen({ host: opts.host, port: opts.httpPort });
  const httpAddress = http.server.address();
  const httpPort = typeof httpAddress === 'object' && httpAddress ? httpAddress.port : opts.httpPort;

  const advertisedHost = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  const udp = await UdpTransport.listen({ host: opts.host, port: opts.sipPort, advertisedHost, logger, metrics });
  const ws = new WsTransport({ server: http.server, path: '/sip', sentBy: { host: advertisedHost, port: httpPort }, logger, metrics });
  const stack = new SipStack({ transports: [udp, ws], timers: opts.sipTimers, logger: logger.child({ component: 'sip' }), metrics });

  const location = new LocationService();
  const auth = new DigestAuthenticator({ realm: opts.tenant.domain });
  const registrar = new Registrar({
    stack,
    auth,
    location,
    subscribers: { passwordFor: (extension) => directory.userByExtension(extension)?.password },
    logger,
  });
  const callControl = new CallControl({
    stack,
    registrar,
    location,
    directory,
    journal,
    logger: logger.child({ component: 'calls' }),
    queueRetryDelayMs: opts.queueRetryDelayMs,
  });

  const hostPart = advertisedHost.includes(':') ? `[${advertisedHost}]` : advertisedHost;
  let closed = false;
  return {
    directory,
    stack,
    metrics,
    location,
    registrar,
    callControl,
    journal,
    http,
    httpPort,
    sipPort: udp.port,
    httpUrl: `http://${hostPart}:${httpPort}/`,
    wsUrl: `ws://${hostPart}:${httpPort}/sip`,
    async close() {
      if (closed) return;
      closed = true;
      callControl.close();
      registrar.close();
      await stack.close();
      await http.close();
      await journal.close();
    },
  };
}
