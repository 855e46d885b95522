/**
 * /v1/auth and /v1/me inside workerd, through the Worker (or an app with a counting hasher)
 * against the local libSQL server: every route's success and every error it documents
 * (docs/protocol.md §4.3).
 */
import { describe, expect, it, vi } from 'vitest';
import { accessTokenKeys, signAccessToken } from '../../control/src/auth/access-tokens.js';
import { issueAppKey } from '../../control/src/auth/app-keys.js';
import { loadControlConfig } from '../../control/src/config.js';
import { env } from 'cloudflare:workers';
import {
  appClient,
  countingHasher,
  PASSWORD,
  registerAccount,
  send,
  testDatabase,
  uniqueAddress,
  uniqueUsername,
  worker,
  type ErrorBody,
  type TokenPairBody,
} from './support/accounts.js';
import { describeWithDatabase } from './support/control-api.js';

const TEST_PASSWORD_PARAMS = { memoryKib: 64, iterations: 1, parallelism: 1 };

function expectTokenPair(body: TokenPairBody) {
  expect(body).toEqual({
    tokenType: 'Bearer',
    accessToken: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
    accessTokenExpiresAt: expect.any(Number),
    refreshToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    refreshTokenExpiresAt: expect.any(Number),
    sessionId: expect.stringMatching(/^ses_[a-z2-7]{26}$/),
    user: { id: expect.stringMatching(/^usr_[a-z2-7]{26}$/), username: expect.any(String), createdAt: expect.any(Number) },
  });
}

async function appUserToken(externalUserId = 'user-42') {
  const config = loadControlConfig(env as unknown as Record<string, unknown>);
  const key = await issueAppKey(testDatabase(), { name: `app-${uniqueUsername()}`, scopes: ['tokens:mint'], createdBy: 'bootstrap', now: Date.now() });
  const { token } = await signAccessToken(await accessTokenKeys(config), {
    kind: 'app_user',
    subject: `${key.appKeyId}:${externalUserId}`,
    sessionId: key.appKeyId,
    tokenId: 'app-token-1',
    issuedAt: Date.now(),
    name: 'Grace',
    appKeyId: key.appKeyId,
    grants: [{ channelId: '*', permissions: ['listen'] }],
    ttlMs: 600_000,
  });
  return { token, appKeyId: key.appKeyId };
}

