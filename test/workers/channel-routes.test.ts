/**
 * The account channel routes (/v1/channels…, docs/protocol.md §4.4) inside workerd, against the
 * local libSQL server: every route's success and every error it documents, the permission
 * table, the member limit under concurrent joins, and case 22 of ABUSE-CASES.md for channel
 * names (400 naming the field, nothing stored).
 */
import { expect, it } from 'vitest';
import { createTestAccount, createTestAppUser, randomSuffix, type TestAccount } from '../support/test-principals.js';
import { api, describeWithDatabase, workerConfig, workerDatabase, type ApiResponse } from './support/control-api.js';

const db = workerDatabase();
const config = workerConfig();

const MISSING_CHANNEL = 'chn_aaaaaaaaaaaaaaaaaaaaaaaaaa';
const MISSING_USER = 'usr_aaaaaaaaaaaaaaaaaaaaaaaaaa';

interface ChannelBody {
  id: string;
  name: string;
  visibility: 'open' | 'private';
  memberLimit: number;
  region: string | null;
  ownerId: string | null;
  memberCount: number;
  createdAt: number;
  updatedAt: number;
  you: { role: string | null; permissions: string[]; banned: boolean };
}

function expectError(response: ApiResponse, status: number, code: string, field?: string): void {
  expect(response.status, response.text).toBe(status);
  expect(response.body.error, response.text).toBe(code);
  expect(typeof response.body.message).toBe('string');
  if (field !== undefined) expect(response.body.field).toBe(field);
  expect(response.text).not.toMatch(/\bat .*\.(ts|js):\d+/);
  expect(response.headers.get('cache-control')).toBe('no-store');
}

function inCreationOrder<T extends { createdAt: number; id: string }>(items: T[]): T[] {
  return [...items].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

async function account(): Promise<TestAccount> {
  return createTestAccount(db, config);
}

async function newChannel(owner: TestAccount, body: Record<string, unknown> = {}): Promise<ChannelBody> {
  const response = await api<ChannelBody>('POST', '/v1/channels', { token: owner.token, json: { name: `room ${randomSuffix()}`, ...body } });
  expect(response.status, response.text).toBe(201);
  return response.body;
}

async function addMember(manager: TestAccount, channelId: string, userId: string, body: Record<string, unknown> = {}) {
  const response = await api('PUT', `/v1/channels/${channelId}/members/${userId}`, { token: manager.token, json: body });
  expect([200, 201], response.text).toContain(response.status);
  return response.body;
}

async function storedChannelsOwnedBy(userId: string): Promise<number> {
  const result = await db.$client.execute({ sql: 'SELECT count(*) AS n FROM channels WHERE owner_id = ?', args: [userId] });
  return Number(result.rows[0]!['n']);
}

describeWithDatabase('POST /v1/channels', () => {
  it('201: creates a private channel owned by the caller, its first member', async () => {
    const owner = await account();
    const response = await api<ChannelBody>('POST', '/v1/channels', { token: owner.token, json: { name: ' Team　voice ', memberLimit: 10, region: 'fra' } });
    expect(response.status).toBe(201);
    expect(response.headers.get('location')).toBe(`/v1/channels/${response.body.id}`);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.body).toEqual({
      id: expect.stringMatching(/^chn_[a-z2-7]{26}$/),
      name: 'Team voice',
      visibility: 'private',
      memberLimit: 10,
      region: 'fra',
      ownerId: owner.userId,
      memberCount: 1,
      createdAt: expect.any(Number),
      updatedAt: response.body.createdAt,
      you: { role: 'owner', permissions: ['speak', 'listen', 'moderate', 'manage'], banned: false },
    });
  });

  it('case 22: Unicode tricks, oversize and wrong-typed names get 400 naming the field and store nothing', async () => {
    const owner = await account();
    const names: unknown[] = [
      'admin\u202Egnp.exe',
      'ad\u200Bmin',
      'a\u2066b\u2069',
      'line\nbreak',
      'a\u2028b',
      'a\u0000b',
      'a\uD800b',
      `Z${'\u0336'.repeat(20)}`,
      '   ',
      '',
      'x'.repeat(65),
      // Under the 64 KiB body limit (beyond it: 413), far over the name's.
      'x'.repeat(60_000),
      42,
      null,
      ['General'],
    ];
    for (const name of names) {
      const response = await api('POST', '/v1/channels', { token: owner.token, json: { name } });
      expectError(response, 400, 'validation_failed', 'name');
      expect(response.body.message).toMatch(/^name: /);
    }
    const missing = await api('POST', '/v1/channels', { token: owner.token, json: {} });
    expectError(missing, 400, 'validation_failed', 'name');
    expect(await storedChannelsOwnedBy(owner.userId)).toBe(0);
  });

  it('400: malformed JSON, unknown fields, bad visibility, member limit and region; nothing stored', async () => {
    const owner = await account();
    const malformed = await api('POST', '/v1/channels', { token: owner.token, rawBody: '{"name": "x"', headers: { 'Content-Type': 'application/json' } });
    expectError(malformed, 400, 'invalid_json');
    expectError(await api('POST', '/v1/channels', { token: owner.token, json: { name: 'x', owner: 'me' } }), 400, 'validation_failed', 'owner');
    expectError(await api('POST', '/v1/channels', { token: owner.token, json: { name: 'x', visibility: 'secret' } }), 400, 'validation_failed', 'visibility');
    expectError(await api('POST', '/v1/channels', { token: owner.token, json: { name: 'x', memberLimit: 0 } }), 400, 'validation_failed', 'memberLimit');
    expectError(await api('POST', '/v1/channels', { token: owner.token, json: { name: 'x', memberLimit: config.channels.maxMemberLimit + 1 } }), 400, 'validation_failed', 'memberLimit');
    expectError(await api('POST', '/v1/channels', { token: owner.token, json: { name: 'x', memberLimit: 2.5 } }), 400, 'validation_failed', 'memberLimit');
    expectError(await api('POST', '/v1/channels', { token: owner.token, json: { name: 'x', region: 'zzz' } }), 400, 'validation_failed', 'region');
    expect(await storedChannelsOwnedBy(owner.userId)).toBe(0);
  });

  it('401 without a valid token; 403 for an app user', async () => {
    expectError(await api('POST', '/v1/channels', { json: { name: 'x' } }), 401, 'unauthorized');
    expectError(await api('POST', '/v1/channels', { token: 'not-a-token', json: { name: 'x' } }), 401, 'unauthorized');
    const appUser = await createTestAppUser(db, config, [{ channelId: '*', permissions: ['speak', 'listen', 'moderate', 'manage'] }]);
    expectError(await api('POST', '/v1/channels', { token: appUser.token, json: { name: 'x' } }), 403, 'forbidden');
  });
});

