/**
 * The ACD: how one call waits in one queue and is offered to members one after another.
 *
 * - sequential: member order, continuing with the next member after a rejection or timeout and
 *   wrapping around;
 * - longest-idle: the available member idle the longest;
 * - ring-all: every available member at once; the first to answer wins and the others are
 *   CANCELled with Reason "OtherConnected".
 *
 * A member who is not Available (DESIGN.md §11), not serving this queue, unregistered, busy or in
 * wrap-up is skipped (`AgentStates.canTake`). When nobody can be offered the call
 * it waits, and is re-evaluated whenever a member may have become available. A member offered
 * the call again (a one-member queue after a decline) gets a new leg: new CallLegId, new INVITE.
 */
import type { Queue, User } from '../config/types.js';
import type { AllocationRejectReason } from '../journal/types.js';
import type { AgentStates } from './agents.js';
import type { OutboundLeg } from './call.js';

/** What the queue needs from its call. */
export interface QueueHost {
  readonly callId: string;
  /** Place an allocation leg to a member (INVITE to all of the member's contacts). */
  offer(user: User, queue: Queue): OutboundLeg | undefined;
  /** The member answered: connect the caller to this leg. */
  connect(leg: OutboundLeg): void;
  /** Abandon a pending allocation leg (CANCEL) with a reason. */
  withdraw(leg: OutboundLeg, reason: AllocationRejectReason): void;
  /** The call leaves the queue unanswered after maxWaitSeconds. */
  maxWaitExceeded(queue: Queue): void;
  userById(userId: string): User | undefined;
  now(): number;
}

export interface QueueSessionOptions {
  /** Pause before offering the call to a member again within the same round (ms). */
  retryDelayMs?: number;
}

export class QueueSession {
  readonly enteredAtMs: number;
  allocationCount = 0;
  private readonly pending = new Map<string, OutboundLeg>();
  /** Members being claimed cluster-wide before their offer (AgentStates.claimForOffer). */
  private readonly claiming = new Set<string>();
  private allocationTimers = new Map<string, NodeJS.Timeout>();
  private maxWaitTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  /** Index into memberUserIds where the sequential strategy continues. */
  private cursor = 0;
  /** Members offered since the round began (sequential / longest-idle). */
  private offeredThisRound = new Set<string>();
  active = true;
  private readonly retryDelayMs: number;

  constructor(
    readonly queue: Queue,
    private readonly host: QueueHost,
    private readonly agents: AgentStates,
    opts: QueueSessionOptions = {},
  ) {
    this.enteredAtMs = host.now();
    this.retryDelayMs = opts.retryDelayMs ?? 1000;
  }

  start(): void {
    this.maxWaitTimer = setTimeout(() => this.onMaxWait(), this.queue.maxWaitSeconds * 1000);
    this.tryAllocate();
  }

  get pendingLegs(): OutboundLeg[] {
    return [...this.pending.values()];
  }

