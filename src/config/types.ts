/**
 * The tenant directory: who the users are, which queues and callback lists exist, where the trunks
 * are. Built from the YAML configuration of DESIGN.md §5 (or the built-in demo tenant) and
 * immutable while the platform runs.
 */
import type { ClassificationSchema } from '../classification/types.js';
import type { WebhookEndpoint } from '../webhooks/config.js';

import type { OpeningHours } from './opening-hours.js';

export type Role = 'agent' | 'admin';
/** What a direct call to a DoNotDisturb user gets: 486 Busy Here (`busy`) or 480 Temporarily Unavailable. */
export type DndResponse = 'busy' | 'unavailable';
/** The four kinds of grant of DESIGN.md §4, spelled as in the configuration file. */
export type GrantKind = 'DirectCalls' | 'AgentCalls' | 'ServiceCalls' | 'CallbackList';
export type QueueStrategy = 'sequential' | 'longest-idle' | 'ring-all';

/** A grant: `'*'` means every entity of that kind; otherwise the entity's resolved id. */
export type GrantTarget = '*' | string;

export interface Grants {
  /** User ids whose direct calls the holder may see. */
  directCalls: Set<GrantTarget>;
  /** User ids whose agent (service) call events the holder may see. */
  agentCalls: Set<GrantTarget>;
  /** Queue ids whose service calls (inbound headers/details, outbound service calls) the holder may see. */
  serviceCalls: Set<GrantTarget>;
  /** Callback list ids whose requests and callback calls the holder may see. */
  callbackLists: Set<GrantTarget>;
}

export interface User {
  userId: string;
  /** REST login (an email address). */
  username: string;
  /** SIP extension; also the SIP digest username. */
  extension: string;
  /** Plain password from configuration: used for SIP digest and the REST /authuser exchange. */
  password: string;
  /** Optional direct (E.164) number. */
  number?: string;
  displayName?: string;
  role: Role;
  /** Record this user's direct calls (made or received) when a media engine is available. */
  recordDirectCalls: boolean;
  /** How direct calls are refused while the user is DoNotDisturb; absent (tenants built by hand): busy. */
  dndResponse?: DndResponse;
  /** Explicit grants from configuration, resolved to ids (self-grants are implied, see permissions). */
  grants: Grants;
}

/** What a caller waiting in a queue hears (DESIGN.md §9 "Queue audio"). Paths are absolute. */
export interface QueueAudio {
  /** Played once when the call enters the queue; null: none. */
  greeting: string | null;
  /** Looped while the caller waits. */
  musicOnHold: string;
  announcePosition: boolean;
  announceEverySeconds: number;
  /** Played to the agent who answered, before the caller is connected. */
  whisper?: string;
  /** Keep the caller ringing (180) instead of answering while waiting. */
  ringWhileWaiting: boolean;
}

export interface Queue {
  queueId: string;
  name: string;
  extension?: string;
  number?: string;
  /** Member user ids in configured order. */
  memberUserIds: string[];
  strategy: QueueStrategy;
  allocationTimeoutSeconds: number;
  maxWaitSeconds: number;
  /** Seconds a member stays unavailable after a call ends. */
  wrapUpSeconds: number;
  /** Record the queue's inbound service calls (from the moment an agent is connected). */
  recordInbound: boolean;
  /** Record outbound service and callback calls made on behalf of this queue. */
  recordOutbound: boolean;
  /** Callback list that receives unanswered calls, if any. */
  callbackListId?: string;
  /**
   * Where a call goes when maxWaitSeconds is exceeded: a user, queue or external number, resolved at
   * load time to something dialable — the user's or queue's extension (or the queue's number when it
   * has no extension), or the external number as configured. Route it like a dialled number.
   */
  overflowTarget?: string;
  /** Absent in tenants built by hand: the defaults (`defaultQueueAudio()`). */
  audio?: QueueAudio;
  /** When the queue takes calls (./opening-hours.ts); absent: always open. */
  openingHours?: OpeningHours;
}

export interface CallbackList {
  callbackListId: string;
  name: string;
  /** Queue whose number callees see on callback calls. */
  queueId: string;
  memberUserIds: string[];
}

export type TrunkTransport = 'udp' | 'tcp' | 'tls';

export interface Trunk {
  name: string;
  host: string;
  port: number;
  /** How requests to the trunk are sent (default udp). */
  transport: TrunkTransport;
}

