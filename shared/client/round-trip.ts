/**
 * Round-trip time from the relay's keepalive pongs (docs/protocol.md §6.2): the client puts its
 * send time in the ping's 8-byte token, the relay echoes the token, and the difference is one
 * round trip. Smoothed as TCP smooths its RTT (RFC 6298 §2: SRTT and RTTVAR with α = 1/8,
 * β = 1/4). Pure: times are passed in.
 */
import { KEEPALIVE_TOKEN_LENGTH } from '../protocol/keepalive.js';

/** A ping token carrying `sentAtMs` (a float64, big-endian; any monotonic clock, never 0). */
export function encodeTimeToken(sentAtMs: number): Uint8Array {
  if (!Number.isFinite(sentAtMs)) throw new RangeError('round trip: sentAtMs must be a finite number');
  const token = new Uint8Array(KEEPALIVE_TOKEN_LENGTH);
  // An all-zero token means "no ping" (a challenge the relay sent unprompted): never send 0.
  new DataView(token.buffer).setFloat64(0, sentAtMs === 0 ? Number.MIN_VALUE : sentAtMs);
  return token;
}

/** The send time a pong's token carries, or null for an all-zero token or one that is not a time. */
export function decodeTimeToken(token: Uint8Array): number | null {
  if (!(token instanceof Uint8Array) || token.length !== KEEPALIVE_TOKEN_LENGTH) return null;
  if (token.every((b) => b === 0)) return null;
  const value = new DataView(token.buffer, token.byteOffset, token.byteLength).getFloat64(0);
  return Number.isFinite(value) ? value : null;
}

export interface RoundTripStats {
  /** Samples taken. */
  readonly samples: number;
  /** The newest sample, ms (null before the first). */
  readonly latestMs: number | null;
  /** RFC 6298 SRTT, ms. */
  readonly smoothedMs: number | null;
  /** RFC 6298 RTTVAR, ms. */
  readonly variationMs: number | null;
  readonly minMs: number | null;
}

export class RoundTripEstimator {
  #samples = 0;
  #latest: number | null = null;
  #smoothed: number | null = null;
  #variation: number | null = null;
  #min: number | null = null;

  /**
   * Takes the pong of a ping sent at `sentAtMs`, received at `receivedAtMs`. Returns the sample,
   * or null when it cannot be one (the token carries no time, or the clock went backwards).
   */
  sample(sentAtMs: number | null, receivedAtMs: number): number | null {
    if (sentAtMs === null || !Number.isFinite(receivedAtMs)) return null;
    const rtt = receivedAtMs - sentAtMs;
    // A token from before a restart of the clock, or not ours: not a round trip.
    if (!(rtt >= 0) || rtt > 600_000) return null;
    this.#samples++;
    this.#latest = rtt;
    this.#min = this.#min === null ? rtt : Math.min(this.#min, rtt);
    if (this.#smoothed === null || this.#variation === null) {
      this.#smoothed = rtt; // RFC 6298 §2.2
      this.#variation = rtt / 2;
    } else {
      this.#variation = 0.75 * this.#variation + 0.25 * Math.abs(this.#smoothed - rtt); // §2.3
      this.#smoothed = 0.875 * this.#smoothed + 0.125 * rtt;
    }
    return rtt;
  }

  stats(): RoundTripStats {
    return { samples: this.#samples, latestMs: this.#latest, smoothedMs: this.#smoothed, variationMs: this.#variation, minMs: this.#min };
  }
}
