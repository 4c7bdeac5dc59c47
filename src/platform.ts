/**
 * The whole platform in one process: SIP over UDP, TCP, TLS and WebSocket, registrar, call control, the
 * journal, post-processing into the record store, and the HTTP server (REST API, SIP WebSocket
 * endpoint). Data flows one way (DESIGN.md §7); this file only wires the parts together.
 */
import { mkdirSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { openCredentialStore } from './api/credentials/index.js';
import { apiPlugin } from './api/server.js';
import type { RateLimits } from './api/types.js';
import { AgentService } from './calls/agent-service.js';
import { openAgentStateStore } from './calls/agent-store.js';
import { AgentStates } from './calls/agents.js';
import { CallControl } from './calls/call-control.js';
import { classificationPlugin } from './classification/plugin.js';
import { openClassificationStore } from './classification/store.js';
import { type ClusterNode, type ClusterOptions, joinCluster } from './cluster/node.js';
import { createDirectory } from './config/directory.js';
import { defaultQueueAudio } from './config/schema.js';
import type { TlsMaterial } from './config/tls-files.js';
import type { Directory, Tenant } from './config/types.js';
import { diagnosticsPlugin } from './diagnostics/plugin.js';
import { legacyRoutingOf } from './journal/facts.js';
import { recoverInterruptedCalls } from './journal/recovery.js';
import { openSqliteJournal } from './journal/sqlite-journal.js';
import type { Journal, JournalLookup } from './journal/types.js';
import { createLogger, type Logger } from './logger.js';
import { EngineAudioCache } from './media/engine-audio.js';
import { builtinAudio, PromptComposer } from './media/prompts.js';
import { RtpEngine } from './media/rtpengine.js';
import {
  findRtpEngineBinary,
  type RtpEngineProcess,
  startRtpEngineProcess,
} from './media/rtpengine-process.js';
import type { MediaEngine } from './media/types.js';
import { createRealtimeFeed } from './realtime/feed.js';
import { attachRteHub } from './realtime/hub.js';
import { createRteTokens } from './realtime/token.js';
import { rteTokenPlugin } from './realtime/token-plugin.js';
import type { RealtimeFeed } from './realtime/types.js';
import { isRecordingsError } from './recordings/errors.js';
import { localRecordingFiles } from './recordings/files.js';
import { RtpEnginePcapRenderer } from './recordings/render.js';
import type { RecordingStore } from './recordings/store.js';
import { openRecordingStore } from './recordings/store.js';
import { createRecordingTokens } from './recordings/token.js';
import { createRecordingWorker, type RecordingWorker } from './recordings/worker.js';
import { createPostProcessor, type PostProcessor } from './records/postprocess/index.js';
import { openDatabase, openRecordStore } from './records/store/index.js';
import type { RecordStore } from './records/types.js';
import { AuthFailureThrottle } from './sip/auth-throttle.js';
import { DigestAuthenticator } from './sip/digest.js';
import { SipMetrics } from './sip/metrics.js';
import { LocationService, Registrar } from './sip/registrar.js';
import { SipStack } from './sip/stack.js';
import type { TimerConfig } from './sip/transaction/timers.js';
import { StreamTransport } from './sip/transport/stream.js';
import type { Flow, Transport } from './sip/transport/types.js';
import { UdpTransport } from './sip/transport/udp.js';
import { WsTransport } from './sip/transport/ws.js';
import { UserAgent } from './sip/ua/index.js';
import { webPlugin } from './web/plugin.js';
import { openWebhookOutbox, type WebhookOutbox, webhooksPlugin } from './webhooks/index.js';
import type { WebhookOptions } from './webhooks/outbox.js';

export interface PlatformOptions {
  tenant: Tenant;
  /** Directory for the embedded databases (journal, SQLite records). */
  dataDir: string;
  /** postgres://… switches the record store to PostgreSQL. */
  databaseUrl?: string;
  host: string;
  httpPort: number;
  /** SIP over UDP and TCP (the same port number for both). */
  sipPort: number;
  /** SIP over TLS, when `tls` is given (default 5061). */
  sipTlsPort?: number;
  /** Certificate and key (./config/tls-files.ts): SIP over TLS, and HTTPS/WSS on the HTTP port. */
  tls?: TlsMaterial;
  logger?: Logger;
  sipTimers?: Partial<TimerConfig>;
  /** Pause before a queue re-offers a call within a round (ms). */
  queueRetryDelayMs?: number;
  /** Group commit interval of the journal (ms). */
  journalGroupCommitMs?: number;
  /** PostgreSQL schema for the records (tests isolate themselves with one). */
  databaseSchema?: string;
  /** REST API rate limits (tests and benchmarks raise them). */
  apiRateLimits?: Partial<RateLimits>;
  /** How long a direct call may ring unanswered (ms). */
  ringTimeoutMs?: number;
  /** In-dialog OPTIONS interval that ends calls whose party vanished (ms, default 60 s, 0 = off). */
  probeIntervalMs?: number;
  /**
   * The media engine when the tenant names none (`media:` absent): `auto` (the default) starts the
   * platform's own rtpengine when the binary is on PATH; `off` runs signalling-only (tests that do
   * not look at media use this to spare a process per platform).
   */
  mediaDefault?: 'auto' | 'off';
  /**
   * RTP ports of the platform's own rtpengine (4 per anchored call). Default: a 1,000-port window
   * chosen per process (what tests need); `switchboard start` gives 10000–20000 (2,500 calls).
   */
  mediaPorts?: { min: number; max: number };
  /** Webhook delivery timing (timeouts, backoff, dead-letter age); tests shorten the backoff. */
  webhookOptions?: WebhookOptions;
  /**
   * Run as one node of a cluster (DESIGN.md §13; needs `databaseUrl`): the journal is this node's
   * NATS JetStream partition, registrations and agents are shared, dead nodes' calls are ended.
   */
  cluster?: ClusterOptions;
}

export interface Platform {
  readonly directory: Directory;
  readonly stack: SipStack;
  readonly metrics: SipMetrics;
  readonly location: LocationService;
  readonly registrar: Registrar;
  readonly callControl: CallControl;
  /** Agents' availability, serving and wrap-up (persisted, journaled), and the queues' live status. */
  readonly agents: AgentService;
  /** Realtime events as the journal commits facts (the RTE hub and webhooks deliver them). */
  readonly realtime: RealtimeFeed;
  /** Webhook deliveries (tenant `webhooks:`), from a durable outbox. */
  readonly webhooks: WebhookOutbox;
  readonly journal: Journal & JournalLookup;
  /** The cluster this node belongs to (`cluster` option), else undefined. */
  readonly cluster: ClusterNode | undefined;
  readonly store: RecordStore;
  readonly postProcessor: PostProcessor;
  /** Recording rows (rendered MP3s under <dataDir>/recordings) and the worker that renders them. */
  readonly recordings: RecordingStore;
  readonly recordingWorker: RecordingWorker | undefined;
  /** CallIds that crash recovery ended at start-up (calls the previous process left in progress). */
  readonly recoveredCallIds: string[];
  /** The media engine anchoring calls, if any, and its own process when the platform started it. */
  readonly media: MediaEngine | undefined;
  readonly mediaProcess: RtpEngineProcess | undefined;
  readonly http: FastifyInstance;
  readonly httpPort: number;
  /** UDP and TCP. */
  readonly sipPort: number;
  /** TLS, when the platform has a certificate. */
  readonly sipTlsPort: number | undefined;
  /** https://… when the platform has a certificate. */
  readonly httpUrl: string;
  /** wss://… when the platform has a certificate. */
  readonly wsUrl: string;
  close(): Promise<void>;
}

export async function startPlatform(opts: PlatformOptions): Promise<Platform> {
  const logger = opts.logger ?? createLogger();
  mkdirSync(opts.dataDir, { recursive: true });
  const directory = createDirectory(opts.tenant);
  const metrics = new SipMetrics();
  // Facts of schema version 1 did not journal the route: upgrading them routes the old way.
  const legacyRouting = legacyRoutingOf(directory);
  if (opts.cluster && !opts.databaseUrl)
    throw new Error('a cluster node keeps its records in PostgreSQL: set DATABASE_URL=postgres://…');
  const cluster = opts.cluster
    ? await joinCluster(
        {
          ...opts.cluster,
          legacyRouting,
          groupCommitMs: opts.journalGroupCommitMs,
        },
        logger,
      )
    : undefined;
  const journal: Journal & JournalLookup =
    cluster?.journal ??
    openSqliteJournal(join(opts.dataDir, 'journal.db'), {
      groupCommitMs: opts.journalGroupCommitMs,
      legacyRouting,
    });
  // In a cluster every node follows its own partition, under its own checkpoint names.
  const consumerSuffix = cluster ? `:${cluster.nodeId}` : '';
  // Crash recovery ends what the previous process left in progress before call control takes its
  // first call or post-processing follows the journal, so every call then in progress is live.
  const recoveredCallIds = await recoverInterruptedCalls(journal);
  // Realtime events (DESIGN.md §12) as the journal commits facts: the RTE hub and webhooks.
  const realtime = createRealtimeFeed({
    journal,
    directory,
    // A cluster node's QueueStatus counts the calls of every node (src/cluster/realtime.ts).
    ...(cluster ? { derive: { queueCounts: cluster.realtime.queueCounts } } : {}),
    onError: (err) => logger.warn({ err }, 'realtime: feed error'),
  });
  const rteTokens = createRteTokens({ key: { file: join(opts.dataDir, 'rte-token.key') } });
  if (recoveredCallIds.length > 0) {
    logger.warn(
      { callIds: recoveredCallIds },
      `journal: ended ${recoveredCallIds.length} call(s) left in progress by the previous run`,
    );
  }
  // One database (SQLite file or PostgreSQL schema) holds the record store and the API's credentials.
  const database = await openDatabase({
    databaseUrl: opts.databaseUrl,
    dataDir: opts.dataDir,
    schema: opts.databaseSchema,
    onError: (err) => logger.error({ err }, 'records: store error'),
  });
  const store = await openRecordStore(database);
  const credentials = await openCredentialStore(database);
  const classifications = await openClassificationStore(database);
  // In a cluster each node delivers the webhooks of its own partition's events, under its own
  // checkpoint and with ids `<node>~<seq>-<n>` (the journal sequence is per node).
  const webhooks = await openWebhookOutbox({
    database,
    feed: realtime,
    endpoints: directory.tenant.webhooks ?? [],
    ...(cluster ? { source: cluster.nodeId } : {}),
    onError: (err) => logger.warn({ err }, 'webhooks: outbox error'),
    ...(opts.webhookOptions ? { options: opts.webhookOptions } : {}),
  });
  const recordings = await openRecordingStore(database);
  // Registrations, and the agents' states that call control allocates by. What agents set before a
  // restart (availability, serving) is restored before the first call or request.
  const location = new LocationService();
  const agentStates = new AgentStates(directory, location, Date.now, cluster?.claims);
  const agents = new AgentService({
    directory,
    agents: agentStates,
    store: await openAgentStateStore(database),
    journal,
    logger: logger.child({ component: 'agents' }),
    ...(cluster ? { onChanged: (userId: string) => cluster.agentChanged(userId) } : {}),
  });
  await agents.load();
  // Rendered MP3s; the media engine's own capture spool is <dataDir>/rtpengine/recordings.
  const recordingsDir = join(opts.dataDir, 'recordings');
  const recordingFiles = localRecordingFiles(recordingsDir);
  const recordingTokens = createRecordingTokens({ key: { file: join(opts.dataDir, 'recording-token.key') } });

  const postProcessor = createPostProcessor({
    journal,
    store,
    directory,
    delaySeconds: opts.tenant.postProcessing.delaySeconds,
    consumerName: `records${consumerSuffix}`,
    onError: (err) => logger.error({ err }, 'records: post-processing failed; retrying from the checkpoint'),
  });
  await postProcessor.catchUp();
  postProcessor.start();
  // A dead node's partition, taken over by this node's janitor, becomes records under that node's
  // checkpoint: exactly once, whoever runs it, and the node carries on from there when it is back.
  await cluster?.attach({
    directory,
    location,
    agents,
    async processPartition(nodeId, partition) {
      const processor = createPostProcessor({
        journal: partition,
        store,
        directory,
        delaySeconds: 0,
        consumerName: `records:${nodeId}`,
        onError: (err) => logger.error({ err, nodeId }, 'records: post-processing a dead node failed'),
      });
      await processor.catchUp();
    },
  });

  // With a certificate the HTTP port speaks HTTPS (and so WSS): browsers give getUserMedia to
  // secure origins only. Routes and plugins are the same either way, hence the one type.
  // The engine may restart before call control exists; the handler is pointed at it below.
  const mediaEvents = { restarted: () => {} };
  const { media, mediaProcess } = await startMedia(opts, logger, () => mediaEvents.restarted());

  // Recordings are rendered from the engine's captures after their calls end (src/recordings).
  const captureDir = mediaProcess?.recordingDir ?? opts.tenant.media?.recordingDir;
  const recordingWorker =
    captureDir === undefined
      ? undefined
      : createRecordingWorker({
          journal,
          consumerName: `recordings${consumerSuffix}`,
          store: recordings,
          recordingsDir,
          files: recordingFiles,
          renderer: new RtpEnginePcapRenderer({
            recordingDir: captureDir,
            logger: logger.child({ component: 'recordings' }),
          }),
          retentionDays: opts.tenant.recordings?.retentionDays,
          onError: (err) => {
            // The first try often comes before the engine has finished the capture (it does when the
            // call is deleted): expected, retried, not worth a warning until it gives up.
            const unfinished =
              isRecordingsError(err.cause) &&
              err.cause.code === 'RECORDING_CAPTURE_INCOMPLETE' &&
              !err.message.endsWith('giving up');
            if (unfinished) logger.debug({ err }, `recordings: ${err.message}`);
            else logger.warn({ err }, `recordings: ${err.message}`);
          },
        });
  recordingWorker?.start();

  const http = Fastify({
    loggerInstance: logger.child({ component: 'http' }) as FastifyBaseLogger,
    disableRequestLogging: true,
    // EnreachAPI clients send paths with a doubled slash (`//authuser/...`): routed as single ones.
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, caseSensitive: false },
    ...(opts.tls ? { https: { cert: opts.tls.cert, key: opts.tls.key } } : {}),
  }) as unknown as FastifyInstance;
  http.get('/health', async () => ({
    status: 'ok',
    media: media ? { engine: media.description, anchored: true } : { engine: null, anchored: false },
  }));
  http.get<{ Querystring: { gc?: string } }>('/metrics', async (request) => {
    // Benchmarks start the process with --expose-gc and ask for a collection before measuring
    // memory; without that flag the parameter does nothing.
    const gc = (globalThis as { gc?: () => void }).gc;
    if (request.query.gc === '1' && gc) gc();
    return {
      sip: metrics.snapshot(),
      calls: callStatistics(callControl),
      registrations: location.size,
      auth: { throttledAddresses: registrar.throttledAddresses },
      memory: process.memoryUsage(),
    };
  });
  // Diagnostics is mounted inside the API: one authentication, one request budget, one OpenAPI document.
  await http.register(apiPlugin, {
    directory,
    records: store,
    credentials,
    callbacks: store,
    recordings: { store: recordings, files: recordingFiles, tokens: recordingTokens },
    agents,
    logger,
    rateLimits: opts.apiRateLimits,
    extensions: [
      async (api) => {
        await api.register(diagnosticsPlugin, {
          directory,
          journal,
          records: store,
          credentials,
          rateLimits: opts.apiRateLimits,
          recordings,
        });
      },
      async (api) => {
        await api.register(rteTokenPlugin, { directory, tokens: rteTokens });
      },
      async (api) => {
        await api.register(webhooksPlugin, { outbox: webhooks });
      },
      async (api) => {
        await api.register(classificationPlugin, {
          directory,
          schemas: directory.tenant.classificationSchemas ?? [],
          store: classifications,
          records: store,
          callbacks: store,
        });
      },
    ],
  });
  await http.register(webPlugin, { directory });
  await attachRteHub(http, {
    feed: realtime,
    ...(cluster ? { remote: cluster.realtime } : {}),
    directory,
    tokens: rteTokens,
    logger,
  });
  await http.listen({ host: opts.host, port: opts.httpPort });
  await webhooks.start();
  const httpAddress = http.server.address();
  const httpPort = typeof httpAddress === 'object' && httpAddress ? httpAddress.port : opts.httpPort;

  const advertisedHost = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  const streamLimits = opts.tenant.sip.tcp;
  // RFC 3261 §18: UDP and TCP on the same port.
  const { udp, tcp } = await listenUdpAndTcp(
    opts.sipPort,
    (port) => ({
      host: opts.host,
      port,
      advertisedHost,
      logger,
      metrics,
    }),
    streamLimits,
  );
  const transports: Transport[] = [udp, tcp];
  let tlsTransport: StreamTransport | undefined;
  if (opts.tls) {
    tlsTransport = await StreamTransport.listen({
      host: opts.host,
      port: opts.sipTlsPort ?? 5061,
      advertisedHost,
      tls: { cert: opts.tls.cert, key: opts.tls.key },
      ...streamLimits,
      logger,
      metrics,
    });
    transports.push(tlsTransport);
  }
  const ws = new WsTransport({
    // An https.Server emits 'upgrade' exactly as an http.Server does.
    server: http.server as HttpServer,
    path: '/sip',
    sentBy: { host: advertisedHost, port: httpPort },
    secure: opts.tls !== undefined,
    logger,
    metrics,
  });
  transports.push(ws);
  const stack = new SipStack({
    transports,
    timers: opts.sipTimers,
    logger: logger.child({ component: 'sip' }),
    metrics,
    largeRequestsOverTcp: opts.tenant.sip.largeRequestsOverTcp,
  });

  const auth = new DigestAuthenticator({ realm: opts.tenant.domain });
  const registrar = new Registrar({
    stack,
    auth,
    location,
    subscribers: { passwordFor: (extension) => directory.userByExtension(extension)?.password },
    logger,
    // Failed digest attempts per source address; a cooling-down address gets 403 without digest work.
    authThrottle: new AuthFailureThrottle(opts.tenant.sip.authThrottle),
    trustedProxies: opts.tenant.sip.trustedProxies,
  });
  const userAgent = new UserAgent({ stack });
  const engineAudio = new EngineAudioCache(join(opts.dataDir, 'audio-cache'));
  const callControl = new CallControl({
    userAgent,
    registrar,
    location,
    directory,
    journal,
    logger: logger.child({ component: 'calls' }),
    queueRetryDelayMs: opts.queueRetryDelayMs,
    ringTimeoutMs: opts.ringTimeoutMs,
    probeIntervalMs: opts.probeIntervalMs,
    callbackRequests: store,
    agents: agentStates,
    // A cluster peer's address is where its WebSocket clients are reached (src/cluster/relay.ts).
    ...(cluster ? { endpointKind: (flow: Flow) => cluster.mediaKindOf(flow) } : {}),
    media,
    audio: {
      defaultQueueAudio: defaultQueueAudio(),
      // Composed announcements go under the data directory: the engine must read them too.
      prompts: new PromptComposer(join(opts.dataDir, 'prompts')),
      holdMusic: opts.tenant.audio?.musicOnHold ?? builtinAudio.music,
      goodbyePrompt: builtinAudio.goodbye,
      closedPrompt: builtinAudio.closed,
      // rtpengine paces low-rate WAVs in bursts: such files play from 48 kHz copies.
      playable: (file) => engineAudio.playable(file),
    },
  });
  mediaEvents.restarted = () => callControl.mediaEngineRestarted();
  agents.attachCalls(callControl);
  // A cluster node's queue status counts every node's calls.
  if (cluster) agents.attachClusterQueueCalls(cluster.realtime.queueCounts);
  // The UA hands each out-of-dialog request to the part of the platform that owns its method.
  userAgent.delegate = {
    onRegister: (request, transaction) => registrar.handle(request, transaction),
    onInvite: (request, transaction) => callControl.onInvite(request, transaction),
    onFlowClosed: (flow) => {
      // A connection dropped: the registrations and calls reached over it are gone.
      location.removeFlow(flow);
      callControl.onFlowClosed(flow);
    },
  };

  // In a cluster, the other nodes learn where this node's SIP is, and reach its WebSocket clients through it.
  await cluster?.serveSip({ stack, location, host: advertisedHost, port: udp.port });

  const hostPart = advertisedHost.includes(':') ? `[${advertisedHost}]` : advertisedHost;
  let closed = false;
  return {
    directory,
    realtime,
    webhooks,
    stack,
    metrics,
    location,
    registrar,
    callControl,
    agents,
    media,
    mediaProcess,
    journal,
    cluster,
    store,
    postProcessor,
    recordings,
    recordingWorker,
    recoveredCallIds,
    http,
    httpPort,
    sipPort: udp.port,
    sipTlsPort: tlsTransport?.port,
    httpUrl: `${opts.tls ? 'https' : 'http'}://${hostPart}:${httpPort}/`,
    wsUrl: `${opts.tls ? 'wss' : 'ws'}://${hostPart}:${httpPort}/sip`,
    async close() {
      if (closed) return;
      closed = true;
      callControl.close();
      agents.close();
      registrar.close();
      await stack.close();
      await media?.close();
      await mediaProcess?.stop();
      await http.close();
      // Everything call control journaled becomes records before the process exits.
      await journal.flush();
      await webhooks.stop();
      realtime.close();
      // A clean stop leaves no call in progress: the next start's recovery scans nothing before here.
      if (callControl.activeCalls.length === 0) await journal.markSettled(journal.lastSeq());
      await postProcessor.stop();
      await postProcessor.catchUp();
      await recordingWorker?.stop();
      await store.close();
      await database.close();
      await journal.close();
      // A clean stop: the node leaves (no janitor needed) and lets its partition go.
      await cluster?.close(true);
    },
  };
}

