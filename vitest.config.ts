import { defineConfig } from 'vitest/config';

// Tests that stop or kill a shared backend (a Hazelcast member) run in their own project, after
// every other test and one file at a time, so they never pull the cluster away from a suite
// running in parallel.
const FAULT_TESTS = ['services/core/grid/hazelcast-grid.test.ts', 'test/e2e/stack-faults.test.ts', 'test/e2e/revocation-faults.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', 'json'],
    outputFile: { json: 'build/test-results.json' },
    projects: [
      {
        extends: true,
        test: {
          name: 'main',
          include: ['services/**/*.test.ts', 'gateway/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: FAULT_TESTS,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'faults',
          include: FAULT_TESTS,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