describeWithDatabase('GET /v1/channels', () => {
  it('200: membership=member|open|all with the caller\'s standing, paged by cursor, oldest first', async () => {
    const me = await account();
    const other = await account();
    const mine = await newChannel(me);
    const othersOpen = await newChannel(other, { visibility: 'open' });
    const othersPrivate = await newChannel(other);
    const joined = await newChannel(other, { visibility: 'open' });
    expect((await api('POST', `/v1/channels/${joined.id}/join`, { token: me.token })).status).toBe(201);

    // Ordered by (createdAt, id); workerd's clock advances only across I/O, so two channels
    // may share a millisecond and then their ids decide.
    const [firstOfMine, secondOfMine] = inCreationOrder([mine, joined]);
    const members = await api<{ channels: ChannelBody[]; nextCursor: string | null }>('GET', '/v1/channels?membership=member', { token: me.token });
    expect(members.status).toBe(200);
    expect(members.body.channels.map((c) => c.id)).toEqual([firstOfMine!.id, secondOfMine!.id]);
    expect(members.body.channels.map((c) => c.you.role)).toEqual([firstOfMine!.ownerId === me.userId ? 'owner' : 'member', secondOfMine!.ownerId === me.userId ? 'owner' : 'member']);
    expect(members.body.nextCursor).toBeNull();

    // One at a time through the caller's own channels: the cursor carries on where it stopped.
    const first = await api<{ channels: ChannelBody[]; nextCursor: string | null }>('GET', '/v1/channels?membership=member&limit=1', { token: me.token });
    expect(first.body.channels.map((c) => c.id)).toEqual([firstOfMine!.id]);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await api<{ channels: ChannelBody[]; nextCursor: string | null }>('GET', `/v1/channels?membership=member&limit=1&cursor=${first.body.nextCursor}`, {
      token: me.token,
    });
    expect(second.body).toMatchObject({ channels: [{ id: secondOfMine!.id }], nextCursor: null });

    // Every page of "all" (the database is shared with other files, so there may be many open
    // channels): ours appear in creation order, another account's private one never.
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 1000; pages += 1) {
      const path: string = `/v1/channels?limit=100${cursor === null ? '' : `&cursor=${cursor}`}`;
      const page = await api<{ channels: ChannelBody[]; nextCursor: string | null }>('GET', path, { token: me.token });
      expect(page.status).toBe(200);
      seen.push(...page.body.channels.map((c) => c.id));
      cursor = page.body.nextCursor;
      if (cursor === null) break;
    }
    expect(cursor).toBeNull();
    expect(seen).not.toContain(othersPrivate.id);
    const ours = inCreationOrder([mine, othersOpen, joined]).map((c) => c.id);
    expect(seen.filter((id) => ours.includes(id))).toEqual(ours);

    const open = await api<{ channels: ChannelBody[] }>('GET', '/v1/channels?membership=open&limit=100', { token: me.token });
    expect(open.body.channels.every((c) => c.visibility === 'open')).toBe(true);
  });

  it('400 for a bad filter, limit or cursor; 401; 403 for an app user', async () => {
    const me = await account();
    expectError(await api('GET', '/v1/channels?membership=everything', { token: me.token }), 400, 'validation_failed', 'membership');
    expectError(await api('GET', '/v1/channels?limit=0', { token: me.token }), 400, 'validation_failed', 'limit');
    expectError(await api('GET', '/v1/channels?limit=101', { token: me.token }), 400, 'validation_failed', 'limit');
    expectError(await api('GET', '/v1/channels?limit=ten', { token: me.token }), 400, 'validation_failed', 'limit');
    expectError(await api('GET', '/v1/channels?cursor=not-a-cursor', { token: me.token }), 400, 'validation_failed', 'cursor');
    expectError(await api('GET', '/v1/channels'), 401, 'unauthorized');
    const appUser = await createTestAppUser(db, config, [{ channelId: '*', permissions: ['listen'] }]);
    expectError(await api('GET', '/v1/channels', { token: appUser.token }), 403, 'forbidden');
  });
});

