import type { AesGcmEngine } from './crypto-backend.js';

/**
 * A profile's packet transform: the cryptographic part of SRTP for one set of session keys,
 * with no state. The context (context.ts) decides the index and owns replay and ROC state;
 * the transform only seals and opens.
 */
export interface SrtpTransform {
  /** Bytes appended to an SRTP packet (the tag). */
  readonly srtpOverhead: number;
  /** Bytes appended to an SRTCP packet (tag + 4-byte E‖index trailer). */
  readonly srtcpOverhead: number;
  /** Offset of the E‖SRTCP-index word in an SRTCP packet of `length` bytes. */
  srtcpTrailerOffset(length: number): number;
  /**
   * Writes the SRTP packet (packet.length + srtpOverhead bytes) into `out` at `offset`; `out`
   * must not overlap `packet`.
   */
  protectRtpInto(packet: Uint8Array, headerLength: number, ssrc: number, index: number, out: Uint8Array, offset: number): void;
  /**
   * Writes the RTP packet (packet.length - srtpOverhead bytes) into `out` at `offset` and
   * returns true, or returns false when authentication fails (then `out` holds no plaintext).
   * `out` must not overlap `packet`.
   */
  unprotectRtpInto(packet: Uint8Array, headerLength: number, ssrc: number, index: number, out: Uint8Array, offset: number): boolean;
  /**
   * Optional (AEAD profiles): for a caller that seals in a batch (the backend's sealRtpFanout),
   * writes the 12-byte IV of RTP packet `index` of `ssrc` into `ivs` at `ivOffset` and returns
   * the engine that seals it.
   */
  prepareRtpSeal?(ssrc: number, index: number, ivs: Uint8Array, ivOffset: number): AesGcmEngine;
  /**
   * Optional (AEAD profiles): the `handle` of the engine that seals RTP, when that engine holds
   * the SRTP salt itself (the backend's sealRtpFanoutIndexed builds its IVs), else -1.
   */
  rtpFanoutHandle?(): number;
  protectRtcp(packet: Uint8Array, ssrc: number, srtcpIndex: number, encrypt: boolean): Uint8Array;
  /** Returns the RTCP packet, or null when authentication fails. */
  unprotectRtcp(packet: Uint8Array, ssrc: number, srtcpIndex: number, encrypted: boolean): Uint8Array | null;
  wipe(): void;
}

/** The 32-bit SRTCP trailer word: E flag in the top bit, then the 31-bit SRTCP index (RFC 3711 §3.4). */
export function srtcpTrailer(srtcpIndex: number, encrypted: boolean): Uint8Array {
  const word = ((encrypted ? 0x80000000 : 0) | srtcpIndex) >>> 0;
  return Uint8Array.of(word >>> 24, (word >>> 16) & 0xff, (word >>> 8) & 0xff, word & 0xff);
}
