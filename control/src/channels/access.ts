/**
 * Who may do what in a channel: the one decision every channel route makes, and the one the
 * voice room makes when someone joins voice (join needs `listen`, sending voice `speak`).
 * Pure: it is given the facts (the channel, the actor's membership row, whether the actor is
 * banned) and reads nothing itself; channel-service.ts loads the facts in one query.
 *
 * Actors:
 * - an account acts through its membership: its row's role and permission bits (the owner
 *   always holds every permission, whatever the row says);
 * - an app user (a minted token) has no membership: the token's grants for this channel, or
 *   for "*", are its permissions. The app server that minted the token decided them; an app
 *   key with `tokens:mint` is a deployment-wide credential an operator hands out, so a "*"
 *   grant covers every channel, private ones included;
 * - an operator (an app key with scope `operator`) may do everything.
 *
 * A ban outranks everything but operators: a banned actor has no permissions.
 *
 * Visibility: an actor who may not see a channel gets `not_found`, exactly as for a channel that
 * does not exist, so private channels cannot be probed. An account sees open channels and the
 * channels it is a member of; an app user sees the channels it holds a grant for.
 */
import type { Principal } from '../auth/principal.js';
import { permissionBits, PERMISSIONS, type ChannelRole, type Permission, hasPermission } from './permissions.js';

export type ChannelVisibility = 'open' | 'private';

/** An operator acting through the /v1/admin routes. */
export interface OperatorActor {
  readonly kind: 'operator';
  readonly appKeyId: string;
}

export type ChannelActor = Principal | OperatorActor;

export interface MembershipFacts {
  readonly role: ChannelRole;
  /** Bit set (permissions.ts). */
  readonly permissions: number;
}

/** What the decision needs to know, loaded by the caller. */
export interface ChannelAccessFacts {
  readonly channel: { readonly id: string; readonly visibility: ChannelVisibility; readonly ownerId: string | null };
  /** The actor's membership row; always null for app users and operators. */
  readonly membership: MembershipFacts | null;
  /** Whether the actor's subject is on the channel's ban list. */
  readonly banned: boolean;
}

export const ALL_PERMISSION_BITS = permissionBits(PERMISSIONS);

export interface ChannelAccess {
  /** May learn that the channel exists and read it. */
  readonly visible: boolean;
  readonly banned: boolean;
  /** The membership's role (accounts), else null. */
  readonly role: ChannelRole | null;
  /** Effective permission bits: 0 when banned. */
  readonly permissions: number;
}

/** What an actor asks to do. `join` is an account adding itself to an open channel. */
export type ChannelAction = 'view' | 'join' | Permission;

export type AccessRefusal = 'not_found' | 'forbidden' | 'banned';

export type AccessDecision =
  | { readonly allowed: true; readonly access: ChannelAccess }
  | { readonly allowed: false; readonly refusal: AccessRefusal; readonly access: ChannelAccess };

function grantedBits(principal: Extract<Principal, { kind: 'app_user' }>, channelId: string): { granted: boolean; bits: number } {
  let granted = false;
  let bits = 0;
  for (const grant of principal.grants) {
    if (grant.channelId !== channelId && grant.channelId !== '*') continue;
    granted = true;
    bits |= permissionBits(grant.permissions);
  }
  return { granted, bits };
}

/** The actor's standing in the channel: what it may see and its effective permissions. */
export function channelAccess(actor: ChannelActor, facts: ChannelAccessFacts): ChannelAccess {
  if (actor.kind === 'operator') return { visible: true, banned: false, role: null, permissions: ALL_PERMISSION_BITS };
  if (actor.kind === 'app_user') {
    const { granted, bits } = grantedBits(actor, facts.channel.id);
    return { visible: granted, banned: facts.banned, role: null, permissions: facts.banned ? 0 : bits };
  }
  const isOwner = facts.channel.ownerId === actor.userId;
  const membership = facts.membership;
  const visible = membership !== null || isOwner || facts.channel.visibility === 'open';
  const role = isOwner ? 'owner' : (membership?.role ?? null);
  const bits = isOwner ? ALL_PERMISSION_BITS : (membership?.permissions ?? 0);
  return { visible, banned: facts.banned, role, permissions: facts.banned ? 0 : bits };
}

/**
 * May `actor` do `action` in the channel? Refusals in order: `not_found` (may not see it),
 * `banned`, `forbidden` (lacks the permission; for `join`: not an account, or a private channel
 * it is not a member of).
 */
export function decideChannelAccess(actor: ChannelActor, facts: ChannelAccessFacts, action: ChannelAction): AccessDecision {
  const access = channelAccess(actor, facts);
  const refuse = (refusal: AccessRefusal): AccessDecision => ({ allowed: false, refusal, access });
  if (!access.visible) return refuse('not_found');
  if (action === 'view') return { allowed: true, access };
  if (access.banned) return refuse('banned');
  if (action === 'join') {
    if (actor.kind !== 'account') return refuse('forbidden');
    if (facts.channel.visibility !== 'open' && access.role === null) return refuse('forbidden');
    return { allowed: true, access };
  }
  return hasPermission(access.permissions, action) ? { allowed: true, access } : refuse('forbidden');
}

/** The target of a membership change or a ban: the target's current role, if a member. */
export interface MemberTarget {
  /** The target's subject (an account's user id, or an app user's subject). */
  readonly subject: string;
  readonly currentRole: ChannelRole | null;
  /** True when the target is the channel's owner (even if its row is missing). */
  readonly isOwner: boolean;
}

export type MemberChange =
  | { readonly kind: 'set'; readonly role: Exclude<ChannelRole, 'owner'>; readonly permissions: number }
  | { readonly kind: 'remove' }
  | { readonly kind: 'ban' };

function actorSubject(actor: ChannelActor): string | null {
  return actor.kind === 'operator' ? null : actor.subject;
}

/**
 * The hierarchy rules for changing someone else's membership, given the actor's standing
 * (`channelAccess`). Pure, like decideChannelAccess:
 *
 * - adding, updating or removing a member needs `manage`; banning needs `moderate`;
 * - nobody changes the owner (ownership moves only by transfer) and nobody bans the owner;
 * - only the owner (or an operator) makes, changes, removes or bans admins;
 * - nobody changes or bans themselves through these (leaving is its own action);
 * - permissions granted are a subset of the actor's own.
 */
export function decideMemberChange(actor: ChannelActor, access: ChannelAccess, target: MemberTarget, change: MemberChange): 'allowed' | AccessRefusal {
  if (!access.visible) return 'not_found';
  if (access.banned) return 'banned';
  const needed: Permission = change.kind === 'ban' ? 'moderate' : 'manage';
  if (!hasPermission(access.permissions, needed)) return 'forbidden';
  if (target.isOwner || target.currentRole === 'owner') return 'forbidden';
  if (actorSubject(actor) === target.subject) return 'forbidden';
  const actorIsOwnerOrOperator = actor.kind === 'operator' || access.role === 'owner';
  const touchesAdmin = target.currentRole === 'admin' || (change.kind === 'set' && change.role === 'admin');
  if (touchesAdmin && !actorIsOwnerOrOperator) return 'forbidden';
  if (change.kind === 'set' && (change.permissions & ~access.permissions) !== 0) return 'forbidden';
  return 'allowed';
}
