/**
 * The channel access decision (control/src/channels/access.ts): the one function routes and the
 * voice room ask "may this actor do X in channel Y", and the hierarchy rules for changing
 * someone's membership. Pure, so every row of the permission table in docs/protocol.md §4.4 is
 * checked here without a database.
 */
import { describe, expect, it } from 'vitest';
import {
  ALL_PERMISSION_BITS,
  channelAccess,
  decideChannelAccess,
  decideMemberChange,
  type ChannelAccessFacts,
  type ChannelAction,
  type ChannelActor,
} from '../../../../control/src/channels/access.js';
import type { AccountPrincipal, AppUserPrincipal, ChannelGrant } from '../../../../control/src/auth/principal.js';
import { permissionBits, type ChannelRole, type Permission } from '../../../../control/src/channels/permissions.js';

const CHANNEL = 'chn_aaaaaaaaaaaaaaaaaaaaaaaaaa';
const OTHER_CHANNEL = 'chn_bbbbbbbbbbbbbbbbbbbbbbbbbb';
const OWNER = 'usr_oooooooooooooooooooooooooo';
const ALICE = 'usr_aaaaaaaaaaaaaaaaaaaaaaaaaa';
const BOB = 'usr_bbbbbbbbbbbbbbbbbbbbbbbbbb';

function account(userId: string): AccountPrincipal {
  return { kind: 'account', subject: userId, userId, username: userId, sessionId: 'ses_x', tokenId: 't', expiresAt: 0 };
}

function appUser(grants: ChannelGrant[]): AppUserPrincipal {
  return {
    kind: 'app_user',
    subject: 'ak_kkkkkkkkkkkkkkkkkkkkkkkkkk:ext-1',
    appKeyId: 'ak_kkkkkkkkkkkkkkkkkkkkkkkkkk',
    externalUserId: 'ext-1',
    displayName: 'ext',
    grants,
    sessionId: 'ak_kkkkkkkkkkkkkkkkkkkkkkkkkk',
    tokenId: 't',
    expiresAt: 0,
  };
}

const OPERATOR: ChannelActor = { kind: 'operator', appKeyId: 'ak_operatoroperatoroperatorop' };

function facts(options: {
  visibility?: 'open' | 'private';
  ownerId?: string | null;
  membership?: { role: ChannelRole; permissions: readonly Permission[] } | null;
  banned?: boolean;
}): ChannelAccessFacts {
  const membership = options.membership ?? null;
  return {
    channel: { id: CHANNEL, visibility: options.visibility ?? 'private', ownerId: options.ownerId === undefined ? OWNER : options.ownerId },
    membership: membership === null ? null : { role: membership.role, permissions: permissionBits(membership.permissions) },
    banned: options.banned ?? false,
  };
}

function decide(actor: ChannelActor, f: ChannelAccessFacts, action: ChannelAction): string {
  const decision = decideChannelAccess(actor, f, action);
  return decision.allowed ? 'allowed' : decision.refusal;
}

