/**
 * `Authorization: Bearer <token>` (RFC 6750 §2.1) checked in constant time, for the metrics
 * listener's optional RELAY_METRICS_TOKEN.
 *
 * A plain `===` on strings returns at the first differing character, so its timing says how
 * much of a guess was right, and a token can be recovered a character at a time. Both sides are
 * hashed with SHA-256 first and the digests compared with crypto.timingSafeEqual: the digests
 * always have the same length (timingSafeEqual throws otherwise, and comparing lengths first
 * would leak the token's length), and the time taken depends on neither value.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Whether `header` (the request's Authorization header, if any) is exactly `Bearer <token>`. */
export function bearerTokenMatches(header: string | undefined | null, token: string): boolean {
  if (typeof header !== 'string') return false;
  const expected = createHash('sha256').update(`Bearer ${token}`, 'utf8').digest();
  const presented = createHash('sha256').update(header, 'utf8').digest();
  return timingSafeEqual(presented, expected);
}
