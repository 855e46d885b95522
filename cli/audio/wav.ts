/**
 * WAV (RIFF WAVE) files of integer PCM: parse them into 16-bit samples, and write 16-bit ones.
 *
 * Written here rather than taken from npm: the format is a 12-byte RIFF header and a list of
 * chunks, of which two matter ('fmt ' and 'data'), while the packages that read it either
 * return floats, lag years behind releases, or accept truncated files without a word. What
 * Parley needs is small and strict: a clear error for a file it cannot use, 16-bit output, and
 * a byte-exact round trip for the files it writes.
 *
 * Layout (Microsoft's RIFF/WAVE specification, "Multimedia Programming Interface and Data
 * Specifications 1.0", 1991, and WAVE_FORMAT_EXTENSIBLE from "Multiple Channel Audio Data and
 * WAVE Files", 2007): all integers little-endian; every chunk is a 4-byte id, a 4-byte size and
 * the data, padded to an even length.
 */
import type { PcmAudio } from './pcm.js';

export type WavFormatErrorReason =
  /** Not a RIFF file with form type WAVE. */
  | 'not-wav'
  /** A chunk or the audio runs past the end of the file. */
  | 'truncated'
  /** Chunks missing or inconsistent ('fmt ' after 'data', a block size that does not add up). */
  | 'malformed'
  /** A real WAV file, but not integer PCM of 8, 16 or 24 bits in one or two channels. */
  | 'unsupported-format';

export class WavFormatError extends Error {
  override readonly name = 'WavFormatError';
  readonly reason: WavFormatErrorReason;

  constructor(reason: WavFormatErrorReason, message: string) {
    super(`wav: ${message}`);
    this.reason = reason;
  }
}

/** What parseWav found: the samples as 16-bit, and the depth the file stored them at. */
export interface WavAudio extends PcmAudio {
  readonly bitsPerSample: 8 | 16 | 24;
}

const WAVE_FORMAT_PCM = 0x0001;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
/** KSDATAFORMAT_SUBTYPE_PCM's last 14 bytes (the first two are the format tag, 0x0001). */
const PCM_SUBFORMAT_TAIL = Uint8Array.of(0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71);
/** The header encodeWav writes: RIFF (12 bytes), a 16-byte 'fmt ' chunk (24), the 'data' chunk header (8). */
export const WAV_HEADER_BYTES = 44;

function fourcc(bytes: Uint8Array, offset: number): string {
  return String.fromCharCode(bytes[offset]!, bytes[offset + 1]!, bytes[offset + 2]!, bytes[offset + 3]!);
}

function printable(id: string): string {
  return /^[\x20-\x7e]{4}$/.test(id) ? `'${id}'` : 'an unreadable chunk id';
}

interface WavFormat {
  readonly channels: number;
  readonly sampleRate: number;
  readonly blockAlign: number;
  readonly bitsPerSample: 8 | 16 | 24;
}

function parseFormatChunk(view: DataView, bytes: Uint8Array, offset: number, size: number): WavFormat {
  if (size < 16) throw new WavFormatError('malformed', `the 'fmt ' chunk is ${size} bytes, less than the 16 it needs`);
  let formatTag = view.getUint16(offset, true);
  const channels = view.getUint16(offset + 2, true);
  const sampleRate = view.getUint32(offset + 4, true);
  const blockAlign = view.getUint16(offset + 12, true);
  const bitsPerSample = view.getUint16(offset + 14, true);
  if (formatTag === WAVE_FORMAT_EXTENSIBLE) {
    // cbSize (2) = 22, validBitsPerSample (2), channelMask (4), SubFormat GUID (16).
    if (size < 40 || view.getUint16(offset + 16, true) < 22) {
      throw new WavFormatError('malformed', "a WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk without its extension");
    }
    const subformat = bytes.subarray(offset + 24, offset + 40);
    const tailMatches = PCM_SUBFORMAT_TAIL.every((byte, i) => subformat[i + 2] === byte);
    formatTag = tailMatches ? view.getUint16(offset + 24, true) : -1;
  }
  if (formatTag !== WAVE_FORMAT_PCM) {
    const what = formatTag === 3 ? 'floating-point samples' : formatTag === -1 ? 'an unknown sub-format' : `format tag ${formatTag}`;
    throw new WavFormatError('unsupported-format', `the file holds ${what}; only integer PCM is read (8, 16 or 24 bits)`);
  }
  if (bitsPerSample !== 8 && bitsPerSample !== 16 && bitsPerSample !== 24) {
    throw new WavFormatError('unsupported-format', `${bitsPerSample}-bit samples; only 8, 16 and 24 bits are read`);
  }
  if (channels !== 1 && channels !== 2) {
    throw new WavFormatError('unsupported-format', `${channels} channels; only mono and stereo are read`);
  }
  if (sampleRate === 0) throw new WavFormatError('malformed', 'a sample rate of 0 Hz');
  if (blockAlign !== (channels * bitsPerSample) / 8) {
    throw new WavFormatError('malformed', `block align ${blockAlign} does not match ${channels} channel(s) of ${bitsPerSample} bits`);
  }
  return { channels, sampleRate, blockAlign, bitsPerSample };
}