describe('decideChannelAccess', () => {
  it('hides private channels from non-members (not_found for every action) and shows open ones', () => {
    const stranger = account(ALICE);
    for (const action of ['view', 'join', 'speak', 'listen', 'moderate', 'manage'] as const) {
      expect(decide(stranger, facts({ visibility: 'private' }), action), action).toBe('not_found');
    }
    expect(decide(stranger, facts({ visibility: 'open' }), 'view')).toBe('allowed');
    expect(decide(stranger, facts({ visibility: 'open' }), 'join')).toBe('allowed');
    expect(decide(stranger, facts({ visibility: 'open' }), 'speak')).toBe('forbidden');
  });

  it('gives a member exactly the permissions of its row', () => {
    const member = facts({ membership: { role: 'member', permissions: ['listen'] } });
    expect(decide(account(ALICE), member, 'view')).toBe('allowed');
    expect(decide(account(ALICE), member, 'listen')).toBe('allowed');
    expect(decide(account(ALICE), member, 'speak')).toBe('forbidden');
    expect(decide(account(ALICE), member, 'moderate')).toBe('forbidden');
    expect(decide(account(ALICE), member, 'manage')).toBe('forbidden');
    // A member of a private channel "joining" again is allowed (a no-op).
    expect(decide(account(ALICE), member, 'join')).toBe('allowed');
  });

  it('gives the owner every permission whatever its row says', () => {
    const f = facts({ membership: { role: 'owner', permissions: [] } });
    for (const action of ['speak', 'listen', 'moderate', 'manage'] as const) expect(decide(account(OWNER), f, action), action).toBe('allowed');
    expect(channelAccess(account(OWNER), f)).toEqual({ visible: true, banned: false, role: 'owner', permissions: ALL_PERMISSION_BITS });
  });

  it('refuses a banned account everything but seeing an open channel', () => {
    const f = facts({ visibility: 'open', banned: true });
    expect(decide(account(ALICE), f, 'view')).toBe('allowed');
    expect(decide(account(ALICE), f, 'join')).toBe('banned');
    expect(decide(account(ALICE), f, 'listen')).toBe('banned');
    expect(channelAccess(account(ALICE), f).permissions).toBe(0);
    // Banned from a private channel: it stays invisible.
    expect(decide(account(ALICE), facts({ visibility: 'private', banned: true }), 'view')).toBe('not_found');
  });

  it('gives an app user the union of its grants for the channel and for "*", and nothing elsewhere', () => {
    const user = appUser([
      { channelId: CHANNEL, permissions: ['listen'] },
      { channelId: '*', permissions: ['speak'] },
      { channelId: OTHER_CHANNEL, permissions: ['moderate'] },
    ]);
    const f = facts({ visibility: 'private' });
    expect(decide(user, f, 'view')).toBe('allowed');
    expect(decide(user, f, 'listen')).toBe('allowed');
    expect(decide(user, f, 'speak')).toBe('allowed');
    expect(decide(user, f, 'moderate')).toBe('forbidden');
    expect(channelAccess(user, f)).toEqual({ visible: true, banned: false, role: null, permissions: permissionBits(['listen', 'speak']) });
    // An app user never joins through the account route.
    expect(decide(user, facts({ visibility: 'open' }), 'join')).toBe('forbidden');
  });

  it('hides every channel, open ones too, from an app user without a grant for it', () => {
    const user = appUser([{ channelId: OTHER_CHANNEL, permissions: ['speak', 'listen'] }]);
    expect(decide(user, facts({ visibility: 'open' }), 'view')).toBe('not_found');
    expect(decide(user, facts({ visibility: 'private' }), 'listen')).toBe('not_found');
  });

  it('refuses a banned app user despite its grant', () => {
    const user = appUser([{ channelId: '*', permissions: ['speak', 'listen'] }]);
    expect(decide(user, facts({ banned: true }), 'listen')).toBe('banned');
    expect(channelAccess(user, facts({ banned: true })).permissions).toBe(0);
  });

  it('lets an operator do everything', () => {
    for (const action of ['view', 'speak', 'listen', 'moderate', 'manage'] as const) {
      expect(decide(OPERATOR, facts({ ownerId: null }), action), action).toBe('allowed');
    }
    expect(decide(OPERATOR, facts({}), 'join')).toBe('forbidden');
  });
});

