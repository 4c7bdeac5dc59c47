/**
 * One call through the back-to-back user agent: the caller's leg, every leg placed for it, the
 * queue it waits in, and the journal facts that record what happened. A call has exactly one
 * `callId` for its whole life, whatever legs, queues and allocations it goes through.
 */
import { randomUUID } from 'node:crypto';
import { isOpenAt } from '../config/opening-hours.js';
import type { Directory, Queue, QueueAudio, User } from '../config/types.js';
import type {
  AllocationRejectReason,
  CallEndCause,
  CallEndReason,
  CallKind,
  CallRoute,
  Journal,
  JournalFact,
  LegEndCause,
  LegRole,
} from '../journal/types.js';
import type { Logger } from '../logger.js';
import { probeAudioFile } from '../media/audio-file.js';
import { isMediaError, type MediaErrorCode } from '../media/errors.js';
import type { MediaEndpointKind } from '../media/types.js';
import type { RecordingOwner } from '../recordings/types.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import type { SipStack } from '../sip/stack.js';
import type { InviteServerTransaction, ServerTransaction } from '../sip/transaction/index.js';
import type { Flow } from '../sip/transport/types.js';
import {
  type DialogTable,
  type InviteClientEvents,
  type InviteClientSetup,
  InviteClientUsage,
  type InviteServerEvents,
  type InviteServerSetup,
  InviteServerUsage,
  type InviteTarget,
} from '../sip/ua/index.js';
import type { AgentStates } from './agents.js';
import { CALL_HEADERS } from './headers.js';
import { branchOf, endpointKind, isSdp, type MediaEngine } from './media.js';
import { presentedNumber } from './outbound.js';
import { Playlist, type PlaylistItem, type PlaylistServices } from './playlist.js';
import {
  audioDirection,
  isHoldOffer,
  keepPayloadTypes,
  SdpOrigin,
  setAudioDirection,
  silentPartyAnswer,
} from './sdp.js';
import {
  parseReferTo,
  type ReplacesTarget,
  resolveTransferTarget,
  SIPFRAG_CONTENT_TYPE,
  sipfrag,
  type TransferTarget,
  trunkTarget,
} from './transfer.js';

/** Engine failures that mean "not there" rather than "refused this SDP". */
const UNREACHABLE: ReadonlySet<MediaErrorCode> = new Set([
  'MEDIA_ENGINE_TIMEOUT',
  'MEDIA_ENGINE_UNAVAILABLE',
]);

import { QueueSession } from './queue.js';

/** Services a call uses; provided by CallControl. */
export interface CallServices {
  stack: SipStack;
  directory: Directory;
  journal: Journal;
  agents: AgentStates;
  logger: Logger;
  domain: string;
  now(): number;
  /** Contacts of a user's registered devices. */
  targetsOfUser(user: User): InviteTarget[];
  /**
   * What kind of media party is reached over `flow` (default ./media.ts `endpointKind`: WebRTC
   * over WebSocket). A cluster node also counts the flows to its peers, which relay their
   * WebSocket clients, as WebRTC.
   */
  endpointKind?(flow: Flow): MediaEndpointKind;
  /** The UA's dialog table: a bound leg gets the requests of its dialog. */
  dialogs: DialogTable;
  callEnded(call: Call): void;
  queueRetryDelayMs?: number;
  /** How long a direct call may ring before the caller gets 480 (no answer). */
  ringTimeoutMs?: number;
  /** Interval of the in-dialog OPTIONS that detects vanished parties (ms; 0 = off; default 60 s). */
  probeIntervalMs?: number;
  /** The media engine that anchors every call's media; absent: signalling only. */
  media?: MediaEngine;
  /** What callers hear in a queue whose configuration says nothing (tenants built by hand). */
  defaultQueueAudio?: QueueAudio;
  /** The 1-based position of a waiting call in its queue. */
  queuePosition?(call: Call): number;
  /** Expected wait in whole minutes for a caller of a queue, when the queue's history tells. */
  expectedWaitMinutes?(queueId: string): number | undefined;
  /** Position announcements (src/media/prompts.ts). */
  prompts?: { positionAnnouncement(position: number, expectedWaitMinutes?: number): string };
  /** Music a party hears while the other holds a call that is not a queue's. */
  holdMusic?: string;
  /** Played before the platform hangs up a call that waited longer than its queue's maxWaitSeconds. */
  goodbyePrompt?: string;
  /** Played to a caller of a closed queue (opening hours) before the platform hangs up. */
  closedPrompt?: string;
  /** The leg of any live call whose dialog has this SIP Call-ID and these two tags (either order). */
  findLegByDialog?(
    sipCallId: string,
    tag: string,
    otherTag: string,
  ): { call: Call; leg: InboundLeg | OutboundLeg } | undefined;
  /** The file to hand the media engine for a configured audio file (see src/media/engine-audio.ts). */
  playable?(file: string): string;
  /** A queue call was answered by an agent after waiting `waitMs`. */
  waitObserved?(queueId: string, waitMs: number): void;
}

export interface CallSetup {
  kind: CallKind;
  aNum: string;
  bNum: string;
  callerUser?: User;
  /** Display name to present to callees. */
  callerDisplayName?: string;
  invite: SipRequest;
  transaction: InviteServerTransaction;
  /** Outbound service / callback calls: the queue (and list, request) the call is made for. */
  onBehalfOf?: OnBehalfOfIds;
}

export interface OnBehalfOfIds {
  queueId: string;
  callbackListId?: string;
  callbackRequestId?: string;
}

type CallState = 'routing' | 'queued' | 'connected' | 'ended';

/** Headers of an in-dialog request that travel to the other side unchanged. */
const RELAYED_HEADERS = [
  'Content-Disposition',
  'Info-Package',
  'Event',
  'Subscription-State',
  'Reason',
  'Session-Expires',
  'Supported',
  'Require',
];

/**
 * The caller's leg: the UAS INVITE usage (sip/ua) of the call's first dialog, with the call's
 * own identity of it. Every 18x/2xx to the caller carries the call's identifiers.
 */
export class InboundLeg extends InviteServerUsage<InboundLeg> {
  readonly callLegId: string = randomUUID();
  readonly role: LegRole = 'caller';
  /** Inbound legs are nobody's queue allocation (see OutboundLeg.queueId). */
  readonly queueId: string | undefined = undefined;

  constructor(
    stack: SipStack,
    setup: InviteServerSetup,
    readonly userId: string | undefined,
    call: Call,
  ) {
    super(stack, setup, call);
    this.responseHeaders = [
      [CALL_HEADERS.serverCallId, call.callId],
      [CALL_HEADERS.callLegId, this.callLegId],
    ];
  }

  protected get self(): InboundLeg {
    return this;
  }
}

/** A leg the call places (to a user's devices or a trunk): a UAC INVITE usage forking to its targets. */
export class OutboundLeg extends InviteClientUsage<OutboundLeg> {
  /** New when an attended transfer adopts the leg's dialog into another call (`renumber`). */
  callLegId: string = randomUUID();

  /** A new CallLegId: the leg now belongs to another call (an attended transfer adopted it). */
  renumber(): void {
    this.callLegId = randomUUID();
  }

  constructor(
    stack: SipStack,
    setup: InviteClientSetup,
    readonly role: LegRole,
    readonly userId: string | undefined,
    readonly queueId: string | undefined,
    call: Call,
  ) {
    super(stack, setup, call);
  }

  protected get self(): OutboundLeg {
    return this;
  }
}

export class Call implements InviteServerEvents<InboundLeg>, InviteClientEvents<OutboundLeg> {
  readonly callId: string = randomUUID();
  readonly kind: CallKind;
  readonly aNum: string;
  readonly bNum: string;
  readonly callerUser?: User;
  readonly onBehalfOf?: OnBehalfOfIds;
  readonly callerLeg: InboundLeg;
  readonly legs = new Map<string, OutboundLeg>();
  state: CallState = 'routing';
  connectedLeg?: InboundLeg | OutboundLeg;
  queueSession?: QueueSession;
  private readonly callerDisplayName?: string;
  /** userIds whose agent-busy count this call holds, per leg, so every increment is released once. */
  private readonly heldUsers = new Map<string, { userId: string; wrapUpSeconds: number }>();

  constructor(
    private readonly services: CallServices,
    setup: CallSetup,
  ) {
    this.kind = setup.kind;
    this.aNum = setup.aNum;
    this.bNum = setup.bNum;
    this.callerUser = setup.callerUser;
    this.onBehalfOf = setup.onBehalfOf;
    this.callerDisplayName = setup.callerDisplayName;
    this.callerLeg = new InboundLeg(
      services.stack,
      { invite: setup.invite, transaction: setup.transaction, now: services.now() },
      setup.callerUser?.userId,
      this,
    );
    this.callerOffer = { body: setup.invite.body, contentType: setup.invite.headers.get('Content-Type') };
    this.callerMedia = setup.invite.body;
    this.aParty = this.callerLeg;
    // A call without an offer in its INVITE (late offer) is relayed as without an engine.
    this.media = isSdp(setup.invite.body, setup.invite.headers.get('Content-Type'))
      ? services.media
      : undefined;
  }

  /** The caller's offer (the INVITE itself is released once the caller's dialog is confirmed). */
  private readonly callerOffer: { body: Buffer; contentType: string | undefined };
  /**
   * The SDP the caller sent last (its INVITE's offer, then re-offers and answers to our
   * re-INVITEs): what new legs are offered after the caller's first pairing (transfers, requeue).
   */
  private callerMedia: Buffer;
  /**
   * The party on the caller's side of a connected call: the caller, until the caller transfers
   * the call away (then the party it was talking to, now talking to the target).
   */
  private aParty: InboundLeg | OutboundLeg;
  /**
   * The party whose offer the engine made each placed leg's INVITE from (default: the caller),
   * and the engine tag it offered with.
   */
  private readonly offererOf = new Map<string, { party: InboundLeg | OutboundLeg; tag: string }>();
  /**
   * Engine tags of parties that are not their CallLegId: rtpengine lets a party that answered an
   * offer make offers of its own only under another tag (a callee whose caller transferred it).
   */
  private readonly engineTags = new Map<string, string>();

  /** The party's tag in the media engine (its CallLegId unless renamed, see `engineTags`). */
  private tagOf(leg: InboundLeg | OutboundLeg): string {
    return this.engineTags.get(leg.callLegId) ?? leg.callLegId;
  }
  /** The last SDP each placed leg sent in a re-offer or an answer to our re-INVITE. */
  private readonly sdpFrom = new Map<string, Buffer>();
  /** A blind transfer in progress (REFER accepted, its target not yet answered). */
  private transfer?: {
    transferor: InboundLeg | OutboundLeg;
    /** The party that stays: it is connected to the target when the target answers. */
    remaining: InboundLeg | OutboundLeg;
    /** The engine tag the remaining party offers to the target with. */
    remainingTag?: string;
    target: TransferTarget;
    leg?: OutboundLeg;
    timer?: NodeJS.Timeout;
    /** The transferor hung up after its REFER was accepted (as phones do after a blind transfer). */
    transferorGone: boolean;
  };
  /** Whether the platform answered the caller itself to play a queue's audio (DESIGN.md §9). */
  answeredByQueue = false;
  /** What plays to the caller while the call waits in a queue. */
  private waitingAudio?: Playlist;
  /** Music to a party whose peer holds the call, by the listener's CallLegId. */
  private readonly holdMusic = new Map<string, Playlist>();
  /** The call's recording, once started: continued across transfers while the caller's side stays. */
  private recording?: { recordingId: string; aLegId: string };
  /** The whole call is blocked in the engine: agents are rung for the waiting caller (startAnchored). */
  private queueCallBlocked = false;
  /** CallLegIds of the parties holding the call. */
  private readonly holding = new Set<string>();
  /** Every SDP the caller is sent carries one origin (the engine's change with its pairings). */
  private readonly callerSdp = new SdpOrigin();
  /** The last SDP sent to the caller (a session refresh without an offer is answered with it). */
  private lastCallerSdp?: Buffer;
  /** A re-INVITE of ours to the caller is in progress (the caller's own gets 491). */
  private reinvitingCaller = false;
  /**
   * The queue is done with the caller, who hears a parting prompt (max wait's goodbye, a closed
   * queue's prompt) before the platform hangs up: hanging up meanwhile ends the call Unavailable.
   */
  private hearingPartingPrompt = false;

