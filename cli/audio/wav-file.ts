/**
 * WAV files on disk: read one whole, write one whole, or write one as audio arrives
 * (WavFileWriter, for recordings of unknown length).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';

import type { PcmAudio } from './pcm.js';
import { encodeWav, parseWav, samplesToBytes, WAV_HEADER_BYTES, wavHeader, WavFormatError, type WavAudio } from './wav.js';

/** 64 MiB: about 11 minutes of 48 kHz stereo 16-bit, far more than a clip to send. */
export const DEFAULT_MAX_WAV_BYTES = 64 * 1024 * 1024;

/**
 * Reads and parses a WAV file. A file larger than `maxBytes` is refused before it is read;
 * a bad one throws WavFormatError with the path in its message.
 */
export async function readWavFile(path: string, maxBytes = DEFAULT_MAX_WAV_BYTES): Promise<WavAudio> {
  const { size } = await stat(path);
  if (size > maxBytes) throw new WavFormatError('unsupported-format', `${path} is ${size} bytes, more than the ${maxBytes} read at most`);
  const bytes = await readFile(path);
  try {
    return parseWav(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    if (error instanceof WavFormatError) throw new WavFormatError(error.reason, `${path}: ${error.message.replace(/^wav: /, '')}`);
    throw error;
  }
}

export async function writeWavFile(path: string, audio: PcmAudio): Promise<void> {
  await writeFile(path, encodeWav(audio));
}

/** Samples held before a write: 1 s of 48 kHz mono, so a recording costs one write a second. */
const FLUSH_SAMPLES = 48_000;

/**
 * A 16-bit PCM WAV file written as samples arrive. The header is written first with a length
 * of 0 and rewritten by close(), so a file whose writer never closed still opens (as empty)
 * in most players. Writes are synchronous and batched: a few of ~100 KB a second per file.
 */
export class WavFileWriter {
  readonly path: string;
  readonly sampleRate: number;
  readonly channels: number;
  #fd: number | undefined;
  #pending: Int16Array[] = [];
  #pendingSamples = 0;
  #writtenBytes = 0;

  constructor(path: string, sampleRate: number, channels = 1) {
    const header = wavHeader(sampleRate, channels, 0); // validates before the file exists
    this.path = path;
    this.sampleRate = sampleRate;
    this.channels = channels;
    this.#fd = openSync(path, 'w', 0o644);
    writeSync(this.#fd, header, 0, header.length, 0);
  }

  get closed(): boolean {
    return this.#fd === undefined;
  }

  /** Samples written so far (per channel), including those not yet flushed. */
  get samplesWritten(): number {
    return (this.#writtenBytes / 2 + this.#pendingSamples) / this.channels;
  }

  write(samples: Int16Array): void {
    if (this.#fd === undefined) throw new TypeError('wav: the writer is closed');
    this.#pending.push(samples.slice());
    this.#pendingSamples += samples.length;
    if (this.#pendingSamples >= FLUSH_SAMPLES * this.channels) this.#flush();
  }

  #flush(): void {
    if (this.#fd === undefined || this.#pendingSamples === 0) return;
    const bytes = new Uint8Array(this.#pendingSamples * 2);
    let offset = 0;
    for (const chunk of this.#pending) {
      bytes.set(samplesToBytes(chunk), offset);
      offset += chunk.length * 2;
    }
    writeSync(this.#fd, bytes, 0, bytes.length, WAV_HEADER_BYTES + this.#writtenBytes);
    this.#writtenBytes += bytes.length;
    this.#pending = [];
    this.#pendingSamples = 0;
  }

  /** Writes what is pending and the final header, and closes the file. Idempotent. */
  close(): void {
    if (this.#fd === undefined) return;
    const fd = this.#fd;
    try {
      this.#flush();
      const header = wavHeader(this.sampleRate, this.channels, this.#writtenBytes);
      writeSync(fd, header, 0, header.length, 0);
    } finally {
      this.#fd = undefined;
      closeSync(fd);
    }
  }
}