describeWithDatabase('GET /v1/channels/{channelId}', () => {
  it('200 for members and, for open channels, anyone; 404 for a private channel exactly like a missing one', async () => {
    const owner = await account();
    const stranger = await account();
    const open = await newChannel(owner, { visibility: 'open' });
    const closed = await newChannel(owner);
    const asStranger = await api<ChannelBody>('GET', `/v1/channels/${open.id}`, { token: stranger.token });
    expect(asStranger.status).toBe(200);
    expect(asStranger.body).toMatchObject({ id: open.id, memberCount: 1, you: { role: null, permissions: [], banned: false } });
    expect((await api('GET', `/v1/channels/${closed.id}`, { token: owner.token })).status).toBe(200);
    const hidden = await api('GET', `/v1/channels/${closed.id}`, { token: stranger.token });
    const missing = await api('GET', `/v1/channels/${MISSING_CHANNEL}`, { token: stranger.token });
    expectError(hidden, 404, 'not_found');
    expect(hidden.body).toEqual(missing.body);
  });

  it('app users: 200 with a grant for the channel or "*", 404 without one', async () => {
    const owner = await account();
    const closed = await newChannel(owner);
    const open = await newChannel(owner, { visibility: 'open' });
    const granted = await createTestAppUser(db, config, [{ channelId: closed.id, permissions: ['listen'] }]);
    const response = await api<ChannelBody>('GET', `/v1/channels/${closed.id}`, { token: granted.token });
    expect(response.status).toBe(200);
    expect(response.body.you).toEqual({ role: null, permissions: ['listen'], banned: false });
    expectError(await api('GET', `/v1/channels/${open.id}`, { token: granted.token }), 404, 'not_found');
    const everywhere = await createTestAppUser(db, config, [{ channelId: '*', permissions: ['speak', 'listen'] }]);
    expect((await api('GET', `/v1/channels/${open.id}`, { token: everywhere.token })).status).toBe(200);
  });

  it('400 for a malformed id; 401', async () => {
    const me = await account();
    expectError(await api('GET', '/v1/channels/chn_short', { token: me.token }), 400, 'validation_failed', 'channelId');
    expectError(await api('GET', '/v1/channels/usr_aaaaaaaaaaaaaaaaaaaaaaaaaa', { token: me.token }), 400, 'validation_failed', 'channelId');
    expectError(await api('GET', `/v1/channels/${MISSING_CHANNEL}`), 401, 'unauthorized');
  });
});

describeWithDatabase('PATCH /v1/channels/{channelId}', () => {
  it('200: renames and reconfigures with manage', async () => {
    const owner = await account();
    const channel = await newChannel(owner, { region: 'ams' });
    const response = await api<ChannelBody>('PATCH', `/v1/channels/${channel.id}`, {
      token: owner.token,
      json: { name: 'Ｒｅｎａｍｅｄ', visibility: 'open', memberLimit: 5, region: null },
    });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ name: 'Renamed', visibility: 'open', memberLimit: 5, region: null, createdAt: channel.createdAt });
    expect(response.body.updatedAt).toBeGreaterThanOrEqual(channel.updatedAt);
  });

  it('400: empty body, a name trick, unknown field; nothing changed', async () => {
    const owner = await account();
    const channel = await newChannel(owner, { name: 'Stable' });
    expectError(await api('PATCH', `/v1/channels/${channel.id}`, { token: owner.token, json: {} }), 400, 'validation_failed', 'body');
    expectError(await api('PATCH', `/v1/channels/${channel.id}`, { token: owner.token, json: { name: 'a\u202Eb' } }), 400, 'validation_failed', 'name');
    expectError(await api('PATCH', `/v1/channels/${channel.id}`, { token: owner.token, json: { ownerId: owner.userId } }), 400, 'validation_failed', 'ownerId');
    expectError(await api('PATCH', `/v1/channels/${channel.id}`, { token: owner.token, json: { region: 'nowhere' } }), 400, 'validation_failed', 'region');
    expect((await api<ChannelBody>('GET', `/v1/channels/${channel.id}`, { token: owner.token })).body.name).toBe('Stable');
  });

  it('401; 403 without manage, for a banned account and for app users; 404 for strangers of a private channel; 409 below the member count', async () => {
    const owner = await account();
    const member = await account();
    const stranger = await account();
    const channel = await newChannel(owner, { visibility: 'open' });
    await api('POST', `/v1/channels/${channel.id}/join`, { token: member.token });
    expectError(await api('PATCH', `/v1/channels/${channel.id}`, { json: { name: 'x' } }), 401, 'unauthorized');
    expectError(await api('PATCH', `/v1/channels/${channel.id}`, { token: member.token, json: { name: 'x' } }), 403, 'forbidden');
    await api('PUT', `/v1/channels/${channel.id}/bans/${stranger.userId}`, { token: owner.token });
    expectError(await api('PATCH', `/v1/channels/${channel.id}`, { token: stranger.token, json: { name: 'x' } }), 403, 'banned');
    const appUser = await createTestAppUser(db, config, [{ channelId: channel.id, permissions: ['manage'] }]);
    expectError(await api('PATCH', `/v1/channels/${channel.id}`, { token: appUser.token, json: { name: 'x' } }), 403, 'forbidden');
    const closed = await newChannel(owner);
    expectError(await api('PATCH', `/v1/channels/${closed.id}`, { token: stranger.token, json: { name: 'x' } }), 404, 'not_found');
    expectError(await api('PATCH', `/v1/channels/${MISSING_CHANNEL}`, { token: owner.token, json: { name: 'x' } }), 404, 'not_found');
    expectError(await api('PATCH', `/v1/channels/${channel.id}`, { token: owner.token, json: { memberLimit: 1 } }), 409, 'conflict', 'memberLimit');
  });
});

