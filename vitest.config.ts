import { defineConfig } from 'vitest/config';
import RetryReporter from './test/support/retry-reporter.js';

// Tests that stop or kill a shared backend (a Hazelcast member) run in their own project, after
// every other test and one file at a time, so they never pull the cluster away from a suite
// running in parallel.
const FAULT_TESTS = [
  'services/core/grid/hazelcast-grid.test.ts',
  'test/e2e/stack-faults.test.ts',
  'test/e2e/revocation-faults.test.ts',
  // A whole stack on ports picked free between its start and its binds: alone, so no file running
  // beside it takes one of them. (Its "gateway exited" in a CI trial was scripts/stack.sh taking
  // the forked shell before its exec of node for a dead process; fixed in wait_for.)
  'test/e2e/stack-readme.test.ts',
];

// CI sets AUTHMESH_TEST_RETRY=1: a test that fails once on the loaded 2-core runner gets one more
// try, and .ci/run names every test that needed it, so a flake is visible without sinking the run.
const retry = Number.parseInt(process.env.AUTHMESH_TEST_RETRY ?? '0', 10) || 0;

// Test files run in this many worker processes at once. vitest's default is one less than the
// CPUs, which is one on a 2-core machine: every file in turn, with most of the suite waiting on
// child processes (Envoy, stacks, builds) rather than on the CPU. AUTHMESH_TEST_WORKERS=2 (CI's
// setting) runs two files at a time; suites that need the machine to themselves are in 'faults'.
const workers = Number.parseInt(process.env.AUTHMESH_TEST_WORKERS ?? '', 10);

export default defineConfig({
  test: {
    retry,
    // Every authmesh process a test starts serves metrics on a free port, never the fixed default
    // (9464), which processes started side by side would fight over.
    env: { AUTHMESH_METRICS_PORT: process.env.AUTHMESH_METRICS_PORT ?? '0' },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    ...(workers > 0 ? { maxWorkers: workers } : {}),
    reporters: retry > 0 ? ['default', 'json', new RetryReporter()] : ['default', 'json'],
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
