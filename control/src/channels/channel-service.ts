/**
 * Channels: create, read, list, update, delete. Knows no HTTP: routes (http/channel-routes.ts)
 * and, later, the voice room call these with the Database and the actor, and every decision
 * about the actor goes through access.ts.
 *
 * Errors are ApiError with the stable codes of docs/protocol.md §4.2; a channel the actor may
 * not see is `not_found`, exactly like one that does not exist.
 */
import { and, eq, isNotNull, or, sql, type SQL } from 'drizzle-orm';
import type { AccountPrincipal } from '../auth/principal.js';
import type { Database } from '../db/client.js';
import { pageOf, type Page, type PageKey } from '../db/keyset-page.js';
import { channelMembers, channels } from '../db/schema.js';
import { ApiError } from '../http/errors.js';
import { newId } from '../ids.js';
import { isKnownRegion } from '../relays/regions.js';
import {
  ALL_PERMISSION_BITS,
  channelAccess,
  decideChannelAccess,
  type AccessRefusal,
  type ChannelAccess,
  type ChannelAccessFacts,
  type ChannelAction,
  type ChannelActor,
  type ChannelVisibility,
  type OperatorActor,
} from './access.js';
import { normalizeChannelName } from './channel-names.js';

export interface ChannelLimits {
  readonly defaultMemberLimit: number;
  readonly maxMemberLimit: number;
}

export interface ChannelRecord {
  readonly id: string;
  readonly name: string;
  readonly visibility: ChannelVisibility;
  readonly ownerId: string | null;
  readonly memberLimit: number;
  readonly region: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly memberCount: number;
}

/** A channel as one actor sees it: with the actor's standing (null for operators). */
export interface ChannelView extends ChannelRecord {
  readonly you: ChannelAccess | null;
}

/** Everything access.ts needs about one actor in one channel, plus the channel itself. */
export interface LoadedChannel extends ChannelAccessFacts {
  readonly channel: ChannelRecord;
}

export function refusalError(refusal: AccessRefusal): ApiError {
  return new ApiError(refusal);
}

// ---- input rules -------------------------------------------------------------------------

export function checkChannelName(raw: string): string {
  const result = normalizeChannelName(raw);
  if (!result.ok) throw new ApiError('validation_failed', { field: 'name', message: `name: ${result.problem}.` });
  return result.text;
}

export function checkMemberLimit(value: number | undefined, limits: ChannelLimits): number {
  if (value === undefined) return limits.defaultMemberLimit;
  if (!Number.isInteger(value) || value < 1 || value > limits.maxMemberLimit) {
    throw new ApiError('validation_failed', { field: 'memberLimit', message: `memberLimit: must be a whole number from 1 to ${limits.maxMemberLimit}.` });
  }
  return value;
}

export function checkRegion(value: string | null | undefined): string | null {
  if (value === undefined || value === null) return null;
  if (!isKnownRegion(value)) throw new ApiError('validation_failed', { field: 'region', message: 'region: is not a known relay region code.' });
  return value;
}

// ---- reading -----------------------------------------------------------------------------

const memberCount = sql<number>`(SELECT count(*) FROM channel_members AS counted WHERE counted.channel_id = ${channels.id})`.mapWith(Number);

function bannedExpression(subject: string | null): SQL<number> {
  if (subject === null) return sql<number>`0`;
  return sql<number>`EXISTS (SELECT 1 FROM channel_bans AS ban WHERE ban.channel_id = ${channels.id} AND ban.subject = ${subject})`.mapWith(Number);
}

function actorUserId(actor: ChannelActor): string | null {
  return actor.kind === 'account' ? actor.userId : null;
}

function actorBanSubject(actor: ChannelActor): string | null {
  return actor.kind === 'operator' ? null : actor.subject;
}

interface JoinedRow {
  readonly channel: typeof channels.$inferSelect;
  readonly memberCount: number;
  readonly role: 'owner' | 'admin' | 'member' | null;
  readonly permissions: number | null;
  readonly banned: number;
}

/** The channel, its member count, and one account's membership and ban, in one query. */
function selectChannelsFor(db: Database, userId: string | null, banSubject: string | null) {
  const membershipJoin = userId === null ? sql`0` : and(eq(channelMembers.channelId, channels.id), eq(channelMembers.userId, userId))!;
  return db
    .select({
      channel: channels,
      memberCount,
      role: channelMembers.role,
      permissions: channelMembers.permissions,
      banned: bannedExpression(banSubject),
    })
    .from(channels)
    .leftJoin(channelMembers, membershipJoin);
}

