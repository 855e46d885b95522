/**
 * The relay's per-datagram work, free of sockets: a datagram and its source address in, zero or
 * more (datagram, address) sends out through a `DatagramSink`.
 *
 * RTP (voice) from a speaker:
 *   1. size and header checks, SSRC → session lookup (unknown SSRC: drop, nothing sent back);
 *   2. a cheap pre-authentication budget: packets from the latched address spend the session's
 *      packet bucket; packets from any other address spend a small bucket of their source's
 *      (source-budgets.ts) and then the relay-wide cap on such packets, so a forged flood can
 *      neither starve the real stream, nor the real client's first latch or re-latch, nor buy
 *      unbounded decryption work;
 *   3. unprotect with the speaker's inbound context (replay check, then tag, then commit); a
 *      refusal is a verdict, not an exception;
 *   4. only now latch or re-latch the address (RFC 3711 §3.3: nothing before authentication;
 *      this is what stops RTP Bleed, CVE-2017-14114). A new address gets a challenge: it must
 *      prove it receives before any voice goes there (address-consent.ts);
 *   5. permission and mute checks, byte budget;
 *   6. for every other member who listens from a proved address: renumber for that member
 *      (sequence-rewriter.ts), protect with its own outbound context and send to that address.
 *      Never back to the sender.
 * SRTCP from a client: authenticate the same way; a keepalive ping gets one pong (or challenge)
 * of the same length, carrying the cookie the client echoes to prove its address; other RTCP is
 * consumed (reports describe the client↔relay leg only).
 */
import { isRtcpPacket } from '../../../shared/srtp/demux.js';
import { checkRtpHeader, readUint32 } from '../../../shared/srtp/rtp-header.js';
import type { SrtpCryptoBackend } from '../../../shared/srtp/crypto-backend.js';
import { SrtpError, type SrtpErrorReason } from '../../../shared/srtp/errors.js';
import { encodeKeepalive, isKeepalive, KEEPALIVE_COOKIE_OFFSET, KEEPALIVE_LENGTH, KEEPALIVE_TOKEN_LENGTH, KEEPALIVE_TOKEN_OFFSET } from '../../../shared/protocol/keepalive.js';
import { CONSENT_LIFETIME_MS } from './address-consent.js';
import type { DropReason, PacketCounters } from './packet-counters.js';
import type { RelaySession, RemoteAddress } from './relay-session.js';
import type { SessionRegistry, SsrcOwner } from './session-registry.js';
import { TokenBucket } from './token-bucket.js';

export interface DatagramSink {
  send(datagram: Uint8Array, to: RemoteAddress): void;
  /**
   * Optional zero-copy path (the sendmmsg batch): room for a `length`-byte datagram to `to` in
   * `slab`, at the returned offset, or -1 (then use `send`). `commitReserved` queues what was
   * written there; a reservation not committed is simply forgotten.
   */
  reserve?(length: number, to: RemoteAddress): number;
  readonly slab?: Uint8Array;
  commitReserved?(length: number): void;
  /**
   * Optional fan-out path (the sendmmsg batch): room for `count` datagrams of `length` bytes
   * back to back in `slab` (datagram i at the returned offset + i × length), or -1 (then one at
   * a time). `commitRun` queues the first `count` of them, datagram i to `to[i]`; nothing else
   * may be sent in between. Where `ports[i]` ≥ 0, `ipv4s[i]` (int32 bits) and `ports[i]` are
   * `to[i]`'s IPv4 number and port, and the sink may use them instead of reading `to[i]`.
   */
  reserveRun?(count: number, length: number): number;
  commitRun?(offset: number, length: number, to: readonly RemoteAddress[], count: number, ipv4s?: Int32Array, ports?: Int32Array): void;
}

/** The most listeners one native fan-out call seals for (the sendmmsg batch holds 64 datagrams). */
const MAX_FANOUT_RUN = 64;
/** AES-GCM's tag (RFC 7714 §8): the only profiles the native fan-out seals. */
const GCM_TAG_LENGTH = 16;

export interface RouterOptions {
  /** Datagrams larger than this are dropped unread. */
  readonly maxDatagramBytes: number;
  /**
   * Packets per second, over all sessions, that may reach decryption from addresses other than
   * their session's latched one (default DEFAULT_MAX_UNLATCHED_PACKETS_PER_SECOND): what a spray
   * from ever new forged sources can cost at most.
   */
  readonly maxUnlatchedPacketsPerSecond?: number;
  /** Observe processing time for one datagram in this many (a power of two keeps it cheap). */
  readonly timingSampleEvery: number;
}

