import { defineConfig } from 'vitest/config';

// One run over every package, service and end-to-end suite. Tests start real servers, so files
// run on at most two workers (this is a 2-core machine) and each test waits on conditions.
export default defineConfig({
  resolve: { conditions: ['uplink-source'] },
  ssr: { resolve: { conditions: ['uplink-source'], externalConditions: ['uplink-source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
    pool: 'forks',
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
