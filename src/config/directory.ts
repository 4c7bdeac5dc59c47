/**
 * O(1) lookups over a Tenant (the Directory interface of ./types.ts). Indexes are built once; the
 * tenant is immutable while the platform runs. When a hand-built tenant (tests) has duplicates the
 * first entity wins, as it does in the loader's own reference resolution.
 */
import { deriveOrganizationId } from './load.js';
import type { CallbackList, Directory, Queue, Tenant, Trunk, User } from './types.js';

/** Numbers match with and without a leading '+'. */
function numberKey(number: string): string {
  return number.startsWith('+') ? number.slice(1) : number;
}

/** Node reports IPv4 peers of dual-stack sockets as IPv4-mapped IPv6 (::ffff:127.0.0.1). */
function addressKey(address: string): string {
  const lower = address.toLowerCase();
  const unbracketed = lower.startsWith('[') && lower.endsWith(']') ? lower.slice(1, -1) : lower;
  return unbracketed.startsWith('::ffff:') && unbracketed.includes('.') ? unbracketed.slice(7) : unbracketed;
}

function indexBy<T>(items: readonly T[], keysOf: (item: T) => Array<string | undefined>): Map<string, T> {
  const index = new Map<string, T>();
  for (const item of items) {
    for (const key of keysOf(item)) {
      if (key !== undefined && !index.has(key)) index.set(key, item);
    }
  }
  return index;
}

export function createDirectory(tenant: Tenant): Directory {
  const usersById = indexBy(tenant.users, (user) => [user.userId.toLowerCase()]);
  const usersByUsername = indexBy(tenant.users, (user) => [user.username.toLowerCase()]);
  const usersByExtension = indexBy(tenant.users, (user) => [user.extension]);
  const usersByNumber = indexBy(tenant.users, (user) => [
    user.number === undefined ? undefined : numberKey(user.number),
  ]);

  const queuesById = indexBy(tenant.queues, (queue) => [queue.queueId.toLowerCase()]);
  const queuesByName = indexBy(tenant.queues, (queue) => [queue.name.toLowerCase()]);
  const queuesByExtension = indexBy(tenant.queues, (queue) => [queue.extension]);
  const queuesByNumber = indexBy(tenant.queues, (queue) => [
    queue.number === undefined ? undefined : numberKey(queue.number),
  ]);

  const listsById = indexBy(tenant.callbackLists, (list) => [list.callbackListId.toLowerCase()]);
  const listsByName = indexBy(tenant.callbackLists, (list) => [list.name.toLowerCase()]);

  const trunksByHostAndPort = indexBy(tenant.trunks, (trunk) => [`${addressKey(trunk.host)}|${trunk.port}`]);

  const queueByExtensionOrNumber = (dialled: string): Queue | undefined =>
    queuesByExtension.get(dialled) ?? queuesByNumber.get(numberKey(dialled));

  return {
    tenant,
    organizationId: deriveOrganizationId(tenant.domain),
    userById: (userId: string): User | undefined => usersById.get(userId.toLowerCase()),
    userByUsername: (username: string): User | undefined => usersByUsername.get(username.toLowerCase()),
    userByExtension: (extension: string): User | undefined => usersByExtension.get(extension),
    userByNumber: (number: string): User | undefined => usersByNumber.get(numberKey(number)),
    queueById: (queueId: string): Queue | undefined => queuesById.get(queueId.toLowerCase()),
    queueByReference: (reference: string): Queue | undefined => {
      const key = reference.trim().toLowerCase();
      return queuesById.get(key) ?? queuesByName.get(key) ?? queueByExtensionOrNumber(reference.trim());
    },
    queueByExtensionOrNumber,
    callbackListById: (callbackListId: string): CallbackList | undefined =>
      listsById.get(callbackListId.toLowerCase()),
    callbackListByName: (name: string): CallbackList | undefined => listsByName.get(name.toLowerCase()),
    // A peer's source port often differs from the port it listens on (the configured one), so an
    // exact match wins but the host alone suffices. Hosts are compared as written: no DNS here.
    trunkBySource: (address: string, port: number): Trunk | undefined => {
      const host = addressKey(address);
      // Host and port must both match: a trunk is trusted without digest authentication, so a
      // host-only match would let any client on the trunk's machine (loopback!) call unauthenticated.
      return trunksByHostAndPort.get(`${host}|${port}`);
    },
    defaultTrunk: (): Trunk | undefined => tenant.trunks[0],
  };
}
