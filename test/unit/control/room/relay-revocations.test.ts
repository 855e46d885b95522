import { describe, expect, it } from 'vitest';
import {
  nextRevocationAttemptAt,
  REVOCATION_FIRST_DELAY_MS,
  REVOCATION_MAX_ATTEMPTS,
  REVOCATION_MAX_DELAY_MS,
  revocationKey,
} from '../../../../control/src/room/relay-revocations.js';

const HOUR = 3_600_000;

describe('revokes the room still owes a relay', () => {
  it('backs off 1 s, 2 s, 4 s … to 60 s between tries', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8].map((attempts) => nextRevocationAttemptAt(attempts, 0, HOUR));
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
    expect(delays[0]).toBe(REVOCATION_FIRST_DELAY_MS);
    expect(Math.max(...(delays as number[]))).toBe(REVOCATION_MAX_DELAY_MS);
  });

  it('stops after REVOCATION_MAX_ATTEMPTS tries in all, about a quarter of an hour', () => {
    let now = 0;
    let tries = 1; // the first, which failed
    for (let next = nextRevocationAttemptAt(tries, now, 10 * HOUR); next !== null; next = nextRevocationAttemptAt(tries, now, 10 * HOUR)) {
      now = next;
      tries++;
      expect(tries).toBeLessThanOrEqual(REVOCATION_MAX_ATTEMPTS);
    }
    expect(tries).toBe(REVOCATION_MAX_ATTEMPTS);
    expect(now).toBeGreaterThan(10 * 60_000);
    expect(now).toBeLessThan(20 * 60_000);
  });

  it('never schedules a try at or past the keys’ expiry (the relay drops them itself)', () => {
    expect(nextRevocationAttemptAt(1, 10_000, 11_000)).toBeNull();
    expect(nextRevocationAttemptAt(1, 10_000, 11_001)).toBe(11_000);
    expect(nextRevocationAttemptAt(7, 10_000, 60_000)).toBeNull();
  });

  it('refuses a count that is not a whole number of tries', () => {
    expect(() => nextRevocationAttemptAt(0, 0, HOUR)).toThrow(RangeError);
    expect(() => nextRevocationAttemptAt(1.5, 0, HOUR)).toThrow(RangeError);
  });

  it('keys a revocation by session and relay run: a moved session owes its old run apart from its new one', () => {
    const a = revocationKey('vs_1', { relayId: 'relay-a', bootId: 'boot1' });
    expect(a).not.toBe(revocationKey('vs_1', { relayId: 'relay-b', bootId: 'boot1' }));
    expect(a).not.toBe(revocationKey('vs_1', { relayId: 'relay-a', bootId: 'boot2' }));
    expect(a).toBe(revocationKey('vs_1', { relayId: 'relay-a', bootId: 'boot1' }));
  });
});
