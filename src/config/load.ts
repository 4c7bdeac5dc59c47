/**
 * Loads the tenant configuration (DESIGN.md §5): YAML → shape check (./schema.ts) → cross-reference
 * and uniqueness checks, audio files probed (src/media/audio-file.ts) → a resolved, immutable Tenant
 * with ids, grants and absolute audio paths.
 *
 * Every problem is reported with file:line:column and field path, and all problems of a file are
 * reported together, so that an operator fixes a file in one round rather than one error per start.
 * The one exception: cross-reference checks run only once the shape is valid, because they need
 * well-typed data to reason about.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { v5 as uuidv5 } from 'uuid';
import { type Document, isAlias, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { resolveClassificationSchemas } from '../classification/config.js';
import { AudioFileError, probeAudioFile } from '../media/audio-file.js';
import { builtinAudio } from '../media/prompts.js';
import { resolveWebhooks } from '../webhooks/config.js';
import { ConfigError, type ConfigProblem, type ConfigProblemCode } from './errors.js';
import { GRANT_FIELD } from './permissions.js';
import {
  DEFAULT_HTTP_PORT,
  defaultQueueAudio,
  FIELD_NAMES,
  isDigits,
  isPhoneNumberLike,
  NO_GREETING,
  type PermissionEntry,
  type QueueEntry,
  type TenantFile,
  tenantFileSchema,
} from './schema.js';
import type { CallbackList, GrantKind, Grants, Queue, QueueAudio, Tenant, Trunk, User } from './types.js';

/**
 * Namespace of Switchboard's deterministic entity ids (UUID v5). Fixed forever: changing it would
 * change every derived user, queue and callback list id, and with them every stored record's owner.
 */
export const SWITCHBOARD_ID_NAMESPACE = '5275084d-b4b5-493b-9a31-400a1c826aae';

export function deriveUserId(username: string): string {
  return uuidv5(`user:${username.toLowerCase()}`, SWITCHBOARD_ID_NAMESPACE);
}

export function deriveQueueId(name: string): string {
  return uuidv5(`queue:${name}`, SWITCHBOARD_ID_NAMESPACE);
}

export function deriveCallbackListId(name: string): string {
  return uuidv5(`callbacklist:${name}`, SWITCHBOARD_ID_NAMESPACE);
}

/**
 * The tenant's one organization (`OrganizationID` of users on the REST API): UUID v5 of
 * `organization:<domain lowercased>`, stable for as long as the domain is.
 */
export function deriveOrganizationId(domain: string): string {
  return uuidv5(`organization:${domain.toLowerCase()}`, SWITCHBOARD_ID_NAMESPACE);
}

export interface LoadOptions {
  /**
   * The public base URL to use when the file gives no `publicUrl`; the CLI passes
   * `publicUrlForPort(httpPort, host)`. Without it: `http://127.0.0.1:8080/`.
   */
  defaultPublicUrl?: string;
  /**
   * The directory that relative audio file paths (queue `greeting`, `musicOnHold`, `whisper`,
   * `audio.musicOnHold`) are resolved against. `loadTenantFile`: the configuration file's directory
   * unless given; `parseTenantYaml`: `process.cwd()` unless given.
   */
  baseDir?: string;
}

/** The public base URL of a server listening on `port`; wildcard hosts become the loopback address. */
export function publicUrlForPort(port: number, host = '127.0.0.1', secure = false): string {
  const wildcard = host === '' || host === '0.0.0.0' || host === '::' || host === '[::]';
  const reachable = wildcard ? '127.0.0.1' : host;
  const hostPart = reachable.includes(':') && !reachable.startsWith('[') ? `[${reachable}]` : reachable;
  return `${secure ? 'https' : 'http'}://${hostPart}:${port}/`;
}

/** EnreachAPI discovery returns `apiEndpoint` with a trailing '/', and clients append paths to it. */
function normalizePublicUrl(url: string): string {
  const href = new URL(url).href;
  return href.endsWith('/') ? href : `${href}/`;
}

