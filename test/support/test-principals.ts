/**
 * People for tests, without the accounts or minting routes: an account is a `users` row plus a
 * live `login_sessions` row and an access token signed for them (exactly what login produces);
 * an app user is a minted token of a live `tokens:mint` app key; an operator is an app key with
 * scope `operator`. Works in Node (over openMigratedTestDatabase) and inside workerd (over the
 * local libSQL server), so it uses no Node-only API.
 *
 * Usernames get a random suffix: the workerd tests of every file share one database.
 */
import { accessTokenKeys, signAccessToken } from '../../control/src/auth/access-tokens.js';
import { issueAppKey } from '../../control/src/auth/app-keys.js';
import type { AccountPrincipal, AppUserPrincipal, ChannelGrant } from '../../control/src/auth/principal.js';
import type { ControlConfig } from '../../control/src/config.js';
import type { Database } from '../../control/src/db/client.js';
import { loginSessions, users } from '../../control/src/db/schema.js';
import { newId } from '../../control/src/ids.js';

const DAY_MS = 86_400_000;

export interface TestAccount {
  readonly userId: string;
  readonly username: string;
  readonly sessionId: string;
  /** A signed access token for the login (Authorization: Bearer …). */
  readonly token: string;
  readonly principal: AccountPrincipal;
}

export function randomSuffix(): string {
  return newId('req').slice(4, 14);
}

/** An account with a live login and its access token. `now` defaults to the clock (tokens are verified against it). */
export async function createTestAccount(
  db: Database,
  config: ControlConfig,
  options: { username?: string; now?: number } = {},
): Promise<TestAccount> {
  const now = options.now ?? Date.now();
  const userId = newId('usr');
  const sessionId = newId('ses');
  const username = options.username ?? `user-${randomSuffix()}`;
  await db.insert(users).values({
    id: userId,
    username,
    usernameKey: username.toLowerCase(),
    // Not a real hash: these accounts never log in with a password.
    passwordHash: '$argon2id$v=19$m=8,t=1,p=1$dGVzdA$dGVzdA',
    createdAt: now,
    updatedAt: now,
    passwordChangedAt: now,
  });
  await db.insert(loginSessions).values({ id: sessionId, userId, createdAt: now, expiresAt: now + DAY_MS });
  const tokenId = newId('req');
  const keys = await accessTokenKeys(config);
  const signed = await signAccessToken(keys, { kind: 'account', subject: userId, sessionId, tokenId, issuedAt: now, name: username });
  return {
    userId,
    username,
    sessionId,
    token: signed.token,
    principal: { kind: 'account', subject: userId, userId, username, sessionId, tokenId, expiresAt: signed.expiresAt },
  };
}

export interface TestAppUser {
  readonly appKeyId: string;
  readonly subject: string;
  readonly token: string;
  readonly principal: AppUserPrincipal;
}

/** A user of an app: a fresh `tokens:mint` app key and a token it minted with these grants. */
export async function createTestAppUser(
  db: Database,
  config: ControlConfig,
  grants: readonly ChannelGrant[],
  options: { externalUserId?: string; now?: number } = {},
): Promise<TestAppUser> {
  const now = options.now ?? Date.now();
  const issued = await issueAppKey(db, { name: `test-app-${randomSuffix()}`, scopes: ['tokens:mint'], createdBy: 'bootstrap', now });
  const externalUserId = options.externalUserId ?? `external-${randomSuffix()}`;
  const subject = `${issued.appKeyId}:${externalUserId}`;
  const tokenId = newId('req');
  const ttlMs = Math.min(config.appTokens.maxTtlMs, 15 * 60_000);
  const keys = await accessTokenKeys(config);
  const signed = await signAccessToken(keys, {
    kind: 'app_user',
    subject,
    sessionId: issued.appKeyId,
    tokenId,
    issuedAt: now,
    name: externalUserId,
    appKeyId: issued.appKeyId,
    grants,
    ttlMs,
  });
  return {
    appKeyId: issued.appKeyId,
    subject,
    token: signed.token,
    principal: {
      kind: 'app_user',
      subject,
      appKeyId: issued.appKeyId,
      externalUserId,
      displayName: externalUserId,
      grants,
      sessionId: issued.appKeyId,
      tokenId,
      expiresAt: signed.expiresAt,
    },
  };
}

/** An operator app key (`Authorization: Bearer <key>` on /v1/admin routes). */
export async function createTestOperatorKey(db: Database, now = Date.now()): Promise<{ appKeyId: string; key: string }> {
  const issued = await issueAppKey(db, { name: `test-operator-${randomSuffix()}`, scopes: ['operator'], createdBy: 'bootstrap', now });
  return { appKeyId: issued.appKeyId, key: issued.key };
}

/** A `tokens:mint` app key without any token (its key must not open operator routes). */
export async function createTestMintingKey(db: Database, now = Date.now()): Promise<{ appKeyId: string; key: string }> {
  const issued = await issueAppKey(db, { name: `test-minting-${randomSuffix()}`, scopes: ['tokens:mint'], createdBy: 'bootstrap', now });
  return { appKeyId: issued.appKeyId, key: issued.key };
}
