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
import * as schema from './schema.js';

export type Database = LibSQLDatabase<typeof schema> & { readonly $client: Client };

export interface DatabaseSettings {
  readonly url: string;
  readonly authToken: string | undefined;
}

export function openDatabase(settings: DatabaseSettings): Database {
  const client = createClient({ url: settings.url, authToken: settings.authToken, intMode: 'number' });
  return drizzle(client, { schema });
}

/** For Node (tests, tools): wraps any @libsql/client Client, e.g. one opened on a `file:` URL. */
export function databaseFromClient(client: Client): Database {
  return drizzle(client, { schema }) as Database;
}
