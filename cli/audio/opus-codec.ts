/**
 * Opus (RFC 6716) for Parley's voice: 48 kHz mono, 20 ms frames, one encoder per speaker and
 * one decoder per heard speaker.
 *
 * The codec is libopus 1.4 compiled to WebAssembly, as the `opusscript` package ships it: no
 * native build, no download at install time. We call that package's compiled module directly
 * rather than through its `index.js` wrapper, for two reasons found reading its 0.1.1 source:
 *   - the wrapper takes the byte address `malloc` returns and uses it as an index into a
 *     16-bit view of the heap, so its PCM buffers sit at twice the address it allocated: the
 *     codec reads and writes memory it never allocated, which, with a few encoders and
 *     decoders in one process, other codecs' allocations own (instance 1's output buffer
 *     lands inside instance 4's);
 *   - its `decode` of an empty buffer (packet loss concealment) asks libopus for 120 ms, of
 *     which it returns 60 ms, moving the decoder's clock by 120 ms for one lost 20 ms frame.
 * The compiled module's functions are sound; here every buffer is allocated at the size they
 * use and addressed in bytes, and loss is concealed one frame's duration at a time.
 *
 * Lives in cli/ rather than shared/: the codec is one WebAssembly instance per process (a
 * global), and audio coding is an application's choice, not part of Parley's protocol, which
 * carries opaque payloads.
 */
import { createRequire } from 'node:module';

/** Opus's native clock, and the only rate Parley sends (RFC 7587 §4.1: RTP clock 48 kHz). */
export const OPUS_SAMPLE_RATE = 48_000;
export const OPUS_CHANNELS = 1;
export const FRAME_DURATION_MS = 20;
/** Samples in one 20 ms frame at 48 kHz: also the RTP timestamp step per packet. */
export const FRAME_SAMPLES = (OPUS_SAMPLE_RATE * FRAME_DURATION_MS) / 1000;
/** Wideband speech is transparent well below this; it costs 80 bytes per 20 ms packet. */
export const DEFAULT_VOICE_BITRATE = 32_000;
/** RFC 6716 §3.4 [R2]: a packet never exceeds 1275 bytes per frame, 3 × that for 60 ms. */
export const MAX_OPUS_PACKET_BYTES = 1276 * 3;
/** RFC 6716 §3.4 [R5]: at most 120 ms of audio per packet. */
const MAX_PACKET_SAMPLES = (OPUS_SAMPLE_RATE * 120) / 1000;

// libopus constants (opus_defines.h).
const OPUS_APPLICATION_VOIP = 2048;
const OPUS_SET_BITRATE_REQUEST = 4002;
const OPUS_ERROR_TEXT: Readonly<Record<number, string>> = {
  [-1]: 'bad argument',
  [-2]: 'buffer too small',
  [-3]: 'internal error',
  [-4]: 'invalid packet',
  [-5]: 'unimplemented',
  [-6]: 'invalid state',
  [-7]: 'memory allocation failed',
};

export type OpusCodecErrorReason =
  /** A packet libopus refuses (RFC 6716 §3.4's rules), or an empty or oversized one. */
  | 'invalid-packet'
  /** libopus reported a failure that input cannot explain. */
  | 'codec-failure';

export class OpusCodecError extends Error {
  override readonly name = 'OpusCodecError';
  readonly reason: OpusCodecErrorReason;
  /** libopus's error code, when it gave one. */
  readonly code: number | undefined;

  constructor(reason: OpusCodecErrorReason, message: string, code?: number) {
    super(`opus: ${message}`);
    this.reason = reason;
    this.code = code;
  }
}

/** The parts of opusscript's compiled module (build/opusscript_native_wasm.js) used here. */
interface OpusScriptHandler {
  /** Reads `bytes` 16-bit slots, each holding one byte of little-endian PCM; returns the packet length. */
  _encode(inputAddress: number, bytes: number, outputAddress: number, frameSize: number): number;
  /** Writes each decoded sample as two 16-bit slots (low byte, high byte); returns samples per channel. */
  _decode(inputAddress: number, bytes: number, outputAddress: number): number;
  _encoder_ctl(request: number, value: number): number;
}