/** Reads and loads a tenant file. Throws ConfigError (CONFIG_UNREADABLE or CONFIG_INVALID). */
export function loadTenantFile(path: string, opts: LoadOptions = {}): Tenant {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw ConfigError.unreadable(path, cause);
  }
  const baseDir = opts.baseDir ?? dirname(resolvePath(path));
  return { ...parseTenantYaml(text, path, { ...opts, baseDir }), sourcePath: resolvePath(path) };
}

/**
 * Parses tenant YAML; `sourceName` is the file name that messages start with. Throws a ConfigError
 * (CONFIG_INVALID) listing every problem, one per line.
 */
export function parseTenantYaml(text: string, sourceName: string, opts: LoadOptions = {}): Tenant {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const locator = new Locator(doc, lineCounter, sourceName);

  if (doc.errors.length > 0) {
    throw ConfigError.fromProblems(
      doc.errors.map((error) => {
        // A bare * is YAML alias syntax; in this file it is nearly always a permission's "all".
        const hint = text[error.pos[0]] === '*' ? `; to mean "all", write "*" in quotes` : '';
        return locator.problemAtOffset('YAML_SYNTAX', error.pos[0], '', `${error.message}${hint}`);
      }),
    );
  }

  const parsed = tenantFileSchema.safeParse(doc.toJS({ maxAliasCount: 100 }), {
    reportInput: true,
    error: fallbackMessage,
  });
  if (!parsed.success) {
    throw ConfigError.fromProblems(parsed.error.issues.flatMap((issue) => problemsFromIssue(issue, locator)));
  }

  const problems: ConfigProblem[] = [];
  const tenant = resolveTenant(parsed.data, locator, problems, opts);
  if (problems.length > 0) throw ConfigError.fromProblems(problems);
  return tenant;
}

// ---------------------------------------------------------------------------------------------
// Locations

type PathSegment = string | number;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** `users[1].permissions[0].ServiceCalls` */
export function formatFieldPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lineCounter: LineCounter,
    private readonly source: string,
  ) {}

  /**
   * Offset of the node at `path`: its value, or its key when `at` is 'key' (unknown fields) or the
   * value is empty. A path that does not exist (a missing field) stops at its deepest existing
   * ancestor, which is where the field should have been written.
   */
  offsetOf(path: readonly PathSegment[], at: 'value' | 'key' = 'value'): number {
    let node: unknown = this.doc.contents;
    let offset = isNode(node) && node.range ? node.range[0] : 0;
    for (let i = 0; i < path.length; i++) {
      const segment = path[i]!;
      if (isAlias(node)) node = node.resolve(this.doc);
      if (isMap(node)) {
        const pair = node.items.find(
          (item) => isScalar(item.key) && String(item.key.value) === String(segment),
        );
        if (pair === undefined) return offset;
        const keyOffset = isNode(pair.key) && pair.key.range ? pair.key.range[0] : offset;
        const value = pair.value;
        const emptyValue = !isNode(value) || !value.range || (isScalar(value) && value.source === '');
        if ((i === path.length - 1 && at === 'key') || emptyValue) return keyOffset;
        node = value;
        offset = value.range![0];
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = node.items[segment];
        if (!isNode(item) || !item.range) return offset;
        node = item;
        offset = item.range[0];
      } else {
        return offset;
      }
    }
    return offset;
  }

  line(path: readonly PathSegment[]): number {
    return this.lineCounter.linePos(this.offsetOf(path)).line;
  }

  problemAtOffset(code: ConfigProblemCode, offset: number, path: string, message: string): ConfigProblem {
    const { line, col } = this.lineCounter.linePos(offset);
    return { code, source: this.source, line, column: col, path, message };
  }

  problem(
    code: ConfigProblemCode,
    path: readonly PathSegment[],
    message: string,
    at: 'value' | 'key' = 'value',
  ): ConfigProblem {
    return this.problemAtOffset(code, this.offsetOf(path, at), formatFieldPath(path), message);
  }
}

