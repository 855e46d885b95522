/**
 * A migrated control-plane database for Node tests: the real libSQL engine (the `libsql` npm
 * package behind @libsql/client's `file:` and `:memory:` URLs), with foreign keys on as Turso
 * has them. Data-access code runs against it unchanged (the same drizzle queries the Worker
 * sends over HTTP).
 */
import { createClient, type Client } from '@libsql/client';
import { migrate } from 'drizzle-orm/libsql/migrator';
import { databaseFromClient, type Database } from '../../control/src/db/client.js';

export const MIGRATIONS_FOLDER = new URL('../../migrations', import.meta.url).pathname;

export interface TestDatabase {
  readonly db: Database;
  readonly client: Client;
  close(): void;
}

/** `url` defaults to a private in-memory database; pass `file:/tmp/…` to test the file path. */
export async function openMigratedTestDatabase(url = ':memory:'): Promise<TestDatabase> {
  const client = createClient({ url, intMode: 'number' });
  await client.execute('PRAGMA foreign_keys = ON');
  const db = databaseFromClient(client);
  await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
  let closed = false;
  return {
    db,
    client,
    close() {
      if (closed) return;
      closed = true;
      client.close();
    },
  };
}
