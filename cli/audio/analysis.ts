/**
 * Measures for checking what a listener heard against what a speaker sent: the dominant
 * frequency (Goertzel's algorithm over a Hann window, scanned then refined), and the
 * normalised cross-correlation at the best lag (Opus delays its output by its look-ahead,
 * 6.5 ms at 48 kHz, RFC 6716 §2.1.9, so the two only line up once shifted).
 *
 * Goertzel rather than an FFT library: one frequency at a time is all a scan needs, it is
 * ten lines, and it has no bin grid (an FFT needs zero padding for sub-hertz peaks).
 */

export interface DominantFrequencyOptions {
  /** Lowest and highest frequency scanned, Hz; default 50 and 4,000 (speech and the demo chords). */
  readonly minHz?: number;
  readonly maxHz?: number;
  /**
   * Samples analysed at most, from the middle of the signal (default 24,000: 0.5 s at 48 kHz,
   * a resolution well under 1 Hz after refinement, and a scan in tens of milliseconds).
   */
  readonly maxSamples?: number;
}

/**
 * Power of one frequency in a windowed signal (Goertzel: a second-order recursion per sample,
 * the DFT's value at any frequency, not only at bin centres).
 */
export function goertzelPower(samples: ArrayLike<number>, sampleRate: number, hz: number, window?: Float64Array): number {
  const length = samples.length;
  const coefficient = 2 * Math.cos((2 * Math.PI * hz) / sampleRate);
  let previous = 0;
  let beforePrevious = 0;
  for (let n = 0; n < length; n++) {
    const x = window === undefined ? samples[n]! : samples[n]! * window[n]!;
    const current = x + coefficient * previous - beforePrevious;
    beforePrevious = previous;
    previous = current;
  }
  return previous * previous + beforePrevious * beforePrevious - coefficient * previous * beforePrevious;
}

function hannWindow(length: number): Float64Array {
  const window = new Float64Array(length);
  for (let n = 0; n < length; n++) window[n] = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / Math.max(1, length - 1));
  return window;
}

function toFloat64(values: ArrayLike<number>): Float64Array {
  return values instanceof Float64Array ? values : Float64Array.from(values);
}

/** The frequency of most power in [minHz, maxHz], scanned one bin (rate / length) at a time. */
function scanPeak(segment: Float64Array, sampleRate: number, minHz: number, maxHz: number, window = hannWindow(segment.length)): { hz: number; power: number } {
  const binHz = sampleRate / segment.length;
  let best = { hz: minHz, power: -1 };
  for (let hz = minHz; hz <= maxHz + 1e-9; hz += binHz) {
    const power = goertzelPower(segment, sampleRate, hz, window);
    if (power > best.power) best = { hz, power };
  }
  return best;
}

/**
 * The frequency with the most power, to a fraction of a hertz for a steady tone. Returns
 * NaN for silence (nothing dominates).
 */
export function dominantFrequency(samples: Int16Array | Float32Array | Float64Array, sampleRate: number, options: DominantFrequencyOptions = {}): number {
  const minHz = options.minHz ?? 50;
  const maxHz = options.maxHz ?? 4_000;
  const maxSamples = options.maxSamples ?? 24_000;
  if (!(minHz > 0 && maxHz > minHz && maxHz < sampleRate / 2)) throw new RangeError('analysis: need 0 < minHz < maxHz < sampleRate / 2');
  if (!Number.isInteger(maxSamples) || maxSamples < 16) throw new RangeError('analysis: maxSamples must be an integer of at least 16');
  const length = Math.min(samples.length, maxSamples);
  if (length < 16) return Number.NaN;
  const start = Math.floor((samples.length - length) / 2);
  const segment = toFloat64(samples.subarray(start, start + length));
  // A Hann window's main lobe is 4 bins wide (±2·rate/length Hz), so a scan in steps of one
  // bin never steps over a peak. The scan is first done over a short stretch (coarse bins,
  // cheap), then over the whole segment near the coarse peak, then refined.
  const coarseLength = Math.min(length, 4_096);
  const coarseStart = Math.floor((length - coarseLength) / 2);
  const coarse = scanPeak(segment.subarray(coarseStart, coarseStart + coarseLength), sampleRate, minHz, maxHz);
  if (!(coarse.power > 0)) return Number.NaN;
  const coarseBinHz = sampleRate / coarseLength;
  const window = hannWindow(length);
  const binHz = sampleRate / length;
  const { hz: bestHz, power: bestPower } = scanPeak(
    segment,
    sampleRate,
    Math.max(minHz, coarse.hz - 2 * coarseBinHz),
    Math.min(maxHz, coarse.hz + 2 * coarseBinHz),
    window,
  );
  if (!(bestPower > 0)) return Number.NaN;
  // Refine: shrink a bracket around the peak (the main lobe is unimodal).
  let low = Math.max(minHz, bestHz - binHz);
  let high = Math.min(maxHz, bestHz + binHz);
  while (high - low > 0.01) {
    const third = (high - low) / 3;
    if (goertzelPower(segment, sampleRate, low + third, window) < goertzelPower(segment, sampleRate, high - third, window)) low += third;
    else high -= third;
  }
  return (low + high) / 2;
}