describeWithDatabase('DELETE /v1/channels/{channelId}', () => {
  it('204 for the owner: the channel, its members and bans are gone', async () => {
    const owner = await account();
    const member = await account();
    const channel = await newChannel(owner, { visibility: 'open' });
    await api('POST', `/v1/channels/${channel.id}/join`, { token: member.token });
    await api('PUT', `/v1/channels/${channel.id}/bans/${MISSING_USER}`, { token: owner.token });
    const response = await api('DELETE', `/v1/channels/${channel.id}`, { token: owner.token });
    expect(response.status).toBe(204);
    expect(response.text).toBe('');
    expectError(await api('GET', `/v1/channels/${channel.id}`, { token: owner.token }), 404, 'not_found');
    for (const table of ['channel_members', 'channel_bans']) {
      const rows = await db.$client.execute({ sql: `SELECT count(*) AS n FROM ${table} WHERE channel_id = ?`, args: [channel.id] });
      expect(Number(rows.rows[0]!['n']), table).toBe(0);
    }
  });

  it('400; 401; 403 for members and admins and app users; 404 for strangers and missing channels', async () => {
    const owner = await account();
    const admin = await account();
    const stranger = await account();
    const channel = await newChannel(owner);
    await addMember(owner, channel.id, admin.userId, { role: 'admin' });
    expectError(await api('DELETE', '/v1/channels/nope', { token: owner.token }), 400, 'validation_failed', 'channelId');
    expectError(await api('DELETE', `/v1/channels/${channel.id}`), 401, 'unauthorized');
    expectError(await api('DELETE', `/v1/channels/${channel.id}`, { token: admin.token }), 403, 'forbidden');
    const appUser = await createTestAppUser(db, config, [{ channelId: '*', permissions: ['manage'] }]);
    expectError(await api('DELETE', `/v1/channels/${channel.id}`, { token: appUser.token }), 403, 'forbidden');
    expectError(await api('DELETE', `/v1/channels/${channel.id}`, { token: stranger.token }), 404, 'not_found');
    expectError(await api('DELETE', `/v1/channels/${MISSING_CHANNEL}`, { token: owner.token }), 404, 'not_found');
    expect((await api('GET', `/v1/channels/${channel.id}`, { token: owner.token })).status).toBe(200);
  });
});

describeWithDatabase('GET /v1/channels/{channelId}/members', () => {
  it('200 for members, in join order, paged', async () => {
    const owner = await account();
    const a = await account();
    const b = await account();
    const channel = await newChannel(owner, { visibility: 'open' });
    await api('POST', `/v1/channels/${channel.id}/join`, { token: a.token });
    await api('POST', `/v1/channels/${channel.id}/join`, { token: b.token });
    const first = await api<{ members: { userId: string; username: string; role: string; permissions: string[]; joinedAt: number }[]; nextCursor: string | null }>(
      'GET',
      `/v1/channels/${channel.id}/members?limit=2`,
      { token: a.token },
    );
    expect(first.status).toBe(200);
    expect(first.body.members).toHaveLength(2);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await api<{ members: { userId: string; joinedAt: number }[]; nextCursor: string | null }>(
      'GET',
      `/v1/channels/${channel.id}/members?limit=2&cursor=${first.body.nextCursor}`,
      { token: a.token },
    );
    expect(second.body.nextCursor).toBeNull();
    const everyone = [...first.body.members, ...second.body.members];
    // In (joinedAt, userId) order.
    const sorted = [...everyone].sort((x, y) => x.joinedAt - y.joinedAt || (x.userId < y.userId ? -1 : 1));
    expect(everyone).toEqual(sorted);
    expect(everyone.find((m) => m.userId === owner.userId)).toEqual({
      userId: owner.userId,
      username: owner.username,
      role: 'owner',
      permissions: ['speak', 'listen', 'moderate', 'manage'],
      joinedAt: expect.any(Number),
    });
    const all = everyone.map((m) => m.userId);
    expect(new Set(all)).toEqual(new Set([owner.userId, a.userId, b.userId]));
  });

  it('400; 401; 403 for non-members of an open channel, banned accounts and app users; 404 for a private channel', async () => {
    const owner = await account();
    const stranger = await account();
    const banned = await account();
    const open = await newChannel(owner, { visibility: 'open' });
    const closed = await newChannel(owner);
    expectError(await api('GET', `/v1/channels/${open.id}/members?limit=501`, { token: owner.token }), 400, 'validation_failed', 'limit');
    expectError(await api('GET', `/v1/channels/${open.id}/members?cursor=%21`, { token: owner.token }), 400, 'validation_failed', 'cursor');
    expectError(await api('GET', `/v1/channels/${open.id}/members`), 401, 'unauthorized');
    expectError(await api('GET', `/v1/channels/${open.id}/members`, { token: stranger.token }), 403, 'forbidden');
    await api('PUT', `/v1/channels/${open.id}/bans/${banned.userId}`, { token: owner.token });
    expectError(await api('GET', `/v1/channels/${open.id}/members`, { token: banned.token }), 403, 'banned');
    const appUser = await createTestAppUser(db, config, [{ channelId: open.id, permissions: ['listen'] }]);
    expectError(await api('GET', `/v1/channels/${open.id}/members`, { token: appUser.token }), 403, 'forbidden');
    expectError(await api('GET', `/v1/channels/${closed.id}/members`, { token: stranger.token }), 404, 'not_found');
  });
});

