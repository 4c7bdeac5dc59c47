/**
 * The Switchboard webphone SDK: a SIP user agent in the browser (JsSIP over WebSocket) with the
 * call identifiers of DESIGN.md §1 — each call's client `callId` (the SIP session id: INVITE
 * Call-ID + From tag, new for every allocation) next to the `serverSideCallId` (= the server's
 * CallId, from `X-Server-Call-Id`) and the `callLegId` (from `X-Call-Leg-Id`).
 *
 * This one file is the SDK's whole public surface (its declarations are generated from it), so the
 * public types live here rather than in a separate types module.
 */
import { UA, WebSocketInterface } from 'jssip';
import type {
  IncomingDTMFEvent,
  IncomingEvent,
  OutgoingDTMFEvent,
  OutgoingEvent,
  ReInviteEvent,
  RTCSession,
} from 'jssip/lib/RTCSession.js';
import type { IncomingRequest, IncomingResponse } from 'jssip/lib/SIPMessage.js';
import type { RTCSessionEvent } from 'jssip/lib/UA.js';
import type { URI } from 'jssip/lib/URI.js';

// ---- public types --------------------------------------------------------------------------------

export interface WebPhoneOptions {
  /**
   * The platform's SIP WebSocket (`ws://host:8080/sip`), or its HTTP base URL
   * (`http://host:8080/`), from which `ws://host:8080/sip` is derived.
   */
  server: string;
  /** SIP extension: also the digest user name. */
  extension: string;
  password: string;
  /** SIP domain of the user's address (sip:1001@domain). Default: the server's host name. */
  domain?: string;
  /** Shown to callees (From display name). */
  displayName?: string;
  /** STUN/TURN servers for media. Default none: host candidates only (same network). */
  iceServers?: RTCIceServer[];
  /** Play the remote party's audio through an <audio> element the SDK manages. Default true. */
  playRemoteAudio?: boolean;
  /**
   * Stop waiting for ICE candidates this long after the first one (ms, default 1500): JsSIP
   * otherwise waits for gathering to complete, which can take many seconds on some networks.
   */
  iceGatheringTimeoutMs?: number;
  /** Registration lifetime (s, default 600). */
  registerExpires?: number;
  /** register() gives up after this long without an answer, e.g. an unreachable server (ms, default 15000). */
  registerTimeoutMs?: number;
}

export type CallDirection = 'inbound' | 'outbound';

/**
 * `calling`: an outbound INVITE sent, no progress yet; `ringing`: an inbound call waiting for
 * answer; `progress`: an outbound call got a provisional response; `connected`; `ended`.
 */
export type CallState = 'calling' | 'ringing' | 'progress' | 'connected' | 'ended';

/** What a caller waiting in a queue hears: the queue's greeting, then its music on hold. */
export type QueueHearing = 'greeting' | 'music';

/**
 * An outbound call a Switchboard queue answered itself (queue audio): the platform answers the
 * caller at once (`X-Queue-State: waiting` on the 200 OK), plays the queue's greeting then its
 * music, and re-INVITEs the call to the agent who answers (`X-Queue-State: connected`).
 */
export interface QueueStatus {
  /** `waiting`: answered by the queue, no agent yet; `connected`: bridged to the agent who answered. */
  state: 'waiting' | 'connected';
  /** The queue (X-Queue-Id / X-Queue-Name of the queue's answer). */
  queueId: string | null;
  queueName: string | null;
  /**
   * While waiting: `greeting` for `greetingMs` after the queue answered, then `music` (position
   * announcements, if the queue makes them, interrupt the music); null once connected.
   */
  hearing: QueueHearing | null;
  /** How long the queue's greeting lasts (ms, X-Queue-Greeting-Ms; 0 = no greeting). */
  greetingMs: number;
  /** Epoch ms: when the queue answered the call. */
  answeredAt: number;
  /** Epoch ms: when the call was connected to the agent (the re-INVITE accepted), else null. */
  agentConnectedAt: number | null;
}

export interface RemoteParty {
  /** The remote SIP URI (sip:1001@switchboard.local). */
  uri: string;
  /** Its user part: an extension or number. */
  user: string;
  displayName: string | null;
}

/** A call as the SDK sees it. Every call event hands out a snapshot of this. */
export interface WebPhoneCall {
  /** Client call id: the SIP session id (INVITE Call-ID + From tag). New for every allocation. */
  callId: string;
  /** The server's CallId (X-Server-Call-Id); null for an outbound call until its first progress. */
  serverSideCallId: string | null;
  /** This device's leg of the call (X-Call-Leg-Id): an allocation, a callee leg, or the caller's leg. */
  callLegId: string | null;
  direction: CallDirection;
  remoteParty: RemoteParty;
  /** For service calls: the queue (X-Queue-Id / X-Queue-Name), else null. */
  queueId: string | null;
  queueName: string | null;
  state: CallState;
  /**
   * An outbound call answered by a queue (Switchboard queue audio): waiting there (and hearing its
   * greeting or music) or connected to the agent; null for every other call. Each change is a
   * `call-updated` event; the call's `state` is `connected` from the queue's answer on.
   */
  queue: QueueStatus | null;
  /** This phone put the call on hold. */
  held: boolean;
  /** The other side put the call on hold. */
  heldByRemote: boolean;
  muted: boolean;
  /** Epoch ms. */
  startedAt: number;
  connectedAt: number | null;
  endedAt: number | null;
}

