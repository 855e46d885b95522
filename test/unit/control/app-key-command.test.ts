/**
 * `npm run admin:create-key`'s command, on a migrated `file:` database: it creates a working
 * key through issueAppKey, prints only the key on stdout, and refuses bad arguments and an
 * unmigrated database without writing anything.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAppKeyCommand } from '../../../control/dev/app-key-command.js';
import { authenticateAppKey, listAppKeys } from '../../../control/src/auth/app-keys.js';
import { openMigratedTestDatabase, type TestDatabase } from '../../support/control-database.js';

let dir: string;
let url: string;
let database: TestDatabase;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'parley-create-key-'));
  url = `file:${join(dir, 'control.db')}`;
  database = await openMigratedTestDatabase(url);
});

afterEach(() => {
  database.close();
  rmSync(dir, { recursive: true, force: true });
});

async function run(argv: string[], environment: Record<string, string | undefined> = { LIBSQL_URL: url }) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await createAppKeyCommand(argv, environment, { stdout: (t) => out.push(t), stderr: (t) => err.push(t) }, 1_760_000_000_000);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

describe('admin:create-key', () => {
  it('creates a bootstrap key and prints only the key on stdout', async () => {
    const result = await run(['--name', 'ops', '--scope', 'operator']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ak_[a-z2-7]{26}\.[A-Za-z0-9_-]{43}\n$/);
    const key = result.stdout.trim();
    expect(result.stderr).toContain(key.split('.')[0]);
    expect(result.stderr).not.toContain(key.split('.')[1]);
    expect(await authenticateAppKey(database.db, key)).toMatchObject({ name: 'ops', scopes: ['operator'] });
    expect(await listAppKeys(database.db)).toEqual([expect.objectContaining({ createdBy: 'bootstrap', createdAt: 1_760_000_000_000 })]);
  });

  it('takes several scopes and normalises the name', async () => {
    const result = await run(['--name', 'ＯＰＳ', '--scope', 'operator', '--scope', 'tokens:mint']);
    expect(result.code).toBe(0);
    expect(await authenticateAppKey(database.db, result.stdout.trim())).toMatchObject({ name: 'OPS', scopes: ['operator', 'tokens:mint'] });
  });

  it.each([
    [[], '--name is required'],
    [['--name', 'ops'], 'at least one --scope'],
    [['--name', '', '--scope', 'operator'], '--name must be 1 to 64 characters'],
    [['--name', 'ops', '--scope', 'root'], '--scope must be one of tokens:mint, operator'],
    [['--name', 'ops', '--scope', 'operator', '--scope', 'operator'], 'once'],
    [['--name', 'ops', '--scope', 'operator', '--other'], 'Unknown option'],
  ])('refuses %j with exit code 2, writing nothing', async (argv, message) => {
    const result = await run(argv);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(message);
    expect(await listAppKeys(database.db)).toEqual([]);
  });

  it('refuses plain http to another machine, and an unmigrated database', async () => {
    const http = await run(['--name', 'ops', '--scope', 'operator'], { LIBSQL_URL: 'http://db.example.com', LIBSQL_AUTH_TOKEN: 'secret-token-value' });
    expect(http.code).toBe(2);
    expect(http.stderr).not.toContain('secret-token-value');
    const empty = `file:${join(dir, 'empty.db')}`;
    const unmigrated = await run(['--name', 'ops', '--scope', 'operator'], { LIBSQL_URL: empty });
    expect(unmigrated.code).toBe(1);
    expect(unmigrated.stderr).toContain('npm run db:migrate');
    const client = createClient({ url: empty });
    try {
      expect((await client.execute("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'")).rows[0]!['n']).toBe(0);
    } finally {
      client.close();
    }
  });

  it('--help prints the usage', async () => {
    const result = await run(['--help']);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('usage: npm run admin:create-key');
  });
});
