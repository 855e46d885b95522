/**
 * The local stack's operator key (control/dev/local-stack/operator-key.ts) against the real
 * libSQL engine: created once and kept with mode 0600, reused while the database accepts it,
 * replaced when it does not (a new database, a revoked key).
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { authenticateAppKey, revokeAppKey } from '../../../control/src/auth/app-keys.js';
import { ensureOperatorKey, OPERATOR_KEY_FILE } from '../../../control/dev/local-stack/operator-key.js';
import { openMigratedTestDatabase, type TestDatabase } from '../../support/control-database.js';

let stateDir: string;
let database: TestDatabase;

beforeEach(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'parley-operator-key-'));
  database = await openMigratedTestDatabase(`file:${join(stateDir, 'local.db')}`);
});

afterEach(() => {
  database.close();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('ensureOperatorKey', () => {
  it('creates an operator key on the first run and keeps it in a file only its owner can read', async () => {
    const first = await ensureOperatorKey(database.db, stateDir);
    expect(first.created).toBe(true);
    expect(first.file).toBe(join(stateDir, OPERATOR_KEY_FILE));
    expect(readFileSync(first.file, 'utf8')).toBe(`${first.key}\n`);
    expect(statSync(first.file).mode & 0o777).toBe(0o600);
    const caller = await authenticateAppKey(database.db, first.key);
    expect(caller).toMatchObject({ appKeyId: first.appKeyId, scopes: ['operator'] });
  });

  it('reuses the kept key while the database accepts it, and tightens the file mode', async () => {
    const first = await ensureOperatorKey(database.db, stateDir);
    chmodSync(first.file, 0o644);
    const second = await ensureOperatorKey(database.db, stateDir);
    expect(second).toMatchObject({ key: first.key, appKeyId: first.appKeyId, created: false });
    expect(statSync(first.file).mode & 0o777).toBe(0o600);
  });

  it('replaces a kept key the database does not know (a new database) or has revoked', async () => {
    writeFileSync(join(stateDir, OPERATOR_KEY_FILE), 'ak_aaaaaaaaaaaaaaaaaaaaaaaaaa.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n');
    const fresh = await ensureOperatorKey(database.db, stateDir);
    expect(fresh.created).toBe(true);
    expect(await authenticateAppKey(database.db, fresh.key)).not.toBeNull();

    await revokeAppKey(database.db, fresh.appKeyId, Date.now());
    const replaced = await ensureOperatorKey(database.db, stateDir);
    expect(replaced.created).toBe(true);
    expect(replaced.appKeyId).not.toBe(fresh.appKeyId);
    expect(readFileSync(replaced.file, 'utf8')).toBe(`${replaced.key}\n`);
  });
});