function toLoaded(row: JoinedRow): LoadedChannel {
  const { channel } = row;
  return {
    channel: {
      id: channel.id,
      name: channel.name,
      visibility: channel.visibility,
      ownerId: channel.ownerId,
      memberLimit: channel.memberLimit,
      region: channel.region,
      createdAt: channel.createdAt,
      updatedAt: channel.updatedAt,
      memberCount: row.memberCount,
    },
    membership: row.role === null || row.permissions === null ? null : { role: row.role, permissions: row.permissions },
    banned: row.banned !== 0,
  };
}

/**
 * Loads the facts about `actor` in the channel (or null if there is no such channel). The voice
 * room calls this and then decideChannelAccess when someone joins voice.
 */
export async function loadChannel(db: Database, actor: ChannelActor, channelId: string): Promise<LoadedChannel | null> {
  return readLoadedChannel(await loadChannelQuery(db, actor, channelId));
}

/** The query behind loadChannel, for a batch with other reads (readLoadedChannel reads its rows). */
export function loadChannelQuery(db: Database, actor: ChannelActor, channelId: string) {
  return selectChannelsFor(db, actorUserId(actor), actorBanSubject(actor)).where(eq(channels.id, channelId)).limit(1);
}

export function readLoadedChannel(rows: readonly JoinedRow[]): LoadedChannel | null {
  const row = rows[0];
  return row === undefined ? null : toLoaded(row);
}

function viewOf(actor: ChannelActor, loaded: LoadedChannel): ChannelView {
  return { ...loaded.channel, you: actor.kind === 'operator' ? null : channelAccess(actor, loaded) };
}

/**
 * Loads the channel and checks that `actor` may do `action` in it; throws not_found, banned or
 * forbidden otherwise.
 */
export async function authorizeChannel(db: Database, actor: ChannelActor, channelId: string, action: ChannelAction): Promise<{ loaded: LoadedChannel; access: ChannelAccess }> {
  const loaded = await loadChannel(db, actor, channelId);
  if (loaded === null) throw new ApiError('not_found');
  const decision = decideChannelAccess(actor, loaded, action);
  if (!decision.allowed) throw refusalError(decision.refusal);
  return { loaded, access: decision.access };
}

export async function getChannel(db: Database, actor: ChannelActor, channelId: string): Promise<ChannelView> {
  const { loaded } = await authorizeChannel(db, actor, channelId, 'view');
  return viewOf(actor, loaded);
}

/** `member`: channels the account is a member of; `open`: open channels; `all`: both. */
export type MembershipFilter = 'member' | 'open' | 'all';

export interface ListOptions {
  readonly after: PageKey | undefined;
  readonly limit: number;
}

const channelPageKey = (view: ChannelView): PageKey => ({ at: view.createdAt, id: view.id });

function afterKey(after: PageKey | undefined): SQL | undefined {
  return after === undefined ? undefined : sql`(${channels.createdAt}, ${channels.id}) > (${after.at}, ${after.id})`;
}

/**
 * The account's channels and/or the open channels, oldest first: ordered by (createdAt, id), so
 * new channels appear on the last page and a page never shifts.
 */
export async function listChannels(db: Database, principal: AccountPrincipal, filter: MembershipFilter, options: ListOptions): Promise<Page<ChannelView>> {
  const isMember = isNotNull(channelMembers.userId);
  const isOpen = eq(channels.visibility, 'open');
  const which = filter === 'member' ? isMember : filter === 'open' ? isOpen : or(isMember, isOpen);
  const rows = await selectChannelsFor(db, principal.userId, principal.subject)
    .where(and(which, afterKey(options.after)))
    .orderBy(channels.createdAt, channels.id)
    .limit(options.limit + 1);
  return pageOf(
    rows.map((row) => viewOf(principal, toLoaded(row))),
    options.limit,
    channelPageKey,
  );
}

/** Every channel, for operators, in the same order. */
export async function listAllChannels(db: Database, options: ListOptions): Promise<Page<ChannelView>> {
  const rows = await selectChannelsFor(db, null, null)
    .where(afterKey(options.after))
    .orderBy(channels.createdAt, channels.id)
    .limit(options.limit + 1);
  return pageOf(
    rows.map((row): ChannelView => ({ ...toLoaded(row).channel, you: null })),
    options.limit,
    channelPageKey,
  );
}

// ---- writing -----------------------------------------------------------------------------

export interface CreateChannelInput {
  readonly name: string;
  readonly visibility?: ChannelVisibility | undefined;
  readonly memberLimit?: number | undefined;
  readonly region?: string | null | undefined;
}

/**
 * Creates a channel. An account becomes its owner (and first member, so the member limit counts
 * it); an operator's channel has no owner and no members, for apps whose users come with minted
 * tokens. Private unless asked otherwise.
 */
