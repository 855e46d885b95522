/**
 * Refresh tokens: opaque, 256 random bits in base64url (43 characters), stored only as
 * base64url(SHA-256(token)); a uniformly random 256-bit value needs no slow hash. A login is a
 * family of them (`login_sessions`, id = the access tokens' `sid`), a chain of generations
 * 0, 1, 2, …; each refresh uses the newest token once and adds the next.
 *
 * Rotation (docs/protocol.md §4.3), designed so that the database alone decides and every
 * request that presents the same token computes the same answer:
 *
 * 1. The successor is derived, not drawn: successor(T) = HMAC-SHA256(REFRESH_TOKEN_SECRET,
 *    "parley-v1 refresh successor" ‖ T). The access token issued with a refresh token R has
 *    `jti` = base64url(first 16 bytes of HMAC-SHA256(secret, "parley-v1 access token id" ‖ R))
 *    and `iat` = R's `issued_at`; Ed25519 signatures are deterministic (RFC 8032 §5.1.6), so the
 *    whole pair is a function of T and rows the database holds. Nothing secret is stored to
 *    answer a retry.
 * 2. One write batch (BEGIN IMMEDIATE … COMMIT on the server, so batches of one database run one
 *    at a time) marks T used if it is unused, unexpired and its login live; inserts T's successor
 *    (generation + 1, issued_at = T's used_at) if T is now used and the login live, doing nothing
 *    if generation + 1 exists; and reads T's row, its successor and the login back.
 * 3. The Worker judges what it read (judgeRotation): T used at most REFRESH_RETRY_GRACE_SECONDS
 *    ago and its successor still unused → the pair (identical for the request that rotated T,
 *    for concurrent ones and for retries); T used longer ago, or its successor already used →
 *    reuse: the login is ended (reason reuse_detected) and the answer is 401; unknown, expired or
 *    revoked → 401.
 *
 * Beyond the design as first drawn: the family is a chain by construction. A unique index on
 * (session_id, generation) lets no second successor in, and the successor is found by
 * generation rather than by the hash the Worker derived. Without it, a request deriving with a
 * different secret (during a REFRESH_TOKEN_SECRET rotation) would have inserted a second,
 * different successor of T: a fork. With it, such a request finds a successor it cannot
 * re-derive and gets 401 without touching the family. And the reuse revocation goes through
 * endLogins (auth/logins.ts), the one function that ends logins and reports them, as a
 * follow-up statement: revocation is monotonic, so doing it after the batch cannot undo or race
 * anything; if it were lost, the next presentation of the reused token would detect it again.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { sql } from 'drizzle-orm';
import { decodeBase64Url, encodeBase64Url } from '../../../shared/relay-api/index.js';
import type { Database } from '../db/client.js';
import { loginSessions, refreshTokens } from '../db/schema.js';
import { newId } from '../ids.js';
import { endLogins } from './logins.js';

export const REFRESH_TOKEN_BYTES = 32;
const SUCCESSOR_LABEL = new TextEncoder().encode('parley-v1 refresh successor');
const ACCESS_TOKEN_ID_LABEL = new TextEncoder().encode('parley-v1 access token id');
const ACCESS_TOKEN_ID_BYTES = 16;

/** A fresh refresh token. Call inside a request (workerd refuses randomness at module scope). */
export function newRefreshToken(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(REFRESH_TOKEN_BYTES));
}

export function encodeRefreshToken(token: Uint8Array): string {
  return encodeBase64Url(token);
}

/** The token's bytes, or null unless it is exactly 32 bytes of strict base64url. */
export function parseRefreshToken(text: string): Uint8Array | null {
  if (text.length !== 43) return null;
  const bytes = decodeBase64Url(text);
  return bytes !== null && bytes.length === REFRESH_TOKEN_BYTES ? bytes : null;
}

/** What the database keys a token by: base64url(SHA-256(token)). */
export function refreshTokenHash(token: Uint8Array): string {
  return encodeBase64Url(sha256(token));
}

function labelled(label: Uint8Array, token: Uint8Array): Uint8Array {
  const message = new Uint8Array(label.length + token.length);
  message.set(label, 0);
  message.set(token, label.length);
  return message;
}

