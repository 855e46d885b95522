import { describe, expect, it } from 'vitest';

import { bestAlignment, dominantFrequency, goertzelPower, rms } from '../../../../cli/audio/analysis.js';
import { makeSpeakerClip, SPEAKER_ROOTS_HZ, speakerRootHz } from '../../../../cli/audio/clip.js';

const RATE = 48_000;

function tone(hz: number, length: number, amplitude = 10_000): Float64Array {
  return Float64Array.from({ length }, (_, n) => amplitude * Math.sin((2 * Math.PI * hz * n) / RATE));
}

/** Deterministic white noise (xorshift32), so the tests never depend on a seed from the clock. */
function noise(length: number, seed = 0x9e3779b9): Float64Array {
  let state = seed >>> 0;
  return Float64Array.from({ length }, () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return (state / 0x100000000 - 0.5) * 20_000;
  });
}

describe('goertzelPower', () => {
  it('equals |DFT|² at a bin, computed directly (known answer)', () => {
    const signal = Float64Array.from({ length: 64 }, (_, n) => Math.sin(n * 0.7) + 0.25 * Math.cos(n * 2.1) + (n % 5));
    for (const bin of [0, 3, 7, 20]) {
      let re = 0;
      let im = 0;
      for (let n = 0; n < signal.length; n++) {
        re += signal[n]! * Math.cos((2 * Math.PI * bin * n) / signal.length);
        im -= signal[n]! * Math.sin((2 * Math.PI * bin * n) / signal.length);
      }
      const hz = (bin * RATE) / signal.length;
      expect(goertzelPower(signal, RATE, hz)).toBeCloseTo(re * re + im * im, 6);
    }
  });
});

describe('dominantFrequency', () => {
  it('finds a tone to within 0.05 Hz, between bins and over the whole range', () => {
    for (const hz of [60.5, 123.4, 440, 1_000, 2_718.3, 3_900]) {
      expect(Math.abs(dominantFrequency(tone(hz, 24_000), RATE) - hz)).toBeLessThan(0.05);
    }
  });

  it('picks the loudest of several partials, and still does under noise', () => {
    const loud = tone(523, 24_000, 8_000);
    const hiss = noise(24_000);
    const mixed = tone(700, 24_000, 3_000).map((value, n) => value + loud[n]! + hiss[n]! * 0.3);
    expect(Math.abs(dominantFrequency(mixed, RATE) - 523)).toBeLessThan(0.5);
  });

  it('returns NaN for silence and checks its range', () => {
    expect(dominantFrequency(new Int16Array(4_800), RATE)).toBeNaN();
    expect(dominantFrequency(new Int16Array(8), RATE)).toBeNaN();
    expect(() => dominantFrequency(tone(440, 4_800), RATE, { minHz: 500, maxHz: 400 })).toThrow(RangeError);
  });

  it("finds each demo speaker's root in its clip", () => {
    expect(SPEAKER_ROOTS_HZ.length).toBeGreaterThanOrEqual(3);
    for (let speaker = 0; speaker < SPEAKER_ROOTS_HZ.length; speaker++) {
      const clip = makeSpeakerClip(speaker, { durationMs: 500 });
      expect(clip.rootHz).toBe(speakerRootHz(speaker));
      expect(Math.abs(dominantFrequency(clip.samples, RATE) - clip.rootHz)).toBeLessThan(0.1);
    }
  });
});

describe('bestAlignment', () => {
  it('finds the delay of a delayed copy, with correlation 1', () => {
    const reference = noise(6_000);
    const delayed = new Float64Array(6_500);
    delayed.set(reference, 137);
    const alignment = bestAlignment(reference, delayed);
    expect(alignment.lagSamples).toBe(137);
    expect(alignment.correlation).toBeCloseTo(1, 9);
  });

  it('finds a signal that starts early with a negative lag, and gain does not matter', () => {
    const reference = noise(6_000);
    const early = reference.subarray(40).map((value) => value * 0.25);
    expect(bestAlignment(reference, early, { minLagSamples: -100, maxLagSamples: 100 })).toEqual({ lagSamples: -40, correlation: expect.closeTo(1, 9) });
  });

  it('scores unrelated noise near 0 and an inverted copy near -1', () => {
    const reference = noise(6_000);
    expect(Math.abs(bestAlignment(reference, noise(6_000, 12_345), { maxLagSamples: 0 }).correlation)).toBeLessThan(0.05);
    expect(bestAlignment(reference, reference.map((value) => -value), { maxLagSamples: 0 }).correlation).toBeCloseTo(-1, 9);
  });

  it('gives NaN when a side is silent, and checks its lags', () => {
    expect(bestAlignment(noise(1_000), new Float64Array(1_500)).correlation).toBeNaN();
    expect(() => bestAlignment(noise(10), noise(10), { minLagSamples: 5, maxLagSamples: 4 })).toThrow(RangeError);
  });
});

describe('rms', () => {
  it('is amplitude/√2 for a sine and 0 for nothing', () => {
    expect(rms(tone(1_000, 4_800, 1_000))).toBeCloseTo(1_000 / Math.SQRT2, 0);
    expect(rms(new Int16Array(0))).toBe(0);
  });
});