describe('decideMemberChange', () => {
  const ownerFacts = facts({ membership: { role: 'owner', permissions: ['speak', 'listen', 'moderate', 'manage'] } });
  const adminFacts = facts({ membership: { role: 'admin', permissions: ['speak', 'listen', 'moderate', 'manage'] } });
  const managerFacts = facts({ membership: { role: 'member', permissions: ['listen', 'manage'] } });
  const moderatorFacts = facts({ membership: { role: 'member', permissions: ['speak', 'listen', 'moderate'] } });
  const plainFacts = facts({ membership: { role: 'member', permissions: ['speak', 'listen'] } });
  const member = { subject: BOB, currentRole: 'member' as const, isOwner: false };
  const admin = { subject: BOB, currentRole: 'admin' as const, isOwner: false };
  const newcomer = { subject: BOB, currentRole: null, isOwner: false };
  const owner = { subject: OWNER, currentRole: 'owner' as const, isOwner: true };
  const asMember = (permissions: Permission[]) => ({ kind: 'set' as const, role: 'member' as const, permissions: permissionBits(permissions) });
  const asAdmin = { kind: 'set' as const, role: 'admin' as const, permissions: ALL_PERMISSION_BITS };

  function change(actor: ChannelActor, f: ChannelAccessFacts, target: Parameters<typeof decideMemberChange>[2], c: Parameters<typeof decideMemberChange>[3]) {
    return decideMemberChange(actor, channelAccess(actor, f), target, c);
  }

  it('adding and removing need manage; banning needs moderate', () => {
    expect(change(account(ALICE), managerFacts, newcomer, asMember(['listen']))).toBe('allowed');
    expect(change(account(ALICE), managerFacts, member, { kind: 'remove' })).toBe('allowed');
    expect(change(account(ALICE), managerFacts, member, { kind: 'ban' })).toBe('forbidden');
    expect(change(account(ALICE), moderatorFacts, member, { kind: 'ban' })).toBe('allowed');
    expect(change(account(ALICE), moderatorFacts, newcomer, asMember(['listen']))).toBe('forbidden');
    expect(change(account(ALICE), plainFacts, newcomer, asMember(['listen']))).toBe('forbidden');
    expect(change(account(ALICE), plainFacts, member, { kind: 'remove' })).toBe('forbidden');
  });

  it('nobody changes, removes or bans the owner, not even an operator', () => {
    for (const c of [asMember(['listen']), { kind: 'remove' as const }, { kind: 'ban' as const }, asAdmin]) {
      expect(change(account(ALICE), adminFacts, owner, c)).toBe('forbidden');
      expect(change(OPERATOR, facts({}), owner, c)).toBe('forbidden');
    }
    // Even when the owner has no membership row.
    expect(change(account(ALICE), adminFacts, { subject: OWNER, currentRole: null, isOwner: true }, { kind: 'ban' })).toBe('forbidden');
  });

  it('only the owner or an operator makes, changes, removes or bans admins', () => {
    expect(change(account(OWNER), ownerFacts, newcomer, asAdmin)).toBe('allowed');
    expect(change(OPERATOR, facts({ ownerId: null }), newcomer, asAdmin)).toBe('allowed');
    expect(change(account(ALICE), adminFacts, newcomer, asAdmin)).toBe('forbidden');
    expect(change(account(ALICE), adminFacts, member, asAdmin)).toBe('forbidden');
    for (const c of [asMember(['listen']), { kind: 'remove' as const }, { kind: 'ban' as const }]) {
      expect(change(account(ALICE), adminFacts, admin, c)).toBe('forbidden');
      expect(change(account(OWNER), ownerFacts, admin, c)).toBe('allowed');
    }
    // Admins manage ordinary members.
    expect(change(account(ALICE), adminFacts, member, asMember(['speak', 'listen', 'moderate']))).toBe('allowed');
  });

  it('grants no permission the actor lacks', () => {
    expect(change(account(ALICE), managerFacts, newcomer, asMember(['listen', 'manage']))).toBe('allowed');
    expect(change(account(ALICE), managerFacts, newcomer, asMember(['speak']))).toBe('forbidden');
    expect(change(account(ALICE), managerFacts, newcomer, asMember(['moderate']))).toBe('forbidden');
  });

  it('nobody changes or bans themselves through these', () => {
    const self = { subject: ALICE, currentRole: 'admin' as const, isOwner: false };
    expect(change(account(ALICE), adminFacts, { ...self }, { kind: 'ban' })).toBe('forbidden');
    const selfMember = { subject: ALICE, currentRole: 'member' as const, isOwner: false };
    expect(change(account(ALICE), managerFacts, selfMember, asMember(['listen']))).toBe('forbidden');
  });

  it('refuses a banned or blind actor before anything else', () => {
    expect(change(account(ALICE), facts({ visibility: 'private' }), member, { kind: 'remove' })).toBe('not_found');
    expect(change(account(ALICE), facts({ visibility: 'open', banned: true }), member, { kind: 'ban' })).toBe('banned');
  });
});