  /** The tag and via-branch of the queue's silent party in the media engine. */
  private get queueTag(): string {
    return `${this.callerLeg.callLegId}.queue`;
  }

  private sdpToCaller(sdp: Buffer): Buffer {
    const body = this.callerSdp.rewrite(sdp);
    this.lastCallerSdp = body;
    return body;
  }

  /** The SDP a party sent last: what a new leg is offered from when it joins that party. */
  private partyMedia(leg: InboundLeg | OutboundLeg): Buffer {
    if (leg === this.callerLeg) return this.callerMedia;
    return this.sdpFrom.get(leg.callLegId) ?? (leg as OutboundLeg).answerBody.body;
  }

  /** The last SDP placed legs were sent after their INVITE (relayed re-offers and answers). */
  private readonly sdpSentTo = new Map<string, Buffer>();

  /** What a party was last sent: the base of a re-offer's payload type numbers. */
  private lastSdpTo(leg: InboundLeg | OutboundLeg): Buffer | undefined {
    if (leg === this.callerLeg) return this.lastCallerSdp;
    if (!(leg instanceof OutboundLeg)) return undefined;
    return this.sdpSentTo.get(leg.callLegId) ?? leg.targets[leg.answeredTargetIndex ?? 0]?.body;
  }

  /** An engine re-offer to a party, with the payload type numbers it negotiated before. */
  private reofferTo(leg: InboundLeg | OutboundLeg, offer: Buffer): Buffer {
    const body = keepPayloadTypes(offer, this.lastSdpTo(leg));
    if (leg === this.callerLeg) return this.sdpToCaller(body);
    this.sdpSentTo.set(leg.callLegId, body);
    return body;
  }

  private playlistServices(): PlaylistServices {
    return {
      media: this.media!,
      callId: this.callId,
      logger: this.services.logger,
      append: (fact) => this.append(fact),
      playable: this.services.playable,
    };
  }

  private audioOf(queue: Queue): QueueAudio | undefined {
    return queue.audio ?? this.services.defaultQueueAudio;
  }

  /**
   * The engine anchoring this call's media, if any. Dropped (the call goes on signalling-only) when
   * the engine does not answer the call's first offer: a call is worth more than its anchoring.
   */
  media?: MediaEngine;
  /** Whether the engine has taken any of this call's SDP (then it cannot be dropped any more). */
  private anchored = false;

  /** The media engine failed this call: log, and end it with a clear cause. */
  private mediaFailed(err: unknown, leg: InboundLeg | OutboundLeg | undefined, what: string): void {
    this.services.logger.error(
      { err, callId: this.callId, callLegId: leg?.callLegId },
      `call: media engine ${what} failed`,
    );
    if (this.state === 'ended') return;
    if (this.state === 'connected') this.hangup(undefined, 'MediaError', 500);
    else this.fail(503, 'Failed', 'Service Unavailable (media engine)');
  }

  private kindOf(flow: Flow): MediaEndpointKind {
    return this.services.endpointKind?.(flow) ?? endpointKind(flow);
  }

  private append(fact: JournalFact): void {
    this.services.journal.append(fact);
  }

  /** Journal the call, where it is routed (so nothing downstream routes again), and its caller leg. */
  begin(route: CallRoute, extra: { queueId?: string } = {}): void {
    this.append({
      type: 'CallStarted',
      callId: this.callId,
      callKind: this.kind,
      aNum: this.aNum,
      bNum: this.bNum,
      route,
      callerUserId: this.callerUser?.userId,
      queueId: extra.queueId ?? this.onBehalfOf?.queueId,
      callbackListId: this.onBehalfOf?.callbackListId,
      callbackRequestId: this.onBehalfOf?.callbackRequestId,
    });
    this.append({
      type: 'LegCreated',
      callId: this.callId,
      callLegId: this.callerLeg.callLegId,
      role: 'caller',
      direction: 'inbound',
      userId: this.callerUser?.userId,
      target: flowText(this.callerLeg.flow),
      sip: this.callerLeg.identifiers,
    });
    if (this.callerUser) this.hold(this.callerLeg.callLegId, this.callerUser.userId);
  }

  private hold(callLegId: string, userId: string): void {
    this.heldUsers.set(callLegId, { userId, wrapUpSeconds: 0 });
    this.services.agents.legStarted(userId);
  }

  private release(callLegId: string, wrapUpSeconds?: number): void {
    const held = this.heldUsers.get(callLegId);
    if (!held) return;
    this.heldUsers.delete(callLegId);
    this.services.agents.legEnded(held.userId, wrapUpSeconds ?? held.wrapUpSeconds);
  }

  // ---- placing legs ----------------------------------------------------------------------------

  private fromHeader(): string {
    const display = this.callerDisplayName ? `"${this.callerDisplayName.replace(/["\\]/g, '')}" ` : '';
    return `${display}<sip:${this.aNum}@${this.services.domain}>`;
  }

  /** Ring every registered device of a user (a direct call's callee leg). */
  placeUserLeg(user: User, queue?: Queue): OutboundLeg | undefined {
    const targets = this.services.targetsOfUser(user);
    if (targets.length === 0) return undefined;
    return this.placeLeg({
      role: queue ? 'allocation' : 'callee',
      user,
      queue,
      targets,
      to: `<sip:${user.extension}@${this.services.domain}>`,
    });
  }

  placeTrunkLeg(target: InviteTarget): OutboundLeg {
    return this.placeLeg({ role: 'trunk', targets: [target], to: `<${target.uri}>` })!;
  }

  private placeLeg(opts: {
    role: 'callee' | 'allocation' | 'trunk' | 'transfer';
    user?: User;
    queue?: Queue;
    targets: InviteTarget[];
    to: string;
    /** The From to present (default: the caller's number). */
    from?: string;
    /** The party the new leg's offer comes from (default: the caller), and its engine tag. */
    offerer?: { party: InboundLeg | OutboundLeg; tag: string };
  }): OutboundLeg {
    const offerer = opts.offerer ?? { party: this.callerLeg, tag: this.tagOf(this.callerLeg) };
    const invite = { body: this.partyMedia(offerer.party), contentType: 'application/sdp' };
    const extraHeaders: [string, string][] = [[CALL_HEADERS.serverCallId, this.callId]];
    const leg = new OutboundLeg(
      this.services.stack,
      {
        targets: opts.targets,
        from: opts.from ?? this.fromHeader(),
        to: opts.to,
        body: invite.body,
        contentType: invite.contentType,
        extraHeaders,
        now: this.services.now(),
      },
      opts.role,
      opts.user?.userId,
      opts.queue?.queueId,
      this,
    );
    extraHeaders.push([CALL_HEADERS.callLegId, leg.callLegId]);
    if (opts.queue)
      extraHeaders.push(
        [CALL_HEADERS.queueId, opts.queue.queueId],
        [CALL_HEADERS.queueName, opts.queue.name],
      );
    if (opts.role === 'trunk' || (opts.role === 'transfer' && !opts.user))
      extraHeaders.push(['P-Asserted-Identity', opts.from ?? this.fromHeader()]);
    this.legs.set(leg.callLegId, leg);
    if (offerer.party !== this.callerLeg) this.offererOf.set(leg.callLegId, offerer);
    this.append({
      type: 'LegCreated',
      callId: this.callId,
      callLegId: leg.callLegId,
      role: opts.role,
      direction: 'outbound',
      userId: opts.user?.userId,
      queueId: opts.queue?.queueId,
      target: opts.targets.map((t) => t.uri).join(', '),
      sip: leg.identifiers,
    });
    if (opts.user) this.hold(leg.callLegId, opts.user.userId);
    if (this.media) void this.startAnchored(leg, this.media);
    else leg.start();
    return leg;
  }

  /** One engine offer per target, made for that device's kind, then the INVITEs. */
  private async startAnchored(leg: OutboundLeg, media: MediaEngine): Promise<void> {
    const offerer = this.offererOf.get(leg.callLegId) ?? {
      party: this.callerLeg,
      tag: this.tagOf(this.callerLeg),
    };
    const offer = this.partyMedia(offerer.party);
    try {
      const bodies = await Promise.all(
        leg.targets.map((target, index) =>
          media.offer({
            callId: this.callId,
            fromTag: offerer.tag,
            branch: branchOf(leg.callLegId, index),
            sdp: offer,
            toward: this.kindOf(target.flow),
          }),
        ),
      );
      this.anchored = true;
      leg.targets.forEach((target, index) => {
        target.body = bodies[index];
      });
    } catch (err) {
      if (!leg.isActive) return;
      if (!this.anchored && isMediaError(err) && UNREACHABLE.has(err.code)) {
        this.services.logger.error(
          { err, callId: this.callId },
          'call: media engine unreachable; this call goes on signalling-only',
        );
        this.media = undefined;
        for (const target of leg.targets) target.body = undefined;
        if (!leg.abandoned && this.state !== 'ended') leg.start();
        return;
      }
      this.services.logger.error(
        { err, callId: this.callId, callLegId: leg.callLegId },
        'call: media engine offer failed',
      );
      this.endLeg(leg, 500, 'MediaError');
      if (leg.role === 'allocation' && this.queueSession?.pendingLegs.includes(leg))
        this.queueSession.allocationFailed(leg);
      else if (this.state === 'routing' && ![...this.legs.values()].some((l) => l.isActive))
        this.fail(503, 'Failed', 'Service Unavailable (media engine)');
      return;
    }
    // A caller waiting in a queue hears only what the engine plays until an agent is bridged
    // (bridgeCaller): the whole call is blocked in the engine BEFORE an agent is INVITEd. An agent
    // sends as soon as it answers, before the engine has its answer; forwarded to the caller then
    // (and, between the engine's answer and the caller's re-INVITE, under another SSRC), a browser
    // caller — Chrome plays the newest unsignaled stream it has seen — stayed on one of those
    // few packets after the bridge: silence.
    if (this.state === 'queued' && this.answeredByQueue && !this.queueCallBlocked) {
      try {
        await media.blockMedia(this.callId, undefined, true);
        this.queueCallBlocked = true;
      } catch (err) {
        this.services.logger.warn({ err, callId: this.callId }, 'call: media engine block failed');
      }
    }
    // The call may have moved on while the engine answered (caller gone, allocation cancelled).
    if (leg.isActive && !leg.abandoned && this.state !== 'ended') leg.start();
  }

  // ---- routing outcomes ------------------------------------------------------------------------

  /**
   * A direct call to a user: every device rings; 480 when none is registered. A user who is
   * DoNotDisturb is not rung: 486 Busy Here, or 480 when the user's `dndResponse` says so. (Busy
   * and OffWork users still get direct calls: availability is about queue calls.)
   */
  routeToUser(user: User): void {
    this.begin({ kind: 'user', userId: user.userId });
    const refusal = this.doNotDisturb(user);
    if (refusal) {
      this.fail(refusal.status, refusal.reason, refusal.phrase);
      return;
    }
    const leg = this.placeUserLeg(user);
    if (!leg) this.fail(480, 'Unavailable', 'Temporarily Unavailable');
    else this.startRingTimer();
  }

