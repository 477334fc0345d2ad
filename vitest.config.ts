import path from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const WORKFLOW_TESTS = `${path.sep}test${path.sep}workflows${path.sep}`;

/**
 * The Docker-free workflow tests (test/workflows) first, so a broken workflow fails `npm test` in its first minute;
 * the rest in vitest's own order.
 */
class WorkflowTestsFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const first = (file: TestSpecification) => file.moduleId.includes(WORKFLOW_TESTS);
    return [...sorted.filter(first), ...sorted.filter((file) => !first(file))];
  }
}

// One real Temporal dev server for the whole run (test/setup/global.ts); test files run one after another because
// they share it, the Docker Engine and 2 CPU cores.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/faults/**', 'node_modules/**'],
    globalSetup: ['test/setup/global.ts'],
    fileParallelism: false,
    pool: 'forks',
    sequence: { sequencer: WorkflowTestsFirst },
    testTimeout: 10 * 60_000,
    hookTimeout: 10 * 60_000,
    reporters: ['default'],
  },
});