// ---------------------------------------------------------------------------------------------
// Shape problems (zod issues)

function describeValue(value: unknown): string {
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'true/false';
    case 'object':
      return 'a mapping';
    default:
      return typeof value;
  }
}

const EXPECTED_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
};

/** Messages for issues whose schema gave none (schema-level messages take precedence in zod). */
function fallbackMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'missing required field';
      return `expected ${EXPECTED_NAMES[issue.expected] ?? issue.expected}, got ${describeValue(issue.input)}`;
    case 'invalid_value':
      return `expected ${issue.values.map((value) => String(value)).join(' or ')}`;
    case 'unrecognized_keys':
      return 'unknown field';
    default:
      return undefined;
  }
}

function fieldNamesAt(path: readonly PathSegment[]): readonly string[] {
  if (path.length === 0) return FIELD_NAMES.root;
  if (path.length === 1 && path[0] === 'postProcessing') return FIELD_NAMES.postProcessing;
  if (path.length === 1 && path[0] === 'sip') return FIELD_NAMES.sip;
  if (path.length === 1 && path[0] === 'media') return FIELD_NAMES.media;
  if (path.length === 1 && path[0] === 'recordings') return FIELD_NAMES.recordings;
  if (path.length === 1 && path[0] === 'audio') return FIELD_NAMES.audio;
  if (path.length === 2 && path[0] === 'sip' && path[1] === 'authThrottle')
    return FIELD_NAMES.sipAuthThrottle;
  if (path.length === 2 && path[0] === 'sip' && path[1] === 'tcp') return FIELD_NAMES.sipTcp;
  if (path.length === 3 && path[0] === 'queues' && path[2] === 'openingHours')
    return FIELD_NAMES.openingHours;
  if (path.length === 4 && path[0] === 'queues' && path[2] === 'openingHours' && path[3] === 'weekly')
    return FIELD_NAMES.weekdays;
  if (path.length === 2 && typeof path[1] === 'number') {
    switch (path[0]) {
      case 'users':
        return FIELD_NAMES.user;
      case 'queues':
        return FIELD_NAMES.queue;
      case 'callbackLists':
        return FIELD_NAMES.callbackList;
      case 'trunks':
        return FIELD_NAMES.trunk;
      case 'webhooks':
        return FIELD_NAMES.webhook;
    }
  }
  return [];
}

