/**
 * Call control: the B2BUA and ACD policy on top of the SIP user agent (src/sip/ua). It
 * authenticates callers, routes each new INVITE (user, queue, trunk, or a call for a queue), and
 * owns the live calls. The UA delegates new INVITEs and closed flows to it (wired in platform.ts);
 * requests inside a call's dialogs reach the call's legs through the UA's dialog table.
 */
import type { Directory, QueueAudio, User } from '../config/types.js';
import type { Journal } from '../journal/types.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { parseNameAddr, parseVia } from '../sip/headers.js';
import type { SipRequest } from '../sip/message.js';
import type { LocationService, Registrar } from '../sip/registrar.js';
import type { SipStack } from '../sip/stack.js';
import type { InviteServerTransaction } from '../sip/transaction/index.js';
import { type Flow, flowKey } from '../sip/transport/types.js';
import type { InviteTarget, UserAgent } from '../sip/ua/index.js';
import { parseUri } from '../sip/uri.js';
import { AgentStates } from './agents.js';
import { Call, type CallServices } from './call.js';
import { CALL_HEADERS } from './headers.js';
import type { MediaEngine } from './media.js';
import {
  type CallbackRequestSource,
  decideOutbound,
  type OutboundDecision,
  type OutboundRequest,
  presentedNumber,
} from './outbound.js';
import { parseReplaces, trunkTarget } from './transfer.js';

export interface CallControlOptions {
  /** The SIP user agent whose usages the calls are made of (and whose dialog table routes to them). */
  userAgent: UserAgent;
  /** Authenticates callers (digest) — REGISTER itself goes to it through the UA's delegate. */
  registrar: Registrar;
  location: LocationService;
  /** The media kind of a party by its flow (CallServices.endpointKind); default by the flow's protocol. */
  endpointKind?: CallServices['endpointKind'];
  directory: Directory;
  journal: Journal;
  logger?: Logger;
  now?: () => number;
  /** Pause before a queue offers a call again to a member who already had it this round (ms). */
  queueRetryDelayMs?: number;
  /** How long a direct call may ring unanswered (ms, default 60 s). */
  ringTimeoutMs?: number;
  /** In-dialog OPTIONS interval that ends calls whose party vanished (ms, default 60 s, 0 = off). */
  probeIntervalMs?: number;
  /** Callback requests (the record store): needed for INVITEs with X-Callback-Request-Id. */
  callbackRequests?: CallbackRequestSource;
  /** The media engine that anchors every call (absent: signalling only). */
  media?: MediaEngine;
  /** What the engine plays: queue audio defaults, prompts, hold music (DESIGN.md §9). */
  audio?: CallAudioSettings;
  /**
   * The live agent states (availability, serving, wrap-up): the platform makes them first, so that
   * `AgentService` restores what was set before the first call; made here when not given.
   */
  agents?: AgentStates;
}

/** The audio call control has the media engine play, besides each queue's own configuration. */
export interface CallAudioSettings {
  /** For queues whose configuration says nothing (tenants built by hand). */
  defaultQueueAudio?: QueueAudio;
  /** Position announcements. */
  prompts?: { positionAnnouncement(position: number, expectedWaitMinutes?: number): string };
  /** What a party hears while the other holds a call that is not a queue's. */
  holdMusic?: string;
  /** Before a waiting call is hung up after its queue's maxWaitSeconds. */
  goodbyePrompt?: string;
  /** To a caller of a closed queue (opening hours), before the platform hangs up. */
  closedPrompt?: string;
  /** The file to hand the engine for a configured one (an evenly paced copy, see src/media/engine-audio.ts). */
  playable?(file: string): string;
}

/** Weight of the newest answered call's wait in a queue's expected wait (an exponential average). */
const WAIT_AVERAGE_WEIGHT = 0.2;

export class CallControl {
  readonly agents: AgentStates;
  private readonly calls = new Map<string, Call>();
  private readonly stack: SipStack;
  private readonly services: CallServices;
  private readonly logger: Logger;
  private readonly unsubscribe: () => void;

