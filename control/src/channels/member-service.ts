/**
 * Channel members: list, add or change, remove, join an open channel, leave, and transfer
 * ownership. Knows no HTTP; who may do what is decided by access.ts.
 *
 * The member limit is enforced by the database, in the one INSERT that adds a member
 * (insertMemberWithinLimit): the count, the ban check and the insert are one statement, which
 * SQLite runs under its write lock, so concurrent joins cannot overshoot the limit whatever
 * they read before.
 */
import { and, eq, sql, type SQL } from 'drizzle-orm';
import type { AccountPrincipal } from '../auth/principal.js';
import type { Database } from '../db/client.js';
import { pageOf, type Page, type PageKey } from '../db/keyset-page.js';
import { channelMembers, channels, users } from '../db/schema.js';
import { ApiError } from '../http/errors.js';
import { ALL_PERMISSION_BITS, decideMemberChange, type ChannelActor, type MemberTarget } from './access.js';
import { authorizeChannel, getChannel, loadChannel, refusalError, type ChannelView, type ListOptions } from './channel-service.js';
import { permissionBits, permissionsFromBits, ROLE_DEFAULT_PERMISSIONS, type ChannelRole, type Permission } from './permissions.js';

export interface MemberRecord {
  readonly userId: string;
  readonly username: string;
  readonly role: ChannelRole;
  readonly permissions: Permission[];
  readonly joinedAt: number;
}

const memberColumns = {
  userId: channelMembers.userId,
  username: users.username,
  role: channelMembers.role,
  permissions: channelMembers.permissions,
  joinedAt: channelMembers.joinedAt,
};

function toMember(row: { userId: string; username: string; role: ChannelRole; permissions: number; joinedAt: number }): MemberRecord {
  return { ...row, permissions: permissionsFromBits(row.permissions) };
}

async function findMember(db: Database, channelId: string, userId: string): Promise<MemberRecord | null> {
  const rows = await db
    .select(memberColumns)
    .from(channelMembers)
    .innerJoin(users, eq(users.id, channelMembers.userId))
    .where(and(eq(channelMembers.channelId, channelId), eq(channelMembers.userId, userId)))
    .limit(1);
  return rows[0] === undefined ? null : toMember(rows[0]);
}

/** Members, in the order they joined (joinedAt, then user id). Members (and operators) only. */
export async function listMembers(db: Database, actor: ChannelActor, channelId: string, options: ListOptions): Promise<Page<MemberRecord>> {
  const { access } = await authorizeChannel(db, actor, channelId, 'view');
  if (access.banned) throw new ApiError('banned');
  if (actor.kind !== 'operator' && access.role === null) throw new ApiError('forbidden');
  const after: SQL | undefined = options.after === undefined ? undefined : sql`(${channelMembers.joinedAt}, ${channelMembers.userId}) > (${options.after.at}, ${options.after.id})`;
  const rows = await db
    .select(memberColumns)
    .from(channelMembers)
    .innerJoin(users, eq(users.id, channelMembers.userId))
    .where(and(eq(channelMembers.channelId, channelId), after))
    .orderBy(channelMembers.joinedAt, channelMembers.userId)
    .limit(options.limit + 1);
  return pageOf(rows.map(toMember), options.limit, (m): PageKey => ({ at: m.joinedAt, id: m.userId }));
}

/**
 * Adds an account to a channel in one statement, only if the channel exists (and is open, when
 * `requireOpen`), the account exists, the account is not banned and the channel has room.
 * Returns whether a row was inserted; an existing membership is left as it is.
 */
async function insertMemberWithinLimit(
  db: Database,
  member: { channelId: string; userId: string; role: ChannelRole; permissions: number; now: number; requireOpen: boolean },
): Promise<boolean> {
  const openOnly = member.requireOpen ? sql`AND c.visibility = 'open'` : sql``;
  const result = await db.run(sql`
    INSERT INTO channel_members (channel_id, user_id, role, permissions, joined_at)
    SELECT c.id, u.id, ${member.role}, ${member.permissions}, ${member.now}
    FROM channels AS c JOIN users AS u ON u.id = ${member.userId}
    WHERE c.id = ${member.channelId} ${openOnly}
      AND (SELECT count(*) FROM channel_members AS m WHERE m.channel_id = c.id) < c.member_limit
      AND NOT EXISTS (SELECT 1 FROM channel_bans AS b WHERE b.channel_id = c.id AND b.subject = u.id)
    ON CONFLICT (channel_id, user_id) DO NOTHING`);
  return result.rowsAffected === 1;
}

