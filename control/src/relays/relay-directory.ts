/**
 * The relay directory: what every relay last said about itself in its registration or
 * heartbeat (docs/protocol.md §8.6), in the `relays` table, with the nonces of those signed
 * requests in `relay_request_nonces`.
 *
 * Replay protection across isolates: any isolate of the Worker may receive a relay's request,
 * so the nonce store is the database every isolate shares. The nonce is inserted in the SAME
 * atomic batch (one transaction) as the directory write, and the nonce's primary key makes a
 * second insert fail, which rolls the whole batch back. So a request either has its effect and
 * burns its nonce, or does neither: a replay, two racing copies of one request, or a failure
 * half-way leave the directory as it was. The caller has checked the signature, the clock skew
 * and the body first (shared/relay-api checkRequestSignature, parseRelayRegistration); this
 * module does step 5 of §8.2 and the write.
 *
 * Expired nonces (past `ts + 60 s`, when the skew check refuses a replay anyway) are deleted a
 * bounded number at a time in each request's batch, so the table holds about one row per relay
 * request of the last two minutes and no background job is needed (Workers have none).
 *
 * Node-compatible: drizzle over any @libsql/client (HTTP in the Worker, `file:` in Node tests).
 */
import { sql } from 'drizzle-orm';
import type { RelayRegistrationBody } from '../../../shared/relay-api/messages.js';
import type { Database } from '../db/client.js';
import { relayRequestNonces, relays } from '../db/schema.js';
import type { RelayDirectoryEntry } from './relay-status.js';

/** Expired nonces deleted per request: more than one request adds, so the table cannot grow. */
export const NONCE_PRUNE_BATCH = 32;

export type RelayAnnouncementKind = 'register' | 'heartbeat';

export interface RelayAnnouncement {
  readonly kind: RelayAnnouncementKind;
  /** Parsed and checked (public key usable, key allowed for this relay id) by the caller. */
  readonly registration: RelayRegistrationBody;
  /** The control key id the request was signed with. */
  readonly controlKeyId: string;
  readonly nonce: string;
  /** Keep the nonce until this instant (ms): the request's timestamp + the allowed skew. */
  readonly nonceExpiresAt: number;
  /** The control plane's clock, ms since the Unix epoch. */
  readonly now: number;
}

/**
 * - `recorded`: the directory holds the announcement and the nonce is burnt;
 * - `unknown-relay`: a heartbeat for a relay the directory does not know (the relay registers
 *   again on 404); nothing was written, not even the nonce;
 * - `replayed`: the nonce was already used; nothing was written.
 */
export type RelayAnnouncementOutcome = 'recorded' | 'unknown-relay' | 'replayed';

export class RelayDirectoryError extends Error {
  override readonly name = 'RelayDirectoryError';
}

function pruneNonces(db: Database, nonce: string, now: number) {
  // The request's own nonce goes too if it expired: a relay's nonce cache forgets an entry once
  // its time has passed, and so does this store, whatever the size of the backlog.
  return db.run(sql`DELETE FROM ${relayRequestNonces} WHERE (${relayRequestNonces.nonce} = ${nonce} AND ${relayRequestNonces.expiresAt} < ${now})
    OR rowid IN (SELECT rowid FROM ${relayRequestNonces} WHERE ${relayRequestNonces.expiresAt} < ${now} ORDER BY ${relayRequestNonces.expiresAt} LIMIT ${NONCE_PRUNE_BATCH})`);
}

function announcedFields(a: RelayAnnouncement) {
  const r = a.registration;
  return {
    region: r.region,
    apiUrl: r.apiUrl,
    publicKey: r.publicKey,
    bootId: r.bootId,
    udpEndpoints: r.udpEndpoints.map((e) => ({ host: e.host, port: e.port })),
    sessions: r.load.sessions,
    channels: r.load.channels,
    draining: r.draining,
    controlKeyId: a.controlKeyId,
    lastSeenAt: a.now,
  };
}

/**
 * Records a registration (insert or replace: a relay that restarts registers again) or a
 * heartbeat (update of a known relay), with the request's nonce, atomically (module comment).
 */
export async function recordRelayAnnouncement(db: Database, announcement: RelayAnnouncement): Promise<RelayAnnouncementOutcome> {
  const { registration, nonce, nonceExpiresAt, now } = announcement;
  const fields = announcedFields(announcement);
  try {
    if (announcement.kind === 'register') {
      await db.batch([
        pruneNonces(db, nonce, now),
        db.insert(relayRequestNonces).values({ nonce, expiresAt: nonceExpiresAt }),
        db
          .insert(relays)
          .values({ id: registration.relayId, registeredAt: now, ...fields })
          .onConflictDoUpdate({ target: relays.id, set: { registeredAt: now, ...fields } }),
      ]);
      return 'recorded';
    }
    // A heartbeat burns its nonce only if the relay is known, so that a heartbeat answered 404
    // leaves no trace at all.
    const [, nonceInsert, update] = await db.batch([
      pruneNonces(db, nonce, now),
      db.run(
        sql`INSERT INTO ${relayRequestNonces} (${sql.identifier('nonce')}, ${sql.identifier('expires_at')})
          SELECT ${nonce}, ${nonceExpiresAt} WHERE EXISTS (SELECT 1 FROM ${relays} WHERE ${relays.id} = ${registration.relayId})`,
      ),
      db.update(relays).set(fields).where(sql`${relays.id} = ${registration.relayId}`),
    ]);
    if (nonceInsert.rowsAffected === 0 || update.rowsAffected === 0) return 'unknown-relay';
    return 'recorded';
  } catch (error) {
    // The batch rolled back. A live row for this nonce means another request with it committed
    // first (the nonce's primary key refused ours): a replay. Anything else is a real failure.
    let replayed: boolean;
    try {
      replayed = await isNonceLive(db, nonce, now);
    } catch {
      replayed = false;
    }
    if (replayed) return 'replayed';
    throw new RelayDirectoryError('relay directory: the write failed', { cause: error });
  }
}

async function isNonceLive(db: Database, nonce: string, now: number): Promise<boolean> {
  const rows = await db
    .select({ expiresAt: relayRequestNonces.expiresAt })
    .from(relayRequestNonces)
    .where(sql`${relayRequestNonces.nonce} = ${nonce}`)
    .limit(1);
  const row = rows[0];
  return row !== undefined && row.expiresAt >= now;
}

/** Every relay the directory holds, by region then id. Status is the reader's to compute (relay-status.ts). */
export async function listRelayDirectory(db: Database): Promise<RelayDirectoryEntry[]> {
  const rows = await db.select().from(relays).orderBy(relays.region, relays.id);
  return rows.map((row) => ({
    relayId: row.id,
    region: row.region,
    apiUrl: row.apiUrl,
    publicKey: row.publicKey,
    bootId: row.bootId,
    udpEndpoints: row.udpEndpoints,
    load: { sessions: row.sessions, channels: row.channels },
    draining: row.draining,
    controlKeyId: row.controlKeyId,
    registeredAt: row.registeredAt,
    lastSeenAt: row.lastSeenAt,
  }));
}
