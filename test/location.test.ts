/**
 * The location contract (DESIGN.md §6) against the whole platform over real sockets: a binding is
 * reached at its Contact (third-party registration works over UDP and TCP), at the flow the
 * REGISTER came over only when NAT is evident or the UA uses RFC 5626 outbound, and a TCP binding
 * reached at its Contact outlives the connection that registered it.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { demoTenant } from '../src/config/demo.js';
import type { Platform } from '../src/platform.js';
import { TestUa, type TestUaOptions } from '../src/testing/test-ua.js';
import { sleep } from '../src/testing/wait.js';
import { startSipTestPlatform, type TestPlatform } from './support/platform.js';

const DOMAIN = 'switchboard.local';
let env: TestPlatform;
let platform: Platform;
const opened: TestUa[] = [];

beforeAll(async () => {
  env = await startSipTestPlatform(demoTenant({ publicUrl: 'http://127.0.0.1:8080/' }));
  ({ platform } = env);
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((ua) => ua.close()));
  for (const extension of ['1001', '1002', '1003']) platform.location.removeAll(extension, 'unregistered');
});

afterAll(() => env.close());

const user = (extension: string, extra: Partial<TestUaOptions> = {}): TestUaOptions => ({
  extension,
  password: platform.directory.userByExtension(extension)!.password,
  domain: DOMAIN,
  ...extra,
});

async function overUdp(extension: string, extra: Partial<TestUaOptions> = {}): Promise<TestUa> {
  const ua = await TestUa.overUdp({ host: '127.0.0.1', port: platform.sipPort }, user(extension, extra));
  opened.push(ua);
  return ua;
}

async function overTcp(extension: string, extra: Partial<TestUaOptions> = {}): Promise<TestUa> {
  const ua = await TestUa.overStream(
    'tcp',
    { host: '127.0.0.1', port: platform.sipPort },
    user(extension, extra),
  );
  opened.push(ua);
  return ua;
}

async function registered(ua: TestUa): Promise<void> {
  expect((await ua.register()).status).toBe(200);
}

/** 1001 calls `extension`; returns the call once `phone` sees the INVITE (and nobody else does). */
async function callReaches(extension: string, phone: TestUa, notReached: TestUa[]): Promise<void> {
  const caller = await overUdp('1001');
  await registered(caller);
  const incoming = phone.waitForIncoming(5000);
  const call = caller.call(extension);
  const arrived = await incoming;
  expect(arrived.invite.uri).toContain(`sip:${extension}@`);
  for (const other of notReached)
    expect(other.receivedRequests.filter((r) => r.method === 'INVITE')).toEqual([]);
  arrived.answer();
  expect((await call.waitForFinal(5000)).status).toBe(200);
  expect((await call.hangup()).status).toBe(200);
}

describe('location by Contact (DESIGN.md §6)', () => {
  it('a third-party registration over UDP: the call reaches the phone at its Contact, not the registering socket', async () => {
    const phone = await overUdp('1002');
    const provisioner = await overUdp('1002', { contactUri: phone.contactUri });
    await registered(provisioner);
    const [binding] = platform.location.lookup('1002');
    expect(binding?.reachReason).toBe('contact');
    expect(binding?.target).toEqual({
      protocol: 'udp',
      address: '127.0.0.1',
      port: phone.transport.sentBy.port,
    });
    await callReaches('1002', phone, [provisioner]);
  });

  it('a third-party registration over TCP: the platform opens a connection to the Contact', async () => {
    const phone = await overTcp('1002');
    const provisioner = await overTcp('1002', { contactUri: phone.contactUri });
    await registered(provisioner);
    const [binding] = platform.location.lookup('1002');
    expect(binding?.flow.protocol).toBe('tcp');
    expect(binding?.target).toEqual({
      protocol: 'tcp',
      address: '127.0.0.1',
      port: phone.transport.sentBy.port,
    });
    await callReaches('1002', phone, [provisioner]);
  });

  it('a TCP binding reached at its Contact outlives the connection that registered it', async () => {
    const phone = await overTcp('1003');
    await registered(phone);
    const registeredOver = platform.location.lookup('1003')[0]!.flow;
    expect(registeredOver.protocol === 'tcp' && registeredOver.connectionId).toBeTruthy();
    // The phone drops every connection (a restart of its TCP stack) but keeps listening.
    await phone.closeConnections();
    await sleep(200);
    expect(platform.location.lookup('1003')).toHaveLength(1);
    await callReaches('1003', phone, []);
  });

  it('uses the flow the REGISTER came over when NAT is evident (the Contact names another IP)', async () => {
    const phone = await overUdp('1002', { contactUri: 'sip:1002@192.0.2.10:5060' });
    await registered(phone);
    expect(platform.location.lookup('1002')[0]?.reachReason).toBe('nat');
    await callReaches('1002', phone, []);
  });

  it('uses the flow for RFC 5626 outbound (reg-id + +sip.instance), whatever the Contact says', async () => {
    const listener = await overUdp('1003');
    const phone = await overUdp('1003', {
      contactUri: listener.contactUri,
      registerContactParams: `;reg-id=1;+sip.instance="<urn:uuid:${randomUUID()}>"`,
    });
    await registered(phone);
    expect(platform.location.lookup('1003')[0]?.reachReason).toBe('outbound');
    await callReaches('1003', phone, [listener]);
  });
});
