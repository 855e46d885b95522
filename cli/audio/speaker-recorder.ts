/**
 * Recording what a member hears: one WAV file per speaker, on the speaker's own RTP clock.
 *
 * It takes Opus packets with their RTP sequence number and timestamp (what a receiving
 * session hands over after decryption and its jitter buffer), not decoded audio, because
 * concealing a lost packet needs the decoder that decoded the packets before it. The RTP
 * timestamp says where each packet's audio belongs (RFC 3550 §5.1; 48 kHz for Opus, RFC 7587
 * §4.1): a gap in it — packets lost, or not sent while the speaker was silent (DTX, RFC 7587
 * §4.3) — is filled so that the file lasts as long as the speaker's stream did:
 *   - the first frames of a gap with Opus's packet loss concealment (the decoder continues the
 *     sound and fades it; past ~100 ms it would only be inventing);
 *   - the rest with silence, up to a limit (a speaker muted for an hour is not an hour of file).
 * Packets whose audio is already written (late after a gap was filled, or duplicates) are
 * dropped and counted.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { OPUS_SAMPLE_RATE, OpusCodecError, OpusDecoder } from './opus-codec.js';
import { WavFileWriter } from './wav-file.js';

/** One received RTP packet's Opus payload, with where it belongs. */
export interface ReceivedAudioPacket {
  /** RTP sequence number, 16 bits (RFC 3550 §5.1). */
  readonly sequence: number;
  /** RTP timestamp, 32 bits, 48 kHz clock (RFC 7587 §4.1). */
  readonly timestamp: number;
  /** The Opus packet (the RTP payload, RFC 7587 §4.2). */
  readonly payload: Uint8Array;
}

export interface SpeakerTimelineOptions {
  /** Lost frames concealed with Opus PLC before silence takes over; default 5 (100 ms). */
  readonly maxConcealedFrames?: number;
  /** Longest gap filled, in samples; beyond it the timeline skips ahead. Default 10 s. */
  readonly maxGapSamples?: number;
}

export interface SpeakerTimelineStats {
  /** Packets decoded into the timeline. */
  readonly packets: number;
  /** Packets missing by sequence number (RFC 3550 §A.3's expected − received, between packets seen). */
  readonly lostPackets: number;
  /** Packets dropped: their audio's place was already written (late or duplicate). */
  readonly droppedPackets: number;
  /** Packets libopus refused; their place is concealed. */
  readonly undecodablePackets: number;
  readonly concealedSamples: number;
  readonly silentSamples: number;
  /** Samples of gaps longer than maxGapSamples that were not written. */
  readonly skippedSamples: number;
  /** Samples in the timeline: decoded + concealed + silent. */
  readonly samples: number;
}

/** Signed difference a − b of two 32-bit RTP timestamps, across the wrap (RFC 3550 §5.1). */
function timestampDelta(a: number, b: number): number {
  return ((a - b) | 0);
}

/**
 * One speaker's packets turned into a continuous run of 48 kHz mono samples. Pure apart from
 * the codec: push() returns the samples to append, in order.
 */
export class SpeakerTimeline {
  readonly #decoder = new OpusDecoder();
  readonly #maxConcealedFrames: number;
  readonly #maxGapSamples: number;
  /** RTP timestamp of the next sample the timeline expects; undefined before the first packet. */
  #nextTimestamp: number | undefined;
  #lastSequence = 0;
  #packets = 0;
  #lostPackets = 0;
  #droppedPackets = 0;
  #undecodablePackets = 0;
  #concealedSamples = 0;
  #silentSamples = 0;
  #skippedSamples = 0;
  #samples = 0;

