/**
 * POST /v1/tokens inside workerd against the local libSQL server: an app's server mints access
 * tokens for its users with an app key, every validation error names its field, and scopes and
 * revocation are enforced.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { accessTokenKeys, verifyAccessToken } from '../../control/src/auth/access-tokens.js';
import type { IssuedAppKey } from '../../control/src/auth/app-keys.js';
import { createControlApp } from '../../control/src/app.js';
import { requireAccessToken } from '../../control/src/http/authenticate.js';
import { createAppKey, createChannel, describeWithDatabase, errorOf, jsonRequest, workerConfig, workerFetch } from './support/control-fixtures.js';

describeWithDatabase('app tokens (database)', () => {
  let mintKey: IssuedAppKey;
  let operatorKey: IssuedAppKey;
  let channelA: string;
  let channelB: string;

  beforeAll(async () => {
    mintKey = await createAppKey(['tokens:mint']);
    operatorKey = await createAppKey(['operator']);
    channelA = await createChannel();
    channelB = await createChannel();
  });

  function mint(body: unknown, key: string | null = mintKey.key, init: { contentType?: string } = {}) {
    return workerFetch('/v1/tokens', jsonRequest('POST', body, key ?? undefined, init.contentType === undefined ? {} : { 'content-type': init.contentType }));
  }

  function validBody(overrides: Record<string, unknown> = {}) {
    return { userId: 'user-4821', displayName: 'Ada Lovelace', grants: [{ channelId: channelA, permissions: ['speak', 'listen'] }], ...overrides };
  }

  async function verify(token: string) {
    return verifyAccessToken(await accessTokenKeys(workerConfig()), token, Date.now());
  }

  async function expectInvalid(body: unknown, field: string): Promise<string> {
    const response = await mint(body);
    expect(response.status, field).toBe(400);
    const error = await errorOf(response);
    expect(error, JSON.stringify(body).slice(0, 200)).toMatchObject({ error: 'validation_failed', field });
    expect(error.message.startsWith(`${field}: `)).toBe(true);
    return error.message;
  }

  describe('POST /v1/tokens', () => {
    it('mints an app_user token: sub <appKeyId>:<userId>, sid = the app key, the grants and the name', async () => {
      const response = await mint(validBody({ grants: [{ channelId: channelA, permissions: ['speak', 'listen'] }, { channelId: channelB, permissions: ['listen'] }] }));
      expect(response.status).toBe(201);
      expect(response.headers.get('cache-control')).toBe('no-store');
      const body = (await response.json()) as { accessToken: string; tokenType: string; expiresAt: number; expiresIn: number };
      expect(body.tokenType).toBe('Bearer');
      expect(body.expiresIn).toBe(900);
      const principal = await verify(body.accessToken);
      expect(principal).toMatchObject({
        kind: 'app_user',
        subject: `${mintKey.appKeyId}:user-4821`,
        appKeyId: mintKey.appKeyId,
        externalUserId: 'user-4821',
        displayName: 'Ada Lovelace',
        sessionId: mintKey.appKeyId,
        expiresAt: body.expiresAt,
        grants: [
          { channelId: channelA, permissions: ['speak', 'listen'] },
          { channelId: channelB, permissions: ['listen'] },
        ],
      });
    });

    it('"*" grants every channel without a lookup; ttlSeconds sets the lifetime', async () => {
      const response = await mint(validBody({ grants: [{ channelId: '*', permissions: ['listen'] }], ttlSeconds: 60 }));
      expect(response.status).toBe(201);
      const body = (await response.json()) as { accessToken: string; expiresAt: number; expiresIn: number };
      expect(body.expiresIn).toBe(60);
      const principal = await verify(body.accessToken);
      expect(principal).toMatchObject({ grants: [{ channelId: '*', permissions: ['listen'] }] });
      const [, payload] = body.accessToken.split('.');
      const claims = JSON.parse(atob(payload!.replace(/-/g, '+').replace(/_/g, '/'))) as { iat: number; exp: number };
      expect(claims.exp - claims.iat).toBe(60);
      expect(body.expiresAt).toBe(claims.exp * 1000);
    });

    it('the display name is NFKC-normalised; the user id allows . _ @ -', async () => {
      const response = await mint(validBody({ userId: 'a.b_c@d-e', displayName: 'Ｆｕｌｌ\u00a0Width ﬁ' }));
      expect(response.status).toBe(201);
      const principal = await verify(((await response.json()) as { accessToken: string }).accessToken);
      expect(principal).toMatchObject({ externalUserId: 'a.b_c@d-e', displayName: 'Full Width fi' });
    });

    it('an operator key may mint too (operator implies every scope)', async () => {
      expect((await mint(validBody(), operatorKey.key)).status).toBe(201);
    });

    it('the largest token (32 grants, 64-character names) fits in an Authorization header', async () => {
      const grants = [{ channelId: '*', permissions: ['speak', 'listen', 'moderate', 'manage'] }];
      for (let i = 0; i < 31; i++) grants.push({ channelId: await createChannel(), permissions: ['speak', 'listen', 'moderate', 'manage'] });
      const response = await mint(validBody({ userId: 'u'.repeat(64), displayName: '字'.repeat(64), grants }));
      expect(response.status).toBe(201);
      const { accessToken } = (await response.json()) as { accessToken: string };
      expect(accessToken.length).toBeLessThan(8192);
      expect((await verify(accessToken)).kind).toBe('app_user');
    });

    describe('validation: every error names its field', () => {
      it('userId', async () => {
        await expectInvalid({ displayName: 'x', grants: validBody().grants }, 'userId');
        for (const userId of ['', 'u'.repeat(65), 'has space', 'semi;colon', 'ü', 'a:b', 42, null]) await expectInvalid(validBody({ userId }), 'userId');
      });

      it('displayName', async () => {
        await expectInvalid({ userId: 'u', grants: validBody().grants }, 'displayName');
        for (const displayName of ['', 'x'.repeat(65), 'ﷺ'.repeat(4), 'x'.repeat(257), 'bell\u0007', 'rtl\u202eoverride', 'zero\u200bwidth', 'line\u2028sep', ' leading', 'trailing ', 'private\ue000', 'lone\ud800', 7]) {
          await expectInvalid(validBody({ displayName }), 'displayName');
        }
        expect(await expectInvalid(validBody({ displayName: 'rtl\u202e' }), 'displayName')).toBe('displayName: must not contain control, format or unassigned characters.');
      });

      it('grants', async () => {
        await expectInvalid({ userId: 'u', displayName: 'x' }, 'grants');
        await expectInvalid(validBody({ grants: [] }), 'grants');
        await expectInvalid(validBody({ grants: {} }), 'grants');
        await expectInvalid(validBody({ grants: Array.from({ length: 33 }, () => ({ channelId: '*', permissions: ['listen'] })) }), 'grants');
        await expectInvalid(validBody({ grants: [{ channelId: channelA, permissions: ['listen'] }, { channelId: channelA, permissions: ['speak'] }] }), 'grants[1].channelId');
        await expectInvalid(validBody({ grants: [{ channelId: channelA, permissions: ['listen'], extra: 1 }] }), 'grants[0].extra');
        await expectInvalid(validBody({ grants: [{ permissions: ['listen'] }] }), 'grants[0].channelId');
        for (const channelId of ['', 'chn_short', 'CHN_AAAAAAAAAAAAAAAAAAAAAAAAAA', 'usr_aaaaaaaaaaaaaaaaaaaaaaaaaa', '**', 5]) {
          await expectInvalid(validBody({ grants: [{ channelId, permissions: ['listen'] }] }), 'grants[0].channelId');
        }
        await expectInvalid(validBody({ grants: [{ channelId: channelA }] }), 'grants[0].permissions');
        await expectInvalid(validBody({ grants: [{ channelId: channelA, permissions: [] }] }), 'grants[0].permissions');
        await expectInvalid(validBody({ grants: [{ channelId: channelA, permissions: ['fly'] }] }), 'grants[0].permissions[0]');
        await expectInvalid(validBody({ grants: [{ channelId: channelA, permissions: ['listen', 'speak', 'listen'] }] }), 'grants[0].permissions[2]');
        await expectInvalid(validBody({ grants: [{ channelId: channelA, permissions: ['speak', 'listen', 'moderate', 'manage', 'speak'] }] }), 'grants[0].permissions');
      });

      it('a channel that does not exist is named', async () => {
        const message = await expectInvalid(validBody({ grants: [{ channelId: channelA, permissions: ['listen'] }, { channelId: 'chn_aaaaaaaaaaaaaaaaaaaaaaaaaa', permissions: ['listen'] }] }), 'grants[1].channelId');
        expect(message).toBe('grants[1].channelId: no such channel.');
      });

      it('ttlSeconds', async () => {
        for (const ttlSeconds of [9, 0, -1, 1.5, '60', null]) await expectInvalid(validBody({ ttlSeconds }), 'ttlSeconds');
        const message = await expectInvalid(validBody({ ttlSeconds: 3601 }), 'ttlSeconds');
        expect(message).toBe('ttlSeconds: must be at most 3600.');
        expect((await mint(validBody({ ttlSeconds: 3600 }))).status).toBe(201);
      });

      it('unknown fields, a non-object body, bad JSON and another media type', async () => {
        await expectInvalid(validBody({ role: 'admin' }), 'role');
        await expectInvalid([], 'body');
        const badJson = await mint('{"userId":');
        expect(badJson.status).toBe(400);
        expect((await errorOf(badJson)).error).toBe('invalid_json');
        const text = await mint(JSON.stringify(validBody()), mintKey.key, { contentType: 'text/plain' });
        expect(text.status).toBe(415);
        expect((await errorOf(text)).error).toBe('unsupported_media_type');
      });
    });

    describe('authentication and scope', () => {
      it('no key, a malformed key, an unknown key or an access token: 401 with a Bearer challenge, before validation', async () => {
        const unknown = `${mintKey.appKeyId.slice(0, 3)}${'a'.repeat(26)}.${mintKey.key.split('.')[1]}`;
        const wrongSecret = `${mintKey.appKeyId}.${'A'.repeat(43)}`;
        for (const key of [null, 'nonsense', unknown, wrongSecret, 'eyJhbGciOiJFZERTQSJ9.e30.sig']) {
          const response = await mint({ not: 'even valid' }, key);
          expect(response.status, String(key)).toBe(401);
          expect(response.headers.get('www-authenticate')).toBe('Bearer realm="parley"');
          expect(await errorOf(response)).toMatchObject({ error: 'unauthorized' });
        }
      });

      it('a key without tokens:mint is 403 forbidden', async () => {
        // Scopes are checked on the key's row: a key with an unknown scope only has none.
        const noScope = await createAppKey([]);
        const response = await mint(validBody(), noScope.key);
        expect(response.status).toBe(403);
        expect((await errorOf(response)).error).toBe('forbidden');
      });

      it('revoking the key: it stops minting, and the tokens it minted stop verifying, at once', async () => {
        const key = await createAppKey(['tokens:mint']);
        const minted = (await (await mint(validBody(), key.key)).json()) as { accessToken: string };
        const app = createControlApp();
        app.get('/probe', requireAccessToken(), (c) => c.json({ subject: c.var.principal.subject }));
        const probe = () => app.request('/probe', { headers: { authorization: `Bearer ${minted.accessToken}` } }, env);
        const before = await probe();
        expect(before.status).toBe(200);
        expect(await before.json()).toEqual({ subject: `${key.appKeyId}:user-4821` });

        const revoked = await workerFetch(`/v1/admin/app-keys/${key.appKeyId}`, { method: 'DELETE', headers: { authorization: `Bearer ${operatorKey.key}` } });
        expect(revoked.status).toBe(204);
        expect((await mint(validBody(), key.key)).status).toBe(401);
        const after = await probe();
        expect(after.status).toBe(401);
        expect((await errorOf(after)).error).toBe('unauthorized');
        // The token itself is still well signed and unexpired: only liveness ended it.
        expect((await verify(minted.accessToken)).kind).toBe('app_user');
      });
    });
  });
});
