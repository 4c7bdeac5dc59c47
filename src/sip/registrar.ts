/**
 * Registrar and location service (RFC 3261 §10, RFC 5626 instance ids, RFC 7118 flows).
 *
 * A binding remembers the flow the REGISTER came over and the flow its contact is reached at
 * (`target`, ./reach.ts): the Contact's own address (RFC 3261; third-party registrations work),
 * or the REGISTER's flow for WebSocket, RFC 5626 outbound and evident NAT. The SIP digest
 * username is the address-of-record's user part (the extension).
 */
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import type { AuthFailureThrottle } from './auth-throttle.js';
import type { DigestAuthenticator } from './digest.js';
import { formatParams, parseContactList, parseNameAddr, parseViaList } from './headers.js';
import type { SipRequest } from './message.js';
import { type ReachReason, reachContact } from './reach.js';
import type { SipStack } from './stack.js';
import type { ServerTransaction } from './transaction/index.js';
import { type Flow, flowKey } from './transport/types.js';

export interface Binding {
  /** Address-of-record user part: the extension. */
  aor: string;
  /** Contact URI as registered. */
  contactUri: string;
  /** Key that identifies the binding: +sip.instance when present, else the contact URI. */
  bindingKey: string;
  expiresAtMs: number;
  registeredAtMs: number;
  sipCallId: string;
  cseq: number;
  /** The flow the REGISTER came over. */
  flow: Flow;
  /** Where requests to this contact go (DESIGN.md §6): see ./reach.ts. */
  target: Flow;
  /** Why `target` is what it is (`path`: through the proxies of the REGISTER's Path, RFC 3327). */
  reachReason: ReachReason | 'path';
  /**
   * The REGISTER's Path header values (RFC 3327), in order: requests to this contact carry them as
   * a preloaded Route set and go to the first of them (`target` is the flow that proxy sent from).
   */
  path?: string[];
  /**
   * The cluster node that took the REGISTER, for a binding another node shares with this one
   * (../cluster/location-sync.ts); absent for this node's own bindings.
   */
  node?: string;
  userAgent?: string;
  /** RFC 5626 parameters echoed in the 200 (+sip.instance, reg-id). */
  outboundParams?: [string, string | null][];
}

export type BindingChange = {
  kind: 'added' | 'refreshed' | 'removed';
  binding: Binding;
  why?: 'unregistered' | 'expired' | 'flow-closed';
};

export class LocationService {
  private readonly byAor = new Map<string, Map<string, Binding>>();
  private readonly listeners = new Set<(change: BindingChange) => void>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Current (unexpired) bindings of an address-of-record, most recently registered first. */
  lookup(aor: string): Binding[] {
    const bindings = this.byAor.get(aor);
    if (!bindings) return [];
    const now = this.now();
    return [...bindings.values()]
      .filter((b) => b.expiresAtMs > now)
      .sort((a, b) => b.registeredAtMs - a.registeredAtMs);
  }

  /** Every binding of an address-of-record as stored, expired or not. */
  lookupAll(aor: string): Binding[] {
    return [...(this.byAor.get(aor)?.values() ?? [])];
  }

  isRegistered(aor: string): boolean {
    return this.lookup(aor).length > 0;
  }

  get(aor: string, bindingKey: string): Binding | undefined {
    return this.byAor.get(aor)?.get(bindingKey);
  }

  upsert(binding: Binding): void {
    let bindings = this.byAor.get(binding.aor);
    if (!bindings) {
      bindings = new Map();
      this.byAor.set(binding.aor, bindings);
    }
    const existed = bindings.has(binding.bindingKey);
    bindings.set(binding.bindingKey, binding);
    this.emit({ kind: existed ? 'refreshed' : 'added', binding });
  }

  remove(aor: string, bindingKey: string, why: BindingChange['why']): void {
    const bindings = this.byAor.get(aor);
    const binding = bindings?.get(bindingKey);
    if (!bindings || !binding) return;
    bindings.delete(bindingKey);
    if (bindings.size === 0) this.byAor.delete(aor);
    this.emit({ kind: 'removed', binding, why });
  }

  removeAll(aor: string, why: BindingChange['why']): void {
    for (const binding of [...(this.byAor.get(aor)?.values() ?? [])])
      this.remove(aor, binding.bindingKey, why);
  }

