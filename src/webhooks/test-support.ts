/**
 * Test support for the webhook suites: an in-memory `RealtimeFeed` (the contract of
 * src/realtime/types.ts) and a real HTTP receiver on 127.0.0.1 that records what it is sent and
 * can be switched off (connection refused), made to answer an error, or made to hang.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RealtimeEvent, RealtimeFeed } from '../realtime/types.js';

export class MemoryFeed implements RealtimeFeed {
  readonly events: RealtimeEvent[] = [];
  private readonly listeners = new Set<(event: RealtimeEvent) => void>();
  private seq = 0;

  /** `gaps`: facts without events leave holes in the sequence, as in the journal. */
  constructor(private readonly gaps = true) {}

  /** Commit a fact producing these events (`[eventName, entityId, data]`). */
  commit(
    ...events: Array<{ name: string; entityId?: string; data?: Record<string, unknown> }>
  ): RealtimeEvent[] {
    this.seq += 1 + (this.gaps ? Math.floor(Math.random() * 2) : 0);
    const made = events.map(
      (event, index): RealtimeEvent => ({
        eventId: `${this.seq}-${index}`,
        seq: this.seq,
        eventType: 10,
        eventName: event.name,
        entityType: 'User',
        entityId: event.entityId ?? 'user-a',
        timestampMs: 1_700_000_000_000 + this.seq,
        data: { callId: `call-${this.seq}`, callLegId: `leg-${this.seq}`, ...event.data },
      }),
    );
    this.events.push(...made);
    for (const event of made) for (const listener of this.listeners) listener(event);
    return made;
  }

  async since(afterSeq: number, limit = 1000): Promise<RealtimeEvent[]> {
    return this.events.filter((event) => event.seq > afterSeq).slice(0, limit);
  }

  subscribe(listener: (event: RealtimeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  lastSeq(): number {
    return this.seq;
  }
}

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

export type ReceiverMode = 'ok' | 'error' | 'hang' | 'redirect';

export class Receiver {
  readonly received: Received[] = [];
  mode: ReceiverMode = 'ok';
  errorStatus = 503;
  port = 0;
  private server: Server | undefined;
  private hanging: Array<() => void> = [];
  private waiters: Array<() => void> = [];

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  /** Listen (again, on the same port after `down()`). */
  async up(): Promise<void> {
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (this.mode === 'hang') {
          this.hanging.push(() => response.destroy());
          for (const waiter of this.waiters.splice(0)) waiter();
          return;
        }
        if (this.mode === 'redirect') {
          response.writeHead(307, { location: 'http://127.0.0.1:1/elsewhere' }).end();
        } else if (this.mode === 'error') {
          response.writeHead(this.errorStatus).end('unavailable');
        } else {
          this.received.push({ headers: request.headers, body });
          response.writeHead(204).end();
        }
        for (const waiter of this.waiters.splice(0)) waiter();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stop listening: connections are refused. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const cut of this.hanging.splice(0)) cut();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  /** Resolves when a request (any) has come in. */
  nextRequest(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out; received ${this.received.length}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** Poll `check` (sync or async) until it is true, at most `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
