/**
 * One voice session on the relay: a client in a channel, with its key epochs, its latched UDP
 * address and whether that address has proved it receives (address-consent.ts), its permissions
 * and its rate limits.
 *
 * Keys live only here, in memory: in each key epoch's master-key array until a direction is first
 * used, then inside that direction's SrtpContext; close() wipes them all.
 *
 * Key rotation keeps up to two epochs: the newest, and the previous one until its overlap
 * ends. The client may send under either. The relay keeps sending to the client under the
 * older keys until the client proves it holds the new ones (its first authenticated packet
 * under them), so no packet is ever sent under keys the client might not have yet; if the
 * overlap ends first, it sends nothing until that proof.
 */
import { assertBytes } from '../../../shared/bytes.js';
import type { SrtpCryptoBackend } from '../../../shared/srtp/crypto-backend.js';
import { SrtpContext } from '../../../shared/srtp/context.js';
import { srtpProfile, type SrtpProfileName } from '../../../shared/srtp/profiles.js';
import { checkReplayWindowSize } from '../../../shared/srtp/replay-window.js';
import type { KeyUsageCounts } from '../../../shared/srtp/key-usage.js';
import { AddressConsent } from './address-consent.js';
import type { SessionKeyMaterial, SessionPatch, SessionSpec } from './session-spec.js';
import type { RelayChannel } from './relay-channel.js';
import { ForwardedStream } from './sequence-rewriter.js';
import { SourceBudgets } from './source-budgets.js';
import { TokenBucket } from './token-bucket.js';
import { allocateSecretBytes, releaseSecretBytes } from '../io/secret-memory.js';

export interface RemoteAddress {
  readonly address: string;
  readonly port: number;
  /**
   * The IPv4 address as a number (a.b.c.d = a·2²⁴ + b·2¹⁶ + c·2⁸ + d) when the receiver knew it
   * (recvmmsg hands it over as one), so batched output need not parse `address` again.
   */
  readonly ipv4?: number | undefined;
}

export interface SessionLimits {
  readonly packetsPerSecond: number;
  readonly packetBurst: number;
  readonly bytesPerSecond: number;
  readonly byteBurst: number;
  /**
   * Packets per second accepted for authentication from each address other than the latched
   * one (per source, source-budgets.ts).
   */
  readonly unlatchedPacketsPerSecond: number;
  readonly replayWindowSize: number;
  /**
   * Tests only: every key epoch's contexts start as if this many packets had been processed under
   * their keys (SrtpContext priorKeyUsage), so RFC 3711 §9.2's limits can be reached in a test.
   */
  readonly keyUsageAtInstall?: KeyUsageCounts;
}

/**
 * One generation of a session's keys: the SSRC the client sends with under them, and one SRTP
 * context per direction.
 *
 * The contexts are built on first use. Most sessions on a relay are idle at any moment, and an
 * SRTP context with its derived keys, transform and counters costs ~500 bytes of heap; the
 * master keys it is derived from fit in 56 bytes (AES-128), which V8 keeps on its heap without
 * a backing store of its own. A session that latches with a keepalive builds both then (the
 * ping opens with `inbound`, the pong is sealed with `outbound`), so its voice does not pay for
 * the derivation (RFC 3711 §4.3: four AES-CTR calls per context for GCM); otherwise the first
 * packet each way pays once. Each direction's master key is erased as soon as its context
 * holds the derived session keys. The master keys sit in secret memory (io/secret-memory.ts):
 * never moved by the GC, zeroed when released, cleansed by the addon if the thread dies.
 */
export class KeyEpoch {
  /** When this epoch stops being accepted (set when a newer epoch replaces it). */
  retiresAt: number | null = null;
  /** How this SSRC's voice is numbered for each listener; made with the first voice packet. */
  #forwarded: ForwardedStream | null = null;
  readonly #profile: SrtpProfileName;
  readonly #backend: SrtpCryptoBackend;
  readonly #replayWindowSize: number;
  readonly #priorKeyUsage: KeyUsageCounts | undefined;
  /**
   * client→relay master key ‖ salt, then relay→client master key ‖ salt; each half zeroed once
   * its context exists, and the array dropped once both do. null after close().
   */
  #masterKeys: Uint8Array | null;
  #inbound: SrtpContext | null = null;
  #outbound: SrtpContext | null = null;
  #closed = false;

