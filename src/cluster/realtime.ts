/**
 * Realtime events of the whole cluster on every node: a wallboard or an RTE client connected to
 * one node sees the calls every node runs. This node's own calls come from its own feed as on one
 * machine; every other node's partition is followed (../journal/jetstream-follower.ts) and turned
 * into events with ids `<node>~<seq>-<n>` (that partition's sequence). All of them share one set of
 * queue counts, so a QueueStatus event counts the waiting and connected calls of every node.
 *
 * Events of other partitions are live only: a client resuming with a last event id replays this
 * node's own events (../realtime/hub.ts).
 */
import type { Directory } from '../config/types.js';
import type { LegacyRouting } from '../journal/facts.js';
import { type FollowedPartition, followJetStreamPartition } from '../journal/jetstream-follower.js';
import { listJournalNodes } from '../journal/jetstream-journal.js';
import type { Logger } from '../logger.js';
import type { QueueCounts } from '../realtime/events.js';
import { createRealtimeFeed, type RealtimeFeedHandle } from '../realtime/feed.js';
import type { RealtimeEvent } from '../realtime/types.js';
import type { ClusterConnection } from './connection.js';
import type { Membership } from './membership.js';

/** What the RTE hub takes from the other nodes: their events, live. */
export interface RemoteEvents {
  subscribe(listener: (event: RealtimeEvent) => void): () => void;
}

interface Followed {
  partition: FollowedPartition;
  feed: RealtimeFeedHandle;
}

export class ClusterRealtime implements RemoteEvents {
  /** Queue counts shared by this node's feed and the followed partitions' (see the file comment). */
  readonly queueCounts = new Map<string, QueueCounts>();
  private readonly followed = new Map<string, Promise<Followed | undefined>>();
  private readonly listeners = new Set<(event: RealtimeEvent) => void>();
  private closed = false;

  constructor(
    private readonly connection: ClusterConnection,
    private readonly names: { streamPrefix: string; subjectPrefix: string; legacyRouting?: LegacyRouting },
    private readonly logger: Logger,
  ) {}

  /** Follow every other node's partition there is, and each node that appears later. */
  async start(directory: Directory, membership: Membership): Promise<void> {
    membership.on({ onAlive: (nodeId) => void this.follow(nodeId, directory) });
    const nodeIds = await listJournalNodes(this.connection.nc, this.names.streamPrefix);
    await Promise.all(nodeIds.map((nodeId) => this.follow(nodeId, directory)));
  }

  subscribe(listener: (event: RealtimeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private follow(nodeId: string, directory: Directory): Promise<Followed | undefined> {
    if (nodeId === this.connection.nodeId || this.closed) return Promise.resolve(undefined);
    const known = this.followed.get(nodeId);
    if (known) return known;
    const started = (async () => {
      const partition = await followJetStreamPartition(this.connection.nc, {
        nodeId,
        streamPrefix: this.names.streamPrefix,
        subjectPrefix: this.names.subjectPrefix,
        ...(this.names.legacyRouting ? { legacyRouting: this.names.legacyRouting } : {}),
        onError: (err) =>
          this.logger.warn({ err, nodeId }, `cluster: following node ${nodeId}'s journal failed; retrying`),
      });
      const feed = createRealtimeFeed({
        journal: partition,
        directory,
        derive: { idPrefix: `${nodeId}~`, queueCounts: this.queueCounts },
        onError: (err) =>
          this.logger.warn({ err, nodeId }, 'cluster: realtime events of another node failed'),
      });
      feed.subscribe((event) => {
        for (const listener of this.listeners) listener(event);
      });
      this.logger.info({ nodeId }, `cluster: following node ${nodeId}'s calls for realtime events`);
      return { partition, feed };
    })().catch((err: unknown) => {
      this.logger.warn({ err, nodeId }, `cluster: cannot follow node ${nodeId}'s journal`);
      this.followed.delete(nodeId);
      return undefined;
    });
    this.followed.set(nodeId, started);
    return started;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    for (const started of this.followed.values()) {
      const followed = await started;
      followed?.feed.close();
      await followed?.partition.close();
    }
    this.followed.clear();
  }
}
