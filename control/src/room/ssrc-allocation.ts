/**
 * SSRCs unique on a relay (docs/protocol.md §5.5, §6.6 point 3), decided by the database.
 *
 * The SSRC is a transcript field (§3.2), so it must be fixed before either side derives keys,
 * and it must be unique among the sessions of the relay's worker, or the relay refuses the
 * install (409 duplicate-ssrc) after the client has already derived keys for it. Every room
 * allocates from one table whose primary key is (relay id, boot id, SSRC): an INSERT either
 * takes the SSRC or fails on the key, however many rooms race for it.
 *
 * A session's SSRCs are released when it ends (releaseSessionSsrcs: every SSRC it held on that
 * relay run, one statement), not when a rotation replaces one: the old SSRC stays the session's
 * until then, which spares every rotation a database round trip and keeps the rows of a live
 * session pointing at its channel (relay-reports.ts), and holding an SSRC longer is always safe.
 * A released SSRC stays taken for `cooldownMs`: a relay must not see an SSRC come back while
 * outbound contexts that knew the old stream may still be alive (§6.6), and those live at most
 * as long as a key set (the maximum key age plus its grace). After the cooldown the row is
 * taken over by the next allocation that draws it, or deleted a few at a time by later
 * allocations, so the table holds about one row per session of the last hour.
 *
 * A relay that restarts announces a new boot id and starts with an empty SSRC space.
 * Node-compatible: drizzle over any @libsql/client.
 */
import { and, eq, sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { voiceSsrcs } from '../db/schema.js';

/** Random draws before giving up: with 2^32 values and thousands of sessions, a second draw is already rare. */
export const SSRC_ATTEMPTS = 8;
/** Expired rows deleted per allocation. */
export const SSRC_PRUNE_BATCH = 16;

export class SsrcAllocationError extends Error {
  override readonly name = 'SsrcAllocationError';
}

export interface SsrcRequest {
  readonly relayId: string;
  readonly bootId: string;
  readonly sessionId: string;
  readonly channelId: string;
  readonly now: number;
  readonly cooldownMs: number;
  /** A uniformly random uint32 (tests pass a fixed sequence). */
  readonly randomSsrc?: () => number;
}

export function randomSsrc(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

/** Takes an SSRC for the session on its relay; throws SsrcAllocationError after SSRC_ATTEMPTS collisions. */
export async function allocateSsrc(db: Database, request: SsrcRequest): Promise<number> {
  const draw = request.randomSsrc ?? randomSsrc;
  const reusableBefore = request.now - request.cooldownMs;
  for (let attempt = 0; attempt < SSRC_ATTEMPTS; attempt++) {
    const ssrc = draw() >>> 0;
    const [, taken] = await db.batch([
      db.run(sql`DELETE FROM ${voiceSsrcs} WHERE rowid IN (SELECT rowid FROM ${voiceSsrcs}
        WHERE ${voiceSsrcs.releasedAt} IS NOT NULL AND ${voiceSsrcs.releasedAt} < ${reusableBefore} LIMIT ${SSRC_PRUNE_BATCH})`),
      db
        .insert(voiceSsrcs)
        .values({ relayId: request.relayId, bootId: request.bootId, ssrc, sessionId: request.sessionId, channelId: request.channelId, allocatedAt: request.now })
        .onConflictDoUpdate({
          target: [voiceSsrcs.relayId, voiceSsrcs.bootId, voiceSsrcs.ssrc],
          set: { sessionId: request.sessionId, channelId: request.channelId, allocatedAt: request.now, releasedAt: null },
          setWhere: sql`${voiceSsrcs.releasedAt} IS NOT NULL AND ${voiceSsrcs.releasedAt} < ${reusableBefore}`,
        }),
    ]);
    if (taken.rowsAffected === 1) return ssrc;
  }
  throw new SsrcAllocationError('ssrc allocation: every draw collided');
}

/** Marks the session's SSRC released (it stays taken for the cooldown). Idempotent. */
export async function releaseSsrc(db: Database, relayId: string, bootId: string, ssrc: number, sessionId: string, now: number): Promise<void> {
  await db
    .update(voiceSsrcs)
    .set({ releasedAt: now })
    .where(
      and(
        eq(voiceSsrcs.relayId, relayId),
        eq(voiceSsrcs.bootId, bootId),
        eq(voiceSsrcs.ssrc, ssrc),
        eq(voiceSsrcs.sessionId, sessionId),
        sql`${voiceSsrcs.releasedAt} IS NULL`,
      ),
    );
}

/**
 * Marks every SSRC the session still holds on the relay run released (its current one and those
 * rotations replaced), when the session ends. They stay taken for the cooldown. Idempotent.
 */
export async function releaseSessionSsrcs(db: Database, relayId: string, bootId: string, sessionId: string, now: number): Promise<void> {
  await db
    .update(voiceSsrcs)
    .set({ releasedAt: now })
    .where(and(eq(voiceSsrcs.relayId, relayId), eq(voiceSsrcs.bootId, bootId), eq(voiceSsrcs.sessionId, sessionId), sql`${voiceSsrcs.releasedAt} IS NULL`));
}
