/**
 * A small SIP user agent on Switchboard's own stack, for tests and benchmarks: registers with
 * digest authentication, places calls (answering 401/407 challenges), and answers, declines or
 * ignores incoming calls. It records every request and response it sees so tests can assert on
 * the headers a real device would get.
 */
import { Dialog } from '../sip/dialog.js';
import { digestHa1, digestResponse } from '../sip/digest.js';
import { getTag, parseAuthParams } from '../sip/headers.js';
import { EMPTY_BODY, SipHeaders, type SipRequest, type SipResponse } from '../sip/message.js';
import { newSipCallId, newTag, SipStack } from '../sip/stack.js';
import type { InviteServerTransaction, ServerTransaction, TimerConfig } from '../sip/transaction/index.js';
import { StreamTransport } from '../sip/transport/stream.js';
import type { Flow } from '../sip/transport/types.js';
import { UdpTransport } from '../sip/transport/udp.js';
import type { RtpPeer } from './rtp-peer.js';
import { selfSignedCertificate } from './tls-cert.js';
import { WsClientTransport } from './ws-client-transport.js';

export const TEST_SDP = (user: string) =>
  Buffer.from(
    `v=0\r\no=${user} 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n`,
  );

/** The direction an answer takes for an offer's (RFC 3264 §6.1). */
const MIRRORED_DIRECTION = {
  sendrecv: 'sendrecv',
  sendonly: 'recvonly',
  recvonly: 'sendonly',
  inactive: 'inactive',
} as const;

export interface TestUaOptions {
  extension: string;
  password: string;
  domain: string;
  timers?: Partial<TimerConfig>;
  /**
   * The device's media: its SDP (offers and answers) names this RTP peer, which is pointed at the
   * other side's SDP once known. Without it the UA sends a dummy SDP and no media.
   */
  media?: RtpPeer;
  /**
   * The Contact to register and to put in requests, instead of the UA's own address: a third-party
   * registration (REGISTER sent by this UA on behalf of a phone listening elsewhere).
   */
  contactUri?: string;
  /** Header parameters of the REGISTER's Contact, e.g. `;reg-id=1;+sip.instance="<urn:uuid:…>"` (RFC 5626). */
  registerContactParams?: string;
}

/** What both directions of a test call do once answered: hang up, and hear the peer hang up. */
abstract class TestCall {
  dialog?: Dialog;
  ended = false;
  private readonly byeWaiters: (() => void)[] = [];

  constructor(protected readonly ua: TestUa) {}

  hangup(): Promise<SipResponse> {
    if (!this.dialog) throw new Error('not answered');
    this.ended = true;
    return this.ua.sendInDialog(this.dialog, 'BYE');
  }

  onBye(): void {
    this.ended = true;
    for (const w of this.byeWaiters.splice(0)) w();
  }

  waitForBye(timeoutMs = 5000): Promise<void> {
    if (this.ended) return Promise.resolve();
    return withTimeout(new Promise<void>((resolve) => this.byeWaiters.push(resolve)), timeoutMs, 'BYE');
  }
}

/** An incoming call as the device sees it. */
export class IncomingCall extends TestCall {
  readonly invite: SipRequest;
  readonly localTag = newTag();
  cancelled = false;
  /** The CANCEL request, once one arrived. */
  cancelRequest?: SipRequest;
  private readonly cancelWaiters: (() => void)[] = [];

  constructor(
    ua: TestUa,
    readonly transaction: InviteServerTransaction,
  ) {
    super(ua);
    this.invite = transaction.request;
    transaction.onCancel = (cancel) => {
      this.cancelled = true;
      this.cancelRequest = cancel;
      transaction.respond(
        ua.stack.createResponse(this.invite, 487, 'Request Terminated', { toTag: this.localTag }),
      );
      for (const w of this.cancelWaiters.splice(0)) w();
    };
  }

  header(name: string): string | undefined {
    return this.invite.headers.get(name);
  }