/** Why insertMemberWithinLimit inserted nothing, read afterwards. Null: the account is a member now. */
async function whyNotAdded(db: Database, channelId: string, userId: string, requireOpen: boolean): Promise<ApiError | null> {
  const rows = await db
    .select({
      visibility: channels.visibility,
      memberLimit: channels.memberLimit,
      memberCount: sql<number>`(SELECT count(*) FROM channel_members AS m WHERE m.channel_id = ${channels.id})`.mapWith(Number),
      isMember: sql<number>`EXISTS (SELECT 1 FROM channel_members AS m WHERE m.channel_id = ${channels.id} AND m.user_id = ${userId})`.mapWith(Number),
      banned: sql<number>`EXISTS (SELECT 1 FROM channel_bans AS b WHERE b.channel_id = ${channels.id} AND b.subject = ${userId})`.mapWith(Number),
      userExists: sql<number>`EXISTS (SELECT 1 FROM users AS u WHERE u.id = ${userId})`.mapWith(Number),
    })
    .from(channels)
    .where(eq(channels.id, channelId))
    .limit(1);
  const row = rows[0];
  if (row === undefined) return new ApiError('not_found');
  if (row.isMember !== 0) return null;
  if (row.userExists === 0) return new ApiError('not_found', { field: 'userId', message: 'No such account.' });
  if (row.banned !== 0) return bannedTarget();
  if (requireOpen && row.visibility !== 'open') return new ApiError('forbidden');
  if (row.memberCount >= row.memberLimit) return new ApiError('channel_full');
  return new ApiError('conflict');
}

function bannedTarget(): ApiError {
  return new ApiError('banned', { message: 'That account is banned from this channel.' });
}

export interface PutMemberInput {
  readonly role?: Exclude<ChannelRole, 'owner'> | undefined;
  readonly permissions?: readonly Permission[] | undefined;
}

export interface PutMemberResult {
  readonly member: MemberRecord;
  /** True when the account was added, false when an existing membership was changed. */
  readonly created: boolean;
}

/**
 * Adds an account to the channel, or changes its role or permissions (`manage`; the hierarchy
 * rules are access.ts decideMemberChange). Without `permissions`, a new member or a changed role
 * gets the role's defaults and an unchanged role keeps its permissions.
 */
export async function putMember(db: Database, actor: ChannelActor, channelId: string, userId: string, input: PutMemberInput, now: number): Promise<PutMemberResult> {
  const { loaded, access } = await authorizeChannel(db, actor, channelId, 'view');
  const current = await findMember(db, channelId, userId);
  const role: Exclude<ChannelRole, 'owner'> = input.role ?? (current?.role === 'admin' ? 'admin' : 'member');
  const bits =
    input.permissions !== undefined
      ? permissionBits(input.permissions)
      : current === null || input.role !== undefined
        ? permissionBits(ROLE_DEFAULT_PERMISSIONS[role])
        : permissionBits(current.permissions);
  const target: MemberTarget = { subject: userId, currentRole: current?.role ?? null, isOwner: loaded.channel.ownerId === userId };
  const decision = decideMemberChange(actor, access, target, { kind: 'set', role, permissions: bits });
  if (decision !== 'allowed') throw refusalError(decision);

  if (current !== null) {
    // Conditional on the role we decided on, so a concurrent promotion is not overwritten.
    const updated = await db
      .update(channelMembers)
      .set({ role, permissions: bits })
      .where(and(eq(channelMembers.channelId, channelId), eq(channelMembers.userId, userId), eq(channelMembers.role, current.role)))
      .returning({ userId: channelMembers.userId });
    if (updated.length === 0) throw new ApiError('conflict');
    return { member: { ...current, role, permissions: permissionsFromBits(bits) }, created: false };
  }
  if (!(await insertMemberWithinLimit(db, { channelId, userId, role, permissions: bits, now, requireOpen: false }))) {
    throw (await whyNotAdded(db, channelId, userId, false)) ?? new ApiError('conflict');
  }
  const member = await findMember(db, channelId, userId);
  if (member === null) throw new ApiError('conflict');
  return { member, created: true };
}

/** What leaving or removal ended, for the voice room (it drops that account's socket). */
export interface EndedMembership {
  readonly channelId: string;
  readonly userId: string;
  readonly role: ChannelRole;
}

/**
 * Removes a member (`manage`; hierarchy rules in access.ts). Removing yourself is leaving.
 * A member that is not there is not_found.
 */
export async function removeMember(db: Database, actor: ChannelActor, channelId: string, userId: string): Promise<EndedMembership> {
  if (actor.kind === 'account' && actor.userId === userId) return leaveChannel(db, actor, channelId);
  const { loaded, access } = await authorizeChannel(db, actor, channelId, 'view');
  const current = await findMember(db, channelId, userId);
  const target: MemberTarget = { subject: userId, currentRole: current?.role ?? null, isOwner: loaded.channel.ownerId === userId };
  const decision = decideMemberChange(actor, access, target, { kind: 'remove' });
  if (decision !== 'allowed') throw refusalError(decision);
  if (current === null) throw noSuchMember();
  const removed = await db
    .delete(channelMembers)
    .where(and(eq(channelMembers.channelId, channelId), eq(channelMembers.userId, userId), eq(channelMembers.role, current.role)))
    .returning({ role: channelMembers.role });
  if (removed.length === 0) throw (await findMember(db, channelId, userId)) === null ? noSuchMember() : new ApiError('conflict');
  return { channelId, userId, role: current.role };
}

