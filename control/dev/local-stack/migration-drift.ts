/**
 * Has the local database been migrated with migrations that have changed since?
 *
 * Until the first deployment, migrations/0000_initial.sql is regenerated whenever the schema
 * changes. drizzle's libSQL migrator only compares the newest recorded migration's timestamp
 * with the journal: a database migrated with an older 0000_initial either keeps its old schema
 * without a word (same timestamp) or fails on "table already exists" (a newer one). So the
 * local stack compares the SQL hashes drizzle records (sha256 of each file, in
 * __drizzle_migrations) with the files, before migrating, and says what to do.
 */
import type { Client } from '@libsql/client';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATIONS_TABLE } from '../migrate.js';

export interface MigrationDrift {
  /** Recorded migrations whose file changed or is gone, by their journal timestamp. */
  readonly changed: readonly number[];
}

/** The drift between the database and the folder, or null when there is none. */
export async function findMigrationDrift(client: Client, migrationsFolder: string): Promise<MigrationDrift | null> {
  if (!existsSync(join(migrationsFolder, 'meta', '_journal.json'))) return null;
  const table = await client.execute({ sql: "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", args: [MIGRATIONS_TABLE] });
  if (table.rows.length === 0) return null;
  const files = new Map(readMigrationFiles({ migrationsFolder }).map((m) => [m.folderMillis, m.hash]));
  const recorded = await client.execute(`SELECT hash, created_at FROM "${MIGRATIONS_TABLE}"`);
  const changed = recorded.rows
    .map((row) => ({ hash: String(row[0]), createdAt: Number(row[1]) }))
    .filter((row) => files.get(row.createdAt) !== row.hash)
    .map((row) => row.createdAt);
  return changed.length === 0 ? null : { changed };
}