  /** Client call id the way JsSIP/SIP.js compute session.id: Call-ID + From tag. */
  get sessionId(): string {
    return `${this.invite.headers.get('Call-ID')}${getTag(this.invite.headers.get('From') ?? '')}`;
  }

  ring(): void {
    this.transaction.respond(
      this.ua.stack.createResponse(this.invite, 180, 'Ringing', { toTag: this.localTag }),
    );
  }

  answer(): void {
    const contact = `<${this.ua.contactUri}>`;
    const media = this.ua.media;
    // With an RTP peer the device answers with its real media address and sends to the offer's.
    if (media && this.invite.body.length > 0) media.setRemote(this.invite.body.toString());
    this.transaction.respond(
      this.ua.stack.createResponse(this.invite, 200, 'OK', {
        toTag: this.localTag,
        headers: [['Contact', contact]],
        body: media ? Buffer.from(media.sdp(this.ua.extension)) : TEST_SDP(this.ua.extension),
      }),
    );
    this.dialog = Dialog.fromUas(this.invite, this.localTag, this.transaction.flow, this.ua.contactUri);
    this.ua.trackDialog(this.dialog, this);
  }

  reject(status = 603): void {
    this.transaction.respond(
      this.ua.stack.createResponse(this.invite, status, undefined, { toTag: this.localTag }),
    );
  }

  waitForCancel(timeoutMs = 5000): Promise<void> {
    if (this.cancelled) return Promise.resolve();
    return withTimeout(new Promise<void>((resolve) => this.cancelWaiters.push(resolve)), timeoutMs, 'CANCEL');
  }
}

/** A call this UA placed. */
export class OutgoingCall extends TestCall {
  readonly responses: SipResponse[] = [];
  final?: SipResponse;
  readonly finalResponse: Promise<SipResponse>;
  private resolveFinal!: (r: SipResponse) => void;
  private progressWaiters: ((r: SipResponse) => void)[] = [];
  transaction?: ReturnType<SipStack['sendRequest']>;

  constructor(
    ua: TestUa,
    readonly invite: SipRequest,
  ) {
    super(ua);
    this.finalResponse = new Promise((resolve) => {
      this.resolveFinal = resolve;
    });
  }

  onResponse(response: SipResponse): void {
    this.responses.push(response);
    if (response.status > 100 && response.status < 200)
      for (const w of this.progressWaiters.splice(0)) w(response);
    if (response.status >= 200 && !this.final) {
      this.final = response;
      if (response.status < 300 && this.ua.media && response.body.length > 0)
        this.ua.media.setRemote(response.body.toString());
      if (response.status < 300) {
        this.dialog = Dialog.fromUac(this.invite, response, this.ua.serverFlow, this.ua.contactUri);
        this.ua.stack.sendAck(this.dialog.createRequest('ACK', { ackFor: 1 }), this.ua.serverFlow);
        this.ua.trackDialog(this.dialog, this);
      }
      this.resolveFinal(response);
    }
  }

  /** First 18x. */
  waitForProgress(timeoutMs = 5000): Promise<SipResponse> {
    const seen = this.responses.find((r) => r.status > 100 && r.status < 200);
    if (seen) return Promise.resolve(seen);
    return withTimeout(new Promise((resolve) => this.progressWaiters.push(resolve)), timeoutMs, 'progress');
  }

  waitForFinal(timeoutMs = 10_000): Promise<SipResponse> {
    return withTimeout(this.finalResponse, timeoutMs, 'final response');
  }

  cancel(): void {
    if (this.transaction) this.ua.stack.cancel(this.transaction);
  }
}

type IncomingBehaviour = (call: IncomingCall) => void;

