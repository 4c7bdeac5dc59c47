import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEMO_TENANT_YAML, demoTenant } from './demo.js';
import { deriveCallbackListId, deriveQueueId, deriveUserId, loadTenantFile } from './load.js';
import { canSee } from './permissions.js';
import { defaultQueueAudio } from './schema.js';

const examplePath = fileURLToPath(new URL('../../examples/tenant.yaml', import.meta.url));

describe('demoTenant', () => {
  const tenant = demoTenant({ publicUrl: 'http://127.0.0.1:8080/' });
  const byName = (username: string) => tenant.users.find((user) => user.username === username)!;

  it("is the seed's scenario: users A, B, C and an admin", () => {
    expect(
      tenant.users.map(({ username, extension, password, role }) => ({
        username,
        extension,
        password,
        role,
      })),
    ).toEqual([
      { username: 'a@example.com', extension: '1001', password: 'secret-a', role: 'agent' },
      { username: 'b@example.com', extension: '1002', password: 'secret-b', role: 'agent' },
      { username: 'c@example.com', extension: '1003', password: 'secret-c', role: 'agent' },
      { username: 'admin@example.com', extension: '1000', password: 'secret-admin', role: 'admin' },
    ]);
    const supportCallbacks = deriveCallbackListId('Support callbacks');
    for (const user of tenant.users) {
      expect(user.userId).toBe(deriveUserId(user.username));
      // B and C, the list's members, may handle its callback requests; nobody has other grants.
      const handlesCallbacks = user.username === 'b@example.com' || user.username === 'c@example.com';
      expect([...user.grants.callbackLists]).toEqual(handlesCallbacks ? [supportCallbacks] : []);
      expect([
        user.grants.directCalls.size,
        user.grants.agentCalls.size,
        user.grants.serviceCalls.size,
      ]).toEqual([0, 0, 0]);
    }
  });

  it('has queue Support offering calls to B, then C', () => {
    expect(tenant.queues).toEqual([
      {
        queueId: deriveQueueId('Support'),
        name: 'Support',
        extension: '100',
        number: '+35810100100',
        memberUserIds: [byName('b@example.com').userId, byName('c@example.com').userId],
        strategy: 'sequential',
        allocationTimeoutSeconds: 15,
        maxWaitSeconds: 120,
        wrapUpSeconds: 0,
        recordInbound: false,
        recordOutbound: false,
        callbackListId: deriveCallbackListId('Support callbacks'),
        audio: defaultQueueAudio(),
      },
    ]);
  });

  it('has the callback list "Support callbacks" and the pstn trunk', () => {
    expect(tenant.callbackLists).toEqual([
      {
        callbackListId: deriveCallbackListId('Support callbacks'),
        name: 'Support callbacks',
        queueId: deriveQueueId('Support'),
        memberUserIds: [byName('b@example.com').userId, byName('c@example.com').userId],
      },
    ]);
    expect(tenant.trunks).toEqual([{ name: 'pstn', host: '127.0.0.1', port: 5080, transport: 'udp' }]);
  });

  it('uses the given publicUrl and the defaults', () => {
    expect(tenant.domain).toBe('switchboard.local');
    expect(tenant.postProcessing).toEqual({ delaySeconds: 0 });
    expect(demoTenant({ publicUrl: 'http://10.0.0.5:9000' }).publicUrl).toBe('http://10.0.0.5:9000/');
    expect(tenant.sourcePath).toBeUndefined();
  });

  it('lets the admin see every call, and A only their own', () => {
    const admin = byName('admin@example.com');
    const a = byName('a@example.com');
    expect(canSee(admin, 'ServiceCalls', deriveQueueId('Support'))).toBe(true);
    expect(canSee(a, 'DirectCalls', a.userId)).toBe(true);
    expect(canSee(a, 'AgentCalls', byName('b@example.com').userId)).toBe(false);
  });

  it('gives a fresh tenant on each call', () => {
    const other = demoTenant({ publicUrl: 'http://127.0.0.1:8080/' });
    expect(other).not.toBe(tenant);
    expect(other).toEqual(tenant);
  });
});

describe('examples/tenant.yaml', () => {
  it('is exactly the demo tenant text', () => {
    expect(readFileSync(examplePath, 'utf8')).toBe(DEMO_TENANT_YAML);
  });

  it('loads as the demo tenant', () => {
    const fromFile = loadTenantFile(examplePath);
    const { sourcePath, ...rest } = fromFile;
    expect(sourcePath).toBe(examplePath);
    expect(rest).toEqual(demoTenant({ publicUrl: 'http://127.0.0.1:8080/' }));
  });
});