  /** How a call to `user` is refused while the user is DoNotDisturb; undefined when they are not. */
  private doNotDisturb(user: User): { status: number; reason: CallEndReason; phrase: string } | undefined {
    if (this.services.agents.availabilityOf(user.userId).availability !== 'DoNotDisturb') return undefined;
    return user.dndResponse === 'unavailable'
      ? { status: 480, reason: 'Unavailable', phrase: 'Temporarily Unavailable (Do Not Disturb)' }
      : { status: 486, reason: 'Busy', phrase: 'Busy Here (Do Not Disturb)' };
  }

  routeToTrunk(target: InviteTarget): void {
    this.begin({ kind: 'trunk', uri: target.uri });
    this.placeTrunkLeg(target);
    this.startRingTimer();
  }

  /** Nobody answers a direct call forever: after the ring timeout the caller gets 480. */
  private startRingTimer(): void {
    const timer = setTimeout(() => {
      if (this.state === 'routing') this.fail(480, 'NoAnswer', 'No Answer');
    }, this.services.ringTimeoutMs ?? 60_000);
    timer.unref();
  }

  /** An inbound service call: the caller waits in the queue (or, when it is closed, is refused). */
  routeToQueue(queue: Queue): void {
    this.begin({ kind: 'queue', queueId: queue.queueId }, { queueId: queue.queueId });
    if (!isOpenAt(queue.openingHours, this.services.now())) {
      this.refuseClosed(queue);
      return;
    }
    this.enterQueue(queue);
  }

  /**
   * The queue's opening hours say closed: the call never waits (QueueLeft `ScheduleClosed`, the
   * service call's detail 102 QueueScheduleClosed). With a media engine the queue answers the
   * caller, who hears the closed prompt, then the platform hangs up (BYE with Reason 480); without
   * one (or with `ringWhileWaiting`, or when the engine fails) the caller gets 480.
   */
  private refuseClosed(queue: Queue): void {
    this.append({ type: 'QueueLeft', callId: this.callId, queueId: queue.queueId, reason: 'ScheduleClosed' });
    const closed = (): void => this.fail(480, 'Unavailable', 'Temporarily Unavailable (queue closed)');
    const prompt = this.services.closedPrompt;
    const audio = this.audioOf(queue);
    if (!this.media || !prompt || audio?.ringWhileWaiting || !this.callerLeg.pending) {
      closed();
      return;
    }
    // Queued without a queue session: the caller is answered and hears a prompt, nothing waits.
    this.state = 'queued';
    this.hearingPartingPrompt = true;
    this.answerByQueue(queue, 'closed', 0).then(
      (answered) => {
        if (this.state === 'ended') return;
        if (!answered || !this.media) {
          closed();
          return;
        }
        this.waitingAudio ??= new Playlist(this.playlistServices(), this.callerLeg.callLegId);
        this.waitingAudio.start({
          once: [{ file: prompt, audio: 'closed', queueId: queue.queueId }],
          onFinished: closed,
        });
      },
      (err: unknown) => this.mediaFailed(err, this.callerLeg, 'queue answer (closed)'),
    );
  }

  /**
   * The call waits in `queue`. With a media engine the platform answers the caller and plays the
   * queue's greeting, then its music (DESIGN.md §9); members are offered the call once the caller
   * hears it. Without one (or with `ringWhileWaiting`) the caller hears ringing (180) until an
   * agent answers.
   */
  private enterQueue(queue: Queue): void {
    this.state = 'queued';
    this.append({ type: 'QueueEntered', callId: this.callId, queueId: queue.queueId });
    const session = new QueueSession(queue, this.queueHost(), this.services.agents, {
      retryDelayMs: this.services.queueRetryDelayMs,
    });
    this.queueSession = session;
    const startAllocating = (): void => {
      if (session.active && this.state === 'queued') session.start();
    };
    if (this.answeredByQueue) {
      // Overflow from another queue: the caller hears this queue's greeting and music.
      this.playWaitingAudio(queue);
      startAllocating();
      return;
    }
    const audio = this.audioOf(queue);
    if (this.media && audio && !audio.ringWhileWaiting && this.callerLeg.pending) {
      this.answerByQueue(queue, 'waiting', audioDurationMs(audio.greeting)).then(
        (answered) => {
          if (answered) this.playWaitingAudio(queue, audio);
          else if (this.state === 'queued' && this.callerLeg.pending) this.callerLeg.provisional(180);
          startAllocating();
        },
        (err: unknown) => this.mediaFailed(err, this.callerLeg, 'queue answer'),
      );
      return;
    }
    this.callerLeg.provisional(180);
    startAllocating();
  }

  /**
   * Answer the caller for the queue: the engine pairs the caller with a silent party of the
   * queue's (its answer takes the audio on a discard port, and the caller's media is blocked
   * while it waits), and the caller gets the engine's SDP in a 200 OK — with the call's
   * identifiers, as every answer, and `X-Queue-State` (`waiting`, or `closed` for a closed queue's
   * prompt). Resolves true once answered (then the caller may hear audio); false when the engine
   * could not be reached (the call goes on signalling-only) or the caller went away meanwhile.
   */
  private async answerByQueue(
    queue: Queue,
    queueState: 'waiting' | 'closed',
    greetingMs: number,
  ): Promise<boolean> {
    const media = this.media!;
    const { callId } = this;
    const callerLegId = this.callerLeg.callLegId;
    let offer: Buffer;
    try {
      offer = await media.offer({
        callId,
        fromTag: callerLegId,
        branch: this.queueTag,
        sdp: this.callerOffer.body,
        toward: 'rtp',
      });
    } catch (err) {
      if (!this.anchored && isMediaError(err) && UNREACHABLE.has(err.code)) {
        this.services.logger.error(
          { err, callId },
          'call: media engine unreachable; this queue call goes on signalling-only',
        );
        this.media = undefined;
        return false;
      }
      throw err;
    }
    this.anchored = true;
    const answer = await this.answerAsSilentParty(media, offer, this.queueTag);
    await media.blockMedia(callId, callerLegId, true);
    // The caller may have gone while the engine answered.
    if (this.state !== 'queued' || !this.callerLeg.pending) return false;
    this.callerLeg.responseHeaders = [
      ...this.callerLeg.responseHeaders,
      [CALL_HEADERS.queueId, queue.queueId],
      [CALL_HEADERS.queueName, queue.name],
      [CALL_HEADERS.queueState, queueState],
      [CALL_HEADERS.queueGreetingMs, String(Math.round(greetingMs))],
    ];
    this.callerLeg.answer(this.sdpToCaller(answer), 'application/sdp', this.services.now());
    this.answeredByQueue = true;
    this.append({ type: 'LegAnswered', callId, callLegId: callerLegId, sip: this.callerLeg.identifiers });
    this.append({ type: 'QueueAnswered', callId, callLegId: callerLegId, queueId: queue.queueId });
    this.services.dialogs.bind(this.callerLeg);
    this.startLivenessProbe();
    return true;
  }

  /** The queue's silent party answers the engine's offer of the caller: the SDP for the caller. */
  private answerAsSilentParty(media: MediaEngine, offer: Buffer, branch?: string): Promise<Buffer> {
    return media.answer({
      callId: this.callId,
      fromTag: this.callerLeg.callLegId,
      toTag: this.queueTag,
      ...(branch ? { branch } : {}),
      sdp: silentPartyAnswer(offer),
      toward: this.kindOf(this.callerLeg.flow),
    });
  }

  /** The queue's greeting once, a position announcement if configured, then its music in a loop. */
  private playWaitingAudio(queue: Queue, audio = this.audioOf(queue)): void {
    if (!audio || !this.media) return;
    const { queueId } = queue;
    this.waitingAudio ??= new Playlist(this.playlistServices(), this.callerLeg.callLegId);
    const position = (): PlaylistItem | undefined => this.positionAnnouncement(queueId);
    const first = audio.announcePosition ? position() : undefined;
    this.waitingAudio.start({
      once: [
        ...(audio.greeting ? [{ file: audio.greeting, audio: 'greeting' as const, queueId }] : []),
        ...(first ? [first] : []),
      ],
      loop: { file: audio.musicOnHold, audio: 'music', queueId },
      interject: audio.announcePosition
        ? { everyMs: audio.announceEverySeconds * 1000, item: position }
        : undefined,
    });
  }

  private positionAnnouncement(queueId: string): PlaylistItem | undefined {
    const { prompts, queuePosition, expectedWaitMinutes } = this.services;
    if (!prompts || this.state !== 'queued' || !this.queueSession?.active) return undefined;
    try {
      const position = queuePosition?.(this) ?? 1;
      const file = prompts.positionAnnouncement(position, expectedWaitMinutes?.(queueId));
      return { file, audio: 'position', queueId };
    } catch (err) {
      this.services.logger.warn({ err, callId: this.callId }, 'call: no position announcement');
      return undefined;
    }
  }

  private queueHost() {
    return {
      callId: this.callId,
      offer: (user: User, queue: Queue) => {
        const leg = this.placeUserLeg(user, queue);
        if (leg)
          this.append({
            type: 'AllocationOffered',
            callId: this.callId,
            callLegId: leg.callLegId,
            queueId: queue.queueId,
            userId: user.userId,
          });
        return leg;
      },
      connect: (leg: OutboundLeg) => this.connect(leg),
      withdraw: (leg: OutboundLeg, reason: AllocationRejectReason) => this.withdrawAllocation(leg, reason),
      maxWaitExceeded: (queue: Queue) => this.onMaxWait(queue),
      userById: (userId: string) => this.services.directory.userById(userId),
      now: () => this.services.now(),
    };
  }

  private withdrawAllocation(leg: OutboundLeg, reason: AllocationRejectReason): void {
    const text =
      reason === 'OtherConnected' ? 'SIP;cause=200;text="OtherConnected"' : `SIP;cause=487;text="${reason}"`;
    leg.cancel(text, this.services.now());
    this.appendAllocationRejected(leg, reason);
    this.endLeg(leg, 487, reason);
  }

  /** The member of an allocation leg did not take the call, for `reason`. */
  private appendAllocationRejected(
    leg: OutboundLeg,
    reason: AllocationRejectReason,
    sipStatus?: number,
  ): void {
    this.append({
      type: 'AllocationRejected',
      callId: this.callId,
      callLegId: leg.callLegId,
      queueId: leg.queueId!,
      userId: leg.userId!,
      reason,
      sipStatus,
    });
  }

  private onMaxWait(queue: Queue): void {
    const overflow = queue.overflowTarget
      ? this.services.directory.queueByReference(queue.overflowTarget)
      : undefined;
    // A closed overflow queue takes no calls: the call leaves as if there were none.
    if (
      overflow &&
      overflow.queueId !== queue.queueId &&
      isOpenAt(overflow.openingHours, this.services.now())
    ) {
      this.append({
        type: 'QueueLeft',
        callId: this.callId,
        queueId: queue.queueId,
        reason: 'Overflow',
        overflowTarget: overflow.queueId,
      });
      this.enterQueue(overflow);
      return;
    }
    this.append({
      type: 'QueueLeft',
      callId: this.callId,
      queueId: queue.queueId,
      reason: 'MaxWaitExceeded',
    });
    const goodbye = this.services.goodbyePrompt;
    if (this.answeredByQueue && this.waitingAudio && goodbye) {
      // The caller hears why the call ends, then the platform hangs up.
      this.hearingPartingPrompt = true;
      this.waitingAudio.start({
        once: [{ file: goodbye, audio: 'goodbye', queueId: queue.queueId }],
        onFinished: () => this.fail(480, 'Unavailable', 'Temporarily Unavailable'),
      });
      return;
    }
    this.fail(480, 'Unavailable', 'Temporarily Unavailable');
  }

