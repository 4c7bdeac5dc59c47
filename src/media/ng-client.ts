/**
 * A client of rtpengine's ng control protocol over UDP (sipwise/rtpengine
 * docs/ng_control_protocol.md): each request is one datagram `<cookie> <bencoded dictionary>`
 * with a `command` key; the reply carries the same cookie and a dictionary with `result`
 * (`ok`, `pong` or `error` + `error-reason`, optionally `warning`).
 *
 * - Cookies are random (per client) plus a counter, so they are unique across clients and
 *   restarts; replies are matched by cookie, late or unknown ones are dropped.
 * - UDP loses datagrams: a request is sent again after each `retransmitMs` step (same cookie —
 *   rtpengine recognises the retransmission and replays its reply rather than running the
 *   command twice) and fails with MEDIA_ENGINE_TIMEOUT after `timeoutMs` overall.
 * - `result: error` rejects with MEDIA_ENGINE_ERROR carrying rtpengine's `error-reason`.
 *
 * Why not the npm package `rtpengine-client` (0.4.12): it ships no types, pulls in bencode@2,
 * uuid-random and ws@7, and would still need wrapping for our error values, retransmission and
 * timeouts; the protocol is small, so this module and ./bencode.ts keep it typed, tested and
 * byte-exact for SDP.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { type Logger, silentLogger } from '../logger.js';
import {
  type BencodeDict,
  type BencodeValue,
  bencodeBytes,
  bencodeText,
  decodeBencode,
  encodeBencode,
  isBencodeDict,
} from './bencode.js';
import { MediaError } from './errors.js';

export interface NgClientOptions {
  /** rtpengine's ng address (`--listen-ng`). */
  host: string;
  port: number;
  /** Overall time a command may take, retransmissions included (default 3000 ms). */
  timeoutMs?: number;
  /** Delays after which the request is sent again, each from the previous send (default [500, 1000]). */
  retransmitMs?: readonly number[];
  logger?: Logger;
}

export type NgTransportProtocol =
  | 'RTP/AVP'
  | 'RTP/AVPF'
  | 'RTP/SAVP'
  | 'RTP/SAVPF'
  | 'UDP/TLS/RTP/SAVP'
  | 'UDP/TLS/RTP/SAVPF';

/** Codec manipulations (ng `codec` dictionary). */
export interface NgCodecOptions {
  transcode?: string[];
  mask?: string[];
  strip?: string[];
  offer?: string[];
  except?: string[];
  accept?: string[];
  consume?: string[];
}

/** The keys of an offer or answer, in camelCase; `extra` is merged in last, verbatim (it wins). */
export interface NgSdpRequest {
  callId: string;
  fromTag: string;
  toTag?: string;
  viaBranch?: string;
  sdp: Buffer | string;
  transportProtocol?: NgTransportProtocol;
  ice?: 'remove' | 'force' | 'default' | 'optional' | 'force-relay';
  dtls?: 'off' | 'no' | 'passive' | 'active';
  sdes?: string[];
  rtcpMux?: Array<'offer' | 'require' | 'demux' | 'accept' | 'reject'>;
  /** ng `replace`: e.g. `origin`, `session-connection`. */
  replace?: string[];
  /** ng `flags`. */
  flags?: string[];
  codec?: NgCodecOptions;
  /** ng `record call`. */
  record?: boolean;
  extra?: BencodeDict;
}

export interface NgSdpReply {
  sdp: Buffer;
  warning: string | undefined;
  raw: BencodeDict;
}

export interface NgDeleteRequest {
  callId: string;
  fromTag?: string;
  toTag?: string;
  viaBranch?: string;
  /** Seconds to keep the call after delete (ng `delete delay`; 0 = now). */
  deleteDelay?: number;
  flags?: string[];
}

export class NgClient {
  readonly host: string;
  readonly port: number;
  private readonly timeoutMs: number;
  private readonly retransmitMs: readonly number[];
  private readonly logger: Logger;
  private readonly cookiePrefix = randomBytes(6).toString('hex');
  private counter = 0;
  private socket: Socket | undefined;
  private socketReady: Promise<Socket> | undefined;
  private closed = false;
  private readonly pending = new Map<
    string,
    { resolve: (reply: BencodeDict) => void; reject: (err: MediaError) => void; command: string }
  >();