describeWithDatabase('POST /v1/auth/register', () => {
  it('201: creates the account, logs it in, answers a token pair that is never cached', async () => {
    const username = uniqueUsername('Reg');
    const response = await send<TokenPairBody>(worker, 'POST', '/v1/auth/register', { body: { username, password: PASSWORD }, headers: { 'User-Agent': 'parley-test/1' } });
    expect(response.status).toBe(201);
    expectTokenPair(response.body);
    expect(response.body.user.username).toBe(username);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const me = await send(worker, 'GET', '/v1/me', { token: response.body.accessToken });
    expect(me.status).toBe(200);
    const stored = await testDatabase().$client.execute({ sql: 'SELECT user_agent FROM login_sessions WHERE id = ?', args: [response.body.sessionId] });
    expect(stored.rows[0]!['user_agent']).toBe('parley-test/1');
  });

  it('201: the display name is NFKC, the key folds case and width', async () => {
    const base = uniqueUsername('w');
    const fullwidth = [...base].map((c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0)).join('');
    const response = await send<TokenPairBody>(worker, 'POST', '/v1/auth/register', { body: { username: fullwidth, password: PASSWORD } });
    expect(response.status).toBe(201);
    expect(response.body.user.username).toBe(base);
    const taken = await send<ErrorBody>(worker, 'POST', '/v1/auth/register', { body: { username: base.toUpperCase(), password: PASSWORD } });
    expect(taken.status).toBe(409);
    expect(taken.body).toEqual({ error: 'username_taken', message: 'That username is taken.' });
  });

  it('400: username and password rules, naming the field', async () => {
    const cases: [unknown, string, string][] = [
      [{ username: 'ab', password: PASSWORD }, 'username', 'username: must be 3 to 32 characters.'],
      [{ username: 'pаypal', password: PASSWORD }, 'username', 'username: must not mix letters of different scripts.'],
      [{ username: uniqueUsername(), password: 'too short' }, 'password', 'password: must be 15 to 256 characters.'],
      [{ username: 'SameAsPassword123', password: 'sameaspassword123' }, 'password', 'password: must not be the username.'],
      [{ username: uniqueUsername() }, 'password', 'password: is required.'],
    ];
    for (const [body, field, message] of cases) {
      const response = await send<ErrorBody>(worker, 'POST', '/v1/auth/register', { body });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body).toEqual({ error: 'validation_failed', message, field });
    }
  });

  it('400 invalid_json, 415 unsupported_media_type, 413 payload_too_large', async () => {
    expect((await send<ErrorBody>(worker, 'POST', '/v1/auth/register', { rawBody: '{"username": "x",' })).body.error).toBe('invalid_json');
    const plain = await send<ErrorBody>(worker, 'POST', '/v1/auth/register', { rawBody: 'username=x', headers: { 'Content-Type': 'text/plain' } });
    expect([plain.status, plain.body.error]).toEqual([415, 'unsupported_media_type']);
    const huge = await send<ErrorBody>(worker, 'POST', '/v1/auth/register', { body: { username: 'x', password: 'x'.repeat(3 * 1024 * 1024) } });
    expect([huge.status, huge.body.error]).toEqual([413, 'payload_too_large']);
  });

  it('429: registrations from one address back off (Retry-After)', async () => {
    const app = appClient({}, { THROTTLE_REGISTER_PER_ADDRESS_FREE_ATTEMPTS: '2' });
    const address = uniqueAddress();
    for (let i = 0; i < 2; i++) {
      expect((await send(app, 'POST', '/v1/auth/register', { body: { username: uniqueUsername(), password: PASSWORD }, address })).status).toBe(201);
    }
    const throttled = await send<ErrorBody>(app, 'POST', '/v1/auth/register', { body: { username: uniqueUsername(), password: PASSWORD }, address });
    expect(throttled.status).toBe(429);
    expect(throttled.body).toEqual({ error: 'too_many_requests', message: 'Too many attempts; wait before trying again.', retryAfterSeconds: 1 });
    expect(throttled.headers.get('retry-after')).toBe('1');
    expect((await send(app, 'POST', '/v1/auth/register', { body: { username: uniqueUsername(), password: PASSWORD } })).status).toBe(201);
  });
});

