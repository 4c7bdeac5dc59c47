/**
 * Agents' readiness for queue calls as users and supervisors change it (DESIGN.md §11): each
 * user's availability (`Available`, `Busy`, `DoNotDisturb`, `OffWork`, with an optional note and
 * an `EndTime` that brings them back to Available), their serving of each queue they are a member
 * of, and "end wrap-up now". Every change is persisted (./agent-store.ts: the latest state, read at
 * start-up), journaled (`AvailabilityChanged`, `ServingChanged`, `WrapUpEnded`: the history), and
 * applied to the live `AgentStates`, which re-offers waiting calls to someone who became available.
 *
 * Changes of one user are applied one at a time, in the order they were asked for, so that the
 * store, the journal and the live state agree on which came last.
 */
import type { Directory, Queue } from '../config/types.js';
import { agentStreamKey } from '../journal/facts.js';
import type { AgentChangeCause, Availability, Journal } from '../journal/types.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import type { AgentStateStore } from './agent-store.js';
import type { AgentStates, AvailabilityState } from './agents.js';
import type { Call } from './call.js';
import { type ClusterQueueCalls, computeQueueStatus, type QueueStatus } from './queue-status.js';

export interface AgentServiceOptions {
  directory: Directory;
  agents: AgentStates;
  store: AgentStateStore;
  journal: Journal;
  now?: () => number;
  logger?: Logger;
  /**
   * Told after a user's availability or serving changed here (persisted, journaled, applied): a
   * cluster tells the other nodes, which `refresh` that user from the shared store.
   */
  onChanged?: (userId: string) => void;
}

/** A change of availability as asked for; `endTimeMs` only with a state other than Available. */
export interface AvailabilityChange {
  availability: Availability;
  note: string | null;
  endTimeMs: number | null;
}

/** One queue of a member and whether the member serves it. */
export interface Membership {
  queue: Queue;
  serving: boolean;
}

/** setTimeout's limit (about 24.8 days): a later EndTime is waited for in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** After a failed automatic change (the store is down), the next try. */
const RETRY_MS = 5000;

export class AgentService {
  private readonly directory: Directory;
  private readonly agents: AgentStates;
  private readonly store: AgentStateStore;
  private readonly journal: Journal;
  private readonly now: () => number;
  private readonly logger: Logger;
  /** The last change in flight per user: the next one waits for it. */
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly endTimers = new Map<string, NodeJS.Timeout>();
  private liveCalls: () => Iterable<Call> = () => [];
  private clusterQueueCalls?: (queueId: string) => ClusterQueueCalls;
  private closed = false;
  private readonly onChanged: (userId: string) => void;

  constructor(opts: AgentServiceOptions) {
    this.directory = opts.directory;
    this.agents = opts.agents;
    this.store = opts.store;
    this.journal = opts.journal;
    this.now = opts.now ?? Date.now;
    this.logger = opts.logger ?? silentLogger;
    this.onChanged = opts.onChanged ?? (() => {});
  }

  /**
   * Another node changed this user (cluster): take their availability and serving from the shared
   * store into the live picture. The EndTime stays that node's to apply (it journals it once).
   */
  refresh(userId: string): Promise<void> {
    return this.serialized(userId, async () => {
      const row = (await this.store.listAvailability()).find((r) => r.userId === userId);
      if (row) {
        this.agents.setAvailability(userId, {
          availability: row.availability,
          note: row.note,
          endTimeMs: row.endTimeMs,
          modifiedMs: row.modifiedMs,
        });
      }
      for (const serving of await this.store.listServing()) {
        if (serving.userId === userId) this.agents.setServing(userId, serving.queueId, serving.serving);
      }
    });
  }

  /**
   * Restore what was set before the restart: availabilities (an EndTime that passed meanwhile
   * brings the user back to Available now, journaled as `EndTimeReached`) and switched-off
   * memberships of users who are still members. Users and queues no longer configured are ignored.
   */
  async load(): Promise<void> {
    const nowMs = this.now();
    for (const row of await this.store.listAvailability()) {
      if (!this.directory.userById(row.userId)) continue;
      const state: AvailabilityState = {
        availability: row.availability,
        note: row.note,
        endTimeMs: row.endTimeMs,
        modifiedMs: row.modifiedMs,
      };
      if (state.endTimeMs !== null && state.endTimeMs <= nowMs && state.availability !== 'Available') {
        this.agents.setAvailability(row.userId, state);
        await this.apply(
          row.userId,
          { availability: 'Available', note: null, endTimeMs: null },
          'EndTimeReached',
        );
        continue;
      }
      this.agents.setAvailability(row.userId, state);
      this.armEndTime(row.userId, state);
    }
    for (const row of await this.store.listServing()) {
      const queue = this.directory.queueById(row.queueId);
      if (!queue?.memberUserIds.includes(row.userId)) continue;
      this.agents.setServing(row.userId, row.queueId, row.serving);
    }
  }

  /**
   * A cluster node: where queue status finds every node's calls of a queue (src/cluster/realtime.ts).
   * A queue no call has entered yet counts none.
   */
  attachClusterQueueCalls(counts: ReadonlyMap<string, ClusterQueueCalls>): void {
    const none: ClusterQueueCalls = { waiting: new Map(), connected: new Set() };
    this.clusterQueueCalls = (queueId) => counts.get(queueId) ?? none;
  }

