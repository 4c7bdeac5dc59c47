/**
 * Effective permissions (DESIGN.md §4): the grants configured for a user, plus DirectCalls and
 * AgentCalls of themselves; the admin role has '*' for every kind.
 */
import type { GrantKind, Grants, GrantTarget, User } from './types.js';

export const GRANT_FIELD: Readonly<Record<GrantKind, keyof Grants>> = {
  DirectCalls: 'directCalls',
  AgentCalls: 'agentCalls',
  ServiceCalls: 'serviceCalls',
  CallbackList: 'callbackLists',
};

function computeGrants(user: User): Grants {
  if (user.role === 'admin') {
    return {
      directCalls: new Set<GrantTarget>(['*']),
      agentCalls: new Set<GrantTarget>(['*']),
      serviceCalls: new Set<GrantTarget>(['*']),
      callbackLists: new Set<GrantTarget>(['*']),
    };
  }
  // A '*' grant makes every id redundant; keep it alone so that scopes read '*' rather than a list.
  const collapse = (targets: Iterable<GrantTarget>): Set<GrantTarget> => {
    const set = new Set(targets);
    return set.has('*') ? new Set<GrantTarget>(['*']) : set;
  };
  return {
    directCalls: collapse([user.userId, ...user.grants.directCalls]),
    agentCalls: collapse([user.userId, ...user.grants.agentCalls]),
    serviceCalls: collapse(user.grants.serviceCalls),
    callbackLists: collapse(user.grants.callbackLists),
  };
}

/**
 * Users are immutable while the platform runs and canSee runs once per record of a listing, so
 * the effective grants are computed once per User object.
 */
const cache = new WeakMap<User, Grants>();

function cachedGrants(user: User): Grants {
  let grants = cache.get(user);
  if (grants === undefined) {
    grants = computeGrants(user);
    cache.set(user, grants);
  }
  return grants;
}

/** A fresh copy: callers may modify it without affecting later checks. */
export function effectiveGrants(user: User): Grants {
  const grants = cachedGrants(user);
  return {
    directCalls: new Set(grants.directCalls),
    agentCalls: new Set(grants.agentCalls),
    serviceCalls: new Set(grants.serviceCalls),
    callbackLists: new Set(grants.callbackLists),
  };
}

/**
 * May `user` see entities of `kind` owned by `entityId` (a user id for DirectCalls/AgentCalls, a
 * queue id for ServiceCalls, a callback list id for CallbackList)?
 */
export function canSee(user: User, kind: GrantKind, entityId: string): boolean {
  const targets = cachedGrants(user)[GRANT_FIELD[kind]];
  return targets.has('*') || targets.has(entityId) || targets.has(entityId.toLowerCase());
}

/**
 * What a listing of `kind` may include for `user`: '*' for everything, otherwise the owner ids
 * (possibly none) — the shape a store query's `IN (...)` filter needs.
 */
export function visibleScope(user: User, kind: GrantKind): '*' | string[] {
  const targets = cachedGrants(user)[GRANT_FIELD[kind]];
  return targets.has('*') ? '*' : [...targets];
}
