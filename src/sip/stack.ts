/**
 * The SIP stack core: glues transports, the parser and the transaction layer together and hands
 * the transaction user (registrar, call control) requests, ACKs and responses with the flow they
 * belong to. It knows nothing about users, queues or records.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { formatVia, parseCSeq, parseVia } from './headers.js';
import { EMPTY_BODY, SipHeaders, type SipRequest, type SipResponse } from './message.js';
import { SipMetrics } from './metrics.js';
import { type ParseResult, parseMessage } from './parser.js';
import { serializeMessage } from './serializer.js';
import {
  type ClientTransaction,
  type ClientTransactionHandlers,
  DEFAULT_TIMERS,
  InviteClientTransaction,
  InviteServerTransaction,
  NonInviteClientTransaction,
  NonInviteServerTransaction,
  type ServerTransaction,
  type TimerConfig,
  type TransactionHost,
} from './transaction/index.js';
import {
  type Flow,
  flowKey,
  type InboundData,
  type Transport,
  type TransportProtocol,
} from './transport/types.js';

export const BRANCH_MAGIC = 'z9hG4bK';
export const SERVER_NAME = 'Switchboard/0.1';

export interface SipStackOptions {
  transports: Transport[];
  timers?: Partial<TimerConfig>;
  logger?: Logger;
  metrics?: SipMetrics;
  /** Parser limits applied to every inbound message. */
  maxHeaders?: number;
  maxHeaderBytes?: number;
  /**
   * RFC 3261 §18.1.1: send requests larger than 1300 bytes to a UDP destination over TCP instead
   * (the top Via says TCP). Off by default, as in Asterisk (`disable_tcp_switch`): many UDP-only
   * phones do not listen on TCP, and a request they never receive is worse than a large datagram.
   */
  largeRequestsOverTcp?: boolean;
}

/** RFC 3261 §18.1.1: above this size a request to a UDP destination should travel over TCP. */
export const UDP_MTU_SAFE_BYTES = 1300;

export interface ResponseOptions {
  /** To tag for a request whose To has none (the dialog's local tag); a fresh one when absent. */
  toTag?: string;
  headers?: Iterable<readonly [string, string]>;
  body?: Buffer;
  contentType?: string;
}

export type RequestHandler = (request: SipRequest, transaction: ServerTransaction) => void;

export class SipStack implements TransactionHost {
  readonly timers: TimerConfig;
  readonly metrics: SipMetrics;
  readonly logger: Logger;
  private readonly transports = new Map<TransportProtocol, Transport>();
  private readonly serverTransactions = new Map<string, ServerTransaction>();
  private readonly clientTransactions = new Map<string, ClientTransaction>();
  private readonly pendingCancels = new Map<InviteClientTransaction, string | undefined>();
  private readonly parseOptions: { maxHeaders?: number; maxHeaderBytes?: number };
  private readonly largeRequestsOverTcp: boolean;

  /** New requests (not retransmissions, not ACK; CANCELs that match an INVITE are handled here). */
  onRequest?: RequestHandler;
  /** ACKs that belong to no server transaction: the ACK of a 2xx, for the dialog layer. */
  onAck?: (ack: SipRequest, flow: Flow) => void;
  /** Responses that match no client transaction (e.g. a 2xx retransmitted after the transaction ended). */
  onStrayResponse?: (response: SipResponse, flow: Flow) => void;
  /** A connection-oriented flow went away. */
  onFlowClosed?: (flow: Flow) => void;

  constructor(opts: SipStackOptions) {
    this.timers = { ...DEFAULT_TIMERS, ...opts.timers };
    this.metrics = opts.metrics ?? new SipMetrics();
    this.logger = opts.logger ?? silentLogger;
    this.parseOptions = { maxHeaders: opts.maxHeaders, maxHeaderBytes: opts.maxHeaderBytes };
    this.largeRequestsOverTcp = opts.largeRequestsOverTcp ?? false;
    for (const transport of opts.transports) this.addTransport(transport);
  }

