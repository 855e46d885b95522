/**
 * Access tokens an app's server mints for its own users with an app key (POST /v1/tokens), as
 * LiveKit's server SDKs mint room tokens: the app vouches for who the user is (an external id
 * and a display name) and says which channels they may use with which permissions.
 *
 * The token is an ordinary Parley access token of kind `app_user` (auth/access-tokens.ts):
 * `sub` = `<appKeyId>:<externalUserId>` (so two apps' user "42" are different people, and a
 * ban of one survives a freshly minted token), `sid` = the app key id (so revoking the key
 * ends every session its users hold), `akid` and `grants`. There is no row per token: the key
 * being live is checked on every request instead (auth/live-sessions.ts).
 */
import { inArray } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { channels } from '../db/schema.js';
import { encodeBase32 } from '../ids.js';
import { ApiError } from '../http/errors.js';
import { signAccessToken, type AccessTokenKeys, type SignedAccessToken } from './access-tokens.js';
import { appUserSubject, type ChannelGrant } from './principal.js';

/** An app's user id: what the app calls them. Visible ASCII, so it fits `sub` and relay ids. */
export const EXTERNAL_USER_ID_PATTERN = /^[A-Za-z0-9._@-]{1,64}$/;
/** "*": every channel of the deployment. */
export const ANY_CHANNEL = '*';
/** Grants per token: keeps a token (and every request header carrying it) under 4 KiB. */
export const MAX_GRANTS = 32;
/** Shortest lifetime a caller may ask for. */
export const MIN_APP_TOKEN_TTL_SECONDS = 10;

export interface MintAppUserToken {
  readonly appKeyId: string;
  readonly externalUserId: string;
  /** Already checked and NFKC-normalised (auth/display-names.ts). */
  readonly displayName: string;
  readonly grants: readonly ChannelGrant[];
  readonly ttlMs: number;
  readonly now: number;
}

/**
 * Throws validation_failed naming the first grant whose channel does not exist, so an app
 * learns of a typo at once rather than when its user cannot join.
 */
export async function assertGrantedChannelsExist(db: Database, grants: readonly ChannelGrant[]): Promise<void> {
  const ids = grants.map((g) => g.channelId).filter((id) => id !== ANY_CHANNEL);
  if (ids.length === 0) return;
  const rows = await db.select({ id: channels.id }).from(channels).where(inArray(channels.id, ids));
  const existing = new Set(rows.map((r) => r.id));
  const missing = grants.findIndex((g) => g.channelId !== ANY_CHANNEL && !existing.has(g.channelId));
  if (missing >= 0) {
    const field = `grants[${missing}].channelId`;
    throw new ApiError('validation_failed', { field, message: `${field}: no such channel.` });
  }
}

export async function mintAppUserToken(db: Database, keys: AccessTokenKeys, input: MintAppUserToken): Promise<SignedAccessToken> {
  await assertGrantedChannelsExist(db, input.grants);
  return signAccessToken(keys, {
    kind: 'app_user',
    subject: appUserSubject(input.appKeyId, input.externalUserId),
    sessionId: input.appKeyId,
    tokenId: encodeBase32(crypto.getRandomValues(new Uint8Array(16))),
    issuedAt: input.now,
    name: input.displayName,
    appKeyId: input.appKeyId,
    grants: input.grants.map((g) => ({ channelId: g.channelId, permissions: [...g.permissions] })),
    ttlMs: input.ttlMs,
  });
}
