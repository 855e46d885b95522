/**
 * Refresh-token rotation on the real libSQL engine (in memory and on a file), the same SQL the
 * Worker sends over HTTP. The clock is injected: every instant below is explicit.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { endLogins } from '../../../control/src/auth/logins.js';
import {
  accessTokenIdFor,
  cappedUserAgent,
  ENDED_LOGIN_PRUNE_BATCH,
  ENDED_LOGIN_RETENTION_MS,
  encodeRefreshToken,
  judgeRotation,
  parseRefreshToken,
  refreshTokenHash,
  rotateRefreshToken,
  startLogin,
  successorToken,
  type RefreshTimings,
  type RotationRow,
} from '../../../control/src/auth/refresh-tokens.js';
import type { Database } from '../../../control/src/db/client.js';
import { users } from '../../../control/src/db/schema.js';
import { openMigratedTestDatabase, type TestDatabase } from '../../support/control-database.js';

const SECRET = new Uint8Array(32).fill(7);
const OTHER_SECRET = new Uint8Array(32).fill(8);
const MINUTE = 60_000;
const TIMINGS: RefreshTimings = { refreshTtlMs: 60 * MINUTE, loginTtlMs: 24 * 60 * MINUTE, retryGraceMs: 30_000 };
const T0 = 1_750_000_000_000;

async function addUser(db: Database, id = 'usr_aaaaaaaaaaaaaaaaaaaaaaaaaa'): Promise<string> {
  await db.insert(users).values({ id, username: 'Alice', usernameKey: `alice-${id}`, passwordHash: 'x', createdAt: 1, updatedAt: 1, passwordChangedAt: 1 });
  return id;
}

async function tokenRows(test: TestDatabase, sessionId: string) {
  const result = await test.client.execute({
    sql: 'SELECT token_hash, generation, issued_at, expires_at, used_at FROM refresh_tokens WHERE session_id = ? ORDER BY generation',
    args: [sessionId],
  });
  return result.rows.map((r) => ({ hash: String(r['token_hash']), generation: Number(r['generation']), issuedAt: Number(r['issued_at']), expiresAt: Number(r['expires_at']), usedAt: r['used_at'] === null ? null : Number(r['used_at']) }));
}

async function loginRow(test: TestDatabase, sessionId: string) {
  const result = await test.client.execute({ sql: 'SELECT revoked_at, revoke_reason, last_refreshed_at, user_agent FROM login_sessions WHERE id = ?', args: [sessionId] });
  const r = result.rows[0]!;
  return { revokedAt: r['revoked_at'], revokeReason: r['revoke_reason'], lastRefreshedAt: r['last_refreshed_at'], userAgent: r['user_agent'] };
}

function rotate(db: Database, token: string, now: number, secret = SECRET) {
  return rotateRefreshToken(db, { token, secret, now, timings: TIMINGS });
}

describe('refresh tokens', () => {
  let test: TestDatabase;
  let userId: string;

  beforeEach(async () => {
    test = await openMigratedTestDatabase();
    userId = await addUser(test.db);
  });
  afterEach(() => test.close());

  it('are 256-bit base64url tokens stored only as their SHA-256', async () => {
    const login = await startLogin(test.db, { userId, userAgent: 'parley-test/1.0', now: T0, timings: TIMINGS });
    const text = encodeRefreshToken(login.refreshToken);
    expect(text).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(parseRefreshToken(text)).toEqual(login.refreshToken);
    const rows = await tokenRows(test, login.sessionId);
    expect(rows).toEqual([{ hash: refreshTokenHash(login.refreshToken), generation: 0, issuedAt: T0, expiresAt: T0 + TIMINGS.refreshTtlMs, usedAt: null }]);
    const dump = JSON.stringify((await test.client.execute('SELECT * FROM refresh_tokens')).rows);
    expect(dump).not.toContain(text);
    expect(login.sessionId).toMatch(/^ses_[a-z2-7]{26}$/);
    expect((await loginRow(test, login.sessionId)).userAgent).toBe('parley-test/1.0');
  });

  it('refuse malformed tokens without a query', async () => {
    for (const token of ['', 'short', 'A'.repeat(42), 'A'.repeat(44), '+'.repeat(43), `${'A'.repeat(42)}B`]) {
      expect(await rotate(test.db, token, T0), token).toEqual({ kind: 'refused', reason: 'malformed', endedSessionIds: [] });
    }
    expect(await rotate(test.db, encodeRefreshToken(new Uint8Array(32)), T0)).toEqual({ kind: 'refused', reason: 'unknown', endedSessionIds: [] });
  });

  it('rotate into the derived successor, one generation on, issued when the old one was used', async () => {
    const login = await startLogin(test.db, { userId, userAgent: null, now: T0, timings: TIMINGS });
    const outcome = await rotate(test.db, encodeRefreshToken(login.refreshToken), T0 + 5000);
    const successor = successorToken(SECRET, login.refreshToken);
    expect(outcome).toEqual({
      kind: 'rotated',
      sessionId: login.sessionId,
      userId,
      username: 'Alice',
      userCreatedAt: 1,
      refreshToken: successor,
      generation: 1,
      issuedAt: T0 + 5000,
      refreshTokenExpiresAt: T0 + 5000 + TIMINGS.refreshTtlMs,
    });
    expect(await tokenRows(test, login.sessionId)).toEqual([
      { hash: refreshTokenHash(login.refreshToken), generation: 0, issuedAt: T0, expiresAt: T0 + TIMINGS.refreshTtlMs, usedAt: T0 + 5000 },
      { hash: refreshTokenHash(successor), generation: 1, issuedAt: T0 + 5000, expiresAt: T0 + 5000 + TIMINGS.refreshTtlMs, usedAt: null },
    ]);
    expect((await loginRow(test, login.sessionId)).lastRefreshedAt).toBe(T0 + 5000);
    // The access token id is derived from the refresh token it goes with, and differs per token.
    expect(accessTokenIdFor(SECRET, successor)).not.toBe(accessTokenIdFor(SECRET, login.refreshToken));
    expect(accessTokenIdFor(SECRET, successor)).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('walk a chain of generations', async () => {
    const login = await startLogin(test.db, { userId, userAgent: null, now: T0, timings: TIMINGS });
    let token = login.refreshToken;
    for (let i = 1; i <= 5; i++) {
      const outcome = await rotate(test.db, encodeRefreshToken(token), T0 + i * MINUTE);
      expect(outcome.kind).toBe('rotated');
      if (outcome.kind !== 'rotated') return;
      expect(outcome.generation).toBe(i);
      token = outcome.refreshToken;
    }
    expect((await tokenRows(test, login.sessionId)).map((r) => r.generation)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('give a retry within the grace period the very same successor, up to and including its last millisecond', async () => {
    const login = await startLogin(test.db, { userId, userAgent: null, now: T0, timings: TIMINGS });
    const token = encodeRefreshToken(login.refreshToken);
    const first = await rotate(test.db, token, T0 + 1000);
    const retry = await rotate(test.db, token, T0 + 1000 + 10_000);
    const lastMoment = await rotate(test.db, token, T0 + 1000 + TIMINGS.retryGraceMs);
    expect(retry).toEqual(first);
    expect(lastMoment).toEqual(first);
    expect(await tokenRows(test, login.sessionId)).toHaveLength(2);
    expect((await loginRow(test, login.sessionId)).revokedAt).toBeNull();
  });

  it('treat a retry one millisecond after the grace period as reuse and end the login', async () => {
    const login = await startLogin(test.db, { userId, userAgent: null, now: T0, timings: TIMINGS });
    const token = encodeRefreshToken(login.refreshToken);
    const first = await rotate(test.db, token, T0);
    expect(first.kind).toBe('rotated');
    const late = await rotate(test.db, token, T0 + TIMINGS.retryGraceMs + 1);
    expect(late).toEqual({ kind: 'refused', reason: 'reused', endedSessionIds: [login.sessionId] });
    expect(await loginRow(test, login.sessionId)).toMatchObject({ revokedAt: T0 + TIMINGS.retryGraceMs + 1, revokeReason: 'reuse_detected' });
    // The successor dies with its family.
    if (first.kind !== 'rotated') return;
    expect(await rotate(test.db, encodeRefreshToken(first.refreshToken), T0 + TIMINGS.retryGraceMs + 2)).toEqual({ kind: 'refused', reason: 'login_ended', endedSessionIds: [] });
  });

  it('case 19: a rotated token used again after its successor was used revokes the whole family, even within the grace period', async () => {
    const login = await startLogin(test.db, { userId, userAgent: null, now: T0, timings: TIMINGS });
    const original = encodeRefreshToken(login.refreshToken);
    const first = await rotate(test.db, original, T0 + 1000);
    if (first.kind !== 'rotated') throw new Error('expected a rotation');
    const second = await rotate(test.db, encodeRefreshToken(first.refreshToken), T0 + 2000);
    if (second.kind !== 'rotated') throw new Error('expected a rotation');
    // Within 30 s of its use, but its successor has been used: a thief or a confused client.
    const replay = await rotate(test.db, original, T0 + 3000);
    expect(replay).toEqual({ kind: 'refused', reason: 'reused', endedSessionIds: [login.sessionId] });
    expect(await loginRow(test, login.sessionId)).toMatchObject({ revokeReason: 'reuse_detected', revokedAt: T0 + 3000 });
    // Every token of the family is dead now, the newest included.
    expect(await rotate(test.db, encodeRefreshToken(second.refreshToken), T0 + 4000)).toMatchObject({ kind: 'refused', reason: 'login_ended' });
    expect(await rotate(test.db, encodeRefreshToken(first.refreshToken), T0 + 4000)).toMatchObject({ kind: 'refused', reason: 'login_ended' });
    // Nothing was added after the first two rotations.
    expect((await tokenRows(test, login.sessionId)).map((r) => r.generation)).toEqual([0, 1, 2]);
    // Reuse ends only that login, not the user's others.
    const other = await startLogin(test.db, { userId, userAgent: null, now: T0, timings: TIMINGS });
    expect((await rotate(test.db, encodeRefreshToken(other.refreshToken), T0 + 5000)).kind).toBe('rotated');
  });

  it('case 19: concurrent refreshes of one token all get the same successor and the database holds exactly one', async () => {
    const login = await startLogin(test.db, { userId, userAgent: null, now: T0, timings: TIMINGS });
    const token = encodeRefreshToken(login.refreshToken);
    const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => rotate(test.db, token, T0 + 1000 + i)));
    for (const outcome of outcomes) expect(outcome).toEqual(outcomes[0]);
    expect(outcomes[0]!.kind).toBe('rotated');
    const rows = await tokenRows(test, login.sessionId);
    expect(rows.filter((r) => r.generation === 1)).toHaveLength(1);
  });

  it('expire per token, without revoking the login', async () => {
    const login = await startLogin(test.db, { userId, userAgent: null, now: T0, timings: TIMINGS });
    const token = encodeRefreshToken(login.refreshToken);
    expect(await rotate(test.db, token, T0 + TIMINGS.refreshTtlMs)).toEqual({ kind: 'refused', reason: 'expired', endedSessionIds: [] });
    expect((await loginRow(test, login.sessionId)).revokedAt).toBeNull();
    expect(await tokenRows(test, login.sessionId)).toHaveLength(1);
  });

  it('end at the login’s absolute lifetime however often it refreshes; successors never outlive it', async () => {
    const timings: RefreshTimings = { ...TIMINGS, loginTtlMs: 90 * MINUTE };
    const login = await startLogin(test.db, { userId, userAgent: null, now: T0, timings });
    let token = login.refreshToken;
    let outcome = await rotateRefreshToken(test.db, { token: encodeRefreshToken(token), secret: SECRET, now: T0 + 50 * MINUTE, timings });
    if (outcome.kind !== 'rotated') throw new Error('expected a rotation');
    expect(outcome.refreshTokenExpiresAt).toBe(T0 + 90 * MINUTE); // not T0 + 110 min
    token = outcome.refreshToken;
    outcome = await rotateRefreshToken(test.db, { token: encodeRefreshToken(token), secret: SECRET, now: T0 + 90 * MINUTE, timings });
    expect(outcome).toEqual({ kind: 'refused', reason: 'login_ended', endedSessionIds: [] });
  });

  it('never fork a family, even when a retry derives its successor with another secret', async () => {
    const login = await startLogin(test.db, { userId, userAgent: null, now: T0, timings: TIMINGS });
    const token = encodeRefreshToken(login.refreshToken);
    expect((await rotate(test.db, token, T0 + 1000)).kind).toBe('rotated');
    // REFRESH_TOKEN_SECRET rotated between the first answer and the retry.
    expect(await rotate(test.db, token, T0 + 2000, OTHER_SECRET)).toEqual({ kind: 'refused', reason: 'not_derivable', endedSessionIds: [] });
    expect((await tokenRows(test, login.sessionId)).map((r) => r.generation)).toEqual([0, 1]);
    expect((await loginRow(test, login.sessionId)).revokedAt).toBeNull();
  });

  it('refuse every token of a login that was ended, and never call that reuse', async () => {
    const login = await startLogin(test.db, { userId, userAgent: null, now: T0, timings: TIMINGS });
    expect(await endLogins(test.db, { userId, sessionId: login.sessionId }, 'logout', T0 + 10)).toEqual([login.sessionId]);
    expect(await rotate(test.db, encodeRefreshToken(login.refreshToken), T0 + 20)).toEqual({ kind: 'refused', reason: 'login_ended', endedSessionIds: [] });
    expect(await loginRow(test, login.sessionId)).toMatchObject({ revokeReason: 'logout', revokedAt: T0 + 10 });
    expect(await tokenRows(test, login.sessionId)).toHaveLength(1);
  });
});

describe('ending logins', () => {
  let test: TestDatabase;
  let userId: string;

  beforeEach(async () => {
    test = await openMigratedTestDatabase();
    userId = await addUser(test.db);
  });
  afterEach(() => test.close());

  it('ends one login or all but one, returns what it ended, and ends nothing twice', async () => {
    const a = await startLogin(test.db, { userId, userAgent: null, now: T0, timings: TIMINGS });
    const b = await startLogin(test.db, { userId, userAgent: null, now: T0, timings: TIMINGS });
    const c = await startLogin(test.db, { userId, userAgent: null, now: T0, timings: TIMINGS });
    const otherUser = await addUser(test.db, 'usr_bbbbbbbbbbbbbbbbbbbbbbbbbb');
    const d = await startLogin(test.db, { userId: otherUser, userAgent: null, now: T0, timings: TIMINGS });

    expect((await endLogins(test.db, { userId, exceptSessionId: a.sessionId }, 'password_change', T0 + 1)).sort()).toEqual([b.sessionId, c.sessionId].sort());
    expect(await endLogins(test.db, { userId, exceptSessionId: a.sessionId }, 'password_change', T0 + 2)).toEqual([]);
    // Another user's login is not reachable through this user.
    expect(await endLogins(test.db, { userId, sessionId: d.sessionId }, 'logout', T0 + 3)).toEqual([]);
    expect(await endLogins(test.db, { userId, sessionId: a.sessionId }, 'logout', T0 + 4)).toEqual([a.sessionId]);
    expect(await endLogins(test.db, { userId, sessionId: a.sessionId }, 'logout', T0 + 5)).toEqual([]);
    expect((await loginRow(test, b.sessionId)).revokeReason).toBe('password_change');
    expect((await loginRow(test, a.sessionId)).revokeReason).toBe('logout');
    expect((await loginRow(test, d.sessionId)).revokedAt).toBeNull();
  });

  it('does not count expired logins as ended now', async () => {
    const a = await startLogin(test.db, { userId, userAgent: null, now: T0, timings: TIMINGS });
    expect(await endLogins(test.db, { userId }, 'password_change', T0 + TIMINGS.loginTtlMs)).toEqual([]);
    expect((await loginRow(test, a.sessionId)).revokedAt).toBeNull();
  });
  it('prune ended logins and their tokens a few at a time, once past their retention', async () => {
    // Ten logins started at T0, each refreshed twice (three token rows), then ended by logout.
    const old: string[] = [];
    for (let i = 0; i < 10; i += 1) {
      const login = await startLogin(test.db, { userId, userAgent: null, now: T0 + i, timings: TIMINGS });
      const first = await rotate(test.db, encodeRefreshToken(login.refreshToken), T0 + 100);
      if (first.kind !== 'rotated') throw new Error('expected a rotation');
      expect((await rotate(test.db, encodeRefreshToken(first.refreshToken), T0 + 200)).kind).toBe('rotated');
      old.push(login.sessionId);
    }
    await endLogins(test.db, { userId }, 'logout', T0 + 300);
    const count = async (table: string) => Number((await test.client.execute(`SELECT count(*) AS n FROM ${table}`)).rows[0]!['n']);
    expect([await count('login_sessions'), await count('refresh_tokens')]).toEqual([10, 30]);

    // Within retention of their absolute end (logout does not shorten it): nothing goes.
    const endOfLast = T0 + 9 + TIMINGS.loginTtlMs;
    await startLogin(test.db, { userId, userAgent: null, now: endOfLast + ENDED_LOGIN_RETENTION_MS - 10, timings: TIMINGS });
    expect([await count('login_sessions'), await count('refresh_tokens')]).toEqual([11, 31]);

    // Past it: each new login takes the oldest ENDED_LOGIN_PRUNE_BATCH, tokens included.
    const later = endOfLast + ENDED_LOGIN_RETENTION_MS + 1;
    const fresh = await startLogin(test.db, { userId, userAgent: null, now: later, timings: TIMINGS });
    expect(ENDED_LOGIN_PRUNE_BATCH).toBe(8);
    const left = await test.client.execute('SELECT id FROM login_sessions ORDER BY expires_at');
    expect(left.rows.map((r) => String(r['id']))).toEqual([old[8], old[9], expect.any(String), fresh.sessionId]);
    expect(await count('refresh_tokens')).toBe(3 + 3 + 1 + 1);
    await startLogin(test.db, { userId, userAgent: null, now: later + 1, timings: TIMINGS });
    expect([await count('login_sessions'), await count('refresh_tokens')]).toEqual([3, 3]);
    // The logins still live are untouched and still refresh.
    expect((await rotate(test.db, encodeRefreshToken(fresh.refreshToken), later + 2)).kind).toBe('rotated');
  });
});

describe('rotation on a file: database', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('behaves the same: rotate, retry, reuse, revoke', async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-refresh-'));
    const test = await openMigratedTestDatabase(`file:${join(dir, 'control.db')}`);
    try {
      const userId = await addUser(test.db);
      const login = await startLogin(test.db, { userId, userAgent: null, now: T0, timings: TIMINGS });
      const token = encodeRefreshToken(login.refreshToken);
      const outcomes = await Promise.all([rotate(test.db, token, T0 + 1), rotate(test.db, token, T0 + 2), rotate(test.db, token, T0 + 3)]);
      expect(outcomes[1]).toEqual(outcomes[0]);
      expect(outcomes[2]).toEqual(outcomes[0]);
      const first = outcomes[0]!;
      if (first.kind !== 'rotated') throw new Error('expected a rotation');
      expect((await rotate(test.db, encodeRefreshToken(first.refreshToken), T0 + 10)).kind).toBe('rotated');
      expect(await rotate(test.db, token, T0 + 11)).toEqual({ kind: 'refused', reason: 'reused', endedSessionIds: [login.sessionId] });
    } finally {
      test.close();
    }
    // The file really holds it: a second connection sees the revoked login.
    const again = await openMigratedTestDatabase(`file:${join(dir, 'control.db')}`);
    try {
      const result = await again.client.execute("SELECT count(*) AS n FROM login_sessions WHERE revoke_reason = 'reuse_detected'");
      expect(result.rows[0]!['n']).toBe(1);
    } finally {
      again.close();
    }
  });
});

describe('the rotation rule (judgeRotation)', () => {
  const used: RotationRow = {
    sessionId: 'ses_x',
    userId: 'usr_x',
    generation: 3,
    usedAt: 1000,
    expiresAt: 100_000,
    loginRevokedAt: null,
    loginExpiresAt: 1_000_000,
    successorHash: 'h1',
    successorIssuedAt: 1000,
    successorExpiresAt: 200_000,
    successorUsedAt: null,
    username: 'a',
    userCreatedAt: 1,
  };

  it.each<[string, RotationRow | undefined, number, string]>([
    ['unknown token', undefined, 1000, 'unknown'],
    ['just rotated', used, 1000, 'accepted'],
    ['clock behind the one that rotated', used, 900, 'accepted'],
    ['retry at the grace edge', used, 31_000, 'accepted'],
    ['retry past the grace edge', used, 31_001, 'reused'],
    ['successor used', { ...used, successorUsedAt: 1500 }, 1600, 'reused'],
    ['login revoked', { ...used, loginRevokedAt: 500 }, 1000, 'login_ended'],
    ['login expired', used, 1_000_000, 'login_ended'],
    ['token expired unused', { ...used, usedAt: null, successorHash: null, successorExpiresAt: null, successorIssuedAt: null }, 100_000, 'expired'],
    ['successor expired within grace', { ...used, successorExpiresAt: 1500 }, 1500, 'expired'],
    ['successor derived with another secret', { ...used, successorHash: 'other' }, 1000, 'not_derivable'],
  ])('%s', (_, row, now, expected) => {
    const judgement = judgeRotation(row, now, 30_000, 'h1');
    expect(judgement.kind === 'accepted' ? 'accepted' : judgement.reason).toBe(expected);
  });
});

describe('stored User-Agent', () => {
  it('is capped at 256 characters, stripped of control and format characters', () => {
    expect(cappedUserAgent(undefined)).toBeNull();
    expect(cappedUserAgent('   ')).toBeNull();
    expect(cappedUserAgent('Mozilla/5.0\u0000\u202e (X11)')).toBe('Mozilla/5.0 (X11)');
    expect(cappedUserAgent('x'.repeat(1_000_000))).toHaveLength(256);
    expect([...cappedUserAgent('😀'.repeat(300))!]).toHaveLength(256);
  });
});