  addTransport(transport: Transport): void {
    this.transports.set(transport.protocol, transport);
    transport.onData = (inbound) => this.receive(inbound);
    transport.onFlowClosed = (flow) => this.onFlowClosed?.(flow);
    transport.onSendFailed = (flow) => this.failTransactionsOn(flow);
  }

  /** A connection the transport was opening for `flow` failed: its client transactions fail now. */
  private failTransactionsOn(flow: Flow): void {
    const key = flowKey(flow);
    for (const transaction of [...this.clientTransactions.values()])
      if (flowKey(transaction.flow) === key) transaction.transportFailed();
  }

  transport(protocol: TransportProtocol): Transport | undefined {
    return this.transports.get(protocol);
  }

  // ---- TransactionHost -------------------------------------------------------------------------

  sendRaw(data: Buffer, flow: Flow): boolean {
    const transport = this.transports.get(flow.protocol);
    if (!transport) return false;
    const sent = transport.send(data, flow);
    if (sent) this.metrics.inc('messagesSent');
    return sent;
  }

  countRetransmission(): void {
    this.metrics.inc('retransmissionsSent');
  }

  countTimeout(): void {
    this.metrics.inc('transactionTimeouts');
  }

  removeServerTransaction(key: string): void {
    this.serverTransactions.delete(key);
  }

  removeClientTransaction(key: string): void {
    const transaction = this.clientTransactions.get(key);
    // An INVITE that ended (Timer B, transport error) before any provisional: its deferred CANCEL goes too.
    if (transaction?.isInvite) this.pendingCancels.delete(transaction);
    this.clientTransactions.delete(key);
  }

  // ---- inbound ---------------------------------------------------------------------------------

  /** Entry point for every inbound chunk. Never throws: bad input is answered or dropped, and counted. */
  receive(inbound: InboundData): void {
    this.metrics.inc('messagesReceived');
    if (inbound.framingError) {
      this.answerUnframeable(inbound, inbound.framingError);
      return;
    }
    let result: ParseResult;
    try {
      result = parseMessage(inbound.data, this.parseOptions);
    } catch (err) {
      this.metrics.inc('parseErrors');
      this.logger.error({ err, flow: inbound.flow }, 'sip: parser threw (bug); message dropped');
      return;
    }
    if (!result.ok) {
      this.handleParseError(result.error, inbound);
      return;
    }
    try {
      const message = result.message;
      if (inbound.oversize) {
        this.answerTooLarge(message, inbound.flow);
        return;
      }
      if (message.kind === 'request') this.receiveRequest(message, inbound.flow, inbound);
      else this.receiveResponse(message, inbound.flow);
    } catch (err) {
      this.metrics.inc('droppedMessages');
      this.logger.error({ err, flow: inbound.flow }, 'sip: failed to process message');
    }
  }

  private handleParseError(error: Extract<ParseResult, { ok: false }>['error'], inbound: InboundData): void {
    if (error.code === 'KeepAlive') {
      this.metrics.inc('keepAlives');
      return;
    }
    this.metrics.inc('parseErrors');
    const sample = inbound.data
      .subarray(0, 120)
      .toString('latin1')
      .replace(/[^\x20-\x7e]/g, '.');
    const partial = error.request;
    if (!partial || partial.method === 'ACK' || !partial.headers.get('Via')) {
      this.metrics.inc('droppedMessages');
      this.logger.warn(
        { flow: inbound.flow, code: error.code, reason: error.reason, sample },
        'sip: unparseable message dropped',
      );
      return;
    }
    const status =
      error.code === 'VersionNotSupported' ? 505 : error.code === 'UnsupportedUriScheme' ? 416 : 400;
    const headers = new SipHeaders();
    for (const name of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) {
      for (const value of partial.headers.getLines(name)) headers.append(name, value);
    }
    const response: SipResponse = {
      kind: 'response',
      status,
      reason: sanitizeReason(error.reason),
      version: 'SIP/2.0',
      headers,
      body: EMPTY_BODY,
    };
    this.addServerHeader(response);
    this.stampVia(response.headers, inbound.flow);
    this.metrics.inc('badRequestsAnswered');
    this.logger.warn(
      { flow: inbound.flow, code: error.code, reason: error.reason, status, sample },
      'sip: bad request answered',
    );
    this.sendRaw(serializeMessage(response), this.responseFlow(response.headers, inbound.flow));
  }