  // ---- what the legs report (InviteClientEvents, InviteServerEvents) ---------------------------

  onRinging(leg: OutboundLeg, response: SipResponse): void {
    if (this.state === 'ended') return;
    this.append({
      type: 'LegRinging',
      callId: this.callId,
      callLegId: leg.callLegId,
      sipStatus: response.status,
    });
    if (this.transfer?.leg === leg) this.notifyTransfer(this.transfer.transferor, 180, 'Ringing', false);
    if (this.state === 'routing') {
      // Direct calls pass ringing (and early media from a single trunk leg) through.
      const early = leg.role === 'trunk' && response.body.length > 0;
      if (early && this.media) {
        void this.answerThroughEngine(leg, response.body).then(
          (body) => {
            if (this.state === 'routing') this.callerLeg.provisional(183, body, 'application/sdp');
          },
          (err: unknown) => this.mediaFailed(err, leg, 'answer (early media)'),
        );
        return;
      }
      this.callerLeg.provisional(
        early ? 183 : 180,
        early ? response.body : undefined,
        response.headers.get('Content-Type'),
      );
    }
  }

  /** The callee's answer on `leg`, rewritten by the engine for the caller. */
  private answerThroughEngine(leg: OutboundLeg, sdp: Buffer): Promise<Buffer> {
    const offerer = this.offererOf.get(leg.callLegId) ?? {
      party: this.callerLeg,
      tag: this.tagOf(this.callerLeg),
    };
    return this.media!.answer({
      callId: this.callId,
      fromTag: offerer.tag,
      toTag: this.tagOf(leg),
      branch: branchOf(leg.callLegId, leg.answeredTargetIndex ?? 0),
      sdp,
      toward: this.kindOf(offerer.party.flow),
    });
  }

  onAnswered(leg: OutboundLeg, response: SipResponse): void {
    void response;
    if (this.transfer?.leg === leg && this.state === 'connected') {
      this.append({
        type: 'LegAnswered',
        callId: this.callId,
        callLegId: leg.callLegId,
        sip: leg.identifiers,
      });
      this.completeTransfer(leg);
      return;
    }
    if (
      this.state === 'ended' ||
      this.state === 'connected' ||
      (!this.callerLeg.pending && !this.answeredByQueue)
    ) {
      leg.sendBye('SIP;cause=487;text="Call already ended"');
      this.endLeg(leg, 487, 'AnsweredTooLate');
      return;
    }
    this.append({ type: 'LegAnswered', callId: this.callId, callLegId: leg.callLegId, sip: leg.identifiers });
    if (this.queueSession && leg.role === 'allocation') {
      if (!this.queueSession.allocationAnswered(leg)) {
        leg.sendBye('SIP;cause=487;text="Call left the queue"');
        this.endLeg(leg, 487, 'AnsweredTooLate');
      }
      return;
    }
    this.connect(leg);
  }

  onFailed(leg: OutboundLeg, status: number, cause: string): void {
    if (this.state === 'ended') return;
    // The UA reports its own failures by name, a final response by its reason phrase.
    const ended: [LegEndCause, string?] =
      cause === 'Timeout' || cause === 'TransportError' ? [cause] : ['Refused', cause];
    if (this.transfer?.leg === leg) {
      this.endLeg(leg, status, ...ended);
      this.transferFailed(status, cause === 'Timeout' ? 'Request Timeout' : cause);
      return;
    }
    if (leg.role === 'allocation' && this.queueSession) {
      if (!this.queueSession.pendingLegs.includes(leg)) return;
      this.appendAllocationRejected(leg, 'GenericUserRejected', status);
      this.endLeg(leg, status, ...ended);
      this.queueSession.allocationFailed(leg);
      return;
    }
    this.endLeg(leg, status, ...ended);
    if (this.state === 'routing' && ![...this.legs.values()].some((l) => l.isActive)) {
      const reason: CallEndReason =
        status === 486 || status === 600
          ? 'Busy'
          : status === 603
            ? 'Rejected'
            : status === 404
              ? 'NotFound'
              : status === 408 || status === 480
                ? 'NoAnswer'
                : 'Failed';
      this.fail(status === 408 ? 480 : status, reason);
    }
  }

  onAckTimeout(): void {
    this.services.logger.warn({ callId: this.callId }, 'call: caller never ACKed the 2xx; hanging up');
    this.hangup(undefined, 'AckTimeout', 408);
  }

  // ---- connecting and relaying -----------------------------------------------------------------

  connect(leg: OutboundLeg): void {
    this.state = 'connected';
    this.connectedLeg = leg;
    if (this.queueSession) {
      this.append({
        type: 'AllocationConnected',
        callId: this.callId,
        callLegId: leg.callLegId,
        queueId: leg.queueId!,
        userId: leg.userId!,
      });
      this.append({ type: 'QueueLeft', callId: this.callId, queueId: leg.queueId!, reason: 'Answered' });
      this.services.waitObserved?.(leg.queueId!, this.services.now() - this.queueSession.enteredAtMs);
      const held = this.heldUsers.get(leg.callLegId);
      const queue = this.services.directory.queueById(leg.queueId!);
      if (held && queue) held.wrapUpSeconds = queue.wrapUpSeconds;
    }
    for (const other of this.legs.values()) {
      if (other !== leg && other.isActive) {
        other.cancel('SIP;cause=200;text="Call completed elsewhere"', this.services.now());
        this.endLeg(other, 487, 'CompletedElsewhere');
      }
    }
    const { body, contentType } = leg.answerBody;
    this.services.dialogs.bind(leg);
    if (this.answeredByQueue) {
      void this.bridgeFromQueue(leg, body);
      return;
    }
    if (this.media && body.length > 0) {
      this.answerThroughEngine(leg, body).then(
        (anchored) => this.answerCaller(anchored, 'application/sdp'),
        (err: unknown) => this.mediaFailed(err, leg, 'answer'),
      );
      return;
    }
    this.answerCaller(body, contentType);
  }

  /**
   * An agent answered a call the queue had answered: the engine pairs caller and agent (the
   * agent's answer), the agent hears the queue's whisper if there is one (the agent's own media
   * blocked meanwhile), the caller's music stops and the caller's media flows again, and the
   * caller is re-INVITEd with the engine's SDP for the agent's side (new ports, and for a browser
   * new ICE and DTLS). Only then is the call recorded: from the moment both hear each other.
   */
  private async bridgeFromQueue(leg: OutboundLeg, agentSdp: Buffer): Promise<void> {
    const queue = leg.queueId ? this.services.directory.queueById(leg.queueId) : undefined;
    await this.bridgeCaller(leg, agentSdp, {
      whisper: queue ? this.audioOf(queue)?.whisper : undefined,
      queueId: queue?.queueId,
      reason: 'bridge from the queue',
    });
  }

  /**
   * Connect the (already answered) caller to the party of `leg`, which answered with `sdp`: with
   * an engine, pair them there (`leg`'s answer), play `whisper` to that party first if given, stop
   * whatever the caller hears, let its media through, and re-INVITE the caller with the engine's
   * offer for the new side; without one, re-INVITE the caller with the party's own SDP. Journals
   * `MediaBridged` and starts recording when configured. Ends the call when the caller refuses.
   */
  private async bridgeCaller(
    leg: OutboundLeg,
    sdp: Buffer,
    options: { whisper?: string; queueId?: string; reason: string },
  ): Promise<void> {
    const media = this.media;
    const { callId } = this;
    // The party that stays: the caller, or — after the caller transferred the call — its peer.
    const party = this.aParty;
    const partyLegId = party.callLegId;
    const partyTag = this.tagOf(party);
    const legTag = this.tagOf(leg);
    const live = (): boolean =>
      this.state === 'connected' && this.connectedLeg === leg && this.aParty === party;
    if (sdp.length === 0) {
      this.services.logger.error({ callId }, 'call: the party answered without SDP; cannot bridge');
      this.hangup(undefined, 'MediaError', 488);
      return;
    }
    // What the new party sends stays blocked in the engine until the party is re-INVITEd and the
    // engine has its answer. Forwarded earlier, it reached the party on the party's old media
    // while the engine still played to it and then re-offered: the engine sent a packet or two of
    // that stream under another SSRC meanwhile, and a browser (Chrome plays the newest unsignaled
    // stream it has seen) stayed on that short stream after the re-INVITE: silence.
    let blocked = false;
    try {
      let offer = sdp;
      if (media) {
        await this.answerThroughEngine(leg, sdp);
        if (!live()) return;
        await media.blockMedia(callId, legTag, true);
        blocked = true;
        const whisper = options.whisper;
        if (whisper) {
          const toAgent = new Playlist(this.playlistServices(), legTag, leg.callLegId);
          await new Promise<void>((resolve) =>
            toAgent.start({
              once: [{ file: whisper, audio: 'whisper', queueId: options.queueId }],
              onFinished: resolve,
            }),
          );
        }
        if (!live()) return;
        await this.unblockMedia(party);
        if (party === this.callerLeg) await this.waitingAudio?.stop();
        await this.stopHoldMusicTo(party);
        offer = await media.offer({
          callId,
          fromTag: legTag,
          toTag: partyTag,
          sdp,
          toward: this.kindOf(party.flow),
        });
      }
      if (!live()) return;
      const response = await this.reinviteParty(party, offer);
      if (!live()) return;
      if (!response || response.status >= 300) {
        this.services.logger.warn(
          { callId, status: response?.status },
          'call: the caller did not take the new media (re-INVITE failed); hanging up',
        );
        this.hangup(undefined, response ? 'MediaError' : 'PeerUnreachable', response?.status ?? 408);
        return;
      }
      if (isSdp(response.body, response.headers.get('Content-Type'))) {
        if (media)
          await media.answer({
            callId,
            fromTag: legTag,
            toTag: partyTag,
            sdp: response.body,
            toward: this.kindOf(leg.flow),
          });
      }
      if (!live()) return;
      // The party takes the new media: what the new party sends flows to it from now on.
      blocked = false;
      await this.unblockWholeCall();
      await this.unblockMedia(leg);
      if (!live()) return;
      this.append({ type: 'MediaBridged', callId, callLegId: partyLegId, peerLegId: leg.callLegId });
      this.startRecordingIfConfigured();
    } catch (err) {
      this.mediaFailed(err, leg, options.reason);
    } finally {
      // Bridging stopped half way (the call moved on) while `leg` still talks: never leave it muted.
      if (
        blocked &&
        this.state === 'connected' &&
        this.connectedLeg === leg &&
        !this.holding.has(leg.callLegId)
      )
        void this.unblockWholeCall().then(() => this.unblockMedia(leg));
    }
  }

  /** Undo the whole-call block of a queue call's ringing (startAnchored). */
  private async unblockWholeCall(): Promise<void> {
    if (!this.queueCallBlocked) return;
    this.queueCallBlocked = false;
    await this.unblockInEngine(undefined, {});
  }

  /**
   * Re-INVITE a party with an offer (through the engine's numbering and origin rules when it
   * anchors the call) and keep the SDP it answers with as what that party sent last.
   */
  private async reinviteParty(
    party: InboundLeg | OutboundLeg,
    offer: Buffer,
  ): Promise<SipResponse | undefined> {
    const isCaller = party === this.callerLeg;
    const body = this.media ? this.reofferTo(party, offer) : isCaller ? this.sdpToCaller(offer) : offer;
    const response = isCaller
      ? await this.reinviteCaller(body)
      : await sendReinvite(party as OutboundLeg, body);
    if (response && response.status < 300 && isSdp(response.body, response.headers.get('Content-Type'))) {
      if (isCaller) this.callerMedia = response.body;
      else this.sdpFrom.set(party.callLegId, response.body);
    }
    return response;
  }

