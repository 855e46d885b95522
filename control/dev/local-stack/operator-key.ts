/**
 * The local stack's operator app key: created on the first run, directly in the database with
 * issueAppKey (the same code as `POST /v1/admin/app-keys` and `npm run admin:create-key`), and
 * kept in `<state dir>/operator-app-key` (mode 0600) so later runs, scripts and curl reuse it:
 *
 *   curl -H "Authorization: Bearer $(cat .parley/operator-app-key)" http://127.0.0.1:8787/v1/admin/relays
 *
 * A kept key the database no longer accepts (the database was deleted, or the key revoked) is
 * replaced by a new one. The database holds only the key's hash; the file holds the key.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { authenticateAppKey, issueAppKey, scopeAllows } from '../../src/auth/app-keys.js';
import type { Database } from '../../src/db/client.js';

export const OPERATOR_KEY_FILE = 'operator-app-key';
export const OPERATOR_KEY_NAME = 'local operator (npm start)';

export interface OperatorKey {
  readonly key: string;
  readonly appKeyId: string;
  /** Where it is kept. */
  readonly file: string;
  /** True when this run created it (and the caller may show it once). */
  readonly created: boolean;
}

export async function ensureOperatorKey(db: Database, stateDir: string, now = Date.now()): Promise<OperatorKey> {
  const file = join(stateDir, OPERATOR_KEY_FILE);
  if (existsSync(file)) {
    const kept = readFileSync(file, 'utf8').trim();
    const caller = await authenticateAppKey(db, kept);
    if (caller !== null && scopeAllows(caller.scopes, 'operator')) {
      chmodSync(file, 0o600);
      return { key: kept, appKeyId: caller.appKeyId, file, created: false };
    }
  }
  const issued = await issueAppKey(db, { name: OPERATOR_KEY_NAME, scopes: ['operator'], createdBy: 'bootstrap', now });
  writeFileSync(file, `${issued.key}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { key: issued.key, appKeyId: issued.appKeyId, file, created: true };
}