  /** A datagram over the transport's limit: a request gets 513 (RFC 3261 §21.5.14), the rest is dropped. */
  private answerTooLarge(message: SipRequest | SipResponse, flow: Flow): void {
    this.metrics.inc('messagesTooLarge');
    if (message.kind !== 'request' || message.method === 'ACK') {
      this.metrics.inc('droppedMessages');
      return;
    }
    this.stampVia(message.headers, flow);
    const response = this.createResponse(message, 513, 'Message Too Large');
    this.logger.warn({ flow, method: message.method }, 'sip: request too large for UDP answered 513');
    this.sendRaw(serializeMessage(response), this.responseFlow(response.headers, flow));
  }

  /**
   * The head of a message a stream could not frame (RFC 3261 §18.3): a request is answered 513 when
   * it is too large, else 400 naming the Content-Length problem — the connection closes after it.
   */
  private answerUnframeable(inbound: InboundData, error: { code: string; reason: string }): void {
    this.metrics.inc('parseErrors');
    const status = error.code === 'MessageTooLarge' ? 513 : 400;
    const parsed = parseMessage(inbound.data, this.parseOptions);
    const request = parsed.ok
      ? parsed.message.kind === 'request'
        ? { method: parsed.message.method, headers: parsed.message.headers }
        : undefined
      : parsed.error.request;
    if (!request || request.method === 'ACK' || !request.headers.get('Via')) {
      this.metrics.inc('droppedMessages');
      return;
    }
    const headers = new SipHeaders();
    for (const name of ['Via', 'From', 'To', 'Call-ID', 'CSeq'])
      for (const value of request.headers.getLines(name)) headers.append(name, value);
    const response: SipResponse = {
      kind: 'response',
      status,
      reason: status === 513 ? 'Message Too Large' : sanitizeReason(error.reason),
      version: 'SIP/2.0',
      headers,
      body: EMPTY_BODY,
    };
    this.addServerHeader(response);
    this.metrics.inc('badRequestsAnswered');
    this.logger.warn({ flow: inbound.flow, code: error.code, status }, 'sip: unframeable request answered');
    this.sendRaw(serializeMessage(response), inbound.flow);
  }

  private receiveRequest(request: SipRequest, flow: Flow, inbound?: InboundData): void {
    this.stampVia(request.headers, flow);
    if (inbound?.registerAlias) this.registerAlias(request, flow, inbound.registerAlias);
    const key = serverTransactionKey(request);
    if (!key) {
      this.logger.warn({ flow }, 'sip: request without usable Via dropped');
      this.metrics.inc('droppedMessages');
      return;
    }
    if (request.method === 'ACK') {
      const inviteTx = this.serverTransactions.get(key);
      if (inviteTx?.isInvite && inviteTx.state === 'completed') {
        inviteTx.onAck();
        return;
      }
      if (inviteTx?.state === 'confirmed') return; // retransmitted ACK
      this.onAck?.(request, flow);
      return;
    }
    const existing = this.serverTransactions.get(key);
    if (existing) {
      existing.onRetransmission();
      return;
    }
    const responseFlow = this.responseFlow(request.headers, flow);
    const transaction =
      request.method === 'INVITE'
        ? new InviteServerTransaction(this, key, request, responseFlow)
        : new NonInviteServerTransaction(this, key, request, responseFlow);
    this.serverTransactions.set(key, transaction);
    if (!transaction.isInvite && request.method === 'CANCEL') {
      this.handleCancel(request, transaction);
      return;
    }
    if (request.method === 'INVITE') {
      // Quench INVITE retransmissions at once; the TU's own provisional responses follow.
      transaction.respond(this.createResponse(request, 100, 'Trying'));
      if (transaction.state === 'terminated') {
        // Nowhere to answer (e.g. a Via naming port 0 without rport): the TU could not respond either.
        this.metrics.inc('droppedMessages');
        this.logger.warn({ flow }, 'sip: INVITE dropped: its responses cannot be sent');
        return;
      }
    }
    if (!this.onRequest) {
      transaction.respond(this.createResponse(request, 503, 'Service Unavailable'));
      return;
    }
    this.onRequest(request, transaction);
  }

