/**
 * Channel bans, by subject: an account's user id (`usr_…`), or an app user's subject
 * `<appKeyId>:<externalUserId>` (auth/principal.ts), so a banned app user cannot come back with
 * a freshly minted token either. Banning removes the membership in the same transaction; a
 * banned account cannot join or be added again until unbanned. Knows no HTTP.
 */
import { and, eq, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { pageOf, type Page, type PageKey } from '../db/keyset-page.js';
import { channelBans, channelMembers } from '../db/schema.js';
import { ApiError } from '../http/errors.js';
import { decideMemberChange, type ChannelActor, type MemberTarget } from './access.js';
import { normalizeBanReason } from './channel-names.js';
import { authorizeChannel, refusalError, type ListOptions } from './channel-service.js';
import type { ChannelRole } from './permissions.js';

/** Access tokens carry subjects of at most 256 characters (auth/access-tokens.ts). */
export const MAX_BAN_SUBJECT_LENGTH = 256;

/**
 * A ban subject: `usr_` + 26 of [a-z2-7], or `ak_` + 26 of [a-z2-7] + `:` + an external user id
 * of at least one character without control characters, 256 characters in all.
 */
export const BAN_SUBJECT_PATTERN = /^(?:usr_[a-z2-7]{26}|ak_[a-z2-7]{26}:[^\p{Cc}]+)$/u;

export function isBanSubject(subject: string): boolean {
  return subject.length <= MAX_BAN_SUBJECT_LENGTH && BAN_SUBJECT_PATTERN.test(subject);
}

export interface BanRecord {
  readonly subject: string;
  readonly reason: string | null;
  /** The subject (or, for operators, the app key id) that banned. */
  readonly bannedBy: string;
  readonly createdAt: number;
}

export interface BanResult {
  readonly ban: BanRecord;
  /** False when the subject was already banned (the reason is replaced). */
  readonly created: boolean;
  /** The membership the ban ended, if the subject was a member: the voice room drops its socket. */
  readonly removedMembership: { readonly userId: string; readonly role: ChannelRole } | null;
}

function checkReason(raw: string | null | undefined): string | null {
  if (raw === undefined || raw === null) return null;
  const result = normalizeBanReason(raw);
  if (!result.ok) throw new ApiError('validation_failed', { field: 'reason', message: `reason: ${result.problem}.` });
  return result.text;
}

function actorName(actor: ChannelActor): string {
  return actor.kind === 'operator' ? actor.appKeyId : actor.subject;
}

async function findBan(db: Database, channelId: string, subject: string): Promise<BanRecord | null> {
  const rows = await db
    .select({ subject: channelBans.subject, reason: channelBans.reason, bannedBy: channelBans.bannedBy, createdAt: channelBans.createdAt })
    .from(channelBans)
    .where(and(eq(channelBans.channelId, channelId), eq(channelBans.subject, subject)))
    .limit(1);
  return rows[0] ?? null;
}

/** Bans, oldest first (createdAt, then subject). Needs `moderate`. */
export async function listBans(db: Database, actor: ChannelActor, channelId: string, options: ListOptions): Promise<Page<BanRecord>> {
  await authorizeChannel(db, actor, channelId, 'moderate');
  const after: SQL | undefined = options.after === undefined ? undefined : sql`(${channelBans.createdAt}, ${channelBans.subject}) > (${options.after.at}, ${options.after.id})`;
  const rows = await db
    .select({ subject: channelBans.subject, reason: channelBans.reason, bannedBy: channelBans.bannedBy, createdAt: channelBans.createdAt })
    .from(channelBans)
    .where(and(eq(channelBans.channelId, channelId), after))
    .orderBy(channelBans.createdAt, channelBans.subject)
    .limit(options.limit + 1);
  return pageOf(rows, options.limit, (b): PageKey => ({ at: b.createdAt, id: b.subject }));
}

/**
 * Bans `subject` (`moderate`; nobody bans the owner or themselves, only the owner or an operator
 * bans an admin) and ends its membership. Banning again replaces the reason.
 *
 * One transaction of two statements: the ban is written only if the subject is not (any more)
 * in a role the actor may not ban, and the membership is deleted only if the ban is there, so a
 * promotion racing the ban cannot leave a banned admin or an unbanned removal.
 */
export async function banSubject(db: Database, actor: ChannelActor, channelId: string, subject: string, reason: string | null | undefined, now: number): Promise<BanResult> {
  const storedReason = checkReason(reason);
  const { loaded, access } = await authorizeChannel(db, actor, channelId, 'view');
  const memberRows = await db
    .select({ role: channelMembers.role })
    .from(channelMembers)
    .where(and(eq(channelMembers.channelId, channelId), eq(channelMembers.userId, subject)))
    .limit(1);
  const target: MemberTarget = { subject, currentRole: memberRows[0]?.role ?? null, isOwner: loaded.channel.ownerId === subject };
  const decision = decideMemberChange(actor, access, target, { kind: 'ban' });
  if (decision !== 'allowed') throw refusalError(decision);

  const before = await findBan(db, channelId, subject);
  const protectedRoles = actor.kind === 'operator' || access.role === 'owner' ? sql`('owner')` : sql`('owner', 'admin')`;
  const [written, removed] = await db.batch([
    db.run(sql`
      INSERT INTO channel_bans (channel_id, subject, banned_by, reason, created_at)
      SELECT c.id, ${subject}, ${actorName(actor)}, ${storedReason}, ${now}
      FROM channels AS c
      WHERE c.id = ${channelId}
        AND c.owner_id IS NOT ${subject}
        AND NOT EXISTS (SELECT 1 FROM channel_members AS m WHERE m.channel_id = c.id AND m.user_id = ${subject} AND m.role IN ${protectedRoles})
      ON CONFLICT (channel_id, subject) DO UPDATE SET reason = excluded.reason, banned_by = excluded.banned_by`),
    db
      .delete(channelMembers)
      .where(
        and(
          eq(channelMembers.channelId, channelId),
          eq(channelMembers.userId, subject),
          sql`${channelMembers.role} <> 'owner'`,
          sql`EXISTS (SELECT 1 FROM channel_bans AS b WHERE b.channel_id = ${channelId} AND b.subject = ${subject})`,
        ),
      )
      .returning({ userId: channelMembers.userId, role: channelMembers.role }),
  ]);
  if (written.rowsAffected === 0) {
    // The channel went away, or the subject was promoted meanwhile.
    throw (await findChannelExists(db, channelId)) ? new ApiError('conflict') : new ApiError('not_found');
  }
  const ban = await findBan(db, channelId, subject);
  if (ban === null) throw new ApiError('conflict');
  return { ban, created: before === null, removedMembership: removed[0] ?? null };
}

async function findChannelExists(db: Database, channelId: string): Promise<boolean> {
  const rows = await db.run(sql`SELECT 1 FROM channels WHERE id = ${channelId}`);
  return rows.rows.length > 0;
}

/** Lifts a ban (`moderate`). A subject that is not banned is not_found. */
export async function unbanSubject(db: Database, actor: ChannelActor, channelId: string, subject: string): Promise<void> {
  await authorizeChannel(db, actor, channelId, 'moderate');
  const removed = await db
    .delete(channelBans)
    .where(and(eq(channelBans.channelId, channelId), eq(channelBans.subject, subject)))
    .returning({ subject: channelBans.subject });
  if (removed.length === 0) throw new ApiError('not_found', { message: 'That subject is not banned from this channel.' });
}
