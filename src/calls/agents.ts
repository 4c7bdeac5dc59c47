/**
 * Who can take a queue call right now. A member is offered a call only when registered, not on
 * another call (ringing or connected), and not in wrap-up after a previous service call. Every
 * change that can make someone available is announced so that waiting calls are re-evaluated at
 * once instead of by polling.
 */
import type { Directory, User } from '../config/types.js';
import type { LocationService } from '../sip/registrar.js';

export class AgentStates {
  /** userId → number of legs (ringing or connected) the user is on. */
  private readonly activeLegs = new Map<string, number>();
  /** userId → epoch ms until which the user is in wrap-up. */
  private readonly wrapUpUntil = new Map<string, number>();
  /** userId → epoch ms since which the user has been idle (for longest-idle). */
  private readonly idleSince = new Map<string, number>();
  private readonly wrapUpTimers = new Map<string, NodeJS.Timeout>();
  private readonly listeners = new Set<(userId: string) => void>();
  private readonly startedAtMs: number;

  constructor(
    private readonly directory: Directory,
    private readonly location: LocationService,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAtMs = now();
    location.onChange((change) => {
      if (change.kind === 'removed') return;
      const user = directory.userByExtension(change.binding.aor);
      if (user) this.announce(user.userId);
    });
  }

  isRegistered(user: User): boolean {
    return this.location.isRegistered(user.extension);
  }

  isBusy(userId: string): boolean {
    return (this.activeLegs.get(userId) ?? 0) > 0;
  }

  isInWrapUp(userId: string): boolean {
    return (this.wrapUpUntil.get(userId) ?? 0) > this.now();
  }

  /** Registered, not on a call, not in wrap-up. */
  isAvailable(userId: string): boolean {
    const user = this.directory.userById(userId);
    if (!user) return false;
    return this.isRegistered(user) && !this.isBusy(userId) && !this.isInWrapUp(userId);
  }

  idleSinceMs(userId: string): number {
    return this.idleSince.get(userId) ?? this.startedAtMs;
  }

  legStarted(userId: string): void {
    this.activeLegs.set(userId, (this.activeLegs.get(userId) ?? 0) + 1);
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
        this.announce(userId);
      }, wrapUpSeconds * 1000);
      timer.unref();
      this.wrapUpTimers.set(userId, timer);
    }
    if (count <= 0) this.announce(userId);
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
