import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

/**
 * Three Vitest projects, all run by `vitest run` (select one with `--project <name>`):
 *
 * - unit:    pure tests of shared/ and friends, in Node.
 * - workers: tests that run inside real workerd through @cloudflare/vitest-pool-workers,
 *            with the control-plane Worker from wrangler.toml as `main`.
 * - e2e:     real sockets on loopback and spawned processes (relay, C interop peer), in Node;
 *            files run one at a time so they never fight over ports.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              // Test settings: a cheap password hash (production refuses it) and no real database yet.
              bindings: {
                PARLEY_ENV: 'test',
                LIBSQL_URL: 'http://127.0.0.1:9/',
                PASSWORD_HASH_MEMORY_KIB: '64',
                PASSWORD_HASH_ITERATIONS: '1',
              },
            },
          }),
        ],
        test: {
          name: 'workers',
          include: ['test/workers/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          fileParallelism: false,
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
    ],
  },
});
