/**
 * An agent is never offered two calls at once by two nodes. Each node keeps its own picture of its
 * agents (../calls/agents.ts); the AGENTS bucket says which nodes hold each agent right now — a
 * node holds an agent while it has a call leg to them (ringing or connected) or they are in
 * wrap-up after one of its calls.
 *
 * A queue offer first claims the agent with compare-and-set: it succeeds only when no other node
 * holds them, and two nodes racing for the same agent cannot both win (the second write names a
 * revision that is no longer the last). A direct call to an agent is never refused for it; it
 * just marks the agent held. Every node watches the bucket, so an agent held elsewhere is busy
 * here too, and is re-offered waiting calls the moment the other node lets go.
 */
import type { KV, KvEntry } from '@nats-io/kv';
import type { Logger } from '../logger.js';
import { type ClusterConnection, entryJson } from './connection.js';

/** The seam ../calls/agents.ts uses: a cluster implements it, one machine needs none. */
export interface AgentClaims {
  /** Claim the agent for a queue offer; false when another node holds them. */
  claimExclusive(userId: string): Promise<boolean>;
  /** This node holds the agent (idempotent). */
  hold(userId: string): void;
  /** This node no longer holds the agent (idempotent). */
  release(userId: string): void;
  /** Another node holds the agent. */
  heldElsewhere(userId: string): boolean;
  /** Called when no other node holds the agent any more. */
  onFreedElsewhere(listener: (userId: string) => void): void;
}

type Holders = Record<string, true>;

/** A user's key as seen: its holders and the revision to write against (undefined: absent). */
interface Seen {
  holders: Holders;
  revision: number | undefined;
  /** From this node's picture rather than a fresh read. */
  cached?: boolean;
}

const MAX_ATTEMPTS = 20;

function keyOf(userId: string): string {
  return `a.${Buffer.from(userId, 'utf8').toString('base64url')}`;
}

function userOf(key: string): string {
  return Buffer.from(key.slice(2), 'base64url').toString('utf8');
}

export class KvAgentClaims implements AgentClaims {
  /** userId → nodes holding them, as last seen in the bucket (this node included). */
  private readonly holders = new Map<string, Set<string>>();
  /** Agents this node holds according to its own last successful write. */
  private readonly mine = new Set<string>();
  /** userId → bucket revision `holders` reflects: an older entry seen late never undoes a newer. */
  private readonly revisions = new Map<string, number>();
  /** userId → exact revision of the stored value last seen (absent after a delete). */
  private readonly putRevisions = new Map<string, number>();
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly listeners: ((userId: string) => void)[] = [];
  private watchStop?: () => void;

  constructor(
    private readonly cluster: ClusterConnection,
    private readonly logger: Logger,
  ) {}

  private get kv(): KV {
    return this.cluster.buckets.agents;
  }

  private get self(): string {
    return this.cluster.nodeId;
  }

  async start(): Promise<void> {
    const watcher = await this.kv.watch({ key: 'a.>' });
    this.watchStop = () => watcher.stop();
    void (async () => {
      for await (const entry of watcher) this.observe(userOf(entry.key), entry);
    })();
  }

  heldElsewhere(userId: string): boolean {
    for (const node of this.holders.get(userId) ?? []) if (node !== this.self) return true;
    return false;
  }

  onFreedElsewhere(listener: (userId: string) => void): void {
    this.listeners.push(listener);
  }

  claimExclusive(userId: string): Promise<boolean> {
    return this.serial(userId, () =>
      this.change(userId, (holders) => {
        if (Object.keys(holders).some((node) => node !== this.self)) return undefined;
        return { ...holders, [this.self]: true };
      }),
    );
  }

  hold(userId: string): void {
    if (this.mine.has(userId)) return;
    this.mine.add(userId);
    void this.serial(userId, () => this.change(userId, (holders) => ({ ...holders, [this.self]: true })));
  }

  release(userId: string): void {
    if (!this.mine.has(userId)) return;
    this.mine.delete(userId);
    void this.serial(userId, () =>
      this.change(userId, (holders) => {
        const { [this.self]: _, ...rest } = holders;
        return rest;
      }),
    );
  }

  /** Remove a dead node from every agent it held (the janitor, ./janitor.ts). */
  async releaseAllOf(nodeId: string): Promise<number> {
    let released = 0;
    for (const [userId, nodes] of [...this.holders]) {
      if (!nodes.has(nodeId)) continue;
      await this.serial(userId, () =>
        this.change(userId, (holders) => {
          const { [nodeId]: _, ...rest } = holders;
          return rest;
        }),
      );
      released++;
    }
    return released;
  }

