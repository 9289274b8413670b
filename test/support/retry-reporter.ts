// A vitest reporter for CI: names every test that passed only on a retry (AUTHMESH_TEST_RETRY), one
// line each in build/flaky-tests.txt, which .ci/run prints at the end. A flake stays visible
// instead of being absorbed by the retry.
import { appendFileSync, mkdirSync } from 'node:fs';
import { relative } from 'node:path';
import type { Reporter, TestCase } from 'vitest/node';

export const FLAKY_TESTS_FILE = 'build/flaky-tests.txt';

export default class RetryReporter implements Reporter {
  onTestCaseResult(testCase: TestCase): void {
    const retries = testCase.diagnostic()?.retryCount ?? 0;
    if (retries === 0 || testCase.result().state !== 'passed') return;
    mkdirSync('build', { recursive: true });
    const file = relative(process.cwd(), testCase.module.moduleId);
    appendFileSync(FLAKY_TESTS_FILE, `${file} > ${testCase.fullName} (passed on try ${retries + 1})\n`);
  }
}
