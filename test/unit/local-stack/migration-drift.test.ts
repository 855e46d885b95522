/**
 * findMigrationDrift (control/dev/local-stack/migration-drift.ts) on the real libSQL engine: a
 * database migrated with the folder as it is has no drift; one migrated before a migration file
 * changed (0000_initial.sql regenerated) or disappeared is caught before migrating.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from '@libsql/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findMigrationDrift } from '../../../control/dev/local-stack/migration-drift.js';
import { applyMigrations } from '../../../control/dev/migrate.js';
import { MIGRATIONS_FOLDER } from '../../support/control-database.js';

let folder: string;
let directory: string;
let client: Client;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'parley-drift-'));
  folder = join(directory, 'migrations');
  cpSync(MIGRATIONS_FOLDER, folder, { recursive: true });
  client = createClient({ url: `file:${join(directory, 'local.db')}` });
});

afterEach(() => {
  client.close();
  rmSync(directory, { recursive: true, force: true });
});

function firstMigrationFile(): string {
  const journal = JSON.parse(readFileSync(join(folder, 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string; when: number }[] };
  return join(folder, `${journal.entries[0]!.tag}.sql`);
}

describe('findMigrationDrift', () => {
  it('finds none in a new database or one migrated with these files', async () => {
    expect(await findMigrationDrift(client, folder)).toBeNull();
    await applyMigrations(client, folder);
    expect(await findMigrationDrift(client, folder)).toBeNull();
  });

  it('finds a migration whose file changed after it was applied', async () => {
    await applyMigrations(client, folder);
    const file = firstMigrationFile();
    writeFileSync(file, `${readFileSync(file, 'utf8')}\n-- regenerated\n`);
    const drift = await findMigrationDrift(client, folder);
    expect(drift?.changed).toHaveLength(1);
  });

  it('finds a recorded migration that is no longer in the journal', async () => {
    await applyMigrations(client, folder);
    const journalPath = join(folder, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: { when: number }[] };
    const when = journal.entries[0]!.when;
    journal.entries[0]!.when = when + 1;
    writeFileSync(journalPath, JSON.stringify(journal));
    expect((await findMigrationDrift(client, folder))?.changed).toEqual([when]);
  });
});
