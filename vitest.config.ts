import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The browser bundles are built once, as `npm run build` does, and served from dist/public.
    globalSetup: ['scripts/vitest-global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // SIP peers (sipp, Chromium) and databases are real and bound to ports; keep suites apart
    // on the 2-core CI machine so that timers are not starved.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