  constructor(private readonly opts: CallControlOptions) {
    this.logger = opts.logger ?? silentLogger;
    this.stack = opts.userAgent.stack;
    const now = opts.now ?? Date.now;
    this.agents = opts.agents ?? new AgentStates(opts.directory, opts.location, now);
    this.services = {
      stack: this.stack,
      directory: opts.directory,
      journal: opts.journal,
      agents: this.agents,
      logger: this.logger,
      domain: opts.directory.tenant.domain,
      now,
      queueRetryDelayMs: opts.queueRetryDelayMs,
      ringTimeoutMs: opts.ringTimeoutMs,
      probeIntervalMs: opts.probeIntervalMs,
      targetsOfUser: (user) => this.targetsOfUser(user),
      endpointKind: opts.endpointKind,
      dialogs: opts.userAgent.dialogs,
      callEnded: (call) => this.calls.delete(call.callId),
      media: opts.media,
      defaultQueueAudio: opts.audio?.defaultQueueAudio,
      prompts: opts.audio?.prompts,
      holdMusic: opts.audio?.holdMusic,
      goodbyePrompt: opts.audio?.goodbyePrompt,
      closedPrompt: opts.audio?.closedPrompt,
      playable: opts.audio?.playable,
      queuePosition: (call) => this.queuePosition(call),
      findLegByDialog: (sipCallId, tag, otherTag) => {
        for (const call of this.calls.values()) {
          for (const leg of call.allLegs) {
            const dialog = leg.dialog;
            if (!leg.isActive || !dialog || dialog.sipCallId !== sipCallId) continue;
            const tags = [dialog.localTag, dialog.remoteTag];
            if (tags.includes(tag) && tags.includes(otherTag)) return { call, leg };
          }
        }
        return undefined;
      },
      expectedWaitMinutes: (queueId) => {
        const averageMs = this.averageWaitMs.get(queueId);
        return averageMs === undefined ? undefined : Math.round(averageMs / 60_000);
      },
      waitObserved: (queueId, waitMs) => {
        const previous = this.averageWaitMs.get(queueId);
        this.averageWaitMs.set(
          queueId,
          previous === undefined ? waitMs : previous + WAIT_AVERAGE_WEIGHT * (waitMs - previous),
        );
      },
    };
    // Waiting queue calls get another chance whenever a member may have become available.
    this.unsubscribe = this.agents.onMaybeAvailable((userId) => this.offerWaitingCalls(userId));
  }

  /** Each queue's average wait of its answered calls (ms), for expected-wait announcements. */
  private readonly averageWaitMs = new Map<string, number>();

  /** 1 + the calls waiting in the same queue that entered it earlier. */
  private queuePosition(call: Call): number {
    const session = call.queueSession;
    if (!session) return 1;
    let ahead = 0;
    for (const other of this.calls.values()) {
      const otherSession = other.queueSession;
      if (
        other !== call &&
        other.state === 'queued' &&
        otherSession?.active &&
        otherSession.queue.queueId === session.queue.queueId &&
        otherSession.enteredAtMs <= session.enteredAtMs
      )
        ahead++;
    }
    return ahead + 1;
  }

  /** Live calls (for diagnostics and tests). */
  get activeCalls(): Call[] {
    return [...this.calls.values()];
  }

  call(callId: string): Call | undefined {
    return this.calls.get(callId);
  }

  private targetsOfUser(user: User): InviteTarget[] {
    return this.opts.location
      .lookup(user.extension)
      .map((binding) => ({ uri: binding.contactUri, flow: binding.target, route: binding.path }));
  }

  private offerWaitingCalls(userId: string): void {
    // Oldest call first: calls are kept in arrival order by the Map.
    for (const call of this.calls.values()) {
      const session = call.queueSession;
      if (call.state === 'queued' && session?.active && session.queue.memberUserIds.includes(userId)) {
        session.tryAllocate();
        if (!this.agents.isAvailable(userId)) return;
      }
    }
  }

  // ---- what the UA delegates -------------------------------------------------------------------

  /** A connection dropped (the UA's onFlowClosed): the calls that had a party on it are hung up. */
  onFlowClosed(flow: Flow): void {
    const key = flowKey(flow);
    for (const call of [...this.calls.values()]) {
      const legs = call.allLegs;
      const lost = legs.find((leg) => leg.isActive && leg.dialog && flowKey(leg.dialog.flow) === key);
      if (lost) call.hangup(lost, 'ConnectionLost', 408);
    }
  }

  // ---- new calls -------------------------------------------------------------------------------