/** Failed SIP authentications per source address (src/sip/auth-throttle.ts). */
export interface SipAuthThrottleSettings {
  /** Failures within the window that make the address cool down (default 10). */
  maxFailures: number;
  /** Default 60. */
  windowSeconds: number;
  /** How long the address is refused without authentication (default 300). */
  cooldownSeconds: number;
}

/** SIP over TCP and TLS connections. */
export interface SipTcpSettings {
  /** Open connections at most, accepted and opened together (default 2048). */
  maxConnections: number;
  /** A connection with no traffic this long is closed (default 900). */
  idleTimeoutSeconds: number;
  /** An accepted connection must deliver its first message within this (default 30). */
  firstMessageTimeoutSeconds: number;
  /** A message started but not finished within this closes the connection (default 20). */
  stallTimeoutSeconds: number;
}

export interface SipSettings {
  authThrottle: SipAuthThrottleSettings;
  tcp: SipTcpSettings;
  /**
   * RFC 3261 §18.1.1: send requests larger than 1300 bytes over TCP instead of UDP. Default false
   * (like Asterisk's disable_tcp_switch): many UAs registered over UDP do not listen on TCP.
   */
  largeRequestsOverTcp: boolean;
  /**
   * Addresses of the front proxies (Kamailio in front of a cluster). A request they relay is
   * counted for the authentication throttle against the phone's address (the Via below the
   * proxy's), not the proxy's: one phone with a wrong password must not lock out every phone.
   */
  trustedProxies: string[];
}

/**
 * The media engine (DESIGN.md §9). Absent from the tenant: the platform starts its own rtpengine
 * when the binary is on PATH, else runs signalling-only.
 */
export interface MediaSettings {
  /** An rtpengine's ng control socket, or `off` (signalling only). */
  rtpengine: { host: string; port: number } | 'off';
  /** Where that rtpengine writes its pcap recordings (its --recording-dir), read by the platform. */
  recordingDir?: string;
}

export interface Tenant {
  domain: string;
  publicUrl: string;
  postProcessing: { delaySeconds: number };
  /** SIP settings, defaults filled in (`defaultSipSettings()` of ./schema.ts for tenants built by hand). */
  sip: SipSettings;
  /** The media engine; absent: the platform's own rtpengine when installed (see MediaSettings). */
  media?: MediaSettings;
  /** Recordings kept this many days (0: forever); optional in tenants built by hand. */
  recordings?: { retentionDays: number };
  /**
   * Tenant-wide audio; absent: built-in. `musicOnHold` (an absolute path) is what a party hears
   * while the other puts a direct call on hold (queue calls use their queue's `musicOnHold`).
   * The loader always fills it.
   */
  audio?: { musicOnHold: string };
  users: User[];
  queues: Queue[];
  callbackLists: CallbackList[];
  trunks: Trunk[];
  /** Call classification schemas (DESIGN.md §11); absent in tenants built by hand: none. */
  classificationSchemas?: ClassificationSchema[];
  /** Signed webhooks (DESIGN.md §12; src/webhooks/); absent in tenants built by hand: none. */
  webhooks?: WebhookEndpoint[];
  /** The configuration file this tenant was loaded from; absent for the built-in demo tenant. */
  sourcePath?: string;
}

/**
 * Read-only lookups over a Tenant. Implemented by `createDirectory(tenant)` in ./directory.ts.
 * Every lookup is O(1); matching of extensions and numbers is exact on the digits as configured
 * (numbers are compared with and without a leading '+').
 */
export interface Directory {
  readonly tenant: Tenant;
  /** The tenant's one organization (`OrganizationID` on the REST API), derived from its domain. */
  readonly organizationId: string;
  userById(userId: string): User | undefined;
  /** REST login; case-insensitive. */
  userByUsername(username: string): User | undefined;
  /** SIP extension (also the digest username). */
  userByExtension(extension: string): User | undefined;
  userByNumber(number: string): User | undefined;
  queueById(queueId: string): Queue | undefined;
  /** Queue by id, name (case-insensitive), extension or number: as X-On-Behalf-Of-Queue allows. */
  queueByReference(reference: string): Queue | undefined;
  queueByExtensionOrNumber(dialled: string): Queue | undefined;
  callbackListById(callbackListId: string): CallbackList | undefined;
  callbackListByName(name: string): CallbackList | undefined;
  /** The trunk whose host (and port, when given) matches a source address. */
  trunkBySource(address: string, port: number): Trunk | undefined;
  /** The first configured trunk, used for calls to numbers that match nothing. */
  defaultTrunk(): Trunk | undefined;
}
