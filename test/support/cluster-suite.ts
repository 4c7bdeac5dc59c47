/**
 * Test support for vitest suites on a cluster (kept apart from ./cluster.ts, which the benchmarks
 * import outside vitest).
 */
import { afterAll, beforeAll } from 'vitest';
import type { Tenant } from '../../src/config/types.js';
import { startTestCluster, type TestCluster, type TestClusterOptions } from './cluster.js';

/**
 * A cluster for the tests of one describe block: started before them, closed after them. Returns
 * its getter (the cluster exists once the block's tests run).
 */
export function clusterFor(tenant: Tenant, opts: TestClusterOptions = {}): () => TestCluster {
  let cluster: TestCluster | undefined;
  beforeAll(async () => {
    cluster = await startTestCluster(tenant, opts);
  }, 30_000);
  afterAll(async () => {
    await cluster?.close();
  });
  return () => {
    if (!cluster) throw new Error('the cluster is not started yet');
    return cluster;
  };
}
