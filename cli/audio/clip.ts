/**
 * The demo's audio, made at run time: each speaker plays a short major chord on its own root,
 * so a listener's recording can be checked by its dominant frequency (the root, which is the
 * loudest partial) and by its correlation with what was sent.
 */
import { OPUS_SAMPLE_RATE } from './opus-codec.js';

/**
 * Roots for speakers 0, 1, 2, …: notes between A3 and A5 whose chords share no root, none an
 * octave of another (an octave's energy could be mistaken for the root's), rounded to whole
 * hertz so tests can name them.
 */
export const SPEAKER_ROOTS_HZ: readonly number[] = Object.freeze([440, 330, 523, 392, 294, 622, 370, 466]);

/** Partials of the chord, relative to the root: the root, a major third, a fifth. */
const CHORD: ReadonlyArray<{ readonly ratio: number; readonly gain: number }> = [
  { ratio: 1, gain: 1 },
  { ratio: 5 / 4, gain: 0.4 },
  { ratio: 3 / 2, gain: 0.3 },
];
/** Peak level: -6 dBFS, loud and clear of clipping after the codec. */
const PEAK = 0.5 * 32767;
/** Fades at both ends, so the clip starts and stops without a click. */
const FADE_MS = 10;

export interface SpeakerClip {
  readonly sampleRate: number;
  /** The chord's root: the clip's dominant frequency. */
  readonly rootHz: number;
  /** Mono 16-bit samples at `sampleRate`. */
  readonly samples: Int16Array;
}

export function speakerRootHz(speakerIndex: number): number {
  if (!Number.isInteger(speakerIndex) || speakerIndex < 0) throw new RangeError('clip: speakerIndex must be a non-negative integer');
  return SPEAKER_ROOTS_HZ[speakerIndex % SPEAKER_ROOTS_HZ.length]!;
}

export interface SpeakerClipOptions {
  /** Length in milliseconds, 20 to 60,000; default 3,000. */
  readonly durationMs?: number;
  readonly sampleRate?: number;
}

/** The clip for one speaker: a major chord on speakerRootHz(speakerIndex), faded in and out. */
export function makeSpeakerClip(speakerIndex: number, options: SpeakerClipOptions = {}): SpeakerClip {
  const rootHz = speakerRootHz(speakerIndex);
  const durationMs = options.durationMs ?? 3_000;
  const sampleRate = options.sampleRate ?? OPUS_SAMPLE_RATE;
  if (!Number.isInteger(durationMs) || durationMs < 20 || durationMs > 60_000) throw new RangeError('clip: durationMs must be an integer from 20 to 60000');
  if (!Number.isInteger(sampleRate) || sampleRate < 8_000) throw new RangeError('clip: sampleRate must be an integer of at least 8000');
  const length = Math.round((sampleRate * durationMs) / 1000);
  const fade = Math.min(Math.round((sampleRate * FADE_MS) / 1000), Math.floor(length / 2));
  const totalGain = CHORD.reduce((sum, partial) => sum + partial.gain, 0);
  const samples = new Int16Array(length);
  for (let n = 0; n < length; n++) {
    let value = 0;
    for (const { ratio, gain } of CHORD) value += gain * Math.sin((2 * Math.PI * rootHz * ratio * n) / sampleRate);
    const edge = Math.min(n, length - 1 - n);
    const envelope = edge < fade ? 0.5 - 0.5 * Math.cos((Math.PI * edge) / fade) : 1;
    samples[n] = Math.round((PEAK * envelope * value) / totalGain);
  }
  return { sampleRate, rootHz, samples };
}
