/**
 * A one-way SRTP/SRTCP context: one master key, one direction. A party that both sends and
 * receives holds two (RFC 3711 §3.2.1 keeps them apart; Parley derives a different master key
 * per direction, so a packet reflected back to its sender never authenticates).
 *
 * Security-relevant order, for every unprotect (RFC 3711 §3.3, §3.4):
 *   1. parse and estimate the index (ROC guess, §3.3.1),
 *   2. replay check against the window — read only (§3.3.2),
 *   3. authenticate and decrypt,
 *   4. only then commit: stream state, ROC, replay window, key usage.
 * A packet that fails any step changes nothing.
 */
import { assertBytes } from '../bytes.js';
import { AeadTransform } from './aead-transform.js';
import { AesCmTransform } from './aes-cm-transform.js';
import type { AesGcmEngine, SrtpCryptoBackend } from './crypto-backend.js';
import { SrtpError, type SrtpErrorReason } from './errors.js';
import { deriveSrtpSessionKeys, wipeSessionKeys, type SessionKeys, type SrtpSessionKeys } from './kdf.js';
import { KeyUsage, type KeyUsageCounts } from './key-usage.js';
import type { SrtpMasterKeys } from './master-keys.js';
import { srtpProfile, type SrtpProfile, type SrtpProfileName } from './profiles.js';
import { ReplayWindow, checkReplayWindowSize, DEFAULT_REPLAY_WINDOW } from './replay-window.js';
import { rtcpSenderSsrc, RTCP_HEADER_LENGTH } from './rtcp-header.js';
import { estimateSrtpIndex, MAX_SRTP_INDEX } from './roc.js';
import { checkRtpHeader, checkRtpPadding, readUint32, RTP_FIXED_HEADER_LENGTH, RTP_VERSION } from './rtp-header.js';
import type { SrtpTransform } from './transform.js';

/** The `*Into` methods' caller contract: `out` is bytes with `length` of room at `offset`. */
function assertRoom(out: Uint8Array, offset: number, length: number): void {
  assertBytes(out, 'srtp: out');
  if (!Number.isInteger(offset) || offset < 0 || out.length - offset < length) {
    throw new RangeError(`srtp: out needs ${length} bytes at offset ${offset}`);
  }
}

/** The largest SRTCP index: it is a 31-bit field (RFC 3711 §3.4). */
const MAX_SRTCP_INDEX = 0x7fffffff;

/** What a thrown SrtpError says for each verdict; never anything from the packet's contents. */
const REFUSAL_MESSAGES: Record<SrtpErrorReason, string> = {
  malformed: 'the packet is malformed (too short, fields or padding running past its end)',
  'bad-version': 'the version field is not 2',
  'auth-failed': 'authentication failed',
  replay: 'packet index already processed',
  'too-old': 'packet index is behind the replay window',
  'unencrypted-srtcp': 'SRTCP packet is not encrypted (E=0)',
  'key-exhausted': 'key-usage limit or index space reached',
};

export interface SrtpContextOptions extends SrtpMasterKeys {
  readonly profile: SrtpProfileName;
  readonly backend: SrtpCryptoBackend;
  /** Replay window size in packets, 64..32768 (default 128). */
  readonly replayWindowSize?: number;
  /**
   * Refuse SRTCP packets whose E flag is clear (default true). Parley always encrypts SRTCP;
   * only tests of RFC 7714's authentication-only vectors turn this off.
   */
  readonly requireEncryptedSrtcp?: boolean;
  /** Packets already processed under this master key elsewhere, counted toward §9.2's limits. */
  readonly priorKeyUsage?: KeyUsageCounts;
}

export interface SrtpSessionKeyOptions extends Omit<SrtpContextOptions, keyof SrtpMasterKeys> {
  readonly sessionKeys: SrtpSessionKeys;
}

interface RtpStreamState {
  readonly ssrc: number;
  readonly window: ReplayWindow;
}

interface RtcpStreamState {
  readonly window: ReplayWindow;
  /** Last SRTCP index this context protected for the SSRC (0 before the first). */
  lastSentIndex: number;
}