/** successor(T) = HMAC-SHA256(secret, "parley-v1 refresh successor" ‖ T). */
export function successorToken(secret: Uint8Array, token: Uint8Array): Uint8Array {
  return hmac(sha256, secret, labelled(SUCCESSOR_LABEL, token));
}

/** The `jti` of the access token issued together with refresh token R (one-way: it reveals nothing of R). */
export function accessTokenIdFor(secret: Uint8Array, token: Uint8Array): string {
  return encodeBase64Url(hmac(sha256, secret, labelled(ACCESS_TOKEN_ID_LABEL, token)).subarray(0, ACCESS_TOKEN_ID_BYTES));
}

export interface StartedLogin {
  readonly sessionId: string;
  readonly userId: string;
  readonly refreshToken: Uint8Array;
  /** Of this refresh token (ms): its access token's `iat`. */
  readonly issuedAt: number;
  readonly refreshTokenExpiresAt: number;
  readonly loginExpiresAt: number;
}

export interface RefreshTimings {
  /** Lifetime of each refresh token. */
  readonly refreshTtlMs: number;
  /** Absolute lifetime of a login. */
  readonly loginTtlMs: number;
  /** How long a used token may be presented again and still get the same successor. */
  readonly retryGraceMs: number;
}

/** Longest User-Agent kept (the column's documented cap). */
export const USER_AGENT_MAX_LENGTH = 256;

/** A User-Agent fit to store: control and format characters dropped, at most 256 code points, null if empty. */
export function cappedUserAgent(userAgent: string | undefined | null): string | null {
  if (userAgent === undefined || userAgent === null) return null;
  // Only the head can survive the cap, so never scan more of a hostile header than that.
  const head = userAgent.slice(0, USER_AGENT_MAX_LENGTH * 2);
  const cleaned = [...head.replace(/[\p{Cc}\p{Cf}\p{Surrogate}]/gu, '')].slice(0, USER_AGENT_MAX_LENGTH).join('').trim();
  return cleaned === '' ? null : cleaned;
}

/**
 * How long a login's rows stay after its absolute end (`expires_at`; a login ended early by
 * logout or reuse still has one). Nothing reads them then: refreshing an expired login is 401
 * whatever its tokens say. The week is for an operator looking into an incident.
 */
export const ENDED_LOGIN_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * Ended logins deleted per new login, oldest first, with their refresh tokens. More than one
 * login starts for each that ends, so the tables stay bounded with no scheduled job; the index
 * on expires_at keeps it a short range scan.
 */
export const ENDED_LOGIN_PRUNE_BATCH = 8;

/** The logins past retention at `now` that one prune takes: the same rows for both statements of a batch. */
function loginsToPrune(now: number) {
  return sql`SELECT ${loginSessions.id} FROM ${loginSessions} WHERE ${loginSessions.expiresAt} < ${now - ENDED_LOGIN_RETENTION_MS}
    ORDER BY ${loginSessions.expiresAt}, ${loginSessions.id} LIMIT ${ENDED_LOGIN_PRUNE_BATCH}`;
}

/**
 * Stores a new login (family) for the user with its first refresh token, atomically, and prunes
 * a few logins that ended more than ENDED_LOGIN_RETENTION_MS ago. Their refresh tokens go first,
 * explicitly: the foreign key's ON DELETE CASCADE acts only where a connection enabled
 * foreign keys, which is not something an HTTP client of libSQL controls.
 */
export async function startLogin(
  db: Database,
  input: { readonly userId: string; readonly userAgent: string | null | undefined; readonly now: number; readonly timings: RefreshTimings },
): Promise<StartedLogin> {
  const sessionId = newId('ses');
  const refreshToken = newRefreshToken();
  const loginExpiresAt = input.now + input.timings.loginTtlMs;
  const refreshTokenExpiresAt = Math.min(input.now + input.timings.refreshTtlMs, loginExpiresAt);
  await db.batch([
    db.insert(loginSessions).values({
      id: sessionId,
      userId: input.userId,
      createdAt: input.now,
      expiresAt: loginExpiresAt,
      userAgent: cappedUserAgent(input.userAgent),
    }),
    db.insert(refreshTokens).values({
      tokenHash: refreshTokenHash(refreshToken),
      sessionId,
      generation: 0,
      issuedAt: input.now,
      expiresAt: refreshTokenExpiresAt,
    }),
    db.delete(refreshTokens).where(sql`${refreshTokens.sessionId} IN (${loginsToPrune(input.now)})`),
    db.delete(loginSessions).where(sql`${loginSessions.id} IN (${loginsToPrune(input.now)})`),
  ]);
  return { sessionId, userId: input.userId, refreshToken, issuedAt: input.now, refreshTokenExpiresAt, loginExpiresAt };
}

