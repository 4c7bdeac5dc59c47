/**
 * The call-information filters of DESIGN.md §3 and the visibility rules of §4, shared by every
 * record endpoint: a time window, a modified window, or a CallId — or a CallId and a window, both
 * applied —, windows at most 31 days wide, plus explicit entity filters that must name only
 * entities the caller may see.
 */
import { visibleScope } from '../config/permissions.js';
import type { GrantKind, User } from '../config/types.js';
import type { IdScope, RecordSelection } from '../records/types.js';
import { badParameter, forbidden, missingParameter, unknownParameter } from './errors.js';

export const MAX_WINDOW_DAYS = 31;
const MAX_WINDOW_MS = MAX_WINDOW_DAYS * 24 * 60 * 60 * 1000;

export interface SelectionParameters {
  StartTime?: number | undefined;
  EndTime?: number | undefined;
  ModifiedAfter?: number | undefined;
  ModifiedBefore?: number | undefined;
  CallId?: string | undefined;
}

function windowOf(from: number | undefined, to: number | undefined, fromName: string, toName: string) {
  if (from === undefined || to === undefined) {
    const missing = from === undefined ? fromName : toName;
    const given = from === undefined ? toName : fromName;
    throw missingParameter(missing, `${missing} is required with ${given}`);
  }
  if (to <= from) throw badParameter(toName, `${toName} must be later than ${fromName}`);
  if (to - from > MAX_WINDOW_MS) {
    throw badParameter(toName, `The window ${fromName}..${toName} is longer than ${MAX_WINDOW_DAYS} days`);
  }
  return { fromMs: from, toMs: to };
}

/** A time or modified window, applied on top of a CallId selection. */
export interface SelectionWindow {
  by: 'time' | 'modified';
  fromMs: number;
  toMs: number;
}

/**
 * What a listing reads: the store's selection, and — when a CallId comes with a window — the window,
 * which the listing applies to the call's records (both filters hold).
 */
export interface Selection {
  selection: RecordSelection;
  window?: SelectionWindow;
}

function windowOfQuery(query: SelectionParameters): SelectionWindow | undefined {
  const hasTime = query.StartTime !== undefined || query.EndTime !== undefined;
  const hasModified = query.ModifiedAfter !== undefined || query.ModifiedBefore !== undefined;
  if (hasTime && hasModified) {
    throw unknownParameter(
      'ModifiedAfter',
      'Give either StartTime and EndTime or ModifiedAfter and ModifiedBefore, not both',
    );
  }
  if (hasTime) return { by: 'time', ...windowOf(query.StartTime, query.EndTime, 'StartTime', 'EndTime') };
  if (hasModified) {
    return {
      by: 'modified',
      ...windowOf(query.ModifiedAfter, query.ModifiedBefore, 'ModifiedAfter', 'ModifiedBefore'),
    };
  }
  return undefined;
}

export function toSelection(query: SelectionParameters): Selection {
  const window = windowOfQuery(query);
  if (query.CallId !== undefined) {
    const selection: RecordSelection = { by: 'callId', callId: query.CallId };
    return window === undefined ? { selection } : { selection, window };
  }
  if (window !== undefined) return { selection: window };
  throw missingParameter(
    'StartTime',
    'StartTime and EndTime, ModifiedAfter and ModifiedBefore, or CallId is required',
  );
}

/**
 * Whether a record is in the window: by its time (`timeMs`: when its call started — the column the
 * store selects time windows by) or by when it was modified; as the store's windows, end exclusive.
 */
export function inWindow(window: SelectionWindow | undefined, timeMs: number, modifiedMs: number): boolean {
  if (window === undefined) return true;
  const at = window.by === 'time' ? timeMs : modifiedMs;
  return at >= window.fromMs && at < window.toMs;
}

export function inScope(scope: IdScope, entityId: string | null): boolean {
  if (scope === '*') return true;
  return entityId !== null && scope.includes(entityId.toLowerCase());
}

/** The caller's scope of a kind, lowercased for comparison with wire ids. */
export function scopeOf(caller: User, kind: GrantKind): IdScope {
  const scope = visibleScope(caller, kind);
  return scope === '*' ? '*' : scope.map((entityId) => entityId.toLowerCase());
}

/**
 * An explicit entity filter: every id must be visible under at least one of `scopes`, else 403
 * naming the parameter (DESIGN.md §3). Visibility is by id alone, so an admin may filter by the id
 * of an entity no longer configured (its records outlive it).
 */
export function checkExplicitFilter(
  parameter: string,
  entityIds: readonly string[] | undefined,
  scopes: readonly IdScope[],
): void {
  if (entityIds === undefined) return;
  const hidden = entityIds.find((entityId) => !scopes.some((scope) => inScope(scope, entityId)));
  if (hidden !== undefined) {
    throw forbidden(parameter, `${parameter}: you may not see records of ${hidden}`);
  }
}
