/**
 * Accounts: registration, login, refresh, logout and password change, as functions that know no
 * HTTP (the routes in http/auth-routes.ts and http/me-routes.ts parse, call these, and shape the
 * answer). docs/protocol.md §4.3 is the contract.
 *
 * The order of the steps is the security: every cheap check (the body's rules, the password's
 * maximum length) first, then the throttle, and only then the one Argon2id computation a request
 * may cost. A login for an unknown username does exactly the work of a wrong password (one
 * verification with the current parameters) and gets the same error.
 */
import { and, eq } from 'drizzle-orm';
import type { ControlConfig } from '../config.js';
import type { Database } from '../db/client.js';
import { users } from '../db/schema.js';
import { ApiError } from '../http/errors.js';
import { newId } from '../ids.js';
import type { AccessTokenKeys } from './access-tokens.js';
import { endLogins } from './logins.js';
import { checkNewPassword, isPasswordTooLong, PASSWORD_TOO_LONG_MESSAGE, type PasswordHasher } from './passwords.js';
import type { AccountPrincipal } from './principal.js';
import { rotateRefreshToken, startLogin, type RefreshTimings, type RotationRefusal } from './refresh-tokens.js';
import type { CredentialThrottle } from './throttle.js';
import { issueTokenPair, type AccountView, type TokenPair } from './token-pairs.js';
import { checkUsername, usernameKey } from './usernames.js';

export interface AccountServices {
  readonly db: Database;
  readonly config: ControlConfig;
  readonly keys: AccessTokenKeys;
  readonly hasher: PasswordHasher;
  readonly throttle: CredentialThrottle;
  /** The clock (ms); injected so tests can move it. */
  readonly now: () => number;
}

export interface Credentials {
  readonly username: string;
  readonly password: string;
  /** The throttle key of the client's address (auth/throttle.ts clientAddressKey). */
  readonly clientAddress: string;
  readonly userAgent?: string | null | undefined;
}

function invalidField(field: string, rule: string): ApiError {
  return new ApiError('validation_failed', { field, message: `${field}: ${rule}.` });
}

function timings(config: ControlConfig): RefreshTimings {
  const { ttlMs, loginTtlMs, retryGraceMs } = config.refreshTokens;
  return { refreshTtlMs: ttlMs, loginTtlMs, retryGraceMs };
}

/** A UNIQUE constraint failure anywhere in the cause chain (drizzle wraps libSQL's error). */
function isUniqueViolation(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (/UNIQUE constraint failed/i.test(e.message)) return true;
  }
  return false;
}

async function userByKey(db: Database, key: string) {
  const rows = await db.select().from(users).where(eq(users.usernameKey, key)).limit(1);
  return rows[0];
}

async function newLoginPair(services: AccountServices, user: AccountView, userAgent: string | null | undefined, now: number): Promise<TokenPair> {
  const login = await startLogin(services.db, { userId: user.id, userAgent, now, timings: timings(services.config) });
  return issueTokenPair(services.keys, services.config.refreshTokens.secret, {
    user,
    sessionId: login.sessionId,
    refreshToken: login.refreshToken,
    issuedAt: login.issuedAt,
    refreshTokenExpiresAt: login.refreshTokenExpiresAt,
  });
}

/** Creates an account and logs it in. 409 username_taken when the username's key is in use. */
export async function registerAccount(services: AccountServices, input: Credentials): Promise<TokenPair> {
  const now = services.now();
  const username = checkUsername(input.username);
  if (!username.ok) throw invalidField('username', username.message);
  const password = checkNewPassword(input.password, { username: username.username });
  if (!password.ok) throw invalidField('password', password.message);

  await services.throttle.beginRegistration(input.clientAddress);
  if ((await userByKey(services.db, username.key)) !== undefined) throw new ApiError('username_taken');

  const passwordHash = await services.hasher.hash(input.password, services.config.passwords);
  const user: AccountView = { id: newId('usr'), username: username.username, createdAt: now };
  try {
    await services.db.insert(users).values({
      id: user.id,
      username: user.username,
      usernameKey: username.key,
      passwordHash,
      createdAt: now,
      updatedAt: now,
      passwordChangedAt: now,
    });
  } catch (error) {
    // Lost a race with a registration of the same name between the check and the insert.
    if (isUniqueViolation(error)) throw new ApiError('username_taken');
    throw error;
  }
  return newLoginPair(services, user, input.userAgent, now);
}