describeWithDatabase('PUT /v1/channels/{channelId}/members/{userId}', () => {
  it('201 adds with the role defaults, 200 changes; admins are made by the owner only', async () => {
    const owner = await account();
    const admin = await account();
    const alice = await account();
    const channel = await newChannel(owner);
    const made = await api('PUT', `/v1/channels/${channel.id}/members/${admin.userId}`, { token: owner.token, json: { role: 'admin' } });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ userId: admin.userId, role: 'admin', permissions: ['speak', 'listen', 'moderate', 'manage'] });
    // No body at all: a member with the defaults.
    const added = await api('PUT', `/v1/channels/${channel.id}/members/${alice.userId}`, { token: admin.token });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ userId: alice.userId, username: alice.username, role: 'member', permissions: ['speak', 'listen'] });
    const changed = await api('PUT', `/v1/channels/${channel.id}/members/${alice.userId}`, { token: admin.token, json: { permissions: ['listen'] } });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ role: 'member', permissions: ['listen'] });
  });

  it('400 for a malformed user id, unknown role or permission, unknown field', async () => {
    const owner = await account();
    const alice = await account();
    const channel = await newChannel(owner);
    expectError(await api('PUT', `/v1/channels/${channel.id}/members/alice`, { token: owner.token }), 400, 'validation_failed', 'userId');
    expectError(await api('PUT', `/v1/channels/${channel.id}/members/${alice.userId}`, { token: owner.token, json: { role: 'owner' } }), 400, 'validation_failed', 'role');
    expectError(await api('PUT', `/v1/channels/${channel.id}/members/${alice.userId}`, { token: owner.token, json: { permissions: ['fly'] } }), 400, 'validation_failed', 'permissions[0]');
    expectError(await api('PUT', `/v1/channels/${channel.id}/members/${alice.userId}`, { token: owner.token, json: { permission: ['listen'] } }), 400, 'validation_failed', 'permission');
  });

  it('401; 403 by the rules, for banned targets and app users; 404 for channels and accounts; 409 channel_full', async () => {
    const owner = await account();
    const admin = await account();
    const member = await account();
    const alice = await account();
    const stranger = await account();
    const channel = await newChannel(owner, { memberLimit: 4 });
    await addMember(owner, channel.id, admin.userId, { role: 'admin' });
    await addMember(owner, channel.id, member.userId);
    expectError(await api('PUT', `/v1/channels/${channel.id}/members/${alice.userId}`), 401, 'unauthorized');
    // Without manage; an admin making an admin; anyone editing the owner; editing yourself.
    expectError(await api('PUT', `/v1/channels/${channel.id}/members/${alice.userId}`, { token: member.token }), 403, 'forbidden');
    expectError(await api('PUT', `/v1/channels/${channel.id}/members/${alice.userId}`, { token: admin.token, json: { role: 'admin' } }), 403, 'forbidden');
    expectError(await api('PUT', `/v1/channels/${channel.id}/members/${owner.userId}`, { token: admin.token, json: { permissions: [] } }), 403, 'forbidden');
    expectError(await api('PUT', `/v1/channels/${channel.id}/members/${admin.userId}`, { token: admin.token, json: { permissions: [] } }), 403, 'forbidden');
    // Granting what you lack.
    await addMember(owner, channel.id, member.userId, { permissions: ['listen', 'manage'] });
    expectError(await api('PUT', `/v1/channels/${channel.id}/members/${alice.userId}`, { token: member.token, json: { permissions: ['speak'] } }), 403, 'forbidden');
    // A banned account cannot be added back.
    await api('PUT', `/v1/channels/${channel.id}/bans/${stranger.userId}`, { token: owner.token });
    const banned = await api('PUT', `/v1/channels/${channel.id}/members/${stranger.userId}`, { token: owner.token });
    expectError(banned, 403, 'banned');
    expect(banned.body.message).toBe('That account is banned from this channel.');
    const appUser = await createTestAppUser(db, config, [{ channelId: channel.id, permissions: ['manage'] }]);
    expectError(await api('PUT', `/v1/channels/${channel.id}/members/${alice.userId}`, { token: appUser.token }), 403, 'forbidden');
    expectError(await api('PUT', `/v1/channels/${channel.id}/members/${alice.userId}`, { token: stranger.token }), 404, 'not_found');
    expectError(await api('PUT', `/v1/channels/${MISSING_CHANNEL}/members/${alice.userId}`, { token: owner.token }), 404, 'not_found');
    expectError(await api('PUT', `/v1/channels/${channel.id}/members/${MISSING_USER}`, { token: owner.token }), 404, 'not_found', 'userId');
    await addMember(owner, channel.id, alice.userId);
    const late = await account();
    expectError(await api('PUT', `/v1/channels/${channel.id}/members/${late.userId}`, { token: owner.token }), 409, 'channel_full');
  });
});

