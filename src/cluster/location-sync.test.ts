/**
 * Registrations shared between nodes through the LOCATION bucket (the machine's NATS): a binding
 * registered on one node reaches the other, an unregistration removes it everywhere, and an
 * expired binding leaves the bucket — unless the device has registered again through another node.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../logger.js';
import { type Binding, LocationService } from '../sip/registrar.js';
import { waitUntil, waitUntilAsync } from '../testing/wait.js';
import type { ClusterConnection } from './connection.js';
import { LocationSync } from './location-sync.js';
import { testNodes } from './testing.js';

function binding(aor: string, port: number, nowMs: number, expiresInMs: number): Binding {
  const flow = { protocol: 'udp' as const, address: '127.0.0.1', port };
  return {
    aor,
    contactUri: `sip:${aor}@127.0.0.1:${port}`,
    bindingKey: `sip:${aor}@127.0.0.1:${port}`,
    expiresAtMs: nowMs + expiresInMs,
    registeredAtMs: nowMs,
    sipCallId: `reg-${aor}-${port}`,
    cseq: 1,
    flow,
    target: flow,
    reachReason: 'contact',
  };
}

describe('registrations shared through NATS KV', () => {
  let nodes: ReturnType<typeof testNodes>;
  let clockMs: number;
  const syncs: LocationSync[] = [];

  async function node(nodeId: string): Promise<{ location: LocationService; connection: ClusterConnection }> {
    const connection = await nodes.connect(nodeId);
    const location = new LocationService(() => clockMs);
    const sync = new LocationSync(connection, location, silentLogger);
    await sync.start();
    syncs.push(sync);
    return { location, connection };
  }

  const stored = async (connection: ClusterConnection) => {
    const keys: string[] = [];
    for await (const key of await connection.buckets.location.keys()) keys.push(key);
    return keys.length;
  };

  beforeEach(() => {
    nodes = testNodes('TL');
    clockMs = Date.now();
  });

  afterEach(async () => {
    for (const sync of syncs.splice(0)) await sync.close();
    await nodes.drop();
  });

  it('shares a binding, removes it on unregistration, and drops it from the bucket when it expires', async () => {
    const a = await node('node-a');
    const b = await node('node-b');
    a.location.upsert(binding('1001', 40001, clockMs, 60_000));
    await waitUntil(() => b.location.lookup('1001').length === 1, 5_000, 'node-b sees 1001');
    expect(b.location.lookup('1001')[0]).toMatchObject({
      node: 'node-a',
      contactUri: 'sip:1001@127.0.0.1:40001',
    });

    a.location.remove('1001', 'sip:1001@127.0.0.1:40001', 'unregistered');
    await waitUntil(() => b.location.lookup('1001').length === 0, 5_000, 'node-b drops 1001');

    a.location.upsert(binding('1002', 40002, clockMs, 60_000));
    await waitUntilAsync(async () => (await stored(a.connection)) === 1, 5_000, 'the binding stored');
    clockMs += 61_000;
    a.location.sweep();
    b.location.sweep();
    await waitUntilAsync(
      async () => (await stored(a.connection)) === 0,
      5_000,
      'the expired binding leaves the bucket',
    );
  });

  it('keeps the entry when the device registered again through another node before the old one expired', async () => {
    const a = await node('node-a');
    const b = await node('node-b');
    a.location.upsert(binding('1003', 40003, clockMs, 60_000));
    await waitUntil(() => b.location.lookup('1003').length === 1, 5_000, 'node-b sees 1003');
    // The same device (same binding key) registers again, now through node-b, for longer.
    b.location.upsert({
      ...binding('1003', 40003, clockMs + 30_000, 3_600_000),
      registeredAtMs: clockMs + 30_000,
    });
    await waitUntil(
      () => a.location.lookup('1003')[0]?.node === 'node-b',
      5_000,
      'node-a sees node-b own it',
    );
    clockMs += 61_000;
    a.location.sweep();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await stored(a.connection)).toBe(1);
    expect(a.location.lookup('1003').map((x) => x.node)).toEqual(['node-b']);
  });
});