  /** Where queue status finds the live calls (call control's; none until it is attached). */
  attachCalls(source: { readonly activeCalls: Call[] }): void {
    this.liveCalls = () => source.activeCalls;
  }

  availabilityOf(userId: string): AvailabilityState {
    return this.agents.availabilityOf(userId);
  }

  /** Set a user's availability (persisted, journaled, live). Resolves with the new state. */
  setAvailability(
    userId: string,
    change: AvailabilityChange,
    changedByUserId: string,
  ): Promise<AvailabilityState> {
    return this.serialized(userId, () => this.apply(userId, change, 'Set', changedByUserId));
  }

  /** The queues the user is a member of, in configuration order, with their serving. */
  membershipsOf(userId: string): Membership[] {
    return this.directory.tenant.queues
      .filter((queue) => queue.memberUserIds.includes(userId))
      .map((queue) => ({ queue, serving: this.agents.isServing(userId, queue.queueId) }));
  }

  /** Switch a member's serving of one queue (the caller checked the membership). */
  setServing(userId: string, queueId: string, serving: boolean, changedByUserId: string): Promise<void> {
    return this.serialized(userId, async () => {
      await this.store.saveServing({ userId, queueId, serving, modifiedMs: this.now() });
      this.journal.append({
        type: 'ServingChanged',
        callId: agentStreamKey(userId),
        userId,
        queueId,
        serving,
        changedByUserId,
      });
      this.agents.setServing(userId, queueId, serving);
      this.onChanged(userId);
    });
  }

  /** When the user's wrap-up ends, or null when not in wrap-up. */
  wrapUpEndsAtMs(userId: string): number | null {
    return this.agents.wrapUpEndsAtMs(userId);
  }

  /** End the user's wrap-up now; journaled when there was one. Returns whether there was. */
  endWrapUp(userId: string, changedByUserId: string): boolean {
    const ended = this.agents.endWrapUp(userId);
    if (ended)
      this.journal.append({ type: 'WrapUpEnded', callId: agentStreamKey(userId), userId, changedByUserId });
    return ended;
  }

  /** A queue's live status (`GET /queues` `Status`). */
  queueStatus(queue: Queue): QueueStatus {
    const cluster = this.clusterQueueCalls?.(queue.queueId);
    return computeQueueStatus(queue, this.agents, this.liveCalls(), this.now(), cluster);
  }

  close(): void {
    this.closed = true;
    for (const timer of this.endTimers.values()) clearTimeout(timer);
    this.endTimers.clear();
  }

  // ---------------------------------------------------------------------------------------------

  private serialized<T>(userId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(userId) ?? Promise.resolve();
    const run = previous.then(work, work);
    const settled = run.catch(() => {});
    this.chains.set(userId, settled);
    void settled.then(() => {
      if (this.chains.get(userId) === settled) this.chains.delete(userId);
    });
    return run;
  }

  private async apply(
    userId: string,
    change: AvailabilityChange,
    cause: AgentChangeCause,
    changedByUserId?: string,
  ): Promise<AvailabilityState> {
    const modifiedMs = this.now();
    const state: AvailabilityState = {
      availability: change.availability,
      note: change.note,
      endTimeMs: change.availability === 'Available' ? null : change.endTimeMs,
      modifiedMs,
    };
    await this.store.saveAvailability({ userId, ...state, modifiedMs });
    this.journal.append({
      type: 'AvailabilityChanged',
      callId: agentStreamKey(userId),
      userId,
      availability: state.availability,
      ...(state.note !== null ? { note: state.note } : {}),
      ...(state.endTimeMs !== null ? { endTimeMs: state.endTimeMs } : {}),
      cause,
      ...(changedByUserId !== undefined ? { changedByUserId } : {}),
    });
    this.agents.setAvailability(userId, state);
    this.armEndTime(userId, state);
    this.onChanged(userId);
    this.logger.debug({ userId, availability: state.availability, cause }, 'agents: availability changed');
    return state;
  }

  /** At the state's EndTime the user is Available again (unless changed meanwhile). */
  private armEndTime(userId: string, state: AvailabilityState, atLeastMs = 0): void {
    clearTimeout(this.endTimers.get(userId));
    this.endTimers.delete(userId);
    const { endTimeMs } = state;
    if (endTimeMs === null || state.availability === 'Available' || this.closed) return;
    const timer = setTimeout(
      () => {
        this.endTimers.delete(userId);
        const current = this.agents.availabilityOf(userId);
        if (current.endTimeMs !== endTimeMs || current.availability === 'Available') return;
        if (this.now() < endTimeMs) {
          this.armEndTime(userId, current);
          return;
        }
        this.serialized(userId, async () => {
          // Changed while this waited for the user's previous change?
          const latest = this.agents.availabilityOf(userId);
          if (latest.endTimeMs !== endTimeMs || latest.availability === 'Available' || this.closed) return;
          await this.apply(
            userId,
            { availability: 'Available', note: null, endTimeMs: null },
            'EndTimeReached',
          );
        }).catch((err: unknown) => {
          this.logger.error(
            { err, userId },
            'agents: could not end the availability at its EndTime; retrying',
          );
          if (!this.closed) this.armEndTime(userId, this.agents.availabilityOf(userId), RETRY_MS);
        });
      },
      Math.min(MAX_TIMER_MS, Math.max(atLeastMs, endTimeMs - this.now())),
    );
    timer.unref();
    this.endTimers.set(userId, timer);
  }
}