function decodeSamples(bytes: Uint8Array, offset: number, size: number, format: WavFormat): Int16Array {
  const count = size / (format.bitsPerSample / 8);
  const samples = new Int16Array(count);
  switch (format.bitsPerSample) {
    case 8: // unsigned, 128 is silence
      for (let i = 0; i < count; i++) samples[i] = (bytes[offset + i]! - 128) << 8;
      break;
    case 16:
      for (let i = 0; i < count; i++) samples[i] = bytes[offset + 2 * i]! | (bytes[offset + 2 * i + 1]! << 8);
      break;
    case 24: // the two most significant bytes; the low one is below 16-bit resolution
      for (let i = 0; i < count; i++) samples[i] = bytes[offset + 3 * i + 1]! | (bytes[offset + 3 * i + 2]! << 8);
      break;
  }
  return samples;
}

/**
 * Reads a WAV file's bytes. Chunks other than 'fmt ' and 'data' (LIST, fact, cue …) are
 * skipped. Throws WavFormatError, whose message says what is wrong, for anything else.
 */
export function parseWav(bytes: Uint8Array): WavAudio {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 12 || fourcc(bytes, 0) !== 'RIFF' || fourcc(bytes, 8) !== 'WAVE') {
    throw new WavFormatError('not-wav', 'not a WAV file (no RIFF header with form type WAVE)');
  }
  // The RIFF size counts from byte 8; a smaller file was cut short. Bytes after it are ignored.
  const riffEnd = 8 + view.getUint32(4, true);
  if (riffEnd > bytes.length) throw new WavFormatError('truncated', `the file is ${bytes.length} bytes, its header says ${riffEnd}`);
  let format: WavFormat | undefined;
  let offset = 12;
  while (offset + 8 <= riffEnd) {
    const id = fourcc(bytes, offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (body + size > riffEnd) throw new WavFormatError('truncated', `the ${printable(id)} chunk runs past the end of the file`);
    if (id === 'fmt ') {
      format = parseFormatChunk(view, bytes, body, size);
    } else if (id === 'data') {
      if (format === undefined) throw new WavFormatError('malformed', "the 'data' chunk comes before the 'fmt ' chunk");
      if (size % format.blockAlign !== 0) {
        throw new WavFormatError('malformed', `the audio is ${size} bytes, not a whole number of ${format.blockAlign}-byte sample frames`);
      }
      return {
        sampleRate: format.sampleRate,
        channels: format.channels,
        bitsPerSample: format.bitsPerSample,
        samples: decodeSamples(bytes, body, size, format),
      };
    }
    offset = body + size + (size & 1); // RIFF pads odd-sized chunks with one byte
  }
  throw new WavFormatError('malformed', format === undefined ? "no 'fmt ' chunk" : "no 'data' chunk");
}

/** The canonical 44-byte header of a 16-bit PCM file whose audio is `dataBytes` long. */
export function wavHeader(sampleRate: number, channels: number, dataBytes: number): Uint8Array {
  if (!Number.isInteger(sampleRate) || sampleRate < 1 || sampleRate > 0xffffffff) throw new RangeError('wav: sampleRate must be a positive integer');
  if (!Number.isInteger(channels) || channels < 1 || channels > 0xffff) throw new RangeError('wav: channels must be a positive integer');
  if (!Number.isInteger(dataBytes) || dataBytes < 0 || dataBytes > 0xffffffff - (WAV_HEADER_BYTES - 8)) {
    throw new RangeError('wav: the audio does not fit in a RIFF file (4 GiB)');
  }
  const header = new Uint8Array(WAV_HEADER_BYTES);
  const view = new DataView(header.buffer);
  const ascii = (offset: number, text: string): void => {
    for (let i = 0; i < 4; i++) header[offset + i] = text.charCodeAt(i);
  };
  const blockAlign = channels * 2;
  ascii(0, 'RIFF');
  view.setUint32(4, WAV_HEADER_BYTES - 8 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, WAVE_FORMAT_PCM, true);
  view.setUint16(22, channels, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * blockAlign, true); // bytes per second
  view.setUint16(32, blockAlign, true);
  view.setUint16(34, 16, true);
  ascii(36, 'data');
  view.setUint32(40, dataBytes, true);
  return header;
}

/** Little-endian bytes of 16-bit samples, as a WAV 'data' chunk holds them. */
export function samplesToBytes(samples: Int16Array): Uint8Array {
  const bytes = new Uint8Array(samples.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < samples.length; i++) view.setInt16(2 * i, samples[i]!, true);
  return bytes;
}

/** A whole 16-bit PCM WAV file: the canonical header, then the samples. */
export function encodeWav(audio: PcmAudio): Uint8Array {
  if (audio.samples.length % audio.channels !== 0) throw new RangeError('wav: the samples are not a whole number of frames');
  const header = wavHeader(audio.sampleRate, audio.channels, audio.samples.length * 2);
  const file = new Uint8Array(header.length + audio.samples.length * 2);
  file.set(header);
  file.set(samplesToBytes(audio.samples), header.length);
  return file;
}
