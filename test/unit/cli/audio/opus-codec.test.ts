import { describe, expect, it } from 'vitest';

import { bestAlignment, dominantFrequency } from '../../../../cli/audio/analysis.js';
import { makeSpeakerClip } from '../../../../cli/audio/clip.js';
import {
  DEFAULT_VOICE_BITRATE,
  FRAME_SAMPLES,
  OPUS_SAMPLE_RATE,
  OpusCodecError,
  OpusDecoder,
  OpusEncoder,
} from '../../../../cli/audio/opus-codec.js';
import { concatSamples, splitIntoFrames } from '../../../../cli/audio/pcm.js';

/** Byte equality of large arrays (vitest's deep equality walks them element by element). */
function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function tone(hz: number, seconds: number, amplitude = 12_000): Int16Array {
  const samples = new Int16Array(Math.round(OPUS_SAMPLE_RATE * seconds));
  for (let n = 0; n < samples.length; n++) samples[n] = Math.round(amplitude * Math.sin((2 * Math.PI * hz * n) / OPUS_SAMPLE_RATE));
  return samples;
}

/** Encodes and decodes `samples` frame by frame; returns the packets and the decoded audio. */
function roundTrip(samples: Int16Array): { packets: Uint8Array[]; decoded: Int16Array } {
  const encoder = new OpusEncoder();
  const decoder = new OpusDecoder();
  try {
    const packets = splitIntoFrames(samples).map((frame) => encoder.encode(frame));
    return { packets, decoded: concatSamples(packets.map((packet) => decoder.decode(packet))) };
  } finally {
    encoder.close();
    decoder.close();
  }
}

