/**
 * AEAD_AES_128_GCM / AEAD_AES_256_GCM for SRTP and SRTCP, RFC 7714.
 */
import type { AesGcmEngine, SrtpCryptoBackend } from './crypto-backend.js';
import type { SessionKeys } from './kdf.js';
import { RTCP_HEADER_LENGTH } from './rtcp-header.js';
import { writeUint32 } from './rtp-header.js';
import { srtcpTrailer, type SrtpTransform } from './transform.js';

const GCM_TAG_LENGTH = 16;
const IV_LENGTH = 12;
const TRAILER_LENGTH = 4;

/**
 * RFC 7714 §8.1: the 12-octet IV is
 *   00 00 ‖ SSRC (4) ‖ ROC (4) ‖ SEQ (2)   XOR   the 12-octet session salt.
 */
export function gcmRtpIv(salt: Uint8Array, ssrc: number, index: number, out = new Uint8Array(IV_LENGTH)): Uint8Array {
  out[0] = 0;
  out[1] = 0;
  writeUint32(out, 2, ssrc);
  writeUint32(out, 6, Math.floor(index / 0x10000));
  out[10] = (index >>> 8) & 0xff;
  out[11] = index & 0xff;
  for (let i = 0; i < IV_LENGTH; i++) out[i]! ^= salt[i]!;
  return out;
}

/**
 * RFC 7714 §9.1: the SRTCP IV is
 *   00 00 ‖ SSRC (4) ‖ 00 00 ‖ 0 ‖ SRTCP index (31 bits)   XOR   the session salt.
 */
export function gcmRtcpIv(salt: Uint8Array, ssrc: number, srtcpIndex: number, out = new Uint8Array(IV_LENGTH)): Uint8Array {
  out[0] = 0;
  out[1] = 0;
  writeUint32(out, 2, ssrc);
  out[6] = 0;
  out[7] = 0;
  writeUint32(out, 8, srtcpIndex & 0x7fffffff);
  for (let i = 0; i < IV_LENGTH; i++) out[i]! ^= salt[i]!;
  return out;
}

function join(head: Uint8Array, body: Uint8Array, tail?: Uint8Array): Uint8Array {
  const out = new Uint8Array(head.length + body.length + (tail?.length ?? 0));
  out.set(head, 0);
  out.set(body, head.length);
  if (tail) out.set(tail, head.length + body.length);
  return out;
}

export class AeadTransform implements SrtpTransform {
  readonly srtpOverhead = GCM_TAG_LENGTH;
  readonly srtcpOverhead = GCM_TAG_LENGTH + TRAILER_LENGTH;
  /** SRTP salt then SRTCP salt: one allocation (a relay holds thousands of these). */
  readonly #salts: Uint8Array;
  readonly #rtp: AesGcmEngine;
  readonly #rtcp: AesGcmEngine;
  /** Scratch IV: every call is synchronous, so one buffer per transform is enough. */
  readonly #iv = new Uint8Array(IV_LENGTH);

  constructor(backend: SrtpCryptoBackend, srtp: SessionKeys, srtcp: SessionKeys) {
    this.#rtp = backend.createAesGcm(srtp.encryptionKey, GCM_TAG_LENGTH);
    this.#rtcp = backend.createAesGcm(srtcp.encryptionKey, GCM_TAG_LENGTH);
    this.#salts = new Uint8Array(2 * IV_LENGTH);
    this.#salts.set(srtp.salt, 0);
    this.#salts.set(srtcp.salt, IV_LENGTH);
  }

  srtcpTrailerOffset(length: number): number {
    // RFC 7714 §9: the tag is part of the AEAD output, and the E‖index word follows it.
    return length - TRAILER_LENGTH;
  }

  // RFC 7714 §8.2: the whole RTP header (with CSRCs and extension) is AAD; the payload,
  // including any RTP padding, is the plaintext.
  protectRtpInto(packet: Uint8Array, headerLength: number, ssrc: number, index: number, out: Uint8Array, offset: number): void {
    const iv = gcmRtpIv(this.#salts, ssrc, index, this.#iv);
    const rtp = this.#rtp;
    // The relay's path (native engines): one call, no views built per listener.
    if (rtp.sealPacketInto !== undefined) {
      rtp.sealPacketInto(iv, packet, headerLength, out, offset);
      return;
    }
    const header = packet.subarray(0, headerLength);
    const payload = packet.subarray(headerLength);
    out.set(header, offset);
    if (rtp.sealInto !== undefined) rtp.sealInto(iv, header, payload, out, offset + headerLength);
    else out.set(rtp.seal(iv, header, payload), offset + headerLength);
  }

  unprotectRtpInto(packet: Uint8Array, headerLength: number, ssrc: number, index: number, out: Uint8Array, offset: number): boolean {
    const iv = gcmRtpIv(this.#salts, ssrc, index, this.#iv);
    const rtp = this.#rtp;
    if (rtp.openPacketInto !== undefined) return rtp.openPacketInto(iv, packet, headerLength, out, offset) >= 0;
    const header = packet.subarray(0, headerLength);
    const payload = rtp.open(iv, header, packet.subarray(headerLength));
    if (payload === null) return false;
    out.set(header, offset);
    out.set(payload, offset + headerLength);
    return true;
  }

  // RFC 7714 §9.2 / §17: with E=1 the AAD is the first 8 octets plus the E‖index word and the
  // rest is encrypted; with E=0 the whole packet plus that word is AAD and nothing is encrypted.
  protectRtcp(packet: Uint8Array, ssrc: number, srtcpIndex: number, encrypt: boolean): Uint8Array {
    const trailer = srtcpTrailer(srtcpIndex, encrypt);
    const iv = gcmRtcpIv(this.#salts.subarray(IV_LENGTH), ssrc, srtcpIndex, this.#iv);
    if (encrypt) {
      const header = packet.subarray(0, RTCP_HEADER_LENGTH);
      const sealed = this.#rtcp.seal(iv, join(header, trailer), packet.subarray(RTCP_HEADER_LENGTH));
      return join(header, sealed, trailer);
    }
    const tag = this.#rtcp.seal(iv, join(packet, trailer), new Uint8Array(0));
    return join(packet, tag, trailer);
  }

  unprotectRtcp(packet: Uint8Array, ssrc: number, srtcpIndex: number, encrypted: boolean): Uint8Array | null {
    const trailerAt = packet.length - TRAILER_LENGTH;
    const trailer = packet.subarray(trailerAt);
    const iv = gcmRtcpIv(this.#salts.subarray(IV_LENGTH), ssrc, srtcpIndex, this.#iv);
    if (encrypted) {
      const header = packet.subarray(0, RTCP_HEADER_LENGTH);
      const body = this.#rtcp.open(iv, join(header, trailer), packet.subarray(RTCP_HEADER_LENGTH, trailerAt));
      return body === null ? null : join(header, body);
    }
    const plainEnd = trailerAt - GCM_TAG_LENGTH;
    const plain = packet.subarray(0, plainEnd);
    const ok = this.#rtcp.open(iv, join(plain, trailer), packet.subarray(plainEnd, trailerAt));
    return ok === null ? null : plain.slice();
  }

  wipe(): void {
    this.#rtp.wipe();
    this.#rtcp.wipe();
    this.#salts.fill(0);
    this.#iv.fill(0);
  }
}