describeWithDatabase('DELETE /v1/channels/{channelId}/members/{userId}', () => {
  it('204 removes a member; your own id leaves', async () => {
    const owner = await account();
    const alice = await account();
    const bob = await account();
    const channel = await newChannel(owner);
    await addMember(owner, channel.id, alice.userId);
    await addMember(owner, channel.id, bob.userId);
    expect((await api('DELETE', `/v1/channels/${channel.id}/members/${alice.userId}`, { token: owner.token })).status).toBe(204);
    expect((await api('DELETE', `/v1/channels/${channel.id}/members/${bob.userId}`, { token: bob.token })).status).toBe(204);
    expect((await api<ChannelBody>('GET', `/v1/channels/${channel.id}`, { token: owner.token })).body.memberCount).toBe(1);
  });

  it('400; 401; 403 without manage, for admins by admins, the owner, app users; 404 channel or member; 409 owner leaving', async () => {
    const owner = await account();
    const admin = await account();
    const admin2 = await account();
    const alice = await account();
    const stranger = await account();
    const channel = await newChannel(owner);
    await addMember(owner, channel.id, admin.userId, { role: 'admin' });
    await addMember(owner, channel.id, admin2.userId, { role: 'admin' });
    await addMember(owner, channel.id, alice.userId);
    expectError(await api('DELETE', `/v1/channels/${channel.id}/members/bob`, { token: owner.token }), 400, 'validation_failed', 'userId');
    expectError(await api('DELETE', `/v1/channels/${channel.id}/members/${alice.userId}`), 401, 'unauthorized');
    expectError(await api('DELETE', `/v1/channels/${channel.id}/members/${admin.userId}`, { token: alice.token }), 403, 'forbidden');
    expectError(await api('DELETE', `/v1/channels/${channel.id}/members/${admin2.userId}`, { token: admin.token }), 403, 'forbidden');
    expectError(await api('DELETE', `/v1/channels/${channel.id}/members/${owner.userId}`, { token: admin.token }), 403, 'forbidden');
    const appUser = await createTestAppUser(db, config, [{ channelId: channel.id, permissions: ['manage'] }]);
    expectError(await api('DELETE', `/v1/channels/${channel.id}/members/${alice.userId}`, { token: appUser.token }), 403, 'forbidden');
    expectError(await api('DELETE', `/v1/channels/${channel.id}/members/${alice.userId}`, { token: stranger.token }), 404, 'not_found');
    expectError(await api('DELETE', `/v1/channels/${channel.id}/members/${stranger.userId}`, { token: owner.token }), 404, 'not_found');
    expectError(await api('DELETE', `/v1/channels/${channel.id}/members/${owner.userId}`, { token: owner.token }), 409, 'conflict');
  });
});

describeWithDatabase('POST /v1/channels/{channelId}/join', () => {
  it('201 joins an open channel as a member; 200 when already one', async () => {
    const owner = await account();
    const alice = await account();
    const channel = await newChannel(owner, { visibility: 'open' });
    const joined = await api('POST', `/v1/channels/${channel.id}/join`, { token: alice.token });
    expect(joined.status).toBe(201);
    expect(joined.body).toMatchObject({ userId: alice.userId, role: 'member', permissions: ['speak', 'listen'] });
    const again = await api('POST', `/v1/channels/${channel.id}/join`, { token: alice.token });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(joined.body);
  });

  it('400; 401; 403 banned and for app users; 404 for a private channel; 409 channel_full', async () => {
    const owner = await account();
    const alice = await account();
    const banned = await account();
    const open = await newChannel(owner, { visibility: 'open', memberLimit: 2 });
    const closed = await newChannel(owner);
    expectError(await api('POST', '/v1/channels/chn_!/join', { token: alice.token }), 400, 'validation_failed', 'channelId');
    expectError(await api('POST', `/v1/channels/${open.id}/join`), 401, 'unauthorized');
    await api('PUT', `/v1/channels/${open.id}/bans/${banned.userId}`, { token: owner.token, json: { reason: 'spam' } });
    const refused = await api('POST', `/v1/channels/${open.id}/join`, { token: banned.token });
    expectError(refused, 403, 'banned');
    expect(refused.body.message).toBe('You are banned from this channel.');
    const appUser = await createTestAppUser(db, config, [{ channelId: open.id, permissions: ['speak', 'listen'] }]);
    expectError(await api('POST', `/v1/channels/${open.id}/join`, { token: appUser.token }), 403, 'forbidden');
    expectError(await api('POST', `/v1/channels/${closed.id}/join`, { token: alice.token }), 404, 'not_found');
    expect((await api('POST', `/v1/channels/${open.id}/join`, { token: alice.token })).status).toBe(201);
    expectError(await api('POST', `/v1/channels/${open.id}/join`, { token: (await account()).token }), 409, 'channel_full');
  });

  it('concurrent joins at a channel one short of its limit: exactly one succeeds, the others get 409 channel_full', async () => {
    const owner = await account();
    const channel = await newChannel(owner, { visibility: 'open', memberLimit: 3 });
    await api('POST', `/v1/channels/${channel.id}/join`, { token: (await account()).token });
    const joiners = await Promise.all(Array.from({ length: 10 }, () => account()));
    const responses = await Promise.all(joiners.map((j) => api('POST', `/v1/channels/${channel.id}/join`, { token: j.token })));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([201, ...Array<number>(9).fill(409)]);
    for (const r of responses.filter((x) => x.status === 409)) expect(r.body.error).toBe('channel_full');
    expect((await api<ChannelBody>('GET', `/v1/channels/${channel.id}`, { token: owner.token })).body.memberCount).toBe(3);
  });
});