  constructor(
    readonly ssrc: number,
    readonly createdAt: number,
    profile: SrtpProfileName,
    keys: SessionKeyMaterial,
    backend: SrtpCryptoBackend,
    replayWindowSize: number,
    priorKeyUsage?: KeyUsageCounts,
  ) {
    const { keyLength, saltLength } = srtpProfile(profile);
    assertBytes(keys.clientToRelay.masterKey, 'relay: clientToRelay master key', keyLength);
    assertBytes(keys.clientToRelay.masterSalt, 'relay: clientToRelay master salt', saltLength);
    assertBytes(keys.relayToClient.masterKey, 'relay: relayToClient master key', keyLength);
    assertBytes(keys.relayToClient.masterSalt, 'relay: relayToClient master salt', saltLength);
    checkReplayWindowSize(replayWindowSize);
    this.#profile = profile;
    this.#backend = backend;
    this.#replayWindowSize = replayWindowSize;
    this.#priorKeyUsage = priorKeyUsage;
    const half = keyLength + saltLength;
    const packed = allocateSecretBytes(2 * half);
    packed.set(keys.clientToRelay.masterKey, 0);
    packed.set(keys.clientToRelay.masterSalt, keyLength);
    packed.set(keys.relayToClient.masterKey, half);
    packed.set(keys.relayToClient.masterSalt, half + keyLength);
    this.#masterKeys = packed;
  }

