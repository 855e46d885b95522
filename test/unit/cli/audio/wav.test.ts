import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { makeSpeakerClip } from '../../../../cli/audio/clip.js';
import { downmixToMono, PcmFormatError, toVoicePcm } from '../../../../cli/audio/pcm.js';
import { readWavFile, WavFileWriter, writeWavFile } from '../../../../cli/audio/wav-file.js';
import { encodeWav, parseWav, WavFormatError, type WavFormatErrorReason } from '../../../../cli/audio/wav.js';

const directory = mkdtempSync(join(tmpdir(), 'parley-wav-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** Byte equality of large arrays (vitest's deep equality walks them element by element). */
function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function hex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}

/** A WAV file from its parts: a 'fmt ' chunk body, the audio bytes, and chunks before 'data'. */
function wavFile(fmt: Uint8Array, data: Uint8Array, extraChunks: Uint8Array = new Uint8Array(0)): Uint8Array {
  const chunk = (id: string, body: Uint8Array): Buffer => {
    const header = Buffer.alloc(8);
    header.write(id, 0, 'latin1');
    header.writeUInt32LE(body.length, 4);
    return Buffer.concat([header, body, body.length % 2 === 1 ? Buffer.alloc(1) : Buffer.alloc(0)]);
  };
  const body = Buffer.concat([Buffer.from('WAVE'), chunk('fmt ', fmt), Buffer.from(extraChunks), chunk('data', data)]);
  const riff = Buffer.alloc(8);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(body.length, 4);
  return new Uint8Array(Buffer.concat([riff, body]));
}

function pcmFormat(channels: number, sampleRate: number, bits: number, formatTag = 1): Uint8Array {
  const fmt = Buffer.alloc(16);
  fmt.writeUInt16LE(formatTag, 0);
  fmt.writeUInt16LE(channels, 2);
  fmt.writeUInt32LE(sampleRate, 4);
  fmt.writeUInt32LE((sampleRate * channels * bits) / 8, 8);
  fmt.writeUInt16LE((channels * bits) / 8, 12);
  fmt.writeUInt16LE(bits, 14);
  return new Uint8Array(fmt);
}

function reasonOf(bytes: Uint8Array): WavFormatErrorReason | 'parsed' {
  try {
    parseWav(bytes);
    return 'parsed';
  } catch (error) {
    if (error instanceof WavFormatError) return error.reason;
    throw error;
  }
}

