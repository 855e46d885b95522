/**
 * App keys and minted tokens, data access on the real libSQL engine (in memory and on a file):
 * issue, authenticate, list without secrets, revoke at once (idempotently), and mint tokens
 * only for channels that exist.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { accessTokenKeys, verifyAccessToken } from '../../../control/src/auth/access-tokens.js';
import { authenticateAppKey, issueAppKey, listAppKeys, revokeAppKey } from '../../../control/src/auth/app-keys.js';
import { mintAppUserToken } from '../../../control/src/auth/app-tokens.js';
import { isAppKeyLive } from '../../../control/src/auth/live-sessions.js';
import { loadControlConfig } from '../../../control/src/config.js';
import { channels } from '../../../control/src/db/schema.js';
import { ApiError } from '../../../control/src/http/errors.js';
import { openMigratedTestDatabase, type TestDatabase } from '../../support/control-database.js';

const NOW = 1_760_000_000_000;
const config = loadControlConfig({ PARLEY_ENV: 'test', LIBSQL_URL: 'http://127.0.0.1:9/' });

for (const storage of ['memory', 'file'] as const) {
  describe(`app keys (${storage})`, () => {
    let database: TestDatabase;
    let dir: string | undefined;

    beforeEach(async () => {
      if (storage === 'file') dir = mkdtempSync(join(tmpdir(), 'parley-app-keys-'));
      database = await openMigratedTestDatabase(dir === undefined ? ':memory:' : `file:${join(dir, 'control.db')}`);
    });

    afterEach(() => {
      database.close();
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    });

    it('lists keys oldest first, with who created them, never the key or its hash', async () => {
      const first = await issueAppKey(database.db, { name: 'ops', scopes: ['operator'], createdBy: 'bootstrap', now: NOW });
      const second = await issueAppKey(database.db, { name: 'app', scopes: ['tokens:mint'], createdBy: first.appKeyId, now: NOW + 1 });
      const listed = await listAppKeys(database.db);
      expect(listed).toEqual([
        { appKeyId: first.appKeyId, name: 'ops', scopes: ['operator'], createdAt: NOW, createdBy: 'bootstrap', revokedAt: null },
        { appKeyId: second.appKeyId, name: 'app', scopes: ['tokens:mint'], createdAt: NOW + 1, createdBy: first.appKeyId, revokedAt: null },
      ]);
      expect(JSON.stringify(listed)).not.toContain(first.key.split('.')[1]);
    });

    it('revocation is immediate and idempotent, and names the sid it ended', async () => {
      const key = await issueAppKey(database.db, { name: 'app', scopes: ['tokens:mint'], createdBy: 'bootstrap', now: NOW });
      expect(await authenticateAppKey(database.db, key.key)).toMatchObject({ appKeyId: key.appKeyId });
      expect(await revokeAppKey(database.db, key.appKeyId, NOW + 5)).toEqual({ found: true, revokedAt: NOW + 5, endedSessionIds: [key.appKeyId] });
      expect(await authenticateAppKey(database.db, key.key)).toBeNull();
      expect(await isAppKeyLive(database.db, key.appKeyId)).toBe(false);
      expect(await revokeAppKey(database.db, key.appKeyId, NOW + 9)).toEqual({ found: true, revokedAt: NOW + 5, endedSessionIds: [key.appKeyId] });
      expect((await listAppKeys(database.db))[0]!.revokedAt).toBe(NOW + 5);
    });

    it('revoking an unknown key finds nothing', async () => {
      expect(await revokeAppKey(database.db, 'ak_aaaaaaaaaaaaaaaaaaaaaaaaaa', NOW)).toEqual({ found: false });
    });

    it('mints a token for existing channels and "*", naming the first missing channel', async () => {
      const key = await issueAppKey(database.db, { name: 'app', scopes: ['tokens:mint'], createdBy: 'bootstrap', now: NOW });
      const channelId = 'chn_bbbbbbbbbbbbbbbbbbbbbbbbbb';
      await database.db.insert(channels).values({ id: channelId, name: 'general', visibility: 'open', ownerId: null, memberLimit: 50, region: null, createdAt: NOW, updatedAt: NOW });
      const keys = await accessTokenKeys(config);
      const input = { appKeyId: key.appKeyId, externalUserId: 'user-1', displayName: 'User One', ttlMs: 120_000, now: NOW };
      const grants = [
        { channelId: '*', permissions: ['listen' as const] },
        { channelId, permissions: ['speak' as const, 'listen' as const] },
      ];
      const signed = await mintAppUserToken(database.db, keys, { ...input, grants });
      expect(signed.expiresAt).toBe(NOW + 120_000);
      expect(await verifyAccessToken(keys, signed.token, NOW)).toMatchObject({ kind: 'app_user', subject: `${key.appKeyId}:user-1`, sessionId: key.appKeyId, grants });

      const missing = [...grants, { channelId: 'chn_cccccccccccccccccccccccccc', permissions: ['listen' as const] }];
      const error = await mintAppUserToken(database.db, keys, { ...input, grants: missing }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ApiError);
      expect(error).toMatchObject({ code: 'validation_failed', field: 'grants[2].channelId' });
    });

    it('two tokens minted in the same millisecond differ (fresh jti)', async () => {
      const keys = await accessTokenKeys(config);
      const input = { appKeyId: 'ak_dddddddddddddddddddddddddd', externalUserId: 'u', displayName: 'U', grants: [{ channelId: '*', permissions: ['listen' as const] }], ttlMs: 60_000, now: NOW };
      const a = await mintAppUserToken(database.db, keys, input);
      const b = await mintAppUserToken(database.db, keys, input);
      expect(a.token).not.toBe(b.token);
    });
  });
}
