/**
 * Nonces of authenticated internal-API requests, kept until a replay of them would fail the
 * clock-skew check anyway (request timestamp + max skew), so replay detection costs bounded
 * memory: at most `maxEntries` nonces, and when that many are still live the cache refuses new
 * ones ('full') instead of forgetting one that could still be replayed.
 *
 * Only requests whose MAC verified reach it (shared/relay-api/request-signing.ts), so only a
 * key holder can fill it; a full cache means the control plane sends more than `maxEntries`
 * requests per skew window, and the API answers 503.
 *
 * Pure (time is passed in); nothing Node-specific, so the control plane can reuse it inside one
 * isolate. Across isolates it needs shared storage (a Durable Object) instead.
 */
import type { NonceStore, NonceVerdict } from '../../../shared/relay-api/request-signing.js';

export const DEFAULT_NONCE_CACHE_ENTRIES = 10_000;

/**
 * A copy of `nonce` that shares no memory with the string it came from. A nonce parsed out of an
 * Authorization header by a regular expression is, in V8, a slice that keeps the whole header
 * alive (~150 bytes more per entry); a full cache would hold 10,000 headers through the skew
 * window. Joining the code units builds a new flat string, equal to the original for any input.
 */
function detachedCopy(nonce: string): string {
  return nonce.split('').join('');
}

export class NonceCache implements NonceStore {
  readonly maxEntries: number;
  /** nonce → the last ms at which it is still replayable. Insertion order ≈ expiry order. */
  readonly #entries = new Map<string, number>();
  /** No entry expires before this (a lower bound), so a full cache need not be swept until then. */
  #earliestExpiry = Infinity;

  constructor(maxEntries: number = DEFAULT_NONCE_CACHE_ENTRIES) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError('nonce-cache: maxEntries must be a positive integer');
    }
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  checkAndRecord(nonce: string, expiresAt: number, now: number): NonceVerdict {
    this.#dropExpiredHead(now);
    const known = this.#entries.get(nonce);
    if (known !== undefined) {
      if (known >= now) return 'replayed';
      this.#entries.delete(nonce);
    }
    if (this.#entries.size >= this.maxEntries) {
      if (this.#earliestExpiry < now) this.#sweep(now);
      if (this.#entries.size >= this.maxEntries) return 'full';
    }
    this.#entries.set(detachedCopy(nonce), expiresAt);
    if (expiresAt < this.#earliestExpiry) this.#earliestExpiry = expiresAt;
    return 'fresh';
  }

  clear(): void {
    this.#entries.clear();
    this.#earliestExpiry = Infinity;
  }

  /** Amortised O(1): entries arrive roughly in expiry order, so most expire from the front. */
  #dropExpiredHead(now: number): void {
    for (const [nonce, expiresAt] of this.#entries) {
      if (expiresAt >= now) return;
      this.#entries.delete(nonce);
    }
    this.#earliestExpiry = Infinity;
  }

  /** O(n), run only when the cache is full and something in it has expired. */
  #sweep(now: number): void {
    let earliest = Infinity;
    for (const [nonce, expiresAt] of this.#entries) {
      if (expiresAt < now) this.#entries.delete(nonce);
      else if (expiresAt < earliest) earliest = expiresAt;
    }
    this.#earliestExpiry = earliest;
  }
}