  private handleCancel(cancel: SipRequest, transaction: NonInviteServerTransaction): void {
    const inviteKey = serverTransactionKey(cancel, 'INVITE');
    const invite = inviteKey ? this.serverTransactions.get(inviteKey) : undefined;
    if (!invite?.isInvite) {
      transaction.respond(this.createResponse(cancel, 481, 'Call/Transaction Does Not Exist'));
      return;
    }
    transaction.respond(this.createResponse(cancel, 200, 'OK'));
    if (invite.isFinal || invite.cancelled) return; // too late: the INVITE already has its answer
    invite.cancelled = true;
    if (invite.onCancel) invite.onCancel(cancel);
    else
      invite.respond(
        this.createResponse(invite.request, 487, 'Request Terminated', { toTag: invite.localTag }),
      );
  }

  private receiveResponse(response: SipResponse, flow: Flow): void {
    const topVia = response.headers.getAll('Via')[0];
    const via = topVia ? parseVia(topVia) : undefined;
    const cseq = parseCSeq(response.headers.get('CSeq') ?? '');
    if (!via?.branch || !cseq) {
      this.metrics.inc('strayResponses');
      return;
    }
    const transaction = this.clientTransactions.get(clientTransactionKey(via.branch, cseq.method));
    if (!transaction) {
      this.metrics.inc('strayResponses');
      this.onStrayResponse?.(response, flow);
      return;
    }
    transaction.receive(response);
    if (!transaction.isInvite) return;
    if (response.status >= 100 && response.status < 200) {
      const pendingReason = this.pendingCancels.get(transaction);
      if (this.pendingCancels.has(transaction)) {
        this.pendingCancels.delete(transaction);
        this.sendCancel(transaction, pendingReason);
      }
    } else if (response.status >= 200) {
      this.pendingCancels.delete(transaction);
    }
  }

  /**
   * RFC 5923: a Via with `alias` lets requests to its sent-by reuse the connection it came over.
   * Only for the connection's own IP address: RFC 5923 trusts an alias to another host only over
   * TLS with a verified certificate, which SIP clients rarely have; otherwise a peer could claim
   * another host's address and receive its requests.
   */
  private registerAlias(
    request: SipRequest,
    flow: Flow,
    register: (host: string, port: number) => void,
  ): void {
    const top = request.headers.getAll('Via')[0];
    const via = top ? parseVia(top) : undefined;
    if (!via?.params.has('alias')) return;
    const host = via.host.startsWith('[') ? via.host.slice(1, -1) : via.host;
    if (host.toLowerCase().replace(/^::ffff:/, '') !== flow.address.toLowerCase()) return;
    const defaultPort = via.transport.toUpperCase() === 'TLS' ? 5061 : 5060;
    register(host, via.port ?? defaultPort);
  }

