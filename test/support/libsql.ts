/** Starting the local libSQL server in tests: a throwaway database, a random token, port 0. */
import { randomBytes } from 'node:crypto';

import { createClient, type Client, type Config } from '@libsql/client';

import { startLibsqlServer, type LibsqlServer, type LibsqlServerOptions } from '../../control/dev/libsql-server/index.js';

export interface TestLibsqlServer {
  readonly server: LibsqlServer;
  readonly url: string;
  readonly authToken: string;
  /** A new @libsql/client HTTP client for this server (closed by close()). */
  client(config?: Partial<Config>): Client;
  close(): Promise<void>;
}

export async function startTestLibsqlServer(
  options: Partial<Omit<LibsqlServerOptions, 'authToken'>> = {},
): Promise<TestLibsqlServer> {
  const authToken = randomBytes(18).toString('base64url');
  const server = await startLibsqlServer({ database: ':memory:', ...options, authToken });
  const clients: Client[] = [];
  return {
    server,
    url: server.url,
    authToken,
    client(config = {}) {
      const client = createClient({ url: server.url, authToken, ...config });
      clients.push(client);
      return client;
    },
    async close() {
      for (const client of clients) client.close();
      await server.close();
    },
  };
}

/** Tracks whether a promise has settled, without awaiting it. */
export function settledFlag(promise: Promise<unknown>): { readonly settled: boolean } {
  const flag = { settled: false };
  promise.then(
    () => (flag.settled = true),
    () => (flag.settled = true),
  );
  return flag;
}

/** Polls `condition` every 10 ms, for at most `limitMs`; false if it never held. */
export async function eventually(condition: () => boolean, limitMs = 5_000): Promise<boolean> {
  for (let waited = 0; waited <= limitMs; waited += 10) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return condition();
}
