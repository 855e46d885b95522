import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { bestAlignment, dominantFrequency, rms } from '../../../../cli/audio/analysis.js';
import { makeSpeakerClip } from '../../../../cli/audio/clip.js';
import { FRAME_SAMPLES, OPUS_SAMPLE_RATE, OpusEncoder } from '../../../../cli/audio/opus-codec.js';
import { concatSamples, splitIntoFrames } from '../../../../cli/audio/pcm.js';
import { SpeakerRecorder, SpeakerTimeline, type ReceivedAudioPacket } from '../../../../cli/audio/speaker-recorder.js';
import { readWavFile } from '../../../../cli/audio/wav-file.js';

const directory = mkdtempSync(join(tmpdir(), 'parley-record-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** A speaker's stream as RTP would carry it: Opus packets, sequence +1, timestamp +960. */
function stream(speaker: number, durationMs: number, firstSequence = 1_000, firstTimestamp = 123_456): ReceivedAudioPacket[] {
  const encoder = new OpusEncoder();
  const packets = splitIntoFrames(makeSpeakerClip(speaker, { durationMs }).samples).map((frame, index) => ({
    sequence: (firstSequence + index) & 0xffff,
    timestamp: (firstTimestamp + index * FRAME_SAMPLES) >>> 0,
    payload: encoder.encode(frame),
  }));
  encoder.close();
  return packets;
}

function play(timeline: SpeakerTimeline, packets: readonly ReceivedAudioPacket[]): Int16Array {
  return concatSamples(packets.flatMap((packet) => timeline.push(packet)));
}

describe('SpeakerTimeline', () => {
  it('fills lost packets with concealment, so the audio lasts as long as the stream', () => {
    const packets = stream(0, 1_000);
    const timeline = new SpeakerTimeline();
    const kept = packets.filter((_, index) => index < 20 || index > 22); // packets 20, 21, 22 lost
    const audio = play(timeline, kept);
    expect(audio).toHaveLength(packets.length * FRAME_SAMPLES);
    expect(timeline.stats).toEqual({
      packets: packets.length - 3,
      lostPackets: 3,
      droppedPackets: 0,
      undecodablePackets: 0,
      concealedSamples: 3 * FRAME_SAMPLES,
      silentSamples: 0,
      skippedSamples: 0,
      samples: packets.length * FRAME_SAMPLES,
    });
    // Concealment continues the chord rather than leaving a hole.
    expect(rms(audio.subarray(20 * FRAME_SAMPLES, 21 * FRAME_SAMPLES))).toBeGreaterThan(1_000);
    expect(Math.abs(dominantFrequency(audio, OPUS_SAMPLE_RATE) - 440)).toBeLessThan(1);
    timeline.close();
  });

  it('conceals at most maxConcealedFrames of a long gap and fills the rest with silence', () => {
    const packets = stream(1, 1_000);
    const timeline = new SpeakerTimeline({ maxConcealedFrames: 2 });
    const audio = play(timeline, packets.filter((_, index) => index < 10 || index >= 20)); // 10 lost
    expect(audio).toHaveLength(packets.length * FRAME_SAMPLES);
    expect(timeline.stats).toMatchObject({ lostPackets: 10, concealedSamples: 2 * FRAME_SAMPLES, silentSamples: 8 * FRAME_SAMPLES });
    expect(audio.subarray(12 * FRAME_SAMPLES, 20 * FRAME_SAMPLES).every((sample) => sample === 0)).toBe(true);
    timeline.close();
  });

  it('fills a timestamp jump of less than a frame (discontinuous transmission) with silence', () => {
    const [first, second] = stream(0, 40);
    const timeline = new SpeakerTimeline();
    const audio = play(timeline, [first!, { ...second!, timestamp: second!.timestamp + 100 }]);
    expect(audio).toHaveLength(2 * FRAME_SAMPLES + 100);
    expect(timeline.stats).toMatchObject({ lostPackets: 0, concealedSamples: 0, silentSamples: 100 });
    timeline.close();
  });

  it('drops duplicates and packets that arrive after their place was filled', () => {
    const packets = stream(0, 200);
    const timeline = new SpeakerTimeline();
    const order = [0, 1, 1, 3, 2, 4, 5, 6, 7, 8, 9].map((index) => packets[index]!);
    const audio = play(timeline, order);
    expect(audio).toHaveLength(10 * FRAME_SAMPLES);
    expect(timeline.stats).toMatchObject({ packets: 9, droppedPackets: 2, lostPackets: 1, concealedSamples: FRAME_SAMPLES });
    timeline.close();
  });

  it('follows sequence numbers and timestamps across their wrap', () => {
    const packets = stream(2, 200, 0xfffe, 0xffffffff - 2 * FRAME_SAMPLES);
    expect(packets[5]!.timestamp).toBeLessThan(packets[0]!.timestamp);
    const timeline = new SpeakerTimeline();
    expect(play(timeline, packets)).toHaveLength(10 * FRAME_SAMPLES);
    expect(timeline.stats).toMatchObject({ packets: 10, lostPackets: 0, droppedPackets: 0, silentSamples: 0 });
    timeline.close();
  });

  it('skips the part of a gap beyond maxGapSamples, and conceals an undecodable packet', () => {
    const [first, second, third] = stream(0, 60);
    const timeline = new SpeakerTimeline({ maxGapSamples: 4_800 });
    const audio = play(timeline, [first!, { ...second!, payload: Uint8Array.of(0x03, 0x00) }, { ...third!, timestamp: third!.timestamp + 48_000 }]);
    expect(timeline.stats).toMatchObject({ packets: 2, undecodablePackets: 1, skippedSamples: 48_000 - 4_800 });
    expect(audio).toHaveLength(3 * FRAME_SAMPLES + 4_800);
    timeline.close();
    timeline.close();
    expect(() => timeline.push(first!)).toThrow(TypeError);
  });
});

describe('SpeakerRecorder', () => {
  it('writes one WAV file per speaker, each as long as its stream and matching its clip', async () => {
    const output = join(directory, 'session');
    const recorder = new SpeakerRecorder(output);
    const alice = stream(0, 1_000);
    const bob = stream(1, 600, 7, 99);
    for (let index = 0; index < alice.length; index++) {
      if (index !== 30) recorder.push('alice', alice[index]!); // one packet lost
      if (index < bob.length) recorder.push('../bob', bob[index]!);
    }
    const summary = recorder.close();
    expect(recorder.close()).toEqual(summary);
    expect(() => recorder.push('alice', alice[0]!)).toThrow(TypeError);
    expect(readdirSync(output).sort()).toEqual(['__bob.wav', 'alice.wav']); // '../bob' stays inside the directory
    expect(summary.map((entry) => [entry.speaker, entry.seconds, entry.stats.lostPackets])).toEqual([
      ['alice', 1, 1],
      ['../bob', 0.6, 0],
    ]);
    for (const [entry, speaker] of [
      [summary[0]!, 0],
      [summary[1]!, 1],
    ] as const) {
      const wav = await readWavFile(entry.path);
      expect([wav.sampleRate, wav.channels, wav.samples.length]).toEqual([48_000, 1, entry.seconds * 48_000]);
      const clip = makeSpeakerClip(speaker, { durationMs: entry.seconds * 1_000 });
      expect(Math.abs(dominantFrequency(wav.samples, OPUS_SAMPLE_RATE) - clip.rootHz)).toBeLessThan(1);
      expect(bestAlignment(clip.samples, wav.samples).correlation).toBeGreaterThan(0.9);
    }
  });
});