  /**
   * Add `received` (source differs from sent-by) and fill an empty `rport` (RFC 3581) on the top Via.
   */
  private stampVia(headers: SipHeaders, flow: Flow): void {
    const top = headers.getAll('Via')[0];
    if (!top) return;
    const via = parseVia(top);
    if (!via) return;
    let changed = false;
    const rportRequested = via.params.has('rport') && !via.params.get('rport');
    const sentByHost = via.host.startsWith('[') ? via.host.slice(1, -1) : via.host;
    // RFC 3581 §4: with rport, received is added even when the address equals sent-by.
    if (
      (sentByHost.toLowerCase() !== flow.address.toLowerCase() || rportRequested) &&
      !via.params.has('received')
    ) {
      via.params.set('received', flow.address);
      changed = true;
    }
    if (rportRequested) {
      via.params.set('rport', String(flow.port));
      changed = true;
    }
    if (!changed) return;
    headers.shift('Via');
    headers.prepend('Via', formatVia(via));
  }

  /** RFC 3261 §18.2.2 with RFC 3581: where responses to a request that arrived on `flow` go. */
  private responseFlow(headers: SipHeaders, flow: Flow): Flow {
    if (flow.protocol !== 'udp') return flow;
    const top = headers.getAll('Via')[0];
    const via = top ? parseVia(top) : undefined;
    if (!via || via.params.has('rport') || via.params.has('maddr')) return flow;
    return { protocol: 'udp', address: flow.address, port: via.port ?? 5060 };
  }

  // ---- outbound --------------------------------------------------------------------------------

  /** The Via value for a request we originate over `flow`'s transport. */
  viaFor(flow: Flow, branch = newBranch()): string {
    const transport = this.transports.get(flow.protocol);
    const sentBy = transport?.sentBy ?? { host: '127.0.0.1', port: 5060 };
    const hostPart = sentBy.host.includes(':') ? `[${sentBy.host}]` : sentBy.host;
    // RFC 5923: over our own connections the peer may send its requests back the same way.
    const alias = flow.protocol === 'tcp' || flow.protocol === 'tls' ? ';alias' : '';
    return `SIP/2.0/${transport?.viaTransport ?? 'UDP'} ${hostPart}:${sentBy.port};branch=${branch};rport${alias}`;
  }

  /** A Contact URI (without brackets) at which peers on `flow` reach us. */
  contactUri(flow: Flow, user = 'switchboard'): string {
    const transport = this.transports.get(flow.protocol);
    const sentBy = transport?.sentBy ?? { host: '127.0.0.1', port: 5060 };
    const hostPart = sentBy.host.includes(':') ? `[${sentBy.host}]` : sentBy.host;
    const token = transport?.viaTransport ?? 'UDP';
    const param = token === 'UDP' ? '' : `;transport=${token.toLowerCase()}`;
    return `sip:${user}@${hostPart}:${sentBy.port}${param}`;
  }

  /**
   * Send a request statefully. A top Via with a fresh branch is added; Max-Forwards defaults to 70.
   */
  sendRequest(request: SipRequest, target: Flow, handlers: ClientTransactionHandlers): ClientTransaction {
    const flow = this.largeRequestFlow(request, target);
    const branch = newBranch();
    request.headers.prepend('Via', this.viaFor(flow, branch));
    if (!request.headers.has('Max-Forwards')) request.headers.append('Max-Forwards', '70');
    const key = clientTransactionKey(branch, request.method);
    const transaction =
      request.method === 'INVITE'
        ? new InviteClientTransaction(this, key, request, flow, handlers)
        : new NonInviteClientTransaction(this, key, request, flow, handlers);
    this.clientTransactions.set(transaction.key, transaction);
    transaction.start();
    return transaction;
  }

  /** RFC 3261 §18.1.1, when switched on: a large request to a UDP destination goes over TCP. */
  private largeRequestFlow(request: SipRequest, flow: Flow): Flow {
    if (!this.largeRequestsOverTcp || flow.protocol !== 'udp' || !this.transports.has('tcp')) return flow;
    // Headers are a few hundred bytes; only a request with a sizeable body can cross the limit.
    if (request.body.length < UDP_MTU_SAFE_BYTES / 2) return flow;
    const size = serializeMessage(request).length + 120; // + the Via and Max-Forwards still to come
    if (size <= UDP_MTU_SAFE_BYTES) return flow;
    return { protocol: 'tcp', address: flow.address, port: flow.port };
  }

