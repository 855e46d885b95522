/**
 * The relay's per-datagram work, free of sockets: a datagram and its source address in, zero or
 * more (datagram, address) sends out through a `DatagramSink`.
 *
 * RTP (voice) from a speaker:
 *   1. size and header checks, SSRC → session lookup (unknown SSRC: drop, nothing sent back);
 *   2. a cheap pre-authentication budget: packets from the latched address spend the session's
 *      packet bucket, packets from any other address spend a small separate bucket, so a forged
 *      flood can neither starve the real stream nor buy unbounded decryption work;
 *   3. unprotect with the speaker's inbound context (replay check, then tag, then commit);
 *   4. only now latch or re-latch the address (RFC 3711 §3.3: nothing before authentication;
 *      this is what stops RTP Bleed, CVE-2017-14114);
 *   5. permission and mute checks, byte budget;
 *   6. for every other member who listens: protect with that member's own outbound context and
 *      send to that member's latched address. Never back to the sender.
 * SRTCP from a client: authenticate the same way; a keepalive ping gets one pong of the same
 * length; other RTCP is consumed (reports describe the client↔relay leg only).
 */
import { isRtcpPacket } from '../../../shared/srtp/demux.js';
import { SrtpError, type SrtpErrorReason } from '../../../shared/srtp/errors.js';
import { decodeKeepalive, encodeKeepalive } from '../../../shared/protocol/keepalive.js';
import type { DropReason, PacketCounters } from './packet-counters.js';
import type { RemoteAddress } from './relay-session.js';
import type { SessionRegistry, SsrcOwner } from './session-registry.js';

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
}

export interface RouterOptions {
  /** Datagrams larger than this are dropped unread. */
  readonly maxDatagramBytes: number;
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

  constructor(
    private readonly registry: SessionRegistry,
    private readonly sink: DatagramSink,
    private readonly counters: PacketCounters,
    private readonly options: RouterOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.#sampleCountdown = options.timingSampleEvery;
    this.#plain = new Uint8Array(options.maxDatagramBytes);
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
    const length = epoch.inbound.openRtpInto(datagram, this.#plain, 0);
    if (typeof length === 'string') return this.counters.dropped(SRTP_DROP[length]);
    // A view, not a copy: valid until the next packet.
    const plain = this.#plain.subarray(0, length);
    session.noteAuthenticated(epoch, from, now);
    if (!session.speaking) return this.counters.dropped('muted');
    if (!session.byteBucket.take(now, datagram.length)) return this.counters.dropped('rate-limit');

    const members = this.registry.members(session.channelId);
    const sink = this.sink;
    for (let i = 0; i < members.length; i++) {
      const listener = members[i]!;
      if (listener === session || !listener.listening) continue;
      const outbound = listener.outbound;
      const sealedLength = plain.length + outbound.profile.srtpTagLength;
      // Sealed straight into the batch when the sink has one: no allocation per listener.
      const offset = sink.reserve?.(sealedLength, listener.address!) ?? -1;
      const out = offset >= 0 ? sink.slab! : new Uint8Array(sealedLength);
      const sealed = outbound.sealRtpInto(plain, out, offset >= 0 ? offset : 0);
      if (typeof sealed === 'string') {
        this.counters.dropped(sealed === 'key-exhausted' ? 'key-exhausted' : 'protect-refused');
        continue;
      }
      if (offset >= 0) sink.commitReserved!(sealed);
      else sink.send(out, listener.address!);
      this.counters.sent(sealed);
    }
  }

  #routeRtcp(datagram: Uint8Array, from: RemoteAddress): void {
    const now = this.now();
    const owner = this.#admit(readSsrc(datagram, 4), from, now);
    if (owner === null) return;
    const { session, epoch } = owner;
    const plain = epoch.inbound.openRtcp(datagram);
    if (typeof plain === 'string') return this.counters.dropped(SRTP_DROP[plain]);
    session.noteAuthenticated(epoch, from, now);
    const keepalive = decodeKeepalive(plain);
    if (keepalive === null || keepalive.kind !== 'ping') return; // other RTCP: consumed
    const pong = session.outbound.protectRtcp(encodeKeepalive('pong', epoch.ssrc, keepalive.token));
    if (pong.length > datagram.length) return; // never answer with more than was received
    this.sink.send(pong, session.address!);
    this.counters.sent(pong.length);
  }

  /**
   * Steps 1–2 before any decryption: the SSRC's owner, if the packet fits its pre-authentication
   * budget (the session's own bucket from its latched address, the small unlatched one from any
   * other); otherwise null, with the drop counted.
   */
  #admit(ssrc: number, from: RemoteAddress, now: number): SsrcOwner | null {
    const owner = this.registry.bySsrc(ssrc);
    if (owner === undefined) {
      this.counters.dropped('unknown-ssrc');
      return null;
    }
    const { session } = owner;
    const budget = sameAddress(session.address, from) ? session.packetBucket : session.unlatchedBucket;
    if (!budget.take(now)) {
      this.counters.dropped('rate-limit');
      return null;
    }
    return owner;
  }
}
