import { describe, expect, it } from 'vitest';
import { decodeTimeToken, encodeTimeToken, RoundTripEstimator } from '../../../shared/client/round-trip.js';

describe('time tokens', () => {
  it('round-trips a send time through the 8-byte token', () => {
    for (const t of [1, 1234.5678, 9e12]) expect(decodeTimeToken(encodeTimeToken(t))).toBe(t);
    expect(encodeTimeToken(1234.5)).toHaveLength(8);
  });

  it('never sends the all-zero token, which means "unprompted challenge"', () => {
    expect(encodeTimeToken(0).some((b) => b !== 0)).toBe(true);
    expect(decodeTimeToken(new Uint8Array(8))).toBeNull();
  });

  it('reads nothing from a token of the wrong length or a non-finite value', () => {
    expect(decodeTimeToken(new Uint8Array(7).fill(1))).toBeNull();
    const nan = new Uint8Array(8);
    new DataView(nan.buffer).setFloat64(0, Number.NaN);
    expect(decodeTimeToken(nan)).toBeNull();
    expect(() => encodeTimeToken(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});

describe('RoundTripEstimator', () => {
  it('smooths samples as RFC 6298 §2 does', () => {
    const rtt = new RoundTripEstimator();
    expect(rtt.stats()).toEqual({ samples: 0, latestMs: null, smoothedMs: null, variationMs: null, minMs: null });
    expect(rtt.sample(0, 100)).toBe(100);
    expect(rtt.stats()).toMatchObject({ smoothedMs: 100, variationMs: 50 });
    rtt.sample(1000, 1020);
    // RTTVAR = 3/4·50 + 1/4·|100 − 20| = 57.5; SRTT = 7/8·100 + 1/8·20 = 90.
    expect(rtt.stats()).toEqual({ samples: 2, latestMs: 20, smoothedMs: 90, variationMs: 57.5, minMs: 20 });
  });

  it('ignores tokens without a time and times that run backwards', () => {
    const rtt = new RoundTripEstimator();
    expect(rtt.sample(null, 5)).toBeNull();
    expect(rtt.sample(10, 5)).toBeNull();
    expect(rtt.sample(0, 700_000)).toBeNull();
    expect(rtt.stats().samples).toBe(0);
  });
});
