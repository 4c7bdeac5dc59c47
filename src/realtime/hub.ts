/**
 * The RTE hub (DESIGN.md §12): ASP.NET Core SignalR's JSON hub protocol over WebSocket at `/rte`,
 * so that `@microsoft/signalr`'s `HubConnectionBuilder().withUrl(url, { accessTokenFactory })`
 * connects. `POST /rte/negotiate` and the WebSocket upgrade both need a valid RTE token
 * (`Authorization: Bearer …` or `access_token=…`): 401 otherwise.
 *
 * Methods: `Subscribe([{EntityId, EventName}], lastEventId?)`, `Unsubscribe([...])`,
 * `UnsubscribeAll()`, `AvailableSubscriptions()`. A Subscribe with any entry the user may not see
 * (or an unknown EventName) completes with an error and subscribes none of its entries. With a
 * last event id (the second argument, or `lastEventId` in the hub URL's query), the new
 * subscriptions first get the events after it from the feed (at most `resumeWindow`), then live
 * ones — in order, none twice. Events go out as `MessageReceived({data})`.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { canSee } from '../config/permissions.js';
import type { Directory, User } from '../config/types.js';
import { ENTITY_TYPE_OF, EVENT_NAMES, type RealtimeEventName } from './events.js';
import {
  closeMessage,
  completionMessage,
  handshakeResponse,
  invocationMessage,
  MessageType,
  parseHandshake,
  parseRecords,
  pingMessage,
} from './signalr.js';
import type { RteTokens } from './token.js';
import type { RealtimeEvent, RealtimeFeed } from './types.js';

export interface RteHubDeps {
  feed: RealtimeFeed;
  /**
   * A cluster node's events of the calls other nodes run (src/cluster/realtime.ts), ids
   * `<node>~<seq>-<n>`: delivered live to the subscribers; a resume replays `feed` only.
   */
  remote?: { subscribe(listener: (event: RealtimeEvent) => void): () => void };
  directory: Pick<Directory, 'userById' | 'tenant'>;
  tokens: RteTokens;
  /** Keep-alive pings (default 15 000 ms; the official client gives up after 30 s of silence). */
  pingIntervalMs?: number;
  /** A client silent this long is dropped (default 60 000 ms; the official client pings every 15 s). */
  clientTimeoutMs?: number;
  /** How long a negotiated connection token waits for its WebSocket (default 30 000 ms). */
  negotiateTtlMs?: number;
  /** At most this many events replayed for a resume (default 10 000). */
  resumeWindow?: number;
  /** A connection whose unsent data exceeds this is closed (it can resume). Default 8 MiB. */
  maxBufferedBytes?: number;
  /** The hub's path (default `/rte`). */
  path?: string;
  logger?: { warn(obj: unknown, msg?: string): void; debug?(obj: unknown, msg?: string): void };
}

export interface RteHub {
  /** The negotiate response (status and JSON body) for a request's token and query. */
  negotiate(
    authorization: string | undefined,
    query: URLSearchParams,
  ): Promise<{ status: number; body: unknown }>;
  /** Handle an HTTP upgrade; false when the path is not the hub's (another handler may own it). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Connections that completed the handshake. */
  connectionCount(): number;
  close(): Promise<void>;
}

interface Subscription {
  entityId: string;
  eventName: string;
}

const subKey = (eventName: string, entityId: string) => `${eventName}|${entityId.toLowerCase()}`;

/** Whether `user` may subscribe to `eventName` of `entityId`: §4 permissions. */
export function maySubscribe(user: User, eventName: RealtimeEventName, entityId: string): boolean {
  if (user.role === 'admin') return true;
  switch (ENTITY_TYPE_OF[eventName]) {
    case 'Queue':
      return canSee(user, 'ServiceCalls', entityId);
    case 'User':
      return (
        user.userId.toLowerCase() === entityId.toLowerCase() ||
        canSee(user, 'AgentCalls', entityId) ||
        canSee(user, 'DirectCalls', entityId)
      );
    case 'CallbackList':
      return canSee(user, 'CallbackList', entityId);
  }
}