export interface CallEndedEvent extends WebPhoneCall {
  /** JsSIP's cause: 'Terminated' (BYE), 'Canceled', 'Rejected', 'Busy', 'Unavailable', 'Not Found', … */
  cause: string;
  /** Who ended it: this phone ('local'), the other side ('remote'), or the SIP stack ('system'). */
  originator: 'local' | 'remote' | 'system';
  /** SIP status of the final response that ended an unanswered call, if there was one. */
  sipStatus: number | null;
  /** The text of a Reason header on the CANCEL or BYE (e.g. 'Timeout', 'OtherConnected'). */
  reason: string | null;
}

export interface CallDtmfEvent extends WebPhoneCall {
  tone: string;
}

export interface RegistrationEvent {
  extension: string;
}

export interface RegistrationFailedEvent extends RegistrationEvent {
  cause: string;
  sipStatus: number | null;
}

/** `blind`: `transfer(callId, target)`; `attended`: `attendedTransfer(callId, otherCallId)`. */
export type TransferKind = 'blind' | 'attended';

/**
 * A transfer's progress or outcome (`transfer-progress`, `transfer-completed`, `transfer-failed`).
 * `status` / `reason` are the status line the platform reported: the `message/sipfrag` of a NOTIFY
 * (`100 Trying`, `180 Ringing`, `200 OK`, `486 Busy Here`, …) or the final response to a REFER it
 * refused (`403`, `404`, `491`, …); a REFER that got no answer has `status` null and JsSIP's cause
 * (`Request Timeout`, `Connection Error`, …) as `reason`.
 */
export interface TransferEvent {
  /** The call being transferred: the one whose dialog carried the REFER. */
  callId: string;
  status: number | null;
  reason: string | null;
  kind: TransferKind;
  /** The Refer-To URI (without the Replaces of an attended transfer). */
  target: string;
  /** The consultation call of an attended transfer (its party takes the call), else null. */
  otherCallId: string | null;
}

export type WebPhoneErrorCode =
  /** The options given to the constructor or a method are not usable. */
  | 'BAD_OPTIONS'
  /** register() has not been called, or the phone was stopped. */
  | 'NOT_STARTED'
  /** No call with this callId (never existed, or ended). */
  | 'UNKNOWN_CALL'
  /** The call is not in a state that allows this (answering an outbound call, holding a ringing one). */
  | 'INVALID_STATE'
  | 'REGISTRATION_FAILED'
  /** Microphone access or the peer connection failed. */
  | 'MEDIA_FAILED';

export interface WebPhoneErrorEvent {
  code: WebPhoneErrorCode;
  message: string;
  callId: string | null;
}

export interface WebPhoneEventMap {
  registered: RegistrationEvent;
  unregistered: RegistrationEvent;
  'registration-failed': RegistrationFailedEvent;
  'call-incoming': WebPhoneCall;
  /** An outbound call's provisional response: the moment its serverSideCallId becomes known. */
  'call-in-progress': WebPhoneCall;
  'call-connected': WebPhoneCall;
  'call-ended': CallEndedEvent;
  /**
   * Hold / mute / identifiers changed, or the `queue` status of an outbound call answered by a
   * queue (waiting → hearing music → connected to the agent). Not one of the contract's events;
   * handy for UIs.
   */
  'call-updated': WebPhoneCall;
  /** The other side sent a DTMF tone (SIP INFO) — not one of the contract's events. */
  'call-dtmf': CallDtmfEvent;
  /** A provisional NOTIFY of a transfer this phone asked for: `100 Trying`, `180 Ringing`, … */
  'transfer-progress': TransferEvent;
  /**
   * The platform reported the transfer done (NOTIFY `200 OK`): the call is the target's now, and
   * the platform ends this phone's part of it (`call-ended` follows; for an attended transfer,
   * of both calls).
   */
  'transfer-completed': TransferEvent;
  /** The REFER was refused, or the target did not take the call: the call stays with this phone. */
  'transfer-failed': TransferEvent;
  error: WebPhoneErrorEvent;
}

export type WebPhoneEvent = keyof WebPhoneEventMap;

export interface MakeCallOptions {
  /** Place an outbound service call on behalf of this queue (id, name or number). */
  onBehalfOfQueue?: string;
  /** Place an outbound callback call handling this callback request. */
  callbackRequestId?: string;
}

export class WebPhoneError extends Error {
  readonly code: WebPhoneErrorCode;
  readonly callId: string | null;

  constructor(code: WebPhoneErrorCode, message: string, callId: string | null = null) {
    super(message);
    this.name = 'WebPhoneError';
    this.code = code;
    this.callId = callId;
  }
}

// ---- internals -----------------------------------------------------------------------------------