describeWithDatabase('POST /v1/channels/{channelId}/leave', () => {
  it('204 leaves; then the private channel is not_found', async () => {
    const owner = await account();
    const alice = await account();
    const channel = await newChannel(owner);
    await addMember(owner, channel.id, alice.userId);
    expect((await api('POST', `/v1/channels/${channel.id}/leave`, { token: alice.token })).status).toBe(204);
    expectError(await api('GET', `/v1/channels/${channel.id}`, { token: alice.token }), 404, 'not_found');
  });

  it('400; 401; 403 for app users; 404 when not a member; 409 for the owner', async () => {
    const owner = await account();
    const alice = await account();
    const open = await newChannel(owner, { visibility: 'open' });
    expectError(await api('POST', '/v1/channels/x/leave', { token: alice.token }), 400, 'validation_failed', 'channelId');
    expectError(await api('POST', `/v1/channels/${open.id}/leave`), 401, 'unauthorized');
    const appUser = await createTestAppUser(db, config, [{ channelId: open.id, permissions: ['listen'] }]);
    expectError(await api('POST', `/v1/channels/${open.id}/leave`, { token: appUser.token }), 403, 'forbidden');
    expectError(await api('POST', `/v1/channels/${open.id}/leave`, { token: alice.token }), 404, 'not_found');
    const owned = await api('POST', `/v1/channels/${open.id}/leave`, { token: owner.token });
    expectError(owned, 409, 'conflict');
    expect(owned.body.message).toBe('The owner cannot leave; transfer ownership first or delete the channel.');
  });
});

describeWithDatabase('PUT /v1/channels/{channelId}/owner', () => {
  it('200 hands the channel to a member; the old owner becomes an admin', async () => {
    const owner = await account();
    const alice = await account();
    const channel = await newChannel(owner);
    await addMember(owner, channel.id, alice.userId);
    const response = await api<ChannelBody>('PUT', `/v1/channels/${channel.id}/owner`, { token: owner.token, json: { userId: alice.userId } });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ ownerId: alice.userId, you: { role: 'admin' } });
    expect((await api<ChannelBody>('GET', `/v1/channels/${channel.id}`, { token: alice.token })).body.you.role).toBe('owner');
    expect((await api('POST', `/v1/channels/${channel.id}/leave`, { token: owner.token })).status).toBe(204);
  });

  it('400; 401; 403 for others and app users; 404 for strangers; 409 for a non-member or yourself', async () => {
    const owner = await account();
    const admin = await account();
    const stranger = await account();
    const channel = await newChannel(owner);
    await addMember(owner, channel.id, admin.userId, { role: 'admin' });
    expectError(await api('PUT', `/v1/channels/${channel.id}/owner`, { token: owner.token, json: { userId: 'me' } }), 400, 'validation_failed', 'userId');
    expectError(await api('PUT', `/v1/channels/${channel.id}/owner`, { token: owner.token, json: {} }), 400, 'validation_failed', 'userId');
    expectError(await api('PUT', `/v1/channels/${channel.id}/owner`, { json: { userId: admin.userId } }), 401, 'unauthorized');
    expectError(await api('PUT', `/v1/channels/${channel.id}/owner`, { token: admin.token, json: { userId: admin.userId } }), 403, 'forbidden');
    const appUser = await createTestAppUser(db, config, [{ channelId: '*', permissions: ['manage'] }]);
    expectError(await api('PUT', `/v1/channels/${channel.id}/owner`, { token: appUser.token, json: { userId: admin.userId } }), 403, 'forbidden');
    expectError(await api('PUT', `/v1/channels/${channel.id}/owner`, { token: stranger.token, json: { userId: stranger.userId } }), 404, 'not_found');
    expectError(await api('PUT', `/v1/channels/${channel.id}/owner`, { token: owner.token, json: { userId: stranger.userId } }), 409, 'conflict', 'userId');
    expectError(await api('PUT', `/v1/channels/${channel.id}/owner`, { token: owner.token, json: { userId: owner.userId } }), 409, 'conflict', 'userId');
  });
});