/** Live calls by state, and the oldest one's age: what an operator looks at first. */
function callStatistics(callControl: CallControl): {
  active: number;
  byState: Record<string, number>;
  oldestSeconds: number;
} {
  const byState: Record<string, number> = {};
  let oldest = Number.POSITIVE_INFINITY;
  for (const call of callControl.activeCalls) {
    byState[call.state] = (byState[call.state] ?? 0) + 1;
    oldest = Math.min(oldest, call.callerLeg.createdAtMs);
  }
  const active = callControl.activeCalls.length;
  return { active, byState, oldestSeconds: active > 0 ? Math.round((Date.now() - oldest) / 1000) : 0 };
}

/**
 * UDP and TCP on one port number. With port 0 (tests) UDP picks a free port and TCP takes the same
 * number, which another process may hold already: then both are given up and tried again.
 */
async function listenUdpAndTcp(
  port: number,
  common: (port: number) => {
    host: string;
    port: number;
    advertisedHost: string;
    logger: Logger;
    metrics: SipMetrics;
  },
  streamLimits: Tenant['sip']['tcp'],
): Promise<{ udp: UdpTransport; tcp: StreamTransport }> {
  for (let attempt = 1; ; attempt++) {
    const udp = await UdpTransport.listen(common(port));
    try {
      const tcp = await StreamTransport.listen({ ...common(udp.port), ...streamLimits });
      return { udp, tcp };
    } catch (err) {
      await udp.close();
      const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
      if (port !== 0 || !inUse || attempt >= 10) throw err;
    }
  }
}