  /**
   * A re-INVITE to the caller with our offer; resolves with the final response, or undefined when
   * none came. A 491 (the caller's own re-INVITE crossed ours) is retried after a pause (RFC 3261
   * §14.1: the owner of the Call-ID waits 2.1–4 s, we are not its owner: 0–2 s).
   */
  private async reinviteCaller(body: Buffer, attempt = 0): Promise<SipResponse | undefined> {
    this.reinvitingCaller = true;
    const response = await new Promise<SipResponse | undefined>((resolve) => {
      this.callerLeg.sendInDialog(
        'INVITE',
        { body, contentType: 'application/sdp', headers: [[CALL_HEADERS.queueState, 'connected']] },
        { onFinal: resolve, onFailure: () => resolve(undefined) },
      );
      if (!this.callerLeg.dialog) resolve(undefined);
    });
    this.reinvitingCaller = false;
    if (response?.status === 491 && attempt < 2 && this.state !== 'ended') {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 2000));
      return this.reinviteCaller(body, attempt + 1);
    }
    return response;
  }

  /** The 200 to the caller: the call is up on both sides. */
  private answerCaller(body: Buffer, contentType: string | undefined): void {
    // The caller may have gone while the media engine answered (CANCEL raced the answer).
    if (this.state !== 'connected' || !this.callerLeg.pending) return;
    this.callerLeg.answer(
      this.media && body.length > 0 ? this.sdpToCaller(body) : body,
      contentType,
      this.services.now(),
    );
    this.append({
      type: 'LegAnswered',
      callId: this.callId,
      callLegId: this.callerLeg.callLegId,
      sip: this.callerLeg.identifiers,
    });
    this.services.dialogs.bind(this.callerLeg);
    this.startLivenessProbe();
    this.startRecordingIfConfigured();
  }

  /**
   * Who this call's recording belongs to, if it is to be recorded (DESIGN.md §9): the queue of an
   * inbound service call (`recordInbound`) or of an outbound service / callback call
   * (`recordOutbound`); the user of a direct call who has `recordDirectCalls` (the caller first).
   */
  private recordingOwner(): RecordingOwner | undefined {
    const { directory } = this.services;
    if (this.kind === 'inbound-service') {
      const queueId = this.connectedLeg?.queueId ?? this.queueSession?.queue.queueId;
      const queue = queueId ? directory.queueById(queueId) : undefined;
      return queue?.recordInbound ? { kind: 'queue', queueId: queue.queueId } : undefined;
    }
    if (this.kind === 'outbound-service' || this.kind === 'outbound-callback') {
      const queue = this.onBehalfOf ? directory.queueById(this.onBehalfOf.queueId) : undefined;
      return queue?.recordOutbound ? { kind: 'queue', queueId: queue.queueId } : undefined;
    }
    if (this.callerUser?.recordDirectCalls) return { kind: 'user', userId: this.callerUser.userId };
    const callee = this.connectedLeg?.userId ? directory.userById(this.connectedLeg.userId) : undefined;
    return callee?.recordDirectCalls ? { kind: 'user', userId: callee.userId } : undefined;
  }

  /** The call is connected: record it from now on if its queue or user says so. */
  private startRecordingIfConfigured(): void {
    const owner = this.recordingOwner();
    const media = this.media;
    const bLeg = this.connectedLeg;
    if (!owner || !bLeg) return;
    if (!media) {
      this.services.logger.warn(
        { callId: this.callId, owner },
        'call: not recorded — no media engine anchors this call (signalling only)',
      );
      return;
    }
    const aLegId = this.aParty.callLegId;
    // After a transfer (or a requeue) the same caller's recording goes on with the new party.
    const continuing = this.recording?.aLegId === aLegId ? this.recording : undefined;
    const recordingId = continuing?.recordingId ?? randomUUID();
    this.recording = { recordingId, aLegId };
    media.startRecording(this.callId).then(
      (ports) => {
        const aEnginePorts = ports[this.tagOf(this.aParty)];
        const bEnginePorts = ports[this.tagOf(bLeg)];
        if (continuing)
          this.append({
            type: 'RecordingContinued',
            callId: this.callId,
            recordingId,
            bLegId: bLeg.callLegId,
            aEnginePorts,
            bEnginePorts,
          });
        else
          this.append({
            type: 'RecordingStarted',
            callId: this.callId,
            recordingId,
            owner,
            aLegId,
            bLegId: bLeg.callLegId,
            aEnginePorts,
            bEnginePorts,
          });
      },
      (err: unknown) =>
        this.services.logger.error(
          { err, callId: this.callId },
          'call: the media engine did not start recording',
        ),
    );
  }

  /**
   * Without media Switchboard cannot tell that a party vanished without a BYE (crash, network
   * loss), and such a call would stay up forever. So every `probeIntervalMs` both dialogs get an
   * in-dialog OPTIONS: any answer but 481 means the party is there; 481, 408 or no answer at all
   * (Timer F) ends the call. (A lighter stand-in for RFC 4028 session timers.)
   */
  private startLivenessProbe(): void {
    const interval = this.services.probeIntervalMs ?? 60_000;
    if (interval <= 0) return;
    const probe = (): void => {
      if (this.state !== 'connected' && this.state !== 'queued') return;
      // A caller the queue answered is probed while it waits, too.
      const parties = this.state === 'connected' ? [this.aParty, this.connectedLeg] : [this.callerLeg];
      for (const leg of parties) {
        if (!leg?.dialog) continue;
        leg.sendInDialog(
          'OPTIONS',
          {},
          {
            onFinal: (response) => {
              if (response.status === 481 || response.status === 408) this.hangup(leg, 'PartyGone', 408);
            },
            onFailure: () => this.hangup(leg, 'PartyGone', 408),
          },
        );
      }
      this.probeTimer = setTimeout(probe, interval);
      this.probeTimer.unref();
    };
    this.probeTimer = setTimeout(probe, interval);
    this.probeTimer.unref();
  }

  private probeTimer?: NodeJS.Timeout;

  /** A BYE in one of the call's dialogs (the UA answered it): the call ends on both sides. */
  onBye(leg: InboundLeg | OutboundLeg): void {
    if (this.transfer?.transferor === leg) {
      // A phone hangs up after its blind transfer was accepted: the call waits for the target.
      this.transfer.transferorGone = true;
      this.endLeg(leg, 200, 'Transferred');
      return;
    }
    if (this.state === 'queued' && leg === this.callerLeg) {
      // A caller the queue answered hangs up while waiting: they gave up, as a CANCEL would say.
      this.abandonSetup('CallerHungUp', 'SIP;cause=487;text="Caller hung up"', 'CallerCancelled');
      this.finish(200, this.hearingPartingPrompt ? 'Unavailable' : 'CallerCancelled', 'CallerHangup');
      return;
    }
    this.hangup(leg, leg === this.callerLeg ? 'CallerHangup' : 'CalleeHangup', 200);
  }

  /** re-INVITE, UPDATE, INFO… inside a confirmed dialog of this call: relayed to the other party. */
  onRequest(leg: InboundLeg | OutboundLeg, request: SipRequest, tx: ServerTransaction): void {
    if (request.method === 'REFER') {
      this.onRefer(leg, request, tx);
      return;
    }
    if (leg === this.callerLeg && (this.state === 'queued' || this.reinvitingCaller)) {
      this.onCallerRequestWhileWaiting(request, tx);
      return;
    }
    const peer =
      leg === this.aParty ? this.connectedLeg : leg === this.connectedLeg ? this.aParty : undefined;
    if (!peer?.dialog || this.state !== 'connected') {
      tx.respond(this.services.stack.createResponse(request, 481, 'Call/Transaction Does Not Exist'));
      return;
    }
    this.relay(request, tx, leg, peer);
  }

  /**
   * A request in the dialog of a caller the queue answered (or while we re-INVITE the caller): a
   * crossing re-INVITE gets 491; a re-offer is answered through the engine by the queue's silent
   * party; a session refresh without an offer gets the last SDP; anything else 200.
   */
  private onCallerRequestWhileWaiting(request: SipRequest, tx: ServerTransaction): void {
    const { stack } = this.services;
    const isOffer = request.method === 'INVITE' || request.method === 'UPDATE';
    if (!isOffer) {
      tx.respond(stack.createResponse(request, 200));
      return;
    }
    if (this.reinvitingCaller) {
      tx.respond(stack.createResponse(request, 491, 'Request Pending'));
      return;
    }
    const contact: [string, string] = ['Contact', `<${stack.contactUri(this.callerLeg.flow)}>`];
    const media = this.media;
    if (!media || !isSdp(request.body, request.headers.get('Content-Type'))) {
      const body = this.lastCallerSdp;
      tx.respond(
        stack.createResponse(request, 200, 'OK', {
          headers: [contact],
          body: request.method === 'INVITE' ? body : undefined,
          contentType: request.method === 'INVITE' && body ? 'application/sdp' : undefined,
        }),
      );
      return;
    }
    const callerLegId = this.callerLeg.callLegId;
    this.callerMedia = request.body;
    media
      .offer({
        callId: this.callId,
        fromTag: callerLegId,
        toTag: this.queueTag,
        sdp: request.body,
        toward: 'rtp',
      })
      .then((offer) => this.answerAsSilentParty(media, offer))
      .then(
        (answer) =>
          tx.respond(
            stack.createResponse(request, 200, 'OK', {
              headers: [contact],
              body: this.sdpToCaller(answer),
              contentType: 'application/sdp',
            }),
          ),
        (err: unknown) => {
          this.services.logger.error({ err, callId: this.callId }, 'call: media engine re-offer failed');
          tx.respond(stack.createResponse(request, 503, 'Service Unavailable (media engine)'));
        },
      );
  }

  private relay(
    request: SipRequest,
    tx: ServerTransaction,
    from: InboundLeg | OutboundLeg,
    to: InboundLeg | OutboundLeg,
  ): void {
    const { stack } = this.services;
    const headers: [string, string][] = [];
    for (const name of RELAYED_HEADERS)
      for (const value of request.headers.getLines(name)) headers.push([name, value]);
    const contentType = request.headers.get('Content-Type');
    const anchored =
      this.media !== undefined &&
      (request.method === 'INVITE' || request.method === 'UPDATE') &&
      isSdp(request.body, contentType);
    if (isSdp(request.body, contentType)) {
      if (from === this.callerLeg) this.callerMedia = request.body;
      else this.sdpFrom.set(from.callLegId, request.body);
    }
    // A hold (sendonly / inactive offer) or a resume: the held party hears music meanwhile.
    const holds = anchored ? isHoldOffer(request.body) : undefined;
    const inactive = anchored && audioDirection(request.body) === 'inactive';
    const respond = (response: SipResponse, answer: Buffer) => {
      let body = answer;
      if (anchored && inactive && response.status < 300 && body.length > 0)
        body = setAudioDirection(body, 'inactive');
      if (from === this.callerLeg && this.media && body.length > 0) body = this.sdpToCaller(body);
      else if (from instanceof OutboundLeg && body.length > 0) this.sdpSentTo.set(from.callLegId, body);
      const relayed: [string, string][] = [];
      if (request.method === 'INVITE' || request.method === 'UPDATE')
        relayed.push(['Contact', `<${stack.contactUri(from.flow)}>`]);
      for (const name of RELAYED_HEADERS)
        for (const value of response.headers.getLines(name)) relayed.push([name, value]);
      tx.respond(
        stack.createResponse(request, response.status, response.reason, {
          headers: relayed,
          body,
          contentType:
            body.length > 0 ? (response.headers.get('Content-Type') ?? 'application/sdp') : undefined,
        }),
      );
      if (holds !== undefined && response.status >= 200 && response.status < 300) {
        this.holdChanged(from, to, holds);
        releaseGuard(true);
      } else if (response.status >= 300) undoBlock();
    };
    // Between the engine's handling of a hold or resume offer and the answer, the engine may forward
    // a packet or two of a party's stream under another SSRC than before or after; a browser
    // (Chrome plays the newest unsignaled stream it has seen) then stays on that short stream:
    // silence. So the party whose media would leak is blocked in the engine first:
    // - a hold: the holder (it stays blocked while it holds; holdChanged);
    // - a resume: the other party, whose media reaches the resuming one, until the answer is through.
    const resumes = holds === false && this.state === 'connected' && this.holding.has(from.callLegId);
    const guarded =
      holds === true && this.state === 'connected' && !this.holding.has(from.callLegId)
        ? from
        : resumes && !this.holding.has(to.callLegId)
          ? to
          : undefined;
    /** The exchange is over (`done`: answered 2xx): what the guarded party sends flows again. */
    const releaseGuard = (done: boolean): void => {
      if (guarded === undefined || this.holding.has(guarded.callLegId)) return;
      if (guarded === from && done) return; // the holder holds now
      void this.unblockMedia(guarded);
    };
    const undoBlock = (): void => releaseGuard(false);
    if (anchored) {
      // A re-offer (hold, codec change) from either party goes through the engine both ways.
      (guarded ? this.blockMediaNow(guarded) : Promise.resolve())
        .then(() =>
          this.media!.offer({
            callId: this.callId,
            fromTag: this.tagOf(from),
            sdp: request.body,
            toward: this.kindOf(to.flow),
          }),
        )
        .then(
          (engineOffer) => {
            // An inactive hold is offered to the held party as sendonly: the engine sends it music.
            const offer = this.reofferTo(
              to,
              inactive ? setAudioDirection(engineOffer, 'sendonly') : engineOffer,
            );
            this.sendRelayed(
              request,
              tx,
              from,
              to,
              { body: offer, contentType: 'application/sdp', headers },
              respond,
              undoBlock,
            );
          },
          (err: unknown) => {
            tx.respond(stack.createResponse(request, 503, 'Service Unavailable (media engine)'));
            this.services.logger.error({ err, callId: this.callId }, 'call: media engine re-offer failed');
            undoBlock();
          },
        );
      return;
    }
    this.sendRelayed(request, tx, from, to, { body: request.body, contentType, headers }, respond);
  }

  private sendRelayed(
    request: SipRequest,
    tx: ServerTransaction,
    from: InboundLeg | OutboundLeg,
    to: InboundLeg | OutboundLeg,
    outgoing: { body: Buffer; contentType?: string; headers: [string, string][] },
    respond: (response: SipResponse, body: Buffer) => void,
    /** Called when the request fails without a response from `to` to relay. */
    failed?: () => void,
  ): void {
    const { stack } = this.services;
    const anchored = this.media !== undefined && outgoing.body !== request.body;
    to.sendInDialog(request.method, outgoing, {
      onFinal: (response) => {
        if (
          !anchored ||
          response.status >= 300 ||
          !isSdp(response.body, response.headers.get('Content-Type'))
        ) {
          respond(response, response.body);
          return;
        }
        this.media!.answer({
          callId: this.callId,
          fromTag: this.tagOf(from),
          toTag: this.tagOf(to),
          sdp: response.body,
          toward: this.kindOf(from.flow),
        }).then(
          (answer) => respond(response, answer),
          (err: unknown) => {
            tx.respond(stack.createResponse(request, 503, 'Service Unavailable (media engine)'));
            this.services.logger.error({ err, callId: this.callId }, 'call: media engine re-answer failed');
            failed?.();
          },
        );
      },
      onFailure: (reason) => {
        tx.respond(stack.createResponse(request, reason === 'timeout' ? 408 : 503));
        failed?.();
        if (request.method === 'INVITE' || request.method === 'BYE') this.hangup(to, 'PeerUnreachable', 408);
      },
    });
  }

  /**
   * `from` put the call on hold (or resumed it): while it holds, what it sends is dropped and
   * `to` hears music on hold — its queue's music for a queue call, else the tenant's.
   */
  private holdChanged(from: InboundLeg | OutboundLeg, to: InboundLeg | OutboundLeg, holds: boolean): void {
    if (this.holding.has(from.callLegId) === holds || this.state !== 'connected') return;
    if (holds) this.holding.add(from.callLegId);
    else this.holding.delete(from.callLegId);
    this.append({ type: 'HoldChanged', callId: this.callId, callLegId: from.callLegId, onHold: holds });
    if (!this.media) return;
    if (holds) {
      // Normally blocked already (relay blocks a holder before the engine sees its hold offer).
      this.blockMedia(from);
      const music = this.holdMusicFile();
      if (!music) return;
      const player = new Playlist(this.playlistServices(), this.tagOf(to), to.callLegId);
      this.holdMusic.set(to.callLegId, player);
      player.start({
        once: [],
        loop: { file: music, audio: 'holdMusic', queueId: this.connectedLeg?.queueId },
      });
    } else {
      // What the resuming party sends flows again first, then the music stops: a slow engine
      // never leaves the other party in silence between the two.
      const player = this.holdMusic.get(to.callLegId);
      this.holdMusic.delete(to.callLegId);
      void this.unblockMedia(from).then(() => player?.stop());
    }
  }

  /** Drop what a party sends in the engine (a holder, a released transferor, a waiting caller). */
  private blockMedia(leg: InboundLeg | OutboundLeg): void {
    void this.blockMediaNow(leg);
  }

  /** `blockMedia`, resolved once the engine confirmed it (a failure is logged). */
  private async blockMediaNow(leg: InboundLeg | OutboundLeg): Promise<void> {
    try {
      await this.media?.blockMedia(this.callId, this.tagOf(leg), true);
    } catch (err) {
      this.services.logger.warn({ err, callId: this.callId }, 'call: media engine block failed');
    }
  }

  /**
   * Let what a party sends through the engine again (after a wait in a queue or a hold). Tried
   * twice: a party left blocked would be silent for the rest of the call.
   */
  private async unblockMedia(leg: InboundLeg | OutboundLeg): Promise<void> {
    await this.unblockInEngine(this.tagOf(leg), { callLegId: leg.callLegId });
  }

  /** Forward again what `fromTag` sends (or, without it, the whole call); tried twice. */
  private async unblockInEngine(fromTag: string | undefined, context: { callLegId?: string }): Promise<void> {
    const media = this.media;
    if (!media) return;
    for (let attempt = 1; attempt <= 2; attempt++) {
      try {
        await media.blockMedia(this.callId, fromTag, false);
        return;
      } catch (err) {
        this.services.logger.warn(
          { err, callId: this.callId, ...context, attempt },
          fromTag === undefined
            ? 'call: the media engine did not unblock the call'
            : 'call: the media engine did not unblock a party',
        );
      }
    }
  }

  private holdMusicFile(): string | undefined {
    const queueId = this.connectedLeg?.queueId ?? this.onBehalfOf?.queueId;
    const queue = queueId ? this.services.directory.queueById(queueId) : undefined;
    return (queue ? this.audioOf(queue)?.musicOnHold : undefined) ?? this.services.holdMusic;
  }

  // ---- transfers (DESIGN.md §10) ---------------------------------------------------------------

  /**
   * A REFER in one of the call's dialogs: a blind transfer of the caller by the party that
   * answered (an agent or a callee). The REFER gets 202 and the transferor NOTIFYs of the target's
   * progress (`message/sipfrag`); the transferor's leg is released when the target answers (or at
   * once for a queue, which takes the call as it is), and kept when the target fails.
   */
  private onRefer(leg: InboundLeg | OutboundLeg, request: SipRequest, tx: ServerTransaction): void {
    const { stack, directory, logger } = this.services;
    const refuse = (status: number, reason: string): void => {
      logger.info({ callId: this.callId, callLegId: leg.callLegId, status, reason }, 'call: REFER refused');
      tx.respond(stack.createResponse(request, status, reason));
    };
    if (this.state !== 'connected') {
      refuse(403, 'Forbidden (the call is not connected)');
      return;
    }
    if (this.transfer) {
      refuse(491, 'Request Pending (a transfer is in progress)');
      return;
    }
    const referTo = parseReferTo(request.headers.get('Refer-To'));
    if (!referTo) {
      refuse(400, 'Bad Request (missing or malformed Refer-To)');
      return;
    }
    if (referTo.replaces) {
      this.onAttendedRefer(leg, request, tx, referTo.replaces, refuse);
      return;
    }
    const remaining =
      leg === this.connectedLeg ? this.aParty : leg === this.aParty ? this.connectedLeg : undefined;
    if (!remaining) {
      refuse(403, 'Forbidden (not a party of the call)');
      return;
    }
    const target = resolveTransferTarget(referTo.dialled, directory);
    if (!target) {
      refuse(404, 'Not Found (no user, queue or number)');
      return;
    }
    if (target.kind === 'queue' && (leg !== this.connectedLeg || remaining !== this.callerLeg)) {
      refuse(403, 'Forbidden (only the party that answered may transfer the caller to a queue)');
      return;
    }
    if (target.kind === 'queue' && !isOpenAt(target.queue.openingHours, this.services.now())) {
      refuse(480, 'Temporarily Unavailable (queue closed)');
      return;
    }
    tx.respond(stack.createResponse(request, 202, 'Accepted'));
    this.append({
      type: 'TransferRequested',
      callId: this.callId,
      callLegId: leg.callLegId,
      targetKind: target.kind,
      target: target.description,
      ...(target.kind === 'user' ? { userId: target.user.userId } : {}),
      ...(target.kind === 'queue' ? { queueId: target.queue.queueId } : {}),
    });
    this.notifyTransfer(leg, 100, 'Trying', false);
    if (target.kind === 'queue') {
      this.transferToQueue(leg, target.queue);
      return;
    }
    const transfer: NonNullable<Call['transfer']> = {
      transferor: leg,
      remaining,
      target,
      transferorGone: false,
    };
    this.transfer = transfer;
    const where =
      target.kind === 'user'
        ? {
            targets: this.services.targetsOfUser(target.user),
            to: `<sip:${target.user.extension}@${this.services.domain}>`,
            user: target.user,
          }
        : (() => {
            const trunk = trunkTarget(target.trunk, target.number);
            return { targets: [trunk], to: `<${trunk.uri}>` };
          })();
    // A callee whose caller transfers it offers to the target under a new engine tag (see engineTags).
    const remainingTag =
      remaining === this.callerLeg ? this.tagOf(remaining) : `${remaining.callLegId}.${this.legs.size}`;
    transfer.remainingTag = remainingTag;
    const refusal = target.kind === 'user' ? this.doNotDisturb(target.user) : undefined;
    if (refusal) {
      this.transferFailed(refusal.status, refusal.phrase);
      return;
    }
    const transferLeg = this.placeTransferLeg(target, where, { party: remaining, tag: remainingTag });
    if (!transferLeg) {
      this.transferFailed(480, 'Temporarily Unavailable');
      return;
    }
    transfer.leg = transferLeg;
    transfer.timer = setTimeout(() => {
      if (this.transfer !== transfer || !transferLeg.isActive) return;
      transferLeg.cancel('SIP;cause=487;text="Transfer timed out"', this.services.now());
      this.endLeg(transferLeg, 487, 'NoAnswer');
      this.transferFailed(480, 'No Answer');
    }, this.services.ringTimeoutMs ?? 60_000);
    transfer.timer.unref();
  }

  /**
   * An attended transfer: the REFER names, in `Replaces`, another dialog of the same user — the
   * consultation call. The call in which that user answered (an agent's queue call, a callee's
   * direct call) survives with its CallId; the other call, which the user placed, gives its
   * answered party to it (a new CallLegId here, the same SIP dialog) and ends. Both of the user's
   * legs are released.
   */
  private onAttendedRefer(
    leg: InboundLeg | OutboundLeg,
    request: SipRequest,
    tx: ServerTransaction,
    replaces: ReplacesTarget,
    refuse: (status: number, reason: string) => void,
  ): void {
    const found = this.services.findLegByDialog?.(replaces.sipCallId, replaces.toTag, replaces.fromTag);
    if (!found) {
      refuse(481, 'Call/Transaction Does Not Exist (Replaces names no call)');
      return;
    }
    if (found.call === this) {
      refuse(400, 'Bad Request (Replaces names the call the REFER belongs to)');
      return;
    }
    if (!leg.userId || found.leg.userId !== leg.userId) {
      refuse(403, "Forbidden (Replaces names another user's call)");
      return;
    }
    const sides = [
      { call: this as Call, leg },
      { call: found.call, leg: found.leg },
    ];
    const survivor = sides.find(
      (side) => side.call.state === 'connected' && side.call.connectedLeg === side.leg,
    );
    const donor = sides.find(
      (side) =>
        side !== survivor &&
        side.call.state === 'connected' &&
        side.call.callerLeg === side.leg &&
        side.call.connectedLeg instanceof OutboundLeg,
    );
    if (!survivor || !donor) {
      refuse(501, 'Not Implemented (attended transfer needs a call the user answered and one it placed)');
      return;
    }
    if (survivor.call.transfer || donor.call.transfer) {
      refuse(491, 'Request Pending (a transfer is in progress)');
      return;
    }
    tx.respond(this.services.stack.createResponse(request, 202, 'Accepted'));
    void survivor.call.joinConsultation(survivor.leg as OutboundLeg, donor.call, leg);
  }

  /**
   * The attended transfer's join, in the surviving call: the consultation's answered party is
   * adopted (new CallLegId, this call's events), re-INVITEd with an offer from this call's media
   * engine call, and the caller is bridged to it; the transferor is told (NOTIFY on `notifyVia`,
   * the dialog of its REFER) and released from both calls.
   */
  private async joinConsultation(
    transferor: OutboundLeg,
    consultation: Call,
    notifyVia: InboundLeg | OutboundLeg,
  ): Promise<void> {
    const target = consultation.connectedLeg as OutboundLeg;
    const user = target.userId ? this.services.directory.userById(target.userId) : undefined;
    const description = user ? `user ${user.username}` : `number ${consultation.bNum}`;
    this.append({
      type: 'TransferRequested',
      callId: this.callId,
      callLegId: transferor.callLegId,
      targetKind: user ? 'user' : 'number',
      target: description,
      ...(user ? { userId: user.userId } : {}),
    });
    this.notifyTransfer(notifyVia, 100, 'Trying', false);
    // The target moves: it stays busy throughout (held here before the consultation lets it go).
    const previousOffer = target.targets[target.answeredTargetIndex ?? 0]?.body;
    consultation.giveAway(target);
    target.renumber();
    target.adopt(this);
    this.legs.set(target.callLegId, target);
    if (target.userId) this.heldUsers.set(target.callLegId, { userId: target.userId, wrapUpSeconds: 0 });
    this.append({
      type: 'LegCreated',
      callId: this.callId,
      callLegId: target.callLegId,
      role: 'transfer',
      direction: 'outbound',
      userId: target.userId,
      target: target.dialog ? target.dialog.remoteTarget : description,
      sip: target.identifiers,
    });
    this.append({
      type: 'LegAnswered',
      callId: this.callId,
      callLegId: target.callLegId,
      sip: target.identifiers,
    });
    this.notifyTransfer(notifyVia, 200, 'OK', true);
    consultation.endAfterTransfer();
    this.releaseTransferor(transferor, target.callLegId, false);
    this.connectedLeg = target;
    try {
      let offer = this.callerMedia;
      const media = this.media;
      if (media)
        offer = await media.offer({
          callId: this.callId,
          fromTag: this.callerLeg.callLegId,
          branch: branchOf(target.callLegId, target.answeredTargetIndex ?? 0),
          sdp: this.callerMedia,
          toward: this.kindOf(target.flow),
        });
      if (this.state !== 'connected' || this.connectedLeg !== target) return;
      // One session towards the target: the origin of what it was offered before, a newer version.
      const origin = new SdpOrigin();
      if (previousOffer) origin.rewrite(previousOffer);
      // The target learns the identifiers it has in this call.
      const response = await sendReinvite(target, origin.rewrite(keepPayloadTypes(offer, previousOffer)), [
        [CALL_HEADERS.serverCallId, this.callId],
        [CALL_HEADERS.callLegId, target.callLegId],
      ]);
      if (this.state !== 'connected' || this.connectedLeg !== target) return;
      if (
        !response ||
        response.status >= 300 ||
        !isSdp(response.body, response.headers.get('Content-Type'))
      ) {
        this.services.logger.warn(
          { callId: this.callId, status: response?.status },
          'call: the transfer target did not take the new media (re-INVITE failed); hanging up',
        );
        this.hangup(undefined, response ? 'MediaError' : 'PeerUnreachable', response?.status ?? 408);
        return;
      }
      await this.bridgeCaller(target, response.body, { reason: 'attended transfer' });
    } catch (err) {
      this.mediaFailed(err, target, 'attended transfer');
    }
  }

  /** An attended transfer takes this call's answered party into another call. */
  private giveAway(leg: OutboundLeg): void {
    this.append({
      type: 'LegEnded',
      callId: this.callId,
      callLegId: leg.callLegId,
      sipStatus: 200,
      cause: 'Transferred',
    });
    this.endedLegs.add(leg.callLegId);
    this.legs.delete(leg.callLegId);
    // The user stays busy: the adopting call holds the count from here on.
    this.heldUsers.delete(leg.callLegId);
    if (this.connectedLeg === leg) this.connectedLeg = undefined;
  }

  /** The consultation of an attended transfer is over: its placing party is released. */
  private endAfterTransfer(): void {
    if (this.state === 'ended') return;
    if (this.callerLeg.dialog) this.callerLeg.sendBye('SIP;cause=200;text="Call transferred"');
    this.finish(200, 'Normal', 'Transferred', 'Transferred');
  }

  /**
   * An INVITE with `Replaces` (RFC 3891) naming a leg of this call: another device of the same
   * user takes that leg's place (moving a call from a desk phone to a softphone, say). The party
   * that stays is re-INVITEd with an offer made from the new device's (through the engine under a
   * fresh tag, as rtpengine requires of a party that answered before); the new device gets the
   * answer in its 200 OK, with the call's identifiers, and the replaced device a BYE. The journal
   * says it as a transfer to the same user: TransferRequested, the new leg (role `transfer`,
   * inbound), TransferCompleted.
   */
  takeOver(
    replaced: InboundLeg | OutboundLeg,
    request: SipRequest,
    tx: InviteServerTransaction,
    user: User,
  ): void {
    const { stack, logger } = this.services;
    const refuse = (status: number, reason: string): void => {
      logger.info({ callId: this.callId, status, reason }, 'call: INVITE with Replaces refused');
      tx.respond(stack.createResponse(request, status, reason));
    };
    const other =
      replaced === this.aParty ? this.connectedLeg : replaced === this.connectedLeg ? this.aParty : undefined;
    if (this.state !== 'connected' || !other) {
      refuse(481, 'Call/Transaction Does Not Exist (Replaces names no connected party)');
      return;
    }
    if (replaced.userId !== user.userId) {
      refuse(403, "Forbidden (Replaces names another user's call)");
      return;
    }
    if (this.transfer) {
      refuse(491, 'Request Pending (a transfer is in progress)');
      return;
    }
    const leg = new InboundLeg(
      stack,
      { invite: request, transaction: tx, now: this.services.now() },
      user.userId,
      this,
    );
    this.append({
      type: 'TransferRequested',
      callId: this.callId,
      callLegId: replaced.callLegId,
      targetKind: 'user',
      target: `user ${user.username}`,
      userId: user.userId,
    });
    this.append({
      type: 'LegCreated',
      callId: this.callId,
      callLegId: leg.callLegId,
      role: 'transfer',
      direction: 'inbound',
      userId: user.userId,
      target: flowText(leg.flow),
      sip: leg.identifiers,
    });
    this.hold(leg.callLegId, user.userId);
    this.takeoverLegs.add(leg);
    void this.replaceParty(replaced, leg, other);
  }

  private replacements = 0;
  /** Legs of devices that took over a party's place by an INVITE with Replaces. */
  private readonly takeoverLegs = new Set<InboundLeg>();

  /** Every leg of the call: the caller's, those it placed, and those that took a party over. */
  get allLegs(): (InboundLeg | OutboundLeg)[] {
    return [this.callerLeg, ...this.takeoverLegs, ...this.legs.values()];
  }

  private async replaceParty(
    replaced: InboundLeg | OutboundLeg,
    leg: InboundLeg,
    other: InboundLeg | OutboundLeg,
  ): Promise<void> {
    const { callId } = this;
    const media = this.media;
    const offer = leg.invite.body;
    const failed = (status: number, reason: string): void => {
      if (leg.pending) leg.reject(status, reason);
      this.endLeg(leg, status, 'Refused', reason);
      this.append({
        type: 'TransferFailed',
        callId,
        callLegId: replaced.callLegId,
        sipStatus: status,
        reason,
      });
    };
    const live = (): boolean =>
      this.state === 'connected' &&
      leg.pending &&
      (this.aParty === replaced || this.connectedLeg === replaced);
    if (!isSdp(offer, leg.invite.headers.get('Content-Type'))) {
      failed(488, 'Not Acceptable Here (an offer is needed)');
      return;
    }
    try {
      const otherTag = `${other.callLegId}.r${++this.replacements}`;
      const toOther = media
        ? await media.offer({ callId, fromTag: leg.callLegId, sdp: offer, toward: this.kindOf(other.flow) })
        : offer;
      if (!live()) return;
      const response = await this.reinviteParty(other, toOther);
      if (!live()) return;
      if (
        !response ||
        response.status >= 300 ||
        !isSdp(response.body, response.headers.get('Content-Type'))
      ) {
        failed(
          response?.status && response.status >= 300 ? response.status : 480,
          'the other party did not accept',
        );
        return;
      }
      const answer = media
        ? await media.answer({
            callId,
            fromTag: leg.callLegId,
            toTag: otherTag,
            sdp: response.body,
            toward: this.kindOf(leg.flow),
          })
        : response.body;
      if (!live()) return;
      if (media) this.engineTags.set(other.callLegId, otherTag);
      leg.answer(answer, 'application/sdp', this.services.now());
      this.append({ type: 'LegAnswered', callId, callLegId: leg.callLegId, sip: leg.identifiers });
      this.services.dialogs.bind(leg);
      if (this.aParty === replaced) this.aParty = leg;
      else this.connectedLeg = leg;
      this.append({
        type: 'TransferCompleted',
        callId,
        callLegId: replaced.callLegId,
        newCallLegId: leg.callLegId,
      });
      if (replaced.isActive) replaced.sendBye('SIP;cause=200;text="Replaced"');
      this.endLeg(replaced, 200, 'Transferred');
      this.blockMedia(replaced);
    } catch (err) {
      this.services.logger.error({ err, callId }, 'call: taking over a call (Replaces) failed');
      failed(500, 'Server Internal Error');
    }
  }

  /** The transfer target's leg; its caller id is the queue's for a service call, else the transferor's. */
  private placeTransferLeg(
    target: TransferTarget,
    where: { targets: InviteTarget[]; to: string; user?: User },
    remaining: { party: InboundLeg | OutboundLeg; tag: string },
  ): OutboundLeg | undefined {
    if (where.targets.length === 0) return undefined;
    let from: string | undefined;
    if (target.kind === 'number') {
      const { directory } = this.services;
      const queueId = this.connectedLeg?.queueId ?? this.onBehalfOf?.queueId;
      const queue = queueId ? directory.queueById(queueId) : undefined;
      const transferor = this.connectedLeg?.userId ? directory.userById(this.connectedLeg.userId) : undefined;
      const number = queue
        ? presentedNumber(queue)
        : (transferor?.number ?? transferor?.extension ?? this.aNum);
      const name = (queue?.name ?? transferor?.displayName)?.replace(/["\\]/g, '');
      from = `${name ? `"${name}" ` : ''}<sip:${number}@${this.services.domain}>`;
    }
    return this.placeLeg({
      role: 'transfer',
      user: where.user,
      targets: where.targets,
      to: where.to,
      from,
      offerer: remaining,
    });
  }

  /** NOTIFY the transferor of its REFER's progress (RFC 3515 §2.4.4); the last one terminates. */
  private notifyTransfer(
    leg: InboundLeg | OutboundLeg,
    status: number,
    reason: string,
    final: boolean,
  ): void {
    if (!leg.isActive || !leg.dialog) return;
    leg.sendInDialog(
      'NOTIFY',
      {
        body: sipfrag(status, reason),
        contentType: SIPFRAG_CONTENT_TYPE,
        headers: [
          ['Event', 'refer'],
          ['Subscription-State', final ? 'terminated;reason=noresource' : 'active;expires=60'],
        ],
      },
      { onFinal: () => {}, onFailure: () => {} },
    );
  }

  /** Release the transferor's leg: NOTIFY 200, BYE (unless it hung up already), journal. */
  private releaseTransferor(
    transferor: InboundLeg | OutboundLeg,
    newCallLegId?: string,
    notify = true,
  ): void {
    if (notify) this.notifyTransfer(transferor, 200, 'OK', true);
    this.append({
      type: 'TransferCompleted',
      callId: this.callId,
      callLegId: transferor.callLegId,
      ...(newCallLegId ? { newCallLegId } : {}),
    });
    if (transferor.isActive) transferor.sendBye('SIP;cause=200;text="Call transferred"');
    this.endLeg(transferor, 200, 'Transferred');
    this.holding.delete(transferor.callLegId);
    // Whatever the released phone still sends must not reach the caller.
    this.blockMedia(transferor);
  }

  /** The target answered: it takes the transferor's place, and the caller is re-INVITEd to it. */
  private completeTransfer(leg: OutboundLeg): void {
    const transfer = this.transfer;
    if (!transfer) return;
    clearTimeout(transfer.timer);
    this.transfer = undefined;
    this.releaseTransferor(transfer.transferor, leg.callLegId);
    this.aParty = transfer.remaining;
    if (transfer.remainingTag && transfer.remainingTag !== transfer.remaining.callLegId)
      this.engineTags.set(transfer.remaining.callLegId, transfer.remainingTag);
    this.connectedLeg = leg;
    this.services.dialogs.bind(leg);
    void this.bridgeCaller(leg, leg.answerBody.body, { reason: 'bridge to the transfer target' });
  }

  /** The target did not take the call: the transferor is told, and keeps the call if it is still there. */
  private transferFailed(status: number, reason: string): void {
    const transfer = this.transfer;
    if (!transfer) return;
    clearTimeout(transfer.timer);
    this.transfer = undefined;
    this.notifyTransfer(transfer.transferor, status, reason, true);
    this.append({
      type: 'TransferFailed',
      callId: this.callId,
      callLegId: transfer.transferor.callLegId,
      sipStatus: status,
      reason,
    });
    if (transfer.transferorGone) {
      this.hangup(undefined, 'TransferFailed', status);
      return;
    }
    // The engine paired the caller with the target's branch when it was offered: pair it with the
    // transferor again, as it answered.
    const answered = this.connectedLeg;
    if (this.media && this.state === 'connected' && answered instanceof OutboundLeg) {
      this.answerThroughEngine(answered, this.partyMedia(answered)).catch((err: unknown) =>
        this.mediaFailed(err, answered, 'restore after a failed transfer'),
      );
    }
  }

  /**
   * A blind transfer into a queue: the queue takes the call at once (NOTIFY 200, transferor
   * released) and the caller waits there as any caller of it — hearing its audio when there is a
   * media engine — with the same CallId.
   */
  private transferToQueue(transferor: InboundLeg | OutboundLeg, queue: Queue): void {
    this.releaseTransferor(transferor);
    this.connectedLeg = undefined;
    this.answeredByQueue = true;
    this.state = 'queued';
    if (this.media) {
      void this.stopHoldMusicTo(this.callerLeg);
      // Until an agent answers, nothing the caller sends goes anywhere.
      this.blockMedia(this.callerLeg);
    }
    this.enterQueue(queue);
  }

  /** Stop the hold music a party hears (its peer held the call and is gone or resumed). */
  private async stopHoldMusicTo(leg: InboundLeg | OutboundLeg): Promise<void> {
    const player = this.holdMusic.get(leg.callLegId);
    if (!player) return;
    this.holdMusic.delete(leg.callLegId);
    await player.stop();
  }

  // ---- ending ----------------------------------------------------------------------------------

  /** The caller CANCELled before the call was answered. */
  onCancel(): void {
    if (this.state === 'ended' || this.state === 'connected') return;
    this.abandonSetup('CallerHungUp', 'SIP;cause=487;text="Caller cancelled"', 'CallerCancelled');
    this.callerLeg.reject(487, 'Request Terminated');
    this.finish(487, 'CallerCancelled', 'CallerCancelled');
  }

  /** The call fails before answer: the caller gets `status`. */
  fail(status: number, reason: CallEndReason, phrase?: string): void {
    if (this.state === 'ended') return;
    this.abandonSetup('Failed', 'SIP;cause=487;text="Call failed"', 'CallFailed');
    if (this.callerLeg.pending) this.callerLeg.reject(status, phrase);
    else if (this.callerLeg.dialog)
      // Answered by its queue: the caller is told why in the BYE.
      this.callerLeg.sendBye(`SIP;cause=${status};text="${(phrase ?? reason).replace(/"/g, '')}"`);
    this.finish(status, reason, reason);
  }

  /**
   * Before an answer: the call leaves its queue (a waiting call's session is always active) with
   * `queueLeft`, and every placed leg still ringing is CANCELled with `reasonHeader`.
   */
  private abandonSetup(
    queueLeft: 'CallerHungUp' | 'Failed',
    reasonHeader: string,
    legCause: LegEndCause,
  ): void {
    const session = this.queueSession;
    if (session?.active) {
      session.callerGone();
      this.append({
        type: 'QueueLeft',
        callId: this.callId,
        queueId: session.queue.queueId,
        reason: queueLeft,
      });
    }
    for (const leg of this.legs.values()) {
      if (!leg.isActive) continue;
      leg.cancel(reasonHeader, this.services.now());
      this.endLeg(leg, 487, legCause);
    }
  }

  /** End a connected call from one side (or from neither: `from` undefined). */
  hangup(from: InboundLeg | OutboundLeg | undefined, cause: LegEndCause, status: number): void {
    if (this.state === 'ended') return;
    if (this.state === 'queued' && this.answeredByQueue) {
      // A call the queue answered ends while it waits (shutdown, the caller vanished…).
      const callerGone = from === this.callerLeg;
      this.abandonSetup(
        callerGone ? 'CallerHungUp' : 'Failed',
        'SIP;cause=487;text="Call ended"',
        'CallFailed',
      );
      if (!callerGone) this.callerLeg.sendBye();
      this.finish(status, callerGone ? 'CallerCancelled' : 'Failed', cause);
      return;
    }
    for (const leg of this.allLegs) {
      if (!leg.isActive) continue;
      if (leg !== from) {
        if (leg.dialog) leg.sendBye();
        else if (leg instanceof OutboundLeg)
          leg.cancel('SIP;cause=487;text="Call ended"', this.services.now());
        else leg.reject(480);
      }
      if (leg !== this.callerLeg) this.endLeg(leg, status, cause);
    }
    this.finish(status, 'Normal', cause);
  }

  /** Mark a leg ended (a placed one, or the caller's): journal it once and release its user. */
  private endLeg(
    leg: InboundLeg | OutboundLeg,
    status: number,
    cause: LegEndCause,
    sipReason?: string,
  ): void {
    leg.end(this.services.now());
    this.services.dialogs.unbind(leg);
    if (this.endedLegs.has(leg.callLegId)) return;
    this.endedLegs.add(leg.callLegId);
    this.append({
      type: 'LegEnded',
      callId: this.callId,
      callLegId: leg.callLegId,
      sipStatus: status,
      cause,
      sipReason,
    });
    this.release(leg.callLegId);
  }

  private readonly endedLegs = new Set<string>();

  private finish(status: number, reason: CallEndReason, cause: LegEndCause, callCause?: CallEndCause): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    clearTimeout(this.probeTimer);
    clearTimeout(this.transfer?.timer);
    this.endLeg(this.callerLeg, status, cause);
    for (const callLegId of [...this.heldUsers.keys()]) this.release(callLegId);
    this.queueSession?.stop();
    this.waitingAudio?.dispose();
    for (const player of this.holdMusic.values()) player.dispose();
    this.holdMusic.clear();
    if (this.media) {
      this.media
        .delete(this.callId)
        .catch((err: unknown) =>
          this.services.logger.warn({ err, callId: this.callId }, 'call: media engine delete failed'),
        );
    }
    const answeredBy = this.connectedLeg?.userId;
    const finalReason: CallEndReason = this.connectedLeg ? 'Normal' : reason;
    this.append({
      type: 'CallEnded',
      callId: this.callId,
      reason: finalReason,
      sipStatus: this.connectedLeg ? 200 : status,
      answeredByUserId: answeredBy,
      ...(callCause ? { cause: callCause } : {}),
    });
    this.services.callEnded(this);
  }
}

/** Lengths of the audio files a queue plays (ms), probed once per file. */
const audioDurations = new Map<string, number>();

/** How long a file plays (0 for none, or when it cannot be probed: the loader checked it). */
function audioDurationMs(file: string | null | undefined): number {
  if (!file) return 0;
  let duration = audioDurations.get(file);
  if (duration === undefined) {
    try {
      duration = probeAudioFile(file).durationMs;
    } catch {
      duration = 0;
    }
    audioDurations.set(file, duration);
  }
  return duration;
}

/** A re-INVITE on a leg's dialog; its final response, or undefined when none came. */
function sendReinvite(
  leg: OutboundLeg,
  body: Buffer,
  headers: [string, string][] = [],
): Promise<SipResponse | undefined> {
  return new Promise((resolve) => {
    if (!leg.dialog) {
      resolve(undefined);
      return;
    }
    leg.sendInDialog(
      'INVITE',
      { body, contentType: 'application/sdp', headers },
      { onFinal: resolve, onFailure: () => resolve(undefined) },
    );
  });
}

function flowText(flow: { protocol: string; address: string; port: number }): string {
  return `${flow.protocol}:${flow.address}:${flow.port}`;
}
