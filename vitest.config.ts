import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // GPU jobs run in their own Dawn host processes; keep the number of those bounded on 2 cores.
    maxWorkers: 2,
  },
});
