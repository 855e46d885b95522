/**
 * The figures of a load test's summary, as pure functions: percentiles, a latency histogram,
 * and per-second series (RFC 3550 interarrival jitter is shared/client/interarrival-jitter.ts,
 * which the SDK's jitter buffer uses too). No clocks or sockets here: the caller passes the times.
 */

/**
 * The p-th percentile (0 < p ≤ 100) of ascending `sorted`, by nearest rank: the smallest value
 * with at least p % of the values at or below it. NaN for no values.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (!(p > 0 && p <= 100)) throw new RangeError('percentile: p must be in (0, 100]');
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * n);
  return sorted[Math.min(n, Math.max(1, rank)) - 1]!;
}

/** Ascending copy of `values` (a typed array sorts numerically). */
export function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

export interface Histogram {
  /** Lower edge of each bin; bin i covers [edges[i], edges[i] + width). */
  readonly lowerEdges: readonly number[];
  readonly width: number;
  readonly counts: readonly number[];
  /** Values at or beyond the last bin's upper edge. */
  readonly overflow: number;
}

/**
 * Fixed-width bins from 0 to a round width × `bins` covering `upTo` (the caller picks it, e.g.
 * the 99.9th percentile, so one outlier does not squash the picture); values beyond it count in
 * `overflow`.
 */
export function histogram(values: ArrayLike<number>, upTo: number, bins = 50): Histogram {
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError('histogram: bins must be a positive integer');
  const width = niceWidth(Math.max(upTo, Number.MIN_VALUE) / bins);
  const counts = new Array<number>(bins).fill(0);
  let overflow = 0;
  for (let i = 0; i < values.length; i++) {
    const bin = Math.floor(Math.max(0, values[i]!) / width);
    if (bin < bins) counts[bin]!++;
    else overflow++;
  }
  return { lowerEdges: counts.map((_, i) => roundTo(i * width, width)), width, counts, overflow };
}

/** The smallest of 1, 2, 2.5, 5 × 10^k at or above `raw`: bin edges that read well. */
export function niceWidth(raw: number): number {
  if (!(raw > 0) || !Number.isFinite(raw)) throw new RangeError('niceWidth: raw must be a positive number');
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= raw * (1 - 1e-12)) return step * magnitude;
  return 10 * magnitude;
}

function roundTo(value: number, width: number): number {
  const decimals = Math.max(0, -Math.floor(Math.log10(width)) + 2);
  return Number(value.toFixed(decimals));
}

/**
 * Counts per second: bucket i holds events at times in [i s, (i+1) s) from the start. Events
 * before 0 go in the first bucket, at or after `seconds` in the last.
 */
export class PerSecondSeries {
  readonly counts: Float64Array;

  constructor(readonly seconds: number) {
    if (!Number.isInteger(seconds) || seconds < 1) throw new RangeError('PerSecondSeries: seconds must be a positive integer');
    this.counts = new Float64Array(seconds);
  }

  add(atMs: number, amount = 1): void {
    const bucket = Math.min(this.seconds - 1, Math.max(0, Math.floor(atMs / 1000)));
    this.counts[bucket]! += amount;
  }
}

/**
 * Loss per second, from what was sent in each second and how many of those copies arrived
 * (counted by send second, so a late copy still counts where it was sent): 1 − arrived/expected,
 * null where nothing was expected, never below 0 (duplicates are counted apart).
 */
export function lossSeries(expected: ArrayLike<number>, arrived: ArrayLike<number>): Array<number | null> {
  return Array.from({ length: expected.length }, (_, i) => {
    const e = expected[i]!;
    if (e === 0) return null;
    return Math.max(0, (e - (arrived[i] ?? 0)) / e);
  });
}
