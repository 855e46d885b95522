/**
 * Channels on the real libSQL engine (control/src/channels/channel-service.ts): create, get,
 * list with its filters and cursor, update (with the member-limit race closed in SQL), delete
 * returning what went, and the name rule's "nothing stored" half of case 22. One test runs on a
 * `file:` database.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OperatorActor } from '../../../../control/src/channels/access.js';
import {
  createChannel,
  deleteChannel,
  getChannel,
  listAllChannels,
  listChannels,
  loadChannel,
  updateChannel,
} from '../../../../control/src/channels/channel-service.js';
import { joinChannel, putMember } from '../../../../control/src/channels/member-service.js';
import { banSubject } from '../../../../control/src/channels/ban-service.js';
import { openMigratedTestDatabase, type TestDatabase } from '../../../support/control-database.js';
import { createTestAccount, createTestAppUser, type TestAccount } from '../../../support/test-principals.js';
import { expectApiError, LIMITS, TEST_CONFIG } from './helpers.js';

const OPERATOR: OperatorActor = { kind: 'operator', appKeyId: 'ak_operatoroperatoroperatorop' };
const NOW = 1_800_000_000_000;

let database: TestDatabase;
let owner: TestAccount;
let other: TestAccount;

beforeEach(async () => {
  database = await openMigratedTestDatabase();
  owner = await createTestAccount(database.db, TEST_CONFIG, { username: 'owner' });
  other = await createTestAccount(database.db, TEST_CONFIG, { username: 'other' });
});

afterEach(() => database.close());

async function countRows(table: string): Promise<number> {
  const result = await database.client.execute(`SELECT count(*) AS n FROM ${table}`);
  return Number(result.rows[0]!['n']);
}

describe('creating channels', () => {
  it('an account becomes owner and first member; private and the default limit unless asked', async () => {
    const channel = await createChannel(database.db, LIMITS, owner.principal, { name: '  Team  ' }, NOW);
    expect(channel).toMatchObject({
      name: 'Team',
      visibility: 'private',
      ownerId: owner.userId,
      memberLimit: 50,
      region: null,
      createdAt: NOW,
      updatedAt: NOW,
      memberCount: 1,
      you: { visible: true, banned: false, role: 'owner', permissions: 15 },
    });
    expect(channel.id).toMatch(/^chn_[a-z2-7]{26}$/);
    const members = await database.client.execute({ sql: 'SELECT user_id, role, permissions FROM channel_members WHERE channel_id = ?', args: [channel.id] });
    expect(members.rows.map((r) => ({ ...r }))).toEqual([{ user_id: owner.userId, role: 'owner', permissions: 15 }]);
  });

  it('an operator creates an ownerless channel with no members', async () => {
    const channel = await createChannel(database.db, LIMITS, OPERATOR, { name: 'App room', visibility: 'open', memberLimit: 500, region: 'fra' }, NOW);
    expect(channel).toMatchObject({ ownerId: null, memberCount: 0, visibility: 'open', memberLimit: 500, region: 'fra', you: null });
  });

  it('refuses a bad name, a limit over the configured maximum and an unknown region, naming the field and storing nothing', async () => {
    await expectApiError(createChannel(database.db, LIMITS, owner.principal, { name: 'a\u202Eb' }, NOW), 'validation_failed', 'name');
    await expectApiError(createChannel(database.db, LIMITS, owner.principal, { name: '' }, NOW), 'validation_failed', 'name');
    await expectApiError(createChannel(database.db, LIMITS, owner.principal, { name: 'x', memberLimit: 501 }, NOW), 'validation_failed', 'memberLimit');
    await expectApiError(createChannel(database.db, LIMITS, owner.principal, { name: 'x', memberLimit: 0 }, NOW), 'validation_failed', 'memberLimit');
    await expectApiError(createChannel(database.db, LIMITS, owner.principal, { name: 'x', region: 'xyz' }, NOW), 'validation_failed', 'region');
    expect(await countRows('channels')).toBe(0);
    expect(await countRows('channel_members')).toBe(0);
  });
});

describe('reading channels', () => {
  it('a private channel is not_found for non-members, exactly like a missing one', async () => {
    const channel = await createChannel(database.db, LIMITS, owner.principal, { name: 'Secret' }, NOW);
    const hidden = await expectApiError(getChannel(database.db, other.principal, channel.id), 'not_found');
    const missing = await expectApiError(getChannel(database.db, other.principal, 'chn_aaaaaaaaaaaaaaaaaaaaaaaaaa'), 'not_found');
    expect(hidden.toBody()).toEqual(missing.toBody());
  });

  it('an open channel shows a non-member its count and no role', async () => {
    const channel = await createChannel(database.db, LIMITS, owner.principal, { name: 'Lobby', visibility: 'open' }, NOW);
    expect(await getChannel(database.db, other.principal, channel.id)).toMatchObject({
      memberCount: 1,
      you: { visible: true, banned: false, role: null, permissions: 0 },
    });
  });

  it('an app user sees exactly the channels it holds a grant for (or all with "*")', async () => {
    const granted = await createChannel(database.db, LIMITS, OPERATOR, { name: 'Granted' }, NOW);
    const notGranted = await createChannel(database.db, LIMITS, OPERATOR, { name: 'Other', visibility: 'open' }, NOW);
    const user = await createTestAppUser(database.db, TEST_CONFIG, [{ channelId: granted.id, permissions: ['listen'] }]);
    expect(await getChannel(database.db, user.principal, granted.id)).toMatchObject({ id: granted.id, you: { role: null, permissions: 2 } });
    await expectApiError(getChannel(database.db, user.principal, notGranted.id), 'not_found');
    const everywhere = await createTestAppUser(database.db, TEST_CONFIG, [{ channelId: '*', permissions: ['speak', 'listen'] }]);
    expect((await getChannel(database.db, everywhere.principal, notGranted.id)).you).toMatchObject({ permissions: 3 });
    await banSubject(database.db, OPERATOR, granted.id, user.subject, 'spam', NOW);
    expect((await getChannel(database.db, user.principal, granted.id)).you).toEqual({ visible: true, banned: true, role: null, permissions: 0 });
  });
});

describe('listing channels', () => {
  async function seed() {
    const mine = await createChannel(database.db, LIMITS, other.principal, { name: 'Mine (private)' }, NOW + 1);
    const openByOwner = await createChannel(database.db, LIMITS, owner.principal, { name: 'Open', visibility: 'open' }, NOW + 2);
    const privateByOwner = await createChannel(database.db, LIMITS, owner.principal, { name: 'Private' }, NOW + 3);
    const joined = await createChannel(database.db, LIMITS, owner.principal, { name: 'Joined open', visibility: 'open' }, NOW + 4);
    await joinChannel(database.db, other.principal, joined.id, NOW + 5);
    return { mine, openByOwner, privateByOwner, joined };
  }

  it('member: the channels the account belongs to; open: every open channel; all: both, never others\' private ones', async () => {
    const { mine, openByOwner, joined } = await seed();
    const ids = async (filter: 'member' | 'open' | 'all') =>
      (await listChannels(database.db, other.principal, filter, { after: undefined, limit: 50 })).items.map((c) => c.id);
    expect(await ids('member')).toEqual([mine.id, joined.id]);
    expect(await ids('open')).toEqual([openByOwner.id, joined.id]);
    expect(await ids('all')).toEqual([mine.id, openByOwner.id, joined.id]);
    const all = await listChannels(database.db, other.principal, 'all', { after: undefined, limit: 50 });
    expect(all.items.map((c) => c.you?.role ?? null)).toEqual(['owner', null, 'member']);
    expect(all.items.map((c) => c.memberCount)).toEqual([1, 1, 2]);
    expect(all.next).toBeNull();
  });

  it('pages oldest first with a cursor that survives inserts before it', async () => {
    const { mine, openByOwner, joined } = await seed();
    const first = await listChannels(database.db, other.principal, 'all', { after: undefined, limit: 2 });
    expect(first.items.map((c) => c.id)).toEqual([mine.id, openByOwner.id]);
    expect(first.next).toEqual({ at: NOW + 2, id: openByOwner.id });
    // A channel created earlier than the cursor's position does not shift the next page.
    await createChannel(database.db, LIMITS, other.principal, { name: 'Backdated' }, NOW);
    const second = await listChannels(database.db, other.principal, 'all', { after: first.next!, limit: 2 });
    expect(second.items.map((c) => c.id)).toEqual([joined.id]);
    expect(second.next).toBeNull();
  });

  it('orders channels created in the same millisecond by id', async () => {
    const a = await createChannel(database.db, LIMITS, owner.principal, { name: 'a', visibility: 'open' }, NOW);
    const b = await createChannel(database.db, LIMITS, owner.principal, { name: 'b', visibility: 'open' }, NOW);
    const c = await createChannel(database.db, LIMITS, owner.principal, { name: 'c', visibility: 'open' }, NOW);
    const sorted = [a.id, b.id, c.id].sort();
    const page1 = await listChannels(database.db, other.principal, 'open', { after: undefined, limit: 1 });
    const page2 = await listChannels(database.db, other.principal, 'open', { after: page1.next!, limit: 1 });
    const page3 = await listChannels(database.db, other.principal, 'open', { after: page2.next!, limit: 1 });
    expect([...page1.items, ...page2.items, ...page3.items].map((x) => x.id)).toEqual(sorted);
    // The last page says so: it fetched one row more than the limit and found none.
    expect(page3.next).toBeNull();
  });

  it('operators list every channel, private and ownerless ones too', async () => {
    const { mine, openByOwner, privateByOwner, joined } = await seed();
    const ownerless = await createChannel(database.db, LIMITS, OPERATOR, { name: 'App' }, NOW + 9);
    const page = await listAllChannels(database.db, { after: undefined, limit: 10 });
    expect(page.items.map((c) => c.id)).toEqual([mine.id, openByOwner.id, privateByOwner.id, joined.id, ownerless.id]);
    expect(page.items.every((c) => c.you === null)).toBe(true);
  });
});

describe('updating channels', () => {
  it('renames and reconfigures with manage; the name rule applies', async () => {
    const channel = await createChannel(database.db, LIMITS, owner.principal, { name: 'Old', region: 'ams' }, NOW);
    const updated = await updateChannel(database.db, LIMITS, owner.principal, channel.id, { name: 'Ｎｅｗ', visibility: 'open', memberLimit: 10, region: null }, NOW + 1);
    expect(updated).toMatchObject({ name: 'New', visibility: 'open', memberLimit: 10, region: null, updatedAt: NOW + 1, createdAt: NOW });
    await expectApiError(updateChannel(database.db, LIMITS, owner.principal, channel.id, { name: 'bad\u200bname' }, NOW + 2), 'validation_failed', 'name');
    expect((await getChannel(database.db, owner.principal, channel.id)).name).toBe('New');
  });

  it('refuses members without manage (forbidden) and non-members of private channels (not_found)', async () => {
    const channel = await createChannel(database.db, LIMITS, owner.principal, { name: 'Room' }, NOW);
    await expectApiError(updateChannel(database.db, LIMITS, other.principal, channel.id, { name: 'Mine' }, NOW), 'not_found');
    await putMember(database.db, owner.principal, channel.id, other.userId, {}, NOW);
    await expectApiError(updateChannel(database.db, LIMITS, other.principal, channel.id, { name: 'Mine' }, NOW), 'forbidden');
    await putMember(database.db, owner.principal, channel.id, other.userId, { permissions: ['listen', 'manage'] }, NOW);
    expect((await updateChannel(database.db, LIMITS, other.principal, channel.id, { name: 'Managed' }, NOW)).name).toBe('Managed');
  });

  it('refuses a member limit below the current member count (409 conflict, memberLimit)', async () => {
    const channel = await createChannel(database.db, LIMITS, owner.principal, { name: 'Room', visibility: 'open' }, NOW);
    await joinChannel(database.db, other.principal, channel.id, NOW);
    await expectApiError(updateChannel(database.db, LIMITS, owner.principal, channel.id, { memberLimit: 1 }, NOW), 'conflict', 'memberLimit');
    expect((await updateChannel(database.db, LIMITS, owner.principal, channel.id, { memberLimit: 2 }, NOW)).memberLimit).toBe(2);
  });
});

describe('deleting channels', () => {
  it('only the owner deletes; it returns the channel and its members, and removes members and bans', async () => {
    const channel = await createChannel(database.db, LIMITS, owner.principal, { name: 'Doomed', visibility: 'open' }, NOW);
    await joinChannel(database.db, other.principal, channel.id, NOW);
    const app = await createTestAppUser(database.db, TEST_CONFIG, []);
    await banSubject(database.db, owner.principal, channel.id, app.subject, undefined, NOW);
    await expectApiError(deleteChannel(database.db, other.principal, channel.id), 'forbidden');
    const deleted = await deleteChannel(database.db, owner.principal, channel.id);
    expect(deleted).toEqual({ id: channel.id, name: 'Doomed', ownerId: owner.userId, memberUserIds: [owner.userId, other.userId].sort() });
    expect(await loadChannel(database.db, owner.principal, channel.id)).toBeNull();
    expect(await countRows('channel_members')).toBe(0);
    expect(await countRows('channel_bans')).toBe(0);
    await expectApiError(deleteChannel(database.db, owner.principal, channel.id), 'not_found');
  });

  it('a private channel is not_found for a stranger who tries to delete it; operators delete any channel', async () => {
    const channel = await createChannel(database.db, LIMITS, owner.principal, { name: 'Private' }, NOW);
    await expectApiError(deleteChannel(database.db, other.principal, channel.id), 'not_found');
    expect((await deleteChannel(database.db, OPERATOR, channel.id)).memberUserIds).toEqual([owner.userId]);
  });
});

describe('on a file: database', () => {
  it('creates, lists, updates and deletes through the same code', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-channels-'));
    const fileDatabase = await openMigratedTestDatabase(`file:${join(dir, 'control.db')}`);
    try {
      const alice = await createTestAccount(fileDatabase.db, TEST_CONFIG);
      const channel = await createChannel(fileDatabase.db, LIMITS, alice.principal, { name: 'On disk', visibility: 'open' }, NOW);
      expect((await listChannels(fileDatabase.db, alice.principal, 'member', { after: undefined, limit: 10 })).items.map((c) => c.id)).toEqual([channel.id]);
      expect((await updateChannel(fileDatabase.db, LIMITS, alice.principal, channel.id, { name: 'Renamed' }, NOW + 1)).name).toBe('Renamed');
      expect((await deleteChannel(fileDatabase.db, alice.principal, channel.id)).memberUserIds).toEqual([alice.userId]);
    } finally {
      fileDatabase.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
