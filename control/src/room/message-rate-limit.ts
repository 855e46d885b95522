/**
 * The per-socket message rate limit of docs/protocol.md §5.3: a token bucket of 20 messages a
 * second with bursts of 40; a message over it is dropped, and answered with `rate_limited` at
 * most once a second; a socket with 100 drops inside 10 s is closed (4008).
 *
 * Held in memory only, per socket. That loses nothing across hibernation: a room hibernates
 * only after about 10 s without events, by which time the bucket has refilled (20/s × 10 s >
 * 40) and the 10 s drop window has emptied, so a fresh limiter is exactly the state it would
 * have had. Pure: the caller passes the time.
 */
export interface MessageRateLimitPolicy {
  readonly ratePerSecond: number;
  readonly burst: number;
  /** Drops inside `dropWindowMs` that close the socket. */
  readonly maxDrops: number;
  readonly dropWindowMs: number;
  /** At most one `rate_limited` notice per this many ms. */
  readonly noticeIntervalMs: number;
}

export const MESSAGE_RATE_LIMIT: MessageRateLimitPolicy = {
  ratePerSecond: 20,
  burst: 40,
  maxDrops: 100,
  dropWindowMs: 10_000,
  noticeIntervalMs: 1_000,
};

/** What to do with one incoming message. */
export type RateVerdict = 'accept' | 'drop' | 'drop_and_notify' | 'close';

export class MessageRateLimiter {
  readonly #policy: MessageRateLimitPolicy;
  #tokens: number;
  #refilledAt: number;
  /** Times of recent drops, oldest first; at most maxDrops entries. */
  readonly #drops: number[] = [];
  #lastNoticeAt = -Infinity;

  constructor(now: number, policy: MessageRateLimitPolicy = MESSAGE_RATE_LIMIT) {
    this.#policy = policy;
    this.#tokens = policy.burst;
    this.#refilledAt = now;
  }

  admit(now: number): RateVerdict {
    const p = this.#policy;
    const elapsed = now - this.#refilledAt;
    if (elapsed > 0) {
      this.#tokens = Math.min(p.burst, this.#tokens + (elapsed * p.ratePerSecond) / 1000);
      this.#refilledAt = now;
    }
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 'accept';
    }
    while (this.#drops.length > 0 && now - this.#drops[0]! >= p.dropWindowMs) this.#drops.shift();
    this.#drops.push(now);
    if (this.#drops.length >= p.maxDrops) return 'close';
    if (now - this.#lastNoticeAt >= p.noticeIntervalMs) {
      this.#lastNoticeAt = now;
      return 'drop_and_notify';
    }
    return 'drop';
  }
}