describe('Opus codec (libopus 1.4 in WebAssembly)', () => {
  it('a 440 Hz tone comes back at 440 Hz, correlated above 0.95 once aligned for the codec delay', () => {
    const input = tone(440, 2);
    const { packets, decoded } = roundTrip(input);
    expect(packets).toHaveLength(100);
    expect(decoded).toHaveLength(input.length);
    const dominant = dominantFrequency(decoded, OPUS_SAMPLE_RATE);
    expect(Math.abs(dominant - 440)).toBeLessThan(1);
    // A tone lines up every period; the correlation is what this checks (the lag: next test).
    expect(bestAlignment(input, decoded).correlation).toBeGreaterThan(0.95);
  });

  it('delays its output by about the encoder look-ahead, 6.5 ms (RFC 6716 §2.1.9), 312 samples', () => {
    // A sweep from 200 Hz to 2 kHz lines up with itself at one lag only.
    const sweep = new Int16Array(OPUS_SAMPLE_RATE);
    for (let n = 0; n < sweep.length; n++) {
      const t = n / OPUS_SAMPLE_RATE;
      sweep[n] = Math.round(12_000 * Math.sin(2 * Math.PI * (200 * t + 900 * t * t)));
    }
    const alignment = bestAlignment(sweep, roundTrip(sweep).decoded);
    // Measured here: 308 (SILK's own resampler delay is compensated to within a few samples).
    expect(alignment.lagSamples).toBeGreaterThanOrEqual(300);
    expect(alignment.lagSamples).toBeLessThanOrEqual(320);
    expect(alignment.correlation).toBeGreaterThan(0.9);
  });

  it('each speaker chord of the demo keeps its root as the dominant frequency', () => {
    for (const speaker of [0, 1, 2]) {
      const clip = makeSpeakerClip(speaker, { durationMs: 1_000 });
      const { decoded } = roundTrip(clip.samples);
      expect(Math.abs(dominantFrequency(decoded, OPUS_SAMPLE_RATE) - clip.rootHz)).toBeLessThan(1);
      expect(bestAlignment(clip.samples, decoded).correlation).toBeGreaterThan(0.9);
    }
  });

  it('spends about the voice bitrate: 32 kb/s is 80 bytes per 20 ms packet', () => {
    const { packets } = roundTrip(makeSpeakerClip(0, { durationMs: 2_000 }).samples);
    const averageBytes = packets.reduce((sum, packet) => sum + packet.length, 0) / packets.length;
    expect(DEFAULT_VOICE_BITRATE).toBe(32_000);
    expect(averageBytes).toBeGreaterThan(50);
    expect(averageBytes).toBeLessThan(110);
  });

  it('many encoders and decoders in one process do not disturb each other', () => {
    // The codec is one WebAssembly memory for the whole process: each codec's buffers must be
    // its own (opusscript's own wrapper gets this wrong, see opus-codec.ts).
    const frames = splitIntoFrames(tone(440, 0.5));
    const alone = roundTrip(concatSamples(frames));
    const encoders = Array.from({ length: 12 }, () => new OpusEncoder());
    const decoders = Array.from({ length: 12 }, () => new OpusDecoder());
    const outputs: Int16Array[][] = decoders.map(() => []);
    const packets: Uint8Array[][] = encoders.map(() => []);
    for (const [index, frame] of frames.entries()) {
      for (let i = 0; i < encoders.length; i++) {
        const packet = encoders[i]!.encode(frame);
        packets[i]!.push(packet);
        // Every codec also conceals a loss now and then, the call that writes the most.
        outputs[i]!.push(index === 7 ? decoders[i]!.conceal() : decoders[i]!.decode(packet));
      }
    }
    for (const codec of [...encoders, ...decoders]) codec.close();
    const reference = new OpusDecoder();
    const expected = concatSamples(alone.packets.map((packet, index) => (index === 7 ? reference.conceal() : reference.decode(packet))));
    reference.close();
    for (let i = 0; i < encoders.length; i++) {
      expect(packets[i]!.every((packet, index) => sameBytes(packet, alone.packets[index]!))).toBe(true);
      expect(sameBytes(concatSamples(outputs[i]!), expected)).toBe(true);
    }
  });

  it('conceals a lost packet with one frame of sound that continues the tone', () => {
    const decoder = new OpusDecoder();
    expect(decoder.conceal()).toEqual(new Int16Array(FRAME_SAMPLES)); // nothing heard yet: silence
    const encoder = new OpusEncoder();
    for (const frame of splitIntoFrames(tone(440, 0.2))) decoder.decode(encoder.encode(frame));
    const concealed = decoder.conceal();
    expect(concealed).toHaveLength(FRAME_SAMPLES);
    expect(concealed.some((sample) => Math.abs(sample) > 1_000)).toBe(true);
    encoder.close();
    decoder.close();
  });

  it('refuses packets that are not Opus with OpusCodecError', () => {
    const decoder = new OpusDecoder();
    const refuse = (packet: Uint8Array): unknown => {
      try {
        decoder.decode(packet);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    // RFC 6716 §3.2.5: a code 3 packet must hold at least one frame ([R5]); here M = 0.
    for (const packet of [new Uint8Array(0), Uint8Array.of(0x03, 0x00), new Uint8Array(4_000)]) {
      const error = refuse(packet);
      expect(error).toBeInstanceOf(OpusCodecError);
      expect((error as OpusCodecError).reason).toBe('invalid-packet');
    }
    decoder.close();
  });

  it('checks its arguments, and close() is idempotent with later calls refused', () => {
    expect(() => new OpusEncoder({ bitrate: 1_000 })).toThrow(RangeError);
    const encoder = new OpusEncoder({ bitrate: 24_000 });
    expect(() => encoder.encode(new Int16Array(480))).toThrow(RangeError);
    encoder.close();
    encoder.close();
    expect(encoder.closed).toBe(true);
    expect(() => encoder.encode(new Int16Array(FRAME_SAMPLES))).toThrow(TypeError);
    const decoder = new OpusDecoder();
    decoder.close();
    decoder.close();
    expect(() => decoder.decode(Uint8Array.of(0xf8, 0xff, 0xfe))).toThrow(TypeError);
    expect(() => decoder.conceal()).toThrow(TypeError);
  });
});