  /** Send the ACK for a 2xx (its own transaction-less request, RFC 3261 §13.2.2.4). */
  sendAck(ack: SipRequest, flow: Flow): void {
    if (!ack.headers.has('Via')) ack.headers.prepend('Via', this.viaFor(flow));
    if (!ack.headers.has('Max-Forwards')) ack.headers.append('Max-Forwards', '70');
    this.sendRaw(serializeMessage(ack), flow);
  }

  /** Send a response outside any transaction (2xx retransmissions by the dialog layer). */
  sendStatelessResponse(response: SipResponse, flow: Flow): void {
    this.sendRaw(serializeMessage(response), flow);
  }

  /**
   * CANCEL a pending INVITE client transaction (RFC 3261 §9.1). Deferred until a provisional
   * response arrives; nothing is sent once a final response has been received.
   */
  cancel(transaction: ClientTransaction, reason?: string): void {
    if (!transaction.isInvite || transaction.lastStatus >= 200 || transaction.state === 'terminated') return;
    if (!transaction.hasProvisional) {
      this.pendingCancels.set(transaction, reason);
      return;
    }
    this.sendCancel(transaction, reason);
  }

  private sendCancel(invite: InviteClientTransaction, reason?: string): void {
    const original = invite.request;
    const headers = new SipHeaders();
    const topVia = original.headers.getAll('Via')[0];
    if (topVia) headers.append('Via', topVia);
    for (const name of ['Route', 'From', 'To', 'Call-ID']) {
      for (const value of original.headers.getLines(name)) headers.append(name, value);
    }
    const cseq = parseCSeq(original.headers.get('CSeq') ?? '');
    headers.append('CSeq', `${cseq?.seq ?? 1} CANCEL`);
    headers.append('Max-Forwards', '70');
    if (reason) headers.append('Reason', reason);
    const cancel: SipRequest = {
      kind: 'request',
      method: 'CANCEL',
      uri: original.uri,
      version: 'SIP/2.0',
      headers,
      body: EMPTY_BODY,
    };
    // Same branch as the INVITE: build the transaction by hand instead of sendRequest (which mints one).
    const branch = topVia ? parseVia(topVia)?.branch : undefined;
    if (!branch) return;
    const transaction = new NonInviteClientTransaction(
      this,
      clientTransactionKey(branch, 'CANCEL'),
      cancel,
      invite.flow,
      IGNORE_RESPONSES,
    );
    this.clientTransactions.set(transaction.key, transaction);
    transaction.start();
    invite.cancelSent();
  }

  /** Build a response to `request` (RFC 3261 §8.2.6): Via, From, To (+tag), Call-ID, CSeq copied. */
  createResponse(
    request: SipRequest,
    status: number,
    reason?: string,
    opts: ResponseOptions = {},
  ): SipResponse {
    const headers = new SipHeaders();
    for (const value of request.headers.getLines('Via')) headers.append('Via', value);
    const from = request.headers.get('From');
    if (from) headers.append('From', from);
    let to = request.headers.get('To') ?? '';
    // RFC 3261 §8.2.6.2: every response but 100 carries a To tag.
    if (status !== 100 && !/;\s*tag\s*=/i.test(to)) to = `${to};tag=${opts.toTag ?? newTag()}`;
    headers.append('To', to);
    headers.append('Call-ID', request.headers.get('Call-ID') ?? '');
    headers.append('CSeq', request.headers.get('CSeq') ?? '');
    if (request.headers.has('Timestamp') && status === 100)
      headers.append('Timestamp', request.headers.get('Timestamp')!);
    // RFC 3261 §12.1.1: a response that creates a dialog (18x/2xx to INVITE) echoes the Record-Route
    // set in order, or the proxies that asked to stay on the path are skipped by in-dialog requests.
    if (request.method === 'INVITE' && status > 100 && status < 300) {
      for (const value of request.headers.getLines('Record-Route')) headers.append('Record-Route', value);
    }
    if (opts.headers) for (const [name, value] of opts.headers) headers.append(name, value);
    const body = opts.body ?? EMPTY_BODY;
    if (body.length > 0) headers.set('Content-Type', opts.contentType ?? 'application/sdp');
    const response: SipResponse = {
      kind: 'response',
      status,
      reason: reason ?? defaultReason(status),
      version: 'SIP/2.0',
      headers,
      body,
    };
    if (status !== 100) this.addServerHeader(response);
    return response;
  }

