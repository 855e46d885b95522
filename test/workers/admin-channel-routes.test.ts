/**
 * The operator channel routes (/v1/admin/channels…, docs/protocol.md §4.4) inside workerd,
 * against the local libSQL server: success and every documented error, with an operator app key,
 * a `tokens:mint` key (403) and an access token or nothing (401).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestAccount, createTestAppUser, createTestMintingKey, createTestOperatorKey, randomSuffix, type TestAccount } from '../support/test-principals.js';
import { api, describeWithDatabase, workerConfig, workerDatabase, workerDatabaseConfigured, type ApiResponse } from './support/control-api.js';

const db = workerDatabase();
const config = workerConfig();
const MISSING_CHANNEL = 'chn_aaaaaaaaaaaaaaaaaaaaaaaaaa';

let operatorKey: string;
let mintingKey: string;
let someAccount: TestAccount;

beforeAll(async () => {
  if (!workerDatabaseConfigured) return;
  operatorKey = (await createTestOperatorKey(db)).key;
  mintingKey = (await createTestMintingKey(db)).key;
  someAccount = await createTestAccount(db, config);
});

function expectError(response: ApiResponse, status: number, code: string, field?: string): void {
  expect(response.status, response.text).toBe(status);
  expect(response.body.error, response.text).toBe(code);
  if (field !== undefined) expect(response.body.field).toBe(field);
}

async function adminChannel(body: Record<string, unknown> = {}): Promise<{ id: string; createdAt: number }> {
  const response = await api('POST', '/v1/admin/channels', { token: operatorKey, json: { name: `app room ${randomSuffix()}`, ...body } });
  expect(response.status, response.text).toBe(201);
  return response.body;
}

/** 401 without a key, with a garbage key and with an account's access token; 403 with a tokens:mint key. */
async function expectOperatorOnly(method: string, path: string, json?: unknown): Promise<void> {
  const withBody = json === undefined ? {} : { json };
  expectError(await api(method, path, withBody), 401, 'unauthorized');
  expectError(await api(method, path, { ...withBody, token: 'ak_aaaaaaaaaaaaaaaaaaaaaaaaaa.AAAA' }), 401, 'unauthorized');
  expectError(await api(method, path, { ...withBody, token: someAccount.token }), 401, 'unauthorized');
  expectError(await api(method, path, { ...withBody, token: mintingKey }), 403, 'forbidden');
}

describeWithDatabase('POST /v1/admin/channels', () => {
  it('201: an ownerless channel with no members, which app users with a grant can read', async () => {
    const response = await api('POST', '/v1/admin/channels', { token: operatorKey, json: { name: 'Support line', visibility: 'private', memberLimit: 100, region: 'sin' } });
    expect(response.status).toBe(201);
    expect(response.headers.get('location')).toBe(`/v1/admin/channels/${response.body.id}`);
    expect(response.body).toEqual({
      id: expect.stringMatching(/^chn_[a-z2-7]{26}$/),
      name: 'Support line',
      visibility: 'private',
      memberLimit: 100,
      region: 'sin',
      ownerId: null,
      memberCount: 0,
      createdAt: expect.any(Number),
      updatedAt: expect.any(Number),
    });
    const appUser = await createTestAppUser(db, config, [{ channelId: response.body.id, permissions: ['speak', 'listen'] }]);
    const seen = await api('GET', `/v1/channels/${response.body.id}`, { token: appUser.token });
    expect(seen.status).toBe(200);
    expect(seen.body.you).toEqual({ role: null, permissions: ['speak', 'listen'], banned: false });
  });

  it('case 22 for operators too: 400 naming the field; 401; 403', async () => {
    expectError(await api('POST', '/v1/admin/channels', { token: operatorKey, json: { name: 'a\u202Eb' } }), 400, 'validation_failed', 'name');
    expectError(await api('POST', '/v1/admin/channels', { token: operatorKey, json: { name: 'x', extra: 1 } }), 400, 'validation_failed', 'extra');
    await expectOperatorOnly('POST', '/v1/admin/channels', { name: 'x' });
  });
});

