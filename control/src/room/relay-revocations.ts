/**
 * Revokes the room still owes a relay (docs/protocol.md §5.9, §5.11): a relay session whose
 * revoke did not get an answer — the member left, was kicked, or moved to another relay while
 * the old one was unreachable. A relay that is only unreachable for a while (a partition, a
 * stalled process) comes back with the same boot id and still holds the keys until their
 * expiry, so the revoke is tried again with exponential backoff, a bounded number of times.
 * Pure: the room stores the record and its alarm calls back at `nextAttemptAt`.
 *
 * The bound: 1 s, 2 s, 4 s … doubling to 60 s, at most REVOCATION_MAX_ATTEMPTS tries in all
 * (about a quarter of an hour), and never past the keys' expiry, when the relay drops them itself.
 * A relay that restarted answers 404 (it never had this run's sessions, §8.6), which ends it.
 */
import type { RelayRun } from './relay-failover.js';

export const REVOCATION_FIRST_DELAY_MS = 1_000;
export const REVOCATION_MAX_DELAY_MS = 60_000;
/** Tries in all, the first included: 1+2+4+8+16+32 s and then 60 s apart, ~15 min. */
export const REVOCATION_MAX_ATTEMPTS = 20;

/**
 * When to try again after `attempts` failed tries (1 after the first), or null to stop: the
 * tries are used up, or the next would come after `giveUpAt` (the keys' expiry).
 */
export function nextRevocationAttemptAt(attempts: number, now: number, giveUpAt: number): number | null {
  if (!Number.isInteger(attempts) || attempts < 1) throw new RangeError('relay-revocations: attempts must be a whole number ≥ 1');
  if (attempts >= REVOCATION_MAX_ATTEMPTS) return null;
  const at = now + Math.min(REVOCATION_MAX_DELAY_MS, REVOCATION_FIRST_DELAY_MS * 2 ** (attempts - 1));
  return at < giveUpAt ? at : null;
}

/**
 * The key of a revocation: a session and the relay run it is owed on. A moved session keeps its
 * id on the new relay, so the id alone would let a later revoke there overwrite the one still
 * owed to the old relay.
 */
export function revocationKey(sessionId: string, relay: RelayRun): string {
  return `${sessionId}@${relay.relayId}@${relay.bootId}`;
}