/** What the rotation batch reads back: the presented token, its successor and its login. */
export interface RotationRow {
  readonly sessionId: string;
  readonly userId: string;
  readonly generation: number;
  readonly usedAt: number | null;
  readonly expiresAt: number;
  readonly loginRevokedAt: number | null;
  readonly loginExpiresAt: number;
  readonly successorHash: string | null;
  readonly successorIssuedAt: number | null;
  readonly successorExpiresAt: number | null;
  readonly successorUsedAt: number | null;
  readonly username: string;
  readonly userCreatedAt: number;
}

export type RotationRefusal = 'malformed' | 'unknown' | 'expired' | 'login_ended' | 'reused' | 'not_derivable';

export type RotationJudgement =
  | { readonly kind: 'accepted' }
  | { readonly kind: 'refused'; readonly reason: Exclude<RotationRefusal, 'malformed'> };

/**
 * The rule, on what the batch read (pure, so its edges are tested on their own). `now` is the
 * instant the batch used; `expectedSuccessorHash` is the hash of the successor this request
 * derived.
 */
export function judgeRotation(row: RotationRow | undefined, now: number, retryGraceMs: number, expectedSuccessorHash: string): RotationJudgement {
  const refused = (reason: Exclude<RotationRefusal, 'malformed'>): RotationJudgement => ({ kind: 'refused', reason });
  if (row === undefined) return refused('unknown');
  if (row.loginRevokedAt !== null || row.loginExpiresAt <= now) return refused('login_ended');
  // Unused after the batch: the batch refused to use it, i.e. it has expired.
  if (row.usedAt === null) return refused('expired');
  // A used token always has a successor (inserted in the batch that used it).
  if (row.successorHash === null || row.successorExpiresAt === null) return refused('unknown');
  const withinGrace = now - row.usedAt <= retryGraceMs;
  if (withinGrace && row.successorUsedAt === null) {
    if (row.successorExpiresAt <= now) return refused('expired');
    return row.successorHash === expectedSuccessorHash ? { kind: 'accepted' } : refused('not_derivable');
  }
  return refused('reused');
}

export type RotationOutcome =
  | {
      readonly kind: 'rotated';
      readonly sessionId: string;
      readonly userId: string;
      readonly username: string;
      readonly userCreatedAt: number;
      /** The successor: the new refresh token. */
      readonly refreshToken: Uint8Array;
      readonly generation: number;
      /** The successor's `issued_at`: the new access token's `iat`. */
      readonly issuedAt: number;
      readonly refreshTokenExpiresAt: number;
    }
  | {
      readonly kind: 'refused';
      readonly reason: RotationRefusal;
      /** Logins this refusal ended (reuse detected), for whoever must close their sockets. */
      readonly endedSessionIds: readonly string[];
    };

// Named parameters: :token (hash of T), :successor (hash of the derived successor), :now, :ttl.
const USE_TOKEN = `
UPDATE refresh_tokens SET used_at = :now
WHERE token_hash = :token AND used_at IS NULL AND expires_at > :now
  AND EXISTS (SELECT 1 FROM login_sessions s
              WHERE s.id = refresh_tokens.session_id AND s.revoked_at IS NULL AND s.expires_at > :now)`;

// ON CONFLICT DO NOTHING covers both the primary key (the same successor again) and the unique
// (session_id, generation): a token that already has a successor never gets another.
const INSERT_SUCCESSOR = `
INSERT INTO refresh_tokens (token_hash, session_id, generation, issued_at, expires_at, used_at)
SELECT :successor, t.session_id, t.generation + 1, t.used_at, MIN(t.used_at + :ttl, s.expires_at), NULL
FROM refresh_tokens t JOIN login_sessions s ON s.id = t.session_id
WHERE t.token_hash = :token AND t.used_at IS NOT NULL AND s.revoked_at IS NULL AND s.expires_at > :now
ON CONFLICT DO NOTHING`;