/**
 * The media engine (DESIGN.md §9): the tenant's rtpengine, `off`, or — when the tenant names none —
 * the platform's own rtpengine child when the binary is installed. A missing binary, an engine
 * that does not start or does not answer leaves the platform signalling-only, said in the log and
 * in /health; it never stops start-up.
 */
async function startMedia(
  opts: PlatformOptions,
  logger: Logger,
  onRestart: () => void,
): Promise<{ media: MediaEngine | undefined; mediaProcess: RtpEngineProcess | undefined }> {
  const configured = opts.tenant.media?.rtpengine;
  const log = logger.child({ component: 'media' });
  if (configured === 'off' || (configured === undefined && (opts.mediaDefault ?? 'auto') === 'off')) {
    log.warn('media: off — signalling only (calls are not anchored, recorded or given queue audio)');
    return { media: undefined, mediaProcess: undefined };
  }
  if (configured !== undefined) {
    const engine = new RtpEngine({ host: configured.host, port: configured.port, logger: log });
    // An engine that does not answer yet is kept: calls fall back to signalling-only one by one
    // until it does (src/calls/call.ts), and it may come up after us.
    if (await engine.ping()) log.info(`media: ${engine.description}`);
    else log.error(`media: ${engine.description} does not answer; calls run signalling-only until it does`);
    return { media: engine, mediaProcess: undefined };
  }
  const binary = findRtpEngineBinary();
  if (!binary) {
    log.warn(
      'media: rtpengine is not installed — signalling only. Install it to anchor, bridge and record media: apt-get install rtpengine-daemon',
    );
    return { media: undefined, mediaProcess: undefined };
  }
  try {
    const mediaProcess = await startRtpEngineProcess({
      binary,
      dataDir: join(opts.dataDir, 'rtpengine'),
      host: '127.0.0.1',
      ...(opts.mediaPorts ? { portMin: opts.mediaPorts.min, portMax: opts.mediaPorts.max } : {}),
      logger: log,
      onRestart: () => {
        log.error('media: rtpengine restarted; the calls it anchored have lost their media');
        onRestart();
      },
    });
    const engine = mediaProcess.createEngine();
    log.info(
      `media: own rtpengine (pid ${mediaProcess.pid}) at ${mediaProcess.address}, RTP ports ${mediaProcess.portMin}-${mediaProcess.portMax}`,
    );
    return { media: engine, mediaProcess };
  } catch (err) {
    log.error({ err }, 'media: could not start rtpengine — signalling only');
    return { media: undefined, mediaProcess: undefined };
  }
}