function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0]!;
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j]!;
      previous[j] = Math.min(above + 1, previous[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return previous[b.length]!;
}

function suggestField(unknown: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const distance = editDistance(unknown.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(unknown.length / 4)) ? best : undefined;
}

function toSegments(path: readonly PropertyKey[]): PathSegment[] {
  return path.map((segment) => (typeof segment === 'number' ? segment : String(segment)));
}

function problemsFromIssue(issue: z.core.$ZodIssue, locator: Locator): ConfigProblem[] {
  const path = toSegments(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const known = fieldNamesAt(path);
    return issue.keys.map((key) => {
      const suggestion = suggestField(key, known);
      const message =
        suggestion === undefined ? 'unknown field' : `unknown field; did you mean '${suggestion}'?`;
      return locator.problem('UNKNOWN_FIELD', [...path, key], message, 'key');
    });
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return [locator.problem('MISSING_FIELD', path, issue.message)];
  }
  if (issue.code === 'custom' && issue.params?.problemCode === 'UNKNOWN_FIELD') {
    return [locator.problem('UNKNOWN_FIELD', path, issue.message, 'key')];
  }
  return [locator.problem('INVALID_VALUE', path, issue.message)];
}

// ---------------------------------------------------------------------------------------------
// Cross-references and uniqueness

interface Seen {
  path: PathSegment[];
  what: string;
}

function emptyGrants(): Grants {
  return { directCalls: new Set(), agentCalls: new Set(), serviceCalls: new Set(), callbackLists: new Set() };
}

/** Dial-plan key: numbers match with and without a leading '+', as the directory looks them up. */
function dialKey(text: string): string {
  return text.startsWith('+') ? text.slice(1) : text;
}

function resolveTenant(
  file: TenantFile,
  locator: Locator,
  problems: ConfigProblem[],
  opts: LoadOptions,
): Tenant {
  const at = (path: PathSegment[]) => `line ${locator.line(path)}`;
  const report = (code: ConfigProblemCode, path: PathSegment[], message: string) =>
    problems.push(locator.problem(code, path, message));

  /** Registers a unique key; reports the later occurrence, naming the earlier one and its line. */
  const claim = (
    seen: Map<string, Seen>,
    key: string,
    entry: Seen,
    duplicateOf: (earlier: Seen) => string,
  ) => {
    const earlier = seen.get(key);
    if (earlier === undefined) {
      seen.set(key, entry);
      return true;
    }
    report('DUPLICATE', entry.path, `${duplicateOf(earlier)}: already ${earlier.what} (${at(earlier.path)})`);
    return false;
  };

  // Extensions and numbers of users and queues share one dial plan.
  const dialPlan = new Map<string, Seen>();
  const claimDialled = (
    entry: { extension?: string | null; number?: string | null },
    base: PathSegment[],
    what: string,
  ) => {
    if (entry.extension != null) {
      claim(
        dialPlan,
        entry.extension,
        { path: [...base, 'extension'], what: `the extension of ${what}` },
        () => `duplicate extension "${entry.extension}"`,
      );
    }
    if (entry.number != null) {
      claim(
        dialPlan,
        dialKey(entry.number),
        { path: [...base, 'number'], what: `the number of ${what}` },
        () => `duplicate number "${entry.number}"`,
      );
    }
  };
  const ids = new Map<string, Seen>();
  const claimId = (id: string, explicit: boolean, path: PathSegment[], what: string) => {
    // Derived ids collide only when names do, which is reported as a duplicate name already.
    if (!explicit) {
      if (!ids.has(id)) ids.set(id, { path, what: `the id of ${what}` });
      return;
    }
    claim(ids, id, { path, what: `the id of ${what}` }, () => `duplicate id "${id}"`);
  };

  /** How each kind of entity is named in the file and in messages, and how its id is derived. */
  const NAMING = {
    users: { key: 'username', kind: 'username', entity: 'user', derive: deriveUserId },
    queues: { key: 'name', kind: 'queue name', entity: 'queue', derive: deriveQueueId },
    callbackLists: {
      key: 'name',
      kind: 'callback list name',
      entity: 'callback list',
      derive: deriveCallbackListId,
    },
  } as const;

  /**
   * Claims an entity's unique name and its id (given, or derived from the name). Returns the id,
   * the entity's path and how messages call it (`user a@example.com`).
   */
  const claimNameAndId = (
    seen: Map<string, Seen>,
    collection: keyof typeof NAMING,
    index: number,
    entry: { id?: string | null },
    name: string,
  ) => {
    const naming = NAMING[collection];
    const base: PathSegment[] = [collection, index];
    const what = `${naming.entity} ${name}`;
    claim(
      seen,
      name.toLowerCase(),
      { path: [...base, naming.key], what: `the ${naming.key} of ${collection}[${index}]` },
      () => `duplicate ${naming.kind} "${name}"`,
    );
    const id = entry.id ?? naming.derive(name);
    claimId(id, entry.id != null, entry.id != null ? [...base, 'id'] : [...base, naming.key], what);
    return { id, base, what };
  };

  /** Entities are referenced by name (any case) or by id; the first of each wins. */
  const remember = <T>(byReference: Map<string, T>, name: string, id: string, value: T) => {
    if (!byReference.has(name.toLowerCase())) byReference.set(name.toLowerCase(), value);
    if (!byReference.has(id)) byReference.set(id, value);
  };

  // Users
  const usersByUsername = new Map<string, Seen>();
  const users: User[] = [];
  const userByReference = new Map<string, User>();
  file.users.forEach((entry, index) => {
    const { id: userId, base, what } = claimNameAndId(usersByUsername, 'users', index, entry, entry.username);
    claimDialled(entry, base, what);
    const user: User = {
      userId,
      username: entry.username,
      extension: entry.extension,
      password: entry.password,
      ...(entry.number != null ? { number: entry.number } : {}),
      ...(entry.displayName != null ? { displayName: entry.displayName } : {}),
      role: entry.role,
      recordDirectCalls: entry.recordDirectCalls,
      dndResponse: entry.dndResponse,
      grants: emptyGrants(),
    };
    users.push(user);
    remember(userByReference, entry.username, userId, user);
  });

  const resolveMembers = (members: string[], base: PathSegment[]): string[] => {
    const memberUserIds: string[] = [];
    const listedAt = new Map<string, number>();
    members.forEach((member, index) => {
      const path = [...base, index];
      const user = userByReference.get(member.toLowerCase());
      if (user === undefined) {
        report('UNKNOWN_REFERENCE', path, `"${member}" is not a user`);
        return;
      }
      const earlier = listedAt.get(user.userId);
      if (earlier !== undefined) {
        report(
          'DUPLICATE',
          path,
          `"${member}" is listed twice (also ${formatFieldPath([...base, earlier])})`,
        );
        return;
      }
      listedAt.set(user.userId, index);
      memberUserIds.push(user.userId);
    });
    return memberUserIds;
  };

  // Audio files: resolved against the configuration's directory and probed once each.
  const baseDir = opts.baseDir ?? process.cwd();
  const probed = new Map<string, AudioFileError | null>();
  /** The absolute path of a playable file, or undefined after reporting why it is not. */
  const audioFile = (value: string, path: PathSegment[], owner: string): string | undefined => {
    const absolute = resolvePath(baseDir, value);
    if (!probed.has(absolute)) {
      try {
        probeAudioFile(absolute);
        probed.set(absolute, null);
      } catch (error) {
        if (!(error instanceof AudioFileError)) throw error;
        probed.set(absolute, error);
      }
    }
    const error = probed.get(absolute);
    if (error == null) return absolute;
    report('AUDIO_FILE', path, `${owner}${error.message}`);
    return undefined;
  };
  const queueAudio = (entry: QueueEntry, base: PathSegment[]): QueueAudio => {
    const owner = `queue "${entry.name}": `;
    const audio = defaultQueueAudio();
    if (entry.greeting != null) {
      audio.greeting =
        entry.greeting.trim().toLowerCase() === NO_GREETING
          ? null
          : (audioFile(entry.greeting, [...base, 'greeting'], owner) ?? audio.greeting);
    }
    if (entry.musicOnHold != null)
      audio.musicOnHold = audioFile(entry.musicOnHold, [...base, 'musicOnHold'], owner) ?? audio.musicOnHold;
    if (entry.whisper != null) {
      const whisper = audioFile(entry.whisper, [...base, 'whisper'], owner);
      if (whisper !== undefined) audio.whisper = whisper;
    }
    audio.announcePosition = entry.announcePosition;
    audio.announceEverySeconds = entry.announceEverySeconds;
    audio.ringWhileWaiting = entry.ringWhileWaiting;
    return audio;
  };

  // Queues (callback list and overflow references are resolved once every list and queue is known)
  const queueNames = new Map<string, Seen>();
  const queues: Queue[] = [];
  const queueByReference = new Map<string, Queue>();
  file.queues.forEach((entry, index) => {
    const { id: queueId, base, what } = claimNameAndId(queueNames, 'queues', index, entry, entry.name);
    claimDialled(entry, base, what);
    const queue: Queue = {
      queueId,
      name: entry.name,
      ...(entry.extension != null ? { extension: entry.extension } : {}),
      ...(entry.number != null ? { number: entry.number } : {}),
      memberUserIds: resolveMembers(entry.members, [...base, 'members']),
      strategy: entry.strategy,
      allocationTimeoutSeconds: entry.allocationTimeoutSeconds,
      maxWaitSeconds: entry.maxWaitSeconds,
      wrapUpSeconds: entry.wrapUpSeconds,
      recordInbound: entry.recordInbound,
      recordOutbound: entry.recordOutbound,
      audio: queueAudio(entry, base),
      ...(entry.openingHours != null ? { openingHours: entry.openingHours } : {}),
    };
    queues.push(queue);
    remember(queueByReference, entry.name, queueId, queue);
  });

  // Callback lists
  const listNames = new Map<string, Seen>();
  const callbackLists: CallbackList[] = [];
  const listByReference = new Map<string, CallbackList>();
  file.callbackLists.forEach((entry, index) => {
    const { id: callbackListId, base } = claimNameAndId(listNames, 'callbackLists', index, entry, entry.name);
    const queue = queueByReference.get(entry.queue.toLowerCase());
    if (queue === undefined)
      report('UNKNOWN_REFERENCE', [...base, 'queue'], `no queue named "${entry.queue}"`);
    const list: CallbackList = {
      callbackListId,
      name: entry.name,
      queueId: queue?.queueId ?? '',
      memberUserIds: resolveMembers(entry.members, [...base, 'members']),
    };
    callbackLists.push(list);
    remember(listByReference, entry.name, callbackListId, list);
  });

  // Queue → callback list, queue → overflow
  file.queues.forEach((entry, index) => {
    const queue = queues[index]!;
    const base: PathSegment[] = ['queues', index];
    if (entry.callbackList != null) {
      const list = listByReference.get(entry.callbackList.toLowerCase());
      if (list === undefined) {
        report(
          'UNKNOWN_REFERENCE',
          [...base, 'callbackList'],
          `no callback list named "${entry.callbackList}"`,
        );
      } else {
        queue.callbackListId = list.callbackListId;
      }
    }
    if (entry.overflow != null) {
      const target = resolveOverflow(entry.overflow, userByReference, queueByReference);
      const path = [...base, 'overflow'];
      if (target.kind === 'unknown') {
        report('UNKNOWN_REFERENCE', path, `"${entry.overflow}" is not a user, a queue or a phone number`);
      } else if (target.kind === 'undialable') {
        report('INVALID_VALUE', path, `queue "${entry.overflow}" has neither an extension nor a number`);
      } else if (target.queue === queue) {
        report('INVALID_VALUE', path, 'a queue cannot overflow to itself');
      } else {
        queue.overflowTarget = target.dial;
      }
    }
  });

  // Permissions
  const grantTargets: Record<GrantKind, { lookup: (reference: string) => string | undefined; noun: string }> =
    {
      DirectCalls: { lookup: (ref) => userByReference.get(ref.toLowerCase())?.userId, noun: 'user' },
      AgentCalls: { lookup: (ref) => userByReference.get(ref.toLowerCase())?.userId, noun: 'user' },
      ServiceCalls: { lookup: (ref) => queueByReference.get(ref.toLowerCase())?.queueId, noun: 'queue' },
      CallbackList: {
        lookup: (ref) => listByReference.get(ref.toLowerCase())?.callbackListId,
        noun: 'callback list',
      },
    };
  file.users.forEach((entry, index) => {
    const grants = users[index]!.grants;
    entry.permissions.forEach((permission: PermissionEntry, permissionIndex) => {
      const { kind, target } = permission;
      if (target === '*') {
        grants[GRANT_FIELD[kind]].add('*');
        return;
      }
      const resolved = grantTargets[kind].lookup(target);
      if (resolved === undefined) {
        report(
          'UNKNOWN_REFERENCE',
          ['users', index, 'permissions', permissionIndex, kind],
          `no ${grantTargets[kind].noun} "${target}"`,
        );
        return;
      }
      grants[GRANT_FIELD[kind]].add(resolved);
    });
  });

  // Trunks
  const trunkNames = new Map<string, Seen>();
  const trunkAddresses = new Map<string, Seen>();
  const trunks: Trunk[] = file.trunks.map((entry, index) => {
    const base: PathSegment[] = ['trunks', index];
    claim(
      trunkNames,
      entry.name.toLowerCase(),
      { path: [...base, 'name'], what: `the name of trunks[${index}]` },
      () => `duplicate trunk name "${entry.name}"`,
    );
    // Two trunks at one address would make the source of an inbound INVITE ambiguous.
    claim(
      trunkAddresses,
      `${entry.host.toLowerCase()}:${entry.port}`,
      { path: [...base, 'host'], what: `the address of trunk ${entry.name}` },
      () => `duplicate trunk address ${entry.host}:${entry.port}`,
    );
    return { name: entry.name, host: entry.host, port: entry.port, transport: entry.transport };
  });

  const musicOnHold =
    file.audio?.musicOnHold != null
      ? audioFile(file.audio.musicOnHold, ['audio', 'musicOnHold'], '')
      : undefined;

  // Classification schemas name queues and callback lists: resolved once both are known.
  const classification = resolveClassificationSchemas(file.classificationSchemas, {
    queueIdByName: (name) => queueByReference.get(name.toLowerCase())?.queueId,
    callbackListIdByName: (name) => listByReference.get(name.toLowerCase())?.callbackListId,
  });
  for (const problem of classification.problems)
    report('INVALID_VALUE', ['classificationSchemas', ...problem.path], problem.message);

  const publicUrl = normalizePublicUrl(
    file.publicUrl ?? opts.defaultPublicUrl ?? publicUrlForPort(DEFAULT_HTTP_PORT),
  );

  return {
    domain: file.domain,
    publicUrl,
    postProcessing: { delaySeconds: file.postProcessing.delaySeconds },
    sip: {
      authThrottle: { ...file.sip.authThrottle },
      tcp: { ...file.sip.tcp },
      largeRequestsOverTcp: file.sip.largeRequestsOverTcp,
      trustedProxies: [...file.sip.trustedProxies],
    },
    recordings: { retentionDays: file.recordings.retentionDays },
    audio: { musicOnHold: musicOnHold ?? builtinAudio.music },
    ...(file.media
      ? {
          media: {
            rtpengine: file.media.rtpengine,
            ...(file.media.recordingDir !== undefined
              ? { recordingDir: resolvePath(file.media.recordingDir) }
              : {}),
          },
        }
      : {}),
    users,
    queues,
    callbackLists,
    trunks,
    classificationSchemas: classification.schemas,
    webhooks: resolveWebhooks(file.webhooks),
  };
}

type OverflowTarget =
  | { kind: 'dial'; dial: string; queue?: Queue }
  | { kind: 'undialable' }
  | { kind: 'unknown' };

/**
 * A user (username or id) or queue (name or id) becomes its extension (a queue without one: its
 * number); anything that looks like a number is dialled as written — an extension of this tenant
 * or an external number for the trunk.
 */
function resolveOverflow(
  reference: string,
  users: Map<string, User>,
  queues: Map<string, Queue>,
): OverflowTarget {
  const key = reference.toLowerCase();
  const user = users.get(key);
  if (user !== undefined) return { kind: 'dial', dial: user.extension };
  const queue = queues.get(key);
  if (queue !== undefined) {
    const dial = queue.extension ?? queue.number;
    return dial === undefined ? { kind: 'undialable' } : { kind: 'dial', dial, queue };
  }
  if (isDigits(reference) || isPhoneNumberLike(reference)) {
    const dialledQueue = [...queues.values()].find(
      (candidate) =>
        candidate.extension === reference ||
        (candidate.number !== undefined && dialKey(candidate.number) === dialKey(reference)),
    );
    // Known so that the self-overflow check also catches a queue's own extension or number.
    return { kind: 'dial', dial: reference, ...(dialledQueue ? { queue: dialledQueue } : {}) };
  }
  return { kind: 'unknown' };
}