interface OpusNativeModule {
  readonly HEAPU8: Uint8Array;
  readonly HEAPU16: Uint16Array;
  _malloc(bytes: number): number;
  _free(address: number): void;
  OpusScriptHandler: {
    new (sampleRate: number, channels: number, application: number): OpusScriptHandler;
    destroy_handler(handler: OpusScriptHandler): void;
  };
}

let nativeModule: OpusNativeModule | undefined;

function loadNativeModule(): OpusNativeModule {
  if (nativeModule === undefined) {
    // Built with WASM_ASYNC_COMPILATION=0, so the factory returns a ready module.
    const require = createRequire(import.meta.url);
    const factory = require('opusscript/build/opusscript_native_wasm.js') as () => OpusNativeModule;
    nativeModule = factory();
  }
  return nativeModule;
}

function describeOpusError(code: number): string {
  return OPUS_ERROR_TEXT[code] ?? `error ${code}`;
}

/** One libopus encoder+decoder pair (the compiled module makes both) and its buffers. */
class OpusHandle {
  readonly native: OpusNativeModule;
  readonly handler: OpusScriptHandler;
  /** PCM in: the module spreads each byte over a 16-bit slot and reads twice as far again. */
  readonly pcmIn: number;
  readonly packetIn: number;
  readonly packetOut: number;
  /** PCM out: each sample as two 16-bit slots, for up to 120 ms. */
  readonly pcmOut: number;
  #closed = false;

  constructor(what: string) {
    this.native = loadNativeModule();
    try {
      this.handler = new this.native.OpusScriptHandler(OPUS_SAMPLE_RATE, OPUS_CHANNELS, OPUS_APPLICATION_VOIP);
    } catch (error) {
      const code = typeof error === 'number' ? error : undefined;
      throw new OpusCodecError('codec-failure', `cannot create the ${what}: ${code === undefined ? 'unknown error' : describeOpusError(code)}`, code);
    }
    this.pcmIn = this.native._malloc(4 * 2 * MAX_PACKET_SAMPLES * OPUS_CHANNELS);
    this.packetIn = this.native._malloc(MAX_OPUS_PACKET_BYTES);
    this.packetOut = this.native._malloc(MAX_OPUS_PACKET_BYTES);
    this.pcmOut = this.native._malloc(4 * MAX_PACKET_SAMPLES * OPUS_CHANNELS);
  }

  get closed(): boolean {
    return this.#closed;
  }

  assertOpen(what: string): void {
    if (this.#closed) throw new TypeError(`opus: the ${what} is closed`);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.native.OpusScriptHandler.destroy_handler(this.handler);
    for (const address of [this.pcmIn, this.packetIn, this.packetOut, this.pcmOut]) this.native._free(address);
  }
}

export interface OpusEncoderOptions {
  /** Bits per second, 6,000 to 510,000 (RFC 6716 §2.1.1); default 32,000. */
  readonly bitrate?: number;
}

/** Encodes 20 ms frames of 48 kHz mono 16-bit PCM into Opus packets. */
export class OpusEncoder {
  readonly bitrate: number;
  readonly #handle: OpusHandle;

  constructor(options: OpusEncoderOptions = {}) {
    const bitrate = options.bitrate ?? DEFAULT_VOICE_BITRATE;
    if (!Number.isInteger(bitrate) || bitrate < 6_000 || bitrate > 510_000) {
      throw new RangeError('opus: bitrate must be an integer from 6000 to 510000');
    }
    this.bitrate = bitrate;
    this.#handle = new OpusHandle('encoder');
    const result = this.#handle.handler._encoder_ctl(OPUS_SET_BITRATE_REQUEST, bitrate);
    if (result < 0) {
      this.#handle.close();
      throw new OpusCodecError('codec-failure', `cannot set the bitrate: ${describeOpusError(result)}`, result);
    }
  }

  get closed(): boolean {
    return this.#handle.closed;
  }