function createTransform(profile: SrtpProfile, backend: SrtpCryptoBackend, keys: SrtpSessionKeys): SrtpTransform {
  const check = (k: SessionKeys, what: string): void => {
    assertBytes(k.encryptionKey, `srtp: ${what} encryption key`, profile.keyLength);
    assertBytes(k.salt, `srtp: ${what} salt`, profile.saltLength);
    assertBytes(k.authKey, `srtp: ${what} auth key`, profile.authKeyLength);
  };
  check(keys.srtp, 'SRTP');
  check(keys.srtcp, 'SRTCP');
  return profile.aead
    ? new AeadTransform(backend, keys.srtp, keys.srtcp)
    : new AesCmTransform(backend, keys.srtp, keys.srtcp);
}

export class SrtpContext {
  readonly profile: SrtpProfile;
  readonly backend: SrtpCryptoBackend;
  readonly replayWindowSize: number;
  readonly #requireEncryptedSrtcp: boolean;
  readonly #transform: SrtpTransform;
  readonly #usage: KeyUsage;
  /** Per-SSRC state, created with the first stream (a relay holds thousands of idle contexts). */
  #rtpStreams: Map<number, RtpStreamState> | null = null;
  /**
   * The stream of the last RTP packet looked up: a context mostly sees one SSRC (a client's own
   * stream; a relay listener's context, the one speaker of its channel), and skipping the Map
   * saves its table's cache lines on a relay with thousands of contexts.
   */
  #lastStream: RtpStreamState | undefined = undefined;
  #rtcpStreams: Map<number, RtcpStreamState> | null = null;
  #lastRtpIndex = -1;
  #lastOpenedWasNewest = false;
  /** The index the last refused packet was checked at, for the thrown error's details; -1 if none. */
  #attemptedIndex = -1;
  #closed = false;
  /** Whether prepareRtpSeal works (see sealsFanout). */
  readonly #fanout: boolean;
  /** Whether prepareRtpSealIndexed works (see sealsIndexedFanout). */
  readonly #indexedFanout: boolean;
  /** The transform's rtpFanoutHandle() once asked (-1 before): a fixed number for the transform's life. */
  #fanoutHandle = -1;
  /** The stream #fanoutIndex looked up, for its caller's commit (undefined: a new stream). */
  #fanoutStream: RtpStreamState | undefined = undefined;

  constructor(options: SrtpContextOptions | SrtpSessionKeyOptions) {
    const profile = srtpProfile(options.profile);
    if ('sessionKeys' in options) {
      this.#transform = createTransform(profile, options.backend, options.sessionKeys);
    } else {
      assertBytes(options.masterKey, 'srtp: master key', profile.keyLength);
      assertBytes(options.masterSalt, 'srtp: master salt', profile.saltLength);
      const keys = deriveSrtpSessionKeys(options.backend, profile, options.masterKey, options.masterSalt);
      try {
        this.#transform = createTransform(profile, options.backend, keys);
      } finally {
        wipeSessionKeys(keys); // the engines hold their own copies
      }
    }
    this.profile = profile;
    this.backend = options.backend;
    this.replayWindowSize = checkReplayWindowSize(options.replayWindowSize ?? DEFAULT_REPLAY_WINDOW);
    this.#requireEncryptedSrtcp = options.requireEncryptedSrtcp ?? true;
    this.#usage = new KeyUsage(options.priorKeyUsage);
    this.#fanout = options.backend.sealRtpFanout !== undefined && this.#transform.prepareRtpSeal !== undefined;
    this.#indexedFanout = options.backend.sealRtpFanoutIndexed !== undefined && this.#transform.rtpFanoutHandle !== undefined;
  }

  /**
   * A context from already-derived session keys, skipping RFC 3711 §4.3. For known-answer
   * tests (RFC 7714 publishes session keys) and peers that export session keys. The caller
   * keeps ownership of `sessionKeys` (the context copies them).
   */
  static fromSessionKeys(options: SrtpSessionKeyOptions): SrtpContext {
    return new SrtpContext(options);
  }

  /** True once the soft key-usage limit is reached: the owner should rekey soon. */
  get rekeyRequested(): boolean {
    return this.#usage.rekeyRequested;
  }