export class TestUa {
  readonly stack: SipStack;
  readonly extension: string;
  readonly incoming: IncomingCall[] = [];
  readonly receivedRequests: SipRequest[] = [];
  private behaviour: IncomingBehaviour = (call) => call.ring();
  private readonly dialogs = new Map<string, IncomingCall | OutgoingCall>();
  private readonly incomingWaiters: ((call: IncomingCall) => void)[] = [];
  private registerCallId = newSipCallId('test-ua');
  private registerCseq = 0;
  private readonly fromTag = newTag();
  readonly contactUri: string;

  /** The device's RTP peer, if it has one (TestUaOptions.media). */
  get media(): RtpPeer | undefined {
    return this.opts.media;
  }

  private constructor(
    private readonly opts: TestUaOptions,
    readonly transport: WsClientTransport | UdpTransport | StreamTransport,
    readonly serverFlow: Flow,
  ) {
    this.extension = opts.extension;
    this.stack = new SipStack({ transports: [transport], timers: opts.timers });
    const sentBy = transport.sentBy;
    const param = transport.protocol === 'udp' ? '' : `;transport=${transport.protocol}`;
    this.contactUri =
      opts.contactUri ??
      (transport instanceof WsClientTransport
        ? `sip:${opts.extension}@${sentBy.host};transport=ws`
        : `sip:${opts.extension}@${sentBy.host}:${sentBy.port}${param}`);
    this.stack.onRequest = (request, tx) => this.onRequest(request, tx);
    this.stack.onAck = () => {};
  }

  static async overWebSocket(url: string, opts: TestUaOptions): Promise<TestUa> {
    const transport = await WsClientTransport.connect(url);
    return new TestUa(opts, transport, transport.serverFlow);
  }

  /**
   * A UA over UDP, on `local.port` (a trunk's address, say) or an ephemeral port, at `local.host`
   * (default 127.0.0.1; another loopback address is another machine to the server).
   */
  static async overUdp(
    server: { host: string; port: number },
    opts: TestUaOptions,
    local: { port?: number; host?: string } = {},
  ): Promise<TestUa> {
    const transport = await UdpTransport.listen({ host: local.host ?? '127.0.0.1', port: local.port ?? 0 });
    return new TestUa(opts, transport, { protocol: 'udp', address: server.host, port: server.port });
  }

  /**
   * A UA over TCP or TLS: it listens on an ephemeral loopback port (its Contact) and reaches the
   * server over a connection it opens (its Via carries `alias`, RFC 5923, so the server may reuse it).
   */
  static async overStream(
    protocol: 'tcp' | 'tls',
    server: { host: string; port: number },
    opts: TestUaOptions,
  ): Promise<TestUa> {
    const certificate = protocol === 'tls' ? selfSignedCertificate() : undefined;
    const transport = await StreamTransport.listen({
      host: '127.0.0.1',
      port: 0,
      ...(certificate ? { tls: { cert: certificate.cert, key: certificate.key } } : {}),
    });
    return new TestUa(opts, transport, { protocol, address: server.host, port: server.port });
  }

  /** Drop every TCP/TLS connection but keep listening (a phone whose TCP stack restarted). */
  async closeConnections(): Promise<void> {
    if (!(this.transport instanceof StreamTransport)) throw new Error('closeConnections: not a TCP/TLS UA');
    await this.transport.closeConnections();
  }

  /** What the UA does with the next incoming calls (default: ring and wait). */
  onIncoming(behaviour: IncomingBehaviour): void {
    this.behaviour = behaviour;
  }

  /** Incoming calls ring, and are answered `delayMs` later (a person picking up). */
  answerAfterRinging(delayMs: number): void {
    this.onIncoming((call) => {
      call.ring();
      setTimeout(() => call.answer(), delayMs);
    });
  }

  /** Incoming calls ring, and are refused with `status` `delayMs` later. */
  rejectAfterRinging(status: number, delayMs: number): void {
    this.onIncoming((call) => {
      call.ring();
      setTimeout(() => call.reject(status), delayMs);
    });
  }