describeWithDatabase('GET /v1/admin/channels', () => {
  it('200: every channel, private ones of accounts too, paged oldest first', async () => {
    const privateOne = (await api('POST', '/v1/channels', { token: someAccount.token, json: { name: 'Private of an account' } })).body;
    const ownerless = await adminChannel();
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 1000; pages += 1) {
      const path: string = `/v1/admin/channels?limit=100${cursor === null ? '' : `&cursor=${cursor}`}`;
      const page = await api('GET', path, { token: operatorKey });
      expect(page.status).toBe(200);
      expect(page.body.channels.every((c: Record<string, unknown>) => !('you' in c))).toBe(true);
      seen.push(...page.body.channels.map((c: { id: string }) => c.id));
      cursor = page.body.nextCursor;
      if (cursor === null) break;
    }
    expect(seen).toEqual(expect.arrayContaining([privateOne.id, ownerless.id]));
  });

  it('400 for a bad limit or cursor; 401; 403', async () => {
    expectError(await api('GET', '/v1/admin/channels?limit=0', { token: operatorKey }), 400, 'validation_failed', 'limit');
    expectError(await api('GET', '/v1/admin/channels?cursor=WzFd', { token: operatorKey }), 400, 'validation_failed', 'cursor');
    await expectOperatorOnly('GET', '/v1/admin/channels');
  });
});

describeWithDatabase('GET, PATCH and DELETE /v1/admin/channels/{channelId}', () => {
  it('200 reads and updates any channel; 204 deletes it', async () => {
    const owner = await createTestAccount(db, config);
    const channel = (await api('POST', '/v1/channels', { token: owner.token, json: { name: 'Private' } })).body;
    const read = await api('GET', `/v1/admin/channels/${channel.id}`, { token: operatorKey });
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id: channel.id, ownerId: owner.userId, memberCount: 1 });
    const updated = await api('PATCH', `/v1/admin/channels/${channel.id}`, { token: operatorKey, json: { name: 'Moderated', memberLimit: 3 } });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ name: 'Moderated', memberLimit: 3 });
    expect((await api('DELETE', `/v1/admin/channels/${channel.id}`, { token: operatorKey })).status).toBe(204);
    expectError(await api('GET', `/v1/channels/${channel.id}`, { token: owner.token }), 404, 'not_found');
  });

  it('400; 401; 403; 404; 409 for a limit below the member count', async () => {
    const channel = await adminChannel({ visibility: 'open' });
    await api('POST', `/v1/channels/${channel.id}/join`, { token: someAccount.token });
    for (const method of ['GET', 'DELETE']) {
      expectError(await api(method, '/v1/admin/channels/chn_x', { token: operatorKey }), 400, 'validation_failed', 'channelId');
      expectError(await api(method, `/v1/admin/channels/${MISSING_CHANNEL}`, { token: operatorKey }), 404, 'not_found');
      await expectOperatorOnly(method, `/v1/admin/channels/${channel.id}`);
    }
    expectError(await api('PATCH', `/v1/admin/channels/${channel.id}`, { token: operatorKey, json: { name: '\u200b' } }), 400, 'validation_failed', 'name');
    expectError(await api('PATCH', `/v1/admin/channels/${MISSING_CHANNEL}`, { token: operatorKey, json: { name: 'x' } }), 404, 'not_found');
    await expectOperatorOnly('PATCH', `/v1/admin/channels/${channel.id}`, { name: 'x' });
    await api('POST', `/v1/channels/${channel.id}/join`, { token: (await createTestAccount(db, config)).token });
    expectError(await api('PATCH', `/v1/admin/channels/${channel.id}`, { token: operatorKey, json: { memberLimit: 1 } }), 409, 'conflict', 'memberLimit');
  });
});

