/** The load test's summary figures (cli/loadtest/summary-math.ts): known answers, worked by hand. */
import { describe, expect, it } from 'vitest';
import { histogram, lossSeries, niceWidth, percentile, PerSecondSeries, sortedCopy } from '../../../../cli/loadtest/summary-math.js';

describe('percentile (nearest rank)', () => {
  const oneToHundred = Array.from({ length: 100 }, (_, i) => i + 1);

  it('picks the smallest value with p % of the values at or below it', () => {
    expect(percentile(oneToHundred, 50)).toBe(50);
    expect(percentile(oneToHundred, 95)).toBe(95);
    expect(percentile(oneToHundred, 99)).toBe(99);
    expect(percentile(oneToHundred, 100)).toBe(100);
    expect(percentile(oneToHundred, 0.5)).toBe(1);
    // Five values: p50 is the 3rd (rank ceil(2.5)), p95 and p99 the 5th, p20 the 1st.
    expect(percentile([10, 20, 30, 40, 50], 50)).toBe(30);
    expect(percentile([10, 20, 30, 40, 50], 95)).toBe(50);
    expect(percentile([10, 20, 30, 40, 50], 20)).toBe(10);
    expect(percentile([7], 99)).toBe(7);
  });

  it('is NaN for no values and refuses p outside (0, 100]', () => {
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 0)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });

  it('sorts numerically, not as strings', () => {
    expect([...sortedCopy([10, 9, 100, 1.5])]).toEqual([1.5, 9, 10, 100]);
  });
});

describe('histogram', () => {
  it('bins values in round widths and counts what lies beyond', () => {
    const h = histogram([0, 0.05, 0.1, 0.15, 0.95, 0.99, 1.0, 7], 1, 10);
    expect(h.width).toBe(0.1);
    expect(h.lowerEdges.slice(0, 3)).toEqual([0, 0.1, 0.2]);
    expect(h.counts).toEqual([2, 2, 0, 0, 0, 0, 0, 0, 0, 2]);
    expect(h.overflow).toBe(2);
    expect(h.counts.reduce((a, b) => a + b, 0) + h.overflow).toBe(8);
  });

  it('picks widths of 1, 2, 2.5 or 5 times a power of ten', () => {
    expect(niceWidth(0.13)).toBe(0.2);
    expect(niceWidth(0.21)).toBe(0.25);
    expect(niceWidth(3)).toBe(5);
    expect(niceWidth(7)).toBe(10);
    expect(niceWidth(20)).toBe(20);
  });
});

describe('per-second series and loss', () => {
  it('counts events into the second they fall in, clamping the ends', () => {
    const s = new PerSecondSeries(3);
    for (const t of [-5, 0, 999.9, 1000, 2500, 9000]) s.add(t);
    s.add(1500, 10);
    expect([...s.counts]).toEqual([3, 11, 2]);
  });

  it('gives 1 − arrived/expected per second, null where nothing was expected', () => {
    expect(lossSeries([100, 0, 50, 10], [90, 0, 50, 12])).toEqual([0.1, null, 0, 0]);
  });
});