/** Logs in. Unknown username and wrong password: the same 401 invalid_credentials, the same work. */
export async function logIn(services: AccountServices, input: Credentials): Promise<TokenPair> {
  const now = services.now();
  if (isPasswordTooLong(input.password)) throw invalidField('password', PASSWORD_TOO_LONG_MESSAGE);
  const key = usernameKey(input.username);
  const attempt = await services.throttle.beginLogin(key, input.clientAddress);

  const row = await userByKey(services.db, key);
  const verification = await services.hasher.verify(input.password, row?.passwordHash ?? null, services.config.passwords);
  if (row === undefined || !verification.ok) throw new ApiError('invalid_credentials');
  await attempt.succeeded();

  if (verification.needsRehash) {
    // The configured parameters were raised since this hash was made. Conditional on the old
    // hash, so a password change that landed meanwhile is never overwritten.
    const upgraded = await services.hasher.hash(input.password, services.config.passwords);
    await services.db.update(users).set({ passwordHash: upgraded, updatedAt: now }).where(and(eq(users.id, row.id), eq(users.passwordHash, row.passwordHash)));
  }
  return newLoginPair(services, { id: row.id, username: row.username, createdAt: row.createdAt }, input.userAgent, now);
}

/** The refusal of a refresh, with what it ended (reuse detected), for the caller's logs and sockets. */
export class RefreshRefused extends ApiError {
  constructor(
    readonly reason: RotationRefusal,
    readonly endedSessionIds: readonly string[],
  ) {
    super('invalid_refresh_token', { cause: new Error(reason) });
  }
}

/** Rotates a refresh token into a new pair (auth/refresh-tokens.ts); RefreshRefused (401) otherwise. */
export async function refreshLogin(services: AccountServices, refreshToken: string): Promise<TokenPair> {
  const outcome = await rotateRefreshToken(services.db, {
    token: refreshToken,
    secret: services.config.refreshTokens.secret,
    now: services.now(),
    timings: timings(services.config),
  });
  if (outcome.kind === 'refused') throw new RefreshRefused(outcome.reason, outcome.endedSessionIds);
  return issueTokenPair(services.keys, services.config.refreshTokens.secret, {
    user: { id: outcome.userId, username: outcome.username, createdAt: outcome.userCreatedAt },
    sessionId: outcome.sessionId,
    refreshToken: outcome.refreshToken,
    issuedAt: outcome.issuedAt,
    refreshTokenExpiresAt: outcome.refreshTokenExpiresAt,
  });
}

/** Ends the login the access token belongs to; returns the ended session ids (none if it had ended). */
export async function logOut(services: AccountServices, principal: AccountPrincipal): Promise<string[]> {
  return endLogins(services.db, { userId: principal.userId, sessionId: principal.sessionId }, 'logout', services.now());
}

/**
 * Changes the password after checking the current one (throttled like a login of the account),
 * then ends every other login of the user; the calling login stays. Returns the ended ids.
 */
export async function changePassword(
  services: AccountServices,
  principal: AccountPrincipal,
  input: { readonly currentPassword: string; readonly newPassword: string },
): Promise<string[]> {
  const now = services.now();
  if (isPasswordTooLong(input.currentPassword)) throw invalidField('currentPassword', PASSWORD_TOO_LONG_MESSAGE);
  const rows = await services.db.select().from(users).where(eq(users.id, principal.userId)).limit(1);
  const row = rows[0];
  if (row === undefined) throw new ApiError('unauthorized');
  const rule = checkNewPassword(input.newPassword, { username: row.username });
  if (!rule.ok) throw invalidField('newPassword', rule.message);

  const attempt = await services.throttle.beginPasswordCheck(row.usernameKey);
  const verification = await services.hasher.verify(input.currentPassword, row.passwordHash, services.config.passwords);
  if (!verification.ok) throw new ApiError('invalid_credentials', { field: 'currentPassword', message: 'The current password is wrong.' });
  await attempt.succeeded();

  const passwordHash = await services.hasher.hash(input.newPassword, services.config.passwords);
  await services.db.update(users).set({ passwordHash, passwordChangedAt: now, updatedAt: now }).where(eq(users.id, row.id));
  return endLogins(services.db, { userId: row.id, exceptSessionId: principal.sessionId }, 'password_change', now);
}

/** The account as others see it, or undefined when it no longer exists. */
export async function accountView(db: Database, userId: string): Promise<AccountView | undefined> {
  const rows = await db.select({ id: users.id, username: users.username, createdAt: users.createdAt }).from(users).where(eq(users.id, userId)).limit(1);
  return rows[0];
}
