/**
 * Applies the drizzle-kit migrations of a folder (SQL files + meta/_journal.json) to a libSQL
 * database through @libsql/client, with drizzle-orm's libSQL migrator — the same migrator, and
 * the same `__drizzle_migrations` bookkeeping, whether the database is the local file, the local
 * server or Turso.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Client } from '@libsql/client';
import { drizzle } from 'drizzle-orm/libsql';
import { migrate } from 'drizzle-orm/libsql/migrator';

/** drizzle-orm's default bookkeeping table. */
export const MIGRATIONS_TABLE = '__drizzle_migrations';

interface JournalEntry {
  readonly tag: string;
  readonly when: number;
}

export type MigrationOutcome =
  /** The folder has no journal (or an empty one): nothing was done to the database. */
  | { readonly kind: 'no-migrations'; readonly journalPath: string }
  | {
      readonly kind: 'migrated';
      /** Tags of the migrations this run applied, in order. */
      readonly applied: readonly string[];
      /** How many of the folder's migrations the database already had. */
      readonly alreadyApplied: number;
      readonly total: number;
    };

function readJournal(journalPath: string): JournalEntry[] | undefined {
  if (!existsSync(journalPath)) return undefined;
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries?: unknown };
  if (!Array.isArray(journal.entries)) throw new Error(`${journalPath} has no "entries" array`);
  return journal.entries.map((entry: unknown, index) => {
    const { tag, when } = (entry ?? {}) as { tag?: unknown; when?: unknown };
    if (typeof tag !== 'string' || typeof when !== 'number') {
      throw new Error(`${journalPath}: entry ${index} needs a string "tag" and a number "when"`);
    }
    return { tag, when };
  });
}

/** The `created_at` (journal `when`) of every migration the database has recorded. */
async function recordedMigrations(client: Client): Promise<Set<number>> {
  const table = await client.execute({
    sql: "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
    args: [MIGRATIONS_TABLE],
  });
  if (table.rows.length === 0) return new Set();
  const rows = await client.execute(`SELECT created_at FROM "${MIGRATIONS_TABLE}"`);
  return new Set(rows.rows.map((row) => Number(row[0])));
}

export async function applyMigrations(client: Client, migrationsFolder: string): Promise<MigrationOutcome> {
  const journalPath = join(migrationsFolder, 'meta', '_journal.json');
  const entries = readJournal(journalPath);
  if (entries === undefined || entries.length === 0) return { kind: 'no-migrations', journalPath };

  const before = await recordedMigrations(client);
  await migrate(drizzle(client), { migrationsFolder });
  const after = await recordedMigrations(client);
  return {
    kind: 'migrated',
    applied: entries.filter((entry) => !before.has(entry.when) && after.has(entry.when)).map((entry) => entry.tag),
    alreadyApplied: entries.filter((entry) => before.has(entry.when)).length,
    total: entries.length,
  };
}