describeWithDatabase('POST /v1/auth/login', () => {
  it('200: a new login for the right password, case-insensitively', async () => {
    const account = await registerAccount(worker, uniqueUsername('Login'));
    const response = await send<TokenPairBody>(worker, 'POST', '/v1/auth/login', { body: { username: account.user.username.toUpperCase(), password: PASSWORD } });
    expect(response.status).toBe(200);
    expectTokenPair(response.body);
    expect(response.body.user).toEqual(account.user);
    expect(response.body.sessionId).not.toBe(account.sessionId);
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('401 invalid_credentials for a wrong password, with WWW-Authenticate', async () => {
    const account = await registerAccount();
    const response = await send<ErrorBody>(worker, 'POST', '/v1/auth/login', { body: { username: account.user.username, password: 'wrong horse battery staple' } });
    expect(response.status).toBe(401);
    expect(response.body).toEqual({ error: 'invalid_credentials', message: 'The username or password is wrong.' });
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="parley"');
  });

  it('400: missing, wrong-typed and unknown fields', async () => {
    const cases: [unknown, string][] = [
      [{ password: PASSWORD }, 'username'],
      [{ username: 'alice', password: 12345 }, 'password'],
      [{ username: 'alice', password: PASSWORD, remember: true }, 'remember'],
      [[], 'body'],
    ];
    for (const [body, field] of cases) {
      const response = await send<ErrorBody>(worker, 'POST', '/v1/auth/login', { body });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body).toMatchObject({ error: 'validation_failed', field });
    }
  });

  it('429 too_many_requests once an account has used its free attempts', async () => {
    const app = appClient({}, { THROTTLE_LOGIN_PER_ACCOUNT_FREE_ATTEMPTS: '2' });
    const account = await registerAccount();
    for (let i = 0; i < 2; i++) {
      expect((await send(app, 'POST', '/v1/auth/login', { body: { username: account.user.username, password: `wrong password ${i}!!` } })).status).toBe(401);
    }
    const throttled = await send<ErrorBody>(app, 'POST', '/v1/auth/login', { body: { username: account.user.username, password: PASSWORD } });
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe(String(throttled.body.retryAfterSeconds));
  });
});

describeWithDatabase('POST /v1/auth/refresh', () => {
  it('200: a new pair for the same login; the old token retried at once gets the same pair', async () => {
    const account = await registerAccount();
    const first = await send<TokenPairBody>(worker, 'POST', '/v1/auth/refresh', { body: { refreshToken: account.refreshToken } });
    expect(first.status).toBe(200);
    expectTokenPair(first.body);
    expect(first.body.sessionId).toBe(account.sessionId);
    expect(first.body.user).toEqual(account.user);
    expect(first.body.refreshToken).not.toBe(account.refreshToken);
    expect(first.body.accessToken).not.toBe(account.accessToken);
    expect(first.headers.get('cache-control')).toBe('no-store');
    const retry = await send<TokenPairBody>(worker, 'POST', '/v1/auth/refresh', { body: { refreshToken: account.refreshToken } });
    expect(retry.status).toBe(200);
    expect(retry.text).toBe(first.text);
    expect((await send(worker, 'GET', '/v1/me', { token: first.body.accessToken })).status).toBe(200);
  });

  it('401 invalid_refresh_token for unknown, malformed and access tokens', async () => {
    const account = await registerAccount();
    for (const refreshToken of ['A'.repeat(43), 'not-a-token', account.accessToken.slice(0, 200)]) {
      const response = await send<ErrorBody>(worker, 'POST', '/v1/auth/refresh', { body: { refreshToken } });
      expect(response.status).toBe(401);
      expect(response.body).toEqual({ error: 'invalid_refresh_token', message: 'The refresh token is invalid, expired or revoked; log in again.' });
    }
  });

  it('400 validation_failed for a missing or oversize token', async () => {
    expect((await send<ErrorBody>(worker, 'POST', '/v1/auth/refresh', { body: {} })).body).toMatchObject({ error: 'validation_failed', field: 'refreshToken' });
    expect((await send<ErrorBody>(worker, 'POST', '/v1/auth/refresh', { body: { refreshToken: 'x'.repeat(300) } })).body).toMatchObject({
      error: 'validation_failed',
      field: 'refreshToken',
    });
  });
});

describeWithDatabase('POST /v1/auth/logout', () => {
  it('204: ends this login (its access and refresh tokens stop working), not the others', async () => {
    const account = await registerAccount();
    const other = await send<TokenPairBody>(worker, 'POST', '/v1/auth/login', { body: { username: account.user.username, password: PASSWORD } });
    const response = await send(worker, 'POST', '/v1/auth/logout', { token: account.accessToken });
    expect(response.status).toBe(204);
    expect(response.text).toBe('');
    expect((await send(worker, 'GET', '/v1/me', { token: account.accessToken })).status).toBe(401);
    expect((await send(worker, 'POST', '/v1/auth/refresh', { body: { refreshToken: account.refreshToken } })).status).toBe(401);
    expect((await send(worker, 'GET', '/v1/me', { token: other.body.accessToken })).status).toBe(200);
    const stored = await testDatabase().$client.execute({ sql: 'SELECT revoke_reason FROM login_sessions WHERE id = ?', args: [account.sessionId] });
    expect(stored.rows[0]!['revoke_reason']).toBe('logout');
  });

  it('401 without a valid access token; 403 for an app user', async () => {
    expect((await send<ErrorBody>(worker, 'POST', '/v1/auth/logout')).body.error).toBe('unauthorized');
    expect((await send<ErrorBody>(worker, 'POST', '/v1/auth/logout', { token: 'garbage' })).body.error).toBe('unauthorized');
    const app = await appUserToken();
    const forbidden = await send<ErrorBody>(worker, 'POST', '/v1/auth/logout', { token: app.token });
    expect([forbidden.status, forbidden.body.error]).toEqual([403, 'forbidden']);
  });
});

describeWithDatabase('GET /v1/me', () => {
  it('200 for an account', async () => {
    const account = await registerAccount();
    const response = await send(worker, 'GET', '/v1/me', { token: account.accessToken });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ kind: 'account', user: account.user, sessionId: account.sessionId, accessTokenExpiresAt: account.accessTokenExpiresAt });
  });

  it('200 for an app user', async () => {
    const app = await appUserToken('user-7');
    const response = await send(worker, 'GET', '/v1/me', { token: app.token });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      kind: 'app_user',
      subject: `${app.appKeyId}:user-7`,
      appKeyId: app.appKeyId,
      externalUserId: 'user-7',
      displayName: 'Grace',
      grants: [{ channelId: '*', permissions: ['listen'] }],
      sessionId: app.appKeyId,
      accessTokenExpiresAt: expect.any(Number),
    });
  });

  it('401 without, with a malformed or with a refresh token', async () => {
    const account = await registerAccount();
    for (const token of [undefined, 'x', account.refreshToken]) {
      const response = await send<ErrorBody>(worker, 'GET', '/v1/me', token === undefined ? {} : { token });
      expect(response.status).toBe(401);
      expect(response.body).toEqual({ error: 'unauthorized', message: 'A valid access token is required.' });
    }
  });
});