  /** A new INVITE (the UA's onInvite). */
  onInvite(request: SipRequest, tx: InviteServerTransaction): void {
    const { stack } = this;
    const { directory } = this.opts;
    const trunk = directory.trunkBySource(tx.flow.address, senderPort(request, tx.flow));
    let callerUser: User | undefined;
    if (!trunk) {
      const username = this.opts.registrar.authenticate(request, tx, true);
      if (!username) return;
      callerUser = directory.userByExtension(username);
      if (!callerUser) {
        tx.respond(stack.createResponse(request, 403, 'Forbidden'));
        return;
      }
    }
    const replacesHeader = request.headers.get('Replaces');
    if (replacesHeader !== undefined) {
      this.onInviteReplaces(request, tx, replacesHeader, callerUser);
      return;
    }
    const requestUri = parseUri(request.uri);
    const dialled = decodeURIComponent(requestUri?.user ?? '');
    if (!requestUri || !dialled) {
      tx.respond(stack.createResponse(request, 404, 'Not Found'));
      return;
    }
    const onBehalfOfQueue = request.headers.get(CALL_HEADERS.onBehalfOfQueue);
    const callbackRequestId = request.headers.get(CALL_HEADERS.callbackRequestId);
    if (onBehalfOfQueue !== undefined || callbackRequestId !== undefined) {
      this.onInviteOnBehalf(request, tx, { onBehalfOfQueue, callbackRequestId, callerUser, dialled }).catch(
        (err: unknown) => {
          // Bad input must never take the process down: whatever went wrong, the caller gets a 500.
          this.logger.error({ err }, 'call: placing a call on behalf of a queue failed');
          if (!tx.isFinal) tx.respond(stack.createResponse(request, 500, 'Server Internal Error'));
        },
      );
      return;
    }
    const from = parseNameAddr(request.headers.get('From') ?? '');
    const aNum = callerUser ? (callerUser.number ?? callerUser.extension) : (from?.uri.user ?? 'anonymous');
    const callerDisplayName = callerUser
      ? (callerUser.displayName ?? callerUser.extension)
      : from?.displayName;

    const targetUser = directory.userByExtension(dialled) ?? directory.userByNumber(dialled);
    const queue = targetUser ? undefined : directory.queueByExtensionOrNumber(dialled);
    const outboundTrunk =
      !targetUser && !queue && callerUser && isDiallableNumber(dialled)
        ? directory.defaultTrunk()
        : undefined;
    if (!targetUser && !queue && !outboundTrunk) {
      tx.respond(stack.createResponse(request, 404, 'Not Found'));
      return;
    }
    const call = new Call(this.services, {
      kind: queue ? 'inbound-service' : 'direct',
      aNum,
      bNum: dialled,
      callerUser,
      callerDisplayName,
      invite: request,
      transaction: tx,
    });
    this.calls.set(call.callId, call);
    this.logger.debug(
      {
        callId: call.callId,
        sipCallId: request.headers.get('Call-ID'),
        aNum,
        bNum: dialled,
        kind: call.kind,
      },
      'call: new',
    );
    if (targetUser) call.routeToUser(targetUser);
    else if (queue) call.routeToQueue(queue);
    else call.routeToTrunk(trunkTarget(outboundTrunk!, dialled));
  }

  /**
   * An INVITE with `Replaces` (RFC 3891): a device of a user taking over one of that user's legs
   * in a live call (`Call.takeOver`). The dialog is looked up among every call's legs, from our side:
   * its to-tag is ours, its from-tag the device's.
   */
  private onInviteReplaces(
    request: SipRequest,
    tx: InviteServerTransaction,
    value: string,
    callerUser: User | undefined,
  ): void {
    const replaces = parseReplaces(value);
    const found = replaces
      ? this.services.findLegByDialog?.(replaces.sipCallId, replaces.toTag, replaces.fromTag)
      : undefined;
    if (!replaces || !found) {
      tx.respond(this.stack.createResponse(request, 481, 'Call/Transaction Does Not Exist (Replaces)'));
      return;
    }
    if (!callerUser) {
      tx.respond(this.stack.createResponse(request, 403, 'Forbidden (only a user may take over a call)'));
      return;
    }
    found.call.takeOver(found.leg, request, tx, callerUser);
  }

