import { defineConfig } from 'vitest/config';

/**
 * Three projects, run separately by scripts/test.mjs:
 *   unit   - fast tests of control plane, contract, CLI, storage, device models (no KVM, no browser)
 *   e2e    - Debian's Chromium driven by playwright-core against `vireo serve`
 *   engine - real KVM; run through test/harness/with-kvm (nested KVM when the host has none)
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'main/**/*.test.ts', 'preload/**/*.test.ts'],
          environment: 'node',
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'engine',
          include: ['test/engine/**/*.test.ts'],
          environment: 'node',
          // Under the harness's 600 s silence limit, so a hung test fails with its name and the
          // run goes on; the long ISO tests set their own limits and print progress.
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
