/**
 * Authentication middleware for the HTTP routes.
 *
 * - `requireAccessToken()`: `Authorization: Bearer <access token>` (an account's or an app
 *   user's JWT); sets `c.var.principal`.
 * - `requireAppKey(scope)`: `Authorization: Bearer <app key>` for server-to-server calls
 *   (auth/app-keys.ts); sets `c.var.appKey`.
 *
 * Every failure is the same 401 `unauthorized` with `WWW-Authenticate: Bearer realm="parley"`;
 * the reason goes to the log as a short code, never the token.
 */
import type { MiddlewareHandler } from 'hono';
import { accessTokenKeys, verifyAccessToken } from '../auth/access-tokens.js';
import { authenticateAppKey, scopeAllows, type AppKeyScope } from '../auth/app-keys.js';
import { isAppKeyLive, liveAccountLogin } from '../auth/live-sessions.js';
import { ApiError } from './errors.js';
import type { ControlEnv } from './context.js';

const BEARER = /^Bearer ([\x21-\x7e]{1,8192})$/;

export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = BEARER.exec(header);
  return match === null ? null : match[1]!;
}

function refuse(c: { var: { log: { write: (l: 'info', e: string, f: Record<string, unknown>) => void } } }, reason: string): never {
  c.var.log.write('info', 'auth_refused', { reason });
  throw new ApiError('unauthorized', { cause: new Error(reason) });
}

export function requireAccessToken(): MiddlewareHandler<ControlEnv> {
  return async function authenticateAccessToken(c, next) {
    const token = bearerToken(c.req.header('Authorization'));
    if (token === null) refuse(c, 'missing-bearer');
    const now = Date.now();
    let principal;
    try {
      principal = await verifyAccessToken(await accessTokenKeys(c.var.config), token, now);
    } catch (error) {
      if (error instanceof ApiError) refuse(c, error.cause instanceof Error ? error.cause.message : 'invalid-token');
      throw error;
    }
    if (principal.kind === 'account') {
      const live = await liveAccountLogin(c.var.db, principal.userId, principal.sessionId, now);
      if (live === null) refuse(c, 'login-ended');
      principal = { ...principal, username: live.username };
    } else if (!(await isAppKeyLive(c.var.db, principal.appKeyId))) {
      refuse(c, 'app-key-revoked');
    }
    c.set('principal', principal);
    await next();
  };
}

/** Server-to-server routes: an app key whose scopes allow `scope` (operator allows all). */
export function requireAppKey(scope: AppKeyScope): MiddlewareHandler<ControlEnv> {
  return async function authenticateAppKeyHeader(c, next) {
    const token = bearerToken(c.req.header('Authorization'));
    if (token === null) refuse(c, 'missing-bearer');
    const caller = await authenticateAppKey(c.var.db, token);
    if (caller === null) refuse(c, 'bad-app-key');
    if (!scopeAllows(caller.scopes, scope)) {
      c.var.log.write('info', 'auth_refused', { reason: 'scope', appKeyId: caller.appKeyId, scope });
      throw new ApiError('forbidden');
    }
    c.set('appKey', caller);
    await next();
  };
}