  /** Offer the call to whoever can take it now (called on entry and whenever someone frees up). */
  tryAllocate(): void {
    if (!this.active || this.retryTimer) return;
    if (this.queue.strategy === 'ring-all') {
      for (const userId of this.queue.memberUserIds) {
        if (
          this.isPendingFor(userId) ||
          this.claiming.has(userId) ||
          !this.agents.canTake(userId, this.queue.queueId)
        )
          continue;
        this.offerTo(userId);
      }
      return;
    }
    if (this.pending.size > 0 || this.claiming.size > 0) return;
    const userId = this.queue.strategy === 'longest-idle' ? this.pickLongestIdle() : this.pickSequential();
    if (!userId) return;
    if (this.offeredThisRound.has(userId)) {
      // Everyone available has had the call this round: start a new round after a pause so that a
      // member who keeps declining (or a phone set to reject) does not turn into an INVITE storm.
      this.offeredThisRound.clear();
      if (this.queue.strategy === 'sequential') this.cursor = this.queue.memberUserIds.indexOf(userId);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.tryAllocate();
      }, this.retryDelayMs);
      return;
    }
    this.offerTo(userId);
  }

  private isPendingFor(userId: string): boolean {
    for (const leg of this.pending.values()) if (leg.userId === userId) return true;
    return false;
  }

  private pickSequential(): string | undefined {
    const members = this.queue.memberUserIds;
    for (let i = 0; i < members.length; i++) {
      const index = (this.cursor + i) % members.length;
      const userId = members[index]!;
      if (this.agents.canTake(userId, this.queue.queueId)) {
        this.cursor = index + 1;
        return userId;
      }
    }
    return undefined;
  }

  private pickLongestIdle(): string | undefined {
    let best: string | undefined;
    let bestIdle = Number.POSITIVE_INFINITY;
    for (const userId of this.queue.memberUserIds) {
      if (!this.agents.canTake(userId, this.queue.queueId)) continue;
      // Prefer members not yet tried this round so that a decline passes the call on.
      const idle = this.agents.idleSinceMs(userId) + (this.offeredThisRound.has(userId) ? 1e15 : 0);
      if (idle < bestIdle) {
        bestIdle = idle;
        best = userId;
      }
    }
    return best;
  }

  private offerTo(userId: string): void {
    if (!this.agents.claimsOffers) {
      this.place(userId);
      return;
    }
    // In a cluster the member is claimed first, so that no other node offers them a call meanwhile.
    this.claiming.add(userId);
    void this.agents.claimForOffer(userId).then((claimed) => {
      this.claiming.delete(userId);
      if (claimed && this.active && this.agents.canTake(userId, this.queue.queueId)) this.place(userId);
      this.agents.settleClaim(userId);
      if (!claimed && this.active && !this.retryTimer && this.agents.canTake(userId, this.queue.queueId)) {
        // The claim failed without anyone else holding the member (NATS unreachable): retry later
        // rather than at once, or the queue would spin on a broken connection.
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.tryAllocate();
        }, this.retryDelayMs);
        return;
      }
      // Another node has the member (now seen as busy), or the call moved on: offer it elsewhere.
      if (this.pending.size === 0 || this.queue.strategy === 'ring-all') this.tryAllocate();
    });
  }

  private place(userId: string): void {
    const user = this.host.userById(userId);
    if (!user) return;
    const leg = this.host.offer(user, this.queue);
    if (!leg) return;
    this.allocationCount++;
    this.offeredThisRound.add(userId);
    this.pending.set(leg.callLegId, leg);
    const timer = setTimeout(() => this.onAllocationTimeout(leg), this.queue.allocationTimeoutSeconds * 1000);
    this.allocationTimers.set(leg.callLegId, timer);
  }

  private clearAllocation(leg: OutboundLeg): void {
    this.pending.delete(leg.callLegId);
    clearTimeout(this.allocationTimers.get(leg.callLegId));
    this.allocationTimers.delete(leg.callLegId);
  }

  private onAllocationTimeout(leg: OutboundLeg): void {
    if (!this.pending.has(leg.callLegId)) return;
    this.clearAllocation(leg);
    this.host.withdraw(leg, 'Timeout');
    this.tryAllocate();
  }

  /** A pending allocation failed (declined, busy, unreachable). */
  allocationFailed(leg: OutboundLeg): void {
    if (!this.pending.has(leg.callLegId)) return;
    this.clearAllocation(leg);
    // Re-evaluate on the next tick: the member's own availability changes first.
    queueMicrotask(() => this.tryAllocate());
  }

  /** A member answered. Returns false when the answer came too late (the call left the queue). */
  allocationAnswered(leg: OutboundLeg): boolean {
    if (!this.active || !this.pending.has(leg.callLegId)) return false;
    this.clearAllocation(leg);
    this.stop();
    for (const other of [...this.pending.values()]) {
      this.clearAllocation(other);
      this.host.withdraw(other, 'OtherConnected');
    }
    this.host.connect(leg);
    return true;
  }

  /** The caller hung up while queued: every pending allocation is withdrawn. */
  callerGone(): void {
    this.stop();
    for (const leg of [...this.pending.values()]) {
      this.clearAllocation(leg);
      this.host.withdraw(leg, 'CallDisconnected');
    }
  }

  private onMaxWait(): void {
    if (!this.active) return;
    this.stop();
    for (const leg of [...this.pending.values()]) {
      this.clearAllocation(leg);
      this.host.withdraw(leg, 'CallDisconnected');
    }
    this.host.maxWaitExceeded(this.queue);
  }

  stop(): void {
    this.active = false;
    clearTimeout(this.maxWaitTimer);
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** Seconds the caller has waited so far. */
  waitSeconds(now: number): number {
    return Math.max(0, Math.round((now - this.enteredAtMs) / 1000));
  }
}