/** An event of another node's partition (a cluster): `<node>~<seq>-<n>`. */
const isRemote = (event: RealtimeEvent): boolean => event.eventId.includes('~');

/**
 * `<seq>-<n>` → [seq, n]; null when it is not an event id. Another node's `<node>~<seq>-<n>` is an
 * event id too, with nothing of this node's to resume after it: 'live'.
 */
export function parseEventId(value: unknown): [number, number] | 'live' | null {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0)
    return [value, Number.MAX_SAFE_INTEGER];
  if (typeof value !== 'string') return null;
  if (/^[A-Za-z0-9_-]{1,64}~\d{1,15}-\d{1,6}$/.test(value.trim())) return 'live';
  const match = /^(\d{1,15})(?:-(\d{1,6}))?$/.exec(value.trim());
  if (match === null) return null;
  return [Number(match[1]), match[2] === undefined ? Number.MAX_SAFE_INTEGER : Number(match[2])];
}

const after = (event: RealtimeEvent, position: [number, number]): boolean => {
  const n = Number(event.eventId.slice(event.eventId.indexOf('-') + 1));
  return event.seq > position[0] || (event.seq === position[0] && n > position[1]);
};

function bearerOf(authorization: string | undefined, query: URLSearchParams): string | null {
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1]!;
  }
  return query.get('access_token');
}

class HubConnection {
  readonly subs = new Map<string, Subscription>();
  /** Live events held while a resume replays. */
  private held: RealtimeEvent[] | null = null;
  private chain: Promise<void> = Promise.resolve();
  private lastHeardMs = Date.now();
  private closed = false;

  constructor(
    readonly id: string,
    readonly user: User,
    private readonly ws: WebSocket,
    private readonly hub: HubState,
    private readonly resumeFrom: [number, number] | null,
  ) {}

  heard(): void {
    this.lastHeardMs = Date.now();
  }

  silentFor(now: number): number {
    return now - this.lastHeardMs;
  }