  waitForIncoming(timeoutMs = 5000): Promise<IncomingCall> {
    return withTimeout(
      new Promise((resolve) => this.incomingWaiters.push(resolve)),
      timeoutMs,
      `incoming call at ${this.extension}`,
    );
  }

  /** Lose every dialog, as a phone that crashed and restarted would (in-dialog requests get 481). */
  forgetDialogs(): void {
    this.dialogs.clear();
  }

  trackDialog(dialog: Dialog, call: IncomingCall | OutgoingCall): void {
    this.dialogs.set(`${dialog.sipCallId}|${dialog.localTag}`, call);
  }

  private onRequest(request: SipRequest, tx: ServerTransaction): void {
    this.receivedRequests.push(request);
    if (tx.isInvite && !getTag(request.headers.get('To') ?? '')) {
      const call = new IncomingCall(this, tx);
      this.incoming.push(call);
      this.behaviour(call);
      for (const w of this.incomingWaiters.splice(0)) w(call);
      return;
    }
    const key = `${request.headers.get('Call-ID')}|${getTag(request.headers.get('To') ?? '')}`;
    const call = this.dialogs.get(key);
    if (!call) {
      tx.respond(this.stack.createResponse(request, 481));
      return;
    }
    if (request.method === 'BYE') {
      tx.respond(this.stack.createResponse(request, 200));
      call.onBye();
      return;
    }
    if (request.method === 'INVITE' || request.method === 'UPDATE') {
      let body: Buffer | undefined = request.method === 'INVITE' ? TEST_SDP(this.extension) : undefined;
      if (this.media && request.body.length > 0) {
        // A re-offer (hold, resume): follow it, and answer with the mirrored direction.
        const remote = this.media.setRemote(request.body.toString());
        body = Buffer.from(
          this.media.sdp(this.extension, { direction: MIRRORED_DIRECTION[remote.direction] }),
        );
      }
      tx.respond(
        this.stack.createResponse(request, 200, 'OK', {
          headers: [['Contact', `<${this.contactUri}>`]],
          body,
        }),
      );
      return;
    }
    tx.respond(this.stack.createResponse(request, 200));
  }

  private baseRequest(
    method: string,
    uri: string,
    to: string,
    callId: string,
    fromTag: string,
    cseq: number,
  ): SipRequest {
    const headers = new SipHeaders();
    headers.append('From', `<sip:${this.extension}@${this.opts.domain}>;tag=${fromTag}`);
    headers.append('To', to);
    headers.append('Call-ID', callId);
    headers.append('CSeq', `${cseq} ${method}`);
    headers.append('Contact', `<${this.contactUri}>`);
    headers.append('User-Agent', 'switchboard-test-ua');
    return { kind: 'request', method, uri, version: 'SIP/2.0', headers, body: EMPTY_BODY };
  }

  /** Send a request, answering one digest challenge. */
  private requestWithAuth(
    build: (cseq: number) => SipRequest,
    firstCseq: number,
    onProvisional?: (r: SipResponse) => void,
  ): Promise<{ response: SipResponse; request: SipRequest; tx: ReturnType<SipStack['sendRequest']> }> {
    return new Promise((resolve) => {
      const attempt = (cseq: number, authorization?: [string, string]): void => {
        const request = build(cseq);
        if (authorization) request.headers.append(authorization[0], authorization[1]);
        const tx = this.stack.sendRequest(request, this.serverFlow, {
          onResponse: (response) => {
            if (response.status < 200) {
              onProvisional?.(response);
              return;
            }
            if ((response.status === 401 || response.status === 407) && !authorization) {
              const header = response.status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate';
              const challenge = parseAuthParams(response.headers.get(header) ?? '');
              if (challenge) {
                attempt(cseq + 1, [
                  response.status === 401 ? 'Authorization' : 'Proxy-Authorization',
                  this.credentials(request, challenge.params),
                ]);
                return;
              }
            }
            resolve({ response, request, tx });
          },
          onFailure: () => resolve({ response: syntheticResponse(request, 408), request, tx }),
        });
        if (cseq === firstCseq || authorization) this.lastTx = tx;
      };
      attempt(firstCseq);
    });
  }

