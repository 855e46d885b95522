/**
 * Where a session's client is, and whether it has proved that it receives there.
 *
 * An authenticated packet proves who sent it, not where from: a member holding its own keys can
 * send an authentic keepalive with a forged source address, and a relay that sent voice to every
 * authenticated source would then stream a channel's voice at a victim (an amplifier: a few
 * packets in, megabytes out). So the relay keeps two things apart:
 *
 *   - the **latched address**: the source of the client's newest authenticated packet. Packets
 *     from it spend the session's own rate budget, and keepalive replies go to it;
 *   - **consent** for that address (the model is RFC 7675, consent freshness): every pong
 *     carries a fresh unpredictable cookie, and the client echoes the latest one in its next
 *     keepalive. An echo that arrives from the address the cookie was sent to proves that
 *     someone there received it; voice goes to the address until `CONSENT_LIFETIME_MS` after
 *     that cookie was *sent* (so a stale cookie buys nothing), and stops unless refreshed.
 *
 * Until the address has consent, the relay sends it at most `AMPLIFICATION_FACTOR` times the
 * bytes it received from it (RFC 9000 §8.1) — in practice only pongs and challenges, each the
 * size of the packet it answers. Moving to a new address (NAT rebinding) starts over: no consent,
 * no cookie, no byte credit; the client proves the new address with one more round trip.
 *
 * Time comes from the caller; the cookies' randomness from node:crypto (`randomWord`).
 */
import { randomFillSync } from 'node:crypto';

/** RFC 7675 §5.1: consent expires 30 s after the last successful check. */
export const CONSENT_LIFETIME_MS = 30_000;
/** An unanswered cookie is repeated in pongs for this long, then replaced by a fresh one. */
export const COOKIE_REUSE_MS = 5_000;
/** RFC 9000 §8.1: before validation, at most three times the bytes received. */
export const AMPLIFICATION_FACTOR = 3;

/** 64 cookies' worth of randomness per call into OpenSSL; each word is zeroed once used. */
const pool = new Uint32Array(128);
let poolAt = pool.length;

/** A uniformly random uint32 from the CSPRNG. */
export function randomWord(): number {
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const word = pool[poolAt]!;
  pool[poolAt++] = 0;
  return word;
}

/**
 * How one session's latched address proves itself: the cookie last sent to it and the bytes
 * exchanged with it before it proved itself. The session (relay-session.ts) keeps the address and
 * the time its consent runs to, which the forwarding loop reads for every packet; this object is
 * only touched by keepalives and by packets from a new address.
 */
export class AddressConsent {
  /** The cookie last sent to the address, as two words; meaningful only once `#cookieSentAt` is set. */
  #cookieHigh = 0;
  #cookieLow = 0;
  /** When the current cookie was first sent; -Infinity when none was sent to this address. */
  #cookieSentAt = -Infinity;
  #cookieAnswered = false;
  /** Authenticated bytes received from the address while it was not proved, and bytes sent to it then. */
  #bytesIn = 0;
  #bytesOutUnproved = 0;

  /** A new latched address (NAT rebinding): everything about the old one is forgotten. */
  reset(): void {
    this.#cookieSentAt = -Infinity;
    this.#cookieAnswered = false;
    this.#bytesIn = 0;
    this.#bytesOutUnproved = 0;
  }

  /** An authenticated datagram of `bytes` arrived from the address while it was not proved. */
  noteReceived(bytes: number): void {
    this.#bytesIn += bytes;
  }

  /**
   * A keepalive from the address echoed `high`/`low`. If that is the cookie last sent there,
   * returns the time the address is proved until — `lifetimeMs` after that cookie was sent, so a
   * stale cookie buys nothing — and marks the cookie answered; otherwise returns 0.
   */
  answer(high: number, low: number, lifetimeMs: number): number {
    if (this.#cookieSentAt === -Infinity || high !== this.#cookieHigh || low !== this.#cookieLow) return 0;
    this.#cookieAnswered = true;
    return this.#cookieSentAt + lifetimeMs;
  }

  /**
   * The cookie for the pong about to be sent: a fresh one when the last was answered, is older
   * than COOKIE_REUSE_MS or was never made; otherwise the same (so a client that already answered
   * a challenge at once does not answer its repeat again, and no ping-pong loop can form).
   * Writes it big-endian into `out` at `offset`.
   */
  writeCookie(out: Uint8Array, offset: number, now: number): void {
    if (this.#cookieAnswered || now - this.#cookieSentAt >= COOKIE_REUSE_MS) {
      this.#cookieHigh = randomWord();
      this.#cookieLow = randomWord();
      this.#cookieSentAt = now;
      this.#cookieAnswered = false;
    }
    writeWord(out, offset, this.#cookieHigh);
    writeWord(out, offset + 4, this.#cookieLow);
  }

  /** RFC 9000 §8.1: whether `bytes` more may go to the address (`proved`: it has consent now). */
  maySend(bytes: number, proved: boolean): boolean {
    return proved || this.#bytesOutUnproved + bytes <= AMPLIFICATION_FACTOR * this.#bytesIn;
  }

  /** Records `bytes` sent to the address (counted against the limit while not proved). */
  noteSent(bytes: number, proved: boolean): void {
    if (!proved) this.#bytesOutUnproved += bytes;
  }
}

function writeWord(out: Uint8Array, offset: number, word: number): void {
  out[offset] = word >>> 24;
  out[offset + 1] = word >>> 16;
  out[offset + 2] = word >>> 8;
  out[offset + 3] = word;
}
