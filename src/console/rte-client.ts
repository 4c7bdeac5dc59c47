/**
 * A small client for the platform's RTE hub (src/realtime/): ASP.NET Core SignalR's JSON hub
 * protocol over the browser's WebSocket — only what the wallboard needs, instead of bundling the
 * official client. `GET /token/{userId}/rte/` (HTTP Basic) gives a JWT; `POST /rte/negotiate`
 * with it gives a connection token; the WebSocket `/rte?id=…&access_token=…` then does the
 * handshake, `Subscribe` invocations (answered by completions), `MessageReceived` events and pings.
 * A dropped connection is reopened (new token) and resumes from the last event id, so nothing
 * is missed in between.
 */
import type { RestClient } from './api-client.js';

const RS = '\u001e';
/** Message types of the hub protocol. */
const INVOCATION = 1;
const COMPLETION = 3;
const PING = 6;
const CLOSE = 7;
/** The hub pings every 15 s and drops a client silent for 60 s: ping it as often. */
const PING_MS = 15_000;
const RECONNECT_MS = 2_000;

export interface RteSubscription {
  EntityId: string;
  EventName: string;
}

/** A hub event's `data` (camelCase, see src/realtime/README.md). */
export interface RteEvent {
  eventId: string;
  eventType: number;
  eventName: string;
  entityType: string;
  entityId: string;
  timestamp: string;
  [field: string]: unknown;
}

export type RteState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export class RteClient {
  private socket: WebSocket | null = null;
  private nextInvocation = 1;
  private readonly pending = new Map<string, Pending>();
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private lastEventId: string | undefined;
  /** Chosen on the first connection (from `AvailableSubscriptions`), kept for reconnections. */
  private subscriptions: RteSubscription[] | null = null;
  private choose: (available: RteSubscription[]) => RteSubscription[] = () => [];
  private stopped = false;

  constructor(
    private readonly rest: RestClient,
    private readonly userId: string,
    private readonly onEvent: (event: RteEvent) => void,
    private readonly onState: (state: RteState, detail?: string) => void,
  ) {}

  /**
   * Connect and subscribe to what `choose` picks among the hub's `AvailableSubscriptions()` (a
   * Subscribe with any entry the user may not see fails as a whole); resolves with the entries
   * subscribed.
   */
  async start(choose: (available: RteSubscription[]) => RteSubscription[]): Promise<RteSubscription[]> {
    this.choose = choose;
    this.onState('connecting');
    await this.open();
    return this.subscriptions ?? [];
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    this.socket?.close();
    this.socket = null;
    this.onState('closed');
  }

  /** A hub method's completion (`result`), or its `error` as an Error. */
  invoke<T>(target: string, ...args: unknown[]): Promise<T> {
    const socket = this.socket;
    if (socket === null || socket.readyState !== WebSocket.OPEN)
      return Promise.reject(new Error('not connected'));
    const invocationId = String(this.nextInvocation++);
    return new Promise<T>((resolve, reject) => {
      this.pending.set(invocationId, { resolve: resolve as (value: unknown) => void, reject });
      socket.send(JSON.stringify({ type: INVOCATION, invocationId, target, arguments: args }) + RS);
    });
  }

  private async open(): Promise<void> {
    const { Token } = await this.rest.get<{ Token: string; WSSEndpoint: string }>(
      `/token/${encodeURIComponent(this.userId)}/rte/`,
    );
    const negotiate = await fetch(this.rest.url('/rte/negotiate?negotiateVersion=1'), {
      method: 'POST',
      headers: { Authorization: `Bearer ${Token}` },
    });
    if (!negotiate.ok) throw new Error(`RTE negotiate: HTTP ${negotiate.status}`);
    const { connectionToken } = (await negotiate.json()) as { connectionToken: string };
    const url = this.rest.url('/rte');
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('id', connectionToken);
    url.searchParams.set('access_token', Token);
    const socket = new WebSocket(url);
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      let handshaken = false;
      let buffer = '';
      socket.onopen = () => socket.send(JSON.stringify({ protocol: 'json', version: 1 }) + RS);
      socket.onmessage = (message) => {
        buffer += String(message.data);
        const records = buffer.split(RS);
        buffer = records.pop() ?? '';
        for (const record of records) {
          const body = JSON.parse(record) as Record<string, unknown>;
          if (!handshaken) {
            if (typeof body.error === 'string') {
              reject(new Error(`RTE handshake: ${body.error}`));
              return;
            }
            handshaken = true;
            resolve();
            continue;
          }
          this.handle(body);
        }
      };
      socket.onerror = () => {
        if (!handshaken) reject(new Error('RTE: the WebSocket failed'));
      };
      socket.onclose = (event) => {
        if (!handshaken) reject(new Error(`RTE: closed (${event.code})`));
        else this.dropped(socket, event.reason || `closed (${event.code})`);
      };
    });
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: PING }) + RS);
    }, PING_MS);
    if (this.subscriptions === null)
      this.subscriptions = this.choose(await this.invoke<RteSubscription[]>('AvailableSubscriptions'));
    if (this.subscriptions.length > 0) {
      const result = await this.invoke<{ LastSeq?: number }>(
        'Subscribe',
        this.subscriptions,
        ...(this.lastEventId ? [this.lastEventId] : []),
      );
      // No event yet: resume from the feed's position at subscription (a bare journal sequence).
      if (this.lastEventId === undefined && typeof result?.LastSeq === 'number')
        this.lastEventId = String(result.LastSeq);
    }
    this.onState('connected');
  }

  private handle(message: Record<string, unknown>): void {
    switch (message.type) {
      case INVOCATION: {
        if (message.target !== 'MessageReceived') return;
        const [argument] = message.arguments as [{ data: RteEvent }];
        const event = argument.data;
        this.lastEventId = event.eventId;
        this.onEvent(event);
        return;
      }
      case COMPLETION: {
        const pending = this.pending.get(String(message.invocationId));
        if (!pending) return;
        this.pending.delete(String(message.invocationId));
        if (typeof message.error === 'string') pending.reject(new Error(message.error));
        else pending.resolve(message.result);
        return;
      }
      case CLOSE:
        this.socket?.close();
        return;
      default:
        return; // pings
    }
  }

  private dropped(socket: WebSocket, reason: string): void {
    if (socket !== this.socket) return;
    clearInterval(this.pingTimer);
    for (const pending of this.pending.values()) pending.reject(new Error(`RTE: ${reason}`));
    this.pending.clear();
    this.socket = null;
    if (this.stopped) return;
    this.onState('reconnecting', reason);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.open().catch((error: unknown) => {
        this.onState('reconnecting', error instanceof Error ? error.message : String(error));
        this.scheduleReconnect();
      });
    }, RECONNECT_MS);
  }
}
