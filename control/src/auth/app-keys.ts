/**
 * App keys: long-lived credentials for servers. An app's server uses one with scope
 * `tokens:mint` to mint access tokens for its own users (POST /v1/tokens); an operator uses one
 * with scope `operator` for the /v1/admin routes (operator implies every scope).
 *
 * A key reads `<id>.<secret>`: the id (`ak_…`) names the row, the secret is 32 random bytes in
 * base64url. Only SHA-256 of the secret is stored: the secret is uniformly random, so a fast hash
 * is as strong as a slow one here, and lookups stay cheap on every request. The key is shown once,
 * when it is created.
 */
import { and, eq, isNull } from 'drizzle-orm';
import { sha256 } from '@noble/hashes/sha2.js';
import { constantTimeEqual } from '../../../shared/bytes.js';
import { decodeBase64Url, encodeBase64Url } from '../../../shared/relay-api/index.js';
import type { Database } from '../db/client.js';
import { appKeys } from '../db/schema.js';
import { idPattern, newId } from '../ids.js';

export const APP_KEY_SCOPES = ['tokens:mint', 'operator'] as const;
export type AppKeyScope = (typeof APP_KEY_SCOPES)[number];

const APP_KEY_ID = idPattern('ak');
const SECRET_BYTES = 32;

export interface AppKeyCaller {
  readonly appKeyId: string;
  readonly name: string;
  readonly scopes: readonly AppKeyScope[];
}

export interface IssuedAppKey extends AppKeyCaller {
  /** The whole key, `<id>.<secret>`: returned once, never stored. */
  readonly key: string;
  readonly createdAt: number;
}

function secretHash(secret: Uint8Array): string {
  return encodeBase64Url(sha256(secret));
}

/** Splits `<id>.<secret>`; null for anything else (no lookup is made for garbage). */
export function parseAppKey(key: string): { appKeyId: string; secret: Uint8Array } | null {
  const dot = key.indexOf('.');
  if (dot < 0) return null;
  const appKeyId = key.slice(0, dot);
  const secret = decodeBase64Url(key.slice(dot + 1));
  if (!APP_KEY_ID.test(appKeyId) || secret === null || secret.length !== SECRET_BYTES) return null;
  return { appKeyId, secret };
}

export function looksLikeAppKey(token: string): boolean {
  return token.startsWith('ak_');
}

export function scopeAllows(scopes: readonly string[], wanted: AppKeyScope): boolean {
  return scopes.includes('operator') || scopes.includes(wanted);
}

/** Creates a key and stores its hash. `createdBy` is the creating key's id, or 'bootstrap'. */
export async function issueAppKey(
  db: Database,
  input: { name: string; scopes: readonly AppKeyScope[]; createdBy: string; now: number },
): Promise<IssuedAppKey> {
  const appKeyId = newId('ak');
  const secret = crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
  await db.insert(appKeys).values({
    id: appKeyId,
    name: input.name,
    scopes: [...input.scopes],
    secretHash: secretHash(secret),
    createdAt: input.now,
    createdBy: input.createdBy,
  });
  return { appKeyId, name: input.name, scopes: [...input.scopes], key: `${appKeyId}.${encodeBase64Url(secret)}`, createdAt: input.now };
}

/** The caller a presented key belongs to, or null if it is malformed, unknown, revoked or wrong. */
export async function authenticateAppKey(db: Database, key: string): Promise<AppKeyCaller | null> {
  const parsed = parseAppKey(key);
  if (parsed === null) return null;
  const rows = await db.select().from(appKeys).where(eq(appKeys.id, parsed.appKeyId)).limit(1);
  const row = rows[0];
  // Hash and compare even when the row is missing, so the answer takes the same time.
  const presented = new TextEncoder().encode(secretHash(parsed.secret));
  const stored = new TextEncoder().encode(row?.secretHash ?? 'x'.repeat(43));
  const matches = constantTimeEqual(presented, stored);
  if (row === undefined || !matches || row.revokedAt !== null) return null;
  const scopes = row.scopes.filter((s): s is AppKeyScope => (APP_KEY_SCOPES as readonly string[]).includes(s));
  return { appKeyId: row.id, name: row.name, scopes };
}

/** An app key as the admin listing shows it: never the key or its hash. */
export interface AppKeySummary extends AppKeyCaller {
  readonly createdAt: number;
  readonly createdBy: string;
  readonly revokedAt: number | null;
}

/** Every app key, revoked ones included (for the audit trail), oldest first. */
export async function listAppKeys(db: Database): Promise<AppKeySummary[]> {
  const rows = await db
    .select({ id: appKeys.id, name: appKeys.name, scopes: appKeys.scopes, createdAt: appKeys.createdAt, createdBy: appKeys.createdBy, revokedAt: appKeys.revokedAt })
    .from(appKeys)
    .orderBy(appKeys.createdAt, appKeys.id);
  return rows.map((row) => ({
    appKeyId: row.id,
    name: row.name,
    scopes: row.scopes.filter((s): s is AppKeyScope => (APP_KEY_SCOPES as readonly string[]).includes(s)),
    createdAt: row.createdAt,
    createdBy: row.createdBy,
    revokedAt: row.revokedAt,
  }));
}

export type RevokeAppKeyResult =
  | { readonly found: false }
  /**
   * `endedSessionIds` are the `sid`s whose access tokens stopped verifying: an app key is the
   * `sid` of every token it minted, so the voice rooms close exactly those sockets.
   */
  | { readonly found: true; readonly revokedAt: number; readonly endedSessionIds: readonly string[] };

/**
 * Revokes a key at once: it no longer authenticates (authenticateAppKey), and the tokens it
 * minted no longer verify (requireAccessToken checks isAppKeyLive). Revoking a revoked key
 * keeps the first revocation time.
 */
export async function revokeAppKey(db: Database, appKeyId: string, now: number): Promise<RevokeAppKeyResult> {
  // One statement decides, so two concurrent revocations agree on the time.
  await db.update(appKeys).set({ revokedAt: now }).where(and(eq(appKeys.id, appKeyId), isNull(appKeys.revokedAt)));
  const rows = await db.select({ revokedAt: appKeys.revokedAt }).from(appKeys).where(eq(appKeys.id, appKeyId)).limit(1);
  const row = rows[0];
  if (row === undefined || row.revokedAt === null) return { found: false };
  return { found: true, revokedAt: row.revokedAt, endedSessionIds: [appKeyId] };
}
