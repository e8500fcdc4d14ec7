import { defineConfig } from 'vitest/config';

// Each test file runs in its own forked process: @azure/identity caches the managed identity
// source per process, and every file starts its own sandbox on ephemeral ports.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts', 'sandbox/**/*.test.ts'],
    pool: 'forks',
    isolate: true,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    globalSetup: ['test/global-setup.ts'],
  },
});
