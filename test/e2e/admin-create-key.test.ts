/**
 * `npm run -s admin:create-key` as an operator runs it: a real process on a migrated `file:`
 * database; the key on stdout authenticates.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { authenticateAppKey } from '../../control/src/auth/app-keys.js';
import { openMigratedTestDatabase } from '../support/control-database.js';

const run = promisify(execFile);

describe('npm run admin:create-key', () => {
  it('prints a working operator key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-create-key-e2e-'));
    const url = `file:${join(dir, 'control.db')}`;
    const database = await openMigratedTestDatabase(url);
    try {
      const { stdout, stderr } = await run('npm', ['run', '-s', 'admin:create-key', '--', '--name', 'ops', '--scope', 'operator'], {
        env: { ...process.env, LIBSQL_URL: url, LIBSQL_AUTH_TOKEN: '' },
        timeout: 20_000,
      });
      expect(stdout).toMatch(/^ak_[a-z2-7]{26}\.[A-Za-z0-9_-]{43}\n$/);
      expect(stderr).toContain('created ak_');
      expect(await authenticateAppKey(database.db, stdout.trim())).toMatchObject({ name: 'ops', scopes: ['operator'] });
    } finally {
      database.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
