/**
 * The local libSQL server through @libsql/client's HTTP client — the code path the control plane
 * uses against Turso — over a real loopback socket, on the real `libsql` engine.
 *
 * The data-access suite also runs through a `file:` URL (the client's embedded engine) and must
 * give the same answers: values, decltypes, counts, error codes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createClient, LibsqlError, type Client } from '@libsql/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { eventually, settledFlag, startTestLibsqlServer, type TestLibsqlServer } from '../support/libsql.js';

const SCHEMA = [
  `CREATE TABLE accounts (
     id INTEGER PRIMARY KEY,
     email TEXT NOT NULL UNIQUE,
     balance REAL,
     avatar BLOB,
     note
   )`,
  `CREATE TABLE sessions (
     id INTEGER PRIMARY KEY,
     account_id INTEGER NOT NULL REFERENCES accounts(id)
   )`,
];

async function expectLibsqlError(promise: Promise<unknown>, code: string): Promise<LibsqlError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error, `expected LibsqlError ${code}`).toBeInstanceOf(LibsqlError);
  expect((error as LibsqlError).code).toBe(code);
  return error as LibsqlError;
}

interface Backend {
  readonly client: Client;
  close(): Promise<void>;
}

const BACKENDS: ReadonlyArray<readonly [string, () => Promise<Backend>]> = [
  [
    'http (local server)',
    async () => {
      const server = await startTestLibsqlServer();
      return { client: server.client({ intMode: 'bigint' }), close: () => server.close() };
    },
  ],
  [
    'file: (embedded engine)',
    async () => {
      const directory = mkdtempSync(join(tmpdir(), 'parley-libsql-file-'));
      const client = createClient({ url: `file:${join(directory, 'test.db')}`, intMode: 'bigint' });
      // The file driver leaves foreign keys as SQLite's default (off); Turso turns them on.
      await client.execute('PRAGMA foreign_keys = ON');
      return {
        client,
        async close() {
          client.close();
          rmSync(directory, { recursive: true, force: true });
        },
      };
    },
  ],
];

describe.each(BACKENDS)('data access via %s', (_name, open) => {
  let backend: Backend;
  let db: Client;

  beforeEach(async () => {
    backend = await open();
    db = backend.client;
    await db.batch(SCHEMA, 'write');
  });
  afterEach(() => backend.close());

  it('round-trips every value type, with decltypes, counts and rowids', async () => {
    const blob = new Uint8Array([0, 1, 2, 253, 254, 255]);
    const inserted = await db.execute({
      sql: 'INSERT INTO accounts (email, balance, avatar, note) VALUES (?, ?, ?, ?)',
      args: ['ada@example.test', 12.5, blob, 9_223_372_036_854_775_807n],
    });
    expect(inserted.rowsAffected).toBe(1);
    expect(inserted.lastInsertRowid).toBe(1n);
    expect(inserted.columns).toEqual([]);

    await db.execute({
      sql: 'INSERT INTO accounts (email, balance, avatar, note) VALUES (:email, :balance, :avatar, :note)',
      args: { email: 'ünï©ødé ✓', balance: null, avatar: new Uint8Array(), note: -9_223_372_036_854_775_808n },
    });
    await db.execute({
      sql: 'INSERT INTO accounts (email, balance, note) VALUES (?, ?, ?)',
      args: ['', 1e300, 'text in an untyped column'],
    });

    const result = await db.execute('SELECT id, email, balance, avatar, note, typeof(note) AS note_type FROM accounts ORDER BY id');
    expect(result.columns).toEqual(['id', 'email', 'balance', 'avatar', 'note', 'note_type']);
    expect(result.columnTypes).toEqual(['INTEGER', 'TEXT', 'REAL', 'BLOB', '', '']);
    expect(result.rowsAffected).toBe(0);
    const rows = result.rows.map((row) => ({ ...row, avatar: row.avatar === null ? null : new Uint8Array(row.avatar as ArrayBuffer) }));
    expect(rows).toEqual([
      { id: 1n, email: 'ada@example.test', balance: 12.5, avatar: blob, note: 9_223_372_036_854_775_807n, note_type: 'integer' },
      { id: 2n, email: 'ünï©ødé ✓', balance: null, avatar: new Uint8Array(), note: -9_223_372_036_854_775_808n, note_type: 'integer' },
      { id: 3n, email: '', balance: 1e300, avatar: null, note: 'text in an untyped column', note_type: 'text' },
    ]);
  });

  it('binds JavaScript numbers as REAL, bigints as INTEGER, booleans as 0/1', async () => {
    const result = await db.execute({
      sql: 'SELECT typeof(?) AS a, typeof(?) AS b, ? AS c, ? AS d, typeof(?) AS e',
      args: [2, 2n, true, false, 0.1],
    });
    expect(result.rows[0]).toMatchObject({ a: 'real', b: 'integer', c: 1n, d: 0n, e: 'real' });
  });

  it('reports rows affected by UPDATE and DELETE, and 0 for other statements', async () => {
    await db.batch(
      ['a', 'b', 'c'].map((name) => ({ sql: 'INSERT INTO accounts (email) VALUES (?)', args: [`${name}@x`] })),
      'write',
    );
    expect((await db.execute("UPDATE accounts SET note = 'n' WHERE email != 'a@x'")).rowsAffected).toBe(2);
    expect((await db.execute('SELECT * FROM accounts')).rowsAffected).toBe(0);
    expect((await db.execute('CREATE INDEX accounts_note ON accounts (note)')).rowsAffected).toBe(0);
    expect((await db.execute("DELETE FROM accounts WHERE note = 'n'")).rowsAffected).toBe(2);
    const returning = await db.execute("INSERT INTO accounts (email) VALUES ('r@x') RETURNING id, email");
    expect(returning.rows.map((row) => ({ ...row }))).toEqual([{ id: 2n, email: 'r@x' }]); // ids 2 and 3 were deleted
  });

  it('runs a batch atomically: one failing statement rolls the whole batch back', async () => {
    await db.execute("INSERT INTO accounts (email) VALUES ('taken@x')");
    const error = await expectLibsqlError(
      db.batch(
        [
          "INSERT INTO accounts (email) VALUES ('new@x')",
          "INSERT INTO accounts (email) VALUES ('taken@x')",
          "INSERT INTO accounts (email) VALUES ('never@x')",
        ],
        'write',
      ),
      'SQLITE_CONSTRAINT',
    );
    expect(error.message).toContain('UNIQUE constraint failed: accounts.email');
    const emails = await db.execute('SELECT email FROM accounts ORDER BY id');
    expect(emails.rows.map((row) => row.email)).toEqual(['taken@x']);
  });

  it('returns one result per batch statement', async () => {
    const results = await db.batch(
      [
        { sql: 'INSERT INTO accounts (email) VALUES (?)', args: ['one@x'] },
        { sql: 'INSERT INTO accounts (email) VALUES (?)', args: ['two@x'] },
        'SELECT count(*) AS n FROM accounts',
      ],
      'write',
    );
    expect(results.map((result) => result.rowsAffected)).toEqual([1, 1, 0]);
    expect(results[1]?.lastInsertRowid).toBe(2n);
    expect(results[2]?.rows[0]?.n).toBe(2n);
  });

  it('commits an interactive transaction spanning several requests', async () => {
    const tx = await db.transaction('write');
    await tx.execute({ sql: 'INSERT INTO accounts (email) VALUES (?)', args: ['tx@x'] });
    const inside = await tx.execute('SELECT count(*) AS n FROM accounts');
    expect(inside.rows[0]?.n).toBe(1n);
    const id = (await tx.execute("SELECT id FROM accounts WHERE email = 'tx@x'")).rows[0]?.id;
    await tx.execute({ sql: 'INSERT INTO sessions (account_id) VALUES (?)', args: [id as bigint] });
    await tx.commit();
    expect(tx.closed).toBe(true);
    const sessions = await db.execute('SELECT count(*) AS n FROM sessions');
    expect(sessions.rows[0]?.n).toBe(1n);
  });

  it('rolls back an interactive transaction', async () => {
    const tx = await db.transaction('write');
    await tx.execute("INSERT INTO accounts (email) VALUES ('gone@x')");
    await tx.rollback();
    const count = await db.execute('SELECT count(*) AS n FROM accounts');
    expect(count.rows[0]?.n).toBe(0n);
  });

  it('enforces foreign keys', async () => {
    const error = await expectLibsqlError(
      db.execute({ sql: 'INSERT INTO sessions (account_id) VALUES (?)', args: [42n] }),
      'SQLITE_CONSTRAINT',
    );
    expect(error.message).toContain('FOREIGN KEY constraint failed');
  });

  it('surfaces constraint errors as LibsqlError SQLITE_CONSTRAINT', async () => {
    await db.execute("INSERT INTO accounts (email) VALUES ('dup@x')");
    await expectLibsqlError(db.execute("INSERT INTO accounts (email) VALUES ('dup@x')"), 'SQLITE_CONSTRAINT');
    await expectLibsqlError(db.execute('INSERT INTO accounts (email) VALUES (NULL)'), 'SQLITE_CONSTRAINT');
  });

  it('runs several statements with executeMultiple, trigger bodies included', async () => {
    await db.executeMultiple(`
      CREATE TABLE audit (email TEXT);
      CREATE TRIGGER accounts_audit AFTER INSERT ON accounts BEGIN
        INSERT INTO audit VALUES (new.email);
        INSERT INTO audit VALUES (new.email || '!');
      END;
      INSERT INTO accounts (email) VALUES ('seen@x');
    `);
    const audit = await db.execute('SELECT email FROM audit ORDER BY rowid');
    expect(audit.rows.map((row) => row.email)).toEqual(['seen@x', 'seen@x!']);
  });
});

describe('local libSQL server specifics', () => {
  let local: TestLibsqlServer;
  let db: Client;

  beforeEach(async () => {
    // A generous write-lock wait, so a loaded machine cannot turn "waits" into SQLITE_BUSY.
    local = await startTestLibsqlServer({ busyTimeoutMs: 20_000 });
    db = local.client({ intMode: 'bigint' });
    await db.batch(SCHEMA, 'write');
  });
  afterEach(() => local.close());

  async function count(): Promise<bigint> {
    return (await db.execute('SELECT count(*) AS n FROM accounts')).rows[0]?.n as bigint;
  }

  it('counts the rows of INSERT … RETURNING as affected, as sqld does', async () => {
    // (The client's file: driver reports 0 here; the HTTP path is what production runs.)
    const returning = await db.execute("INSERT INTO accounts (email) VALUES ('r@x') RETURNING id");
    expect(returning.rowsAffected).toBe(1);
    expect(returning.rows[0]?.id).toBe(1n);
  });

  it('runs PRAGMA foreign_keys=ON and WAL on every connection', async () => {
    const result = await db.batch(['PRAGMA foreign_keys', 'PRAGMA journal_mode'], 'deferred');
    expect(result[0]?.rows[0]?.foreign_keys).toBe(1n);
    expect(result[1]?.rows[0]?.journal_mode).toBe('wal');
  });

  it('isolates an open transaction: other streams see neither its writes nor its lock for reads', async () => {
    const tx = await db.transaction('write');
    await tx.execute("INSERT INTO accounts (email) VALUES ('uncommitted@x')");
    expect(await count()).toBe(0n); // a reader on another stream never waits (WAL)
    await tx.commit();
    expect(await count()).toBe(1n);
  });

  it('makes a second writer wait for the first to commit, while still serving it', async () => {
    const first = await db.transaction('write');
    await first.execute("INSERT INTO accounts (email) VALUES ('first@x')");

    const second = await db.transaction('write');
    const secondRead = second.execute('SELECT count(*) AS n FROM accounts'); // BEGIN IMMEDIATE waits
    const waiting = settledFlag(secondRead);

    // The first transaction keeps making progress over several requests while the second waits.
    await first.execute("INSERT INTO accounts (email) VALUES ('first-again@x')");
    expect((await first.execute('SELECT count(*) AS n FROM accounts')).rows[0]?.n).toBe(2n);
    expect(await count()).toBe(0n);
    expect(waiting.settled).toBe(false);

    await first.commit();
    // Serialised: the second transaction began after the first committed, and sees its rows.
    expect((await secondRead).rows[0]?.n).toBe(2n);
    await second.execute("INSERT INTO accounts (email) VALUES ('second@x')");
    await second.commit();
    expect(await count()).toBe(3n);
  });

  it('answers SQLITE_BUSY when the write lock is not released within busyTimeoutMs', async () => {
    const impatient = await startTestLibsqlServer({ busyTimeoutMs: 50 });
    try {
      const client = impatient.client();
      await client.execute('CREATE TABLE t (x)');
      const holder = await client.transaction('write');
      await holder.execute('INSERT INTO t VALUES (1)');
      const waiter = await client.transaction('write');
      await expectLibsqlError(waiter.execute('INSERT INTO t VALUES (2)'), 'SQLITE_BUSY');
      expect(waiter.closed).toBe(true); // a failed BEGIN closes the client's transaction
      await holder.commit();
      expect((await client.execute('SELECT count(*) AS n FROM t')).rows[0]?.n).toBe(1);
    } finally {
      await impatient.close();
    }
  });

  it('fails a deferred transaction whose snapshot went stale at once (SQLITE_BUSY, no wait)', async () => {
    const reader = await db.transaction('deferred');
    expect((await reader.execute('SELECT count(*) AS n FROM accounts')).rows[0]?.n).toBe(0n);
    await db.execute("INSERT INTO accounts (email) VALUES ('meanwhile@x')");
    await expectLibsqlError(reader.execute("INSERT INTO accounts (email) VALUES ('late@x')"), 'SQLITE_BUSY');
    await reader.rollback();
  });

  it('expires an idle stream: its transaction rolls back and its baton gets STREAM_EXPIRED', async () => {
    const quick = await startTestLibsqlServer({ streamIdleTimeoutMs: 100 });
    try {
      const client = quick.client();
      await client.execute('CREATE TABLE t (x)');
      const tx = await client.transaction('write');
      await tx.execute('INSERT INTO t VALUES (1)');
      expect(quick.server.openStreams).toBe(1);
      expect(await eventually(() => quick.server.openStreams === 0)).toBe(true);
      await expectLibsqlError(tx.execute('INSERT INTO t VALUES (2)'), 'STREAM_EXPIRED');
      expect((await client.execute('SELECT count(*) AS n FROM t')).rows[0]?.n).toBe(0);
      // The write lock went with it.
      const next = await client.transaction('write');
      await next.execute('INSERT INTO t VALUES (3)');
      await next.commit();
    } finally {
      await quick.close();
    }
  });

  it('refuses a wrong or missing token with 401', async () => {
    const wrong = createClient({ url: local.url, authToken: 'not-the-token' });
    const error = await expectLibsqlError(wrong.execute('SELECT 1'), 'SERVER_ERROR');
    expect((error.cause as { status?: number }).status).toBe(401);
    wrong.close();
    const anonymous = createClient({ url: local.url });
    await expectLibsqlError(anonymous.execute('SELECT 1'), 'SERVER_ERROR');
    anonymous.close();

    const response = await fetch(`${local.url}/v2/pipeline`, {
      method: 'POST',
      headers: { authorization: 'Bearer not-the-token' },
      body: JSON.stringify({ requests: [{ type: 'execute', stmt: { sql: 'DROP TABLE accounts' } }] }),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
    expect(await response.text()).not.toContain('not-the-token');
    expect(await count()).toBe(0n); // the table is still there
  });

  it('refuses a request body over maxBodyBytes with 413, and serves one under it', async () => {
    const small = await startTestLibsqlServer({ maxBodyBytes: 64 * 1024 });
    try {
      const client = small.client();
      await client.execute('CREATE TABLE t (x)');
      await client.execute({ sql: 'INSERT INTO t VALUES (?)', args: ['x'.repeat(60 * 1024)] });
      const error = await expectLibsqlError(
        client.execute({ sql: 'INSERT INTO t VALUES (?)', args: ['x'.repeat(100 * 1024)] }),
        'SERVER_ERROR',
      );
      expect((error.cause as { status?: number }).status).toBe(413);
      expect((await client.execute('SELECT count(*) AS n FROM t')).rows[0]?.n).toBe(1);
    } finally {
      await small.close();
    }
  });

  it('refuses a chunked body (no Content-Length) once it passes maxBodyBytes', async () => {
    const small = await startTestLibsqlServer({ maxBodyBytes: 16 * 1024 });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const request = httpRequest(`${small.url}/v2/pipeline`, {
          method: 'POST',
          headers: { authorization: `Bearer ${small.authToken}`, 'content-type': 'application/json' },
        });
        request.on('response', (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        request.on('error', reject);
        // 8 chunks of 4 KiB: twice the limit, sent without a Content-Length.
        for (let i = 0; i < 8; i += 1) request.write(' '.repeat(4096));
        request.end();
      });
      expect(status).toBe(413);
      expect(small.server.openStreams).toBe(0);
    } finally {
      await small.close();
    }
  });

  it('refuses a new stream past maxStreams with STREAMS_EXHAUSTED', async () => {
    const narrow = await startTestLibsqlServer({ maxStreams: 2 });
    try {
      const client = narrow.client();
      const held = [await client.transaction('deferred'), await client.transaction('deferred')];
      for (const tx of held) await tx.execute('SELECT 1');
      await expectLibsqlError(client.execute('SELECT 1'), 'STREAMS_EXHAUSTED');
      for (const tx of held) await tx.rollback();
      expect((await client.execute('SELECT 1 AS one')).rows[0]?.one).toBe(1);
    } finally {
      await narrow.close();
    }
  });

  it('bounds responses: RESPONSE_TOO_LARGE past maxResponseBytes, then the stream goes on', async () => {
    const tight = await startTestLibsqlServer({ maxResponseBytes: 10_000 });
    try {
      const client = tight.client();
      await expectLibsqlError(client.execute("SELECT printf('%.20000c', 'x')"), 'RESPONSE_TOO_LARGE');
      const tx = await client.transaction('write');
      await expectLibsqlError(tx.execute("SELECT printf('%.20000c', 'x')"), 'RESPONSE_TOO_LARGE');
      expect((await tx.execute('SELECT 2 AS two')).rows[0]?.two).toBe(2);
      await tx.commit();
    } finally {
      await tight.close();
    }
  });

  it('names statement errors as sqld does', async () => {
    await expectLibsqlError(db.execute('SELEC 1'), 'SQL_PARSE_ERROR');
    await expectLibsqlError(db.execute('SELECT * FROM missing'), 'SQL_INPUT_ERROR');
    await expectLibsqlError(db.execute('SELECT 1; SELECT 2'), 'SQL_MANY_STATEMENTS');
    await expectLibsqlError(db.execute('-- nothing'), 'SQL_NO_STATEMENT');
    await expectLibsqlError(db.execute({ sql: 'SELECT ?', args: [1, 2] }), 'ARGS_INVALID');
    await expectLibsqlError(db.execute({ sql: 'SELECT :a', args: { b: 1 } }), 'ARGS_INVALID');
    await expectLibsqlError(db.execute("SELECT json('{')"), 'SQLITE_UNKNOWN'); // SQLITE_ERROR, as rusqlite names it
    await expectLibsqlError(db.execute('SELECT 1e999'), 'VALUE_NOT_REPRESENTABLE'); // JSON has no Infinity
  });
});

describe('local libSQL server, raw Hrana over HTTP', () => {
  let local: TestLibsqlServer;

  beforeEach(async () => {
    local = await startTestLibsqlServer();
  });
  afterEach(() => local.close());

  async function post(path: string, body: unknown): Promise<Response> {
    return fetch(`${local.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${local.authToken}`, 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  }

  async function pipeline(path: string, body: unknown): Promise<{ baton: string | null; results: unknown[] }> {
    const response = await post(path, body);
    expect(response.status, await response.clone().text()).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    return (await response.json()) as { baton: string | null; results: unknown[] };
  }

  const execute = (sql: string, extra: object = {}) => ({ type: 'execute', stmt: { sql, ...extra } });

  it('answers the version probes without a token and does not offer protobuf', async () => {
    for (const path of ['/v2', '/v3', '/health']) expect((await fetch(`${local.url}${path}`)).status, path).toBe(200);
    expect((await fetch(`${local.url}/v3-protobuf`)).status).toBe(404);
    expect((await post('/v3-protobuf/pipeline', {})).status).toBe(404);
    expect((await fetch(`${local.url}/v2/pipeline`)).status).toBe(405);
  });

  it('encodes values as Hrana JSON: integers as strings, blobs as base64', async () => {
    const { results, baton } = await pipeline('/v2/pipeline', {
      requests: [
        execute('SELECT ? AS i, ? AS f, ? AS t, ? AS b, ? AS n', {
          args: [
            { type: 'integer', value: '-9223372036854775808' },
            { type: 'float', value: 0.5 },
            { type: 'text', value: 'hé' },
            { type: 'blob', base64: 'AAEC/w==' },
            { type: 'null' },
          ],
        }),
        { type: 'close' },
      ],
    });
    expect(baton).toBeNull();
    expect(results[0]).toEqual({
      type: 'ok',
      response: {
        type: 'execute',
        result: {
          cols: ['i', 'f', 't', 'b', 'n'].map((name) => ({ name, decltype: null })),
          rows: [
            [
              { type: 'integer', value: '-9223372036854775808' },
              { type: 'float', value: 0.5 },
              { type: 'text', value: 'hé' },
              { type: 'blob', base64: 'AAEC/w==' },
              { type: 'null' },
            ],
          ],
          affected_row_count: 0,
          last_insert_rowid: '0',
        },
      },
    });
    expect(results[1]).toEqual({ type: 'ok', response: { type: 'close' } });
  });

  it('keeps running a pipeline after a failed request, and reports it in place', async () => {
    const { results } = await pipeline('/v2/pipeline', {
      requests: [execute('SELECT nope'), execute('SELECT 1'), { type: 'close' }],
    });
    expect(results[0]).toMatchObject({ type: 'error', error: { code: 'SQL_INPUT_ERROR' } });
    expect(results[1]).toMatchObject({ type: 'ok', response: { type: 'execute' } });
  });

  it('evaluates batch conditions: ok, error, not, and, or; skipped steps are neither', async () => {
    const step = (sql: string, condition?: object) => ({ stmt: { sql }, ...(condition ? { condition } : {}) });
    const { results } = await pipeline('/v2/pipeline', {
      requests: [
        {
          type: 'batch',
          batch: {
            steps: [
              step('SELECT 1'), // 0 ok
              step('SELECT nope'), // 1 error
              step('SELECT 2', { type: 'error', step: 1 }), // 2 runs
              step('SELECT 3', { type: 'ok', step: 1 }), // 3 skipped
              step('SELECT 4', { type: 'or', conds: [{ type: 'ok', step: 3 }, { type: 'error', step: 3 }] }), // 4 skipped
              step('SELECT 5', { type: 'and', conds: [{ type: 'ok', step: 0 }, { type: 'not', cond: { type: 'ok', step: 4 } }] }), // 5 runs
            ],
          },
        },
        { type: 'close' },
      ],
    });
    const batch = (results[0] as { response: { result: { step_results: unknown[]; step_errors: unknown[] } } }).response.result;
    expect(batch.step_results.map((result) => result !== null)).toEqual([true, false, true, false, false, true]);
    expect(batch.step_errors.map((error) => error !== null)).toEqual([false, true, false, false, false, false]);
  });

  it('refuses conditions on later steps and version-3 features on /v2 (400)', async () => {
    const forward = await post('/v2/pipeline', {
      requests: [{ type: 'batch', batch: { steps: [{ stmt: { sql: 'SELECT 1' }, condition: { type: 'ok', step: 0 } }] } }],
    });
    expect(forward.status).toBe(400);
    expect((await post('/v2/pipeline', { requests: [{ type: 'get_autocommit' }] })).status).toBe(400);
    const autocommitCond = await post('/v2/pipeline', {
      requests: [{ type: 'batch', batch: { steps: [{ stmt: { sql: 'SELECT 1' }, condition: { type: 'is_autocommit' } }] } }],
    });
    expect(autocommitCond.status).toBe(400);
  });

  it('serves get_autocommit and is_autocommit on /v3', async () => {
    const first = await pipeline('/v3/pipeline', {
      requests: [{ type: 'get_autocommit' }, execute('BEGIN'), { type: 'get_autocommit' }],
    });
    expect(first.results.map((result) => (result as { response: { is_autocommit?: boolean } }).response.is_autocommit)).toEqual([
      true,
      undefined,
      false,
    ]);
    const second = await pipeline('/v3/pipeline', {
      baton: first.baton,
      requests: [
        {
          type: 'batch',
          batch: {
            steps: [
              { stmt: { sql: 'SELECT 1' }, condition: { type: 'not', cond: { type: 'is_autocommit' } } },
              { stmt: { sql: 'ROLLBACK' } },
              { stmt: { sql: 'SELECT 2' }, condition: { type: 'not', cond: { type: 'is_autocommit' } } },
            ],
          },
        },
        { type: 'close' },
      ],
    });
    const batch = (second.results[0] as { response: { result: { step_results: unknown[] } } }).response.result;
    expect(batch.step_results.map((result) => result !== null)).toEqual([true, true, false]);
  });

  it('streams a /v3/cursor batch as newline-delimited JSON', async () => {
    const response = await post('/v3/cursor', {
      batch: { steps: [{ stmt: { sql: 'SELECT 1 AS a UNION ALL SELECT 2' } }, { stmt: { sql: 'SELECT nope' } }] },
    });
    expect(response.status).toBe(200);
    const lines = (await response.text()).trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines[0]).toEqual({ baton: expect.any(String), base_url: null });
    expect(lines.slice(1).map((line) => line.type)).toEqual(['step_begin', 'row', 'row', 'step_end', 'step_error']);
    expect(lines[2]).toEqual({ type: 'row', row: [{ type: 'integer', value: '1' }] });
    // The stream stays open for the next request, as a cursor's stream does.
    const closed = await pipeline('/v3/pipeline', { baton: lines[0]?.baton, requests: [{ type: 'close' }] });
    expect(closed.baton).toBeNull();
  });

  it('stores SQL texts per stream within sqld limits', async () => {
    const { results, baton } = await pipeline('/v2/pipeline', {
      requests: [
        { type: 'store_sql', sql_id: 1, sql: 'SELECT ? + 1 AS n' },
        { type: 'execute', stmt: { sql_id: 1, args: [{ type: 'integer', value: '41' }] } },
        { type: 'store_sql', sql_id: 2, sql: `SELECT '${'x'.repeat(5_000)}'` },
        { type: 'close_sql', sql_id: 1 },
      ],
    });
    expect(results[1]).toMatchObject({ response: { result: { rows: [[{ type: 'integer', value: '42' }]] } } });
    expect(results[2]).toMatchObject({ type: 'error', error: { code: 'SQL_STORE_TOO_LARGE' } });
    expect(results[3]).toEqual({ type: 'ok', response: { type: 'close_sql' } });
    const unknownId = await post('/v2/pipeline', { baton, requests: [{ type: 'execute', stmt: { sql_id: 1 } }] });
    expect(unknownId.status).toBe(400); // closed above; and a failed request ends the stream
  });

  it('keeps a stream usable after a statement gave up on SQLITE_BUSY inside a transaction', async () => {
    const other = local.client();
    await other.execute('CREATE TABLE t (x)');
    const opened = await pipeline('/v2/pipeline', { requests: [execute('BEGIN'), execute('SELECT count(*) FROM t')] });
    await other.execute('INSERT INTO t VALUES (1)'); // the stream's snapshot is now stale
    const failed = await pipeline('/v2/pipeline', {
      baton: opened.baton,
      requests: [execute('INSERT INTO t VALUES (2)'), execute('ROLLBACK')],
    });
    expect(failed.results[0]).toMatchObject({ type: 'error', error: { code: 'SQLITE_BUSY' } });
    expect(failed.results[1]).toMatchObject({ type: 'ok' }); // the transaction is already gone
    const after = await pipeline('/v2/pipeline', {
      baton: failed.baton,
      requests: [execute('BEGIN IMMEDIATE'), execute('INSERT INTO t VALUES (3)'), execute('COMMIT'), { type: 'close' }],
    });
    expect(after.results.map((result) => (result as { type: string }).type)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect((await other.execute('SELECT group_concat(x) AS xs FROM t')).rows[0]?.xs).toBe('1,3');
  });

  it('describes a statement without running it', async () => {
    const { results } = await pipeline('/v2/pipeline', {
      requests: [
        execute('CREATE TABLE t (a INTEGER, b TEXT)'),
        { type: 'describe', sql: 'SELECT a, b AS bee FROM t WHERE a = :a OR b = ?' },
        { type: 'describe', sql: 'INSERT INTO t VALUES (1, 2)' },
        { type: 'describe', sql: 'EXPLAIN SELECT 1' },
        execute('SELECT count(*) FROM t'),
        { type: 'close' },
      ],
    });
    expect((results[1] as { response: unknown }).response).toEqual({
      type: 'describe',
      result: {
        params: [{ name: ':a' }, { name: null }],
        cols: [
          { name: 'a', decltype: 'INTEGER' },
          { name: 'bee', decltype: 'TEXT' },
        ],
        is_explain: false,
        is_readonly: true,
      },
    });
    expect(results[2]).toMatchObject({ response: { result: { is_readonly: false, is_explain: false } } });
    expect(results[3]).toMatchObject({ response: { result: { is_readonly: true, is_explain: true } } });
    expect(results[4]).toMatchObject({ response: { result: { rows: [[{ type: 'integer', value: '0' }]] } } });
  });

  it('answers protocol violations with 400 and text, and closes the stream', async () => {
    expect((await post('/v2/pipeline', '{not json')).status).toBe(400);
    expect((await post('/v2/pipeline', { requests: [{ type: 'frobnicate' }] })).status).toBe(400);
    expect((await post('/v2/pipeline', { baton: 'forged', requests: [] })).status).toBe(400);
    const tooBig = await post('/v2/pipeline', {
      requests: [execute('SELECT ?', { args: [{ type: 'integer', value: '9223372036854775808' }] })],
    });
    expect(tooBig.status).toBe(400);
    expect(tooBig.headers.get('content-type')).toBe('text/plain');

    const opened = await pipeline('/v2/pipeline', { requests: [execute('SELECT 1')] });
    const next = await pipeline('/v2/pipeline', { baton: opened.baton, requests: [execute('SELECT 2')] });
    expect(next.baton).not.toBe(opened.baton);
    expect((await post('/v2/pipeline', { baton: opened.baton, requests: [] })).status).toBe(400); // reused
    const afterClose = await post('/v2/pipeline', { baton: next.baton, requests: [{ type: 'close' }, execute('SELECT 3')] });
    expect(afterClose.status).toBe(400);
    expect(local.server.openStreams).toBe(0);
  });
});