  /**
   * Records sent in the same turn of the event loop go out in one WebSocket frame (the protocol
   * allows several records per frame): one write for a burst of events, not one per event.
   */
  send(text: string): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    this.outgoing.push(text);
    if (this.outgoing.length === 1) queueMicrotask(() => this.flush());
  }

  private readonly outgoing: string[] = [];

  private flush(): void {
    if (this.outgoing.length === 0) return;
    const text = this.outgoing.length === 1 ? this.outgoing[0]! : this.outgoing.join('');
    this.outgoing.length = 0;
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > this.hub.maxBufferedBytes) {
      this.close('The client does not keep up; reconnect with the last event id', true);
      return;
    }
    this.ws.send(text);
  }

  close(error?: string, allowReconnect?: boolean): void {
    if (this.closed) return;
    this.flush();
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(closeMessage(error, allowReconnect));
    this.closed = true;
    this.ws.close(1000);
  }

  isClosed(): boolean {
    return this.closed;
  }

  /** A live event from the feed. */
  offer(event: RealtimeEvent): void {
    if (this.held !== null) {
      this.held.push(event);
      return;
    }
    if (this.matches(event)) this.deliver(event);
  }

  private matches(event: RealtimeEvent, only?: Map<string, Subscription>): boolean {
    const subs = only ?? this.subs;
    return subs.has(subKey(event.eventName, event.entityId)) || subs.has(subKey('*', event.entityId));
  }

  private deliver(event: RealtimeEvent): void {
    this.send(messageReceivedFrame(event));
  }

  /** Invocations run one after another: a Subscribe's replay finishes before the next is read. */
  enqueue(task: () => Promise<void>): void {
    this.chain = this.chain.then(task).catch((error: unknown) => {
      this.hub.logger?.warn({ err: error, connectionId: this.id }, 'rte: invocation failed');
    });
  }

  async invoke(target: string, args: unknown[]): Promise<unknown> {
    switch (target.toLowerCase()) {
      case 'subscribe':
        return this.subscribe(args[0], args[1]);
      case 'unsubscribe':
        return this.unsubscribe(args[0]);
      case 'unsubscribeall': {
        const count = this.subs.size;
        this.subs.clear();
        return { Unsubscribed: count };
      }
      case 'availablesubscriptions':
        return this.available();
      default:
        throw new HubError(`Method does not exist: ${target}`);
    }
  }

  private parseSubscriptions(value: unknown): Subscription[] {
    const list = Array.isArray(value) ? value : value !== undefined && value !== null ? [value] : [];
    const out: Subscription[] = [];
    for (const item of list) {
      if (typeof item !== 'object' || item === null)
        throw new HubError('A subscription is {EntityId, EventName}');
      const record = item as Record<string, unknown>;
      const entityId = record.EntityId ?? record.entityId;
      const eventName = record.EventName ?? record.eventName;
      if (typeof entityId !== 'string' || entityId.length === 0 || entityId.length > 200) {
        throw new HubError('EntityId is required');
      }
      if (typeof eventName !== 'string' || eventName.length === 0)
        throw new HubError('EventName is required');
      out.push({ entityId: entityId.trim(), eventName: eventName.trim() });
    }
    if (out.length > 1000) throw new HubError('At most 1000 subscriptions per call');
    return out;
  }

  private async subscribe(value: unknown, lastEventId: unknown): Promise<unknown> {
    const wanted = this.parseSubscriptions(value);
    const refused: string[] = [];
    for (const sub of wanted) {
      const names: RealtimeEventName[] =
        sub.eventName === '*'
          ? EVENT_NAMES
          : (EVENT_NAMES.filter(
              (name) => name.toLowerCase() === sub.eventName.toLowerCase(),
            ) as RealtimeEventName[]);
      if (names.length === 0) {
        refused.push(`${sub.eventName} (unknown event)`);
        continue;
      }
      if (sub.eventName === '*') {
        // Every event of the entity: allowed when some entity type of the id is visible.
        if (!EVENT_NAMES.some((name) => maySubscribe(this.user, name, sub.entityId))) {
          refused.push(`* of ${sub.entityId}`);
        }
        continue;
      }
      sub.eventName = names[0]!;
      if (!maySubscribe(this.user, names[0]!, sub.entityId)) refused.push(`${names[0]} of ${sub.entityId}`);
    }
    if (refused.length > 0) throw new HubError(`Not permitted: ${refused.join(', ')}`);

    const added = new Map<string, Subscription>();
    for (const sub of wanted) {
      const key = subKey(sub.eventName, sub.entityId);
      if (!this.subs.has(key)) added.set(key, sub);
    }
    const parsed =
      lastEventId !== undefined && lastEventId !== null ? parseEventId(lastEventId) : this.resumeFrom;
    if (lastEventId !== undefined && lastEventId !== null && parsed === null) {
      throw new HubError('lastEventId is not an event id (<seq>-<n>)');
    }
    // After another node's event there is nothing of this node's to resume from: live only.
    const position = parsed === 'live' ? null : parsed;
    let resumed = 0;
    let complete = true;
    if (position !== null && added.size > 0) {
      // Hold live events, replay what was missed, then release the held ones after the replay.
      this.held = [];
      try {
        const until = this.hub.feed.lastSeq();
        let from = position[0];
        const window = this.hub.resumeWindow;
        let read = 0;
        while (from < until) {
          const page = await this.hub.feed.since(from, Math.min(1000, window - read));
          if (page.length === 0) break;
          for (const event of page) {
            if (event.seq > until) break;
            if (after(event, position) && this.matches(event, added)) {
              this.deliver(event);
              resumed++;
            }
          }
          read += page.length;
          from = page[page.length - 1]!.seq;
          if (read >= window) {
            complete = from >= until;
            break;
          }
        }
        for (const [key, sub] of added) this.subs.set(key, sub);
        const held = this.held;
        this.held = null;
        // Events of other nodes' partitions are never replayed: every held one goes out.
        for (const event of held)
          if ((isRemote(event) || event.seq > until) && this.matches(event)) this.deliver(event);
      } finally {
        if (this.held !== null) {
          const held = this.held;
          this.held = null;
          for (const event of held) if (this.matches(event)) this.deliver(event);
        }
      }
    } else {
      for (const [key, sub] of added) this.subs.set(key, sub);
    }
    return {
      Subscribed: wanted.map((sub) => ({ EntityId: sub.entityId, EventName: sub.eventName })),
      Resumed: resumed,
      ResumeComplete: complete,
      LastSeq: this.hub.feed.lastSeq(),
    };
  }

  private unsubscribe(value: unknown): unknown {
    let count = 0;
    for (const sub of this.parseSubscriptions(value)) {
      if (this.subs.delete(subKey(sub.eventName, sub.entityId))) count++;
      else {
        for (const [key, existing] of this.subs) {
          if (
            existing.entityId.toLowerCase() === sub.entityId.toLowerCase() &&
            existing.eventName.toLowerCase() === sub.eventName.toLowerCase()
          ) {
            this.subs.delete(key);
            count++;
          }
        }
      }
    }
    return { Unsubscribed: count };
  }

  private available(): unknown {
    const tenant = this.hub.directory.tenant;
    const out: { EntityId: string; EntityType: string; EventName: string; EventType?: number }[] = [];
    const add = (entityType: string, entityId: string) => {
      for (const name of EVENT_NAMES) {
        if (ENTITY_TYPE_OF[name] === entityType && maySubscribe(this.user, name, entityId)) {
          out.push({ EntityId: entityId, EntityType: entityType, EventName: name });
        }
      }
    };
    for (const user of tenant.users) add('User', user.userId);
    for (const queue of tenant.queues) add('Queue', queue.queueId);
    for (const list of tenant.callbackLists) add('CallbackList', list.callbackListId);
    return out;
  }
}

