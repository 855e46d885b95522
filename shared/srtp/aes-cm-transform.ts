/**
 * AES_CM_128_HMAC_SHA1_80, RFC 3711 §4.1.1 (AES in counter mode) and §4.2.1 (HMAC-SHA1,
 * 80-bit tag). Kept for legacy peers; AEAD_AES_128_GCM is Parley's default.
 */
import { constantTimeEqual } from '../bytes.js';
import type { AesCtrEngine, HmacSha1Engine, SrtpCryptoBackend } from './crypto-backend.js';
import type { SessionKeys } from './kdf.js';
import { RTCP_HEADER_LENGTH } from './rtcp-header.js';
import { writeUint32 } from './rtp-header.js';
import { srtcpTrailer, type SrtpTransform } from './transform.js';

const TAG_LENGTH = 10;
const TRAILER_LENGTH = 4;

/**
 * RFC 3711 §4.1.1: IV = (k_s · 2^16) XOR (SSRC · 2^64) XOR (i · 2^16), a 128-bit block whose
 * low 16 bits are the block counter. `index` is the 48-bit SRTP index or the 31-bit SRTCP index.
 */
export function aesCmIv(salt: Uint8Array, ssrc: number, index: number, out = new Uint8Array(16)): Uint8Array {
  out.fill(0);
  out.set(salt.subarray(0, 14), 0);
  out[4]! ^= ssrc >>> 24;
  out[5]! ^= (ssrc >>> 16) & 0xff;
  out[6]! ^= (ssrc >>> 8) & 0xff;
  out[7]! ^= ssrc & 0xff;
  const high = Math.floor(index / 0x100000000); // bits 32..47 of the index
  out[8]! ^= (high >>> 8) & 0xff;
  out[9]! ^= high & 0xff;
  out[10]! ^= (index >>> 24) & 0xff;
  out[11]! ^= (index >>> 16) & 0xff;
  out[12]! ^= (index >>> 8) & 0xff;
  out[13]! ^= index & 0xff;
  return out;
}

function rocBytes(index: number): Uint8Array {
  const out = new Uint8Array(4);
  writeUint32(out, 0, Math.floor(index / 0x10000));
  return out;
}

export class AesCmTransform implements SrtpTransform {
  readonly srtpOverhead = TAG_LENGTH;
  readonly srtcpOverhead = TAG_LENGTH + TRAILER_LENGTH;
  readonly #rtpCipher: AesCtrEngine;
  readonly #rtpAuth: HmacSha1Engine;
  readonly #rtcpCipher: AesCtrEngine;
  readonly #rtcpAuth: HmacSha1Engine;
  readonly #rtpSalt: Uint8Array;
  readonly #rtcpSalt: Uint8Array;
  readonly #iv = new Uint8Array(16);

  constructor(backend: SrtpCryptoBackend, srtp: SessionKeys, srtcp: SessionKeys) {
    this.#rtpCipher = backend.createAesCtr(srtp.encryptionKey);
    this.#rtpAuth = backend.createHmacSha1(srtp.authKey);
    this.#rtcpCipher = backend.createAesCtr(srtcp.encryptionKey);
    this.#rtcpAuth = backend.createHmacSha1(srtcp.authKey);
    this.#rtpSalt = Uint8Array.from(srtp.salt);
    this.#rtcpSalt = Uint8Array.from(srtcp.salt);
  }

  srtcpTrailerOffset(length: number): number {
    // RFC 3711 §3.4 figure 2: … ‖ E‖SRTCP index ‖ [MKI] ‖ authentication tag.
    return length - TAG_LENGTH - TRAILER_LENGTH;
  }

  // RFC 3711 §4.2: the tag covers the authenticated portion (header ‖ encrypted payload)
  // followed by the 32-bit ROC.
  protectRtpInto(packet: Uint8Array, headerLength: number, ssrc: number, index: number, out: Uint8Array, offset: number): void {
    out.set(packet.subarray(0, headerLength), offset);
    const iv = aesCmIv(this.#rtpSalt, ssrc, index, this.#iv);
    out.set(this.#rtpCipher.xor(iv, packet.subarray(headerLength)), offset + headerLength);
    const body = out.subarray(offset, offset + packet.length);
    out.set(this.#rtpAuth.mac(body, rocBytes(index)).subarray(0, TAG_LENGTH), offset + packet.length);
  }

  unprotectRtpInto(packet: Uint8Array, headerLength: number, ssrc: number, index: number, out: Uint8Array, offset: number): boolean {
    const bodyEnd = packet.length - TAG_LENGTH;
    const body = packet.subarray(0, bodyEnd);
    const expected = this.#rtpAuth.mac(body, rocBytes(index)).subarray(0, TAG_LENGTH);
    if (!constantTimeEqual(expected, packet.subarray(bodyEnd))) return false;
    out.set(packet.subarray(0, headerLength), offset);
    const iv = aesCmIv(this.#rtpSalt, ssrc, index, this.#iv);
    out.set(this.#rtpCipher.xor(iv, packet.subarray(headerLength, bodyEnd)), offset + headerLength);
    return true;
  }

  // RFC 3711 §3.4: the first 8 octets stay clear; the tag covers the packet and the E‖index word.
  protectRtcp(packet: Uint8Array, ssrc: number, srtcpIndex: number, encrypt: boolean): Uint8Array {
    const out = new Uint8Array(packet.length + TRAILER_LENGTH + TAG_LENGTH);
    out.set(packet, 0);
    if (encrypt) {
      const iv = aesCmIv(this.#rtcpSalt, ssrc, srtcpIndex, this.#iv);
      out.set(this.#rtcpCipher.xor(iv, packet.subarray(RTCP_HEADER_LENGTH)), RTCP_HEADER_LENGTH);
    }
    out.set(srtcpTrailer(srtcpIndex, encrypt), packet.length);
    const authenticated = out.subarray(0, packet.length + TRAILER_LENGTH);
    out.set(this.#rtcpAuth.mac(authenticated).subarray(0, TAG_LENGTH), packet.length + TRAILER_LENGTH);
    return out;
  }

  unprotectRtcp(packet: Uint8Array, ssrc: number, srtcpIndex: number, encrypted: boolean): Uint8Array | null {
    const tagAt = packet.length - TAG_LENGTH;
    const expected = this.#rtcpAuth.mac(packet.subarray(0, tagAt)).subarray(0, TAG_LENGTH);
    if (!constantTimeEqual(expected, packet.subarray(tagAt))) return null;
    const end = tagAt - TRAILER_LENGTH;
    const out = packet.slice(0, end);
    if (encrypted) {
      const iv = aesCmIv(this.#rtcpSalt, ssrc, srtcpIndex, this.#iv);
      out.set(this.#rtcpCipher.xor(iv, packet.subarray(RTCP_HEADER_LENGTH, end)), RTCP_HEADER_LENGTH);
    }
    return out;
  }

  wipe(): void {
    this.#rtpCipher.wipe();
    this.#rtpAuth.wipe();
    this.#rtcpCipher.wipe();
    this.#rtcpAuth.wipe();
    this.#rtpSalt.fill(0);
    this.#rtcpSalt.fill(0);
    this.#iv.fill(0);
  }
}