interface TrackedCall {
  session: RTCSession;
  info: WebPhoneCall;
  audio?: HTMLAudioElement;
  iceTimer?: ReturnType<typeof setTimeout>;
  /** The hold state asked for and not yet applied (a re-INVITE was in progress). */
  wantedHold?: boolean;
  holdTimer?: ReturnType<typeof setTimeout>;
  holdAttempts: number;
  /** Turns `queue.hearing` from the greeting to the music once the greeting has played. */
  greetingTimer?: ReturnType<typeof setTimeout>;
  /** Peer connection failures so far (SDP offers and answers): a re-INVITE's outcome. */
  mediaFailures: number;
  /** The transfer of this call this phone asked for, until its outcome. */
  transfer?: PendingTransfer;
}

interface PendingTransfer {
  kind: TransferKind;
  target: string;
  otherCallId: string | null;
}

/** What JsSIP's refer subscriber hands its event handlers (jssip/lib/RTCSession/ReferSubscriber.js). */
interface ReferNotified {
  status_line?: { status_code?: number | string; reason_phrase?: string };
}
interface ReferRequestFailed {
  response?: IncomingResponse | null;
  cause?: string;
}

/** How long a hold / unhold may wait for a re-INVITE in progress: 100 × 50 ms. */
const HOLD_RETRY_MS = 50;
const HOLD_MAX_ATTEMPTS = 100;

type Handler<E extends WebPhoneEvent> = (event: WebPhoneEventMap[E]) => void;

const DEFAULT_ICE_GATHERING_TIMEOUT_MS = 1500;

/** ws(s)://… as given; http(s)://host/… → ws(s)://host/sip. */
export function sipWebSocketUrl(server: string): string {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new WebPhoneError(
      'BAD_OPTIONS',
      `server must be a ws://, wss://, http:// or https:// URL, got "${server}"`,
    );
  }
  if (url.protocol === 'ws:' || url.protocol === 'wss:') return url.toString();
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.pathname = `${url.pathname.replace(/\/+$/, '')}/sip`;
    url.search = '';
    url.hash = '';
    return url.toString();
  }
  throw new WebPhoneError(
    'BAD_OPTIONS',
    `server must be a ws://, wss://, http:// or https:// URL, got "${server}"`,
  );
}

/** `text="…"` of a Reason header (`SIP;cause=487;text="Timeout"`), or null. */
function reasonText(header: string | undefined): string | null {
  if (!header) return null;
  const match = /text\s*=\s*"([^"]*)"/i.exec(header);
  return match ? (match[1] ?? null) : null;
}

function headerOf(
  message: IncomingRequest | IncomingResponse | null | undefined,
  name: string,
): string | null {
  if (!message || typeof message.getHeader !== 'function') return null;
  const value = message.getHeader(name);
  return value ? value.trim() : null;
}

// ---- the phone -----------------------------------------------------------------------------------

export class WebPhone {
  private readonly options: Required<Omit<WebPhoneOptions, 'displayName'>> & { displayName: string | null };
  private readonly wsUrl: string;
  private ua: UA | null = null;
  private readonly tracked = new Map<string, TrackedCall>();
  private readonly handlers = new Map<WebPhoneEvent, Set<(event: never) => void>>();

  constructor(options: WebPhoneOptions) {
    if (!options || typeof options !== 'object')
      throw new WebPhoneError('BAD_OPTIONS', 'options are required');
    for (const field of ['server', 'extension', 'password'] as const) {
      if (typeof options[field] !== 'string' || options[field] === '') {
        throw new WebPhoneError('BAD_OPTIONS', `options.${field} must be a non-empty string`);
      }
    }
    this.wsUrl = sipWebSocketUrl(options.server);
    this.options = {
      server: options.server,
      extension: options.extension,
      password: options.password,
      domain: options.domain ?? new URL(this.wsUrl).hostname,
      displayName: options.displayName ?? null,
      iceServers: options.iceServers ?? [],
      playRemoteAudio: options.playRemoteAudio ?? true,
      iceGatheringTimeoutMs: options.iceGatheringTimeoutMs ?? DEFAULT_ICE_GATHERING_TIMEOUT_MS,
      registerExpires: options.registerExpires ?? 600,
      registerTimeoutMs: options.registerTimeoutMs ?? 15_000,
    };
  }

  /** The user's SIP address of record. */
  get uri(): string {
    return `sip:${this.options.extension}@${this.options.domain}`;
  }

  get isRegistered(): boolean {
    return this.ua?.isRegistered() ?? false;
  }

  // ---- events ------------------------------------------------------------------------------------

  /** Listen to an event; returns a function that removes the listener. */
  on<E extends WebPhoneEvent>(event: E, handler: Handler<E>): () => void {
    let set = this.handlers.get(event);
    if (!set) {
      set = new Set();
      this.handlers.set(event, set);
    }
    set.add(handler as (event: never) => void);
    return () => this.off(event, handler);
  }

  off<E extends WebPhoneEvent>(event: E, handler: Handler<E>): void {
    this.handlers.get(event)?.delete(handler as (event: never) => void);
  }