class HubError extends Error {}

/** One serialization per event, however many connections it goes to. */
const frames = new WeakMap<RealtimeEvent, string>();
function messageReceivedFrame(event: RealtimeEvent): string {
  let text = frames.get(event);
  if (text === undefined) {
    text = invocationMessage('MessageReceived', [{ data: event.data }]);
    frames.set(event, text);
  }
  return text;
}

interface HubState {
  feed: RealtimeFeed;
  directory: RteHubDeps['directory'];
  resumeWindow: number;
  maxBufferedBytes: number;
  logger: RteHubDeps['logger'];
}

export function createRteHub(deps: RteHubDeps): RteHub {
  const path = deps.path ?? '/rte';
  const negotiateTtlMs = deps.negotiateTtlMs ?? 30_000;
  const clientTimeoutMs = deps.clientTimeoutMs ?? 60_000;
  const state: HubState = {
    feed: deps.feed,
    directory: deps.directory,
    resumeWindow: deps.resumeWindow ?? 10_000,
    maxBufferedBytes: deps.maxBufferedBytes ?? 8 * 1024 * 1024,
    logger: deps.logger,
  };
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024, perMessageDeflate: false });
  /** connectionToken → who negotiated it and until when it may be used. */
  const negotiated = new Map<string, { connectionId: string; userId: string; expiresMs: number }>();
  const connections = new Set<HubConnection>();

  const unsubscribeFeed = deps.feed.subscribe((event) => {
    for (const connection of connections) connection.offer(event);
  });
  const unsubscribeRemote = deps.remote?.subscribe((event) => {
    for (const connection of connections) connection.offer(event);
  });

  const pinger = setInterval(() => {
    const now = Date.now();
    for (const [token, entry] of negotiated) if (entry.expiresMs < now) negotiated.delete(token);
    for (const connection of connections) {
      if (connection.silentFor(now) > clientTimeoutMs) {
        connection.close('Server timeout elapsed without receiving a message from the client.');
      } else {
        connection.send(pingMessage());
      }
    }
  }, deps.pingIntervalMs ?? 15_000);
  pinger.unref();

  async function userOf(token: string | null): Promise<User | null> {
    if (token === null) return null;
    const userId = await deps.tokens.verify(token);
    if (userId === null) return null;
    return deps.directory.userById(userId) ?? null;
  }

  function refuse(socket: Duplex, status: number, text: string): void {
    socket.end(
      `HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
  }

  function serve(ws: WebSocket, user: User, connectionId: string, resumeFrom: [number, number] | null): void {
    let connection: HubConnection | null = null;
    const handshakeTimer = setTimeout(() => ws.close(1002, 'handshake timeout'), 15_000);
    handshakeTimer.unref();
    const handleRecords = (text: string) => {
      let records: ReturnType<typeof parseRecords>;
      try {
        records = parseRecords(text);
      } catch (error) {
        connection?.close(`Connection closed with an error. ${(error as Error).message}`);
        return;
      }
      for (const record of records) handleMessage(record);
    };
    const handleMessage = (message: Record<string, unknown>) => {
      const hubConnection = connection!;
      switch (message.type) {
        case MessageType.Invocation: {
          const target = typeof message.target === 'string' ? message.target : '';
          const args = Array.isArray(message.arguments) ? message.arguments : [];
          const invocationId = typeof message.invocationId === 'string' ? message.invocationId : undefined;
          hubConnection.enqueue(async () => {
            try {
              const result = await hubConnection.invoke(target, args);
              if (invocationId !== undefined) hubConnection.send(completionMessage(invocationId, { result }));
            } catch (error) {
              const text =
                error instanceof HubError
                  ? error.message
                  : `An unexpected error occurred invoking '${target}' on the server.`;
              if (invocationId !== undefined)
                hubConnection.send(completionMessage(invocationId, { error: text }));
              if (!(error instanceof HubError)) throw error;
            }
          });
          return;
        }
        case MessageType.StreamInvocation: {
          const invocationId = typeof message.invocationId === 'string' ? message.invocationId : '';
          hubConnection.send(
            completionMessage(invocationId, { error: 'Streaming is not supported by this hub.' }),
          );
          return;
        }
        case MessageType.Ping:
        case MessageType.CancelInvocation:
        case MessageType.Completion:
        case MessageType.StreamItem:
          return;
        case MessageType.Close:
          hubConnection.close();
          return;
        default:
          // Unknown message types are ignored (forward compatibility, as the spec allows).
          return;
      }
    };
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const text = isBinary ? Buffer.from(data as Buffer).toString('utf8') : data.toString();
      if (connection === null) {
        const { error, rest } = parseHandshake(text);
        clearTimeout(handshakeTimer);
        ws.send(handshakeResponse(error));
        if (error !== null) {
          ws.close(1002, 'handshake failed');
          return;
        }
        connection = new HubConnection(connectionId, user, ws, state, resumeFrom);
        connections.add(connection);
        if (rest.length > 0) handleRecords(rest);
        return;
      }
      connection.heard();
      handleRecords(text);
    });
    ws.on('close', () => {
      clearTimeout(handshakeTimer);
      if (connection !== null) connections.delete(connection);
    });
    ws.on('error', () => ws.terminate());
  }

  return {
    async negotiate(authorization, query) {
      const user = await userOf(bearerOf(authorization, query));
      if (user === null) return { status: 401, body: { error: 'Unauthorized' } };
      const requested = Number(query.get('negotiateVersion') ?? '0');
      const version = Number.isFinite(requested) && requested >= 1 ? 1 : 0;
      const connectionId = randomUUID();
      const connectionToken = version === 1 ? randomUUID() : connectionId;
      negotiated.set(connectionToken, {
        connectionId,
        userId: user.userId,
        expiresMs: Date.now() + negotiateTtlMs,
      });
      return {
        status: 200,
        body: {
          ...(version === 1 ? { connectionToken } : {}),
          connectionId,
          negotiateVersion: version,
          availableTransports: [{ transport: 'WebSockets', transferFormats: ['Text', 'Binary'] }],
        },
      };
    },

    handleUpgrade(req, socket, head) {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname !== path && url.pathname !== `${path}/`) return false;
      void (async () => {
        const user = await userOf(bearerOf(req.headers.authorization, url.searchParams));
        if (user === null) {
          refuse(socket, 401, 'Unauthorized');
          return;
        }
        const id = url.searchParams.get('id');
        let connectionId: string;
        if (id !== null) {
          const entry = negotiated.get(id);
          if (entry === undefined || entry.expiresMs < Date.now()) {
            refuse(socket, 404, 'Not Found');
            return;
          }
          if (entry.userId !== user.userId) {
            refuse(socket, 401, 'Unauthorized');
            return;
          }
          negotiated.delete(id);
          connectionId = entry.connectionId;
        } else {
          connectionId = randomUUID();
        }
        const last = url.searchParams.get('lastEventId');
        const parsed = last === null ? null : parseEventId(last);
        if (last !== null && parsed === null) {
          refuse(socket, 400, 'lastEventId is not an event id');
          return;
        }
        const resumeFrom = parsed === 'live' ? null : parsed;
        wss.handleUpgrade(req, socket, head, (ws) => serve(ws, user, connectionId, resumeFrom));
      })().catch(() => socket.destroy());
      return true;
    },

    connectionCount: () => connections.size,

    async close() {
      clearInterval(pinger);
      unsubscribeFeed();
      unsubscribeRemote?.();
      for (const connection of connections) connection.close();
      connections.clear();
      // A client that never answers the close handshake must not hold a shutdown up.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => wss.close(() => resolve())),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000))),
      ]);
      clearTimeout(timer);
      for (const client of wss.clients) client.terminate();
    },
  };
}

export interface RteHubPluginOptions {
  hub: RteHub;
  /** The hub's path (default `/rte`); the negotiate endpoint is `<path>/negotiate`. */
  path?: string;
  /** Upgrade paths other handlers on the same server own (default `['/sip']`); others get a 404. */
  otherUpgradePaths?: readonly string[];
}

/**
 * The hub's HTTP side on a Fastify host: `POST /rte/negotiate`, and the WebSocket upgrade on the
 * host's server (beside the SIP WebSocket at `/sip`, which leaves other paths alone when another
 * upgrade handler exists). Register before `listen`.
 */
export const rteHubPlugin: FastifyPluginAsync<RteHubPluginOptions> = async (app, opts) => {
  const path = opts.path ?? '/rte';
  // The client posts an empty body with whatever content type: accept any.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => done(null, undefined));
  app.post(`${path}/negotiate`, async (request, reply) => {
    const query = new URLSearchParams(request.raw.url?.split('?')[1] ?? '');
    const { status, body } = await opts.hub.negotiate(request.headers.authorization, query);
    return reply.code(status).header('Cache-Control', 'no-store').send(body);
  });
  const others = opts.otherUpgradePaths ?? ['/sip'];
  const listener = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (opts.hub.handleUpgrade(req, socket, head)) return;
    // The SIP WebSocket leaves unknown paths alone once another upgrade handler exists: refuse
    // them here so that nobody waits for an answer that never comes.
    const pathname = (req.url ?? '').split('?')[0]!.replace(/\/$/, '');
    if (!others.includes(pathname)) {
      socket.end(
        'HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nNo WebSocket endpoint here\n',
      );
    }
  };
  (app.server as Server).on('upgrade', listener);
  app.addHook('onClose', async () => {
    (app.server as Server).off('upgrade', listener);
    await opts.hub.close();
  });
};

/** Create the hub and mount it on a Fastify host (before `listen`). */
export async function attachRteHub(
  app: FastifyInstance,
  deps: RteHubDeps & { otherUpgradePaths?: readonly string[] },
): Promise<RteHub> {
  const hub = createRteHub(deps);
  await app.register(rteHubPlugin, { hub, path: deps.path, otherUpgradePaths: deps.otherUpgradePaths });
  return hub;
}