  constructor(options: SpeakerTimelineOptions = {}) {
    this.#maxConcealedFrames = options.maxConcealedFrames ?? 5;
    this.#maxGapSamples = options.maxGapSamples ?? 10 * OPUS_SAMPLE_RATE;
    if (!Number.isInteger(this.#maxConcealedFrames) || this.#maxConcealedFrames < 0) {
      this.#decoder.close();
      throw new RangeError('recorder: maxConcealedFrames must be a non-negative integer');
    }
    if (!Number.isInteger(this.#maxGapSamples) || this.#maxGapSamples < 0) {
      this.#decoder.close();
      throw new RangeError('recorder: maxGapSamples must be a non-negative integer');
    }
  }

  get closed(): boolean {
    return this.#decoder.closed;
  }

  get stats(): SpeakerTimelineStats {
    return {
      packets: this.#packets,
      lostPackets: this.#lostPackets,
      droppedPackets: this.#droppedPackets,
      undecodablePackets: this.#undecodablePackets,
      concealedSamples: this.#concealedSamples,
      silentSamples: this.#silentSamples,
      skippedSamples: this.#skippedSamples,
      samples: this.#samples,
    };
  }

  /** The samples this packet adds: gap filling first (if any), then its own audio. */
  push(packet: ReceivedAudioPacket): Int16Array[] {
    if (this.#decoder.closed) throw new TypeError('recorder: the timeline is closed');
    if (!Number.isInteger(packet.sequence) || packet.sequence < 0 || packet.sequence > 0xffff) throw new RangeError('recorder: sequence must be a 16-bit integer');
    if (!Number.isInteger(packet.timestamp) || packet.timestamp < 0 || packet.timestamp > 0xffffffff) throw new RangeError('recorder: timestamp must be a 32-bit integer');
    const out: Int16Array[] = [];
    if (this.#nextTimestamp !== undefined) {
      const gap = timestampDelta(packet.timestamp, this.#nextTimestamp);
      if (gap < 0) {
        this.#droppedPackets++;
        return out;
      }
      this.#lostPackets += ((packet.sequence - this.#lastSequence - 1) & 0xffff);
      if (gap > 0) this.#fillGap(gap, out);
    }
    this.#lastSequence = packet.sequence;
    let audio: Int16Array;
    try {
      audio = this.#decoder.decode(packet.payload);
      this.#packets++;
    } catch (error) {
      if (!(error instanceof OpusCodecError)) throw error;
      this.#undecodablePackets++;
      audio = this.#decoder.conceal();
      this.#concealedSamples += audio.length;
    }
    out.push(audio);
    this.#samples += audio.length;
    this.#nextTimestamp = (packet.timestamp + audio.length) >>> 0;
    return out;
  }

  #fillGap(gap: number, out: Int16Array[]): void {
    let remaining = Math.min(gap, this.#maxGapSamples);
    this.#skippedSamples += gap - remaining;
    for (let frame = 0; frame < this.#maxConcealedFrames && remaining > 0; frame++) {
      const concealed = this.#decoder.conceal();
      if (concealed.length > remaining) break; // a partial frame: silence fills it below
      out.push(concealed);
      remaining -= concealed.length;
      this.#concealedSamples += concealed.length;
      this.#samples += concealed.length;
    }
    if (remaining > 0) {
      out.push(new Int16Array(remaining));
      this.#silentSamples += remaining;
      this.#samples += remaining;
    }
  }

  /** Frees the decoder. Idempotent. */
  close(): void {
    this.#decoder.close();
  }
}

export interface RecordedSpeaker {
  readonly speaker: string;
  readonly path: string;
  readonly seconds: number;
  readonly stats: SpeakerTimelineStats;
}

/** A file name from a speaker's name: letters, digits, '.', '_' and '-', never hidden or empty. */
function fileStem(speaker: string): string {
  const stem = speaker.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[.]+/, '_').slice(0, 64);
  return stem === '' ? 'speaker' : stem;
}

/**
 * One WAV file per speaker in a directory (created if missing), each starting at that
 * speaker's first packet. Speakers are named by the caller (a user id, a display name):
 * names become file names with unsafe characters replaced and clashes numbered.
 */
export class SpeakerRecorder {
  readonly directory: string;
  readonly #options: SpeakerTimelineOptions;
  readonly #speakers = new Map<string, { timeline: SpeakerTimeline; writer: WavFileWriter }>();
  readonly #stems = new Set<string>();
  #closed = false;
  #finished: RecordedSpeaker[] = [];

  constructor(directory: string, options: SpeakerTimelineOptions = {}) {
    this.directory = directory;
    this.#options = options;
    mkdirSync(directory, { recursive: true });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Adds one speaker's packet to that speaker's file. */
  push(speaker: string, packet: ReceivedAudioPacket): void {
    if (this.#closed) throw new TypeError('recorder: the recorder is closed');
    let entry = this.#speakers.get(speaker);
    if (entry === undefined) {
      const timeline = new SpeakerTimeline(this.#options);
      let stem = fileStem(speaker);
      for (let n = 2; this.#stems.has(stem); n++) stem = `${fileStem(speaker)}-${n}`;
      this.#stems.add(stem);
      let writer: WavFileWriter;
      try {
        writer = new WavFileWriter(join(this.directory, `${stem}.wav`), OPUS_SAMPLE_RATE, 1);
      } catch (error) {
        timeline.close();
        throw error;
      }
      entry = { timeline, writer };
      this.#speakers.set(speaker, entry);
    }
    for (const chunk of entry.timeline.push(packet)) entry.writer.write(chunk);
  }

  /** What each speaker's file holds so far. */
  summary(): RecordedSpeaker[] {
    if (this.#closed) return this.#finished.map((entry) => ({ ...entry }));
    return [...this.#speakers].map(([speaker, { timeline, writer }]) => ({
      speaker,
      path: writer.path,
      seconds: timeline.stats.samples / OPUS_SAMPLE_RATE,
      stats: timeline.stats,
    }));
  }

  /** Finishes every file (their headers get their lengths) and frees the decoders. Idempotent. */
  close(): RecordedSpeaker[] {
    if (this.#closed) return this.summary();
    this.#finished = this.summary();
    this.#closed = true;
    let failure: unknown;
    for (const { timeline, writer } of this.#speakers.values()) {
      timeline.close();
      try {
        writer.close();
      } catch (error) {
        failure ??= error;
      }
    }
    this.#speakers.clear();
    if (failure !== undefined) throw failure;
    return this.summary();
  }
}
