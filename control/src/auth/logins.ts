/**
 * Ending logins. A login is a refresh-token family (`login_sessions`, started by
 * auth/refresh-tokens.ts startLogin), whose id is the `sid` claim of every access token issued
 * from it. Ending logins is this one function, whatever the reason (logout, password change,
 * reuse detected), and it returns exactly the ids it ended so that whoever holds live state for
 * them (the voice rooms' sockets) can close it.
 *
 * Ending is monotonic (a revoked login never comes back) and conditional on the login still
 * being live, so calling it twice, or concurrently with a refresh, is safe.
 */
import { and, eq, gt, isNull, ne } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { loginSessions } from '../db/schema.js';

export type LoginEndReason = 'logout' | 'password_change' | 'reuse_detected';

/** One login of a user, or all of them but (optionally) one. */
export type LoginSelector =
  | { readonly userId: string; readonly sessionId: string }
  | { readonly userId: string; readonly exceptSessionId?: string };

/** Ends the selected live logins; returns the ids it ended (none twice, never one already ended). */
export async function endLogins(db: Database, selector: LoginSelector, reason: LoginEndReason, now: number): Promise<string[]> {
  const conditions = [eq(loginSessions.userId, selector.userId), isNull(loginSessions.revokedAt), gt(loginSessions.expiresAt, now)];
  if ('sessionId' in selector) conditions.push(eq(loginSessions.id, selector.sessionId));
  else if (selector.exceptSessionId !== undefined) conditions.push(ne(loginSessions.id, selector.exceptSessionId));
  const ended = await db
    .update(loginSessions)
    .set({ revokedAt: now, revokeReason: reason })
    .where(and(...conditions))
    .returning({ id: loginSessions.id });
  return ended.map((row) => row.id);
}
