/**
 * A token bucket: `rate` tokens per second, holding at most `burst`. Time comes from the
 * caller (milliseconds), so the bucket is pure and costs two numbers of memory.
 */
export class TokenBucket {
  #tokens: number;
  #updatedAt: number;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    now: number,
  ) {
    if (!(ratePerSecond > 0) || !(burst > 0)) throw new RangeError('token bucket: rate and burst must be positive');
    this.#tokens = burst;
    this.#updatedAt = now;
  }

  /** Takes `cost` tokens if available; returns whether it did. */
  take(now: number, cost = 1): boolean {
    const elapsed = now - this.#updatedAt;
    if (elapsed > 0) {
      this.#tokens = Math.min(this.burst, this.#tokens + (elapsed * this.ratePerSecond) / 1000);
      this.#updatedAt = now;
    }
    if (this.#tokens < cost) return false;
    this.#tokens -= cost;
    return true;
  }
}
