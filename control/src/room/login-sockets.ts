/**
 * Which channel rooms hold sockets or voice sessions of which login, so that ending a login
 * closes exactly its sockets at once (docs/protocol.md §5.4: logout, a password change, a
 * revoked app key → 4003).
 *
 * A login is the `sid` of its tokens: a login session id for accounts, the minting app key id
 * for app users. Rooms record a (login, channel) pair when a socket of that login
 * authenticates and forget it when the room holds nothing of that login any more. The code that
 * ends logins (auth/logins.ts endLogins, revoking an app key) calls `closeLoginSockets` with
 * the ids it ended: it finds their rooms here and asks each to close their sockets.
 *
 * A room that crashes before it forgets a pair leaves a stale row; its only cost is one call to
 * a room that has nothing to close, after which the row goes. Node-compatible data access; the
 * fan-out needs the Durable Object namespace.
 */
import { and, eq, inArray } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { voiceLogins } from '../db/schema.js';

export async function recordRoomLogin(db: Database, loginId: string, channelId: string, now: number): Promise<void> {
  await db
    .insert(voiceLogins)
    .values({ loginId, channelId, updatedAt: now })
    .onConflictDoUpdate({ target: [voiceLogins.loginId, voiceLogins.channelId], set: { updatedAt: now } });
}

export async function forgetRoomLogin(db: Database, loginId: string, channelId: string): Promise<void> {
  await db.delete(voiceLogins).where(and(eq(voiceLogins.loginId, loginId), eq(voiceLogins.channelId, channelId)));
}

/** Channel ids whose rooms hold something of any of `loginIds`. */
export async function roomsOfLogins(db: Database, loginIds: readonly string[]): Promise<string[]> {
  if (loginIds.length === 0) return [];
  const rows = await db.selectDistinct({ channelId: voiceLogins.channelId }).from(voiceLogins).where(inArray(voiceLogins.loginId, [...loginIds]));
  return rows.map((r) => r.channelId).sort();
}

/** The part of a room the fan-out calls (ChannelRoom.endLogins). */
export interface LoginSocketCloser {
  endLogins(loginIds: string[]): Promise<number>;
}

export interface RoomDirectory {
  room(channelId: string): LoginSocketCloser;
}

/**
 * Closes every socket of the ended logins, in every room that holds one, and forgets them. Ended
 * logins never come back, so their rows can go whatever the rooms answer. Returns how many
 * sockets closed.
 */
export async function closeLoginSockets(db: Database, rooms: RoomDirectory, loginIds: readonly string[]): Promise<number> {
  if (loginIds.length === 0) return 0;
  const channelIds = await roomsOfLogins(db, loginIds);
  const closed = await Promise.all(channelIds.map((channelId) => rooms.room(channelId).endLogins([...loginIds])));
  await db.delete(voiceLogins).where(inArray(voiceLogins.loginId, [...loginIds]));
  return closed.reduce((a, b) => a + b, 0);
}