const SRTP_DROP: Record<SrtpErrorReason, DropReason> = {
  malformed: 'malformed',
  'bad-version': 'malformed',
  'auth-failed': 'auth',
  'unencrypted-srtcp': 'auth',
  replay: 'replay',
  'too-old': 'replay',
  'key-exhausted': 'key-exhausted',
};

function sameAddress(a: RemoteAddress | null, b: RemoteAddress): boolean {
  return a !== null && a.port === b.port && a.address === b.address;
}

/**
 * A failed GCM open costs about a microsecond: 20,000 a second is 2 % of a core at most, and far
 * more than the first latches and rebindings of a relay's sessions need.
 */
export const DEFAULT_MAX_UNLATCHED_PACKETS_PER_SECOND = 20_000;

/** The token of a challenge the relay sends unprompted (not in answer to a ping). */
const NO_TOKEN = new Uint8Array(KEEPALIVE_TOKEN_LENGTH);

function readSsrc(datagram: Uint8Array, offset: number): number {
  return ((datagram[offset]! << 24) | (datagram[offset + 1]! << 16) | (datagram[offset + 2]! << 8) | datagram[offset + 3]!) >>> 0;
}

export class DatagramRouter {
  #sampleCountdown: number;
  /**
   * Where each incoming voice packet is opened: one buffer for the relay's life, since a packet is
   * handled to the end (every listener's copy sealed) before the next one is opened.
   */
  readonly #plain: Uint8Array;
  /** The relay-wide cap on packets from unlatched sources that reach decryption. */
  readonly #unlatchedCap: TokenBucket;
  /**
   * The fan-out call's arguments, reused for every packet: each listener's engine handle (the
   * native backend finds the engine by it, parley_gcm.c), packet index (the backend builds the
   * IV from it and the engine's salt, and the sequence number is its low 16 bits) and address.
   * The address array keeps the last packet's addresses referenced until overwritten.
   */
  readonly #fanoutHandles = new Uint32Array(MAX_FANOUT_RUN);
  readonly #fanoutIndices = new Float64Array(MAX_FANOUT_RUN);
  readonly #fanoutTo: RemoteAddress[] = [];
  /** The same addresses as numbers, from the session (RelaySession.batchIpv4/batchPort; port -1: use #fanoutTo). */
  readonly #fanoutIpv4s = new Int32Array(MAX_FANOUT_RUN);
  readonly #fanoutPorts = new Int32Array(MAX_FANOUT_RUN);
  /** Listeners of this packet sealed one at a time after the fan-out call, and their numbers. */
  readonly #deferred: RelaySession[] = [];
  readonly #deferredOutputs: number[] = [];

  constructor(
    private readonly registry: SessionRegistry,
    private readonly sink: DatagramSink,
    private readonly counters: PacketCounters,
    private readonly options: RouterOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.#sampleCountdown = options.timingSampleEvery;
    this.#plain = new Uint8Array(options.maxDatagramBytes);
    const cap = options.maxUnlatchedPacketsPerSecond ?? DEFAULT_MAX_UNLATCHED_PACKETS_PER_SECOND;
    this.#unlatchedCap = new TokenBucket(cap, cap, now());
  }

  handle(datagram: Uint8Array, from: RemoteAddress): void {
    this.counters.received(datagram.length);
    const timed = --this.#sampleCountdown <= 0;
    const started = timed ? performance.now() : 0;
    try {
      this.#route(datagram, from);
    } catch (error) {
      // Packet failures come back as verdicts; what still throws SrtpError (sealing a pong at
      // the key's usage limit) is counted, and anything else is a bug worth seeing.
      if (error instanceof SrtpError) this.counters.dropped(SRTP_DROP[error.reason]);
      else throw error;
    } finally {
      if (timed) {
        this.#sampleCountdown = this.options.timingSampleEvery;
        this.counters.observeProcessing((performance.now() - started) / 1000);
      }
    }
  }

  #route(datagram: Uint8Array, from: RemoteAddress): void {
    if (datagram.length > this.options.maxDatagramBytes) return this.counters.dropped('oversize');
    if (datagram.length < 12 || datagram[0]! >> 6 !== 2) return this.counters.dropped('malformed');
    if (isRtcpPacket(datagram)) return this.#routeRtcp(datagram, from);

