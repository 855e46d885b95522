/**
 * ABUSE-CASES.md cases 19, 20 and 22 (the accounts part), inside workerd through the Worker
 * against the local libSQL server. Hash work is counted through an injected Argon2id, never
 * timed.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { expect, it } from 'vitest';
import type { ThrottleState } from '../../control/src/auth/throttle.js';
import { usernameKey } from '../../control/src/auth/usernames.js';
import {
  appClient,
  countingHasher,
  countUsersWithKey,
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

describeWithDatabase('case 19: refresh-token reuse and concurrent refreshes', () => {
  it('case 19: ten concurrent refreshes of one token through the Worker all get one and the same pair; the database holds one successor', async () => {
    const account = await registerAccount();
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => send<TokenPairBody>(worker, 'POST', '/v1/auth/refresh', { body: { refreshToken: account.refreshToken } })),
    );
    const succeeded = responses.filter((r) => r.status === 200);
    expect(succeeded.length).toBe(10);
    for (const response of succeeded) expect(response.text).toBe(succeeded[0]!.text);
    const rows = await testDatabase().$client.execute({
      sql: 'SELECT generation, used_at FROM refresh_tokens WHERE session_id = ? ORDER BY generation',
      args: [account.sessionId],
    });
    expect(rows.rows.map((r) => Number(r['generation']))).toEqual([0, 1]);
    expect(rows.rows[1]!['used_at']).toBeNull();
    // The pair works, and the family goes on from it.
    const pair = succeeded[0]!.body;
    expect((await send(worker, 'GET', '/v1/me', { token: pair.accessToken })).status).toBe(200);
    expect((await send(worker, 'POST', '/v1/auth/refresh', { body: { refreshToken: pair.refreshToken } })).status).toBe(200);
  });

  it('case 19: a rotated token used again after its successor was used revokes the whole family', async () => {
    const account = await registerAccount();
    const other = await send<TokenPairBody>(worker, 'POST', '/v1/auth/login', { body: { username: account.user.username, password: PASSWORD } });
    const first = await send<TokenPairBody>(worker, 'POST', '/v1/auth/refresh', { body: { refreshToken: account.refreshToken } });
    const second = await send<TokenPairBody>(worker, 'POST', '/v1/auth/refresh', { body: { refreshToken: first.body.refreshToken } });
    expect([first.status, second.status]).toEqual([200, 200]);

    const replay = await send<ErrorBody>(worker, 'POST', '/v1/auth/refresh', { body: { refreshToken: account.refreshToken } });
    expect(replay.status).toBe(401);
    expect(replay.body.error).toBe('invalid_refresh_token');
    // The whole family: the newest refresh token and every access token of the login are dead.
    expect((await send(worker, 'POST', '/v1/auth/refresh', { body: { refreshToken: second.body.refreshToken } })).status).toBe(401);
    expect((await send(worker, 'GET', '/v1/me', { token: second.body.accessToken })).status).toBe(401);
    expect((await send(worker, 'GET', '/v1/me', { token: account.accessToken })).status).toBe(401);
    const stored = await testDatabase().$client.execute({ sql: 'SELECT revoke_reason FROM login_sessions WHERE id = ?', args: [account.sessionId] });
    expect(stored.rows[0]!['revoke_reason']).toBe('reuse_detected');
    // Only that family: the account's other login goes on.
    expect((await send(worker, 'GET', '/v1/me', { token: other.body.accessToken })).status).toBe(200);
  });
});

describeWithDatabase('case 20: credential stuffing', () => {
  it('case 20: many wrong passwords for one account → per-account backoff, whatever the address', async () => {
    const counter = countingHasher();
    const app = appClient(counter.options);
    const account = await registerAccount(app);
    counter.computations.length = 0;
    // Default policy: 5 free attempts per account.
    for (let i = 0; i < 5; i++) {
      const wrong = await send(app, 'POST', '/v1/auth/login', { body: { username: account.user.username, password: `wrong password ${i}!!` }, address: uniqueAddress() });
      expect(wrong.status).toBe(401);
    }
    expect(counter.computations).toHaveLength(5);
    const throttled = await send<ErrorBody>(app, 'POST', '/v1/auth/login', { body: { username: account.user.username, password: PASSWORD }, address: uniqueAddress() });
    expect(throttled.status).toBe(429);
    expect(throttled.body).toEqual({ error: 'too_many_requests', message: 'Too many attempts; wait before trying again.', retryAfterSeconds: 1 });
    expect(throttled.headers.get('retry-after')).toBe('1');
    // Throttled before hashing: no sixth computation, even for the right password.
    expect(counter.computations).toHaveLength(5);
    // The same account typed in another case is the same bucket.
    expect((await send(app, 'POST', '/v1/auth/login', { body: { username: account.user.username.toUpperCase(), password: PASSWORD } })).status).toBe(429);

    // The count is in the Durable Object's durable storage, where every isolate sees it.
    const stub = env.AUTH_THROTTLE!.get(env.AUTH_THROTTLE!.idFromName(`login-account:${usernameKey(account.user.username)}`));
    const state = await runInDurableObject(stub, (_, ctx) => ctx.storage.get<ThrottleState>('state'));
    expect(state?.attempts).toBe(5);
  });

  it('case 20: many accounts from one address → per-address backoff', async () => {
    const counter = countingHasher();
    const app = appClient(counter.options, { THROTTLE_LOGIN_PER_ADDRESS_FREE_ATTEMPTS: '4' });
    const address = uniqueAddress();
    for (let i = 0; i < 4; i++) {
      expect((await send(app, 'POST', '/v1/auth/login', { body: { username: uniqueUsername('victim'), password: PASSWORD }, address })).status).toBe(401);
    }
    const throttled = await send<ErrorBody>(app, 'POST', '/v1/auth/login', { body: { username: uniqueUsername('victim'), password: PASSWORD }, address });
    expect(throttled.status).toBe(429);
    expect(throttled.body.retryAfterSeconds).toBe(1);
    expect(counter.computations).toHaveLength(4);
    // Another address is not affected.
    expect((await send(app, 'POST', '/v1/auth/login', { body: { username: uniqueUsername('victim'), password: PASSWORD } })).status).toBe(401);
  });

  it('case 20: an unknown user and a wrong password get byte-identical errors and one verification each, with the current parameters', async () => {
    const counter = countingHasher();
    const app = appClient(counter.options);
    const account = await registerAccount(app);
    counter.computations.length = 0;
    const wrong = await send(app, 'POST', '/v1/auth/login', { body: { username: account.user.username, password: 'wrong horse battery staple' } });
    expect(counter.computations).toEqual([TEST_PASSWORD_PARAMS]);
    const unknown = await send(app, 'POST', '/v1/auth/login', { body: { username: uniqueUsername('nobody'), password: 'wrong horse battery staple' } });
    expect(counter.computations).toEqual([TEST_PASSWORD_PARAMS, TEST_PASSWORD_PARAMS]);
    expect(unknown.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(unknown.text).toBe(wrong.text);
    expect(unknown.headers.get('www-authenticate')).toBe(wrong.headers.get('www-authenticate'));
    expect(unknown.headers.get('content-type')).toBe(wrong.headers.get('content-type'));
  });

  it('case 20: a 1 MB password is rejected at once (400, field password) with no hash computed', async () => {
    const counter = countingHasher();
    const app = appClient(counter.options);
    const account = await registerAccount(app);
    counter.computations.length = 0;
    const megabyte = 'p'.repeat(1024 * 1024);
    for (const [path, rule] of [
      ['/v1/auth/login', 'must be at most 256 characters'],
      ['/v1/auth/register', 'must be 15 to 256 characters'],
    ] as const) {
      const response = await send<ErrorBody>(app, 'POST', path, { body: { username: path.endsWith('login') ? account.user.username : uniqueUsername(), password: megabyte } });
      expect(response.status, path).toBe(400);
      expect(response.body).toEqual({ error: 'validation_failed', message: `password: ${rule}.`, field: 'password' });
    }
    expect(counter.computations).toEqual([]);
  });
});

describeWithDatabase('case 22: malformed requests to the account routes', () => {
  it('case 22: malformed JSON, wrong field types, unknown fields, oversize and unicode-trick usernames → 400 naming the field, nothing stored', async () => {
    const counter = countingHasher();
    const app = appClient(counter.options);
    const db = testDatabase();
    const tricks: [string, unknown, string | undefined][] = [
      ['malformed JSON', '{"username": "alice", "password": ', undefined],
      ['not an object', '"alice"', 'body'],
      ['null', 'null', 'body'],
      ['username a number', { username: 12345, password: PASSWORD }, 'username'],
      ['username an array', { username: ['alice'], password: PASSWORD }, 'username'],
      ['password an object', { username: uniqueUsername(), password: { value: PASSWORD } }, 'password'],
      ['unknown field', { username: uniqueUsername(), password: PASSWORD, isAdmin: true }, 'isAdmin'],
      ['oversize username', { username: 'a'.repeat(10_000), password: PASSWORD }, 'username'],
      ['33 characters', { username: 'a'.repeat(33), password: PASSWORD }, 'username'],
      ['Cyrillic а in paypal', { username: 'pаypal', password: PASSWORD }, 'username'],
      ['zero-width joiner', { username: 'ad\u200dmin', password: PASSWORD }, 'username'],
      ['bidi override', { username: 'admin\u202etxt', password: PASSWORD }, 'username'],
      ['byte order mark', { username: '\ufeffadmin', password: PASSWORD }, 'username'],
      ['NUL', { username: 'ad\u0000min', password: PASSWORD }, 'username'],
      ['space', { username: 'ad min', password: PASSWORD }, 'username'],
      ['Zalgo', { username: 'ad\u0301\u0302\u0303\u0304\u0306min', password: PASSWORD }, 'username'],
      ['mixed digits', { username: 'علي٣۴', password: PASSWORD }, 'username'],
    ];
    for (const [name, body, field] of tricks) {
      const rawBody = typeof body === 'string' ? body : JSON.stringify(body);
      const response = await send<ErrorBody>(app, 'POST', '/v1/auth/register', { rawBody });
      expect(response.status, name).toBe(400);
      if (field === undefined) expect(response.body, name).toEqual({ error: 'invalid_json', message: 'The request body is not valid JSON.' });
      else expect(response.body, name).toMatchObject({ error: 'validation_failed', field });
      expect(response.text, name).not.toContain('at ');
      const username = typeof body === 'object' && body !== null && typeof (body as { username?: unknown }).username === 'string' ? (body as { username: string }).username : undefined;
      if (username !== undefined) expect(await countUsersWithKey(db, usernameKey(username)), name).toBe(0);
    }
    expect(counter.computations).toEqual([]);
  });

  it('case 22: the same on login, refresh and password change', async () => {
    const account = await registerAccount();
    const cases: [string, string, string, string | undefined, string | undefined][] = [
      ['POST', '/v1/auth/login', '{"username":', undefined, undefined],
      ['POST', '/v1/auth/login', JSON.stringify({ username: 'a', password: PASSWORD, otp: '123456' }), 'otp', undefined],
      ['POST', '/v1/auth/login', JSON.stringify({ username: 'a'.repeat(10_000), password: PASSWORD }), 'username', undefined],
      ['POST', '/v1/auth/refresh', JSON.stringify({ refreshToken: 42 }), 'refreshToken', undefined],
      ['POST', '/v1/auth/refresh', '[', undefined, undefined],
      ['POST', '/v1/me/password', JSON.stringify({ currentPassword: PASSWORD, newPassword: 7 }), 'newPassword', account.accessToken],
      ['POST', '/v1/me/password', JSON.stringify({ currentPassword: PASSWORD, newPassword: 'a long enough passphrase', also: 1 }), 'also', account.accessToken],
    ];
    for (const [method, path, rawBody, field, token] of cases) {
      const response = await send<ErrorBody>(worker, method, path, { rawBody, ...(token === undefined ? {} : { token }) });
      expect(response.status, `${path} ${rawBody.slice(0, 40)}`).toBe(400);
      expect(response.body.error).toBe(field === undefined ? 'invalid_json' : 'validation_failed');
      if (field !== undefined) expect(response.body.field).toBe(field);
    }
    // Nothing changed: the password still logs in.
    expect((await send(worker, 'POST', '/v1/auth/login', { body: { username: account.user.username, password: PASSWORD } })).status).toBe(200);
  });
});
