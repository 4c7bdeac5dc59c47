/**
 * Who can take a queue call right now. A member is offered a call of a queue only when
 * `Available` (DESIGN.md §11), serving that queue, registered, not on another call (ringing or
 * connected), and not in wrap-up after a previous service call. Every change that can make
 * someone available is announced so that waiting calls are re-evaluated at once instead of by
 * polling.
 *
 * This is the live, in-memory picture. Availability and serving are changed — persisted,
 * journaled, and their `EndTime`s kept — by `AgentService` (./agent-service.ts), which applies
 * each change here.
 */
import type { AgentClaims } from '../cluster/agent-claims.js';
import type { Directory, User } from '../config/types.js';
import type { Availability } from '../journal/types.js';
import type { LocationService } from '../sip/registrar.js';

export type { Availability } from '../journal/types.js';

/** A user's availability as set (DESIGN.md §11); the default is Available, never modified. */
export interface AvailabilityState {
  availability: Availability;
  note: string | null;
  /** Back to Available automatically at this time (epoch ms). */
  endTimeMs: number | null;
  /** When it was last set; null when never. */
  modifiedMs: number | null;
}

export const DEFAULT_AVAILABILITY: Readonly<AvailabilityState> = Object.freeze({
  availability: 'Available',
  note: null,
  endTimeMs: null,
  modifiedMs: null,
});

export class AgentStates {
  /** userId → number of legs (ringing or connected) the user is on. */
  private readonly activeLegs = new Map<string, number>();
  /** userId → epoch ms until which the user is in wrap-up. */
  private readonly wrapUpUntil = new Map<string, number>();
  /** userId → epoch ms since which the user has been idle (for longest-idle). */
  private readonly idleSince = new Map<string, number>();
  private readonly wrapUpTimers = new Map<string, NodeJS.Timeout>();
  /** userId → availability, for users whose availability was ever set. */
  private readonly availabilities = new Map<string, AvailabilityState>();
  /** `${userId} ${queueId}` of memberships switched off (serving is on unless switched off). */
  private readonly notServing = new Set<string>();
  private readonly listeners = new Set<(userId: string) => void>();
  private readonly startedAtMs: number;
  /** Users being claimed cluster-wide for a queue offer right now (`claimForOffer`). */
  private readonly claiming = new Set<string>();

  /**
   * `claims`: in a cluster, which nodes hold which agent (../cluster/agent-claims.ts); an agent
   * another node holds is busy here. Without it (one machine) this node's picture is the whole one.
   */
  constructor(
    private readonly directory: Directory,
    private readonly location: LocationService,
    private readonly now: () => number = Date.now,
    private readonly claims?: AgentClaims,
  ) {
    this.startedAtMs = now();
    claims?.onFreedElsewhere((userId) => this.announce(userId));
    location.onChange((change) => {
      if (change.kind === 'removed') return;
      const user = directory.userByExtension(change.binding.aor);
      if (user) this.announce(user.userId);
    });
  }

  isRegistered(user: User): boolean {
    return this.location.isRegistered(user.extension);
  }

  /** Whether the user (by id) has a registered device. */
  isRegisteredId(userId: string): boolean {
    const user = this.directory.userById(userId);
    return user !== undefined && this.isRegistered(user);
  }

  /** On a call here, being claimed here for an offer, or held by another node of the cluster. */
  isBusy(userId: string): boolean {
    return (
      (this.activeLegs.get(userId) ?? 0) > 0 ||
      this.claiming.has(userId) ||
      !!this.claims?.heldElsewhere(userId)
    );
  }

  /** Whether queue offers must be claimed first (`claimForOffer`): this node is one of a cluster. */
  get claimsOffers(): boolean {
    return this.claims !== undefined;
  }

  /**
   * Claim the agent cluster-wide before offering them a queue call: resolves false when another
   * node holds them (two nodes never both win). While it runs the agent counts as busy here. The
   * caller offers at once when it resolves true, then calls `settleClaim` either way.
   */
  async claimForOffer(userId: string): Promise<boolean> {
    if (!this.claims) return true;
    this.claiming.add(userId);
    try {
      return await this.claims.claimExclusive(userId);
    } finally {
      this.claiming.delete(userId);
    }
  }