  private addServerHeader(response: SipResponse): void {
    if (!response.headers.has('Server')) response.headers.append('Server', SERVER_NAME);
  }

  get pendingTransactionCount(): { server: number; client: number } {
    return { server: this.serverTransactions.size, client: this.clientTransactions.size };
  }

  async close(): Promise<void> {
    for (const tx of [...this.serverTransactions.values()]) tx.terminate();
    for (const tx of [...this.clientTransactions.values()]) tx.terminate();
    await Promise.all([...this.transports.values()].map((t) => t.close()));
  }
}

/** A CANCEL's own response tells the TU nothing: the INVITE's final response does. */
const IGNORE_RESPONSES: ClientTransactionHandlers = { onResponse: () => {} };

/** RFC 3261 §17.2.3 matching (RFC 2543 fallback when the branch lacks the magic cookie). */
export function serverTransactionKey(request: SipRequest, methodOverride?: string): string | undefined {
  const top = request.headers.getAll('Via')[0];
  const via = top ? parseVia(top) : undefined;
  if (!via) return undefined;
  const method = methodOverride ?? (request.method === 'ACK' ? 'INVITE' : request.method);
  const sentBy = `${via.host}:${via.port ?? ''}`;
  if (via.branch?.startsWith(BRANCH_MAGIC)) return `${via.branch}|${sentBy}|${method}`;
  const cseq = parseCSeq(request.headers.get('CSeq') ?? '');
  const fromTag = /;\s*tag\s*=\s*([^;\s]+)/i.exec(request.headers.get('From') ?? '')?.[1] ?? '';
  return `2543|${request.headers.get('Call-ID')}|${cseq?.seq}|${fromTag}|${sentBy}|${via.branch ?? ''}|${method}`;
}

export function clientTransactionKey(branch: string, method: string): string {
  return `${branch}|${method === 'ACK' ? 'INVITE' : method}`;
}

// Branches and tags need to be unique, not secret, and are minted several times per call:
// randomUUID draws from a buffered entropy pool, where randomBytes asks the OS every time.
export function newBranch(): string {
  return `${BRANCH_MAGIC}${randomUUID().replaceAll('-', '').slice(0, 20)}`;
}

export function newTag(): string {
  return randomUUID().replaceAll('-', '').slice(0, 12);
}

export function newSipCallId(host = 'switchboard'): string {
  return `${randomUUID()}@${host}`;
}

function sanitizeReason(reason: string): string {
  // A reason phrase is one line of printable text; never echo control characters back.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  const clean = reason.replace(/[\r\n\t\x00-\x1f\x7f]/g, ' ').trim();
  return (clean || 'Bad Request').slice(0, 120);
}

const REASONS: Record<number, string> = {
  100: 'Trying',
  180: 'Ringing',
  181: 'Call Is Being Forwarded',
  182: 'Queued',
  183: 'Session Progress',
  200: 'OK',
  202: 'Accepted',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  420: 'Bad Extension',
  423: 'Interval Too Brief',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  483: 'Too Many Hops',
  484: 'Address Incomplete',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  491: 'Request Pending',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  505: 'Version Not Supported',
  513: 'Message Too Large',
  600: 'Busy Everywhere',
  603: 'Decline',
  604: 'Does Not Exist Anywhere',
};

export function defaultReason(status: number): string {
  return REASONS[status] ?? (status < 200 ? 'Progress' : status < 300 ? 'OK' : 'Error');
}
