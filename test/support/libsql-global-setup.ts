/**
 * Global setup of the `workers` Vitest project: starts the local libSQL server (in the Vitest
 * process, on an ephemeral port, on a throwaway database), applies migrations/ to it, and
 * provides its URL and token, which vitest.config.ts passes to the Worker as the LIBSQL_URL
 * and LIBSQL_AUTH_TOKEN bindings.
 *
 * In-process and port 0: a run killed midway leaves no server behind and no port taken.
 */
import { randomBytes } from 'node:crypto';

import { createClient } from '@libsql/client';
import type { TestProject } from 'vitest/node';

import { startLibsqlServer } from '../../control/dev/libsql-server/index.js';
import { MIGRATIONS_DIR } from '../../control/dev/local-paths.js';
import { applyMigrations } from '../../control/dev/migrate.js';

declare module 'vitest' {
  export interface ProvidedContext {
    libsqlUrl: string;
    libsqlAuthToken: string;
  }
}

export default async function setupLibsqlServer(project: TestProject): Promise<() => Promise<void>> {
  const authToken = randomBytes(24).toString('base64url');
  const server = await startLibsqlServer({ database: ':memory:', authToken });
  try {
    const client = createClient({ url: server.url, authToken });
    try {
      await applyMigrations(client, MIGRATIONS_DIR);
    } finally {
      client.close();
    }
  } catch (error) {
    await server.close();
    throw error;
  }
  project.provide('libsqlUrl', server.url);
  project.provide('libsqlAuthToken', authToken);
  return async function stopLibsqlServer() {
    await server.close();
  };
}