  lastTx?: ReturnType<SipStack['sendRequest']>;

  credentials(request: SipRequest, challenge: Map<string, string>, password = this.opts.password): string {
    const realm = challenge.get('realm') ?? '';
    const nonce = challenge.get('nonce') ?? '';
    const cnonce = newTag();
    const nc = '00000001';
    const response = digestResponse(digestHa1(this.extension, realm, password), request.method, {
      nonce,
      uri: request.uri,
      qop: 'auth',
      nc,
      cnonce,
    });
    return `Digest username="${this.extension}", realm="${realm}", nonce="${nonce}", uri="${request.uri}", response="${response}", algorithm=MD5, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
  }

  async register(expires = 600): Promise<SipResponse> {
    const uri = `sip:${this.opts.domain}`;
    const to = `<sip:${this.extension}@${this.opts.domain}>`;
    const { response } = await this.requestWithAuth(
      (cseq) => {
        const request = this.baseRequest('REGISTER', uri, to, this.registerCallId, this.fromTag, cseq);
        if (this.opts.registerContactParams)
          request.headers.set('Contact', `<${this.contactUri}>${this.opts.registerContactParams}`);
        request.headers.append('Expires', String(expires));
        return request;
      },
      ++this.registerCseq,
    );
    this.registerCseq += 1;
    return response;
  }

  unregister(): Promise<SipResponse> {
    return this.register(0);
  }

  /**
   * Place a call to `target` (an extension or number). `callId` chooses the Call-ID (a proxy that
   * hashes it picks the node: tests aim a call at one).
   */
  call(
    target: string,
    extraHeaders: [string, string][] = [],
    sdp?: Buffer,
    opts: { callId?: string } = {},
  ): OutgoingCall {
    const callId = opts.callId ?? newSipCallId('test-ua');
    const fromTag = newTag();
    const uri = `sip:${target}@${this.opts.domain}`;
    const build = (cseq: number): SipRequest => {
      const request = this.baseRequest('INVITE', uri, `<${uri}>`, callId, fromTag, cseq);
      for (const [name, value] of extraHeaders) request.headers.append(name, value);
      request.headers.append('Content-Type', 'application/sdp');
      request.body =
        sdp ?? (this.media ? Buffer.from(this.media.sdp(this.extension)) : TEST_SDP(this.extension));
      return request;
    };
    const outgoing = new OutgoingCall(this, build(1));
    void this.requestWithAuth(
      (cseq) => {
        const request = build(cseq);
        // The dialog is built from the INVITE that got the answer: keep it current.
        Object.assign(outgoing, { invite: request });
        return request;
      },
      1,
      (provisional) => {
        outgoing.transaction = this.lastTx;
        outgoing.onResponse(provisional);
      },
    ).then(({ response }) => outgoing.onResponse(response));
    return outgoing;
  }

  sendInDialog(
    dialog: Dialog,
    method: string,
    body?: Buffer,
    headers: Iterable<readonly [string, string]> = [],
  ): Promise<SipResponse> {
    return new Promise((resolve) => {
      const request = dialog.createRequest(method, { body, headers });
      this.stack.sendRequest(request, this.serverFlow, {
        onResponse: (response) => {
          if (response.status >= 200) resolve(response);
        },
        onFailure: () => resolve(syntheticResponse(request, 408)),
      });
    });
  }

  async close(): Promise<void> {
    await this.stack.close();
  }
}

function syntheticResponse(request: SipRequest, status: number): SipResponse {
  return {
    kind: 'response',
    status,
    reason: 'Local',
    version: 'SIP/2.0',
    headers: request.headers.clone(),
    body: EMPTY_BODY,
  };
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
