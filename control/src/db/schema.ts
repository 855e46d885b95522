/**
 * The control plane's database: one drizzle-orm schema for libSQL (Turso in production, the
 * local libSQL HTTP server in development and tests, `file:` in Node tests).
 *
 * Conventions:
 * - Ids are text with a type prefix (`usr_`, `ses_`, `chn_`, `ak_`; see ../ids.ts). They satisfy
 *   the relay API's id rule (1..128 visible ASCII, docs/protocol.md §8.1) so they can travel to
 *   relays unchanged.
 * - Times are integers, milliseconds since the Unix epoch, set by the Worker (not by SQL
 *   defaults), so tests can move the clock and every row states the instant the Worker decided.
 * - Booleans are integers 0/1 (`mode: 'boolean'`).
 * - Secrets are never stored: passwords as Argon2id PHC strings, refresh tokens and app keys as
 *   SHA-256 hashes (they are 256-bit random, so a fast hash is enough; no one can brute-force a
 *   256-bit preimage).
 *
 * Migrations are generated from this file by drizzle-kit (`npm run db:generate`, dialect
 * `sqlite`: the `turso` dialect emits ALTER COLUMN, which SQLite rejects) into migrations/, then
 * read and tested before they are committed (test/unit/db/migrations.test.ts).
 */
