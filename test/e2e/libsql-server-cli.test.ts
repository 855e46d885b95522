/**
 * `npm run libsql:server` and `npm run db:migrate` as real processes: the server started by its
 * CLI on an ephemeral port, migrated over HTTP by db:migrate with the drizzle-kit fixture
 * migrations, queried with @libsql/client, and stopped by SIGTERM.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { createClient } from '@libsql/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { startTestLibsqlServer, type TestLibsqlServer } from '../support/libsql.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE_MIGRATIONS = join(REPO_ROOT, 'test/fixtures/drizzle-migrations');
const TSX = ['--import', 'tsx'];

interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a script to completion with the given environment additions (and no inherited LIBSQL_*). */
function run(script: string, args: readonly string[], env: Record<string, string> = {}): Promise<Finished> {
  const base = { ...process.env };
  delete base.LIBSQL_URL;
  delete base.LIBSQL_AUTH_TOKEN;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...TSX, script, ...args], { cwd: REPO_ROOT, env: { ...base, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function dbMigrate(args: readonly string[], env: Record<string, string>): Promise<Finished> {
  return run('control/dev/db-migrate.ts', args, env);
}

interface RunningServer {
  readonly child: ChildProcessWithoutNullStreams;
  readonly url: string;
  output(): string;
  stop(): Promise<number | null>;
}

/** Starts the server CLI and waits (bounded) for the line with its URL. */
function startServerCli(args: readonly string[], env: Record<string, string>): Promise<RunningServer> {
  const base = { ...process.env };
  delete base.LIBSQL_AUTH_TOKEN;
  delete base.PARLEY_ENV;
  const child = spawn(process.execPath, [...TSX, 'control/dev/libsql-server/cli.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...base, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return new Promise<RunningServer>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the server printed no URL in 20 s: ${stdout} ${stderr}`));
    }, 20_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /listening on (http:\/\/127\.0\.0\.1:[0-9]+)/.exec(stdout);
      if (match?.[1] === undefined) return;
      clearTimeout(timer);
      const url = match[1];
      resolve({
        child,
        url,
        output: () => stdout + stderr,
        async stop() {
          if (child.exitCode === null) child.kill('SIGTERM');
          return exited;
        },
      });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${String(code)}) before listening: ${stderr}`));
    });
  });
}

describe('libsql:server CLI', () => {
  let running: RunningServer | undefined;
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  it('serves on an ephemeral port with the token given, is migrated by db:migrate, and stops on SIGTERM', async () => {
    const token = 'cli-test-token-' + Math.random().toString(36).slice(2);
    running = await startServerCli(['--database', ':memory:'], { LIBSQL_AUTH_TOKEN: token });

    const migrated = await dbMigrate(['--migrations', FIXTURE_MIGRATIONS], {
      LIBSQL_URL: running.url,
      LIBSQL_AUTH_TOKEN: token,
    });
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(migrated.stdout).toContain('applied 0000_accounts_and_notes');
    expect(migrated.stdout).toContain('applied 0001_tags');
    expect(migrated.stdout).toContain('2 applied, 0 already applied');
    expect(migrated.stdout + migrated.stderr).not.toContain(token);

    const client = createClient({ url: running.url, authToken: token });
    try {
      await client.execute({ sql: 'INSERT INTO fixture_accounts (email) VALUES (?)', args: ['cli@x'] });
      const tables = await client.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'fixture_%' ORDER BY name");
      expect(tables.rows.map((row) => row.name)).toEqual(['fixture_accounts', 'fixture_notes', 'fixture_tags']);
      // Foreign keys from the migration are enforced.
      await expect(client.execute('INSERT INTO fixture_notes (account_id, body) VALUES (99, 1)')).rejects.toMatchObject({
        code: 'SQLITE_CONSTRAINT',
      });
    } finally {
      client.close();
    }

    const again = await dbMigrate(['--migrations', FIXTURE_MIGRATIONS], { LIBSQL_URL: running.url, LIBSQL_AUTH_TOKEN: token });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('0 applied, 2 already applied');

    expect(await running.stop()).toBe(0);
    expect(running.output()).toContain('libsql-server stopped');
    expect(running.output()).not.toContain(token);
  });

  it('generates a token when none is given and writes it to a 0600 env file, never to stdout', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'parley-libsql-cli-'));
    const envFile = join(scratch, 'libsql-server.env');
    running = await startServerCli(['--database', ':memory:', '--connection-file', envFile], {});
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    const written = readFileSync(envFile, 'utf8');
    const token = /^LIBSQL_AUTH_TOKEN=(\S+)$/m.exec(written)?.[1];
    expect(written).toContain(`LIBSQL_URL=${running.url}`);
    expect(token).toBeDefined();
    expect(running.output()).not.toContain(token as string);
    const client = createClient({ url: running.url, authToken: token });
    expect((await client.execute('SELECT 1 AS one')).rows[0]?.one).toBe(1);
    client.close();
    expect(await running.stop()).toBe(0);
    expect(existsSync(envFile)).toBe(false);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('refuses to start with PARLEY_ENV=production', async () => {
    const result = await run('control/dev/libsql-server/cli.ts', ['--database', ':memory:'], { PARLEY_ENV: 'production' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('refusing to start with PARLEY_ENV=production');
  });

  it('rejects unknown options with usage, exit 2', async () => {
    const result = await run('control/dev/libsql-server/cli.ts', ['--host', '0.0.0.0'], {});
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('usage: npm run libsql:server');
  });
});

describe('db:migrate', () => {
  let local: TestLibsqlServer;
  let scratch: string;

  beforeAll(async () => {
    local = await startTestLibsqlServer();
  });
  afterAll(() => local.close());

  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'parley-db-migrate-'));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('applies migrations one run at a time, reporting only the new ones', async () => {
    // The first migration alone: the fixture's journal cut to its first entry.
    const firstOnly = join(scratch, 'first-only');
    cpSync(FIXTURE_MIGRATIONS, firstOnly, { recursive: true });
    const journalPath = join(firstOnly, 'meta/_journal.json');
    const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: unknown[] };
    writeFileSync(journalPath, JSON.stringify({ ...journal, entries: journal.entries.slice(0, 1) }));

    const env = { LIBSQL_URL: local.url, LIBSQL_AUTH_TOKEN: local.authToken };
    const first = await dbMigrate(['--migrations', firstOnly], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('applied 0000_accounts_and_notes');
    expect(first.stdout).toContain('1 applied, 0 already applied, 1 in');

    const second = await dbMigrate(['--migrations', FIXTURE_MIGRATIONS], env);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).not.toContain('applied 0000');
    expect(second.stdout).toContain('applied 0001_tags');
    expect(second.stdout).toContain('1 applied, 1 already applied, 2 in');
  });

  it('handles a folder with no migrations yet, and the real migrations/ folder', async () => {
    const empty = join(scratch, 'empty');
    mkdirSync(empty);
    const env = { LIBSQL_URL: local.url, LIBSQL_AUTH_TOKEN: local.authToken };
    const result = await dbMigrate(['--migrations', empty], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('no migrations yet');

    const real = await dbMigrate([], env);
    expect(real.code, real.stderr).toBe(0);
    expect(real.stdout).toContain('migrations/ ->');
  });

  it('migrates a file: database directly, with no server', async () => {
    const url = `file:${join(scratch, 'direct.db')}`;
    const result = await dbMigrate(['--migrations', FIXTURE_MIGRATIONS], { LIBSQL_URL: url });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('2 applied');
    const client = createClient({ url });
    const tables = await client.execute("SELECT count(*) AS n FROM sqlite_master WHERE name LIKE 'fixture_%' AND type = 'table'");
    expect(tables.rows[0]?.n).toBe(3);
    client.close();
  });

  it('fails clearly: a wrong token, a remote URL without a token, plain http off loopback', async () => {
    const wrong = await dbMigrate(['--migrations', FIXTURE_MIGRATIONS], { LIBSQL_URL: local.url, LIBSQL_AUTH_TOKEN: 'wrong-token' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('401');
    expect(wrong.stderr).not.toContain('wrong-token');

    const noToken = await dbMigrate([], { LIBSQL_URL: 'libsql://example-db.turso.invalid' });
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain('LIBSQL_AUTH_TOKEN is required');

    const plain = await dbMigrate([], { LIBSQL_URL: 'http://db.example.invalid:8080', LIBSQL_AUTH_TOKEN: 'secret-value' });
    expect(plain.code).toBe(2);
    expect(plain.stderr).toContain('refusing plain http://');
    expect(plain.stderr).not.toContain('secret-value');
  });

  it('reports a failing migration and leaves the database as it was', async () => {
    const broken = join(scratch, 'broken');
    cpSync(FIXTURE_MIGRATIONS, broken, { recursive: true });
    writeFileSync(join(broken, '0001_tags.sql'), 'CREATE TABLE fixture_tags (id INTEGER PRIMARY KEY);\n--> statement-breakpoint\nCREATE TABLE oops (');
    const server = await startTestLibsqlServer();
    try {
      const result = await dbMigrate(['--migrations', broken], { LIBSQL_URL: server.url, LIBSQL_AUTH_TOKEN: server.authToken });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('db:migrate: failed against');
      // One batch: nothing of the run was kept, the first migration included.
      const tables = await server.client().execute("SELECT count(*) AS n FROM sqlite_master WHERE name LIKE 'fixture_%'");
      expect(tables.rows[0]?.n).toBe(0);
    } finally {
      await server.close();
    }
  });
});
