/**
 * The production data path, from inside workerd: @libsql/client/web (what the control plane
 * uses against Turso) over fetch to the local libSQL server that the workers project's global
 * setup started, with the LIBSQL_URL / LIBSQL_AUTH_TOKEN bindings it was given.
 */
import { createClient, LibsqlError, type Client } from '@libsql/client/web';
import { env } from 'cloudflare:workers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('@libsql/client/web inside workerd against the local libSQL server', () => {
  let db: Client;
  // Each test file gets its own table names: the server (and its database) is shared by the run.
  const table = `workerd_${crypto.randomUUID().replaceAll('-', '')}`;

  beforeAll(async () => {
    expect(env.LIBSQL_URL).toMatch(/^http:\/\/127\.0\.0\.1:[0-9]+$/);
    expect(env.LIBSQL_AUTH_TOKEN).toEqual(expect.any(String));
    db = createClient({ url: env.LIBSQL_URL as string, authToken: env.LIBSQL_AUTH_TOKEN, intMode: 'bigint' });
    await db.execute(`CREATE TABLE ${table} (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, score REAL, data BLOB)`);
  });
  afterAll(async () => {
    await db.execute(`DROP TABLE IF EXISTS ${table}`);
    db.close();
  });

  it('executes statements with every value type', async () => {
    const inserted = await db.execute({
      sql: `INSERT INTO ${table} (name, score, data) VALUES (?, ?, ?)`,
      args: ['ada', 2.5, new Uint8Array([1, 2, 255])],
    });
    expect(inserted.rowsAffected).toBe(1);
    const id = inserted.lastInsertRowid as bigint;
    const selected = await db.execute({ sql: `SELECT id, name, score, data, NULL AS missing FROM ${table} WHERE id = ?`, args: [id] });
    expect(selected.columnTypes).toEqual(['INTEGER', 'TEXT', 'REAL', 'BLOB', '']);
    const row = selected.rows[0];
    expect(row?.id).toBe(id);
    expect(row?.name).toBe('ada');
    expect(row?.score).toBe(2.5);
    expect([...new Uint8Array(row?.data as ArrayBuffer)]).toEqual([1, 2, 255]);
    expect(row?.missing).toBeNull();
  });

  it('runs a batch atomically', async () => {
    const results = await db.batch(
      [
        { sql: `INSERT INTO ${table} (name) VALUES (?)`, args: ['batch-1'] },
        { sql: `INSERT INTO ${table} (name) VALUES (?)`, args: ['batch-2'] },
        `SELECT count(*) AS n FROM ${table} WHERE name LIKE 'batch-%'`,
      ],
      'write',
    );
    expect(results[2]?.rows[0]?.n).toBe(2n);

    const failed = await db
      .batch(
        [
          { sql: `INSERT INTO ${table} (name) VALUES (?)`, args: ['batch-3'] },
          { sql: `INSERT INTO ${table} (name) VALUES (?)`, args: ['batch-1'] }, // duplicate
        ],
        'write',
      )
      .catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(LibsqlError);
    expect((failed as LibsqlError).code).toBe('SQLITE_CONSTRAINT');
    const count = await db.execute(`SELECT count(*) AS n FROM ${table} WHERE name = 'batch-3'`);
    expect(count.rows[0]?.n).toBe(0n);
  });

  it('keeps an interactive transaction across requests, committed or rolled back', async () => {
    const kept = await db.transaction('write');
    await kept.execute({ sql: `INSERT INTO ${table} (name) VALUES (?)`, args: ['tx-kept'] });
    const inside = await kept.execute(`SELECT count(*) AS n FROM ${table} WHERE name = 'tx-kept'`);
    expect(inside.rows[0]?.n).toBe(1n);
    const outside = await db.execute(`SELECT count(*) AS n FROM ${table} WHERE name = 'tx-kept'`);
    expect(outside.rows[0]?.n).toBe(0n);
    await kept.commit();

    const dropped = await db.transaction('write');
    await dropped.execute({ sql: `INSERT INTO ${table} (name) VALUES (?)`, args: ['tx-dropped'] });
    await dropped.rollback();

    const names = await db.execute(`SELECT name FROM ${table} WHERE name LIKE 'tx-%' ORDER BY name`);
    expect(names.rows.map((row) => row.name)).toEqual(['tx-kept']);
  });

  it('sees the server refuse a wrong token', async () => {
    const stranger = createClient({ url: env.LIBSQL_URL as string, authToken: 'not-the-token' });
    const error = await stranger.execute('SELECT 1').catch((caught: unknown) => caught);
    stranger.close();
    expect(error).toBeInstanceOf(LibsqlError);
    expect((error as LibsqlError).message).toContain('401');
  });
});
