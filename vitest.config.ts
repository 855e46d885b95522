import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

/**
 * Four Vitest projects (select with `--project <name>`; `--project '!system'` excludes one):
 *
 * - unit:    pure tests of shared/ and friends, in Node.
 * - workers: tests that run inside real workerd through @cloudflare/vitest-pool-workers,
 *            with the control-plane Worker from wrangler.toml as `main`, and the local libSQL
 *            server (started by the global setup) as LIBSQL_URL / LIBSQL_AUTH_TOKEN, and a real
 *            relay process the voice rooms talk to (TEST_RELAY).
 * - e2e:     real sockets on loopback and spawned processes (relay, CLI), in Node;
 *            files run one at a time so they never fight over ports.
 * - system:  tests that need Debian packages beyond Node and a C toolchain (libsrtp2 for the
 *            interop peer); `npm run test:system`. `npm test` runs every project but this one,
 *            so it passes on a machine with only Node and a C toolchain. Each system test checks
 *            its packages (test/system/support/requirements.ts): missing ones skip it with a
 *            SKIPPED line, or fail it under CI.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          // The property tests (fast-check, thousands of X25519 or SRTP runs) take 1–2 s on a quiet
          // machine and went past vitest's 5 s default on a loaded one; a timeout is no speed test.
          testTimeout: 30_000,
        },
      },
      {
        plugins: [
          // A function, so the bindings can use what the global setup provided: the URL and
          // token of the local libSQL server it started (test/support/libsql-global-setup.ts).
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              // Test settings: a cheap password hash (production refuses it) and the local
              // libSQL server the global setup started, migrated.
              bindings: {
                PARLEY_ENV: 'test',
                LIBSQL_URL: inject('libsqlUrl'),
                LIBSQL_AUTH_TOKEN: inject('libsqlAuthToken'),
                // The relay the voice rooms reach (test/support/relay-global-setup.ts), for tests.
                TEST_RELAY: JSON.stringify(inject('relay')),
                // Two more, for the failover tests only (test/workers/voice-failover.test.ts).
                TEST_FAILOVER_RELAYS: JSON.stringify(inject('failoverRelays')),
                PASSWORD_HASH_MEMORY_KIB: '64',
                PASSWORD_HASH_ITERATIONS: '1',
                // Requests in tests carry no CF-Connecting-IP unless they set one, so they all share
                // the address `unknown`: per-address throttles would trip across unrelated tests.
                // Tests of those throttles set their own limits (test/workers/support/accounts.ts).
                THROTTLE_LOGIN_PER_ADDRESS_FREE_ATTEMPTS: '100000',
                THROTTLE_REGISTER_PER_ADDRESS_FREE_ATTEMPTS: '100000',
              },
            },
          })),
        ],
        test: {
          name: 'workers',
          include: ['test/workers/**/*.test.ts'],
          // As for unit: real workerd and a real database, which a loaded machine slows past 5 s.
          testTimeout: 30_000,
          globalSetup: ['./test/support/libsql-global-setup.ts', './test/support/relay-global-setup.ts'],
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
      {
        test: {
          name: 'system',
          include: ['test/system/**/*.test.ts'],
          environment: 'node',
          fileParallelism: false,
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
    ],
  },
});
