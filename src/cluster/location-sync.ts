/**
 * Registrations visible to every node. Each node's registrar keeps its bindings in its own
 * `LocationService` as on a single machine; this module copies them into the LOCATION bucket and
 * copies the other nodes' bindings back into the local service, marked with the node that owns
 * them (`Binding.node`), so call control finds every device of a user whichever node took the
 * REGISTER.
 *
 * Why NATS KV rather than Kamailio's usrloc in PostgreSQL: the registrar stays ours (digest
 * challenges, RFC 5626 flows, third-party registrations, the same 200 as on one machine), a change
 * reaches every node in milliseconds through the watch (no polling of a table), and the bucket
 * needs no schema of its own.
 *
 * A binding is usable from another node only when its target is an address: a Path through the
 * front proxy (RFC 3327, the cluster's normal case) or a Contact address. A binding reached over
 * one node's own connection (a WebSocket, an RFC 5626 flow) is published for visibility but only
 * that node can reach it; the others do not offer calls to it.
 */
import { randomUUID } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import type { Logger } from '../logger.js';
import type { Binding, BindingChange, LocationService } from '../sip/registrar.js';
import type { Flow } from '../sip/transport/types.js';
import { type ClusterConnection, entryJson } from './connection.js';

interface StoredBinding {
  node: string;
  /** Which life of the node wrote it (a node restarted with the same id is a new one). */
  incarnation?: string;
  binding: Binding;
}

function token(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url') || '_';
}

function keyOf(binding: Pick<Binding, 'aor' | 'bindingKey'>): string {
  return `b.${token(binding.aor)}.${token(binding.bindingKey)}`;
}

/** Whether another node can send to this flow: an address, not one node's connection. */
export function reachableFromAnyNode(flow: Flow): boolean {
  return flow.protocol === 'udp' || (flow.protocol !== 'ws' && flow.connectionId === undefined);
}

export class LocationSync {
  private unsubscribe?: () => void;
  private watchStop?: () => void;
  /** Writes in flight, in order per key: a refresh never overtakes an earlier removal. */
  private readonly chains = new Map<string, Promise<void>>();
  /** key → revision of this node's last write of it (an expiry deletes only that). */
  private readonly written = new Map<string, number>();
  /** This life of the node: its own writes carry it, a previous life's do not. */
  private readonly incarnation = randomUUID();

  /**
   * How the other nodes reach a binding only this node can (a WebSocket): set once the SIP stack
   * runs (./relay.ts). Without it such bindings are shared for visibility only.
   */
  relay?: { pathFor(binding: Binding): string | undefined; readonly selfFlow: Flow };

  constructor(
    private readonly cluster: ClusterConnection,
    private readonly location: LocationService,
    private readonly logger: Logger,
  ) {}

  /** The binding as the other nodes get it: through this node when only this node reaches it. */
  private shared(binding: Binding): Binding {
    const path = this.relay?.pathFor(binding);
    if (!path || reachableFromAnyNode(binding.target)) return binding;
    return { ...binding, target: this.relay!.selfFlow, path: [path, ...(binding.path ?? [])] };
  }

  private get kv(): KV {
    return this.cluster.buckets.location;
  }

  /** Load the other nodes' bindings, then follow both directions. */
  async start(): Promise<void> {
    this.unsubscribe = this.location.onChange((change) => this.publish(change));
    const watcher = await this.kv.watch({ key: 'b.>' });
    this.watchStop = () => watcher.stop();
    void (async () => {
      for await (const entry of watcher) {
        try {
          this.apply(entry.key, entryJson<StoredBinding>(entry));
        } catch (err) {
          this.logger.warn({ err, key: entry.key }, 'cluster: a shared binding could not be applied');
        }
      }
    })();
  }

  private publish(change: BindingChange): void {
    const { binding } = change;
    if (binding.node !== undefined) return; // another node's, mirrored here
    const key = keyOf(binding);
    const write = async (): Promise<void> => {
      if (change.kind === 'removed' && change.why === 'expired') {
        // Every node's sweep drops its copy; the owner drops the entry, unless the device has
        // registered again since (through another node: a newer revision than this node wrote).
        const revision = this.written.get(key);
        this.written.delete(key);
        if (revision !== undefined) await this.kv.delete(key, { previousSeq: revision }).catch(() => {});
        return;
      }
      if (change.kind === 'removed') {
        this.written.delete(key);
        await this.kv.delete(key);
        return;
      }
      const stored: StoredBinding = {
        node: this.cluster.nodeId,
        incarnation: this.incarnation,
        binding: this.shared(binding),
      };
      this.written.set(key, await this.kv.put(key, JSON.stringify(stored)));
    };
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous
      .then(write)
      .catch((err: unknown) =>
        this.logger.warn({ err, aor: binding.aor }, 'cluster: a registration could not be shared'),
      );
    this.chains.set(key, next);
    void next.then(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
  }

  private apply(key: string, stored: StoredBinding | undefined): void {
    if (stored === undefined) {
      // Deleted by its owner: drop our copy (our own binding under that key was removed already).
      for (const binding of this.mirroredUnder(key))
        this.location.remove(binding.aor, binding.bindingKey, 'unregistered');
      return;
    }
    if (stored.node === this.cluster.nodeId) {
      // Written by a previous life of this node (only this life writes under its incarnation).
      if (stored.incarnation !== this.incarnation) this.adopt(stored.binding);
      return;
    }
    const { binding } = stored;
    const local = this.location.get(binding.aor, binding.bindingKey);
    // The same device re-registered here since: ours is newer than the other node's copy.
    if (local && local.node === undefined && local.registeredAtMs > binding.registeredAtMs) return;
    if (!reachableFromAnyNode(binding.target)) {
      if (local?.node !== undefined) this.location.remove(binding.aor, binding.bindingKey, 'unregistered');
      return;
    }
    this.location.upsert({ ...binding, node: stored.node });
  }

  /**
   * A binding this node took in its previous life (it restarted: its location started empty, the
   * bucket kept the binding, the other nodes still use it): this node's own again, so it reaches
   * the phone too until the phone re-registers. Not one over a connection of that life.
   */
  private adopt(binding: Binding): void {
    if (this.location.get(binding.aor, binding.bindingKey)) return;
    if (binding.expiresAtMs <= Date.now()) return;
    if (!reachableFromAnyNode(binding.flow) || !reachableFromAnyNode(binding.target)) return;
    const { node: _node, ...own } = binding;
    this.location.upsert(own);
  }

  private mirroredUnder(key: string): Binding[] {
    const [, aorToken] = key.split('.');
    if (!aorToken) return [];
    const aor = Buffer.from(aorToken, 'base64url').toString('utf8');
    return this.location
      .lookupAll(aor)
      .filter((binding) => binding.node !== undefined && keyOf(binding) === key);
  }

  /** Wait for the writes in flight (a clean shutdown removes nothing: phones re-register elsewhere). */
  async close(): Promise<void> {
    this.unsubscribe?.();
    this.watchStop?.();
    await Promise.all(this.chains.values());
  }
}