function noSuchMember(): ApiError {
  return new ApiError('not_found', { message: 'No such member.' });
}

export interface JoinResult {
  readonly member: MemberRecord;
  /** False when the account already was a member (joining is idempotent). */
  readonly created: boolean;
}

/** An account joins an open channel itself, as a member with the member defaults. */
export async function joinChannel(db: Database, principal: AccountPrincipal, channelId: string, now: number): Promise<JoinResult> {
  const { loaded } = await authorizeChannel(db, principal, channelId, 'join');
  let created = false;
  if (loaded.membership === null) {
    created = await insertMemberWithinLimit(db, {
      channelId,
      userId: principal.userId,
      role: 'member',
      permissions: permissionBits(ROLE_DEFAULT_PERMISSIONS.member),
      now,
      requireOpen: true,
    });
    if (!created) {
      // Null: a concurrent join of the same account got there first; answer as for a member.
      const reason = await whyNotAdded(db, channelId, principal.userId, true);
      if (reason !== null) throw reason.code === 'banned' ? new ApiError('banned') : reason;
    }
  }
  const member = await findMember(db, channelId, principal.userId);
  if (member === null) throw new ApiError('conflict');
  return { member, created };
}

/**
 * An account leaves a channel. The owner cannot (409 conflict): ownership moves first
 * (transferOwnership), or the owner deletes the channel.
 */
export async function leaveChannel(db: Database, principal: AccountPrincipal, channelId: string): Promise<EndedMembership> {
  const { loaded, access } = await authorizeChannel(db, principal, channelId, 'view');
  if (access.role === 'owner') throw ownerCannotLeave();
  if (loaded.membership === null) throw new ApiError('not_found', { message: 'You are not a member of this channel.' });
  const removed = await db
    .delete(channelMembers)
    .where(
      and(
        eq(channelMembers.channelId, channelId),
        eq(channelMembers.userId, principal.userId),
        sql`${channelMembers.role} <> 'owner'`,
        sql`NOT EXISTS (SELECT 1 FROM channels AS c WHERE c.id = ${channelId} AND c.owner_id = ${principal.userId})`,
      ),
    )
    .returning({ role: channelMembers.role });
  const row = removed[0];
  if (row === undefined) {
    const now = await findMember(db, channelId, principal.userId);
    throw now === null ? new ApiError('not_found', { message: 'You are not a member of this channel.' }) : ownerCannotLeave();
  }
  return { channelId, userId: principal.userId, role: row.role };
}

function ownerCannotLeave(): ApiError {
  return new ApiError('conflict', { message: 'The owner cannot leave; transfer ownership first or delete the channel.' });
}

/**
 * The owner hands the channel to another member, who becomes owner; the old owner stays as an
 * admin with every permission. One transaction; each step is conditional on the one before, so
 * a transfer racing another leaves exactly one owner.
 */
export async function transferOwnership(db: Database, principal: AccountPrincipal, channelId: string, newOwnerId: string, now: number): Promise<ChannelView> {
  const { access } = await authorizeChannel(db, principal, channelId, 'view');
  if (access.role !== 'owner') throw new ApiError('forbidden');
  if (newOwnerId === principal.userId) throw new ApiError('conflict', { field: 'userId', message: 'userId: is already the owner.' });
  if ((await findMember(db, channelId, newOwnerId)) === null) {
    throw new ApiError('conflict', { field: 'userId', message: 'userId: must be a member of the channel.' });
  }
  const ownerIsNew = sql`(SELECT c.owner_id FROM channels AS c WHERE c.id = ${channelId}) = ${newOwnerId}`;
  const [moved] = await db.batch([
    db
      .update(channels)
      .set({ ownerId: newOwnerId, updatedAt: now })
      .where(
        and(
          eq(channels.id, channelId),
          eq(channels.ownerId, principal.userId),
          sql`EXISTS (SELECT 1 FROM channel_members AS m WHERE m.channel_id = ${channelId} AND m.user_id = ${newOwnerId})`,
        ),
      )
      .returning({ id: channels.id }),
    db
      .update(channelMembers)
      .set({ role: 'admin', permissions: ALL_PERMISSION_BITS })
      .where(and(eq(channelMembers.channelId, channelId), eq(channelMembers.userId, principal.userId), ownerIsNew)),
    db
      .update(channelMembers)
      .set({ role: 'owner', permissions: ALL_PERMISSION_BITS })
      .where(and(eq(channelMembers.channelId, channelId), eq(channelMembers.userId, newOwnerId), ownerIsNew)),
  ]);
  if (moved.length === 0) {
    const still = await loadChannel(db, principal, channelId);
    if (still === null) throw new ApiError('not_found');
    if (still.channel.ownerId !== principal.userId) throw new ApiError('forbidden');
    throw new ApiError('conflict', { field: 'userId', message: 'userId: must be a member of the channel.' });
  }
  return getChannel(db, principal, channelId);
}