  get keyUsage(): KeyUsageCounts {
    return this.#usage.counts;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * What this context has committed for an SSRC's RTP stream, or undefined before its first
   * authenticated packet. For monitoring and tests; it exposes no key material.
   */
  rtpStreamState(ssrc: number): { readonly highestIndex: number; readonly rolloverCounter: number } | undefined {
    const stream = this.#rtpStreams?.get(ssrc);
    if (stream === undefined) return undefined;
    const highestIndex = stream.window.highest;
    return { highestIndex, rolloverCounter: Math.floor(highestIndex / 0x10000) };
  }

  /** Number of SSRCs with committed RTP state. */
  get rtpStreamCount(): number {
    return this.#rtpStreams?.size ?? 0;
  }

  /**
   * The packet index (ROC · 2^16 + SEQ, RFC 3711 §3.3.1) of the last RTP packet this context
   * opened or sealed successfully; -1 before the first. A relay that forwards a packet reads the
   * index its sender used here instead of estimating it a second time.
   */
  get lastRtpIndex(): number {
    return this.#lastRtpIndex;
  }

  /**
   * Whether the last packet this context opened successfully (SRTP or SRTCP) was the newest of
   * its stream so far, rather than a late one from behind its highest index. A relay moves a
   * client's address only on its newest packets, so one delayed on an old path cannot move it back.
   */
  get lastOpenedWasNewest(): boolean {
    return this.#lastOpenedWasNewest;
  }

  /** RFC 3711 §3.3: SRTP-protects one RTP packet; throws SrtpError on refusal. */
  protectRtp(packet: Uint8Array): Uint8Array {
    this.#assertOpen();
    assertBytes(packet, 'srtp: packet');
    const out = new Uint8Array(packet.length + this.#transform.srtpOverhead);
    const result = this.#sealRtpInto(packet, out, 0);
    if (typeof result === 'string') throw this.#rtpError(result, packet, 'protect');
    return out;
  }

  /**
   * Like protectRtp, but writes the SRTP packet into `out` at `offset` and returns its length
   * (packet.length + the profile's tag length), so a sender that assembles datagrams in a buffer
   * of its own allocates nothing per packet. `out` must not overlap `packet`. On any error
   * nothing is committed (what `out` holds is then unspecified).
   */
  protectRtpInto(packet: Uint8Array, out: Uint8Array, offset: number): number {
    const result = this.sealRtpInto(packet, out, offset);
    if (typeof result === 'string') throw this.#rtpError(result, packet, 'protect');
    return result;
  }

  /**
   * protectRtpInto for a packet path: a refusal (an index already protected, the key's usage
   * limit, a malformed packet) is returned as its reason instead of thrown, so refusing costs
   * no exception and no stack trace. Misuse (`out` too small, a closed context) still throws.
   */
  sealRtpInto(packet: Uint8Array, out: Uint8Array, offset: number): number | SrtpErrorReason {
    this.#assertOpen();
    assertBytes(packet, 'srtp: packet');
    const length = packet.length + this.#transform.srtpOverhead;
    assertRoom(out, offset, length);
    const result = this.#sealRtpInto(packet, out, offset);
    return typeof result === 'string' ? result : length;
  }

  /**
   * Whether `prepareRtpSeal` works here: an AEAD profile on a backend that seals a packet for
   * many receivers in one call (`SrtpCryptoBackend.sealRtpFanout`).
   */
  get sealsFanout(): boolean {
    return this.#fanout;
  }

  /**
   * sealRtpInto's bookkeeping without the seal, for a sender that then seals many receivers'
   * copies of one packet in a single `backend.sealRtpFanout` call (a relay's fan-out): takes
   * the index of the RTP packet with SSRC `ssrc` and sequence number `seq` exactly as
   * sealRtpInto would (key-usage limit, RFC 3711 §3.3.1's index estimate, the refusal to
   * protect an index twice — for GCM that would reuse a nonce), commits it, writes its IV at
   * `ivs[ivOffset, ivOffset + 12)` and returns the engine to seal with; a refusal is returned
   * as its reason and commits nothing. The caller must seal the packet (header checked,
   * padding valid, carrying `seq`) with that engine and IV, or drop it: the index is spent
   * either way. Only when `sealsFanout` (else a TypeError).
   */
  prepareRtpSeal(ssrc: number, seq: number, ivs: Uint8Array, ivOffset: number): AesGcmEngine | SrtpErrorReason {
    this.#assertOpen();
    if (!this.#fanout) throw new TypeError('srtp: this context cannot seal in fan-out batches');
    const index = this.#fanoutIndex(ssrc, seq);
    if (typeof index === 'string') return index;
    const engine = this.#transform.prepareRtpSeal!(ssrc, index, ivs, ivOffset);
    this.#commitRtp(this.#fanoutStream, ssrc, index);
    return engine;
  }

  /**
   * Whether `prepareRtpSealIndexed` works here: an AEAD profile on a backend whose engines hold
   * their salt and seal a packet for many receivers from packet indices
   * (`SrtpCryptoBackend.sealRtpFanoutIndexed`).
   */
  get sealsIndexedFanout(): boolean {
    return this.#indexedFanout;
  }

  /**
   * prepareRtpSeal for `backend.sealRtpFanoutIndexed`: the same bookkeeping (key-usage limit,
   * index estimate, refusal to protect an index twice, commit), but the packet index is written
   * at `indices[at]` instead of an IV; the backend builds the IV from it. Returns the `handle` of
   * the engine to seal with, or a refusal, which commits nothing. The caller must seal the packet
   * carrying `seq` under that engine and index, or drop it. Only when `sealsIndexedFanout` (else
   * a TypeError).
   */
  prepareRtpSealIndexed(ssrc: number, seq: number, indices: Float64Array, at: number): number | SrtpErrorReason {
    this.#assertOpen();
    if (!this.#indexedFanout) throw new TypeError('srtp: this context cannot seal in indexed fan-out batches');
    const index = this.#fanoutIndex(ssrc, seq);
    if (typeof index === 'string') return index;
    // Kept here: the per-listener loop then never reads the transform object.
    const handle = this.#fanoutHandle >= 0 ? this.#fanoutHandle : (this.#fanoutHandle = this.#transform.rtpFanoutHandle!());
    if (handle < 0) throw new TypeError('srtp: this context cannot seal in indexed fan-out batches');
    indices[at] = index;
    this.#commitRtp(this.#fanoutStream, ssrc, index);
    return handle;
  }

  /**
   * The bookkeeping both fan-out preparations share, up to the commit: the index to seal `seq`
   * at (key-usage limit, RFC 3711 §3.3.1's estimate, never an index twice), or the refusal.
   * The stream it looked up is left in #fanoutStream for the caller's commit, so the
   * per-listener path looks it up once.
   */
  #fanoutIndex(ssrc: number, seq: number): number | SrtpErrorReason {
    this.#attemptedIndex = -1;
    this.#fanoutStream = undefined;
    if (!this.#usage.srtpAvailable()) return 'key-exhausted';
    const stream = this.#rtpStream(ssrc);
    const index = stream === undefined ? seq : estimateSrtpIndex(stream.window.highest, seq);
    this.#attemptedIndex = index;
    if (index > MAX_SRTP_INDEX) return 'key-exhausted';
    const replay = this.#replayVerdict(stream?.window, index);
    if (replay !== null) return replay;
    this.#fanoutStream = stream;
    return index;
  }

  /** RFC 3711 §3.3: verifies and decrypts one SRTP packet; throws SrtpError on any failure. */
  unprotectRtp(packet: Uint8Array): Uint8Array {
    this.#assertOpen();
    assertBytes(packet, 'srtp: packet');
    const plain = new Uint8Array(Math.max(0, packet.length - this.#transform.srtpOverhead));
    const result = this.#openRtpInto(packet, plain, 0);
    if (typeof result === 'string') throw this.#rtpError(result, packet, 'unprotect');
    return plain;
  }

  /**
   * Like unprotectRtp, but writes the RTP packet into `out` at `offset` and returns its length
   * (packet.length minus the profile's tag length), so a receiver that handles one packet at a
   * time reuses one buffer instead of allocating per packet. `out` must not overlap `packet`. On
   * any error nothing is committed; when authentication fails `out` holds no plaintext.
   */
  unprotectRtpInto(packet: Uint8Array, out: Uint8Array, offset: number): number {
    const result = this.openRtpInto(packet, out, offset);
    if (typeof result === 'string') throw this.#rtpError(result, packet, 'unprotect');
    return result;
  }

  /**
   * unprotectRtpInto for a packet path (the relay): a packet that fails — malformed, replayed,
   * too old, not authentic — is returned as its reason instead of thrown. An attacker decides
   * how often that happens, so it must cost no more than the check itself: no exception, no
   * stack trace. Misuse (`out` too small, a closed context) still throws.
   */
  openRtpInto(packet: Uint8Array, out: Uint8Array, offset: number): number | SrtpErrorReason {
    this.#assertOpen();
    assertBytes(packet, 'srtp: packet');
    // A packet too short to be SRTP is the network's fault (a verdict, below), not the caller's.
    assertRoom(out, offset, Math.max(0, packet.length - this.#transform.srtpOverhead));
    return this.#openRtpInto(packet, out, offset);
  }

  /** RFC 3711 §3.4: SRTCP-protects one (compound) RTCP packet, always encrypted (E=1). */
  protectRtcp(packet: Uint8Array): Uint8Array {
    return this.#protectRtcp(packet, true);
  }

  /** SRTCP with E=0 (authentication only). Only for tests of RFC 7714 §17's vectors. */
  protectRtcpUnencrypted(packet: Uint8Array): Uint8Array {
    return this.#protectRtcp(packet, false);
  }

  /** RFC 3711 §3.4: verifies and decrypts one SRTCP packet; throws SrtpError on any failure. */
  unprotectRtcp(packet: Uint8Array): Uint8Array {
    const result = this.openRtcp(packet);
    if (typeof result === 'string') throw this.#rtcpError(result, packet);
    return result;
  }

  /** unprotectRtcp for a packet path: the RTCP packet, or why it was refused (never thrown). */
  openRtcp(packet: Uint8Array): Uint8Array | SrtpErrorReason {
    this.#assertOpen();
    assertBytes(packet, 'srtp: packet');
    this.#attemptedIndex = -1;
    if (packet.length < RTCP_HEADER_LENGTH) return 'malformed';
    if (packet[0]! >> 6 !== RTP_VERSION) return 'bad-version';
    if (packet.length < RTCP_HEADER_LENGTH + this.#transform.srtcpOverhead) return 'malformed';
    const ssrc = readUint32(packet, 4);
    const word = readUint32(packet, this.#transform.srtcpTrailerOffset(packet.length));
    const encrypted = word >>> 31 === 1;
    const index = word & MAX_SRTCP_INDEX;
    this.#attemptedIndex = index;
    if (!encrypted && this.#requireEncryptedSrtcp) return 'unencrypted-srtcp';
    if (!this.#usage.srtcpAvailable()) return 'key-exhausted';
    const stream = this.#rtcpStreams?.get(ssrc);
    const replay = this.#replayVerdict(stream?.window, index);
    if (replay !== null) return replay;
    const plain = this.#transform.unprotectRtcp(packet, ssrc, index, encrypted);
    if (plain === null) return 'auth-failed';
    const committed = stream ?? this.#newRtcpStream(ssrc);
    this.#lastOpenedWasNewest = index > committed.window.highest;
    committed.window.commit(index);
    this.#usage.countSrtcp();
    return plain;
  }

  /** Erases the session keys and forgets all stream state. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#transform.wipe();
    this.#fanoutHandle = -1;
    this.#rtpStreams = null;
    this.#lastStream = undefined;
    this.#rtcpStreams = null;
  }

  /**
   * unprotectRtp's work, once the arguments are checked; `out` has room at `offset` for a
   * well-formed packet. RFC 3711 §3.3's order: index, replay check, authenticate, then commit.
   */
  #openRtpInto(packet: Uint8Array, out: Uint8Array, offset: number): number | SrtpErrorReason {
    this.#attemptedIndex = -1;
    const headerLength = checkRtpHeader(packet);
    if (typeof headerLength === 'string') return headerLength;
    const length = packet.length - this.#transform.srtpOverhead;
    if (length < headerLength) return 'malformed';
    const ssrc = readUint32(packet, 8);
    const seq = (packet[2]! << 8) | packet[3]!;
    if (!this.#usage.srtpAvailable()) return 'key-exhausted';
    const stream = this.#rtpStream(ssrc);
    const index = stream === undefined ? seq : estimateSrtpIndex(stream.window.highest, seq);
    this.#attemptedIndex = index;
    if (index > MAX_SRTP_INDEX) return 'key-exhausted';
    const replay = this.#replayVerdict(stream?.window, index);
    if (replay !== null) return replay;
    if (!this.#transform.unprotectRtpInto(packet, headerLength, ssrc, index, out, offset)) return 'auth-failed';
    // RFC 3550 §5.1: with P set, the last octet counts the padding; it must fit the payload.
    if ((out[offset]! & 0x20) !== 0) {
      const padding = checkRtpPadding(offset === 0 ? out : out.subarray(offset), headerLength, length);
      if (padding === 'malformed') return padding;
    }
    this.#lastOpenedWasNewest = stream === undefined || index > stream.window.highest;
    this.#commitRtp(stream, ssrc, index);
    return length;
  }

  /** protectRtp's work, once the arguments are checked and `out` has room at `offset`. */
  #sealRtpInto(packet: Uint8Array, out: Uint8Array, offset: number): SrtpErrorReason | null {
    this.#attemptedIndex = -1;
    const headerLength = checkRtpHeader(packet);
    if (typeof headerLength === 'string') return headerLength;
    if (checkRtpPadding(packet, headerLength) === 'malformed') return 'malformed';
    const ssrc = readUint32(packet, 8);
    const seq = (packet[2]! << 8) | packet[3]!;
    if (!this.#usage.srtpAvailable()) return 'key-exhausted';
    const stream = this.#rtpStream(ssrc);
    const index = stream === undefined ? seq : estimateSrtpIndex(stream.window.highest, seq);
    this.#attemptedIndex = index;
    if (index > MAX_SRTP_INDEX) return 'key-exhausted';
    // A sender must never reuse an index: for GCM that would reuse a nonce under the key.
    const replay = this.#replayVerdict(stream?.window, index);
    if (replay !== null) return replay;
    this.#transform.protectRtpInto(packet, headerLength, ssrc, index, out, offset);
    this.#commitRtp(stream, ssrc, index);
    return null;
  }

  #protectRtcp(packet: Uint8Array, encrypt: boolean): Uint8Array {
    this.#assertOpen();
    assertBytes(packet, 'srtp: packet');
    const ssrc = rtcpSenderSsrc(packet);
    if (!this.#usage.srtcpAvailable()) throw new SrtpError('key-exhausted', 'SRTCP key-usage limit reached', { ssrc });
    const stream = this.#rtcpStreams?.get(ssrc) ?? this.#newRtcpStream(ssrc);
    // Indices start at 1, as libsrtp numbers them, so output is byte-identical to libsrtp's.
    const index = stream.lastSentIndex + 1;
    if (index > MAX_SRTCP_INDEX) throw new SrtpError('key-exhausted', 'SRTCP index space exhausted', { ssrc });
    const protectedPacket = this.#transform.protectRtcp(packet, ssrc, index, encrypt);
    stream.lastSentIndex = index;
    stream.window.commit(index);
    this.#usage.countSrtcp();
    return protectedPacket;
  }

  #rtpStream(ssrc: number): RtpStreamState | undefined {
    const last = this.#lastStream;
    if (last !== undefined && last.ssrc === ssrc) return last;
    const stream = this.#rtpStreams?.get(ssrc);
    if (stream !== undefined) this.#lastStream = stream;
    return stream;
  }

  #replayVerdict(window: ReplayWindow | undefined, index: number): 'replay' | 'too-old' | null {
    if (window === undefined) return null;
    const verdict = window.check(index);
    return verdict === 'new' ? null : verdict;
  }

  #commitRtp(stream: RtpStreamState | undefined, ssrc: number, index: number): void {
    let state = stream;
    if (state === undefined) {
      state = { ssrc, window: new ReplayWindow(this.replayWindowSize) };
      (this.#rtpStreams ??= new Map()).set(ssrc, state);
    }
    state.window.commit(index);
    this.#usage.countSrtp();
    this.#lastRtpIndex = index;
  }

  /** The exception the throwing methods raise for a verdict, with what is known of the packet. */
  #rtpError(reason: SrtpErrorReason, packet: Uint8Array, action: 'protect' | 'unprotect'): SrtpError {
    const ssrc = packet.length >= RTP_FIXED_HEADER_LENGTH ? readUint32(packet, 8) : undefined;
    const index = this.#attemptedIndex >= 0 ? this.#attemptedIndex : undefined;
    return new SrtpError(reason, `SRTP ${action}: ${REFUSAL_MESSAGES[reason]}`, { ssrc, index });
  }

  #rtcpError(reason: SrtpErrorReason, packet: Uint8Array): SrtpError {
    const ssrc = packet.length >= RTCP_HEADER_LENGTH ? readUint32(packet, 4) : undefined;
    const index = this.#attemptedIndex >= 0 ? this.#attemptedIndex : undefined;
    return new SrtpError(reason, `SRTCP unprotect: ${REFUSAL_MESSAGES[reason]}`, { ssrc, index });
  }

  #newRtcpStream(ssrc: number): RtcpStreamState {
    const state: RtcpStreamState = { window: new ReplayWindow(this.replayWindowSize), lastSentIndex: 0 };
    (this.#rtcpStreams ??= new Map()).set(ssrc, state);
    return state;
  }

  #assertOpen(): void {
    if (this.#closed) throw new TypeError('srtp: context is closed');
  }
}
