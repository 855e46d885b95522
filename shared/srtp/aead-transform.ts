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
  writeGcmRtpIv(salt, ssrc, index, out, 0);
  return out;
}

/** gcmRtpIv written into `out` at `at` (the first 12 bytes of `salt` are the salt). */
export function writeGcmRtpIv(salt: Uint8Array, ssrc: number, index: number, out: Uint8Array, at: number): void {
  const roc = Math.floor(index / 0x10000);
  out[at] = salt[0]!;
  out[at + 1] = salt[1]!;
  out[at + 2] = salt[2]! ^ (ssrc >>> 24);
  out[at + 3] = salt[3]! ^ ((ssrc >>> 16) & 0xff);
  out[at + 4] = salt[4]! ^ ((ssrc >>> 8) & 0xff);
  out[at + 5] = salt[5]! ^ (ssrc & 0xff);
  out[at + 6] = salt[6]! ^ (roc >>> 24);
  out[at + 7] = salt[7]! ^ ((roc >>> 16) & 0xff);
  out[at + 8] = salt[8]! ^ ((roc >>> 8) & 0xff);
  out[at + 9] = salt[9]! ^ (roc & 0xff);
  out[at + 10] = salt[10]! ^ ((index >>> 8) & 0xff);
  out[at + 11] = salt[11]! ^ (index & 0xff);
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

/**
 * Scratch for the IV of the call in progress, shared by every transform of this module instance
 * (one per thread), as noble-hashes shares its SHA-256 message schedule: every call is
 * synchronous, so no two calls can interleave. A relay holds thousands of transforms; a 12-byte
 * array each would cost ~250 bytes of heap apiece (typed array, buffer and bytes). Wiped
 * whenever a transform is wiped.
 */
const scratchIv = new Uint8Array(IV_LENGTH);

/**
 * Staging for SRTCP with engines that seal and open packets into a buffer (sealPacketInto,
 * openPacketInto: the native backend's). SRTCP's AAD is the 8-octet header and the 4-octet
 * E‖index trailer, apart in the packet (RFC 7714 §9.2); staged as header ‖ trailer ‖ body they
 * are one contiguous AAD, so one native call seals or opens the packet, where joining the AAD
 * into a new small array, and the native result into another, cost a V8 backing store (a
 * malloc) each. Off-heap from the start (an ArrayBuffer), so the addon never has to move them.
 * Shared like scratchIv (every call is synchronous), grown when a packet needs more, and
 * zeroed after each use.
 */
let rtcpStaged = new Uint8Array(new ArrayBuffer(1536));
let rtcpSealed = new Uint8Array(new ArrayBuffer(1536));

function rtcpScratch(length: number): void {
  if (rtcpStaged.length < length) {
    rtcpStaged = new Uint8Array(new ArrayBuffer(length));
    rtcpSealed = new Uint8Array(new ArrayBuffer(length + GCM_TAG_LENGTH));
  }
}

/** Writes the SRTCP trailer word (E flag, 31-bit index; RFC 3711 §3.4) at `at`. */
function writeTrailer(out: Uint8Array, at: number, srtcpIndex: number, encrypted: boolean): void {
  writeUint32(out, at, ((encrypted ? 0x80000000 : 0) | srtcpIndex) >>> 0);
}

/**
 * Where AeadTransform keeps its session values, all in one array (one allocation, one wipe):
 *   [0, 12)   SRTP session salt      — first, so `gcmRtpIv(keys, …)` reads it in place
 *   [12, 24)  SRTCP session salt
 *   [24, 24 + k)      SRTP session encryption key   (until its engine is keyed)
 *   [24 + k, 24 + 2k) SRTCP session encryption key  (until its engine is keyed)
 * 56 bytes for AES-128, which V8 keeps on its heap (no backing store of its own).
 */
const SRTP_SALT_AT = 0;
const SRTCP_SALT_AT = IV_LENGTH;
const KEYS_AT = 2 * IV_LENGTH;

export class AeadTransform implements SrtpTransform {
  readonly srtpOverhead = GCM_TAG_LENGTH;
  readonly srtcpOverhead = GCM_TAG_LENGTH + TRAILER_LENGTH;
  readonly #backend: SrtpCryptoBackend;
  readonly #keyLength: number;
  /** Salts, then the encryption keys not yet handed to an engine (layout above). */
  readonly #keys: Uint8Array;
  /**
   * Engines are keyed on first use: many transforms never use one of theirs (a relay's context
   * for a listener's own packets opens its keepalives, SRTCP, but never voice), and an engine
   * (an OpenSSL context behind a wrapped native object, or a key copy in node:crypto's backend)
   * costs far more than the 16 or 32 bytes of its key.
   */
  #rtp: AesGcmEngine | null = null;
  #rtcp: AesGcmEngine | null = null;
  #wiped = false;
  /**
   * Whether the RTP engine is given the SRTP salt (a backend with sealRtpFanoutIndexed and
   * openRtpIndexed): the backend then builds its IVs itself, named by the engine's handle.
   */
  readonly #saltedRtp: boolean;
  /** The RTP engine's `handle` once it is keyed (-1 before, or when it has none). */
  #rtpHandle = -1;

  constructor(backend: SrtpCryptoBackend, srtp: SessionKeys, srtcp: SessionKeys) {
    if (srtp.encryptionKey.length !== srtcp.encryptionKey.length) throw new RangeError('srtp: SRTP and SRTCP keys must have the same length');
    if (srtp.salt.length !== IV_LENGTH || srtcp.salt.length !== IV_LENGTH) throw new RangeError(`srtp: AEAD session salts must be ${IV_LENGTH} bytes`);
    this.#backend = backend;
    this.#saltedRtp = backend.sealRtpFanoutIndexed !== undefined && backend.openRtpIndexed !== undefined;
    this.#keyLength = srtp.encryptionKey.length;
    this.#keys = new Uint8Array(KEYS_AT + 2 * this.#keyLength);
    this.#keys.set(srtp.salt, SRTP_SALT_AT);
    this.#keys.set(srtcp.salt, SRTCP_SALT_AT);
    this.#keys.set(srtp.encryptionKey, KEYS_AT);
    this.#keys.set(srtcp.encryptionKey, KEYS_AT + this.#keyLength);
  }

  srtcpTrailerOffset(length: number): number {
    // RFC 7714 §9: the tag is part of the AEAD output, and the E‖index word follows it.
    return length - TRAILER_LENGTH;
  }

  // RFC 7714 §8.2: the whole RTP header (with CSRCs and extension) is AAD; the payload,
  // including any RTP padding, is the plaintext.
  protectRtpInto(packet: Uint8Array, headerLength: number, ssrc: number, index: number, out: Uint8Array, offset: number): void {
    const engine = this.#rtp ?? this.#keyRtp();
    const iv = gcmRtpIv(this.#keys, ssrc, index, scratchIv);
    // The relay's path (native engines): one call, no views built per listener.
    if (engine.sealPacketInto !== undefined) {
      engine.sealPacketInto(iv, packet, headerLength, out, offset);
      return;
    }
    const header = packet.subarray(0, headerLength);
    out.set(header, offset);
    out.set(engine.seal(iv, header, packet.subarray(headerLength)), offset + headerLength);
  }

  prepareRtpSeal(ssrc: number, index: number, ivs: Uint8Array, ivOffset: number): AesGcmEngine {
    const engine = this.#rtp ?? this.#keyRtp();
    writeGcmRtpIv(this.#keys, ssrc, index, ivs, ivOffset);
    return engine;
  }

  rtpFanoutHandle(): number {
    if (!this.#saltedRtp) return -1;
    if (this.#rtp === null) this.#keyRtp();
    // Kept here as a number: the fan-out then never reads the engine object itself.
    return this.#rtpHandle;
  }

  unprotectRtpInto(packet: Uint8Array, headerLength: number, ssrc: number, index: number, out: Uint8Array, offset: number): boolean {
    const engine = this.#rtp ?? this.#keyRtp();
    // The relay's path (native engines holding the salt): the engine named by its handle, the IV built natively.
    if (this.#saltedRtp && this.#rtpHandle >= 0) return this.#backend.openRtpIndexed!(this.#rtpHandle, ssrc, index, packet, headerLength, out, offset) >= 0;
    const iv = gcmRtpIv(this.#keys, ssrc, index, scratchIv);
    if (engine.openPacketInto !== undefined) return engine.openPacketInto(iv, packet, headerLength, out, offset) >= 0;
    const header = packet.subarray(0, headerLength);
    const payload = engine.open(iv, header, packet.subarray(headerLength));
    if (payload === null) return false;
    out.set(header, offset);
    out.set(payload, offset + headerLength);
    return true;
  }

  // RFC 7714 §9.2 / §17: with E=1 the AAD is the first 8 octets plus the E‖index word and the
  // rest is encrypted; with E=0 the whole packet plus that word is AAD and nothing is encrypted.
  protectRtcp(packet: Uint8Array, ssrc: number, srtcpIndex: number, encrypt: boolean): Uint8Array {
    const engine = this.#rtcp ?? this.#keyRtcp();
    const iv = gcmRtcpIv(this.#keys.subarray(SRTCP_SALT_AT, SRTCP_SALT_AT + IV_LENGTH), ssrc, srtcpIndex, scratchIv);
    if (encrypt && engine.sealPacketInto !== undefined && packet.length >= RTCP_HEADER_LENGTH) {
      // Staged as header ‖ trailer ‖ body (see rtcpStaged); out is header ‖ ciphertext ‖ tag ‖ trailer.
      const body = packet.length - RTCP_HEADER_LENGTH;
      const staged = RTCP_HEADER_LENGTH + TRAILER_LENGTH + body;
      rtcpScratch(staged);
      for (let i = 0; i < RTCP_HEADER_LENGTH; i++) rtcpStaged[i] = packet[i]!;
      writeTrailer(rtcpStaged, RTCP_HEADER_LENGTH, srtcpIndex, true);
      rtcpStaged.set(packet.subarray(RTCP_HEADER_LENGTH), RTCP_HEADER_LENGTH + TRAILER_LENGTH);
      engine.sealPacketInto(iv, rtcpStaged.subarray(0, staged), RTCP_HEADER_LENGTH + TRAILER_LENGTH, rtcpSealed, 0);
      const out = new Uint8Array(packet.length + GCM_TAG_LENGTH + TRAILER_LENGTH);
      out.set(rtcpSealed.subarray(0, RTCP_HEADER_LENGTH), 0);
      out.set(rtcpSealed.subarray(RTCP_HEADER_LENGTH + TRAILER_LENGTH, staged + GCM_TAG_LENGTH), RTCP_HEADER_LENGTH);
      writeTrailer(out, out.length - TRAILER_LENGTH, srtcpIndex, true);
      rtcpStaged.fill(0, 0, staged);
      rtcpSealed.fill(0, 0, staged + GCM_TAG_LENGTH);
      return out;
    }
    const trailer = srtcpTrailer(srtcpIndex, encrypt);
    if (encrypt) {
      const header = packet.subarray(0, RTCP_HEADER_LENGTH);
      const sealed = engine.seal(iv, join(header, trailer), packet.subarray(RTCP_HEADER_LENGTH));
      return join(header, sealed, trailer);
    }
    const tag = engine.seal(iv, join(packet, trailer), new Uint8Array(0));
    return join(packet, tag, trailer);
  }

  unprotectRtcp(packet: Uint8Array, ssrc: number, srtcpIndex: number, encrypted: boolean): Uint8Array | null {
    const engine = this.#rtcp ?? this.#keyRtcp();
    const trailerAt = packet.length - TRAILER_LENGTH;
    const trailer = packet.subarray(trailerAt);
    const iv = gcmRtcpIv(this.#keys.subarray(SRTCP_SALT_AT, SRTCP_SALT_AT + IV_LENGTH), ssrc, srtcpIndex, scratchIv);
    if (encrypted && engine.openPacketInto !== undefined && trailerAt >= RTCP_HEADER_LENGTH) {
      // Staged as header ‖ trailer ‖ ciphertext ‖ tag (see rtcpStaged): one contiguous AAD.
      const sealed = trailerAt - RTCP_HEADER_LENGTH;
      const staged = RTCP_HEADER_LENGTH + TRAILER_LENGTH + sealed;
      rtcpScratch(staged);
      for (let i = 0; i < RTCP_HEADER_LENGTH; i++) rtcpStaged[i] = packet[i]!;
      for (let i = 0; i < TRAILER_LENGTH; i++) rtcpStaged[RTCP_HEADER_LENGTH + i] = packet[trailerAt + i]!;
      rtcpStaged.set(packet.subarray(RTCP_HEADER_LENGTH, trailerAt), RTCP_HEADER_LENGTH + TRAILER_LENGTH);
      const opened = engine.openPacketInto(iv, rtcpStaged.subarray(0, staged), RTCP_HEADER_LENGTH + TRAILER_LENGTH, rtcpSealed, 0);
      let plain: Uint8Array | null = null;
      if (opened >= 0) {
        plain = new Uint8Array(opened - TRAILER_LENGTH);
        plain.set(rtcpSealed.subarray(0, RTCP_HEADER_LENGTH), 0);
        plain.set(rtcpSealed.subarray(RTCP_HEADER_LENGTH + TRAILER_LENGTH, opened), RTCP_HEADER_LENGTH);
        rtcpSealed.fill(0, 0, opened);
      }
      rtcpStaged.fill(0, 0, staged);
      return plain;
    }
    if (encrypted) {
      const header = packet.subarray(0, RTCP_HEADER_LENGTH);
      const body = engine.open(iv, join(header, trailer), packet.subarray(RTCP_HEADER_LENGTH, trailerAt));
      return body === null ? null : join(header, body);
    }
    const plainEnd = trailerAt - GCM_TAG_LENGTH;
    const plain = packet.subarray(0, plainEnd);
    const ok = engine.open(iv, join(plain, trailer), packet.subarray(plainEnd, trailerAt));
    return ok === null ? null : plain.slice();
  }

  /** Erases the salts, any key not yet handed to an engine, and the engines' keys. Idempotent. */
  wipe(): void {
    this.#wiped = true;
    this.#rtp?.wipe();
    this.#rtcp?.wipe();
    this.#rtp = null;
    this.#rtcp = null;
    this.#rtpHandle = -1;
    this.#keys.fill(0);
    scratchIv.fill(0);
  }

  /** Whether any key, salt or keyed engine is still held (false after wipe()); for tests, and reveals no key. */
  get holdsKeyMaterial(): boolean {
    return this.#rtp !== null || this.#rtcp !== null || this.#keys.some((b) => b !== 0);
  }

  #keyRtp(): AesGcmEngine {
    const engine = this.#keyEngine(KEYS_AT, this.#saltedRtp ? this.#keys.subarray(SRTP_SALT_AT, SRTP_SALT_AT + IV_LENGTH) : undefined);
    this.#rtpHandle = engine.handle ?? -1;
    return (this.#rtp = engine);
  }

  #keyRtcp(): AesGcmEngine {
    return (this.#rtcp = this.#keyEngine(KEYS_AT + this.#keyLength));
  }

  /** Hands the key at `at` to a new engine, which keeps its own copy, and erases it here. */
  #keyEngine(at: number, rtpSalt?: Uint8Array): AesGcmEngine {
    // The context refuses calls after close; this guards direct users of the transform.
    if (this.#wiped) throw new TypeError('srtp: transform used after wipe()');
    const key = this.#keys.subarray(at, at + this.#keyLength);
    const engine = rtpSalt === undefined ? this.#backend.createAesGcm(key, GCM_TAG_LENGTH) : this.#backend.createAesGcm(key, GCM_TAG_LENGTH, rtpSalt);
    key.fill(0);
    return engine;
  }
}
