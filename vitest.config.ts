import { defineConfig } from 'vitest/config';

// Tests that start servers as child processes (several node processes each, for seconds) run
// after the others, not beside them: on a 2-core machine they starve the timing-based tests
// (the 250 ms deadlines of test/pool.test.ts) of CPU. Each project lists its own files
// (`extends: true` would add a root `include` to both).
const PROCESS_TESTS = ['test/serve.test.ts', 'test/serve-redis.test.ts', 'test/readme-clients.test.ts', 'test/bench-http.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      { extends: true, test: { name: 'in-process', include: ['test/**/*.test.ts'], exclude: PROCESS_TESTS, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'processes', include: PROCESS_TESTS, sequence: { groupOrder: 1 } } },
    ],
  },
});