const NOTE_REFRESH = `
UPDATE login_sessions SET last_refreshed_at = :now
WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = :token AND used_at = :now)`;

const READ_ROTATION = `
SELECT t.session_id AS sessionId, s.user_id AS userId, t.generation AS generation, t.used_at AS usedAt,
       t.expires_at AS expiresAt, s.revoked_at AS loginRevokedAt, s.expires_at AS loginExpiresAt,
       n.token_hash AS successorHash, n.issued_at AS successorIssuedAt, n.expires_at AS successorExpiresAt,
       n.used_at AS successorUsedAt, u.username AS username, u.created_at AS userCreatedAt
FROM refresh_tokens t
JOIN login_sessions s ON s.id = t.session_id
JOIN users u ON u.id = s.user_id
LEFT JOIN refresh_tokens n ON n.session_id = t.session_id AND n.generation = t.generation + 1
WHERE t.token_hash = :token`;

function nullableNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

function rotationRow(row: Record<string, unknown> | undefined): RotationRow | undefined {
  if (row === undefined) return undefined;
  return {
    sessionId: String(row['sessionId']),
    userId: String(row['userId']),
    generation: Number(row['generation']),
    usedAt: nullableNumber(row['usedAt']),
    expiresAt: Number(row['expiresAt']),
    loginRevokedAt: nullableNumber(row['loginRevokedAt']),
    loginExpiresAt: Number(row['loginExpiresAt']),
    successorHash: row['successorHash'] === null || row['successorHash'] === undefined ? null : String(row['successorHash']),
    successorIssuedAt: nullableNumber(row['successorIssuedAt']),
    successorExpiresAt: nullableNumber(row['successorExpiresAt']),
    successorUsedAt: nullableNumber(row['successorUsedAt']),
    username: String(row['username']),
    userCreatedAt: Number(row['userCreatedAt']),
  };
}

/**
 * Rotates the presented refresh token (see the module comment). Concurrent calls with the same
 * token all return the same successor, or all fail; the database holds at most one successor.
 */
export async function rotateRefreshToken(
  db: Database,
  input: { readonly token: string; readonly secret: Uint8Array; readonly now: number; readonly timings: RefreshTimings },
): Promise<RotationOutcome> {
  const token = parseRefreshToken(input.token);
  if (token === null) return { kind: 'refused', reason: 'malformed', endedSessionIds: [] };
  const successor = successorToken(input.secret, token);
  const args = { token: refreshTokenHash(token), successor: refreshTokenHash(successor), now: input.now, ttl: input.timings.refreshTtlMs };
  const results = await db.$client.batch(
    [
      { sql: USE_TOKEN, args: { token: args.token, now: args.now } },
      { sql: INSERT_SUCCESSOR, args },
      { sql: NOTE_REFRESH, args: { token: args.token, now: args.now } },
      { sql: READ_ROTATION, args: { token: args.token } },
    ],
    'write',
  );
  const row = rotationRow(results[3]?.rows[0] as Record<string, unknown> | undefined);
  const judgement = judgeRotation(row, input.now, input.timings.retryGraceMs, args.successor);
  if (judgement.kind === 'accepted' && row !== undefined) {
    return {
      kind: 'rotated',
      sessionId: row.sessionId,
      userId: row.userId,
      username: row.username,
      userCreatedAt: row.userCreatedAt,
      refreshToken: successor,
      generation: row.generation + 1,
      issuedAt: row.successorIssuedAt!,
      refreshTokenExpiresAt: row.successorExpiresAt!,
    };
  }
  const reason = judgement.kind === 'refused' ? judgement.reason : 'unknown';
  const endedSessionIds =
    reason === 'reused' && row !== undefined ? await endLogins(db, { userId: row.userId, sessionId: row.sessionId }, 'reuse_detected', input.now) : [];
  return { kind: 'refused', reason, endedSessionIds };
}
