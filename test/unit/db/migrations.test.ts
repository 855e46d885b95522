/**
 * The committed migrations, applied by drizzle's migrator to a real libSQL engine (the `libsql`
 * npm package behind @libsql/client's `file:` URLs): the tables the schema declares exist with
 * their columns, constraints hold, and foreign keys cascade as declared.
 */
import { createClient, type Client } from '@libsql/client';
import { getTableColumns, getTableName, is } from 'drizzle-orm';
import { migrate } from 'drizzle-orm/libsql/migrator';
import { SQLiteTable } from 'drizzle-orm/sqlite-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { databaseFromClient } from '../../../control/src/db/client.js';
import * as schema from '../../../control/src/db/schema.js';

import { MIGRATIONS_FOLDER as MIGRATIONS } from '../../support/control-database.js';

let client: Client;

beforeEach(async () => {
  client = createClient({ url: ':memory:' });
  // Turso enables foreign keys on every connection; so does the local server. Match it here.
  await client.execute('PRAGMA foreign_keys = ON');
  await migrate(databaseFromClient(client), { migrationsFolder: MIGRATIONS });
});

afterEach(() => client.close());

describe('migrations', () => {
  it('create every table of the schema with exactly its columns', async () => {
    const tables = (Object.values(schema) as unknown[]).filter((value) => is(value, SQLiteTable)) as SQLiteTable[];
    expect(tables.length).toBeGreaterThan(5);
    for (const table of tables) {
      const name = getTableName(table);
      const info = await client.execute(`PRAGMA table_info(${name})`);
      const actual = info.rows.map((row) => String(row['name'])).sort();
      const declared = Object.values(getTableColumns(table))
        .map((column) => column.name)
        .sort();
      expect(actual, name).toEqual(declared);
    }
  });

  it('contain no statement SQLite rejects or silently misreads', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    for (const file of readdirSync(MIGRATIONS).filter((f) => f.endsWith('.sql'))) {
      const text = readFileSync(`${MIGRATIONS}/${file}`, 'utf8');
      expect(text, file).not.toMatch(/ALTER\s+COLUMN/i);
      // A rebuild that copies a column as a string literal ('name' instead of "name") would
      // silently fill the column with its own name.
      expect(text, file).not.toMatch(/INSERT INTO[^;]*SELECT\s+'[a-z_]+'/i);
    }
  });

  it('enforce uniqueness of usernames and cascade deletes through logins and tokens', async () => {
    await client.execute({
      sql: 'INSERT INTO users (id, username, username_key, password_hash, created_at, updated_at, password_changed_at) VALUES (?, ?, ?, ?, 1, 1, 1)',
      args: ['usr_a', 'Alice', 'alice', '$argon2id$…'],
    });
    await expect(
      client.execute({
        sql: 'INSERT INTO users (id, username, username_key, password_hash, created_at, updated_at, password_changed_at) VALUES (?, ?, ?, ?, 1, 1, 1)',
        args: ['usr_b', 'ALICE', 'alice', '$argon2id$…'],
      }),
    ).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT' });
    await client.execute("INSERT INTO login_sessions (id, user_id, created_at, expires_at) VALUES ('ses_a', 'usr_a', 1, 2)");
    await client.execute("INSERT INTO refresh_tokens (token_hash, session_id, generation, issued_at, expires_at) VALUES ('h', 'ses_a', 0, 1, 2)");
    await client.execute("DELETE FROM users WHERE id = 'usr_a'");
    expect((await client.execute('SELECT count(*) AS n FROM refresh_tokens')).rows[0]!['n']).toBe(0);
  });

  it('refuse a member of a channel that does not exist, an unknown role and a zero member limit', async () => {
    await client.execute(
      "INSERT INTO users (id, username, username_key, password_hash, created_at, updated_at, password_changed_at) VALUES ('usr_a', 'a', 'a', 'h', 1, 1, 1)",
    );
    await expect(
      client.execute("INSERT INTO channel_members (channel_id, user_id, role, permissions, joined_at) VALUES ('chn_missing', 'usr_a', 'member', 3, 1)"),
    ).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT' });
    await expect(
      client.execute("INSERT INTO channels (id, name, visibility, member_limit, created_at, updated_at) VALUES ('chn_a', 'x', 'secret', 5, 1, 1)"),
    ).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT' });
    await expect(
      client.execute("INSERT INTO channels (id, name, visibility, member_limit, created_at, updated_at) VALUES ('chn_a', 'x', 'open', 0, 1, 1)"),
    ).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT' });
    await client.execute("INSERT INTO channels (id, name, visibility, member_limit, created_at, updated_at) VALUES ('chn_a', 'x', 'open', 5, 1, 1)");
    await expect(
      client.execute("INSERT INTO channel_members (channel_id, user_id, role, permissions, joined_at) VALUES ('chn_a', 'usr_a', 'king', 3, 1)"),
    ).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT' });
  });

  it('are idempotent: running the migrator again applies nothing', async () => {
    const before = (await client.execute('SELECT count(*) AS n FROM __drizzle_migrations')).rows[0]!['n'];
    await migrate(databaseFromClient(client), { migrationsFolder: MIGRATIONS });
    expect((await client.execute('SELECT count(*) AS n FROM __drizzle_migrations')).rows[0]!['n']).toBe(before);
  });
});
