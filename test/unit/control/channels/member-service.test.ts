/**
 * Channel members on the real libSQL engine (control/src/channels/member-service.ts): adding and
 * changing members within the hierarchy rules, removing, joining, leaving, ownership transfer,
 * and the member limit under concurrent joins (one SQL statement decides).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OperatorActor } from '../../../../control/src/channels/access.js';
import { banSubject } from '../../../../control/src/channels/ban-service.js';
import { createChannel, getChannel } from '../../../../control/src/channels/channel-service.js';
import {
  joinChannel,
  leaveChannel,
  listMembers,
  putMember,
  removeMember,
  transferOwnership,
} from '../../../../control/src/channels/member-service.js';
import { databaseFromClient } from '../../../../control/src/db/client.js';
import { ApiError } from '../../../../control/src/http/errors.js';
import { openMigratedTestDatabase, type TestDatabase } from '../../../support/control-database.js';
import { createTestAccount, type TestAccount } from '../../../support/test-principals.js';
import { expectApiError, LIMITS, TEST_CONFIG } from './helpers.js';

const OPERATOR: OperatorActor = { kind: 'operator', appKeyId: 'ak_operatoroperatoroperatorop' };
const NOW = 1_800_000_000_000;

let database: TestDatabase;
let owner: TestAccount;
let admin: TestAccount;
let alice: TestAccount;
let bob: TestAccount;

beforeEach(async () => {
  database = await openMigratedTestDatabase();
  owner = await createTestAccount(database.db, TEST_CONFIG, { username: 'owner' });
  admin = await createTestAccount(database.db, TEST_CONFIG, { username: 'admin' });
  alice = await createTestAccount(database.db, TEST_CONFIG, { username: 'alice' });
  bob = await createTestAccount(database.db, TEST_CONFIG, { username: 'bob' });
});

afterEach(() => database.close());

async function privateChannelWithAdmin(): Promise<string> {
  const channel = await createChannel(database.db, LIMITS, owner.principal, { name: 'Team' }, NOW);
  await putMember(database.db, owner.principal, channel.id, admin.userId, { role: 'admin' }, NOW + 1);
  return channel.id;
}

describe('adding and changing members', () => {
  it('the owner makes admins; admins add members with the role defaults', async () => {
    const channelId = await privateChannelWithAdmin();
    const added = await putMember(database.db, admin.principal, channelId, alice.userId, {}, NOW + 2);
    expect(added).toEqual({ created: true, member: { userId: alice.userId, username: 'alice', role: 'member', permissions: ['speak', 'listen'], joinedAt: NOW + 2 } });
    const page = await listMembers(database.db, alice.principal, channelId, { after: undefined, limit: 10 });
    expect(page.items.map((m) => [m.username, m.role, m.permissions])).toEqual([
      ['owner', 'owner', ['speak', 'listen', 'moderate', 'manage']],
      ['admin', 'admin', ['speak', 'listen', 'moderate', 'manage']],
      ['alice', 'member', ['speak', 'listen']],
    ]);
  });

  it('changes permissions of an existing member (200, not created); an unchanged role keeps its permissions', async () => {
    const channelId = await privateChannelWithAdmin();
    await putMember(database.db, admin.principal, channelId, alice.userId, { permissions: ['listen'] }, NOW);
    const changed = await putMember(database.db, admin.principal, channelId, alice.userId, { permissions: ['listen', 'moderate'] }, NOW + 5);
    expect(changed).toMatchObject({ created: false, member: { role: 'member', permissions: ['listen', 'moderate'], joinedAt: NOW } });
    expect((await putMember(database.db, admin.principal, channelId, alice.userId, {}, NOW + 6)).member.permissions).toEqual(['listen', 'moderate']);
    // A changed role without permissions gets that role's defaults.
    expect((await putMember(database.db, owner.principal, channelId, alice.userId, { role: 'admin' }, NOW + 7)).member.permissions).toEqual([
      'speak',
      'listen',
      'moderate',
      'manage',
    ]);
  });

  it('enforces the hierarchy: admins cannot make or touch admins, nobody edits the owner or themselves, no granting beyond your own', async () => {
    const channelId = await privateChannelWithAdmin();
    await expectApiError(putMember(database.db, admin.principal, channelId, alice.userId, { role: 'admin' }, NOW), 'forbidden');
    await putMember(database.db, owner.principal, channelId, bob.userId, { role: 'admin' }, NOW);
    await expectApiError(putMember(database.db, admin.principal, channelId, bob.userId, { permissions: ['listen'] }, NOW), 'forbidden');
    await expectApiError(removeMember(database.db, admin.principal, channelId, bob.userId), 'forbidden');
    await expectApiError(putMember(database.db, admin.principal, channelId, owner.userId, { permissions: ['listen'] }, NOW), 'forbidden');
    await expectApiError(putMember(database.db, owner.principal, channelId, owner.userId, { role: 'member' }, NOW), 'forbidden');
    await expectApiError(putMember(database.db, admin.principal, channelId, admin.userId, { permissions: ['listen'] }, NOW), 'forbidden');
    // A member holding only listen + manage adds people but grants no more than it has.
    await putMember(database.db, owner.principal, channelId, alice.userId, { permissions: ['listen', 'manage'] }, NOW);
    const carol = await createTestAccount(database.db, TEST_CONFIG, { username: 'carol' });
    await expectApiError(putMember(database.db, alice.principal, channelId, carol.userId, {}, NOW), 'forbidden');
    expect((await putMember(database.db, alice.principal, channelId, carol.userId, { permissions: ['listen'] }, NOW)).created).toBe(true);
  });

  it('members without manage cannot add; strangers get not_found for a private channel', async () => {
    const channelId = await privateChannelWithAdmin();
    await expectApiError(putMember(database.db, alice.principal, channelId, bob.userId, {}, NOW), 'not_found');
    await putMember(database.db, admin.principal, channelId, alice.userId, {}, NOW);
    await expectApiError(putMember(database.db, alice.principal, channelId, bob.userId, {}, NOW), 'forbidden');
  });

  it('an unknown account is not_found (field userId); a banned one is banned; a full channel is channel_full', async () => {
    const channel = await createChannel(database.db, LIMITS, owner.principal, { name: 'Small', memberLimit: 2 }, NOW);
    await expectApiError(putMember(database.db, owner.principal, channel.id, 'usr_zzzzzzzzzzzzzzzzzzzzzzzzzz', {}, NOW), 'not_found', 'userId');
    await banSubject(database.db, owner.principal, channel.id, bob.userId, 'spam', NOW);
    const banned = await expectApiError(putMember(database.db, owner.principal, channel.id, bob.userId, {}, NOW), 'banned');
    expect(banned.message).toBe('That account is banned from this channel.');
    await putMember(database.db, owner.principal, channel.id, alice.userId, {}, NOW);
    await expectApiError(putMember(database.db, owner.principal, channel.id, admin.userId, {}, NOW), 'channel_full');
    expect((await getChannel(database.db, owner.principal, channel.id)).memberCount).toBe(2);
  });

  it('an operator adds members and admins to any channel', async () => {
    const channel = await createChannel(database.db, LIMITS, OPERATOR, { name: 'App' }, NOW);
    expect((await putMember(database.db, OPERATOR, channel.id, alice.userId, { role: 'admin' }, NOW)).member.role).toBe('admin');
  });
});

describe('removing members', () => {
  it('manage removes a member; a missing member is not_found; removing yourself is leaving', async () => {
    const channelId = await privateChannelWithAdmin();
    await putMember(database.db, admin.principal, channelId, alice.userId, {}, NOW);
    expect(await removeMember(database.db, admin.principal, channelId, alice.userId)).toEqual({ channelId, userId: alice.userId, role: 'member' });
    const missing = await expectApiError(removeMember(database.db, admin.principal, channelId, alice.userId), 'not_found');
    expect(missing.message).toBe('No such member.');
    expect(await removeMember(database.db, admin.principal, channelId, admin.userId)).toEqual({ channelId, userId: admin.userId, role: 'admin' });
    await expectApiError(removeMember(database.db, owner.principal, channelId, owner.userId), 'conflict');
  });
});

describe('joining and leaving', () => {
  it('any account joins an open channel itself, idempotently; private channels are not_found to strangers', async () => {
    const open = await createChannel(database.db, LIMITS, owner.principal, { name: 'Lobby', visibility: 'open' }, NOW);
    const first = await joinChannel(database.db, alice.principal, open.id, NOW + 1);
    expect(first).toEqual({ created: true, member: { userId: alice.userId, username: 'alice', role: 'member', permissions: ['speak', 'listen'], joinedAt: NOW + 1 } });
    expect(await joinChannel(database.db, alice.principal, open.id, NOW + 2)).toEqual({ ...first, created: false });
    const closed = await createChannel(database.db, LIMITS, owner.principal, { name: 'Private' }, NOW);
    await expectApiError(joinChannel(database.db, alice.principal, closed.id, NOW), 'not_found');
  });

  it('a banned account cannot join (banned)', async () => {
    const open = await createChannel(database.db, LIMITS, owner.principal, { name: 'Lobby', visibility: 'open' }, NOW);
    await banSubject(database.db, owner.principal, open.id, alice.userId, undefined, NOW);
    const error = await expectApiError(joinChannel(database.db, alice.principal, open.id, NOW), 'banned');
    expect(error.message).toBe('You are banned from this channel.');
  });

  it('leaving ends the membership; leaving twice is not_found; the owner cannot leave (conflict)', async () => {
    const open = await createChannel(database.db, LIMITS, owner.principal, { name: 'Lobby', visibility: 'open' }, NOW);
    await joinChannel(database.db, alice.principal, open.id, NOW);
    expect(await leaveChannel(database.db, alice.principal, open.id)).toEqual({ channelId: open.id, userId: alice.userId, role: 'member' });
    await expectApiError(leaveChannel(database.db, alice.principal, open.id), 'not_found');
    const error = await expectApiError(leaveChannel(database.db, owner.principal, open.id), 'conflict');
    expect(error.message).toBe('The owner cannot leave; transfer ownership first or delete the channel.');
  });

  it('the member limit counts the owner and holds for a joiner at the limit', async () => {
    const open = await createChannel(database.db, LIMITS, owner.principal, { name: 'Pair', visibility: 'open', memberLimit: 2 }, NOW);
    await joinChannel(database.db, alice.principal, open.id, NOW);
    await expectApiError(joinChannel(database.db, bob.principal, open.id, NOW), 'channel_full');
  });
});

describe('the member limit under concurrency', () => {
  it('concurrent joins at a channel one short of its limit: exactly one succeeds, the others get channel_full', async () => {
    const open = await createChannel(database.db, LIMITS, owner.principal, { name: 'Almost full', visibility: 'open', memberLimit: 4 }, NOW);
    await joinChannel(database.db, alice.principal, open.id, NOW);
    await joinChannel(database.db, bob.principal, open.id, NOW);
    const joiners = await Promise.all(Array.from({ length: 12 }, (_, i) => createTestAccount(database.db, TEST_CONFIG, { username: `joiner-${i}` })));
    // Every join first reads the channel (and sees room for one), then inserts: a count read
    // before the insert would let all twelve in.
    const results = await Promise.allSettled(joiners.map((j) => joinChannel(database.db, j.principal, open.id, NOW + 1)));
    const joined = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(joined).toHaveLength(1);
    expect(refused).toHaveLength(11);
    for (const r of refused) expect(r.reason).toBeInstanceOf(ApiError), expect((r.reason as ApiError).code).toBe('channel_full');
    expect((await getChannel(database.db, owner.principal, open.id)).memberCount).toBe(4);
  });

  it('holds across separate connections to one file: database, as separate isolates would be', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-members-'));
    const url = `file:${join(dir, 'control.db')}`;
    const fileDatabase = await openMigratedTestDatabase(url);
    const connections = Array.from({ length: 8 }, () => createClient({ url, intMode: 'number' }));
    try {
      const first = await createTestAccount(fileDatabase.db, TEST_CONFIG);
      const open = await createChannel(fileDatabase.db, LIMITS, first.principal, { name: 'Race', visibility: 'open', memberLimit: 3 }, NOW);
      const second = await createTestAccount(fileDatabase.db, TEST_CONFIG);
      await joinChannel(fileDatabase.db, second.principal, open.id, NOW);
      const joiners = await Promise.all(connections.map(() => createTestAccount(fileDatabase.db, TEST_CONFIG)));
      const results = await Promise.allSettled(
        joiners.map((j, i) => joinChannel(databaseFromClient(connections[i]!), j.principal, open.id, NOW + 1)),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results.filter((x): x is PromiseRejectedResult => x.status === 'rejected')) expect((r.reason as ApiError).code).toBe('channel_full');
      expect((await getChannel(fileDatabase.db, first.principal, open.id)).memberCount).toBe(3);
    } finally {
      for (const c of connections) c.close();
      fileDatabase.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('concurrent joins of one account add it once', async () => {
    const open = await createChannel(database.db, LIMITS, owner.principal, { name: 'Lobby', visibility: 'open' }, NOW);
    const results = await Promise.all(Array.from({ length: 5 }, () => joinChannel(database.db, alice.principal, open.id, NOW)));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect((await getChannel(database.db, owner.principal, open.id)).memberCount).toBe(2);
  });
});

describe('transferring ownership', () => {
  it('moves ownership to a member; the old owner stays as admin and may then leave', async () => {
    const channelId = await privateChannelWithAdmin();
    await putMember(database.db, owner.principal, channelId, alice.userId, {}, NOW + 2);
    const moved = await transferOwnership(database.db, owner.principal, channelId, alice.userId, NOW + 9);
    expect(moved).toMatchObject({ ownerId: alice.userId, updatedAt: NOW + 9, you: { role: 'admin' } });
    expect((await getChannel(database.db, alice.principal, channelId)).you).toMatchObject({ role: 'owner', permissions: 15 });
    const roles = (await listMembers(database.db, alice.principal, channelId, { after: undefined, limit: 10 })).items.map((m) => [m.username, m.role]);
    expect(roles).toEqual([
      ['owner', 'admin'],
      ['admin', 'admin'],
      ['alice', 'owner'],
    ]);
    expect((await leaveChannel(database.db, owner.principal, channelId)).role).toBe('admin');
  });

  it('only the owner transfers, only to a member other than itself', async () => {
    const channelId = await privateChannelWithAdmin();
    await expectApiError(transferOwnership(database.db, admin.principal, channelId, admin.userId, NOW), 'forbidden');
    await expectApiError(transferOwnership(database.db, alice.principal, channelId, alice.userId, NOW), 'not_found');
    await expectApiError(transferOwnership(database.db, owner.principal, channelId, bob.userId, NOW), 'conflict', 'userId');
    await expectApiError(transferOwnership(database.db, owner.principal, channelId, owner.userId, NOW), 'conflict', 'userId');
    expect((await getChannel(database.db, owner.principal, channelId)).ownerId).toBe(owner.userId);
  });
});

describe('races between membership changes', () => {
  async function owners(channelId: string): Promise<{ ownerId: string | null; ownerRows: string[] }> {
    const channel = await database.client.execute({ sql: 'SELECT owner_id FROM channels WHERE id = ?', args: [channelId] });
    const rows = await database.client.execute({ sql: "SELECT user_id FROM channel_members WHERE channel_id = ? AND role = 'owner'", args: [channelId] });
    return { ownerId: (channel.rows[0]?.['owner_id'] as string | null) ?? null, ownerRows: rows.rows.map((r) => String(r['user_id'])) };
  }

  function refusalCodes(results: PromiseSettledResult<unknown>[]): string[] {
    return results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason as ApiError).code);
  }

  it('two transfers at once leave exactly one owner, whose membership says so', async () => {
    const channelId = await privateChannelWithAdmin();
    await putMember(database.db, owner.principal, channelId, alice.userId, {}, NOW);
    const results = await Promise.allSettled([
      transferOwnership(database.db, owner.principal, channelId, alice.userId, NOW + 1),
      transferOwnership(database.db, owner.principal, channelId, admin.userId, NOW + 1),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(refusalCodes(results)).toEqual(['forbidden']);
    const after = await owners(channelId);
    expect(after.ownerRows).toEqual([after.ownerId]);
    expect([alice.userId, admin.userId]).toContain(after.ownerId);
  });

  it('a transfer racing the new owner leaving never leaves the channel owned by a non-member', async () => {
    const channelId = await privateChannelWithAdmin();
    await putMember(database.db, owner.principal, channelId, alice.userId, {}, NOW);
    const results = await Promise.allSettled([transferOwnership(database.db, owner.principal, channelId, alice.userId, NOW + 1), leaveChannel(database.db, alice.principal, channelId)]);
    for (const code of refusalCodes(results)) expect(['conflict', 'not_found']).toContain(code);
    const after = await owners(channelId);
    expect(after.ownerRows).toEqual([after.ownerId]);
  });
});

describe('listing members', () => {
  it('is for members: strangers of an open channel are forbidden, of a private one not_found; pages by join time', async () => {
    const open = await createChannel(database.db, LIMITS, owner.principal, { name: 'Lobby', visibility: 'open' }, NOW);
    await expectApiError(listMembers(database.db, alice.principal, open.id, { after: undefined, limit: 10 }), 'forbidden');
    const closed = await createChannel(database.db, LIMITS, owner.principal, { name: 'Private' }, NOW);
    await expectApiError(listMembers(database.db, alice.principal, closed.id, { after: undefined, limit: 10 }), 'not_found');
    await joinChannel(database.db, alice.principal, open.id, NOW + 1);
    await joinChannel(database.db, bob.principal, open.id, NOW + 2);
    const first = await listMembers(database.db, alice.principal, open.id, { after: undefined, limit: 2 });
    expect(first.items.map((m) => m.username)).toEqual(['owner', 'alice']);
    expect(first.next).toEqual({ at: NOW + 1, id: alice.userId });
    const second = await listMembers(database.db, alice.principal, open.id, { after: first.next!, limit: 2 });
    expect(second).toEqual({ items: [expect.objectContaining({ username: 'bob' })], next: null });
    // Banned from the open channel: told so.
    await banSubject(database.db, owner.principal, open.id, bob.userId, undefined, NOW);
    await expectApiError(listMembers(database.db, bob.principal, open.id, { after: undefined, limit: 10 }), 'banned');
  });
});
