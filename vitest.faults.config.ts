import { defineConfig } from 'vitest/config';

// The fault suite (npm run test:faults): crashes, restarts and Docker errors on real parts, one file at a time.
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/faults/global.ts'],
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 15 * 60_000,
    hookTimeout: 5 * 60_000,
  },
});
