/**
 * /v1/admin/app-keys inside workerd against the local libSQL server: operators create, list
 * and revoke app keys; the key is shown once and never listed; revocation is immediate.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { IssuedAppKey } from '../../control/src/auth/app-keys.js';
import { createAppKey, describeWithDatabase, errorOf, jsonRequest, workerFetch } from './support/control-fixtures.js';

describeWithDatabase('admin app keys (database)', () => {
  let operator: IssuedAppKey;
  let minter: IssuedAppKey;

  beforeAll(async () => {
    operator = await createAppKey(['operator'], 'ops');
    minter = await createAppKey(['tokens:mint']);
  });

  function create(body: unknown, key: string | null = operator.key) {
    return workerFetch('/v1/admin/app-keys', jsonRequest('POST', body, key ?? undefined));
  }

  function list(key: string | null = operator.key) {
    return workerFetch('/v1/admin/app-keys', { headers: key === null ? {} : { authorization: `Bearer ${key}` } });
  }

  function revoke(id: string, key: string | null = operator.key) {
    return workerFetch(`/v1/admin/app-keys/${id}`, { method: 'DELETE', headers: key === null ? {} : { authorization: `Bearer ${key}` } });
  }

  interface ListedKey {
    appKeyId: string;
    name: string;
    scopes: string[];
    createdAt: number;
    createdBy: string;
    revokedAt: number | null;
  }

  async function listed(id: string): Promise<ListedKey | undefined> {
    const response = await list();
    expect(response.status).toBe(200);
    const body = (await response.json()) as { appKeys: ListedKey[] };
    return body.appKeys.find((k) => k.appKeyId === id);
  }

  describe('POST /v1/admin/app-keys', () => {
    it('creates a key and shows it once: 201 with <id>.<secret>', async () => {
      const response = await create({ name: 'chat-app production', scopes: ['tokens:mint'] });
      expect(response.status).toBe(201);
      expect(response.headers.get('cache-control')).toBe('no-store');
      const body = (await response.json()) as { appKeyId: string; name: string; scopes: string[]; createdAt: number; key: string };
      expect(body.appKeyId).toMatch(/^ak_[a-z2-7]{26}$/);
      expect(body.key).toMatch(new RegExp(`^${body.appKeyId}\\.[A-Za-z0-9_-]{43}$`));
      expect(body).toMatchObject({ name: 'chat-app production', scopes: ['tokens:mint'] });
      // The new key works at once, within its scope only.
      const minted = await workerFetch('/v1/tokens', jsonRequest('POST', { userId: 'u1', displayName: 'U', grants: [{ channelId: '*', permissions: ['listen'] }] }, body.key));
      expect(minted.status).toBe(201);
      expect((await list(body.key)).status).toBe(403);
      expect(await listed(body.appKeyId)).toEqual({ appKeyId: body.appKeyId, name: 'chat-app production', scopes: ['tokens:mint'], createdAt: body.createdAt, createdBy: operator.appKeyId, revokedAt: null });
    });

    it('an operator key can create another operator key, with both scopes', async () => {
      const response = await create({ name: 'ops 2', scopes: ['operator', 'tokens:mint'] });
      expect(response.status).toBe(201);
      const { key } = (await response.json()) as { key: string };
      expect((await list(key)).status).toBe(200);
    });

    it('the name is NFKC-normalised', async () => {
      const response = await create({ name: 'ＡＰＰ', scopes: ['tokens:mint'] });
      expect(((await response.json()) as { name: string }).name).toBe('APP');
    });

    it('validation errors name the field', async () => {
      const cases: [unknown, string][] = [
        [{ scopes: ['operator'] }, 'name'],
        [{ name: '', scopes: ['operator'] }, 'name'],
        [{ name: 'x'.repeat(65), scopes: ['operator'] }, 'name'],
        [{ name: 'tab\there', scopes: ['operator'] }, 'name'],
        [{ name: 'ok' }, 'scopes'],
        [{ name: 'ok', scopes: [] }, 'scopes'],
        [{ name: 'ok', scopes: ['root'] }, 'scopes[0]'],
        [{ name: 'ok', scopes: ['operator', 'operator'] }, 'scopes[1]'],
        [{ name: 'ok', scopes: 'operator' }, 'scopes'],
        [{ name: 'ok', scopes: ['operator'], secret: 'mine' }, 'secret'],
      ];
      for (const [body, field] of cases) {
        const response = await create(body);
        expect(response.status, JSON.stringify(body)).toBe(400);
        expect(await errorOf(response)).toMatchObject({ error: 'validation_failed', field });
      }
    });

    it('needs an operator key: 401 without a valid one, 403 for a tokens:mint key', async () => {
      const none = await create({ name: 'x', scopes: ['operator'] }, null);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="parley"');
      expect((await create({ name: 'x', scopes: ['operator'] }, `${operator.appKeyId}.${'A'.repeat(43)}`)).status).toBe(401);
      const forbidden = await create({ name: 'x', scopes: ['operator'] }, minter.key);
      expect(forbidden.status).toBe(403);
      expect((await errorOf(forbidden)).error).toBe('forbidden');
    });
  });

  describe('GET /v1/admin/app-keys', () => {
    it('lists keys without any secret or hash', async () => {
      const created = (await (await create({ name: 'listed', scopes: ['tokens:mint'] })).json()) as { appKeyId: string; key: string };
      const response = await list();
      expect(response.status).toBe(200);
      const text = await response.text();
      const secret = created.key.split('.')[1]!;
      expect(text).not.toContain(secret);
      expect(text).not.toMatch(/secret|hash|"key"/i);
      const keys = (JSON.parse(text) as { appKeys: ListedKey[] }).appKeys;
      expect(keys.some((k) => k.appKeyId === created.appKeyId)).toBe(true);
      for (const key of keys) expect(Object.keys(key).sort()).toEqual(['appKeyId', 'createdAt', 'createdBy', 'name', 'revokedAt', 'scopes']);
    });

    it('needs an operator key', async () => {
      expect((await list(null)).status).toBe(401);
      expect((await list(minter.key)).status).toBe(403);
    });
  });

  describe('DELETE /v1/admin/app-keys/{id}', () => {
    it('revokes at once; revoking again keeps the first time; the key is listed as revoked', async () => {
      const created = (await (await create({ name: 'to revoke', scopes: ['operator'] })).json()) as { appKeyId: string; key: string };
      expect((await list(created.key)).status).toBe(200);
      const response = await revoke(created.appKeyId);
      expect(response.status).toBe(204);
      expect(await response.text()).toBe('');
      expect((await list(created.key)).status).toBe(401);
      const first = (await listed(created.appKeyId))!.revokedAt;
      expect(first).toEqual(expect.any(Number));
      expect((await revoke(created.appKeyId)).status).toBe(204);
      expect((await listed(created.appKeyId))!.revokedAt).toBe(first);
    });

    it('an operator key can revoke itself; the request that does it still completes', async () => {
      const created = (await (await create({ name: 'self', scopes: ['operator'] })).json()) as { appKeyId: string; key: string };
      expect((await revoke(created.appKeyId, created.key)).status).toBe(204);
      expect((await list(created.key)).status).toBe(401);
    });

    it('unknown id → 404, malformed id → 400 naming it, wrong scope → 403', async () => {
      const unknown = await revoke('ak_aaaaaaaaaaaaaaaaaaaaaaaaaa');
      expect(unknown.status).toBe(404);
      expect((await errorOf(unknown)).error).toBe('not_found');
      const malformed = await revoke('not-a-key');
      expect(malformed.status).toBe(400);
      expect(await errorOf(malformed)).toMatchObject({ error: 'validation_failed', field: 'id' });
      expect((await revoke(minter.appKeyId, minter.key)).status).toBe(403);
      expect((await revoke(minter.appKeyId, null)).status).toBe(401);
      // The refused attempts changed nothing.
      expect((await listed(minter.appKeyId))!.revokedAt).toBeNull();
    });
  });
});
