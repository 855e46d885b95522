/**
 * The pre-authentication budget of one session for packets that carry its SSRC but come from an
 * address other than its latched one: the client's first packets, its packets after a NAT
 * rebinding — and garbage anyone who saw the SSRC in a forwarded header can spray at the relay.
 *
 * Each source address gets its own small token bucket, so garbage sprayed from some sources
 * never uses up the budget of another: the real client's new address still gets its packets
 * authenticated, and it latches. Only the `capacity` sources seen most recently are remembered
 * (least recently used is forgotten first), so the memory is bounded however many sources a
 * spray forges; a forgotten source starts again with a full bucket, which can only help the
 * real client. What this cannot bound — the decryption work of a spray from ever new forged
 * sources — the router's relay-wide cap does (datagram-router.ts).
 *
 * One weakness no budget before authentication can remove: an attacker who forges the real
 * client's exact new address and port spends that address's bucket. Only traffic from that
 * exact source competes with the client, and the client's keepalives retry.
 */
import type { RemoteAddress } from './relay-session.js';

/** How many sources each session remembers. */
export const SOURCE_BUDGET_CAPACITY = 8;

interface SourceBucket {
  address: string;
  port: number;
  tokens: number;
  updatedAt: number;
  /** Position in use order (higher: more recent), for least-recently-used eviction. */
  usedAt: number;
}

export class SourceBudgets {
  readonly #buckets: SourceBucket[] = [];
  #uses = 0;

  /** `perSecond` packets a second per source, in bursts of as many. */
  constructor(
    readonly perSecond: number,
    readonly capacity: number = SOURCE_BUDGET_CAPACITY,
  ) {
    if (!(perSecond > 0) || !Number.isInteger(capacity) || capacity < 1) throw new RangeError('source budgets: rate and capacity must be positive');
  }

  /** Sources currently remembered (at most `capacity`). */
  get size(): number {
    return this.#buckets.length;
  }

  /** Takes one packet's token from `from`'s bucket if it has one; returns whether it did. */
  take(from: RemoteAddress, now: number): boolean {
    const bucket = this.#bucketOf(from, now);
    const elapsed = now - bucket.updatedAt;
    if (elapsed > 0) {
      bucket.tokens = Math.min(this.perSecond, bucket.tokens + (elapsed * this.perSecond) / 1000);
      bucket.updatedAt = now;
    }
    bucket.usedAt = ++this.#uses;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** `from`'s bucket: found, new, or the least recently used one handed over (full) to it. */
  #bucketOf(from: RemoteAddress, now: number): SourceBucket {
    const buckets = this.#buckets;
    let oldest: SourceBucket | undefined;
    for (let i = 0; i < buckets.length; i++) {
      const bucket = buckets[i]!;
      if (bucket.port === from.port && bucket.address === from.address) return bucket;
      if (oldest === undefined || bucket.usedAt < oldest.usedAt) oldest = bucket;
    }
    if (buckets.length < this.capacity || oldest === undefined) {
      const fresh: SourceBucket = { address: from.address, port: from.port, tokens: this.perSecond, updatedAt: now, usedAt: 0 };
      buckets.push(fresh);
      return fresh;
    }
    oldest.address = from.address;
    oldest.port = from.port;
    oldest.tokens = this.perSecond;
    oldest.updatedAt = now;
    return oldest;
  }
}