  private emit<E extends WebPhoneEvent>(event: E, payload: WebPhoneEventMap[E]): void {
    for (const handler of [...(this.handlers.get(event) ?? [])]) {
      try {
        (handler as Handler<E>)(payload);
      } catch (error) {
        // A listener's bug must not break the phone; it is reported where the app can see it.
        console.error(`webphone: a "${event}" listener threw`, error);
      }
    }
  }

  private fail(code: WebPhoneErrorCode, message: string, callId: string | null = null): WebPhoneError {
    const error = new WebPhoneError(code, message, callId);
    this.emit('error', { code, message, callId });
    return error;
  }

  // ---- registration ------------------------------------------------------------------------------

  /** Connect and register; resolves once registered, rejects with REGISTRATION_FAILED. */
  register(): Promise<void> {
    const ua = this.ua ?? this.startUa();
    return new Promise<void>((resolve, reject) => {
      if (ua.isRegistered()) {
        resolve();
        return;
      }
      const onRegistered = () => {
        cleanup();
        resolve();
      };
      const onFailed = (event: { cause?: string; response?: IncomingResponse | null }) => {
        cleanup();
        reject(
          new WebPhoneError('REGISTRATION_FAILED', `registration failed: ${event.cause ?? 'unknown cause'}`),
        );
      };
      // JsSIP keeps reconnecting to an unreachable server without a failure event: bound the wait.
      // The phone keeps trying; a later success still emits `registered`.
      const timer = setTimeout(() => {
        cleanup();
        reject(
          this.fail(
            'REGISTRATION_FAILED',
            `no answer to REGISTER within ${this.options.registerTimeoutMs} ms from ${this.wsUrl}`,
          ),
        );
      }, this.options.registerTimeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        ua.removeListener('registered', onRegistered);
        ua.removeListener('registrationFailed', onFailed);
      };
      ua.on('registered', onRegistered);
      ua.on('registrationFailed', onFailed);
      if (ua.isConnected()) ua.register();
    });
  }

