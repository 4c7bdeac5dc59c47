/**
 * Which nodes are alive. Every node rewrites its key in the NODES bucket each heartbeat; every node
 * watches the bucket and notes when it last heard from each. A node not heard from for
 * `deadAfterMs` is dead (its process died, or it lost NATS): listeners are told once, and again
 * only after it came back. A node that stops cleanly deletes its key and is gone, not dead.
 *
 * The time compared is this node's clock at receipt, never the sender's: clocks of different
 * machines need not agree. While this node is cut off from NATS it judges nobody (it hears
 * nothing, which says nothing of the others), and once back it gives every node a fresh
 * `deadAfterMs` to be heard: a NATS restart must not make nodes take each other over.
 */
import type { KV } from '@nats-io/kv';
import type { Logger } from '../logger.js';
import { type ClusterConnection, entryJson } from './connection.js';

export interface NodeBeat {
  nodeId: string;
  /** When the node's process started (epoch ms, its own clock): a restart is a new incarnation. */
  startedAtMs: number;
  /** SIP address the node listens on (for operators and the janitor's logs). */
  sip?: string;
}

export interface MembershipEvents {
  /** A node stopped beating. */
  onDead?(nodeId: string): void;
  /** A node beat for the first time, or again after it was dead. */
  onAlive?(nodeId: string, beat: NodeBeat): void;
}

export class Membership {
  private readonly heardAt = new Map<string, number>();
  /** nodeId → revision of its last beat seen (to forget a dead node without erasing a newer beat). */
  private readonly revisions = new Map<string, number>();
  private readonly dead = new Set<string>();
  private readonly listeners: MembershipEvents[] = [];
  private beatTimer?: NodeJS.Timeout;
  private checkTimer?: NodeJS.Timeout;
  private watchStop?: () => void;
  /** nodeId → its last beat (the SIP address it listens on). */
  private readonly beats = new Map<string, NodeBeat>();
  private readonly startedAtMs = Date.now();
  private closed = false;
  private sip?: string;
  /** Cut off from NATS: no node is judged. */
  private disconnected = false;

  constructor(
    private readonly cluster: ClusterConnection,
    private readonly logger: Logger,
  ) {}

  /** The SIP address this node listens on (host:port), once bound: told to the others at once. */
  async announceSip(sip: string): Promise<void> {
    this.sip = sip;
    await this.beat();
  }

  /** Whether host:port is the SIP address of another live node. */
  isPeerSip(host: string, port: number): boolean {
    const address = `${host}:${port}`;
    for (const [nodeId, beat] of this.beats) if (beat.sip === address && this.isAlive(nodeId)) return true;
    return false;
  }

  private get kv(): KV {
    return this.cluster.buckets.nodes;
  }

  /** Beat at once, then every heartbeat; follow the other nodes. */
  async start(): Promise<void> {
    this.cluster.onConnected((connected) => {
      this.disconnected = !connected;
      if (connected) {
        const now = Date.now();
        for (const nodeId of this.heardAt.keys()) if (!this.dead.has(nodeId)) this.heardAt.set(nodeId, now);
      }
    });
    await this.beat();
    // Nodes in the bucket now count as just heard from: a live one keeps beating, one that died
    // before this node started is declared dead after `deadAfterMs` like any other, and its
    // partition gets a janitor.
    for await (const key of await this.kv.keys('node.>')) {
      const nodeId = key.slice('node.'.length);
      if (nodeId !== this.cluster.nodeId) this.heardAt.set(nodeId, Date.now());
    }
    const watcher = await this.kv.watch({ key: 'node.>' });
    this.watchStop = () => watcher.stop();
    void (async () => {
      for await (const entry of watcher) {
        const nodeId = entry.key.slice('node.'.length);
        if (nodeId === this.cluster.nodeId) continue;
        const beat = entryJson<NodeBeat>(entry);
        if (!beat) {
          // Deleted: the node stopped cleanly (its calls ended, its journal settled).
          this.heardAt.delete(nodeId);
          this.beats.delete(nodeId);
          this.dead.delete(nodeId);
          this.logger.info({ nodeId }, `cluster: node ${nodeId} left`);
          continue;
        }
        const known = this.heardAt.has(nodeId) && !this.dead.has(nodeId);
        this.heardAt.set(nodeId, Date.now());
        this.beats.set(nodeId, beat);
        this.revisions.set(nodeId, entry.revision);
        if (!known) {
          this.dead.delete(nodeId);
          this.logger.info({ nodeId, sip: beat.sip }, `cluster: node ${nodeId} is alive`);
          for (const listener of this.listeners) listener.onAlive?.(nodeId, beat);
        }
      }
    })();
    this.beatTimer = setInterval(() => void this.beat(), this.cluster.heartbeatMs);
    this.checkTimer = setInterval(() => this.check(), Math.max(100, this.cluster.heartbeatMs / 2));
    this.beatTimer.unref();
    this.checkTimer.unref();
  }

  on(events: MembershipEvents): void {
    this.listeners.push(events);
  }

  /** Nodes heard from within `deadAfterMs`, this one included. */
  aliveNodes(): string[] {
    const alive = [...this.heardAt.keys()].filter((nodeId) => !this.dead.has(nodeId));
    return [this.cluster.nodeId, ...alive].sort();
  }

  isAlive(nodeId: string): boolean {
    return nodeId === this.cluster.nodeId || (this.heardAt.has(nodeId) && !this.dead.has(nodeId));
  }

  /**
   * Remove a dead node's last beat (its janitor is done), unless it beat again since: later starts
   * then do not declare it dead again.
   */
  async forget(nodeId: string): Promise<void> {
    const revision = this.revisions.get(nodeId);
    if (!this.dead.has(nodeId) || revision === undefined) return;
    await this.kv.delete(`node.${nodeId}`, { previousSeq: revision }).catch(() => {});
  }

  private async beat(): Promise<void> {
    if (this.closed) return;
    const beat: NodeBeat = { nodeId: this.cluster.nodeId, startedAtMs: this.startedAtMs, sip: this.sip };
    try {
      await this.kv.put(`node.${this.cluster.nodeId}`, JSON.stringify(beat));
    } catch (err) {
      this.logger.warn({ err }, 'cluster: heartbeat failed');
    }
  }

  private check(): void {
    if (this.disconnected) return;
    const now = Date.now();
    for (const [nodeId, at] of this.heardAt) {
      if (this.dead.has(nodeId) || now - at < this.cluster.deadAfterMs) continue;
      this.dead.add(nodeId);
      this.logger.warn({ nodeId, silentMs: now - at }, `cluster: node ${nodeId} is dead (no heartbeat)`);
      for (const listener of this.listeners) listener.onDead?.(nodeId);
    }
  }

  /** Stop beating; `leave` deletes the key (a clean stop), otherwise it is left to go stale. */
  async close(leave: boolean): Promise<void> {
    this.closed = true;
    clearInterval(this.beatTimer);
    clearInterval(this.checkTimer);
    this.watchStop?.();
    if (leave) await this.kv.delete(`node.${this.cluster.nodeId}`).catch(() => {});
  }
}
