/**
 * Interarrival jitter of one stream, RFC 3550 §6.4.1 (code in Appendix A.8): for consecutive
 * packets i and j, D(i,j) = (Rj − Ri) − (Sj − Si) = transit(j) − transit(i), and
 * J += (|D(i,j)| − J) / 16, a running mean of |D| with gain 1/16, which "gives a good noise
 * reduction ratio while maintaining a reasonable rate of convergence". Packets are taken in
 * arrival order, as the RFC does, not in sequence order.
 *
 * S (the send time) and R (the arrival) are in one unit, and J comes out in that unit. The RFC
 * takes S from the RTP timestamp and R from the receiver's clock in timestamp units (the jitter
 * buffer, jitter-buffer.ts); the load test takes S from the send time in its payload, in ms, so
 * that its figure counts the network and the relay, not its own timer slack (cli/loadtest).
 *
 * Pure: the caller passes the times.
 */

/** RTP timestamps are 32-bit and wrap (RFC 3550 §5.1). */
export const RTP_TIMESTAMP_MODULUS = 2 ** 32;

export interface InterarrivalJitterOptions {
  /**
   * The modulus S wraps at (RTP_TIMESTAMP_MODULUS for RTP timestamps); omitted, S does not wrap.
   * A wrap between two packets shows as a jump of about the modulus in their transit times;
   * |D| is then taken the short way round, as A.8's 32-bit `int` arithmetic does for RTP.
   */
  readonly sendTimeModulus?: number;
}

export class InterarrivalJitter {
  readonly #sendTimeModulus: number | null;
  #lastTransit: number | null = null;
  #jitter = 0;

  constructor(options: InterarrivalJitterOptions = {}) {
    const modulus = options.sendTimeModulus;
    if (modulus !== undefined && !(Number.isFinite(modulus) && modulus > 0)) throw new RangeError('interarrival jitter: sendTimeModulus must be a positive number');
    this.#sendTimeModulus = modulus ?? null;
  }

  /** Adds one packet, in arrival order: its send time S and its arrival time R. */
  add(sentAt: number, arrivedAt: number): void {
    const transit = arrivedAt - sentAt;
    if (this.#lastTransit !== null) {
      let d = Math.abs(transit - this.#lastTransit);
      if (this.#sendTimeModulus !== null && d > this.#sendTimeModulus / 2) d = Math.abs(d - this.#sendTimeModulus);
      this.#jitter += (d - this.#jitter) / 16;
    }
    this.#lastTransit = transit;
  }

  /**
   * The stream restarted (a jump in numbering, RFC 3550 A.1): its send times need not follow
   * the previous packet's, so the next packet starts a new pair rather than giving a D across the
   * jump. J is kept.
   */
  restart(): void {
    this.#lastTransit = null;
  }

  /** The current estimate J, in the unit of the times given (0 before two packets). */
  get value(): number {
    return this.#jitter;
  }
}