describeWithDatabase('members of any channel: GET, PUT and DELETE /v1/admin/channels/{channelId}/members…', () => {
  it('200 lists, 201 adds an admin to an ownerless channel (who may then manage it), 200 changes, 204 removes', async () => {
    const channel = await adminChannel();
    const admin = await createTestAccount(db, config);
    const added = await api('PUT', `/v1/admin/channels/${channel.id}/members/${admin.userId}`, { token: operatorKey, json: { role: 'admin' } });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ userId: admin.userId, role: 'admin', permissions: ['speak', 'listen', 'moderate', 'manage'] });
    // The admin now sees the private channel and manages its members.
    const alice = await createTestAccount(db, config);
    expect((await api('PUT', `/v1/channels/${channel.id}/members/${alice.userId}`, { token: admin.token })).status).toBe(201);
    const changed = await api('PUT', `/v1/admin/channels/${channel.id}/members/${alice.userId}`, { token: operatorKey, json: { permissions: ['listen'] } });
    expect(changed.status).toBe(200);
    expect(changed.body.permissions).toEqual(['listen']);
    const list = await api('GET', `/v1/admin/channels/${channel.id}/members`, { token: operatorKey });
    expect(list.status).toBe(200);
    expect(list.body.members.map((m: { userId: string }) => m.userId).sort()).toEqual([admin.userId, alice.userId].sort());
    expect((await api('DELETE', `/v1/admin/channels/${channel.id}/members/${alice.userId}`, { token: operatorKey })).status).toBe(204);
  });

  it('400; 401; 403 for the owner and for non-operator keys; banned accounts; 404; 409 channel_full', async () => {
    const owner = await createTestAccount(db, config);
    const channel = (await api('POST', '/v1/channels', { token: owner.token, json: { name: 'Owned', memberLimit: 2 } })).body;
    const alice = await createTestAccount(db, config);
    const members = `/v1/admin/channels/${channel.id}/members`;
    expectError(await api('GET', `${members}?limit=x`, { token: operatorKey }), 400, 'validation_failed', 'limit');
    expectError(await api('PUT', `${members}/usr_x`, { token: operatorKey }), 400, 'validation_failed', 'userId');
    expectError(await api('DELETE', `${members}/usr_x`, { token: operatorKey }), 400, 'validation_failed', 'userId');
    await expectOperatorOnly('GET', members);
    await expectOperatorOnly('PUT', `${members}/${alice.userId}`, {});
    await expectOperatorOnly('DELETE', `${members}/${alice.userId}`);
    expectError(await api('PUT', `${members}/${owner.userId}`, { token: operatorKey, json: { role: 'member' } }), 403, 'forbidden');
    expectError(await api('DELETE', `${members}/${owner.userId}`, { token: operatorKey }), 403, 'forbidden');
    const banned = await createTestAccount(db, config);
    await api('PUT', `/v1/admin/channels/${channel.id}/bans/${banned.userId}`, { token: operatorKey });
    expectError(await api('PUT', `${members}/${banned.userId}`, { token: operatorKey }), 403, 'banned');
    expectError(await api('GET', `/v1/admin/channels/${MISSING_CHANNEL}/members`, { token: operatorKey }), 404, 'not_found');
    expectError(await api('PUT', `/v1/admin/channels/${MISSING_CHANNEL}/members/${alice.userId}`, { token: operatorKey }), 404, 'not_found');
    expectError(await api('PUT', `${members}/usr_aaaaaaaaaaaaaaaaaaaaaaaaaa`, { token: operatorKey }), 404, 'not_found', 'userId');
    expectError(await api('DELETE', `${members}/${alice.userId}`, { token: operatorKey }), 404, 'not_found');
    expect((await api('PUT', `${members}/${alice.userId}`, { token: operatorKey })).status).toBe(201);
    expectError(await api('PUT', `${members}/${(await createTestAccount(db, config)).userId}`, { token: operatorKey }), 409, 'channel_full');
  });
});

describeWithDatabase('bans in any channel: GET, PUT and DELETE /v1/admin/channels/{channelId}/bans…', () => {
  it('201 bans an app user from an ownerless channel (its grant no longer helps), 200 again, lists, 204 unbans', async () => {
    const channel = await adminChannel();
    const appUser = await createTestAppUser(db, config, [{ channelId: channel.id, permissions: ['speak', 'listen'] }]);
    const path = `/v1/admin/channels/${channel.id}/bans/${encodeURIComponent(appUser.subject)}`;
    const banned = await api('PUT', path, { token: operatorKey, json: { reason: 'abuse report #12' } });
    expect(banned.status).toBe(201);
    expect(banned.body).toMatchObject({ subject: appUser.subject, reason: 'abuse report #12', bannedBy: expect.stringMatching(/^ak_/) });
    expect((await api('GET', `/v1/channels/${channel.id}`, { token: appUser.token })).body.you).toMatchObject({ banned: true, permissions: [] });
    expect((await api('PUT', path, { token: operatorKey, json: { reason: null } })).status).toBe(200);
    const list = await api('GET', `/v1/admin/channels/${channel.id}/bans`, { token: operatorKey });
    expect(list.body).toEqual({ bans: [expect.objectContaining({ subject: appUser.subject, reason: null })], nextCursor: null });
    expect((await api('DELETE', path, { token: operatorKey })).status).toBe(204);
    expect((await api('GET', `/v1/channels/${channel.id}`, { token: appUser.token })).body.you.banned).toBe(false);
  });

  it('400; 401; 403 for the owner and non-operator keys; 404', async () => {
    const owner = await createTestAccount(db, config);
    const channel = (await api('POST', '/v1/channels', { token: owner.token, json: { name: 'Owned' } })).body;
    const bans = `/v1/admin/channels/${channel.id}/bans`;
    expectError(await api('PUT', `${bans}/someone`, { token: operatorKey }), 400, 'validation_failed', 'subject');
    expectError(await api('PUT', `${bans}/${someAccount.userId}`, { token: operatorKey, json: { reason: '' } }), 400, 'validation_failed', 'reason');
    expectError(await api('GET', `${bans}?cursor=x`, { token: operatorKey }), 400, 'validation_failed', 'cursor');
    expectError(await api('DELETE', `${bans}/someone`, { token: operatorKey }), 400, 'validation_failed', 'subject');
    await expectOperatorOnly('GET', bans);
    await expectOperatorOnly('PUT', `${bans}/${someAccount.userId}`, {});
    await expectOperatorOnly('DELETE', `${bans}/${someAccount.userId}`);
    expectError(await api('PUT', `${bans}/${owner.userId}`, { token: operatorKey }), 403, 'forbidden');
    expectError(await api('GET', `/v1/admin/channels/${MISSING_CHANNEL}/bans`, { token: operatorKey }), 404, 'not_found');
    expectError(await api('PUT', `/v1/admin/channels/${MISSING_CHANNEL}/bans/${someAccount.userId}`, { token: operatorKey }), 404, 'not_found');
    expectError(await api('DELETE', `${bans}/${someAccount.userId}`, { token: operatorKey }), 404, 'not_found');
  });
});