  /** Run one user's operations one after another, in call order. */
  private serial<T>(userId: string, op: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(userId) ?? Promise.resolve();
    const next = previous.then(op, op);
    const settled = next.catch(() => undefined);
    this.chains.set(userId, settled);
    void settled.then(() => {
      if (this.chains.get(userId) === settled) this.chains.delete(userId);
    });
    return next;
  }

  /**
   * Read, decide, compare-and-set, retrying when another node wrote in between. `decide` returns
   * the new holders, or undefined to give up (resolves false). Resolves true once written.
   */
  private async change(userId: string, decide: (holders: Holders) => Holders | undefined): Promise<boolean> {
    const key = keyOf(userId);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      // First on what this node last saw (one round trip when nobody wrote since), then on a read.
      let seen: Seen | undefined = attempt === 0 ? this.lastSeen(userId) : undefined;
      if (!seen) {
        let entry: KvEntry | null;
        try {
          entry = await this.kv.get(key);
        } catch (err) {
          this.logger.warn({ err, userId }, 'cluster: agent claim read failed');
          return false;
        }
        if (entry) this.observe(userId, entry);
        seen =
          entry && entry.operation === 'PUT'
            ? { holders: entryJson<Holders>(entry) ?? {}, revision: entry.revision }
            : { holders: {}, revision: undefined };
      }
      const wanted = decide(seen.holders);
      if (wanted === undefined) {
        // Refused on a cached picture: make sure it is still true before saying no.
        if (attempt === 0 && seen.cached) continue;
        return false;
      }
      const empty = Object.keys(wanted).length === 0;
      try {
        let revision: number | undefined;
        if (seen.revision === undefined) {
          if (empty) return true;
          revision = await this.kv.create(key, JSON.stringify(wanted));
        } else if (empty) {
          await this.kv.delete(key, { previousSeq: seen.revision });
        } else {
          revision = await this.kv.update(key, JSON.stringify(wanted), seen.revision);
        }
        // A delete's revision is not returned: the watch brings it; until then nobody holds.
        this.setHolders(
          userId,
          new Set(Object.keys(wanted)),
          revision ?? seen.revision! + 1,
          revision !== undefined,
        );
        return true;
      } catch (err) {
        // Another node wrote first: read again and decide again.
        if (attempt === MAX_ATTEMPTS - 1)
          this.logger.warn({ err, userId }, 'cluster: agent claim kept conflicting');
      }
    }
    return false;
  }

  /** This node's picture of a user's key, when exact enough to write against. */
  private lastSeen(userId: string): Seen | undefined {
    const revision = this.putRevisions.get(userId);
    if (revision !== undefined) {
      const holders: Holders = {};
      for (const node of this.holders.get(userId) ?? []) holders[node] = true;
      return { holders, revision, cached: true };
    }
    // Never seen, or last seen deleted (no stored value's revision): the watch has shown every
    // key there is, so none is held.
    if (!this.holders.has(userId)) return { holders: {}, revision: undefined, cached: true };
    return undefined;
  }

  private observe(userId: string, entry: KvEntry): void {
    const holders = entry.operation === 'PUT' ? entryJson<Holders>(entry) : undefined;
    this.setHolders(
      userId,
      new Set(holders ? Object.keys(holders) : []),
      entry.revision,
      entry.operation === 'PUT',
    );
  }

  /** `put`: the revision is exactly that of a stored value (else a delete, or a lower bound). */
  private setHolders(userId: string, nodes: Set<string>, revision: number, put: boolean): void {
    if (revision < (this.revisions.get(userId) ?? 0)) return;
    this.revisions.set(userId, revision);
    if (put) this.putRevisions.set(userId, revision);
    else this.putRevisions.delete(userId);
    const wasElsewhere = this.heldElsewhere(userId);
    if (nodes.size === 0) this.holders.delete(userId);
    else this.holders.set(userId, nodes);
    if (wasElsewhere && !this.heldElsewhere(userId)) {
      queueMicrotask(() => {
        for (const listener of this.listeners) listener(userId);
      });
    }
  }

  async close(): Promise<void> {
    this.watchStop?.();
    // Let go of every agent this node holds: a clean stop leaves nobody blocked.
    for (const userId of [...this.mine]) this.release(userId);
    await Promise.all(this.chains.values());
  }
}