  constructor(options: NgClientOptions) {
    this.host = options.host;
    this.port = options.port;
    this.timeoutMs = options.timeoutMs ?? 3000;
    this.retransmitMs = options.retransmitMs ?? [500, 1000];
    this.logger = options.logger ?? silentLogger;
  }

  get description(): string {
    return `rtpengine ${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  /**
   * Send any ng command; resolves with the reply dictionary when `result` is `ok` or `pong`.
   * Rejects with MEDIA_ENGINE_ERROR / MEDIA_ENGINE_TIMEOUT / MEDIA_BAD_REPLY / MEDIA_ENGINE_UNAVAILABLE.
   */
  async command(
    name: string,
    dict: BencodeDict = {},
    options: { timeoutMs?: number } = {},
  ): Promise<BencodeDict> {
    if (this.closed)
      throw new MediaError('MEDIA_ENGINE_UNAVAILABLE', 'the ng client is closed', { command: name });
    const socket = await this.openSocket();
    const cookie = `${this.cookiePrefix}_${(this.counter++).toString(36)}`;
    const payload = Buffer.concat([
      Buffer.from(`${cookie} `, 'latin1'),
      encodeBencode({ ...dict, command: name }),
    ]);
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;

    const reply = await new Promise<BencodeDict>((resolve, reject) => {
      const timers: NodeJS.Timeout[] = [];
      const finish = () => {
        for (const t of timers) clearTimeout(t);
        this.pending.delete(cookie);
      };
      this.pending.set(cookie, {
        command: name,
        resolve: (r) => {
          finish();
          resolve(r);
        },
        reject: (e) => {
          finish();
          reject(e);
        },
      });
      const send = () => {
        socket.send(payload, this.port, this.host, (err) => {
          if (err && this.pending.has(cookie)) {
            this.pending.get(cookie)!.reject(
              new MediaError('MEDIA_ENGINE_UNAVAILABLE', `${this.description}: ${name}: ${err.message}`, {
                command: name,
                cause: err,
              }),
            );
          }
        });
      };
      send();
      let at = 0;
      for (const step of this.retransmitMs) {
        at += step;
        if (at >= timeoutMs) break;
        timers.push(setTimeout(send, at));
      }
      timers.push(
        setTimeout(() => {
          this.pending
            .get(cookie)
            ?.reject(
              new MediaError(
                'MEDIA_ENGINE_TIMEOUT',
                `${this.description}: no reply to '${name}' within ${timeoutMs} ms`,
                { command: name },
              ),
            );
        }, timeoutMs),
      );
    });

    const result = bencodeText(reply.result);
    if (result === 'error') {
      const reason = bencodeText(reply['error-reason']) ?? '(no error-reason)';
      throw new MediaError('MEDIA_ENGINE_ERROR', `${this.description}: ${name}: ${reason}`, {
        reason,
        command: name,
      });
    }
    if (result !== 'ok' && result !== 'pong') {
      throw new MediaError('MEDIA_BAD_REPLY', `${this.description}: ${name}: unexpected result '${result}'`, {
        command: name,
      });
    }
    const warning = bencodeText(reply.warning);
    if (warning !== undefined) this.logger.debug({ command: name, warning }, 'rtpengine warning');
    return reply;
  }

  /** Resolves true on `pong`; rejects like `command` otherwise. */
  async ping(options: { timeoutMs?: number } = {}): Promise<true> {
    const reply = await this.command('ping', {}, options);
    if (bencodeText(reply.result) !== 'pong') {
      throw new MediaError('MEDIA_BAD_REPLY', `${this.description}: ping answered without pong`, {
        command: 'ping',
      });
    }
    return true;
  }

  offer(request: NgSdpRequest): Promise<NgSdpReply> {
    return this.sdpCommand('offer', request);
  }

  answer(request: NgSdpRequest & { toTag: string }): Promise<NgSdpReply> {
    return this.sdpCommand('answer', request);
  }

  delete(request: NgDeleteRequest): Promise<BencodeDict> {
    return this.command('delete', {
      'call-id': request.callId,
      'from-tag': request.fromTag,
      'to-tag': request.toTag,
      'via-branch': request.viaBranch,
      'delete delay': request.deleteDelay,
      flags: request.flags,
    });
  }

  query(request: { callId: string; fromTag?: string; toTag?: string }): Promise<BencodeDict> {
    return this.command('query', {
      'call-id': request.callId,
      'from-tag': request.fromTag,
      'to-tag': request.toTag,
    });
  }

  /** Rejects every pending command with MEDIA_ENGINE_UNAVAILABLE and closes the socket. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of [...this.pending.values()]) {
      p.reject(
        new MediaError('MEDIA_ENGINE_UNAVAILABLE', 'the ng client was closed', { command: p.command }),
      );
    }
    const socket = this.socket ?? (await this.socketReady?.catch(() => undefined));
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  private async sdpCommand(name: 'offer' | 'answer', r: NgSdpRequest): Promise<NgSdpReply> {
    const dict: BencodeDict = {
      'call-id': r.callId,
      'from-tag': r.fromTag,
      'to-tag': r.toTag,
      'via-branch': r.viaBranch,
      sdp: typeof r.sdp === 'string' ? Buffer.from(r.sdp, 'utf8') : r.sdp,
      'transport-protocol': r.transportProtocol,
      ICE: r.ice,
      DTLS: r.dtls,
      SDES: r.sdes,
      'rtcp-mux': r.rtcpMux,
      replace: r.replace,
      flags: r.flags,
      codec: r.codec === undefined ? undefined : ({ ...r.codec } as BencodeDict),
      'record call': r.record === undefined ? undefined : r.record ? 'yes' : 'no',
      ...r.extra,
    };
    const raw = await this.command(name, dict);
    const sdp = bencodeBytes(raw.sdp);
    if (sdp === undefined) {
      throw new MediaError('MEDIA_BAD_REPLY', `${this.description}: ${name}: reply without sdp`, {
        command: name,
      });
    }
    return { sdp, warning: bencodeText(raw.warning), raw };
  }

  private openSocket(): Promise<Socket> {
    if (this.socket) return Promise.resolve(this.socket);
    if (!this.socketReady) {
      const type = this.host.includes(':') ? 'udp6' : 'udp4';
      this.socketReady = new Promise<Socket>((resolve, reject) => {
        const socket = createSocket(type);
        const onError = (err: Error) => {
          this.socketReady = undefined;
          reject(new MediaError('MEDIA_ENGINE_UNAVAILABLE', `ng socket: ${err.message}`, { cause: err }));
        };
        socket.once('error', onError);
        socket.bind(0, () => {
          socket.off('error', onError);
          socket.on('error', (err) => this.logger.warn({ err }, 'rtpengine ng socket error'));
          socket.on('message', (msg) => this.onMessage(msg));
          // Never keep the process alive just for this socket; pending timers do while needed.
          socket.unref();
          if (this.closed) {
            socket.close();
            reject(new MediaError('MEDIA_ENGINE_UNAVAILABLE', 'the ng client was closed'));
            return;
          }
          this.socket = socket;
          resolve(socket);
        });
      });
    }
    return this.socketReady;
  }

  private onMessage(msg: Buffer): void {
    const space = msg.indexOf(0x20);
    if (space <= 0) {
      this.logger.debug({ bytes: msg.length }, 'rtpengine ng: datagram without cookie dropped');
      return;
    }
    const cookie = msg.toString('latin1', 0, space);
    const pending = this.pending.get(cookie);
    if (!pending) return; // a late reply to a retransmission, or not ours
    const decoded = decodeBencode(msg.subarray(space + 1));
    if (!decoded.ok || !isBencodeDict(decoded.value)) {
      const why = decoded.ok
        ? 'not a dictionary'
        : `${decoded.error.message} at byte ${decoded.error.offset}`;
      pending.reject(
        new MediaError('MEDIA_BAD_REPLY', `${this.description}: ${pending.command}: bad reply: ${why}`, {
          command: pending.command,
        }),
      );
      return;
    }
    pending.resolve(decoded.value);
  }
}

export type { BencodeDict, BencodeValue };
