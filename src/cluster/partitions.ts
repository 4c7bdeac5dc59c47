/**
 * Who writes a journal partition. Each node writes its own partition (its JetStream stream); when
 * a node dies, one surviving node — the janitor — takes its partition over long enough to end the
 * calls it left in progress. A lease in the LEASES bucket says who holds a partition, so that a
 * node restarting while the janitor works waits for it, and two janitors never both recover the
 * same partition. (The journal fences writers too — every publish names the sequence it expects —
 * so even a lease misjudged by a paused process cannot fork a partition.)
 */
import type { KV } from '@nats-io/kv';
import type { Logger } from '../logger.js';
import { type ClusterConnection, entryJson } from './connection.js';
import type { Membership } from './membership.js';

interface Lease {
  holder: string;
  sinceMs: number;
}

const POLL_MS = 200;

export class PartitionLeases {
  constructor(
    private readonly cluster: ClusterConnection,
    private readonly membership: Membership,
    private readonly logger: Logger,
  ) {}

  private get kv(): KV {
    return this.cluster.buckets.leases;
  }

  /**
   * Take the lease on `partition` for this node. A lease held by this node (a previous life of it)
   * or by a node that is not alive is taken over; one held by a live node is waited for until
   * `waitMs` has passed (0: not at all). Resolves whether this node holds it.
   */
  async acquire(partition: string, waitMs: number): Promise<boolean> {
    const deadline = Date.now() + waitMs;
    const key = `p.${partition}`;
    const mine = JSON.stringify({ holder: this.cluster.nodeId, sinceMs: Date.now() } satisfies Lease);
    for (;;) {
      const entry = await this.kv.get(key);
      const lease = entry ? entryJson<Lease>(entry) : undefined;
      try {
        if (!entry || !lease) {
          await this.kv.create(key, mine);
          return true;
        }
        if (lease.holder === this.cluster.nodeId || !this.membership.isAlive(lease.holder)) {
          await this.kv.update(key, mine, entry.revision);
          if (lease.holder !== this.cluster.nodeId)
            this.logger.info({ partition, from: lease.holder }, `cluster: took partition ${partition} over`);
          return true;
        }
      } catch {
        // Someone else wrote the lease in between: look again.
        continue;
      }
      if (Date.now() >= deadline) return false;
      this.logger.info(
        { partition, holder: lease.holder },
        `cluster: partition ${partition} is held by ${lease.holder}; waiting`,
      );
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  /** Give the lease up, if this node still holds it. */
  async release(partition: string): Promise<void> {
    const key = `p.${partition}`;
    const entry = await this.kv.get(key).catch(() => null);
    const lease = entry ? entryJson<Lease>(entry) : undefined;
    if (!entry || lease?.holder !== this.cluster.nodeId) return;
    await this.kv.delete(key, { previousSeq: entry.revision }).catch(() => {});
  }
}
