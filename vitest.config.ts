import { defineConfig } from 'vitest/config';

// One real Temporal dev server for the whole run (test/setup/global.ts); test files run one after another because
// they share it, the Docker Engine and 2 CPU cores.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/faults/**', 'node_modules/**'],
    globalSetup: ['test/setup/global.ts'],
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 10 * 60_000,
    hookTimeout: 10 * 60_000,
    reporters: ['default'],
  },
});