  /** Context for packets the client sends (client → relay). */
  get inbound(): SrtpContext {
    return (this.#inbound ??= this.#deriveContext('clientToRelay'));
  }

  /** Context for packets the relay sends to the client (relay → client). */
  get outbound(): SrtpContext {
    return (this.#outbound ??= this.#deriveContext('relayToClient'));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The per-listener sequence numbering of the voice sent under this epoch's SSRC. */
  get forwarded(): ForwardedStream {
    return (this.#forwarded ??= new ForwardedStream());
  }

  /**
   * Whether a context of this epoch reached the soft key-usage limit (RFC 3711 §9.2,
   * docs/protocol.md §2.8): the control plane should give the session new keys.
   */
  get rekeyRequested(): boolean {
    return (this.#inbound?.rekeyRequested ?? false) || (this.#outbound?.rekeyRequested ?? false);
  }

  /** Whether any master key is still held, for tests of the wipe; never the keys themselves. */
  get holdsMasterKeys(): boolean {
    return this.#masterKeys !== null && this.#masterKeys.some((b) => b !== 0);
  }

  /** Wipes every key of this epoch: master keys not yet used, and the contexts' session keys. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#masterKeys !== null) releaseSecretBytes(this.#masterKeys);
    this.#masterKeys = null;
    this.#inbound?.close();
    this.#outbound?.close();
  }

  /** Derives one direction's context from its master key and salt, then erases them here. */
  #deriveContext(direction: 'clientToRelay' | 'relayToClient'): SrtpContext {
    const packed = this.#masterKeys;
    if (this.#closed || packed === null) throw new TypeError('relay: key epoch is closed');
    const half = packed.length / 2;
    const at = direction === 'clientToRelay' ? 0 : half;
    const { keyLength } = srtpProfile(this.#profile);
    const masterKey = packed.subarray(at, at + keyLength);
    const masterSalt = packed.subarray(at + keyLength, at + half);
    const context = new SrtpContext({
      profile: this.#profile,
      backend: this.#backend,
      replayWindowSize: this.#replayWindowSize,
      masterKey,
      masterSalt,
      ...(this.#priorKeyUsage === undefined ? {} : { priorKeyUsage: this.#priorKeyUsage }),
    });
    masterKey.fill(0);
    masterSalt.fill(0);
    // Called only for a direction not yet derived: if the other one is, nothing is left here.
    const other = direction === 'clientToRelay' ? this.#outbound : this.#inbound;
    if (other !== null) {
      releaseSecretBytes(packed);
      this.#masterKeys = null;
    }
    return context;
  }
}

function noSendKeys(): never {
  throw new TypeError('relay: the client holds no relay→client keys the relay still has');
}

export class RelaySession {
  readonly sessionId: string;
  readonly userId: string;
  readonly channelId: string;
  readonly profile: SrtpProfileName;
  readonly installedAt: number;
  canSpeak: boolean;
  canListen: boolean;
  muted: boolean;
  deafened: boolean;
  expiresAt: number;
  /** Last time a packet from the client authenticated (or install time). */
  lastActiveAt: number;
  /** Where the client's newest authenticated packet came from (the latched address); null until the first. */
  address: RemoteAddress | null = null;
  /**
   * The latched address's IPv4 number as int32 bits, and its port, when the receiver knew the
   * number (`address.ipv4`); batchPort is -1 otherwise. Copies on the session itself, which the
   * forwarding loop has read already, so that queuing a listener's datagram in the sendmmsg
   * batch does not read the address object (a cold cache line per listener).
   */
  batchIpv4 = 0;
  batchPort = -1;
  /**
   * Voice may go to `address` while the clock is below this (0: not proved). Kept here, not in
   * the consent object, because the forwarding loop reads it for every listener of every packet.
   */
  provedUntil = 0;
  /** How the latched address proves itself; made with the first latch. */
  #consent: AddressConsent | null = null;
  /** The channel this session is a member of, and its slot there (relay-channel.ts); set on joining it. */
  channel: RelayChannel | null = null;
  channelSlot = -1;
  /**
   * Rate limits, made on first use: an idle session never needs them. Each is made as of the
   * install time and full, exactly the state an unused bucket made at install would be in.
   */
  #packetBucket: TokenBucket | null = null;
  #byteBucket: TokenBucket | null = null;
  #sourceBudgets: SourceBudgets | null = null;
  readonly #limits: SessionLimits;
  readonly #backend: SrtpCryptoBackend;
  /** Newest first; at most two. */
  #epochs: KeyEpoch[];
  /**
   * The epoch whose relay→client keys the client is known to hold; null when it holds none the
   * relay still has (a rotation overlap ended before the client used its new keys).
   */
  #sendEpoch: KeyEpoch | null;
  /**
   * `#sendEpoch`'s outbound context once asked for (null until then, and again whenever the send
   * epoch changes): the forwarding loop asks for it for every listener of every packet, and this
   * spares it a read of the epoch object. Still derived lazily, by the epoch, on first use.
   */
  #sendContext: SrtpContext | null = null;
  #closed = false;

  constructor(spec: SessionSpec, backend: SrtpCryptoBackend, limits: SessionLimits, now: number) {
    this.sessionId = spec.sessionId;
    this.userId = spec.userId;
    this.channelId = spec.channelId;
    this.profile = spec.profile;
    this.canSpeak = spec.canSpeak;
    this.canListen = spec.canListen;
    this.muted = spec.muted;
    this.deafened = spec.deafened;
    this.expiresAt = spec.expiresAt;
    this.installedAt = now;
    this.lastActiveAt = now;
    this.#backend = backend;
    this.#limits = limits;
    const epoch = new KeyEpoch(spec.ssrc, now, spec.profile, spec, backend, limits.replayWindowSize, limits.keyUsageAtInstall);
    this.#epochs = [epoch];
    this.#sendEpoch = epoch;
  }

  /** Packets accepted for authentication from the latched address. */
  get packetBucket(): TokenBucket {
    return (this.#packetBucket ??= new TokenBucket(this.#limits.packetsPerSecond, this.#limits.packetBurst, this.installedAt));
  }

  /** Bytes of voice forwarded. */
  get byteBucket(): TokenBucket {
    return (this.#byteBucket ??= new TokenBucket(this.#limits.bytesPerSecond, this.#limits.byteBurst, this.installedAt));
  }

  /** Packets accepted for authentication from other addresses (before the first latch, too), per source. */
  get sourceBudgets(): SourceBudgets {
    return (this.#sourceBudgets ??= new SourceBudgets(this.#limits.unlatchedPacketsPerSecond));
  }

  get closed(): boolean {
    return this.#closed;
  }

  get epochs(): readonly KeyEpoch[] {
    return this.#epochs;
  }

  /** The SSRC the client currently sends with (the newest epoch's). */
  get ssrc(): number {
    return this.#epochs[0]!.ssrc;
  }

  /**
   * Context for packets the relay sends to this client, under keys the client is known to hold
   * (docs/protocol.md §6.5). There may be none (a TypeError): the router asks only after
   * `receivesVoice` or after an authenticated packet, both of which imply there are.
   */
  get outbound(): SrtpContext {
    // The throw lives in a function of its own, so this getter stays small enough to inline.
    return this.#sendContext ?? (this.#sendContext = (this.#sendEpoch ?? noSendKeys()).outbound);
  }

  /** Whether the current keys reached the soft key-usage limit: the relay asks for a rotation. */
  get rekeyRequested(): boolean {
    return this.#epochs[0]!.rekeyRequested;
  }

  /** How the latched address proves itself (cookies, the 3× limit); null before the first packet. */
  get consent(): AddressConsent | null {
    return this.#consent;
  }

  /** Whether the latched address has consent now: voice may go there (docs/protocol.md §6.3). */
  proved(now: number): boolean {
    return now < this.provedUntil;
  }

  /** A keepalive from the latched address echoed `high`/`low`: consent is extended if it is the cookie sent there. */
  noteEcho(high: number, low: number, lifetimeMs: number): void {
    const until = this.#consent?.answer(high, low, lifetimeMs) ?? 0;
    if (until > this.provedUntil) this.provedUntil = until;
  }

  /**
   * Whether forwarded voice should reach this client now: it may listen, is not deafened, its
   * latched address has consent (docs/protocol.md §6.3), and the relay holds keys the client is
   * known to hold (§6.5).
   */
  receivesVoice(now: number): boolean {
    return this.canListen && !this.deafened && this.#sendEpoch !== null && now < this.provedUntil;
  }

  /** Whether this client's voice may be forwarded now. */
  get speaking(): boolean {
    return this.canSpeak && !this.muted;
  }

  /**
   * Records an authenticated datagram of `bytes` under `epoch` from `from`: refreshes the idle
   * timer, latches the address — the first one, or a new one if this packet is the newest of its
   * stream (`newest`: a packet delayed on an old path cannot move it back) — and counts the bytes
   * toward the address's amplification limit. Returns whether the latched address changed: the
   * new one must prove itself (the caller sends it a challenge).
   */
  noteAuthenticated(epoch: KeyEpoch, from: RemoteAddress, bytes: number, newest: boolean, now: number): boolean {
    this.lastActiveAt = now;
    // The client sent under these keys, so it holds them: send to it under them from now on.
    const sendEpoch = this.#sendEpoch;
    if (epoch !== sendEpoch && (sendEpoch === null || this.#epochs.indexOf(epoch) < this.#epochs.indexOf(sendEpoch))) {
      this.#setSendEpoch(epoch);
    }
    const latched = this.address;
    if (latched !== null && latched.port === from.port && latched.address === from.address) {
      // Bytes count toward the 3× limit only while the address has not proved itself.
      if (now >= this.provedUntil) this.#consent!.noteReceived(bytes);
      return false;
    }
    if (latched !== null && !newest) return false;
    // A copy, not `from`: node:dgram's rinfo carries more than we keep. One shape for every
    // latched address, so the forwarding loop's property reads stay monomorphic.
    this.address = { address: from.address, port: from.port, ipv4: from.ipv4 };
    this.batchIpv4 = from.ipv4 === undefined ? 0 : from.ipv4 | 0;
    this.batchPort = from.ipv4 === undefined ? -1 : from.port;
    this.provedUntil = 0;
    const consent = (this.#consent ??= new AddressConsent());
    consent.reset();
    consent.noteReceived(bytes);
    return true;
  }

  applyPatch(patch: SessionPatch): void {
    if (patch.canSpeak !== undefined) this.canSpeak = patch.canSpeak;
    if (patch.canListen !== undefined) this.canListen = patch.canListen;
    if (patch.muted !== undefined) this.muted = patch.muted;
    if (patch.deafened !== undefined) this.deafened = patch.deafened;
    if (patch.expiresAt !== undefined) this.expiresAt = patch.expiresAt;
  }

  /**
   * Adds a new key epoch; the current one stays valid until `now + overlapMs`. An epoch still
   * in its overlap from an earlier rotation is dropped (and returned) first.
   */
  rotate(keys: SessionKeyMaterial, now: number, overlapMs: number): KeyEpoch[] {
    const dropped = this.#epochs.slice(1);
    for (const old of dropped) old.close();
    const current = this.#epochs[0]!;
    current.retiresAt = now + overlapMs;
    const next = new KeyEpoch(keys.ssrc, now, this.profile, keys, this.#backend, this.#limits.replayWindowSize, this.#limits.keyUsageAtInstall);
    this.#epochs = [next, current];
    // The client never used `current`'s keys (it would be the send epoch): it holds none left.
    if (this.#sendEpoch !== null && dropped.includes(this.#sendEpoch)) this.#setSendEpoch(null);
    return dropped;
  }

  /**
   * Ends the overlap of a retired epoch whose time has come; returns it, or null. If the client
   * never used the newer keys, the relay now holds no relay→client keys it knows the client
   * has: it sends the client nothing until the client's first packet under the new keys
   * (docs/protocol.md §6.5), rather than switching to keys the client may not have installed.
   */
  retireExpiredEpoch(now: number): KeyEpoch | null {
    const old = this.#epochs[1];
    if (old === undefined || old.retiresAt === null || old.retiresAt > now) return null;
    old.close();
    this.#epochs = [this.#epochs[0]!];
    if (this.#sendEpoch === old) this.#setSendEpoch(null);
    return old;
  }

  /** Changes the epoch voice is sent under, and forgets the context cached for the old one. */
  #setSendEpoch(epoch: KeyEpoch | null): void {
    this.#sendEpoch = epoch;
    this.#sendContext = null;
  }

  /** Wipes every key. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const epoch of this.#epochs) epoch.close();
  }
}
