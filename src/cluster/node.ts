/**
 * One Switchboard node of a cluster (DESIGN.md §13), as the platform sees it: the journal is this
 * node's JetStream partition, registrations and agent claims are shared through NATS KV, agents'
 * availability changes are announced to the other nodes, and a janitor takes over the partition
 * of a node that dies. ../platform.ts wires it in when started with `cluster`.
 */
import type { Msg } from '@nats-io/nats-core';
import type { AgentService } from '../calls/agent-service.js';
import type { Directory } from '../config/types.js';
import type { LegacyRouting } from '../journal/facts.js';
import { type JetStreamJournal, openJetStreamJournal } from '../journal/jetstream-journal.js';
import type { Journal } from '../journal/types.js';
import type { Logger } from '../logger.js';
import type { MediaEndpointKind } from '../media/types.js';
import type { LocationService } from '../sip/registrar.js';
import type { SipStack } from '../sip/stack.js';
import type { Flow } from '../sip/transport/types.js';
import { KvAgentClaims } from './agent-claims.js';
import { type ClusterConnection, type ClusterOptions, connectCluster } from './connection.js';
import { Janitor } from './janitor.js';
import { LocationSync } from './location-sync.js';
import { Membership } from './membership.js';
import { PartitionLeases } from './partitions.js';
import { ClusterRealtime } from './realtime.js';
import { WsRelay } from './relay.js';

export type { ClusterOptions } from './connection.js';

/** How long a starting node waits for a janitor still recovering its partition (ms). */
const OWN_PARTITION_WAIT_MS = 60_000;

export interface ClusterNode {
  readonly nodeId: string;
  readonly connection: ClusterConnection;
  readonly membership: Membership;
  readonly claims: KvAgentClaims;
  /** The other nodes' calls as realtime events, and the queue counts shared with this node's feed. */
  readonly realtime: ClusterRealtime;
  /** This node's journal partition (opened by `join`, closed by the platform). */
  readonly journal: JetStreamJournal;
  /** Follow and share registrations and agents; start the janitor. */
  attach(parts: {
    directory: Directory;
    location: LocationService;
    agents: AgentService;
    processPartition(nodeId: string, journal: Journal): Promise<void>;
  }): Promise<void>;
  /**
   * The SIP stack runs: tell the other nodes this node's SIP address, and relay requests for this
   * node's WebSocket clients from them (./relay.ts).
   */
  serveSip(parts: { stack: SipStack; location: LocationService; host: string; port: number }): Promise<void>;
  /**
   * The media kind of a party reached over `flow`: WebRTC over WebSocket, and also a peer node's
   * SIP address, where that node relays its WebSocket clients (./relay.ts); else plain RTP.
   */
  mediaKindOf(flow: Flow): MediaEndpointKind;
  /** Tell the other nodes that a user's availability or serving changed here. */
  agentChanged(userId: string): void;
  /** Leave: stop beating (deleting the beat when `clean`), release the partition, close NATS. */
  close(clean: boolean): Promise<void>;
}

export interface JoinOptions extends ClusterOptions {
  groupCommitMs?: number;
  legacyRouting?: LegacyRouting;
}

/**
 * Connect, start beating, take this node's partition (waiting for a janitor that is still ending
 * the calls of this node's previous life) and open its journal.
 */