import { sql } from 'drizzle-orm';
import { check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/** Accounts that log in with a username and password. Users of an app's own system have no row here. */
export const users = sqliteTable(
  'users',
  {
    id: text('id').primaryKey(),
    /** As the user typed it, NFKC-normalised: what others see. */
    username: text('username').notNull(),
    /** NFKC + case folding of `username`: what uniqueness and login compare (auth/usernames.ts). */
    usernameKey: text('username_key').notNull(),
    /** Argon2id PHC string (auth/passwords.ts). */
    passwordHash: text('password_hash').notNull(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    passwordChangedAt: integer('password_changed_at').notNull(),
  },
  (t) => [uniqueIndex('users_username_key_unique').on(t.usernameKey)],
);

/**
 * One login: a refresh-token family. Its id is the `sid` claim of every access token issued
 * from it, so ending it (logout, password change, reuse detected) ends exactly that login.
 */
export const loginSessions = sqliteTable(
  'login_sessions',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: integer('created_at').notNull(),
    /** Absolute end of the family: no refresh after it, however recently used. */
    expiresAt: integer('expires_at').notNull(),
    lastRefreshedAt: integer('last_refreshed_at'),
    revokedAt: integer('revoked_at'),
    /** 'logout' | 'password_change' | 'reuse_detected' | 'expired' */
    revokeReason: text('revoke_reason'),
    /** The client's User-Agent at login, capped at 256 characters, for "your devices" lists. */
    userAgent: text('user_agent'),
  },
  // expires_at: logins are pruned a few at a time, oldest first, a while after they end (auth/refresh-tokens.ts).
  (t) => [index('login_sessions_user_id').on(t.userId), index('login_sessions_expires_at').on(t.expiresAt)],
);

/**
 * Refresh tokens, by the SHA-256 of the token. A token is used once: refreshing it sets
 * `usedAt` and inserts its successor (generation + 1), in one atomic batch
 * (auth/refresh-tokens.ts explains why that makes concurrent refreshes agree). A family is a
 * chain: at most one token per generation, enforced by a unique index, so no code path (not even
 * a successor derived with a rotated secret) can fork it.
 */
export const refreshTokens = sqliteTable(
  'refresh_tokens',
  {
    /** base64url(SHA-256(token)), 43 characters. */
    tokenHash: text('token_hash').primaryKey(),
    sessionId: text('session_id')
      .notNull()
      .references(() => loginSessions.id, { onDelete: 'cascade' }),
    generation: integer('generation').notNull(),
    issuedAt: integer('issued_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    usedAt: integer('used_at'),
  },
  (t) => [uniqueIndex('refresh_tokens_session_generation_unique').on(t.sessionId, t.generation)],
);

/**
 * API keys for an app's server (scope `tokens:mint`: mint access tokens for the app's own
 * users) and for operators (scope `operator`: the /v1/admin routes). The key is shown once, at
 * creation; only its hash is kept.
 */
export const appKeys = sqliteTable(
  'app_keys',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    /** JSON array of scope names, e.g. ["tokens:mint"]. */
    scopes: text('scopes', { mode: 'json' }).$type<string[]>().notNull(),
    /** base64url(SHA-256(secret part of the key)). */
    secretHash: text('secret_hash').notNull(),
    createdAt: integer('created_at').notNull(),
    /** The app key id that created it, or 'bootstrap' for the first operator key. */
    createdBy: text('created_by').notNull(),
    revokedAt: integer('revoked_at'),
    lastUsedAt: integer('last_used_at'),
  },
  (t) => [uniqueIndex('app_keys_secret_hash_unique').on(t.secretHash)],
);

export const channels = sqliteTable(
  'channels',
  {
    id: text('id').primaryKey(),
    /** NFKC-normalised, 1..64 characters (channels/channel-names.ts). Not unique. */
    name: text('name').notNull(),
    /** 'open': any account may join. 'private': members are added by the channel's admins. */
    visibility: text('visibility', { enum: ['open', 'private'] }).notNull(),
    /** The account that created it; null for channels an operator created. */
    ownerId: text('owner_id').references(() => users.id, { onDelete: 'set null' }),
    memberLimit: integer('member_limit').notNull(),
    /** A relay region the channel's voice must use (relays/regions.ts), or null to choose by the members. */
    region: text('region'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    index('channels_owner_id').on(t.ownerId),
    // Channel lists are ordered by (created_at, id) (channels/channel-service.ts): all of them
    // for operators, the open ones for everyone.
    index('channels_created_at_id').on(t.createdAt, t.id),
    index('channels_visibility_created_at_id').on(t.visibility, t.createdAt, t.id),
    check('channels_visibility_known', sql`${t.visibility} IN ('open', 'private')`),
    check('channels_member_limit_positive', sql`${t.memberLimit} > 0`),
  ],
);

export const channelMembers = sqliteTable(
  'channel_members',
  {
    channelId: text('channel_id')
      .notNull()
      .references(() => channels.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: text('role', { enum: ['owner', 'admin', 'member'] }).notNull(),
    /** Bit set of permissions (channels/permissions.ts): speak 1, listen 2, moderate 4, manage 8. */
    permissions: integer('permissions').notNull(),
    joinedAt: integer('joined_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.channelId, t.userId] }),
    index('channel_members_user_id').on(t.userId),
    check('channel_members_role_known', sql`${t.role} IN ('owner', 'admin', 'member')`),
  ],
);

/**
 * Bans by subject: an account's user id, or an app user's subject (`<appKeyId>:<externalUserId>`),
 * so a banned app user cannot come back with a freshly minted token either.
 */
export const channelBans = sqliteTable(
  'channel_bans',
  {
    channelId: text('channel_id')
      .notNull()
      .references(() => channels.id, { onDelete: 'cascade' }),
    subject: text('subject').notNull(),
    /** The subject who banned, for the audit trail. */
    bannedBy: text('banned_by').notNull(),
    reason: text('reason'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.channelId, t.subject] })],
);

/**
 * The relay directory (docs/protocol.md §8.6): what each relay last said about itself. A relay
 * whose `lastSeenAt` is older than the configured dead-after interval counts as dead.
 */
export const relays = sqliteTable('relays', {
  id: text('id').primaryKey(),
  region: text('region').notNull(),
  /** base64url X25519 public key, checked against §3.3 before it is stored. */
  publicKey: text('public_key').notNull(),
  /** Which run of the relay last announced itself (§8.4: seals must name it); new at every restart. */
  bootId: text('boot_id').notNull(),
  /** JSON array of {host, port}: worker i's public endpoint at index i. */
  udpEndpoints: text('udp_endpoints', { mode: 'json' }).$type<{ host: string; port: number }[]>().notNull(),
  sessions: integer('sessions').notNull(),
  channels: integer('channels').notNull(),
  draining: integer('draining', { mode: 'boolean' }).notNull(),
  /** The control key id the relay signs with; a relay id is accepted only with its own key id. */
  controlKeyId: text('control_key_id').notNull(),
  registeredAt: integer('registered_at').notNull(),
  lastSeenAt: integer('last_seen_at').notNull(),
  /**
   * The relay's internal-API base URL, where voice rooms install sessions (§8.5). A relay
   * without one cannot be given sessions.
   */
  apiUrl: text('api_url'),
});

/**
 * SSRCs the voice rooms gave out, per relay run (relay id + boot id): the primary key makes an
 * SSRC unique on its relay, whichever room allocates it (docs/protocol.md §5.5, §6.6). Rows
 * stay after release for a cooldown (room/relay-sessions.ts), so an SSRC is not handed out
 * again while contexts that knew it may still be alive; a relay run that ends (a new boot id)
 * starts afresh.
 */
export const voiceSsrcs = sqliteTable(
  'voice_ssrcs',
  {
    relayId: text('relay_id').notNull(),
    /** The relay run (relays.boot_id) the SSRC was allocated on: a new run starts afresh. */
    bootId: text('boot_id').notNull(),
    ssrc: integer('ssrc').notNull(),
    sessionId: text('session_id').notNull(),
    channelId: text('channel_id').notNull(),
    allocatedAt: integer('allocated_at').notNull(),
    releasedAt: integer('released_at'),
  },
  (t) => [
    primaryKey({ columns: [t.relayId, t.bootId, t.ssrc] }),
    index('voice_ssrcs_session_id').on(t.sessionId),
    index('voice_ssrcs_released_at').on(t.releasedAt),
    check('voice_ssrcs_ssrc_uint32', sql`${t.ssrc} BETWEEN 0 AND 4294967295`),
  ],
);

/**
 * Which rooms hold sockets or voice sessions of which login (the `sid` claim: a login session
 * id, or the app key id for minted tokens). Rooms write it; ending a login (logout, password
 * change, app key revocation) reads it to tell exactly those rooms to close that login's
 * sockets (room/login-sockets.ts).
 */
export const voiceLogins = sqliteTable(
  'voice_logins',
  {
    loginId: text('login_id').notNull(),
    channelId: text('channel_id').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.loginId, t.channelId] })],
);

/**
 * Nonces of signed relay requests (docs/protocol.md §8.2 step 5), shared by every isolate.
 * Recorded in the same batch as the request's effect, so a replay has no effect at all.
 */
export const relayRequestNonces = sqliteTable(
  'relay_request_nonces',
  {
    nonce: text('nonce').primaryKey(),
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [index('relay_request_nonces_expires_at').on(t.expiresAt)],
);