  /** Remove the registration (calls in progress continue); resolves once unregistered. */
  unregister(): Promise<void> {
    const ua = this.ua;
    if (!ua?.isRegistered()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        ua.removeListener('unregistered', done);
        resolve();
      };
      ua.on('unregistered', done);
      ua.unregister();
    });
  }

  /** Hang up every call, unregister and close the WebSocket. */
  stop(): void {
    const ua = this.ua;
    if (!ua) return;
    for (const callId of [...this.tracked.keys()]) {
      try {
        this.hangup(callId);
      } catch {
        // Already ending.
      }
    }
    ua.stop();
    this.ua = null;
  }

  private startUa(): UA {
    const socket = new WebSocketInterface(this.wsUrl);
    const ua = new UA({
      sockets: [socket],
      uri: this.uri,
      password: this.options.password,
      authorization_user: this.options.extension,
      display_name: this.options.displayName ?? undefined,
      register: true,
      register_expires: this.options.registerExpires,
      session_timers: false,
      user_agent: 'Switchboard-WebPhone',
    });
    const extension = this.options.extension;
    ua.on('registered', () => this.emit('registered', { extension }));
    ua.on('unregistered', () => this.emit('unregistered', { extension }));
    ua.on('registrationFailed', (event) => {
      const sipStatus = event.response?.status_code ?? null;
      const cause = String(event.cause ?? 'unknown');
      this.emit('registration-failed', { extension, cause, sipStatus });
      this.emit('error', {
        code: 'REGISTRATION_FAILED',
        message: `registration failed: ${cause}`,
        callId: null,
      });
    });
    ua.on('newRTCSession', (event: RTCSessionEvent) => this.onNewSession(event));
    this.ua = ua;
    ua.start();
    return ua;
  }

  // ---- calls -------------------------------------------------------------------------------------

  /**
   * Call an extension, a number or a SIP URI. Returns the new call's client callId at once; its
   * serverSideCallId follows with `call-in-progress`.
   */
  makeCall(target: string, options: MakeCallOptions = {}): string {
    const ua = this.ua;
    if (!ua) throw this.fail('NOT_STARTED', 'call register() before makeCall()');
    const uri = this.targetUri(target, 'makeCall');
    const extraHeaders: string[] = [];
    if (options.onBehalfOfQueue !== undefined)
      extraHeaders.push(`X-On-Behalf-Of-Queue: ${headerValue(options.onBehalfOfQueue, 'onBehalfOfQueue')}`);
    if (options.callbackRequestId !== undefined)
      extraHeaders.push(
        `X-Callback-Request-Id: ${headerValue(options.callbackRequestId, 'callbackRequestId')}`,
      );
    let session: RTCSession;
    try {
      session = ua.call(uri, {
        extraHeaders,
        mediaConstraints: { audio: true, video: false },
        pcConfig: { iceServers: this.options.iceServers },
      });
    } catch (error) {
      throw this.fail('BAD_OPTIONS', `makeCall(${uri}) failed: ${String(error)}`);
    }
    return session.id;
  }

  /** Answer an inbound call with the microphone. */
  answer(callId: string): void {
    const call = this.ringingInbound(callId, 'answer');
    call.session.answer({
      mediaConstraints: { audio: true, video: false },
      pcConfig: { iceServers: this.options.iceServers },
    });
  }

  /** Decline an inbound call that is still ringing (603 Decline): the queue offers it to the next member. */
  reject(callId: string): void {
    const call = this.ringingInbound(callId, 'reject');
    call.session.terminate({ status_code: 603, reason_phrase: 'Decline' });
  }

  /** End a call in any state: BYE when connected, CANCEL when calling, 603 when ringing. */
  hangup(callId: string): void {
    const call = this.call(callId);
    if (call.info.state === 'ringing') {
      call.session.terminate({ status_code: 603, reason_phrase: 'Decline' });
      return;
    }
    if (!call.session.isEnded()) call.session.terminate();
  }

  /**
   * Put a connected call on hold (re-INVITE, sendonly). If another re-INVITE of the call is still
   * in progress the hold follows as soon as it completes; `call-updated` tells when it took effect.
   */
  hold(callId: string): void {
    this.requestHold(this.connected(callId, 'hold'), true);
  }

  /** Resume a held call; queued like `hold` behind a re-INVITE in progress. */
  unhold(callId: string): void {
    this.requestHold(this.connected(callId, 'unhold'), false);
  }

  mute(callId: string): void {
    this.connected(callId, 'mute').session.mute({ audio: true });
  }

  unmute(callId: string): void {
    this.connected(callId, 'unmute').session.unmute({ audio: true });
  }

  /** Send DTMF tones (0-9, *, #, A-D; ',' pauses) as SIP INFO, which Switchboard relays. */
  sendDtmf(callId: string, tones: string): void {
    const call = this.connected(callId, 'sendDtmf');
    if (typeof tones !== 'string' || !/^[0-9A-D#*,]+$/i.test(tones)) {
      throw this.fail(
        'BAD_OPTIONS',
        `sendDtmf: "${String(tones)}" is not a DTMF string (0-9, *, #, A-D, ',')`,
        callId,
      );
    }
    // JsSIP's default transport is SIP INFO, which Switchboard relays in the dialog (RFC 2833 would
    // need the media path).
    call.session.sendDTMF(tones);
  }

  /**
   * Blind transfer: ask the platform to move a connected call to `target` — an extension, a number,
   * a queue (extension, number or name), `user@host` or a SIP URI — with a REFER in the call's
   * dialog. `transfer-progress` follows for each provisional NOTIFY (100 Trying, 180 Ringing), then
   * `transfer-completed` (the platform then ends this phone's part: `call-ended`) or
   * `transfer-failed` (the REFER refused, or the target busy, declining or not answering: the
   * call stays connected here). Holding the call first is up to the app.
   */
  transfer(callId: string, target: string): void {
    const call = this.transferable(callId, 'transfer');
    const uri = this.targetUri(target, 'transfer', callId);
    this.refer(call, uri, { kind: 'blind', target: uri, otherCallId: null });
  }

  /**
   * Attended transfer: join the other party of `callId` with the party of `otherCallId` (typically
   * a consultation call this phone placed after holding `callId`) and leave both calls. The REFER
   * goes in `callId`'s dialog with `Refer-To: <other party?Replaces=otherCallId's dialog>`; the
   * events are `transfer`'s, for `callId`. Once completed the platform ends both of this phone's
   * calls (two `call-ended`).
   */
  attendedTransfer(callId: string, otherCallId: string): void {
    const call = this.transferable(callId, 'attendedTransfer');
    if (otherCallId === callId) {
      throw this.fail(
        'BAD_OPTIONS',
        `attendedTransfer: otherCallId must name another call than ${callId} (the consultation call)`,
        callId,
      );
    }
    const other = this.transferable(otherCallId, 'attendedTransfer');
    const uri = other.session.remote_identity.uri;
    this.refer(call, uri, { kind: 'attended', target: uri.toString(), otherCallId }, other.session);
  }

  /** Snapshots of the calls in progress (ended calls are gone). */
  calls(): WebPhoneCall[] {
    return [...this.tracked.values()].map((call) => copyCall(call.info));
  }

  /** The call's RTCPeerConnection (for media diagnostics), once there is one. */
  peerConnection(callId: string): RTCPeerConnection | null {
    return this.tracked.get(callId)?.session.connection ?? null;
  }

  private requestHold(call: TrackedCall, hold: boolean): void {
    call.wantedHold = hold;
    call.holdAttempts = 0;
    this.applyHold(call);
  }

  /** Apply the wanted hold state once the session may send a re-INVITE (JsSIP refuses meanwhile). */
  private applyHold(call: TrackedCall): void {
    if (call.holdTimer !== undefined) clearTimeout(call.holdTimer);
    call.holdTimer = undefined;
    const wanted = call.wantedHold;
    if (wanted === undefined || call.info.state !== 'connected') return;
    const { session } = call;
    if (session.isOnHold().local === wanted) {
      call.wantedHold = undefined;
      return;
    }
    const done = () => this.applyHold(call);
    if (session.isReadyToReOffer() && (wanted ? session.hold({}, done) : session.unhold({}, done))) {
      call.wantedHold = undefined;
      return;
    }
    call.holdAttempts += 1;
    if (call.holdAttempts > HOLD_MAX_ATTEMPTS) {
      call.wantedHold = undefined;
      this.emit('error', {
        code: 'INVALID_STATE',
        message: `${wanted ? 'hold' : 'unhold'}: call ${call.info.callId} stayed busy with another re-INVITE`,
        callId: call.info.callId,
      });
      return;
    }
    call.holdTimer = setTimeout(done, HOLD_RETRY_MS);
  }

  /** `sip:<target>@<domain>` for an extension or number, `sip:user@host`, or a SIP URI as given. */
  private targetUri(target: string, what: string, callId: string | null = null): string {
    const trimmed = typeof target === 'string' ? target.trim() : '';
    if (trimmed === '' || /[\s<>"]/.test(trimmed)) {
      throw this.fail(
        'BAD_OPTIONS',
        `${what}: "${String(target)}" is not an extension, number or SIP URI`,
        callId,
      );
    }
    if (/^sips?:/i.test(trimmed)) return trimmed;
    return trimmed.includes('@') ? `sip:${trimmed}` : `sip:${trimmed}@${this.options.domain}`;
  }

  /** A connected call with no transfer of this phone's in progress. */
  private transferable(callId: string, what: string): TrackedCall {
    const call = this.connected(callId, what);
    if (call.transfer) {
      throw this.fail(
        'INVALID_STATE',
        `${what}: a transfer of call ${callId} to ${call.transfer.target} is in progress`,
        callId,
      );
    }
    return call;
  }

  /** Send the REFER and turn what JsSIP's refer subscriber reports into transfer events. */
  private refer(
    call: TrackedCall,
    target: string | URI,
    transfer: PendingTransfer,
    replaces?: RTCSession,
  ): void {
    const { callId } = call.info;
    const event = (status: number | null, reason: string | null): TransferEvent => ({
      callId,
      status,
      reason,
      kind: transfer.kind,
      target: transfer.target,
      otherCallId: transfer.otherCallId,
    });
    const notified =
      (name: 'transfer-progress' | 'transfer-completed' | 'transfer-failed') =>
      ({ status_line: line }: ReferNotified) => {
        if (call.transfer !== transfer) return;
        if (name !== 'transfer-progress') call.transfer = undefined;
        const status = Number(line?.status_code);
        this.emit(name, event(Number.isFinite(status) ? status : null, line?.reason_phrase?.trim() || null));
      };
    const eventHandlers = {
      trying: notified('transfer-progress'),
      progress: notified('transfer-progress'),
      accepted: notified('transfer-completed'),
      failed: notified('transfer-failed'),
      requestFailed: ({ response, cause }: ReferRequestFailed) => {
        if (call.transfer !== transfer) return;
        call.transfer = undefined;
        const status = response?.status_code ?? null;
        this.emit(
          'transfer-failed',
          event(status, response?.reason_phrase || (cause ? String(cause) : null)),
        );
      },
    };
    call.transfer = transfer;
    let sent: unknown;
    try {
      // JsSIP's typings say void; it returns false when the session cannot send in-dialog requests.
      sent = call.session.refer(target, { eventHandlers, ...(replaces ? { replaces } : {}) }) as unknown;
    } catch (error) {
      call.transfer = undefined;
      throw this.fail(
        'BAD_OPTIONS',
        `${transfer.kind} transfer of ${callId} to ${transfer.target} failed: ${String(error)}`,
        callId,
      );
    }
    if (sent === false) {
      call.transfer = undefined;
      throw this.fail('INVALID_STATE', `transfer: call ${callId} cannot send a REFER now`, callId);
    }
  }

  private call(callId: string): TrackedCall {
    const call = this.tracked.get(callId);
    if (!call)
      throw this.fail(
        'UNKNOWN_CALL',
        `no call with callId ${String(callId)}`,
        typeof callId === 'string' ? callId : null,
      );
    return call;
  }

  /** Only an inbound call that still rings can be answered or rejected. */
  private ringingInbound(callId: string, what: string): TrackedCall {
    const call = this.call(callId);
    if (call.info.direction !== 'inbound' || call.info.state !== 'ringing') {
      throw this.fail(
        'INVALID_STATE',
        `${what}: call ${callId} is ${call.info.direction} and ${call.info.state}`,
        callId,
      );
    }
    return call;
  }

  private connected(callId: string, what: string): TrackedCall {
    const call = this.call(callId);
    if (call.info.state !== 'connected')
      throw this.fail('INVALID_STATE', `${what}: call ${callId} is ${call.info.state}`, callId);
    return call;
  }

  // ---- JsSIP sessions ------------------------------------------------------------------------------

  private snapshot(call: TrackedCall): WebPhoneCall {
    return copyCall(call.info);
  }

  private onNewSession(event: RTCSessionEvent): void {
    const { session } = event;
    const inbound = event.originator === 'remote';
    const remote = session.remote_identity;
    const request = inbound ? (event.request as IncomingRequest) : null;
    const call: TrackedCall = {
      session,
      holdAttempts: 0,
      mediaFailures: 0,
      info: {
        callId: session.id,
        serverSideCallId: headerOf(request, 'X-Server-Call-Id'),
        callLegId: headerOf(request, 'X-Call-Leg-Id'),
        direction: inbound ? 'inbound' : 'outbound',
        remoteParty: {
          uri: remote?.uri?.toString() ?? '',
          user: remote?.uri?.user ?? '',
          displayName: remote?.display_name || null,
        },
        queueId: headerOf(request, 'X-Queue-Id'),
        queueName: headerOf(request, 'X-Queue-Name'),
        state: inbound ? 'ringing' : 'calling',
        queue: null,
        held: false,
        heldByRemote: false,
        muted: false,
        startedAt: Date.now(),
        connectedAt: null,
        endedAt: null,
      },
    };
    this.tracked.set(session.id, call);

    // An outbound session's peer connection exists before this event; an inbound one's at answer.
    if (session.connection) this.watchPeerConnection(call, session.connection);
    session.on('peerconnection', ({ peerconnection }) => this.watchPeerConnection(call, peerconnection));
    session.on('icecandidate', ({ ready }) => {
      if (call.iceTimer === undefined) call.iceTimer = setTimeout(ready, this.options.iceGatheringTimeoutMs);
    });
    session.on('progress', (progress: IncomingEvent | OutgoingEvent) => {
      // Inbound sessions report their own 180 as 'local' progress: only the remote side's counts.
      if (
        String(progress.originator) !== 'remote' ||
        !('response' in progress) ||
        call.info.direction !== 'outbound'
      )
        return;
      this.learnFromResponse(call, progress.response);
      if (call.info.state === 'calling') call.info.state = 'progress';
      this.emit('call-in-progress', this.snapshot(call));
    });
    session.on('accepted', (accepted: IncomingEvent | OutgoingEvent) => {
      if (!('response' in accepted)) return;
      this.learnFromResponse(call, accepted.response);
      if (call.info.direction === 'outbound') this.queueAnswered(call, accepted.response);
    });
    // The platform re-INVITEs a caller waiting in a queue to the agent's media
    // (`X-Queue-State: connected`): once this phone has answered it, the call is with the agent.
    session.on('reinvite', (reinvite: ReInviteEvent) => {
      if (headerOf(reinvite.request, 'X-Queue-State')?.toLowerCase() !== 'connected') return;
      const previous = reinvite.callback;
      const failuresBefore = call.mediaFailures;
      reinvite.callback = () => {
        previous?.();
        // JsSIP calls back even when the peer connection refused the offer (it answered 488/500
        // then): only an offer taken without a failure connects the call to the agent.
        if (call.mediaFailures === failuresBefore) this.queueConnected(call, reinvite.request);
      };
    });
    session.on('confirmed', () => {
      call.info.state = 'connected';
      call.info.connectedAt = Date.now();
      this.emit('call-connected', this.snapshot(call));
    });
    session.on('hold', ({ originator }) =>
      this.updated(call, String(originator) === 'remote' ? { heldByRemote: true } : { held: true }),
    );
    session.on('unhold', ({ originator }) =>
      this.updated(call, String(originator) === 'remote' ? { heldByRemote: false } : { held: false }),
    );
    session.on('newDTMF', (event: IncomingDTMFEvent | OutgoingDTMFEvent) => {
      if (String(event.originator) === 'remote')
        this.emit('call-dtmf', { ...this.snapshot(call), tone: String(event.dtmf.tone) });
    });
    session.on('muted', () => this.updated(call, { muted: true }));
    session.on('unmuted', () => this.updated(call, { muted: false }));
    session.on('getusermediafailed', (error: unknown) =>
      this.emit('error', {
        code: 'MEDIA_FAILED',
        message: `microphone unavailable: ${String(error)}`,
        callId: call.info.callId,
      }),
    );
    for (const failure of [
      'peerconnection:createofferfailed',
      'peerconnection:createanswerfailed',
      'peerconnection:setlocaldescriptionfailed',
      'peerconnection:setremotedescriptionfailed',
    ] as const) {
      session.on(failure, (error: unknown) => {
        call.mediaFailures += 1;
        this.emit('error', {
          code: 'MEDIA_FAILED',
          message: `${failure}: ${String(error)}`,
          callId: call.info.callId,
        });
      });
    }
    session.on('ended', (end) => this.ended(call, end.originator, end.cause, end.message));
    session.on('failed', (end) => this.ended(call, end.originator, end.cause, end.message));

    if (inbound) this.emit('call-incoming', this.snapshot(call));
  }

  private learnFromResponse(call: TrackedCall, response: IncomingResponse | null | undefined): void {
    const serverSideCallId = headerOf(response, 'X-Server-Call-Id');
    const callLegId = headerOf(response, 'X-Call-Leg-Id');
    if (serverSideCallId && !call.info.serverSideCallId) call.info.serverSideCallId = serverSideCallId;
    if (callLegId && !call.info.callLegId) call.info.callLegId = callLegId;
    const queueId = headerOf(response, 'X-Queue-Id');
    if (queueId && !call.info.queueId) {
      call.info.queueId = queueId;
      call.info.queueName = headerOf(response, 'X-Queue-Name');
    }
  }

  /** A 2xx with `X-Queue-State: waiting`: a queue answered the call; its greeting plays, then music. */
  private queueAnswered(call: TrackedCall, response: IncomingResponse | null | undefined): void {
    if (headerOf(response, 'X-Queue-State')?.toLowerCase() !== 'waiting') return;
    const greetingMs = Math.max(0, Number.parseInt(headerOf(response, 'X-Queue-Greeting-Ms') ?? '', 10) || 0);
    call.info.queue = {
      state: 'waiting',
      queueId: headerOf(response, 'X-Queue-Id') ?? call.info.queueId,
      queueName: headerOf(response, 'X-Queue-Name') ?? call.info.queueName,
      hearing: greetingMs > 0 ? 'greeting' : 'music',
      greetingMs,
      answeredAt: Date.now(),
      agentConnectedAt: null,
    };
    if (greetingMs > 0) call.greetingTimer = setTimeout(() => this.greetingPlayed(call), greetingMs);
    // The waiting status itself arrives with `call-connected` (the ACK follows at once).
  }

  private greetingPlayed(call: TrackedCall): void {
    call.greetingTimer = undefined;
    const { queue } = call.info;
    if (queue?.state !== 'waiting' || !this.tracked.has(call.info.callId)) return;
    this.updated(call, { queue: { ...queue, hearing: 'music' } });
  }

  /** The re-INVITE to the agent's media was answered: the call is with the agent. */
  private queueConnected(call: TrackedCall, request: IncomingRequest): void {
    if (call.greetingTimer !== undefined) clearTimeout(call.greetingTimer);
    call.greetingTimer = undefined;
    const now = Date.now();
    const previous = call.info.queue;
    if (previous?.state === 'connected' || !this.tracked.has(call.info.callId)) return;
    this.updated(call, {
      queue: {
        state: 'connected',
        queueId: previous?.queueId ?? headerOf(request, 'X-Queue-Id') ?? call.info.queueId,
        queueName: previous?.queueName ?? headerOf(request, 'X-Queue-Name') ?? call.info.queueName,
        hearing: null,
        greetingMs: previous?.greetingMs ?? 0,
        answeredAt: previous?.answeredAt ?? call.info.connectedAt ?? now,
        agentConnectedAt: now,
      },
    });
  }

  private updated(call: TrackedCall, change: Partial<WebPhoneCall>): void {
    Object.assign(call.info, change);
    this.emit('call-updated', this.snapshot(call));
  }

  private watchPeerConnection(call: TrackedCall, connection: RTCPeerConnection): void {
    if (!this.options.playRemoteAudio || typeof document === 'undefined') return;
    connection.addEventListener('track', (event: RTCTrackEvent) => {
      if (event.track.kind !== 'audio') return;
      if (!call.audio) {
        call.audio = document.createElement('audio');
        call.audio.autoplay = true;
      }
      call.audio.srcObject = event.streams[0] ?? new MediaStream([event.track]);
      // Autoplay may be refused until the user interacts with the page; media still flows.
      void call.audio.play().catch(() => {});
    });
  }

  private ended(
    call: TrackedCall,
    originator: string,
    cause: string,
    message: IncomingRequest | IncomingResponse | null | undefined,
  ): void {
    if (!this.tracked.has(call.info.callId)) return;
    this.tracked.delete(call.info.callId);
    if (call.iceTimer !== undefined) clearTimeout(call.iceTimer);
    if (call.holdTimer !== undefined) clearTimeout(call.holdTimer);
    if (call.greetingTimer !== undefined) clearTimeout(call.greetingTimer);
    // A transfer whose outcome was not notified before the call ended reports nothing more.
    call.transfer = undefined;
    if (call.audio) {
      call.audio.pause();
      call.audio.srcObject = null;
    }
    call.info.state = 'ended';
    call.info.endedAt = Date.now();
    const sipStatus =
      message && 'status_code' in message && typeof message.status_code === 'number'
        ? message.status_code
        : null;
    const event: CallEndedEvent = {
      ...this.snapshot(call),
      cause: String(cause),
      originator: originator === 'local' || originator === 'remote' ? originator : 'system',
      sipStatus,
      reason: reasonText(headerOf(message, 'Reason') ?? undefined),
    };
    this.emit('call-ended', event);
  }
}

/** A snapshot of a call: nothing the app holds shares state with the phone's own record. */
function copyCall(info: WebPhoneCall): WebPhoneCall {
  return { ...info, remoteParty: { ...info.remoteParty }, queue: info.queue ? { ...info.queue } : null };
}

/** A header value the caller supplies: one line, printable. */
function headerValue(value: string, name: string): string {
  if (typeof value !== 'string' || value.trim() === '' || /[\r\n]/.test(value)) {
    throw new WebPhoneError('BAD_OPTIONS', `${name} must be a non-empty single-line string`);
  }
  return value.trim();
}