    const now = this.now();
    const owner = this.#admit(readSsrc(datagram, 8), from, now);
    if (owner === null) return;
    const { session, epoch } = owner;
    // A verdict, not an exception: forged and replayed packets are the attacker's to send.
    const inbound = epoch.inbound;
    const length = inbound.openRtpInto(datagram, this.#plain, 0);
    if (typeof length === 'string') return this.counters.dropped(SRTP_DROP[length]);
    // A view, not a copy: valid until the next packet.
    const plain = this.#plain.subarray(0, length);
    if (session.noteAuthenticated(epoch, from, datagram.length, inbound.lastOpenedWasNewest, now)) {
      this.#answerKeepalive(session, epoch.ssrc, NO_TOKEN, now);
    }
    // Each listener gets its own gap-free numbering of this stream (sequence-rewriter.ts): what
    // the relay withholds closes up, what the network lost shows.
    const forwarded = epoch.forwarded;
    const input = inbound.lastRtpIndex;
    if (!session.speaking) {
      forwarded.toAll.withhold(input);
      return this.counters.dropped('muted');
    }
    if (!session.byteBucket.take(now, datagram.length)) {
      forwarded.toAll.withhold(input);
      return this.counters.dropped('rate-limit');
    }
    const shared = forwarded.toAll.send(input);
    if (shared < 0) return this.counters.dropped('reordered');

    const members = session.channel!.members;
    const sink = this.sink;
    // The fan-out: listeners whose contexts can are sealed together in one native call into a
    // run of the sink's batch (fanoutCount of them); the others one at a time, after it.
    const fanoutAt = sink.reserveRun !== undefined && members.length - 1 <= MAX_FANOUT_RUN ? sink.reserveRun(members.length - 1, plain.length + GCM_TAG_LENGTH) : -1;
    const ssrc = epoch.ssrc;
    let fanoutBackend: SrtpCryptoBackend | null = null;
    let fanoutCount = 0;
    let deferred = 0;
    for (let i = 0; i < members.length; i++) {
      const listener = members[i]!;
      if (listener === session) continue;
      if (!listener.receivesVoice(now)) {
        forwarded.withholdFrom(listener.channelSlot, listener, shared);
        continue;
      }
      const output = forwarded.sendTo(listener.channelSlot, listener, shared);
      if (output < 0) {
        this.counters.dropped('reordered');
        continue;
      }
      if (fanoutAt >= 0) {
        const outbound = listener.outbound;
        if (outbound.sealsIndexedFanout && (fanoutBackend === null || outbound.backend === fanoutBackend)) {
          const handle = outbound.prepareRtpSealIndexed(ssrc, output & 0xffff, this.#fanoutIndices, fanoutCount);
          if (typeof handle === 'string') {
            this.counters.dropped(handle === 'key-exhausted' ? 'key-exhausted' : 'protect-refused');
            continue;
          }
          fanoutBackend = outbound.backend;
          this.#fanoutHandles[fanoutCount] = handle;
          this.#fanoutTo[fanoutCount] = listener.address!;
          this.#fanoutIpv4s[fanoutCount] = listener.batchIpv4;
          this.#fanoutPorts[fanoutCount] = listener.batchPort;
          fanoutCount++;
        } else {
          this.#deferred[deferred] = listener;
          this.#deferredOutputs[deferred] = output;
          deferred++;
        }
        continue;
      }
      this.#sealFor(listener, plain, output);
    }
    if (fanoutCount > 0) {
      const sealedLength = plain.length + GCM_TAG_LENGTH;
      // Every index is committed already: each copy is sealed now, or (an exception) dropped.
      fanoutBackend!.sealRtpFanoutIndexed!(this.#fanoutHandles, ssrc, this.#fanoutIndices, fanoutCount, plain, this.#headerLength(plain), sink.slab!, fanoutAt);
      sink.commitRun!(fanoutAt, sealedLength, this.#fanoutTo, fanoutCount, this.#fanoutIpv4s, this.#fanoutPorts);
      for (let i = 0; i < fanoutCount; i++) this.counters.sent(sealedLength);
    }
    for (let i = 0; i < deferred; i++) this.#sealFor(this.#deferred[i]!, plain, this.#deferredOutputs[i]!);
  }

  /** The RTP header length of a packet that was opened (so its header is known to be sound). */
  #headerLength(plain: Uint8Array): number {
    const length = checkRtpHeader(plain);
    if (typeof length === 'string') throw new TypeError('relay: an opened packet has no valid RTP header');
    return length;
  }

  /** Seals one listener's copy of `plain`, numbered `output`, and sends it. */
  #sealFor(listener: RelaySession, plain: Uint8Array, output: number): void {
    const sink = this.sink;
    // The listener's sequence number, written into the one plaintext before each seal.
    plain[2] = (output >>> 8) & 0xff;
    plain[3] = output & 0xff;
    const outbound = listener.outbound;
    const sealedLength = plain.length + outbound.profile.srtpTagLength;
    // Sealed straight into the batch when the sink has one: no allocation per listener.
    const offset = sink.reserve?.(sealedLength, listener.address!) ?? -1;
    const out = offset >= 0 ? sink.slab! : new Uint8Array(sealedLength);
    const sealed = outbound.sealRtpInto(plain, out, offset >= 0 ? offset : 0);
    if (typeof sealed === 'string') {
      this.counters.dropped(sealed === 'key-exhausted' ? 'key-exhausted' : 'protect-refused');
      return;
    }
    if (offset >= 0) sink.commitReserved!(sealed);
    else sink.send(out, listener.address!);
    this.counters.sent(sealed);
  }

  #routeRtcp(datagram: Uint8Array, from: RemoteAddress): void {
    const now = this.now();
    const owner = this.#admit(readSsrc(datagram, 4), from, now);
    if (owner === null) return;
    const { session, epoch } = owner;
    const plain = epoch.inbound.openRtcp(datagram);
    if (typeof plain === 'string') return this.counters.dropped(SRTP_DROP[plain]);
    const moved = session.noteAuthenticated(epoch, from, datagram.length, epoch.inbound.lastOpenedWasNewest, now);
    const fromLatched = sameAddress(session.address, from);
    if (!isKeepalive(plain) || (plain[0]! & 0x1f) !== 0) {
      // Other RTCP is consumed; one that moved the address gets a challenge.
      if (moved) this.#answerKeepalive(session, epoch.ssrc, NO_TOKEN, now);
      return;
    }
    // A ping from anywhere but the latched address (a late one from an old path) is not answered.
    if (!fromLatched) return;
    // The echo proves the address only if it is the cookie last sent to it (address-consent.ts).
    session.noteEcho(readUint32(plain, KEEPALIVE_COOKIE_OFFSET), readUint32(plain, KEEPALIVE_COOKIE_OFFSET + 4), CONSENT_LIFETIME_MS);
    this.#answerKeepalive(session, epoch.ssrc, plain.subarray(KEEPALIVE_TOKEN_OFFSET, KEEPALIVE_TOKEN_OFFSET + KEEPALIVE_TOKEN_LENGTH), now);
  }

