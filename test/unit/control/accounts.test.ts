/**
 * The account services (auth/accounts.ts) on the real libSQL engine, with an injected clock,
 * in-memory throttle buckets and an Argon2id that counts its computations. The HTTP routes over
 * them are tested inside workerd (test/workers/auth-routes.test.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { accessTokenKeys, verifyAccessToken } from '../../../control/src/auth/access-tokens.js';
import {
  changePassword,
  logIn,
  logOut,
  refreshLogin,
  RefreshRefused,
  registerAccount,
  type AccountServices,
  type Credentials,
} from '../../../control/src/auth/accounts.js';
import { liveAccountLogin } from '../../../control/src/auth/live-sessions.js';
import { createPasswordHasher, nobleArgon2id, parsePasswordHash, type Argon2idFunction } from '../../../control/src/auth/passwords.js';
import type { AccountPrincipal } from '../../../control/src/auth/principal.js';
import { accessTokenIdFor, parseRefreshToken } from '../../../control/src/auth/refresh-tokens.js';
import { CredentialThrottle, memoryThrottleBuckets } from '../../../control/src/auth/throttle.js';
import type { TokenPair } from '../../../control/src/auth/token-pairs.js';
import { loadControlConfig, type ControlConfig, type PasswordHashParameters } from '../../../control/src/config.js';
import { users } from '../../../control/src/db/schema.js';
import { ApiError } from '../../../control/src/http/errors.js';
import { openMigratedTestDatabase, type TestDatabase } from '../../support/control-database.js';

const T0 = 1_767_225_600_000;
const PASSWORD = 'correct horse battery staple';

const baseConfig = loadControlConfig({
  PARLEY_ENV: 'test',
  LIBSQL_URL: 'http://127.0.0.1:9/',
  PASSWORD_HASH_MEMORY_KIB: '64',
  PASSWORD_HASH_ITERATIONS: '1',
  THROTTLE_LOGIN_PER_ACCOUNT_FREE_ATTEMPTS: '3',
  THROTTLE_LOGIN_PER_ADDRESS_FREE_ATTEMPTS: '6',
  THROTTLE_REGISTER_PER_ADDRESS_FREE_ATTEMPTS: '50',
});

interface Harness {
  services: AccountServices;
  computations: PasswordHashParameters[];
  clock: { now: number };
  buckets: ReturnType<typeof memoryThrottleBuckets>;
}

function harness(test: TestDatabase, config: ControlConfig = baseConfig, buckets?: ReturnType<typeof memoryThrottleBuckets>): Promise<Harness> {
  const computations: PasswordHashParameters[] = [];
  const derive: Argon2idFunction = (password, salt, params) => {
    computations.push(params);
    return nobleArgon2id(password, salt, params);
  };
  const clock = { now: T0 };
  const throttleBuckets = buckets ?? memoryThrottleBuckets(() => clock.now);
  return accessTokenKeys(config).then((keys) => ({
    services: {
      db: test.db,
      config,
      keys,
      hasher: createPasswordHasher(derive),
      throttle: new CredentialThrottle(throttleBuckets, config.throttles),
      now: () => clock.now,
    },
    computations,
    clock,
    buckets: throttleBuckets,
  }));
}

function credentials(username: string, password = PASSWORD, clientAddress = '192.0.2.1'): Credentials {
  return { username, password, clientAddress, userAgent: 'parley-test' };
}

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

async function principalOf(h: Harness, pair: TokenPair): Promise<AccountPrincipal> {
  const principal = await verifyAccessToken(h.services.keys, pair.accessToken, h.clock.now);
  if (principal.kind !== 'account') throw new Error('expected an account token');
  return principal;
}

async function userCount(test: TestDatabase): Promise<number> {
  return Number((await test.client.execute('SELECT count(*) AS n FROM users')).rows[0]!['n']);
}

describe('account services', () => {
  let test: TestDatabase;
  let h: Harness;

  beforeEach(async () => {
    test = await openMigratedTestDatabase();
    h = await harness(test);
  });
  afterEach(() => test.close());

  it('register: stores the NFKC name and its key, hashes once, and logs in', async () => {
    const pair = await registerAccount(h.services, credentials('ａｌｉｃｅ'));
    expect(h.computations).toEqual([baseConfig.passwords]);
    expect(pair).toMatchObject({ tokenType: 'Bearer', user: { username: 'alice', createdAt: T0 }, refreshTokenExpiresAt: T0 + baseConfig.refreshTokens.ttlMs });
    expect(pair.user.id).toMatch(/^usr_[a-z2-7]{26}$/);
    const row = (await test.db.select().from(users))[0]!;
    expect(row).toMatchObject({ username: 'alice', usernameKey: 'alice' });
    expect(parsePasswordHash(row.passwordHash)?.params).toEqual(baseConfig.passwords);
    // The access token: sid = the login, jti derived from the refresh token, iat = issue time.
    const principal = await principalOf(h, pair);
    expect(principal).toMatchObject({ userId: pair.user.id, sessionId: pair.sessionId, username: 'alice' });
    expect(principal.tokenId).toBe(accessTokenIdFor(baseConfig.refreshTokens.secret, parseRefreshToken(pair.refreshToken)!));
    expect(pair.accessTokenExpiresAt).toBe(T0 + baseConfig.accessTokens.ttlMs);
  });

  it('register: a name taken in another case or width is 409 without hashing', async () => {
    await registerAccount(h.services, credentials('Straße'));
    h.computations.length = 0;
    for (const name of ['STRASSE', 'strasse', 'ＳＴＲＡＳＳＥ', 'STRAẞE']) {
      expect((await failure(registerAccount(h.services, credentials(name)))).code, name).toBe('username_taken');
    }
    expect(h.computations).toEqual([]);
    expect(await userCount(test)).toBe(1);
  });

  it('register: rule violations name the field, store nothing and hash nothing', async () => {
    const cases: [Credentials, string][] = [
      [credentials('pаypal'), 'username'],
      [credentials('ab'), 'username'],
      [credentials('ali\u202ece'), 'username'],
      [credentials('alice', 'short'), 'password'],
      [credentials('alice', 'x'.repeat(1024 * 1024)), 'password'],
      [credentials('CorrectHorseBatteryStaple', 'correcthorsebatterystaple'), 'password'],
    ];
    for (const [input, field] of cases) {
      const error = await failure(registerAccount(h.services, input));
      expect(error.code).toBe('validation_failed');
      expect(error.field).toBe(field);
    }
    expect(h.computations).toEqual([]);
    expect(h.buckets.states.size).toBe(0);
    expect(await userCount(test)).toBe(0);
  });

  it('login: case- and width-insensitive, one verification, a new login each time', async () => {
    const registered = await registerAccount(h.services, credentials('Alice'));
    h.computations.length = 0;
    const pair = await logIn(h.services, credentials('ＡＬＩＣＥ'));
    expect(h.computations).toEqual([baseConfig.passwords]);
    expect(pair.user).toEqual(registered.user);
    expect(pair.sessionId).not.toBe(registered.sessionId);
  });

  it('login: an unknown user and a wrong password get the same error and cost one verification each', async () => {
    await registerAccount(h.services, credentials('alice'));
    h.computations.length = 0;
    const wrong = await failure(logIn(h.services, credentials('alice', 'wrong horse battery staple')));
    expect(h.computations).toEqual([baseConfig.passwords]);
    const unknown = await failure(logIn(h.services, credentials('nobody-here', PASSWORD, '192.0.2.2')));
    expect(h.computations).toEqual([baseConfig.passwords, baseConfig.passwords]);
    expect(JSON.stringify(unknown.toBody())).toBe(JSON.stringify(wrong.toBody()));
    expect(wrong.toBody()).toEqual({ error: 'invalid_credentials', message: 'The username or password is wrong.' });
  });

  it('login: a 1 MB password is refused before the throttle and the hash', async () => {
    await registerAccount(h.services, credentials('alice'));
    h.computations.length = 0;
    const before = new Map(h.buckets.states);
    const error = await failure(logIn(h.services, credentials('alice', 'x'.repeat(1024 * 1024))));
    expect(error.code).toBe('validation_failed');
    expect(error.field).toBe('password');
    expect(h.computations).toEqual([]);
    expect(h.buckets.states).toEqual(before);
  });

  it('login: rehashes with the raised parameters after a successful login, once', async () => {
    await registerAccount(h.services, credentials('alice'));
    const raised: ControlConfig = { ...baseConfig, passwords: { memoryKib: 128, iterations: 2, parallelism: 1 } };
    const stronger = await harness(test, raised);
    await logIn(stronger.services, credentials('alice'));
    expect(stronger.computations).toEqual([baseConfig.passwords, raised.passwords]);
    const row = (await test.db.select().from(users))[0]!;
    expect(parsePasswordHash(row.passwordHash)?.params).toEqual(raised.passwords);
    stronger.computations.length = 0;
    await logIn(stronger.services, credentials('alice'));
    expect(stronger.computations).toEqual([raised.passwords]);
  });

  it('refresh: rotates; a retry within the grace period gets the identical pair; after it, reuse ends the login', async () => {
    const registered = await registerAccount(h.services, credentials('alice'));
    h.clock.now = T0 + 60_000;
    const first = await refreshLogin(h.services, registered.refreshToken);
    expect(first.sessionId).toBe(registered.sessionId);
    expect(first.refreshToken).not.toBe(registered.refreshToken);
    expect(first.accessTokenExpiresAt).toBe(T0 + 60_000 + baseConfig.accessTokens.ttlMs);
    h.clock.now = T0 + 60_000 + baseConfig.refreshTokens.retryGraceMs;
    expect(await refreshLogin(h.services, registered.refreshToken)).toEqual(first);
    h.clock.now += 1;
    const reuse = await failure(refreshLogin(h.services, registered.refreshToken));
    expect(reuse).toBeInstanceOf(RefreshRefused);
    expect(reuse.toBody()).toEqual({ error: 'invalid_refresh_token', message: 'The refresh token is invalid, expired or revoked; log in again.' });
    expect((reuse as RefreshRefused).endedSessionIds).toEqual([registered.sessionId]);
    expect(await liveAccountLogin(test.db, registered.user.id, registered.sessionId, h.clock.now)).toBeNull();
    expect(((await failure(refreshLogin(h.services, first.refreshToken))) as RefreshRefused).reason).toBe('login_ended');
  });

  it('logout ends exactly the presented login', async () => {
    const a = await registerAccount(h.services, credentials('alice'));
    const b = await logIn(h.services, credentials('alice'));
    expect(await logOut(h.services, await principalOf(h, a))).toEqual([a.sessionId]);
    expect(await logOut(h.services, await principalOf(h, a))).toEqual([]);
    expect(await liveAccountLogin(test.db, a.user.id, a.sessionId, h.clock.now)).toBeNull();
    expect(await liveAccountLogin(test.db, b.user.id, b.sessionId, h.clock.now)).not.toBeNull();
    expect(((await failure(refreshLogin(h.services, a.refreshToken))) as RefreshRefused).reason).toBe('login_ended');
    expect((await refreshLogin(h.services, b.refreshToken)).sessionId).toBe(b.sessionId);
  });

  it('password change: checks the current password, keeps this login, ends the others', async () => {
    const a = await registerAccount(h.services, credentials('alice'));
    const b = await logIn(h.services, credentials('alice'));
    const c = await logIn(h.services, credentials('alice'));
    const principal = await principalOf(h, a);
    h.computations.length = 0;
    const wrong = await failure(changePassword(h.services, principal, { currentPassword: 'not my password!!', newPassword: 'a brand new passphrase' }));
    expect(wrong).toMatchObject({ code: 'invalid_credentials', field: 'currentPassword' });
    expect(h.computations).toHaveLength(1);
    const weak = await failure(changePassword(h.services, principal, { currentPassword: PASSWORD, newPassword: 'short' }));
    expect(weak).toMatchObject({ code: 'validation_failed', field: 'newPassword' });
    expect(h.computations).toHaveLength(1);

    const ended = await changePassword(h.services, principal, { currentPassword: PASSWORD, newPassword: 'a brand new passphrase' });
    expect(ended.sort()).toEqual([b.sessionId, c.sessionId].sort());
    expect(await liveAccountLogin(test.db, a.user.id, a.sessionId, h.clock.now)).not.toBeNull();
    expect(await liveAccountLogin(test.db, a.user.id, b.sessionId, h.clock.now)).toBeNull();
    expect((await failure(logIn(h.services, credentials('alice')))).code).toBe('invalid_credentials');
    expect((await logIn(h.services, credentials('alice', 'a brand new passphrase'))).user.id).toBe(a.user.id);
  });
});

describe('case 20: credential stuffing (service level, injected clock)', () => {
  let test: TestDatabase;
  let h: Harness;

  beforeEach(async () => {
    test = await openMigratedTestDatabase();
    h = await harness(test);
    await registerAccount(h.services, credentials('alice', PASSWORD, '198.51.100.200'));
    h.computations.length = 0;
  });
  afterEach(() => test.close());

  it('many wrong passwords for one account from many addresses → growing delays, and a throttled attempt hashes nothing', async () => {
    for (let i = 0; i < 3; i++) {
      expect((await failure(logIn(h.services, credentials('alice', `wrong password number ${i}`, `203.0.113.${i}`)))).code).toBe('invalid_credentials');
    }
    expect(h.computations).toHaveLength(3);
    const throttled = await failure(logIn(h.services, credentials('alice', PASSWORD, '203.0.113.50')));
    expect(throttled.toBody()).toEqual({ error: 'too_many_requests', message: 'Too many attempts; wait before trying again.', retryAfterSeconds: 1 });
    expect(h.computations).toHaveLength(3);
    // The same for the unknown-user spelling of the same key.
    expect((await failure(logIn(h.services, credentials('ALICE', PASSWORD, '203.0.113.51')))).code).toBe('too_many_requests');
    h.clock.now += 1000;
    expect((await failure(logIn(h.services, credentials('alice', 'still wrong password', '203.0.113.52')))).code).toBe('invalid_credentials');
    expect((await failure(logIn(h.services, credentials('alice', PASSWORD, '203.0.113.53')))).retryAfterSeconds).toBe(2);
    h.clock.now += 2000;
    // The right password, once allowed, logs in and resets the account's count.
    await logIn(h.services, credentials('alice', PASSWORD, '203.0.113.54'));
    for (let i = 0; i < 3; i++) await failure(logIn(h.services, credentials('alice', `wrong again ${i}!!!!!`, '203.0.113.55')));
    expect((await failure(logIn(h.services, credentials('alice', PASSWORD, '203.0.113.56')))).code).toBe('too_many_requests');
  });

  it('unknown accounts are throttled like real ones (no enumeration through the throttle)', async () => {
    for (let i = 0; i < 3; i++) await failure(logIn(h.services, credentials('ghost', `some password ${i}!!!`, `203.0.113.${i}`)));
    expect((await failure(logIn(h.services, credentials('ghost', PASSWORD, '203.0.113.9')))).toBody()).toEqual({
      error: 'too_many_requests',
      message: 'Too many attempts; wait before trying again.',
      retryAfterSeconds: 1,
    });
  });

  it('many accounts from one address → that address backs off; other addresses do not', async () => {
    for (let i = 0; i < 6; i++) await failure(logIn(h.services, credentials(`victim${i}`, PASSWORD, '192.0.2.66')));
    const computed = h.computations.length;
    expect((await failure(logIn(h.services, credentials('alice', PASSWORD, '192.0.2.66')))).code).toBe('too_many_requests');
    expect(h.computations).toHaveLength(computed);
    await logIn(h.services, credentials('alice', PASSWORD, '192.0.2.67'));
  });

  it('forgets after forgetAfterMs', async () => {
    for (let i = 0; i < 4; i++) await failure(logIn(h.services, credentials('alice', `wrong password ${i}!!`, `203.0.113.${i}`)));
    expect((await failure(logIn(h.services, credentials('alice', PASSWORD, '203.0.113.9')))).code).toBe('too_many_requests');
    h.clock.now += baseConfig.throttles.loginPerAccount.forgetAfterMs;
    await logIn(h.services, credentials('alice', PASSWORD, '203.0.113.9'));
  });
});