describeWithDatabase('POST /v1/me/password', () => {
  it('200: changes the password, keeps this login, ends the others', async () => {
    const account = await registerAccount();
    const second = await send<TokenPairBody>(worker, 'POST', '/v1/auth/login', { body: { username: account.user.username, password: PASSWORD } });
    const third = await send<TokenPairBody>(worker, 'POST', '/v1/auth/login', { body: { username: account.user.username, password: PASSWORD } });
    const newPassword = 'an entirely new passphrase';
    const response = await send(worker, 'POST', '/v1/me/password', { token: account.accessToken, body: { currentPassword: PASSWORD, newPassword } });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ endedLogins: 2 });
    expect((await send(worker, 'GET', '/v1/me', { token: account.accessToken })).status).toBe(200);
    expect((await send(worker, 'GET', '/v1/me', { token: second.body.accessToken })).status).toBe(401);
    expect((await send(worker, 'POST', '/v1/auth/refresh', { body: { refreshToken: third.body.refreshToken } })).status).toBe(401);
    expect((await send(worker, 'POST', '/v1/auth/refresh', { body: { refreshToken: account.refreshToken } })).status).toBe(200);
    expect((await send(worker, 'POST', '/v1/auth/login', { body: { username: account.user.username, password: PASSWORD } })).status).toBe(401);
    expect((await send(worker, 'POST', '/v1/auth/login', { body: { username: account.user.username, password: newPassword } })).status).toBe(200);
  });

  it('401 invalid_credentials (field currentPassword) for a wrong current password', async () => {
    const account = await registerAccount();
    const response = await send<ErrorBody>(worker, 'POST', '/v1/me/password', {
      token: account.accessToken,
      body: { currentPassword: 'not the password at all', newPassword: 'an entirely new passphrase' },
    });
    expect(response.status).toBe(401);
    expect(response.body).toEqual({ error: 'invalid_credentials', message: 'The current password is wrong.', field: 'currentPassword' });
  });

  it('400 for a new password that breaks the rules, before any hashing', async () => {
    const counter = countingHasher();
    const app = appClient(counter.options);
    const account = await registerAccount(app);
    counter.computations.length = 0;
    for (const [newPassword, message] of [
      ['short', 'newPassword: must be 15 to 256 characters.'],
      ['y'.repeat(1024 * 1024), 'newPassword: must be 15 to 256 characters.'],
    ] as const) {
      const response = await send<ErrorBody>(app, 'POST', '/v1/me/password', { token: account.accessToken, body: { currentPassword: PASSWORD, newPassword } });
      expect(response.status).toBe(400);
      expect(response.body).toEqual({ error: 'validation_failed', field: 'newPassword', message });
    }
    expect(counter.computations).toEqual([]);
  });

  it('401 without a token, 403 for an app user, 429 after repeated wrong current passwords', async () => {
    const body = { currentPassword: PASSWORD, newPassword: 'an entirely new passphrase' };
    expect((await send(worker, 'POST', '/v1/me/password', { body })).status).toBe(401);
    const appUser = await appUserToken();
    const forbidden = await send<ErrorBody>(worker, 'POST', '/v1/me/password', { token: appUser.token, body });
    expect([forbidden.status, forbidden.body.error]).toEqual([403, 'forbidden']);

    const app = appClient({}, { THROTTLE_LOGIN_PER_ACCOUNT_FREE_ATTEMPTS: '2' });
    const account = await registerAccount(app);
    for (let i = 0; i < 2; i++) {
      const wrong = await send(app, 'POST', '/v1/me/password', { token: account.accessToken, body: { ...body, currentPassword: `guess number ${i}!!!!` } });
      expect(wrong.status).toBe(401);
    }
    const throttled = await send<ErrorBody>(app, 'POST', '/v1/me/password', { token: account.accessToken, body });
    expect(throttled.status).toBe(429);
    expect(throttled.body.retryAfterSeconds).toBeGreaterThanOrEqual(1);
  });
});