  /**
   * Sends the session's latched address a pong (it has consent) or a challenge (it has not),
   * with `token` and the address's current cookie, under the relay→client SRTCP keys and the
   * client's SSRC `ssrc`. Within the address's amplification limit, or not at all.
   */
  #answerKeepalive(session: RelaySession, ssrc: number, token: Uint8Array, now: number): void {
    const consent = session.consent!;
    const proved = session.proved(now);
    const outbound = session.outbound;
    const length = KEEPALIVE_LENGTH + outbound.profile.srtcpTagLength + 4;
    if (!consent.maySend(length, proved)) return this.counters.dropped('amplification');
    const reply = encodeKeepalive(proved ? 'pong' : 'challenge', ssrc, token);
    consent.writeCookie(reply, KEEPALIVE_COOKIE_OFFSET, now);
    const sealed = outbound.protectRtcp(reply);
    consent.noteSent(sealed.length, proved);
    this.sink.send(sealed, session.address!);
    this.counters.sent(sealed.length);
  }

  /**
   * Steps 1–2 before any decryption: the SSRC's owner, if the packet fits its pre-authentication
   * budget — the session's own bucket from its latched address; from any other, its source's
   * bucket and then the relay-wide cap — otherwise null, with the drop counted.
   */
  #admit(ssrc: number, from: RemoteAddress, now: number): SsrcOwner | null {
    const owner = this.registry.bySsrc(ssrc);
    if (owner === undefined) {
      this.counters.dropped('unknown-ssrc');
      return null;
    }
    const { session } = owner;
    const admitted = sameAddress(session.address, from)
      ? session.packetBucket.take(now)
      : session.sourceBudgets.take(from, now) && this.#unlatchedCap.take(now);
    if (!admitted) {
      this.counters.dropped('rate-limit');
      return null;
    }
    return owner;
  }
}
