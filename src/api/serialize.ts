/**
 * Directory entries → the EnreachAPI wire format of ./schemas.ts. Records have theirs in their
 * kind's folder (src/records/kinds/<kind>/wire.ts).
 */

import type { QueueStatus } from '../calls/queue-status.js';
import type { CallbackList, Queue, Tenant, User } from '../config/types.js';
import type { Wire } from './schemas.js';

/** The public base URL with exactly one trailing '/'. */
export function apiBaseUrl(tenant: Tenant): string {
  return tenant.publicUrl.replace(/\/*$/, '/');
}

export function toDiscoveryEntry(tenant: Tenant, user: User): Wire<'DiscoveryEntry'> {
  const baseUrl = apiBaseUrl(tenant);
  return {
    siloName: tenant.domain,
    username: user.username,
    apiEndpoint: baseUrl,
    uiEndpoint: baseUrl,
    // Keys are minted and checked by this same server.
    authority: baseUrl,
    basicAuthEndpoint: baseUrl,
  };
}

/** `organizationId`: the directory's (`Directory.organizationId`). */
export function toWireUser(user: User, organizationId: string): Wire<'User'> {
  const displayName = user.displayName?.trim() || null;
  const space = displayName === null ? -1 : displayName.indexOf(' ');
  return {
    Id: user.userId,
    UserName: user.username,
    Email: user.username,
    FirstName: displayName === null ? null : space < 0 ? displayName : displayName.slice(0, space),
    LastName: displayName === null || space < 0 ? null : displayName.slice(space + 1).trim(),
    DisplayName: displayName,
    Extension: user.extension,
    Number: user.number ?? null,
    Role: user.role === 'admin' ? 'Admin' : 'Agent',
    OrganizationID: organizationId,
  };
}

/** Service queue: `TypeId` 4. */
export const SERVICE_QUEUE_TYPE_ID = 4;

export function toWireQueue(queue: Queue, status: QueueStatus): Wire<'Queue'> {
  return {
    Id: queue.queueId,
    Name: queue.name,
    Extension: queue.extension ?? null,
    Numbers: queue.number === undefined ? [] : [queue.number],
    MemberUserIds: [...queue.memberUserIds],
    CallbackListId: queue.callbackListId ?? null,
    TypeId: SERVICE_QUEUE_TYPE_ID,
    Status: {
      OpenStatus: status.openStatus,
      QueueLength: status.queueLength,
      MaxWaitTime: status.maxWaitSeconds,
      OngoingCalls: status.ongoingCalls,
      FreeAgents: status.freeAgents,
      ServingAgents: status.servingAgents,
      AgentsOnWrapUp: status.agentsOnWrapUp,
    },
  };
}

export function toWireCallbackList(list: CallbackList): Wire<'CallbackList'> {
  return {
    Id: list.callbackListId,
    Name: list.name,
    QueueId: list.queueId,
    MemberUserIds: [...list.memberUserIds],
  };
}
