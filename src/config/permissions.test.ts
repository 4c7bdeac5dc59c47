import { describe, expect, it } from 'vitest';
import { parseTenantYaml } from './load.js';
import { canSee, effectiveGrants, visibleScope } from './permissions.js';
import type { GrantKind } from './types.js';

const tenant = parseTenantYaml(
  [
    'users:',
    '  - username: a@example.com',
    '    extension: "1001"',
    '    password: a',
    '  - username: b@example.com',
    '    extension: "1002"',
    '    password: b',
    '    permissions:',
    '      - DirectCalls: a@example.com',
    '      - ServiceCalls: Support',
    '      - CallbackList: Support callbacks',
    '  - username: sup@example.com',
    '    extension: "1003"',
    '    password: s',
    '    permissions: [ { AgentCalls: "*" }, { ServiceCalls: "*" }, { ServiceCalls: Sales } ]',
    '  - username: admin@example.com',
    '    extension: "1000"',
    '    password: x',
    '    role: admin',
    'queues: [ { name: Support }, { name: Sales } ]',
    'callbackLists: [ { name: Support callbacks, queue: Support } ]',
  ].join('\n'),
  'permissions.yaml',
);
const [a, b, supervisor, admin] = tenant.users as [
  (typeof tenant.users)[0],
  (typeof tenant.users)[0],
  (typeof tenant.users)[0],
  (typeof tenant.users)[0],
];
const [support, sales] = tenant.queues;
const list = tenant.callbackLists[0]!;
const KINDS: GrantKind[] = ['DirectCalls', 'AgentCalls', 'ServiceCalls', 'CallbackList'];

describe('effectiveGrants', () => {
  it('gives every user DirectCalls and AgentCalls of themselves and nothing else by default', () => {
    expect(effectiveGrants(a)).toEqual({
      directCalls: new Set([a.userId]),
      agentCalls: new Set([a.userId]),
      serviceCalls: new Set(),
      callbackLists: new Set(),
    });
  });

  it('adds configured grants to the self-grants', () => {
    expect(effectiveGrants(b)).toEqual({
      directCalls: new Set([b.userId, a.userId]),
      agentCalls: new Set([b.userId]),
      serviceCalls: new Set([support!.queueId]),
      callbackLists: new Set([list.callbackListId]),
    });
  });

  it("collapses a kind to '*' when one grant is '*'", () => {
    const grants = effectiveGrants(supervisor);
    expect(grants.agentCalls).toEqual(new Set(['*']));
    expect(grants.serviceCalls).toEqual(new Set(['*']));
    expect(grants.directCalls).toEqual(new Set([supervisor.userId]));
  });

  it("gives the admin role '*' for everything", () => {
    const grants = effectiveGrants(admin);
    for (const targets of Object.values(grants)) expect(targets).toEqual(new Set(['*']));
  });

  it('returns a copy that callers cannot use to change later checks', () => {
    effectiveGrants(a).serviceCalls.add(sales!.queueId);
    expect(canSee(a, 'ServiceCalls', sales!.queueId)).toBe(false);
    expect(a.grants.serviceCalls.size).toBe(0);
  });
});

describe('canSee', () => {
  it('answers per kind and entity', () => {
    expect(canSee(a, 'DirectCalls', a.userId)).toBe(true);
    expect(canSee(a, 'AgentCalls', a.userId)).toBe(true);
    expect(canSee(a, 'DirectCalls', b.userId)).toBe(false);
    expect(canSee(a, 'ServiceCalls', support!.queueId)).toBe(false);

    expect(canSee(b, 'DirectCalls', a.userId)).toBe(true);
    expect(canSee(b, 'AgentCalls', a.userId)).toBe(false); // DirectCalls of A does not imply AgentCalls of A
    expect(canSee(b, 'ServiceCalls', support!.queueId)).toBe(true);
    expect(canSee(b, 'ServiceCalls', sales!.queueId)).toBe(false);
    expect(canSee(b, 'CallbackList', list.callbackListId)).toBe(true);

    expect(canSee(supervisor, 'AgentCalls', b.userId)).toBe(true);
    expect(canSee(supervisor, 'DirectCalls', b.userId)).toBe(false);
    expect(canSee(supervisor, 'ServiceCalls', sales!.queueId)).toBe(true);
    expect(canSee(supervisor, 'CallbackList', list.callbackListId)).toBe(false);
  });

  it('accepts ids in any case', () => {
    expect(canSee(b, 'ServiceCalls', support!.queueId.toUpperCase())).toBe(true);
  });

  it('lets the admin see everything, even ids it has never heard of', () => {
    for (const kind of KINDS) expect(canSee(admin, kind, '00000000-0000-0000-0000-000000000000')).toBe(true);
  });
});

describe('visibleScope', () => {
  it("lists owner ids, or '*' when everything is visible", () => {
    expect(visibleScope(a, 'DirectCalls')).toEqual([a.userId]);
    expect(visibleScope(a, 'ServiceCalls')).toEqual([]);
    expect(new Set(visibleScope(b, 'DirectCalls'))).toEqual(new Set([a.userId, b.userId]));
    expect(visibleScope(b, 'ServiceCalls')).toEqual([support!.queueId]);
    expect(visibleScope(b, 'CallbackList')).toEqual([list.callbackListId]);
    expect(visibleScope(supervisor, 'AgentCalls')).toBe('*');
    expect(visibleScope(supervisor, 'ServiceCalls')).toBe('*');
    for (const kind of KINDS) expect(visibleScope(admin, kind)).toBe('*');
  });

  it('agrees with canSee for every user, kind and entity of the tenant', () => {
    const entities: Record<GrantKind, string[]> = {
      DirectCalls: tenant.users.map((user) => user.userId),
      AgentCalls: tenant.users.map((user) => user.userId),
      ServiceCalls: tenant.queues.map((queue) => queue.queueId),
      CallbackList: tenant.callbackLists.map((entry) => entry.callbackListId),
    };
    for (const user of tenant.users) {
      for (const kind of KINDS) {
        const scope = visibleScope(user, kind);
        for (const entityId of entities[kind]) {
          expect(canSee(user, kind, entityId)).toBe(scope === '*' || scope.includes(entityId));
        }
      }
    }
  });
});