export async function createChannel(
  db: Database,
  limits: ChannelLimits,
  actor: AccountPrincipal | OperatorActor,
  input: CreateChannelInput,
  now: number,
): Promise<ChannelView> {
  const row = {
    id: newId('chn'),
    name: checkChannelName(input.name),
    visibility: input.visibility ?? 'private',
    ownerId: actor.kind === 'account' ? actor.userId : null,
    memberLimit: checkMemberLimit(input.memberLimit, limits),
    region: checkRegion(input.region),
    createdAt: now,
    updatedAt: now,
  } as const;
  if (actor.kind === 'account') {
    await db.batch([
      db.insert(channels).values(row),
      db.insert(channelMembers).values({ channelId: row.id, userId: actor.userId, role: 'owner', permissions: ALL_PERMISSION_BITS, joinedAt: now }),
    ]);
  } else {
    await db.insert(channels).values(row);
  }
  const loaded = await loadChannel(db, actor, row.id);
  if (loaded === null) throw new ApiError('not_found');
  return viewOf(actor, loaded);
}

export interface ChannelChanges {
  readonly name?: string | undefined;
  readonly visibility?: ChannelVisibility | undefined;
  readonly memberLimit?: number | undefined;
  /** A region code to pin, or null to unpin. */
  readonly region?: string | null | undefined;
}

/**
 * Renames or reconfigures a channel (`manage`). A member limit below the current member count is
 * refused (409 conflict, field memberLimit): in the same statement as the update, so a join
 * racing it cannot slip under the old limit and leave the channel over the new one.
 */
export async function updateChannel(
  db: Database,
  limits: ChannelLimits,
  actor: ChannelActor,
  channelId: string,
  changes: ChannelChanges,
  now: number,
): Promise<ChannelView> {
  const set: Partial<typeof channels.$inferInsert> = { updatedAt: now };
  if (changes.name !== undefined) set.name = checkChannelName(changes.name);
  if (changes.visibility !== undefined) set.visibility = changes.visibility;
  if (changes.memberLimit !== undefined) set.memberLimit = checkMemberLimit(changes.memberLimit, limits);
  if (changes.region !== undefined) set.region = checkRegion(changes.region);
  await authorizeChannel(db, actor, channelId, 'manage');
  const fits = set.memberLimit === undefined ? undefined : sql`${memberCount} <= ${set.memberLimit}`;
  const updated = await db
    .update(channels)
    .set(set)
    .where(and(eq(channels.id, channelId), fits))
    .returning({ id: channels.id });
  if (updated.length === 0) {
    const still = await loadChannel(db, actor, channelId);
    if (still === null) throw new ApiError('not_found');
    throw new ApiError('conflict', { field: 'memberLimit', message: 'memberLimit: is below the current member count.' });
  }
  const loaded = await loadChannel(db, actor, channelId);
  if (loaded === null) throw new ApiError('not_found');
  return viewOf(actor, loaded);
}

/** What a deletion removed: the voice room closes its sockets with "channel deleted". */
export interface DeletedChannel {
  readonly id: string;
  readonly name: string;
  readonly ownerId: string | null;
  /** The accounts that were members when it was deleted. */
  readonly memberUserIds: readonly string[];
}

/**
 * Deletes a channel with its members and bans. Accounts: only the owner (everyone else who can
 * see it gets forbidden). Operators: any channel. Atomic: the members are read and removed in
 * the same transaction as the channel, and only if the owner is still the owner.
 */
export async function deleteChannel(db: Database, actor: AccountPrincipal | OperatorActor, channelId: string): Promise<DeletedChannel> {
  let ownerCondition: SQL | undefined;
  if (actor.kind === 'account') {
    const { access } = await authorizeChannel(db, actor, channelId, 'view');
    if (access.role !== 'owner') throw new ApiError('forbidden');
    ownerCondition = eq(channels.ownerId, actor.userId);
  }
  const stillOwned = ownerCondition === undefined ? sql`1` : sql`EXISTS (SELECT 1 FROM channels AS owned WHERE owned.id = ${channelId} AND owned.owner_id = ${actorUserId(actor)})`;
  const [members, deleted] = await db.batch([
    db.delete(channelMembers).where(and(eq(channelMembers.channelId, channelId), stillOwned)).returning({ userId: channelMembers.userId }),
    db
      .delete(channels)
      .where(and(eq(channels.id, channelId), ownerCondition))
      .returning({ id: channels.id, name: channels.name, ownerId: channels.ownerId }),
  ]);
  const channel = deleted[0];
  if (channel === undefined) {
    // Gone meanwhile, or (accounts) ownership moved between the check and the delete.
    throw new ApiError((await loadChannel(db, actor, channelId)) === null ? 'not_found' : 'forbidden');
  }
  // Bans go with the channel (ON DELETE CASCADE).
  return { ...channel, memberUserIds: members.map((m) => m.userId).sort() };
}
