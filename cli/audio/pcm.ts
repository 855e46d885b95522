/**
 * 16-bit PCM audio in memory, and the steps between a WAV file's audio and Opus frames:
 * downmix to mono, check the rate, cut into 20 ms frames.
 */
import { FRAME_SAMPLES, OPUS_SAMPLE_RATE } from './opus-codec.js';

/** Interleaved signed 16-bit samples (frame after frame, one sample per channel in each). */
export interface PcmAudio {
  readonly sampleRate: number;
  readonly channels: number;
  readonly samples: Int16Array;
}

export class PcmFormatError extends Error {
  override readonly name = 'PcmFormatError';
  readonly reason: 'unsupported-rate';

  constructor(reason: 'unsupported-rate', message: string) {
    super(message);
    this.reason = reason;
  }
}

/** Seconds of audio, from the sample count. */
export function durationSeconds(audio: PcmAudio): number {
  return audio.samples.length / audio.channels / audio.sampleRate;
}

/** The mean of the channels, rounded; mono comes back as it is. */
export function downmixToMono(audio: PcmAudio): PcmAudio {
  if (!Number.isInteger(audio.channels) || audio.channels < 1) throw new RangeError('pcm: channels must be a positive integer');
  if (audio.channels === 1) return audio;
  const frames = Math.floor(audio.samples.length / audio.channels);
  const mono = new Int16Array(frames);
  for (let frame = 0; frame < frames; frame++) {
    let sum = 0;
    for (let channel = 0; channel < audio.channels; channel++) sum += audio.samples[frame * audio.channels + channel]!;
    mono[frame] = Math.round(sum / audio.channels);
  }
  return { sampleRate: audio.sampleRate, channels: 1, samples: mono };
}

/**
 * What Parley sends: 48 kHz mono. Stereo is downmixed; another rate is refused rather than
 * resampled, because a good resampler is a dependency of its own and a file converted once
 * with sox or ffmpeg sounds better than one converted on the fly.
 */
export function toVoicePcm(audio: PcmAudio, source = 'the audio'): Int16Array {
  if (audio.sampleRate !== OPUS_SAMPLE_RATE) {
    throw new PcmFormatError(
      'unsupported-rate',
      `${source} is ${audio.sampleRate} Hz; Parley sends ${OPUS_SAMPLE_RATE} Hz: convert it first ` +
        `(sox IN.wav -r ${OPUS_SAMPLE_RATE} OUT.wav, or ffmpeg -i IN.wav -ar ${OPUS_SAMPLE_RATE} OUT.wav)`,
    );
  }
  return downmixToMono(audio).samples;
}

/** Cuts mono PCM into frames of FRAME_SAMPLES; the last one is padded with silence. */
export function splitIntoFrames(samples: Int16Array, frameSamples = FRAME_SAMPLES): Int16Array[] {
  if (!Number.isInteger(frameSamples) || frameSamples < 1) throw new RangeError('pcm: frameSamples must be a positive integer');
  const frames: Int16Array[] = [];
  for (let start = 0; start < samples.length; start += frameSamples) {
    const frame = new Int16Array(frameSamples);
    frame.set(samples.subarray(start, Math.min(start + frameSamples, samples.length)));
    frames.push(frame);
  }
  return frames;
}

/** Joins chunks of samples into one array. */
export function concatSamples(chunks: readonly Int16Array[]): Int16Array {
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  const joined = new Int16Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  return joined;
}
