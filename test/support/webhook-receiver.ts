/**
 * A webhook receiver for the end-to-end suites: a real HTTP server on 127.0.0.1 (a random port,
 * kept across `down()`/`up()`) that records every request it is sent — including the attempts it
 * refuses — and answers 204, an error status, or holds the request open. Signatures are checked
 * here from the Standard Webhooks specification (HMAC-SHA256 over `id.timestamp.body`, key = the
 * base64 after `whsec_`), independently of src/webhooks/signature.ts.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookRequest {
  headers: IncomingHttpHeaders;
  body: string;
  /** The status answered; undefined while held open (or cut). */
  status?: number;
  at: number;
}

/** `ok`: 204; a number: that status; `hold`: never answer (until `down()` or `release()`). */
export type ReceiverBehavior = 'ok' | 'hold' | number;

export class WebhookReceiver {
  readonly requests: WebhookRequest[] = [];
  behavior: ReceiverBehavior = 'ok';
  port = 0;
  private server: Server | undefined;
  private held: ServerResponse[] = [];

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  /** The requests answered with a 2xx, in arrival order. */
  delivered(): WebhookRequest[] {
    return this.requests.filter((request) => request.status !== undefined && request.status < 300);
  }

  /** Listen (again on the same port after `down()`). */
  async up(): Promise<void> {
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const entry: WebhookRequest = {
          headers: request.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          at: Date.now(),
        };
        this.requests.push(entry);
        if (this.behavior === 'hold') {
          this.held.push(response);
          return;
        }
        entry.status = this.behavior === 'ok' ? 204 : this.behavior;
        response.writeHead(entry.status).end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Cut the requests held open (their senders see the connection reset). */
  release(): void {
    for (const response of this.held.splice(0)) response.destroy();
  }

  /** Stop listening: new connections are refused. */
  async down(): Promise<void> {
    this.release();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  async until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what} (${this.requests.length} requests received)`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** Standard Webhooks: does `webhook-signature` hold a valid `v1,` signature of this request? */
export function hasValidSignature(secret: string, request: WebhookRequest): boolean {
  const id = String(request.headers['webhook-id'] ?? '');
  const timestamp = String(request.headers['webhook-timestamp'] ?? '');
  const header = String(request.headers['webhook-signature'] ?? '');
  if (!id || !/^\d+$/.test(timestamp)) return false;
  const key = secret.startsWith('whsec_')
    ? Buffer.from(secret.slice('whsec_'.length), 'base64')
    : Buffer.from(secret, 'utf8');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${request.body}`).digest();
  return header.split(' ').some((candidate) => {
    const [version, value] = candidate.split(',', 2);
    if (version !== 'v1' || !value) return false;
    const given = Buffer.from(value, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
