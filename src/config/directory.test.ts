import { describe, expect, it } from 'vitest';
import { demoTenant } from './demo.js';
import { createDirectory } from './directory.js';
import { parseTenantYaml } from './load.js';
import type { Tenant } from './types.js';

const tenant = parseTenantYaml(
  [
    'users:',
    '  - { username: A@Example.com, extension: "1001", password: a, number: "+358401000001" }',
    '  - { username: b@example.com, extension: "1002", password: b, id: 0B6F1C9E-3F2A-4C1D-9E8B-2A7D5C4E1F00 }',
    'queues:',
    '  - { name: Support, extension: "100", number: "+35810100100", members: [b@example.com] }',
    '  - { name: Sales, number: "35810100200", callbackList: Sales callbacks }',
    'callbackLists:',
    '  - { name: Sales callbacks, queue: Sales }',
    'trunks:',
    '  - { name: pstn, host: 10.0.0.1, port: 5080 }',
    '  - { name: backup, host: 10.0.0.2 }',
    '  - { name: pstn-alt-port, host: 10.0.0.1, port: 5090 }',
    '  - { name: v6, host: "2001:db8::1" }',
  ].join('\n'),
  'directory.yaml',
);
const directory = createDirectory(tenant);
const [a, b] = tenant.users;
const [support, sales] = tenant.queues;

describe('createDirectory', () => {
  it('exposes the tenant it was built from', () => {
    expect(directory.tenant).toBe(tenant);
  });

  it('finds users by id (any case), username (any case), extension and number (with or without +)', () => {
    expect(directory.userById(b!.userId)).toBe(b);
    expect(directory.userById('0B6F1C9E-3F2A-4C1D-9E8B-2A7D5C4E1F00')).toBe(b);
    expect(directory.userByUsername('a@example.com')).toBe(a);
    expect(directory.userByUsername('A@EXAMPLE.COM')).toBe(a);
    expect(directory.userByExtension('1002')).toBe(b);
    expect(directory.userByNumber('+358401000001')).toBe(a);
    expect(directory.userByNumber('358401000001')).toBe(a);
  });

  it('returns undefined for what does not exist', () => {
    expect(directory.userById('00000000-0000-0000-0000-000000000000')).toBeUndefined();
    expect(directory.userByUsername('zed@example.com')).toBeUndefined();
    expect(directory.userByExtension('100')).toBeUndefined(); // a queue's extension, not a user's
    expect(directory.userByExtension('01002')).toBeUndefined(); // exact digits only
    expect(directory.userByNumber('+358401000009')).toBeUndefined();
    expect(directory.queueById(a!.userId)).toBeUndefined();
    expect(directory.queueByReference('Marketing')).toBeUndefined();
    expect(directory.queueByExtensionOrNumber('1001')).toBeUndefined();
    expect(directory.callbackListById(support!.queueId)).toBeUndefined();
    expect(directory.callbackListByName('Support callbacks')).toBeUndefined();
  });

  it('finds queues by id, and by reference as X-On-Behalf-Of-Queue allows', () => {
    expect(directory.queueById(support!.queueId)).toBe(support);
    expect(directory.queueById(support!.queueId.toUpperCase())).toBe(support);
    expect(directory.queueByReference(support!.queueId)).toBe(support);
    expect(directory.queueByReference('support')).toBe(support);
    expect(directory.queueByReference(' Sales ')).toBe(sales);
    expect(directory.queueByReference('100')).toBe(support);
    expect(directory.queueByReference('+35810100100')).toBe(support);
    expect(directory.queueByReference('+35810100200')).toBe(sales);
  });

  it('finds queues by dialled extension or number', () => {
    expect(directory.queueByExtensionOrNumber('100')).toBe(support);
    expect(directory.queueByExtensionOrNumber('35810100100')).toBe(support);
    expect(directory.queueByExtensionOrNumber('35810100200')).toBe(sales);
    expect(directory.queueByExtensionOrNumber('+35810100200')).toBe(sales);
  });

  it('finds callback lists by id and by name (any case)', () => {
    const list = tenant.callbackLists[0]!;
    expect(directory.callbackListById(list.callbackListId)).toBe(list);
    expect(directory.callbackListByName('sales CALLBACKS')).toBe(list);
    expect(list.queueId).toBe(sales!.queueId);
  });

  it('matches trunks by source host and port, never by host alone', () => {
    const [pstn, backup, alt, v6] = tenant.trunks;
    expect(directory.trunkBySource('10.0.0.1', 5080)).toBe(pstn);
    expect(directory.trunkBySource('10.0.0.1', 5090)).toBe(alt);
    expect(directory.trunkBySource('10.0.0.1', 40000)).toBeUndefined();
    expect(directory.trunkBySource('10.0.0.2', 5060)).toBe(backup);
    expect(directory.trunkBySource('::ffff:10.0.0.2', 5060)).toBe(backup);
    expect(directory.trunkBySource('2001:DB8::1', 5060)).toBe(v6);
    expect(directory.trunkBySource('[2001:db8::1]', 5060)).toBe(v6);
    expect(directory.trunkBySource('10.0.0.3', 5080)).toBeUndefined();
    expect(directory.defaultTrunk()).toBe(pstn);
  });

  it('has no default trunk when none is configured', () => {
    const noTrunks: Tenant = { ...tenant, trunks: [] };
    expect(createDirectory(noTrunks).defaultTrunk()).toBeUndefined();
  });

  it('serves the demo tenant', () => {
    const demo = createDirectory(demoTenant({ publicUrl: 'http://127.0.0.1:8080/' }));
    expect(demo.userByExtension('1001')?.username).toBe('a@example.com');
    expect(demo.queueByExtensionOrNumber('100')?.name).toBe('Support');
    expect(demo.queueByExtensionOrNumber('+35810100100')?.name).toBe('Support');
    expect(demo.callbackListByName('Support callbacks')?.queueId).toBe(
      demo.queueByReference('Support')?.queueId,
    );
    expect(demo.trunkBySource('127.0.0.1', 5080)?.name).toBe('pstn');
  });
});