export interface Alignment {
  /** How many samples later the signal starts than the reference (negative: earlier). */
  readonly lagSamples: number;
  /** Normalised cross-correlation at that lag, -1 to 1 (1: same waveform up to a gain). */
  readonly correlation: number;
}

export interface AlignmentOptions {
  /** Lags tried, in samples; default 0 to 960 (20 ms: Opus's delay and then some). */
  readonly minLagSamples?: number;
  readonly maxLagSamples?: number;
  /** Reference samples compared at most, from its start (default 24,000: half a second). */
  readonly maxSamples?: number;
}

/**
 * The lag at which `signal` best matches `reference`, and how well: for each lag, the
 * normalised cross-correlation over the samples the two share, Σ r·s / √(Σ r² · Σ s²).
 * NaN correlation when either side is silent.
 */
export function bestAlignment(reference: Int16Array | Float64Array, signal: Int16Array | Float64Array, options: AlignmentOptions = {}): Alignment {
  const minLag = options.minLagSamples ?? 0;
  const maxLag = options.maxLagSamples ?? 960;
  const maxSamples = options.maxSamples ?? 24_000;
  if (!Number.isInteger(minLag) || !Number.isInteger(maxLag) || maxLag < minLag) throw new RangeError('analysis: need integer lags with minLagSamples <= maxLagSamples');
  const length = Math.min(reference.length, maxSamples);
  const r = toFloat64(reference.subarray(0, length));
  const s = toFloat64(signal);
  // Prefix sums of squares: each lag's energies in O(1).
  const squares = (values: Float64Array): Float64Array => {
    const sums = new Float64Array(values.length + 1);
    for (let i = 0; i < values.length; i++) sums[i + 1] = sums[i]! + values[i]! * values[i]!;
    return sums;
  };
  const referenceSquares = squares(r);
  const signalSquares = squares(s);
  let best: Alignment = { lagSamples: minLag, correlation: Number.NaN };
  for (let lag = minLag; lag <= maxLag; lag++) {
    // Shared samples: reference[i] against signal[i + lag].
    const first = Math.max(0, -lag);
    const end = Math.min(length, s.length - lag);
    if (end - first < 1) continue;
    // Four running sums: the loop runs ~50,000 times per lag, and this halves its time.
    let dot0 = 0;
    let dot1 = 0;
    let dot2 = 0;
    let dot3 = 0;
    let i = first;
    for (; i + 3 < end; i += 4) {
      dot0 += r[i]! * s[i + lag]!;
      dot1 += r[i + 1]! * s[i + 1 + lag]!;
      dot2 += r[i + 2]! * s[i + 2 + lag]!;
      dot3 += r[i + 3]! * s[i + 3 + lag]!;
    }
    let dot = dot0 + dot1 + dot2 + dot3;
    for (; i < end; i++) dot += r[i]! * s[i + lag]!;
    const energy = (referenceSquares[end]! - referenceSquares[first]!) * (signalSquares[end + lag]! - signalSquares[first + lag]!);
    if (!(energy > 0)) continue;
    const correlation = dot / Math.sqrt(energy);
    if (Number.isNaN(best.correlation) || correlation > best.correlation) best = { lagSamples: lag, correlation };
  }
  return best;
}

/** Root mean square level, in sample units. */
export function rms(samples: Int16Array | Float64Array): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
  return Math.sqrt(sum / samples.length);
}
