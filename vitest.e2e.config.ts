import { defineConfig } from 'vitest/config';

// The console, driven by a browser against serve mode (npm run test:e2e). Serve mode starts its own
// Azurite and sandbox, so no global setup; one file at a time (a browser and a server each).
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