export async function joinCluster(opts: JoinOptions, logger: Logger): Promise<ClusterNode> {
  const log = logger.child({ component: 'cluster', nodeId: opts.nodeId });
  const connection = await connectCluster(opts, log);
  const { nodeId, prefix } = connection;
  const membership = new Membership(connection, log);
  const leases = new PartitionLeases(connection, membership, log);
  const claims = new KvAgentClaims(connection, log);
  let janitor: Janitor | undefined;
  const openPartition = (partition: string) =>
    openJetStreamJournal(connection.nc, {
      nodeId: partition,
      streamPrefix: `${prefix}_JOURNAL`,
      subjectPrefix: `${prefix.toLowerCase()}.journal`,
      groupCommitMs: opts.groupCommitMs,
      legacyRouting: opts.legacyRouting,
      onError: (err) => {
        if (err.code === 'JOURNAL_FENCED' && partition === nodeId) {
          // Another node took this node's partition over (it looked dead: NATS unreachable past
          // the heartbeat deadline). Its facts can no longer be journaled: it must not go on.
          log.fatal({ err }, `cluster: node ${nodeId} was fenced off its own journal partition`);
          opts.onFenced?.();
          return;
        }
        log.warn({ err, partition }, `journal: ${err.message}`);
      },
    });
  let journal: Awaited<ReturnType<typeof openPartition>>;
  try {
    await membership.start();
    if (!(await leases.acquire(nodeId, OWN_PARTITION_WAIT_MS)))
      throw new Error(
        `cluster: partition ${nodeId} is still held by another node after ${OWN_PARTITION_WAIT_MS} ms`,
      );
    journal = await openPartition(nodeId);
  } catch (err) {
    await membership.close(false).catch(() => {});
    await leases.release(nodeId).catch(() => {});
    await connection.close();
    throw err;
  }
  const realtime = new ClusterRealtime(
    connection,
    {
      streamPrefix: `${prefix}_JOURNAL`,
      subjectPrefix: `${prefix.toLowerCase()}.journal`,
      ...(opts.legacyRouting ? { legacyRouting: opts.legacyRouting } : {}),
    },
    log,
  );
  const agentsSubject = `${prefix.toLowerCase()}.agents.changed`;
  let locationSync: LocationSync | undefined;
  let agentSub: { unsubscribe(): void } | undefined;
  log.info(
    `cluster: node ${nodeId} joined (NATS ${opts.natsUrl}, journal stream ${prefix}_JOURNAL_${nodeId})`,
  );

  return {
    nodeId,
    connection,
    membership,
    claims,
    journal,
    realtime,
    async attach(parts) {
      locationSync = new LocationSync(connection, parts.location, log);
      await locationSync.start();
      await claims.start();
      // Dead nodes are taken over once this node can post-process their partitions.
      janitor = new Janitor({
        membership,
        leases,
        claims,
        openPartition,
        processPartition: parts.processPartition,
        logger: log,
      });
      janitor.start();
      await realtime.start(parts.directory, membership);
      agentSub = connection.nc.subscribe(agentsSubject, {
        callback: (err: Error | null, msg: Msg) => {
          if (err) return;
          let change: { nodeId?: unknown; userId?: unknown };
          try {
            change = msg.json<{ nodeId?: unknown; userId?: unknown }>();
          } catch {
            log.warn({ subject: agentsSubject }, 'cluster: an agent change that is not JSON was ignored');
            return;
          }
          const { nodeId: from, userId } = change;
          if (from === nodeId || typeof userId !== 'string') return;
          parts.agents
            .refresh(userId)
            .catch((error: unknown) => log.warn({ err: error, userId }, 'cluster: agent refresh failed'));
        },
      });
    },
    async serveSip({ stack, location, host, port }) {
      const relay = new WsRelay({
        stack,
        location,
        self: { host, port },
        isPeer: (peerHost, peerPort) => membership.isPeerSip(peerHost, peerPort),
        logger: log,
      });
      relay.install();
      if (locationSync) locationSync.relay = relay;
      await membership.announceSip(`${host}:${port}`);
    },
    mediaKindOf(flow) {
      return flow.protocol === 'ws' ||
        (flow.protocol === 'udp' && membership.isPeerSip(flow.address, flow.port))
        ? 'webrtc'
        : 'rtp';
    },
    agentChanged(userId) {
      if (!connection.nc.isClosed()) connection.nc.publish(agentsSubject, JSON.stringify({ nodeId, userId }));
    },
    async close(clean) {
      agentSub?.unsubscribe();
      await janitor?.close();
      await realtime.close();
      await locationSync?.close();
      await claims.close();
      await membership.close(clean);
      if (clean) await leases.release(nodeId);
      await connection.close();
    },
  };
}