  /** Bring the cluster's claim in line with this node's picture: held while on a call or in wrap-up. */
  settleClaim(userId: string): void {
    if (!this.claims) return;
    if ((this.activeLegs.get(userId) ?? 0) > 0 || this.claiming.has(userId) || this.isInWrapUp(userId))
      this.claims.hold(userId);
    else this.claims.release(userId);
  }

  isInWrapUp(userId: string): boolean {
    return (this.wrapUpUntil.get(userId) ?? 0) > this.now();
  }

  /** When the user's wrap-up ends (epoch ms), or null when not in wrap-up. */
  wrapUpEndsAtMs(userId: string): number | null {
    const until = this.wrapUpUntil.get(userId) ?? 0;
    return until > this.now() ? until : null;
  }

  availabilityOf(userId: string): AvailabilityState {
    return this.availabilities.get(userId) ?? DEFAULT_AVAILABILITY;
  }

  /** Set a user's availability (AgentService has persisted and journaled it). */
  setAvailability(userId: string, state: AvailabilityState): void {
    const before = this.availabilityOf(userId).availability;
    this.availabilities.set(userId, { ...state });
    if (state.availability === 'Available' && before !== 'Available') this.announce(userId);
  }

  isServing(userId: string, queueId: string): boolean {
    return !this.notServing.has(`${userId} ${queueId}`);
  }

  /** Switch a member's serving of one queue (AgentService has persisted and journaled it). */
  setServing(userId: string, queueId: string, serving: boolean): void {
    const key = `${userId} ${queueId}`;
    const was = !this.notServing.has(key);
    if (serving) this.notServing.delete(key);
    else this.notServing.add(key);
    if (serving && !was) this.announce(userId);
  }

  /** Registered, Available, not on a call, not in wrap-up: may be offered a queue call. */
  isAvailable(userId: string): boolean {
    const user = this.directory.userById(userId);
    if (!user) return false;
    return (
      this.availabilityOf(userId).availability === 'Available' &&
      this.isRegistered(user) &&
      !this.isBusy(userId) &&
      !this.isInWrapUp(userId)
    );
  }

  /** `isAvailable` and serving the queue: may be offered this queue's call now. */
  canTake(userId: string, queueId: string): boolean {
    return this.isServing(userId, queueId) && this.isAvailable(userId);
  }

  idleSinceMs(userId: string): number {
    return this.idleSince.get(userId) ?? this.startedAtMs;
  }

  legStarted(userId: string): void {
    this.activeLegs.set(userId, (this.activeLegs.get(userId) ?? 0) + 1);
    this.settleClaim(userId);
  }

  /** A leg of the user ended; `wrapUpSeconds` > 0 after a connected service call. */
  legEnded(userId: string, wrapUpSeconds = 0): void {
    const count = (this.activeLegs.get(userId) ?? 0) - 1;
    if (count > 0) this.activeLegs.set(userId, count);
    else this.activeLegs.delete(userId);
    this.idleSince.set(userId, this.now());
    if (wrapUpSeconds > 0) {
      this.wrapUpUntil.set(userId, this.now() + wrapUpSeconds * 1000);
      clearTimeout(this.wrapUpTimers.get(userId));
      const timer = setTimeout(() => {
        this.wrapUpTimers.delete(userId);
        this.settleClaim(userId);
        this.announce(userId);
      }, wrapUpSeconds * 1000);
      timer.unref();
      this.wrapUpTimers.set(userId, timer);
    }
    this.settleClaim(userId);
    if (count <= 0) this.announce(userId);
  }

  /** End the user's wrap-up now ("end wrap-up now"). Returns whether they were in wrap-up. */
  endWrapUp(userId: string): boolean {
    const was = this.isInWrapUp(userId);
    this.wrapUpUntil.delete(userId);
    clearTimeout(this.wrapUpTimers.get(userId));
    this.wrapUpTimers.delete(userId);
    this.settleClaim(userId);
    if (was) this.announce(userId);
    return was;
  }

  /** Listen for "this user may have become available". */
  onMaybeAvailable(listener: (userId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private announce(userId: string): void {
    // Deferred so that the state change that triggered it completes first.
    queueMicrotask(() => {
      for (const listener of this.listeners) listener(userId);
    });
  }

  close(): void {
    for (const timer of this.wrapUpTimers.values()) clearTimeout(timer);
    this.wrapUpTimers.clear();
  }
}
