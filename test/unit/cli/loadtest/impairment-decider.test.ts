/** The impairment proxy's seeded decisions (cli/loadtest/udp-impairment-proxy.ts), without sockets. */
import { describe, expect, it } from 'vitest';
import { ImpairmentDecider, isImpairing, NO_IMPAIRMENT, validateImpairment, type ImpairmentSettings } from '../../../../cli/loadtest/udp-impairment-proxy.js';

const N = 20_000;

function draw(settings: ImpairmentSettings, n = N, stream = 0) {
  const decider = new ImpairmentDecider(settings, stream);
  return Array.from({ length: n }, () => decider.next());
}

describe('ImpairmentDecider', () => {
  it('gives the same decisions for the same seed and stream, and others for another seed or stream', () => {
    const settings = { loss: 0.1, duplicate: 0.05, reorder: 0.05, jitterMs: 20, seed: 7 };
    expect(draw(settings, 500)).toEqual(draw(settings, 500));
    expect(draw({ ...settings, seed: 8 }, 500)).not.toEqual(draw(settings, 500));
    expect(draw(settings, 500, 1)).not.toEqual(draw(settings, 500, 0));
  });

  it('drops about the asked share of datagrams (10 % of 20,000, seed 1)', () => {
    const dropped = draw({ ...NO_IMPAIRMENT, loss: 0.1, seed: 1 }).filter((d) => d.drop).length;
    // Binomial(20000, 0.1): standard deviation 42; ±5 of them.
    expect(dropped).toBeGreaterThan(2000 - 210);
    expect(dropped).toBeLessThan(2000 + 210);
  });

  it('duplicates and reorders only what it does not drop, each near its probability', () => {
    const decisions = draw({ loss: 0.2, duplicate: 0.1, reorder: 0.05, jitterMs: 0, seed: 3 });
    const kept = decisions.filter((d) => !d.drop);
    expect(decisions.filter((d) => d.drop && (d.duplicate || d.reorder))).toEqual([]);
    const duplicated = kept.filter((d) => d.duplicate).length / kept.length;
    const reordered = kept.filter((d) => d.reorder).length / kept.length;
    expect(duplicated).toBeGreaterThan(0.09);
    expect(duplicated).toBeLessThan(0.11);
    expect(reordered).toBeGreaterThan(0.04);
    expect(reordered).toBeLessThan(0.06);
  });

  it('delays every copy within [0, jitterMs], spread across the range', () => {
    const decisions = draw({ ...NO_IMPAIRMENT, jitterMs: 30, seed: 11 });
    const delays = decisions.flatMap((d) => [d.delayMs, d.duplicateDelayMs]);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...delays)).toBeLessThanOrEqual(30);
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    expect(mean).toBeGreaterThan(14);
    expect(mean).toBeLessThan(16);
    expect(decisions.filter((d) => d.drop || d.duplicate || d.reorder)).toEqual([]);
  });

  it('does not let one datagram\'s fate shift the next one\'s decisions (five draws each)', () => {
    // Same seed, different probabilities: the delay draws line up datagram for datagram.
    const plain = draw({ ...NO_IMPAIRMENT, jitterMs: 10, seed: 5 }, 200);
    const lossy = draw({ loss: 0.5, duplicate: 0.5, reorder: 0.5, jitterMs: 10, seed: 5 }, 200);
    expect(lossy.map((d) => d.delayMs)).toEqual(plain.map((d) => d.delayMs));
  });

  it('refuses settings out of range', () => {
    expect(() => validateImpairment({ ...NO_IMPAIRMENT, loss: 1.5 })).toThrow(RangeError);
    expect(() => validateImpairment({ ...NO_IMPAIRMENT, duplicate: -0.1 })).toThrow(RangeError);
    expect(() => validateImpairment({ ...NO_IMPAIRMENT, reorder: Number.NaN })).toThrow(RangeError);
    expect(() => validateImpairment({ ...NO_IMPAIRMENT, jitterMs: 20_000 })).toThrow(RangeError);
    expect(() => validateImpairment({ ...NO_IMPAIRMENT, seed: 1.5 })).toThrow(RangeError);
    expect(isImpairing(NO_IMPAIRMENT)).toBe(false);
    expect(isImpairing({ ...NO_IMPAIRMENT, jitterMs: 1 })).toBe(true);
  });
});
