import { describe, expect, it } from 'vitest';
import { NonceCache } from '../../../relay/src/api/nonce-cache.js';

describe('NonceCache', () => {
  it('refuses a nonce it holds until the nonce expires, then forgets it', () => {
    const cache = new NonceCache(10);
    expect(cache.checkAndRecord('n1', 1_000, 0)).toBe('fresh');
    expect(cache.checkAndRecord('n1', 1_000, 500)).toBe('replayed');
    expect(cache.checkAndRecord('n1', 1_000, 1_000)).toBe('replayed');
    expect(cache.checkAndRecord('n2', 2_000, 1_001)).toBe('fresh');
    expect(cache.size).toBe(1); // n1 expired and was dropped
  });

  it('never holds more than maxEntries, and refuses instead of evicting a live nonce', () => {
    const cache = new NonceCache(3);
    for (const n of ['a', 'b', 'c']) expect(cache.checkAndRecord(n, 100, 0)).toBe('fresh');
    expect(cache.checkAndRecord('d', 100, 1)).toBe('full');
    expect(cache.size).toBe(3);
    // Every held nonce is still refused: nothing was evicted to make room.
    for (const n of ['a', 'b', 'c']) expect(cache.checkAndRecord(n, 100, 2)).toBe('replayed');
  });

  it('makes room once entries expire, even when they expire out of insertion order', () => {
    const cache = new NonceCache(3);
    cache.checkAndRecord('long', 10_000, 0);
    cache.checkAndRecord('short1', 100, 0);
    cache.checkAndRecord('short2', 200, 0);
    expect(cache.checkAndRecord('x', 10_000, 50)).toBe('full');
    expect(cache.checkAndRecord('x', 10_000, 150)).toBe('fresh'); // short1 swept
    expect(cache.checkAndRecord('y', 10_000, 201)).toBe('fresh'); // short2 swept
    expect(cache.checkAndRecord('z', 10_000, 202)).toBe('full');
    expect(cache.checkAndRecord('long', 10_000, 203)).toBe('replayed');
    expect(cache.size).toBe(3);
  });

  it('stays bounded under a long stream of requests', () => {
    const cache = new NonceCache(1_000);
    let refused = 0;
    // 100 requests per ms for 50 ms, each replayable for 5 ms: at most ~600 live at once.
    for (let now = 0; now < 50; now++) {
      for (let i = 0; i < 100; i++) {
        if (cache.checkAndRecord(`${now}-${i}`, now + 5, now) !== 'fresh') refused++;
      }
      expect(cache.size).toBeLessThanOrEqual(1_000);
    }
    expect(refused).toBe(0);
  });

  it('rejects a nonsensical bound', () => {
    expect(() => new NonceCache(0)).toThrow(RangeError);
    expect(() => new NonceCache(1.5)).toThrow(RangeError);
  });
});

describe('NonceCache keeps nonces of its own', () => {
  it('a nonce cut out of a longer string is refused again when it comes back as another string', () => {
    const cache = new NonceCache(10);
    const header = 'Parley-HMAC-SHA256 keyId=k1, ts=1, nonce=AbCdEfGhIjKlMnOpQrStUv, sig=x';
    const nonce = /nonce=([A-Za-z0-9_-]+)/.exec(header)![1]!;
    expect(cache.checkAndRecord(nonce, 1_000, 0)).toBe('fresh');
    expect(cache.checkAndRecord(['AbCdEfGh', 'IjKlMnOpQrStUv'].join(''), 1_000, 1)).toBe('replayed');
  });

  it('any string round-trips, not only base64url', () => {
    const cache = new NonceCache(10);
    for (const nonce of ['ünïcödé-nonce-0001', '\u{1F600}\u{1F600}-emoji-nonce', 'a']) {
      expect(cache.checkAndRecord(nonce, 1_000, 0)).toBe('fresh');
      expect(cache.checkAndRecord(nonce, 1_000, 1)).toBe('replayed');
    }
    expect(cache.checkAndRecord('\u{1F600}\u{1F601}-emoji-nonce', 1_000, 1)).toBe('fresh');
  });
});