  /**
   * A connection closed: the bindings reached over it (WebSocket, outbound, NAT) can no longer be
   * reached. Bindings reached at their Contact's address stay: a new connection gets there.
   */
  removeFlow(flow: Flow): void {
    const key = flowKey(flow);
    for (const [aor, bindings] of [...this.byAor]) {
      for (const binding of [...bindings.values()])
        if (flowKey(binding.target) === key) this.remove(aor, binding.bindingKey, 'flow-closed');
    }
  }

  /** The flow of a binding reached over the connection `connectionId` (a WebSocket), if any. */
  flowOf(connectionId: string): Flow | undefined {
    for (const bindings of this.byAor.values())
      for (const binding of bindings.values())
        if ('connectionId' in binding.target && binding.target.connectionId === connectionId)
          return binding.target;
    return undefined;
  }

  /** Remove expired bindings; returns how many went. */
  sweep(): number {
    const now = this.now();
    let removed = 0;
    for (const [aor, bindings] of [...this.byAor]) {
      for (const binding of [...bindings.values()]) {
        if (binding.expiresAtMs <= now) {
          this.remove(aor, binding.bindingKey, 'expired');
          removed++;
        }
      }
    }
    return removed;
  }

  onChange(listener: (change: BindingChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(change: BindingChange): void {
    for (const listener of this.listeners) listener(change);
  }

  get size(): number {
    let n = 0;
    for (const bindings of this.byAor.values()) n += bindings.size;
    return n;
  }
}

/** What the registrar needs to know about subscribers; the tenant directory implements it. */
export interface SubscriberLookup {
  /** Password of the subscriber whose digest username (extension) this is. */
  passwordFor(username: string): string | undefined;
}

export interface RegistrarOptions {
  stack: SipStack;
  auth: DigestAuthenticator;
  subscribers: SubscriberLookup;
  location: LocationService;
  minExpires?: number;
  maxExpires?: number;
  defaultExpires?: number;
  sweepIntervalMs?: number;
  logger?: Logger;
  now?: () => number;
  /** Failed authentications per source address; without it, nothing is throttled. */
  authThrottle?: AuthFailureThrottle;
  /**
   * Front proxies (tenant `sip.trustedProxies`): what they relay is throttled by the phone's
   * address from the Via below theirs, not by theirs.
   */
  trustedProxies?: readonly string[];
}

/** The one reason phrase of every refusal of credentials: it must not tell why they were refused. */
const FORBIDDEN = 'Forbidden';

export class Registrar {
  private readonly minExpires: number;
  private readonly maxExpires: number;
  private readonly defaultExpires: number;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(private readonly opts: RegistrarOptions) {
    this.minExpires = opts.minExpires ?? 60;
    this.maxExpires = opts.maxExpires ?? 3600;
    this.defaultExpires = opts.defaultExpires ?? 3600;
    this.logger = opts.logger ?? silentLogger;
    this.now = opts.now ?? Date.now;
    this.sweepTimer = setInterval(() => opts.location.sweep(), opts.sweepIntervalMs ?? 1000);
    this.sweepTimer.unref();
  }

  close(): void {
    clearInterval(this.sweepTimer);
  }

  /** Source addresses refused without authentication right now (for /metrics). */
  get throttledAddresses(): number {
    return this.opts.authThrottle?.blockedCount ?? 0;
  }

  /**
   * Authenticate a request; on failure the transaction is answered and undefined returned.
   *
   * No answer tells whether a username exists (DESIGN.md §6): without credentials every request,
   * for a known user or not, gets the same challenge (401, or 407 when `proxy`); an unknown user, a
   * wrong password and — when `aor` is given — credentials of another user all get the same 403,
   * after the same digest work. Those 403s count against the source address (RegistrarOptions
   * `authThrottle`); while it cools down, its requests get 403 at once, without digest work or a
   * challenge. Correct credentials on an expired nonce get a new challenge with stale=true.
   */
  authenticate(request: SipRequest, tx: ServerTransaction, proxy: boolean, aor?: string): string | undefined {
    const { stack, auth, subscribers, authThrottle } = this.opts;
    const source = this.clientAddress(request, tx);
    if (authThrottle?.isBlocked(source)) {
      stack.metrics.inc('authThrottled');
      tx.respond(stack.createResponse(request, 403, FORBIDDEN));
      return undefined;
    }
    const verdict = auth.verify(
      request.headers.get(proxy ? 'Proxy-Authorization' : 'Authorization'),
      request.method,
      (u) => subscribers.passwordFor(u),
    );
    if (verdict.ok && (aor === undefined || verdict.username === aor)) return verdict.username;
    const reason = verdict.ok ? 'not-the-aor' : verdict.reason;
    const challenge = (stale: boolean) =>
      tx.respond(
        stack.createResponse(request, proxy ? 407 : 401, undefined, {
          headers: [[proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate', auth.challenge({ stale })]],
        }),
      );
    // No credentials yet, or correct ones on an expired nonce: not a failure.
    if (reason === 'missing' || reason === 'stale') {
      challenge(reason === 'stale');
      return undefined;
    }
    stack.metrics.inc('authFailures');
    this.logger.info({ method: request.method, reason, flow: tx.flow }, 'sip: authentication failed');
    if (reason === 'malformed' || reason === 'unsupported') {
      tx.respond(stack.createResponse(request, 400, `Bad Request (${reason} credentials)`));
      return undefined;
    }
    if (reason === 'wrong-realm' || reason === 'bad-nonce' || reason === 'replay') {
      // Decided before (or, for a replay, only after a correct) password check, alike for every
      // username; a new challenge lets a UA that restarted or lost its nonce recover.
      challenge(false);
      return undefined;
    }
    // unknown-user, wrong-password, not-the-aor: one answer for all three.
    if (authThrottle?.recordFailure(source)) {
      const { maxFailures, windowSeconds, cooldownSeconds } = authThrottle.config;
      this.logger.warn(
        { address: source, maxFailures, windowSeconds, cooldownSeconds },
        `sip: ${maxFailures} failed authentications from ${source} within ${windowSeconds} s; refusing it for ${cooldownSeconds} s`,
      );
    }
    tx.respond(stack.createResponse(request, 403, FORBIDDEN));
    return undefined;
  }

  /**
   * Whose credentials these are, for the throttle: the sender, or — when the sender is a trusted
   * front proxy — the phone behind it, as the proxy's Via below its own records it (`received`,
   * else the sent-by host). Only a trusted proxy is believed: anyone else could write any Via.
   */
  private clientAddress(request: SipRequest, tx: ServerTransaction): string {
    const sender = tx.flow.address;
    if (!this.opts.trustedProxies?.includes(sender)) return sender;
    const vias = parseViaList(request.headers.getLines('Via'));
    const phone = vias?.[1];
    if (!phone) return sender;
    const host = phone.received ?? phone.host;
    return host.startsWith('[') ? host.slice(1, -1) : host;
  }

  handle(request: SipRequest, tx: ServerTransaction): void {
    const { stack, location } = this.opts;
    const to = parseNameAddr(request.headers.get('To') ?? '');
    const aor = to?.uri.user;
    if (!to || !aor) {
      tx.respond(stack.createResponse(request, 400, 'Bad Request (To is not an address-of-record)'));
      return;
    }
    // An unknown address-of-record is challenged like a known one, then refused (no enumeration).
    const username = this.authenticate(request, tx, false, aor);
    if (!username) return;

    const contactLines = request.headers.getLines('Contact');
    const path = request.headers.getAll('Path');
    const sipCallId = request.headers.get('Call-ID') ?? '';
    const cseq = Number.parseInt((request.headers.get('CSeq') ?? '0').trim(), 10);
    const expiresHeader = request.headers.get('Expires');
    const headerExpires = expiresHeader !== undefined ? Number.parseInt(expiresHeader, 10) : undefined;
    if (expiresHeader !== undefined && (!Number.isFinite(headerExpires) || headerExpires! < 0)) {
      tx.respond(stack.createResponse(request, 400, 'Bad Request (invalid Expires)'));
      return;
    }

    if (contactLines.length > 0) {
      const parsed = parseContactList(contactLines.join(', '));
      if (!parsed) {
        tx.respond(stack.createResponse(request, 400, 'Bad Request (invalid Contact)'));
        return;
      }
      if (parsed.star) {
        // RFC 3261 §10.3 step 6: "*" only alone and only with Expires: 0.
        if (contactLines.length !== 1 || headerExpires !== 0) {
          tx.respond(stack.createResponse(request, 400, 'Bad Request (Contact "*" requires Expires: 0)'));
          return;
        }
        // Step 6 applies to "*" as well: a binding made under this Call-ID goes only for a newer CSeq.
        if (location.lookup(aor).some((b) => b.sipCallId === sipCallId && b.cseq >= cseq)) {
          tx.respond(stack.createResponse(request, 500, 'Server Internal Error (out-of-order REGISTER)'));
          return;
        }
        location.removeAll(aor, 'unregistered');
      } else {
        const now = this.now();
        // Validate every contact before changing anything (the request is atomic).
        const updates: {
          key: string;
          uri: string;
          expires: number;
          outboundParams: [string, string | null][];
          outbound: boolean;
        }[] = [];
        for (const contact of parsed.contacts) {
          const param = contact.params.get('expires');
          const expires =
            param !== undefined && param !== null
              ? Number.parseInt(param, 10)
              : (headerExpires ?? this.defaultExpires);
          if (!Number.isFinite(expires) || expires < 0) {
            tx.respond(stack.createResponse(request, 400, 'Bad Request (invalid expires parameter)'));
            return;
          }
          if (expires > 0 && expires < this.minExpires) {
            tx.respond(
              stack.createResponse(request, 423, 'Interval Too Brief', {
                headers: [['Min-Expires', String(this.minExpires)]],
              }),
            );
            return;
          }
          const instance = contact.params.get('+sip.instance');
          const outboundParams = [...contact.params].filter(
            ([name]) => name === '+sip.instance' || name === 'reg-id',
          );
          updates.push({
            key: instance ? `instance:${instance}` : contact.uriText,
            uri: contact.uriText,
            expires: Math.min(expires, this.maxExpires),
            outboundParams,
            // RFC 5626 §5.2: outbound needs both; then the flow, not the Contact, reaches the UA.
            outbound: !!instance && contact.params.get('reg-id') != null,
          });
        }
        for (const update of updates) {
          const existing = location.get(aor, update.key);
          if (existing && existing.sipCallId === sipCallId && existing.cseq >= cseq) {
            tx.respond(stack.createResponse(request, 500, 'Server Internal Error (out-of-order REGISTER)'));
            return;
          }
        }
        for (const update of updates) {
          if (update.expires === 0) {
            location.remove(aor, update.key, 'unregistered');
            continue;
          }
          const existing = location.get(aor, update.key);
          // Behind a proxy that adds Path (Kamailio in front of several nodes), the proxy reaches
          // the UA; without Path, the Contact or the flow does (./reach.ts).
          // The first hop is reached like a Contact (its address when that is where the REGISTER came
          // from, else the flow), and is then an address every node of a cluster can use.
          const firstHop = path.length > 0 ? parseNameAddr(path[0]!)?.uriText : undefined;
          const reach = firstHop
            ? { flow: reachContact(firstHop, tx.flow).flow, reason: 'path' as const }
            : reachContact(update.uri, tx.flow, { outbound: update.outbound });
          location.upsert({
            aor,
            contactUri: update.uri,
            bindingKey: update.key,
            expiresAtMs: now + update.expires * 1000,
            registeredAtMs: existing?.registeredAtMs ?? now,
            sipCallId,
            cseq,
            flow: tx.flow,
            target: reach.flow,
            reachReason: reach.reason,
            ...(path.length > 0 ? { path } : {}),
            userAgent: request.headers.get('User-Agent'),
            outboundParams: update.outboundParams,
          });
        }
        stack.metrics.inc('registrations');
      }
    }

    // 200 lists every current binding with its remaining lifetime.
    const now = this.now();
    const headers: [string, string][] = [];
    for (const binding of location.lookup(aor)) {
      const remaining = Math.max(0, Math.round((binding.expiresAtMs - now) / 1000));
      // The URI exactly as registered, in brackets: its own parameters (;transport=ws) are part of it.
      // RFC 5626 clients (JsSIP) find their binding in the 200 by +sip.instance and reg-id.
      const outbound = binding.outboundParams?.length ? formatParams(new Map(binding.outboundParams)) : '';
      headers.push(['Contact', `<${binding.contactUri}>;expires=${remaining}${outbound}`]);
    }
    // RFC 3327 §5.3: the Path stored is echoed, so the UA (and the proxies) see what was kept.
    for (const hop of path) headers.push(['Path', hop]);
    headers.push(['Date', new Date(now).toUTCString()]);
    tx.respond(stack.createResponse(request, 200, 'OK', { headers }));
    this.logger.debug({ aor, bindings: headers.length - 1 }, 'sip: registration processed');
  }
}