describeWithDatabase('hashing parameters in the test deployment', () => {
  it('are the cheap ones from vitest.config.ts, recorded in the stored PHC string', async () => {
    const account = await registerAccount();
    const stored = await testDatabase().$client.execute({ sql: 'SELECT password_hash FROM users WHERE id = ?', args: [account.user.id] });
    expect(String(stored.rows[0]!['password_hash'])).toMatch(
      new RegExp(`^\\$argon2id\\$v=19\\$m=${TEST_PASSWORD_PARAMS.memoryKib},t=${TEST_PASSWORD_PARAMS.iterations},p=1\\$`),
    );
  });
});

describe('the account routes in the OpenAPI document', () => {
  it('are in the OpenAPI document with their bodies, security and documented errors', async () => {
    const response = await send<{ paths: Record<string, Record<string, { security?: unknown; requestBody?: { required?: boolean }; responses: Record<string, unknown> }>> }>(
      worker,
      'GET',
      '/v1/openapi.json',
    );
    expect(response.status).toBe(200);
    const { paths } = response.body;
    const expected: [string, string, boolean, string[]][] = [
      ['/v1/auth/register', 'post', false, ['201', '400', '409', '413', '415', '429']],
      ['/v1/auth/login', 'post', false, ['200', '400', '401', '413', '415', '429']],
      ['/v1/auth/refresh', 'post', false, ['200', '400', '401']],
      ['/v1/auth/logout', 'post', true, ['204', '401', '403']],
      ['/v1/me', 'get', true, ['200', '401']],
      ['/v1/me/password', 'post', true, ['200', '400', '401', '403', '429']],
    ];
    for (const [path, method, authenticated, statuses] of expected) {
      const operation = paths[path]?.[method];
      expect(operation, path).toBeDefined();
      expect(Object.keys(operation!.responses), path).toEqual(expect.arrayContaining(statuses));
      expect(operation!.security, path).toEqual(authenticated ? [{ accessToken: [] }] : undefined);
      if (method === 'post' && path !== '/v1/auth/logout') expect(operation!.requestBody?.required, path).toBe(true);
    }
  });

});

describeWithDatabase('the account routes', () => {
  it('never log a password, a token or a hash', async () => {
    const lines: string[] = [];
    const capture = (...args: unknown[]) => void lines.push(args.map(String).join(' '));
    const spies = [vi.spyOn(console, 'log').mockImplementation(capture), vi.spyOn(console, 'warn').mockImplementation(capture), vi.spyOn(console, 'error').mockImplementation(capture)];
    try {
      const username = uniqueUsername();
      const account = await registerAccount(worker, username);
      await send(worker, 'POST', '/v1/auth/login', { body: { username, password: 'a wrong password here' } });
      const refreshed = await send<TokenPairBody>(worker, 'POST', '/v1/auth/refresh', { body: { refreshToken: account.refreshToken } });
      await send(worker, 'POST', '/v1/auth/refresh', { body: { refreshToken: refreshed.body.refreshToken } });
      await send(worker, 'POST', '/v1/auth/refresh', { body: { refreshToken: account.refreshToken } }); // reuse
      await send(worker, 'POST', '/v1/me/password', { token: refreshed.body.accessToken, body: { currentPassword: PASSWORD, newPassword: 'another long passphrase' } });
      const stored = await testDatabase().$client.execute({ sql: 'SELECT password_hash FROM users WHERE id = ?', args: [account.user.id] });
      const secrets = [PASSWORD, 'a wrong password here', 'another long passphrase', account.refreshToken, refreshed.body.refreshToken, account.accessToken, refreshed.body.accessToken, String(stored.rows[0]!['password_hash'])];
      expect(lines.some((line) => line.includes('refresh_refused'))).toBe(true);
      for (const line of lines) for (const secret of secrets) expect(line).not.toContain(secret);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });
});