  /** One frame of exactly FRAME_SAMPLES samples in, one Opus packet out (a fresh array). */
  encode(frame: Int16Array): Uint8Array {
    this.#handle.assertOpen('encoder');
    if (frame.length !== FRAME_SAMPLES) {
      throw new RangeError(`opus: a frame is ${FRAME_SAMPLES} samples (20 ms at 48 kHz), not ${frame.length}`);
    }
    const { native, handler, pcmIn, packetOut } = this.#handle;
    const slots = native.HEAPU16; // read after any growth of the module's memory
    const base = pcmIn >>> 1;
    for (let i = 0; i < frame.length; i++) {
      const sample = frame[i]!;
      slots[base + 2 * i] = sample & 0xff;
      slots[base + 2 * i + 1] = (sample >> 8) & 0xff;
    }
    const length = handler._encode(pcmIn, 2 * frame.length, packetOut, frame.length);
    if (length < 0) throw new OpusCodecError('codec-failure', `encoding failed: ${describeOpusError(length)}`, length);
    return native.HEAPU8.slice(packetOut, packetOut + length);
  }

  /** Frees the codec's memory. Idempotent; encode() after it throws a TypeError. */
  close(): void {
    this.#handle.close();
  }
}

/**
 * Decodes one speaker's Opus packets into 48 kHz mono 16-bit PCM, and conceals lost packets.
 * One decoder per stream: its state follows the packets it has seen.
 */
export class OpusDecoder {
  readonly #handle: OpusHandle;
  /** TOC byte (RFC 6716 §3.1) of the last packet decoded, or undefined before the first. */
  #lastToc: number | undefined;

  constructor() {
    this.#handle = new OpusHandle('decoder');
  }

  get closed(): boolean {
    return this.#handle.closed;
  }

  /** Decodes one packet (what one RTP payload carries, RFC 7587 §4.2). Throws OpusCodecError on a bad packet. */
  decode(packet: Uint8Array): Int16Array {
    this.#handle.assertOpen('decoder');
    if (packet.length === 0) throw new OpusCodecError('invalid-packet', 'an empty packet is not Opus (RFC 6716 §3.4 [R1]); use conceal() for a lost one');
    if (packet.length > MAX_OPUS_PACKET_BYTES) {
      throw new OpusCodecError('invalid-packet', `a packet of ${packet.length} bytes is longer than Opus allows`);
    }
    this.#handle.native.HEAPU8.set(packet, this.#handle.packetIn);
    const pcm = this.#run(packet.length);
    this.#lastToc = packet[0]!;
    return pcm;
  }

  /**
   * Packet loss concealment for one lost packet: audio that continues what was heard, for the
   * duration of the last packet's frame (20 ms for Parley's streams). Before any packet, there
   * is nothing to continue: silence of FRAME_SAMPLES.
   */
  conceal(): Int16Array {
    this.#handle.assertOpen('decoder');
    if (this.#lastToc === undefined) return new Int16Array(FRAME_SAMPLES);
    // RFC 6716 §3.2.1: a code 0 packet that is its TOC byte alone carries one frame of 0
    // bytes, "no audio data" for that frame; libopus conceals exactly the frame duration its
    // TOC names (same mode, bandwidth and frame size as the last packet).
    this.#handle.native.HEAPU8[this.#handle.packetIn] = this.#lastToc & 0xfc;
    return this.#run(1);
  }

  #run(packetBytes: number): Int16Array {
    const { native, handler, packetIn, pcmOut } = this.#handle;
    const samples = handler._decode(packetIn, packetBytes, pcmOut);
    if (samples < 0) {
      throw new OpusCodecError(samples === -4 ? 'invalid-packet' : 'codec-failure', `decoding failed: ${describeOpusError(samples)}`, samples);
    }
    const slots = native.HEAPU16;
    const base = pcmOut >>> 1;
    const pcm = new Int16Array(samples * OPUS_CHANNELS);
    for (let i = 0; i < pcm.length; i++) pcm[i] = (slots[base + 2 * i + 1]! << 8) | slots[base + 2 * i]!;
    return pcm;
  }

  /** Frees the codec's memory. Idempotent; decode() after it throws a TypeError. */
  close(): void {
    this.#handle.close();
  }
}
