/**
 * Channel bans on the real libSQL engine (control/src/channels/ban-service.ts): by account and
 * by app-user subject, removing the membership, blocking joins and re-adds, the hierarchy
 * rules, the reason rule, listing and unbanning.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OperatorActor } from '../../../../control/src/channels/access.js';
import { banSubject, isBanSubject, listBans, unbanSubject } from '../../../../control/src/channels/ban-service.js';
import { createChannel, getChannel } from '../../../../control/src/channels/channel-service.js';
import { joinChannel, putMember } from '../../../../control/src/channels/member-service.js';
import { openMigratedTestDatabase, type TestDatabase } from '../../../support/control-database.js';
import { createTestAccount, createTestAppUser, type TestAccount } from '../../../support/test-principals.js';
import { expectApiError, LIMITS, TEST_CONFIG } from './helpers.js';

const OPERATOR: OperatorActor = { kind: 'operator', appKeyId: 'ak_operatoroperatoroperatorop' };
const NOW = 1_800_000_000_000;

let database: TestDatabase;
let owner: TestAccount;
let moderator: TestAccount;
let alice: TestAccount;
let channelId: string;

beforeEach(async () => {
  database = await openMigratedTestDatabase();
  owner = await createTestAccount(database.db, TEST_CONFIG, { username: 'owner' });
  moderator = await createTestAccount(database.db, TEST_CONFIG, { username: 'moderator' });
  alice = await createTestAccount(database.db, TEST_CONFIG, { username: 'alice' });
  channelId = (await createChannel(database.db, LIMITS, owner.principal, { name: 'Lobby', visibility: 'open' }, NOW)).id;
  await putMember(database.db, owner.principal, channelId, moderator.userId, { permissions: ['speak', 'listen', 'moderate'] }, NOW);
});

afterEach(() => database.close());

describe('bans', () => {
  it('banning a member removes the membership in the same step; the banned account cannot join or be re-added', async () => {
    await joinChannel(database.db, alice.principal, channelId, NOW);
    const result = await banSubject(database.db, moderator.principal, channelId, alice.userId, '  flooding  ', NOW + 1);
    expect(result).toEqual({
      created: true,
      ban: { subject: alice.userId, reason: 'flooding', bannedBy: moderator.userId, createdAt: NOW + 1 },
      removedMembership: { userId: alice.userId, role: 'member' },
    });
    expect((await getChannel(database.db, owner.principal, channelId)).memberCount).toBe(2);
    await expectApiError(joinChannel(database.db, alice.principal, channelId, NOW), 'banned');
    await expectApiError(putMember(database.db, owner.principal, channelId, alice.userId, {}, NOW), 'banned');
  });

  it('banning again replaces the reason and keeps the first time; a non-member can be banned in advance', async () => {
    expect((await banSubject(database.db, moderator.principal, channelId, alice.userId, undefined, NOW)).removedMembership).toBeNull();
    const again = await banSubject(database.db, owner.principal, channelId, alice.userId, 'second thoughts', NOW + 5);
    expect(again).toMatchObject({ created: false, ban: { reason: 'second thoughts', bannedBy: owner.userId, createdAt: NOW } });
  });

  it('bans app-user subjects, which their grants then cannot overcome', async () => {
    const user = await createTestAppUser(database.db, TEST_CONFIG, [{ channelId, permissions: ['speak', 'listen'] }]);
    expect(isBanSubject(user.subject)).toBe(true);
    await banSubject(database.db, moderator.principal, channelId, user.subject, null, NOW);
    expect((await getChannel(database.db, user.principal, channelId)).you).toMatchObject({ banned: true, permissions: 0 });
  });

  it('needs moderate; nobody bans the owner or themselves; only the owner bans an admin', async () => {
    await joinChannel(database.db, alice.principal, channelId, NOW);
    await expectApiError(banSubject(database.db, alice.principal, channelId, moderator.userId, undefined, NOW), 'forbidden');
    await expectApiError(banSubject(database.db, moderator.principal, channelId, owner.userId, undefined, NOW), 'forbidden');
    await expectApiError(banSubject(database.db, OPERATOR, channelId, owner.userId, undefined, NOW), 'forbidden');
    await expectApiError(banSubject(database.db, moderator.principal, channelId, moderator.userId, undefined, NOW), 'forbidden');
    const admin = await createTestAccount(database.db, TEST_CONFIG, { username: 'admin' });
    await putMember(database.db, owner.principal, channelId, admin.userId, { role: 'admin' }, NOW);
    await expectApiError(banSubject(database.db, moderator.principal, channelId, admin.userId, undefined, NOW), 'forbidden');
    expect((await banSubject(database.db, owner.principal, channelId, admin.userId, undefined, NOW)).removedMembership).toEqual({ userId: admin.userId, role: 'admin' });
  });

  it('a private channel is not_found to strangers who try to ban in it', async () => {
    const closed = await createChannel(database.db, LIMITS, owner.principal, { name: 'Private' }, NOW);
    await expectApiError(banSubject(database.db, alice.principal, closed.id, moderator.userId, undefined, NOW), 'not_found');
  });

  it('refuses a reason that breaks the text rule, naming the field and storing nothing', async () => {
    await expectApiError(banSubject(database.db, moderator.principal, channelId, alice.userId, 'a\u202Eb', NOW), 'validation_failed', 'reason');
    await expectApiError(banSubject(database.db, moderator.principal, channelId, alice.userId, 'x'.repeat(257), NOW), 'validation_failed', 'reason');
    expect((await listBans(database.db, owner.principal, channelId, { after: undefined, limit: 10 })).items).toEqual([]);
  });

  it('lists bans oldest first with moderate; unbanning lets the account join again', async () => {
    const bob = await createTestAccount(database.db, TEST_CONFIG, { username: 'bob' });
    await banSubject(database.db, moderator.principal, channelId, alice.userId, undefined, NOW + 1);
    await banSubject(database.db, moderator.principal, channelId, bob.userId, 'spam', NOW + 2);
    const first = await listBans(database.db, moderator.principal, channelId, { after: undefined, limit: 1 });
    expect(first.items.map((b) => b.subject)).toEqual([alice.userId]);
    const second = await listBans(database.db, moderator.principal, channelId, { after: first.next!, limit: 1 });
    expect(second).toEqual({ items: [{ subject: bob.userId, reason: 'spam', bannedBy: moderator.userId, createdAt: NOW + 2 }], next: null });
    await joinChannel(database.db, (await createTestAccount(database.db, TEST_CONFIG)).principal, channelId, NOW);
    await expectApiError(listBans(database.db, alice.principal, channelId, { after: undefined, limit: 10 }), 'banned');

    await unbanSubject(database.db, moderator.principal, channelId, alice.userId);
    await expectApiError(unbanSubject(database.db, moderator.principal, channelId, alice.userId), 'not_found');
    expect((await joinChannel(database.db, alice.principal, channelId, NOW + 3)).created).toBe(true);
  });

  it('unbanning needs moderate', async () => {
    await banSubject(database.db, moderator.principal, channelId, alice.userId, undefined, NOW);
    const bob = await createTestAccount(database.db, TEST_CONFIG, { username: 'bob' });
    await joinChannel(database.db, bob.principal, channelId, NOW);
    await expectApiError(unbanSubject(database.db, bob.principal, channelId, alice.userId), 'forbidden');
    await unbanSubject(database.db, OPERATOR, channelId, alice.userId);
  });

  it('a ban racing a promotion never leaves a banned admin, nor a banned member', async () => {
    await joinChannel(database.db, alice.principal, channelId, NOW);
    const results = await Promise.allSettled([
      banSubject(database.db, moderator.principal, channelId, alice.userId, undefined, NOW + 1),
      putMember(database.db, owner.principal, channelId, alice.userId, { role: 'admin' }, NOW + 1),
    ]);
    for (const r of results) {
      if (r.status === 'rejected') expect(['conflict', 'forbidden', 'banned']).toContain((r.reason as { code: string }).code);
    }
    const banned = (await database.client.execute({ sql: 'SELECT 1 FROM channel_bans WHERE channel_id = ? AND subject = ?', args: [channelId, alice.userId] })).rows.length > 0;
    const member = (await database.client.execute({ sql: 'SELECT role FROM channel_members WHERE channel_id = ? AND user_id = ?', args: [channelId, alice.userId] })).rows;
    expect(banned && member.length > 0).toBe(false);
    expect(banned || member[0]?.['role'] === 'admin').toBe(true);
  });

  it('subjects are account ids or <app key id>:<external user id> without control characters', () => {
    expect(isBanSubject('usr_aaaaaaaaaaaaaaaaaaaaaaaaaa')).toBe(true);
    expect(isBanSubject('ak_aaaaaaaaaaaaaaaaaaaaaaaaaa:user 42/ü')).toBe(true);
    for (const bad of ['', 'usr_short', 'alice', 'ak_aaaaaaaaaaaaaaaaaaaaaaaaaa:', 'ak_aaaaaaaaaaaaaaaaaaaaaaaaaa:a\nb', `ak_aaaaaaaaaaaaaaaaaaaaaaaaaa:${'x'.repeat(227)}`]) {
      expect(isBanSubject(bad), JSON.stringify(bad)).toBe(false);
    }
  });
});