  /**
   * An outbound service or callback call (src/calls/outbound.ts decides whether it may be placed,
   * looking the callback request up in the store), then routed to its number like a dialled one:
   * a user's extension or number rings the user, any other number goes to the trunk. The callee
   * sees the queue's number and name, never the agent's.
   */
  private async onInviteOnBehalf(
    request: SipRequest,
    tx: InviteServerTransaction,
    outbound: OutboundRequest,
  ): Promise<void> {
    const { stack } = this;
    const { directory } = this.opts;
    let decision: OutboundDecision;
    try {
      decision = await decideOutbound(outbound, { directory, callbacks: this.opts.callbackRequests });
    } catch (err) {
      this.logger.error({ err }, 'call: callback request lookup failed');
      decision = { ok: false, status: 500, reason: 'Server Internal Error' };
    }
    // The caller may have CANCELled during the lookup (the stack answered it with 487).
    if (tx.isFinal || tx.cancelled || this.closing) return;
    const requestId = decision.ok ? decision.call.callbackRequestId : undefined;
    // Checked after the lookup, synchronously with creating the call: two agents cannot both start one.
    if (
      requestId &&
      [...this.calls.values()].some((call) => call.onBehalfOf?.callbackRequestId === requestId)
    ) {
      decision = { ok: false, status: 403, reason: 'Callback Already In Progress' };
    }
    if (!decision.ok) {
      tx.respond(stack.createResponse(request, decision.status, decision.reason));
      return;
    }
    const placed = decision.call;
    const targetUser = directory.userByExtension(placed.dialled) ?? directory.userByNumber(placed.dialled);
    const isQueue = !targetUser && directory.queueByExtensionOrNumber(placed.dialled) !== undefined;
    const trunk =
      !targetUser && !isQueue && isDiallableNumber(placed.dialled) ? directory.defaultTrunk() : undefined;
    if (!targetUser && !trunk) {
      tx.respond(
        stack.createResponse(
          request,
          isQueue ? 403 : 404,
          isQueue ? 'Queues Are Not Called On Behalf Of A Queue' : 'Not Found',
        ),
      );
      return;
    }
    const call = new Call(this.services, {
      kind: placed.kind,
      aNum: presentedNumber(placed.queue),
      bNum: placed.dialled,
      callerUser: outbound.callerUser,
      callerDisplayName: placed.queue.name,
      invite: request,
      transaction: tx,
      onBehalfOf: {
        queueId: placed.queue.queueId,
        callbackListId: placed.callbackListId,
        callbackRequestId: placed.callbackRequestId,
      },
    });
    this.calls.set(call.callId, call);
    this.logger.debug(
      {
        callId: call.callId,
        kind: call.kind,
        queueId: placed.queue.queueId,
        callbackRequestId: placed.callbackRequestId,
      },
      'call: new on behalf of a queue',
    );
    if (targetUser) call.routeToUser(targetUser);
    else call.routeToTrunk(trunkTarget(trunk!, placed.dialled));
  }

  private closing = false;

  /**
   * The media engine lost its state (it restarted): every anchored call's media is gone, so those
   * calls end now with a cause that says why, rather than stay up in silence.
   */
  mediaEngineRestarted(): void {
    const anchored = [...this.calls.values()].filter((call) => call.media !== undefined);
    if (anchored.length > 0)
      this.logger.warn(
        { calls: anchored.length },
        'calls: media engine restarted; ending the calls it anchored',
      );
    for (const call of anchored) {
      if (call.state === 'connected') call.hangup(undefined, 'MediaEngineRestarted', 503);
      else call.fail(503, 'Failed', 'Service Unavailable (media engine restarted)');
    }
  }

  close(): void {
    this.closing = true;
    this.unsubscribe();
    this.agents.close();
    for (const call of [...this.calls.values()]) call.hangup(undefined, 'ServerShutdown', 503);
  }
}

function isDiallableNumber(text: string): boolean {
  return /^\+?[0-9*#]{2,32}$/.test(text);
}

/**
 * The port a request's sender is known by: the source port over UDP; over TCP/TLS the source port
 * is ephemeral, so the top Via's sent-by port (the port the sender listens on) stands for it.
 */
function senderPort(request: SipRequest, flow: Flow): number {
  if (flow.protocol === 'udp' || flow.protocol === 'ws') return flow.port;
  const top = request.headers.getAll('Via')[0];
  const via = top ? parseVia(top) : undefined;
  return via?.port ?? (flow.protocol === 'tls' ? 5061 : 5060);
}
