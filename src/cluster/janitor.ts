/**
 * When a node dies, its calls must still end in the records, and its agents must be free again.
 * Every surviving node hears of the death (./membership.ts); the one that wins the partition's
 * lease (./partitions.ts) opens the dead node's journal partition, ends each call it left in
 * progress with the crash-recovery fold (../journal/recovery.ts; reason Failed, cause
 * NodeFailure, dated at the call's last known moment), post-processes the partition to its end so
 * the records are complete, releases the agents the dead node held, and gives the lease back —
 * the dead node, restarted, takes its partition up again where the janitor left it.
 *
 * The phones of those calls are told by the front proxy: Kamailio's dialog keepalives to the node
 * fail and it sends BYE to both sides (deploy/kamailio/).
 */

import { recoverInterruptedCalls } from '../journal/recovery.js';
import type { Journal } from '../journal/types.js';
import type { Logger } from '../logger.js';
import type { KvAgentClaims } from './agent-claims.js';
import type { Membership } from './membership.js';
import type { PartitionLeases } from './partitions.js';

export interface JanitorDeps {
  membership: Membership;
  leases: PartitionLeases;
  claims: KvAgentClaims;
  /** Open a node's journal partition for writing (the JetStream journal, fenced). */
  openPartition(nodeId: string): Promise<Journal>;
  /** Turn everything in the partition into records, then stop (post-processing under its checkpoint). */
  processPartition(nodeId: string, journal: Journal): Promise<void>;
  logger: Logger;
}

export interface Takeover {
  nodeId: string;
  /** CallIds the janitor ended. */
  endedCallIds: string[];
  /** Agents the dead node held that were released. */
  releasedAgents: number;
  tookMs: number;
}

export class Janitor {
  private readonly running = new Map<string, Promise<Takeover | undefined>>();
  private closed = false;

  constructor(private readonly deps: JanitorDeps) {}

  /** Take over every node that dies from now on (the node's post-processing must be ready). */
  start(): void {
    this.deps.membership.on({ onDead: (nodeId) => void this.takeOver(nodeId) });
  }

  /** Take the dead node's partition over, unless another node does (resolves undefined then). */
  takeOver(nodeId: string): Promise<Takeover | undefined> {
    const inFlight = this.running.get(nodeId);
    if (inFlight) return inFlight;
    const run = this.run(nodeId)
      .catch((err: unknown) => {
        this.deps.logger.error({ err, nodeId }, `cluster: taking over node ${nodeId}'s partition failed`);
        return undefined;
      })
      .finally(() => this.running.delete(nodeId));
    this.running.set(nodeId, run);
    return run;
  }

  private async run(nodeId: string): Promise<Takeover | undefined> {
    const { leases, logger } = this.deps;
    if (this.closed) return undefined;
    const startedMs = Date.now();
    if (!(await leases.acquire(nodeId, 0))) return undefined; // another node is on it
    try {
      // The node may have come back while the lease was being taken: then it recovers itself.
      if (this.deps.membership.isAlive(nodeId)) return undefined;
      const journal = await this.deps.openPartition(nodeId);
      try {
        const endedCallIds = await recoverInterruptedCalls(journal, { cause: 'NodeFailure' });
        const releasedAgents = await this.deps.claims.releaseAllOf(nodeId);
        await this.deps.processPartition(nodeId, journal);
        const takeover: Takeover = { nodeId, endedCallIds, releasedAgents, tookMs: Date.now() - startedMs };
        logger.warn(
          { ...takeover, endedCallIds: endedCallIds.length },
          `cluster: node ${nodeId} died; ended ${endedCallIds.length} call(s) it left in progress, released ${releasedAgents} agent(s)`,
        );
        await this.deps.membership.forget(nodeId);
        return takeover;
      } finally {
        await journal.close();
      }
    } finally {
      await leases.release(nodeId);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.running.values());
  }
}