describe('the OpenAPI document', () => {
  it('lists every channel operation with its security scheme', async () => {
    const document = (await api('GET', '/v1/openapi.json')).body as { paths: Record<string, Record<string, { security?: unknown[] }>> };
    const expected: [string, string, string][] = [
      ['post', '/v1/channels', 'accessToken'],
      ['get', '/v1/channels', 'accessToken'],
      ['get', '/v1/channels/{channelId}', 'accessToken'],
      ['patch', '/v1/channels/{channelId}', 'accessToken'],
      ['delete', '/v1/channels/{channelId}', 'accessToken'],
      ['get', '/v1/channels/{channelId}/members', 'accessToken'],
      ['put', '/v1/channels/{channelId}/members/{userId}', 'accessToken'],
      ['delete', '/v1/channels/{channelId}/members/{userId}', 'accessToken'],
      ['post', '/v1/channels/{channelId}/join', 'accessToken'],
      ['post', '/v1/channels/{channelId}/leave', 'accessToken'],
      ['put', '/v1/channels/{channelId}/owner', 'accessToken'],
      ['get', '/v1/channels/{channelId}/bans', 'accessToken'],
      ['put', '/v1/channels/{channelId}/bans/{subject}', 'accessToken'],
      ['delete', '/v1/channels/{channelId}/bans/{subject}', 'accessToken'],
      ['post', '/v1/admin/channels', 'appKey'],
      ['get', '/v1/admin/channels', 'appKey'],
      ['get', '/v1/admin/channels/{channelId}', 'appKey'],
      ['patch', '/v1/admin/channels/{channelId}', 'appKey'],
      ['delete', '/v1/admin/channels/{channelId}', 'appKey'],
      ['get', '/v1/admin/channels/{channelId}/members', 'appKey'],
      ['put', '/v1/admin/channels/{channelId}/members/{userId}', 'appKey'],
      ['delete', '/v1/admin/channels/{channelId}/members/{userId}', 'appKey'],
      ['get', '/v1/admin/channels/{channelId}/bans', 'appKey'],
      ['put', '/v1/admin/channels/{channelId}/bans/{subject}', 'appKey'],
      ['delete', '/v1/admin/channels/{channelId}/bans/{subject}', 'appKey'],
    ];
    for (const [method, path, scheme] of expected) {
      const operation = document.paths[path]?.[method];
      expect(operation, `${method} ${path}`).toBeDefined();
      expect(operation!.security, `${method} ${path}`).toEqual([{ [scheme]: [] }]);
    }
    const channelPaths = Object.entries(document.paths)
      // The voice socket (§5) authenticates in its first message, not by a scheme: voice-room.test.ts.
      .filter(([path]) => (path.startsWith('/v1/channels') || path.startsWith('/v1/admin/channels')) && !path.endsWith('/voice'))
      .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method} ${path}`));
    expect(channelPaths.sort()).toEqual(expected.map(([m, p]) => `${m} ${p}`).sort());
  });
});