describe('WAV files', () => {
  it('writes the canonical 44-byte header of 16-bit PCM (known answer)', () => {
    const file = encodeWav({ sampleRate: 48_000, channels: 1, samples: Int16Array.of(0, 1, -1, 32767, -32768) });
    expect(Buffer.from(file).toString('hex')).toBe(
      '52494646' + '2e000000' + '57415645' + // 'RIFF', 36 + 10 bytes, 'WAVE'
        '666d7420' + '10000000' + '0100' + '0100' + '80bb0000' + '00770100' + '0200' + '1000' + // 'fmt ': PCM, mono, 48000 Hz, 96000 B/s, align 2, 16 bits
        '64617461' + '0a000000' + '0000' + '0100' + 'ffff' + 'ff7f' + '0080', // 'data', 10 bytes
    );
  });

  it('round-trips byte for byte: parse(encode(audio)) is the audio, encode(parse(file)) is the file', () => {
    const clip = makeSpeakerClip(1, { durationMs: 500 });
    for (const audio of [
      { sampleRate: clip.sampleRate, channels: 1, samples: clip.samples },
      { sampleRate: 44_100, channels: 2, samples: Int16Array.from({ length: 2_000 }, (_, i) => ((i * 7919) % 65536) - 32768) },
      { sampleRate: 8_000, channels: 1, samples: new Int16Array(0) },
    ]) {
      const file = encodeWav(audio);
      const parsed = parseWav(file);
      expect({ ...parsed, samples: undefined }).toEqual({ sampleRate: audio.sampleRate, channels: audio.channels, bitsPerSample: 16, samples: undefined });
      expect(sameBytes(parsed.samples, audio.samples)).toBe(true);
      expect(sameBytes(encodeWav(parsed), file)).toBe(true);
    }
  });

  it('writes and reads files on disk, the same bytes as in memory', async () => {
    const audio = { sampleRate: 48_000, channels: 1, samples: makeSpeakerClip(0, { durationMs: 200 }).samples };
    const path = join(directory, 'clip.wav');
    await writeWavFile(path, audio);
    expect(sameBytes(readFileSync(path), encodeWav(audio))).toBe(true);
    const read = await readWavFile(path);
    expect([read.sampleRate, read.channels, read.bitsPerSample]).toEqual([48_000, 1, 16]);
    expect(sameBytes(read.samples, audio.samples)).toBe(true);
  });

  it('streams a recording to disk and fixes the header on close', () => {
    const path = join(directory, 'stream.wav');
    const writer = new WavFileWriter(path, 48_000);
    const chunks = Array.from({ length: 130 }, (_, k) => Int16Array.from({ length: 960 }, (_, i) => (k * 960 + i) % 30_000));
    for (const chunk of chunks) writer.write(chunk);
    expect(writer.samplesWritten).toBe(130 * 960);
    writer.close();
    writer.close();
    expect(() => writer.write(new Int16Array(1))).toThrow(TypeError);
    const samples = new Int16Array(130 * 960);
    chunks.forEach((chunk, k) => samples.set(chunk, k * 960));
    expect(sameBytes(readFileSync(path), encodeWav({ sampleRate: 48_000, channels: 1, samples }))).toBe(true);
  });

  it('reads 8-bit and 24-bit PCM as 16-bit, stereo, and WAVE_FORMAT_EXTENSIBLE (known answers)', () => {
    // 8-bit is unsigned around 128; 24-bit keeps its two most significant bytes.
    expect(parseWav(wavFile(pcmFormat(1, 8_000, 8), hex('80 ff 00 81'))).samples).toEqual(Int16Array.of(0, 127 << 8, -128 << 8, 1 << 8));
    expect(parseWav(wavFile(pcmFormat(1, 48_000, 24), hex('ff 34 12  00 00 80'))).samples).toEqual(Int16Array.of(0x1234, -32768));
    const stereo = parseWav(wavFile(pcmFormat(2, 48_000, 16), hex('e803 1027  0080 0080')));
    expect(stereo).toMatchObject({ channels: 2, sampleRate: 48_000, samples: Int16Array.of(1000, 10000, -32768, -32768) });
    expect(downmixToMono(stereo).samples).toEqual(Int16Array.of(5500, -32768));
    // Extensible: the 16-byte body, cbSize 22, 16 valid bits, front centre, KSDATAFORMAT_SUBTYPE_PCM.
    const extensible = Buffer.concat([
      Buffer.from(pcmFormat(1, 48_000, 16, 0xfffe)),
      Buffer.from(hex('1600 1000 04000000 01000000 0000 1000 800000aa00389b71')),
    ]);
    expect(parseWav(wavFile(new Uint8Array(extensible), hex('0100 ffff'))).samples).toEqual(Int16Array.of(1, -1));
  });

  it('skips chunks it does not use, with RIFF padding after odd-sized ones', () => {
    const list = Buffer.concat([Buffer.from('LIST'), Buffer.from(hex('03000000')), Buffer.from('abc'), Buffer.alloc(1)]);
    expect(parseWav(wavFile(pcmFormat(1, 48_000, 16), hex('0200'), new Uint8Array(list))).samples).toEqual(Int16Array.of(2));
  });

  it('gives a clear error for what it cannot use', () => {
    const good = wavFile(pcmFormat(1, 48_000, 16), hex('0100 0200'));
    expect(reasonOf(new TextEncoder().encode('ID3 not a wave file at all'))).toBe('not-wav');
    expect(reasonOf(good.subarray(0, good.length - 1))).toBe('truncated');
    expect(reasonOf(wavFile(pcmFormat(1, 48_000, 32, 3), new Uint8Array(8)))).toBe('unsupported-format'); // float
    expect(reasonOf(wavFile(pcmFormat(1, 48_000, 32), new Uint8Array(8)))).toBe('unsupported-format'); // 32-bit int
    expect(reasonOf(wavFile(pcmFormat(6, 48_000, 16), new Uint8Array(12)))).toBe('unsupported-format'); // 5.1
    expect(reasonOf(wavFile(pcmFormat(1, 48_000, 16), hex('010002')))).toBe('malformed'); // half a sample
    const dataFirst = new Uint8Array(good);
    dataFirst.set(new TextEncoder().encode('junk'), 12); // the 'fmt ' chunk is now unknown
    expect(reasonOf(dataFirst)).toBe('malformed');
    expect(() => parseWav(wavFile(pcmFormat(1, 48_000, 32, 3), new Uint8Array(8)))).toThrow(/wav: the file holds floating-point samples; only integer PCM is read/);
  });

  it('every truncation and every bit flip of a file either parses or throws WavFormatError', () => {
    const file = encodeWav({ sampleRate: 48_000, channels: 2, samples: Int16Array.of(1, 2, 3, 4) });
    for (let length = 0; length < file.length; length++) expect(reasonOf(file.subarray(0, length))).not.toBe('parsed');
    for (let bit = 0; bit < file.length * 8; bit++) {
      const flipped = new Uint8Array(file);
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      reasonOf(flipped); // throws if anything but WavFormatError escapes
    }
  });

  it('names the file in errors, refuses a file over the size limit, and refuses rates other than 48 kHz', async () => {
    const bad = join(directory, 'bad.wav');
    writeFileSync(bad, 'RIFF....WAVEnothing');
    await expect(readWavFile(bad)).rejects.toThrow(new RegExp(`^wav: ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    const big = join(directory, 'big.wav');
    await writeWavFile(big, { sampleRate: 48_000, channels: 1, samples: new Int16Array(1_000) });
    await expect(readWavFile(big, 100)).rejects.toThrow(WavFormatError);
    const cd = parseWav(encodeWav({ sampleRate: 44_100, channels: 2, samples: new Int16Array(4) }));
    expect(() => toVoicePcm(cd, 'song.wav')).toThrow(PcmFormatError);
    expect(() => toVoicePcm(cd, 'song.wav')).toThrow(/song.wav is 44100 Hz; Parley sends 48000 Hz: convert it first/);
    expect(toVoicePcm(parseWav(encodeWav({ sampleRate: 48_000, channels: 2, samples: Int16Array.of(2, 4) })))).toEqual(Int16Array.of(3));
  });
});