describeWithDatabase('bans: GET, PUT and DELETE /v1/channels/{channelId}/bans…', () => {
  it('PUT 201 bans a member (ending the membership) or an app user, 200 again with a new reason; GET lists; DELETE 204 unbans', async () => {
    const owner = await account();
    const alice = await account();
    const channel = await newChannel(owner, { visibility: 'open' });
    await api('POST', `/v1/channels/${channel.id}/join`, { token: alice.token });
    const banned = await api('PUT', `/v1/channels/${channel.id}/bans/${alice.userId}`, { token: owner.token, json: { reason: ' flooding ' } });
    expect(banned.status).toBe(201);
    expect(banned.body).toEqual({ subject: alice.userId, reason: 'flooding', bannedBy: owner.userId, createdAt: expect.any(Number) });
    expect((await api<ChannelBody>('GET', `/v1/channels/${channel.id}`, { token: alice.token })).body.you).toEqual({ role: null, permissions: [], banned: true });
    const again = await api('PUT', `/v1/channels/${channel.id}/bans/${alice.userId}`, { token: owner.token, json: { reason: 'still flooding' } });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ reason: 'still flooding', createdAt: banned.body.createdAt });

    const appUser = await createTestAppUser(db, config, [{ channelId: channel.id, permissions: ['speak', 'listen'] }]);
    const appBan = await api('PUT', `/v1/channels/${channel.id}/bans/${encodeURIComponent(appUser.subject)}`, { token: owner.token });
    expect(appBan.status).toBe(201);
    expect(appBan.body).toMatchObject({ subject: appUser.subject, reason: null });
    expect((await api<ChannelBody>('GET', `/v1/channels/${channel.id}`, { token: appUser.token })).body.you).toEqual({ role: null, permissions: [], banned: true });

    type BanList = { bans: { subject: string; createdAt: number }[]; nextCursor: string | null };
    const list = await api<BanList>('GET', `/v1/channels/${channel.id}/bans?limit=1`, { token: owner.token });
    expect(list.status).toBe(200);
    expect(list.body.bans).toHaveLength(1);
    const rest = await api<BanList>('GET', `/v1/channels/${channel.id}/bans?cursor=${list.body.nextCursor}`, { token: owner.token });
    expect(rest.body.nextCursor).toBeNull();
    const bans = [...list.body.bans, ...rest.body.bans];
    expect(bans).toEqual([...bans].sort((x, y) => x.createdAt - y.createdAt || (x.subject < y.subject ? -1 : 1)));
    expect(bans.map((b) => b.subject).sort()).toEqual([alice.userId, appUser.subject].sort());

    expect((await api('DELETE', `/v1/channels/${channel.id}/bans/${alice.userId}`, { token: owner.token })).status).toBe(204);
    expect((await api('POST', `/v1/channels/${channel.id}/join`, { token: alice.token })).status).toBe(201);
  });

  it('400 for a malformed subject or reason; nothing stored', async () => {
    const owner = await account();
    const alice = await account();
    const channel = await newChannel(owner);
    expectError(await api('PUT', `/v1/channels/${channel.id}/bans/alice`, { token: owner.token }), 400, 'validation_failed', 'subject');
    expectError(await api('PUT', `/v1/channels/${channel.id}/bans/${encodeURIComponent('ak_aaaaaaaaaaaaaaaaaaaaaaaaaa:a\nb')}`, { token: owner.token }), 400, 'validation_failed', 'subject');
    expectError(await api('PUT', `/v1/channels/${channel.id}/bans/${alice.userId}`, { token: owner.token, json: { reason: 'a\u202Eb' } }), 400, 'validation_failed', 'reason');
    expectError(await api('PUT', `/v1/channels/${channel.id}/bans/${alice.userId}`, { token: owner.token, json: { reason: 7 } }), 400, 'validation_failed', 'reason');
    expectError(await api('GET', `/v1/channels/${channel.id}/bans?limit=1000`, { token: owner.token }), 400, 'validation_failed', 'limit');
    expectError(await api('DELETE', `/v1/channels/${channel.id}/bans/nobody`, { token: owner.token }), 400, 'validation_failed', 'subject');
    expect((await api('GET', `/v1/channels/${channel.id}/bans`, { token: owner.token })).body).toEqual({ bans: [], nextCursor: null });
  });

  it('401; 403 without moderate, for the owner, yourself, an admin by a non-owner, banned actors and app users; 404', async () => {
    const owner = await account();
    const admin = await account();
    const moderator = await account();
    const member = await account();
    const stranger = await account();
    const channel = await newChannel(owner, { visibility: 'open' });
    const closed = await newChannel(owner);
    await addMember(owner, channel.id, admin.userId, { role: 'admin' });
    await addMember(owner, channel.id, moderator.userId, { permissions: ['speak', 'listen', 'moderate'] });
    await addMember(owner, channel.id, member.userId);
    const path = (subject: string) => `/v1/channels/${channel.id}/bans/${subject}`;
    expectError(await api('PUT', path(member.userId)), 401, 'unauthorized');
    expectError(await api('GET', `/v1/channels/${channel.id}/bans`), 401, 'unauthorized');
    expectError(await api('DELETE', path(member.userId)), 401, 'unauthorized');
    expectError(await api('PUT', path(stranger.userId), { token: member.token }), 403, 'forbidden');
    expectError(await api('GET', `/v1/channels/${channel.id}/bans`, { token: member.token }), 403, 'forbidden');
    expectError(await api('DELETE', path(stranger.userId), { token: member.token }), 403, 'forbidden');
    expectError(await api('PUT', path(owner.userId), { token: admin.token }), 403, 'forbidden');
    expectError(await api('PUT', path(moderator.userId), { token: moderator.token }), 403, 'forbidden');
    expectError(await api('PUT', path(admin.userId), { token: moderator.token }), 403, 'forbidden');
    // A banned moderator can do nothing more.
    await api('PUT', path(moderator.userId), { token: owner.token });
    expectError(await api('GET', `/v1/channels/${channel.id}/bans`, { token: moderator.token }), 403, 'banned');
    expectError(await api('PUT', path(member.userId), { token: moderator.token }), 403, 'banned');
    expectError(await api('DELETE', path(moderator.userId), { token: moderator.token }), 403, 'banned');
    const appUser = await createTestAppUser(db, config, [{ channelId: channel.id, permissions: ['moderate'] }]);
    expectError(await api('PUT', path(member.userId), { token: appUser.token }), 403, 'forbidden');
    expectError(await api('GET', `/v1/channels/${channel.id}/bans`, { token: appUser.token }), 403, 'forbidden');
    expectError(await api('DELETE', path(member.userId), { token: appUser.token }), 403, 'forbidden');
    expectError(await api('PUT', `/v1/channels/${closed.id}/bans/${member.userId}`, { token: stranger.token }), 404, 'not_found');
    expectError(await api('GET', `/v1/channels/${closed.id}/bans`, { token: stranger.token }), 404, 'not_found');
    expectError(await api('DELETE', `/v1/channels/${closed.id}/bans/${member.userId}`, { token: stranger.token }), 404, 'not_found');
    expectError(await api('DELETE', path(stranger.userId), { token: owner.token }), 404, 'not_found');
    // The owner bans an admin.
    expect((await api('PUT', path(admin.userId), { token: owner.token })).status).toBe(201);
  });
});
