/**
 * Opens the control plane's database: libSQL over HTTP (`@libsql/client/web`), the same code path
 * for Turso in production and for the local libSQL server in development and the workerd tests.
 *
 * An HTTP client holds no connection, so one per request costs nothing; a batch or a write goes
 * out as one Hrana pipeline request.
 */
import { createClient, type Client } from '@libsql/client/web';
import type { LibSQLDatabase } from 'drizzle-orm/libsql';
import { drizzle } from 'drizzle-orm/libsql/web';
import { DatabaseBatchError } from './database-errors.js';
import * as schema from './schema.js';

export type Database = LibSQLDatabase<typeof schema> & { readonly $client: Client };

export interface DatabaseSettings {
  readonly url: string;
  readonly authToken: string | undefined;
}

export function openDatabase(settings: DatabaseSettings): Database {
  const client = createClient({ url: settings.url, authToken: settings.authToken, intMode: 'number' });
  return drizzle(withClassifiedBatches(client), { schema });
}

/** For Node (tests, tools): wraps any @libsql/client Client, e.g. one opened on a `file:` URL. */
export function databaseFromClient(client: Client): Database {
  return drizzle(withClassifiedBatches(client), { schema }) as Database;
}

/**
 * The client with its batch failures wrapped in DatabaseBatchError (database-errors.ts), so an
 * unreachable server reads as the database's whether a statement or a batch found it. drizzle's
 * batch goes through the client's, so one wrapper covers both.
 */
function withClassifiedBatches(client: Client): Client {
  const batch = client.batch.bind(client);
  client.batch = (async (...args: Parameters<Client['batch']>) => {
    try {
      return await batch(...args);
    } catch (error) {
      throw new DatabaseBatchError(error);
    }
  }) as Client['batch'];
  return client;
}
