/**
 * The primitives SRTP needs, behind one interface with two implementations:
 * - `nodeCryptoBackend` (node:crypto, OpenSSL) — the relay's hot path;
 * - `nobleBackend` (@noble/ciphers, @noble/hashes) — portable, for runtimes without node:crypto.
 * The same test suite runs against both and they must agree byte for byte.
 *
 * Engines are bound to one key at creation so a backend can prepare per-key state once,
 * and `wipe()` erases the copy of the key the engine holds.
 */
export interface SrtpCryptoBackend {
  readonly name: string;
  /**
   * `rtpSalt` (optional, 12 bytes): the SRTP session salt of the key, for a backend with
   * `sealRtpFanoutIndexed`, whose engines then build RFC 7714 §8.1 IVs themselves
   * (`openRtpIndexed`, `sealRtpFanoutIndexed`). Backends without it ignore the argument.
   */
  createAesGcm(key: Uint8Array, tagLength: number, rtpSalt?: Uint8Array): AesGcmEngine;
  createAesCtr(key: Uint8Array): AesCtrEngine;
  createHmacSha1(key: Uint8Array): HmacSha1Engine;
  /**
   * Optional (a backend whose engines are native): one RTP packet sealed for `count` receivers
   * in one call, as `engines[i].sealPacketInto` would seal it after its sequence number (octets
   * 2–3) is set to `seqs[i]`. Copy i (packet.length + 16 bytes) goes to `out` at `outOffset` +
   * i × (packet.length + 16), sealed under `engines[i]` (this backend's) with the IV at
   * `ivs[12i, 12i + 12)`; the first `aadLength` bytes are the header (the AAD). Returns
   * `count`. A relay's fan-out: the per-call cost is paid once per packet, not per receiver.
   * `engines` may instead be a Uint32Array of the engines' `handle`s (engine i's at [i]), which
   * spares the backend looking each engine object up.
   */
  sealRtpFanout?(engines: readonly AesGcmEngine[] | Uint32Array, ivs: Uint8Array, seqs: Uint16Array, count: number, packet: Uint8Array, aadLength: number, out: Uint8Array, outOffset: number): number;
  /**
   * Optional (the native backend): sealRtpFanout for engines created with their `rtpSalt`, named
   * by `handle`: copy i carries sequence number indices[i] mod 2^16 and is sealed under the
   * engine `handles[i]` with the IV of packet index `indices[i]` of `ssrc` (RFC 7714 §8.1),
   * built by the backend from that engine's salt. Byte for byte what sealRtpFanout gives with
   * those IVs and sequence numbers; the IVs are never built in JS.
   */
  sealRtpFanoutIndexed?(handles: Uint32Array, ssrc: number, indices: Float64Array, count: number, packet: Uint8Array, aadLength: number, out: Uint8Array, outOffset: number): number;
  /**
   * Optional (the native backend): the openPacketInto of the engine `handle` (created with its
   * `rtpSalt`), with the IV of packet index `index` of `ssrc` (RFC 7714 §8.1) built by the
   * backend from that engine's salt. The length written, or -1 when the packet does not verify.
   */
  openRtpIndexed?(handle: number, ssrc: number, index: number, packet: Uint8Array, aadLength: number, out: Uint8Array, outOffset: number): number;
}

export interface AesGcmEngine {
  /** Encrypts `plaintext` with `aad` under the 12-byte `iv`; returns ciphertext ‖ tag. */
  seal(iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** Verifies and decrypts ciphertext ‖ tag; returns null when the tag does not verify. */
  open(iv: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | null;
  /**
   * Optional, for packets laid out as SRTP's are (RFC 7714 §8.2): the first `aadLength` bytes of
   * `packet` are a cleartext header (the AAD), the rest the plaintext. Writes header ‖
   * ciphertext ‖ tag into `out` at `outOffset` and returns its length. One call, no views.
   */
  sealPacketInto?(iv: Uint8Array, packet: Uint8Array, aadLength: number, out: Uint8Array, outOffset: number): number;
  /**
   * Optional, the inverse of sealPacketInto: verifies header ‖ ciphertext ‖ tag and writes
   * header ‖ plaintext into `out` at `outOffset`; returns its length, or -1 when the packet does
   * not verify (then `out` holds no plaintext).
   */
  openPacketInto?(iv: Uint8Array, packet: Uint8Array, aadLength: number, out: Uint8Array, outOffset: number): number;
  /**
   * Optional (engines of a backend with sealRtpFanout): a number naming this engine to the
   * backend's sealRtpFanout in place of the engine itself, within the thread that made it.
   */
  readonly handle?: number;
  wipe(): void;
}

export interface AesCtrEngine {
  /**
   * XORs `input` with the AES counter-mode keystream starting at the 16-byte block `iv`
   * (RFC 3711 §4.1.1 "AES in Counter Mode"; the counter is the whole 128-bit block, of
   * which SRTP only ever uses the low 16 bits).
   */
  xor(iv: Uint8Array, input: Uint8Array): Uint8Array;
  wipe(): void;
}

export interface HmacSha1Engine {
  /** Full 20-byte HMAC-SHA1 over the concatenation of `parts` (RFC 2104). */
  mac(...parts: Uint8Array[]): Uint8Array;
  wipe(): void;
}
