/**
 * Whether what an access token hangs off is still live: the login (refresh family) of an
 * account, or the app key that minted an app user's token. Checked on every authenticated
 * request, so logout, a password change or revoking an app key take effect at once rather than
 * when the 15-minute token expires.
 */
import { and, eq } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { appKeys, loginSessions, users } from '../db/schema.js';

/**
 * The query behind liveAccountLogin, for callers that send it in one batch with other reads
 * (the voice room's admission): read its rows with readLiveAccountLogin.
 */
export function liveAccountLoginQuery(db: Database, userId: string, sessionId: string) {
  return db
    .select({ username: users.username, revokedAt: loginSessions.revokedAt, expiresAt: loginSessions.expiresAt })
    .from(loginSessions)
    .innerJoin(users, eq(users.id, loginSessions.userId))
    .where(and(eq(loginSessions.id, sessionId), eq(loginSessions.userId, userId)))
    .limit(1);
}

export function readLiveAccountLogin(rows: readonly { username: string; revokedAt: number | null; expiresAt: number }[], now: number): { username: string } | null {
  const row = rows[0];
  if (row === undefined || row.revokedAt !== null || row.expiresAt <= now) return null;
  return { username: row.username };
}

/** The account's current username when its login `sessionId` is live, else null. */
export async function liveAccountLogin(db: Database, userId: string, sessionId: string, now: number): Promise<{ username: string } | null> {
  return readLiveAccountLogin(await liveAccountLoginQuery(db, userId, sessionId), now);
}

/** The query behind isAppKeyLive, for a batch (readAppKeyLive reads its rows). */
export function appKeyLiveQuery(db: Database, appKeyId: string) {
  return db.select({ revokedAt: appKeys.revokedAt }).from(appKeys).where(eq(appKeys.id, appKeyId)).limit(1);
}

export function readAppKeyLive(rows: readonly { revokedAt: number | null }[]): boolean {
  return rows[0] !== undefined && rows[0].revokedAt === null;
}

export async function isAppKeyLive(db: Database, appKeyId: string): Promise<boolean> {
  return readAppKeyLive(await appKeyLiveQuery(db, appKeyId));
}
