import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

/**
 * Three Vitest projects, all run by `vitest run` (select one with `--project <name>`):
 *
 * - unit:    pure tests of shared/ and friends, in Node.
 * - workers: tests that run inside real workerd through @cloudflare/vitest-pool-workers,
 *            with the control-plane Worker from wrangler.toml as `main`, and the local libSQL
 *            server (started by the global setup) as LIBSQL_URL / LIBSQL_AUTH_TOKEN.
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
          // A function, so the bindings can use what the global setup provided: the URL and
          // token of the local libSQL server it started (test/support/libsql-global-setup.ts).
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              bindings: {
                LIBSQL_URL: inject('libsqlUrl'),
                LIBSQL_AUTH_TOKEN: inject('libsqlAuthToken'),
              },
            },
          })),
        ],
        test: {
          name: 'workers',
          include: ['test/workers/**/*.test.ts'],
          globalSetup: ['./test/support/libsql-global-setup.ts'],
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
