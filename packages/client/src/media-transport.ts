/**
 * The media plane's edge (docs/protocol.md §6): one UDP socket to the relay, the client media
 * session(s) that protect and open what goes over it (shared/client/media-session.ts), the
 * keepalive timer (shared/client/keepalive-schedule.ts), a jitter buffer per received SSRC
 * (shared/client/jitter-buffer.ts) and the round-trip estimate (shared/client/round-trip.ts).
 *
 * What it does on the wire, as §6.3 and §6.9 require:
 *   - everything from one socket, so the address the relay latches is where voice comes back;
 *   - a ping at once when it opens (and after a rotation or a move), then every 5 s (every 1 s while it sends voice, §5.9);
 *   - a challenge is answered at once, once per cookie; every ping echoes the newest cookie;
 *   - a pong overdue makes it probe every 500 ms, and after 2 s it reports `unreachable`.
 *
 * Keys: the caller's master keys are copied into the SRTP contexts; the caller wipes its own
 * copies (SessionKeys.wipe()). close() wipes the contexts' keys.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { randomInt } from 'node:crypto';
import { ClientMediaSession } from '../../../shared/client/media-session.js';
import { JitterBuffer, type JitterBufferOptions, type JitterStats } from '../../../shared/client/jitter-buffer.js';
import { KeepaliveSchedule, type KeepaliveScheduleOptions } from '../../../shared/client/keepalive-schedule.js';
import { decodeTimeToken, encodeTimeToken, RoundTripEstimator, type RoundTripStats } from '../../../shared/client/round-trip.js';
import { nodeCryptoBackend } from '../../../shared/srtp/backends/node-crypto.js';
import { SrtpError } from '../../../shared/srtp/errors.js';
import type { SrtpMasterKeys } from '../../../shared/srtp/master-keys.js';
import type { SrtpProfileName } from '../../../shared/srtp/profiles.js';
import { ClosedError } from './errors.js';

/** Where the relay listens for a session (the `udpEndpoint` of §5.5 / §8.5). */
export interface UdpEndpoint {
  readonly host: string;
  readonly port: number;
}

/** One set of keys for the media plane: what the key exchange produced (§3.4). */
export interface MediaKeys {
  readonly ssrc: number;
  readonly profile: SrtpProfileName;
  /** clientToRelay: what this client protects. */
  readonly sendKeys: SrtpMasterKeys;
  /** relayToClient: what this client opens. */
  readonly receiveKeys: SrtpMasterKeys;
}

export interface MediaTransportOptions {
  readonly endpoint: UdpEndpoint;
  readonly keys: MediaKeys;
  /** Local address to bind (default: every interface of the endpoint's family). */
  readonly bindAddress?: string;
  /** RTP payload type of what this client sends (default 111, Opus by convention; never 64–95). */
  readonly payloadType?: number;
  /**
   * First RTP sequence number of what this client sends, and after each rotation or move
   * (default: random below 2^15, as RFC 3550 §5.1 recommends and docs/protocol.md §6.1 requires).
   * Must be below 2^15.
   */
  readonly initialSequence?: number;
  /** RTP timestamp step per frame when sendAudio() is not told (default 960: 20 ms at 48 kHz). */
  readonly timestampStep?: number;
  readonly keepalive?: KeepaliveScheduleOptions;
  readonly jitter?: JitterBufferOptions;
  /**
   * How long, after a rotation, datagrams under the previous keys are still opened (default 12 s:
   * the relay's 10 s overlap, §6.5, and some slack).
   */
  readonly rotationOverlapMs?: number;
}

/** A frame of another member's voice, in order, as the jitter buffer releases it. */
export interface ReceivedFrame {
  /** The speaker's SSRC (the roster maps it to a member, §5.6). */
  readonly ssrc: number;
  /** RTP sequence number as the relay numbered it for this client (§6.7). */
  readonly sequenceNumber: number;
  /** Its SRTP packet index (ROC · 2^16 + SEQ, §2.6) in this client's receiving context. */
  readonly index: number;
  readonly timestamp: number;
  readonly payload: Uint8Array;
  /** Frames of this stream given up as lost just before this one: conceal them. */
  readonly lostBefore: number;
}

export interface MediaTransportEvents {
  frame: [frame: ReceivedFrame];
  /** The relay's view of this address changed: proved (voice flows to it) or not (§6.3). */
  consent: [info: { readonly proved: boolean }];
  /** A round-trip sample from a pong, ms. */
  rtt: [ms: number];
  /** No pong for the probing time (§5.9): the relay may be down. Once per outage. */
  unreachable: [];
  /** A pong again after `unreachable`. */
  reachable: [];
  /** A socket error that did not stop the transport (e.g. a send while the network is down). */
  socketError: [error: Error];
}

export interface MediaTransportStats {
  readonly addressProved: boolean;
  readonly ssrc: number;
  readonly endpoint: UdpEndpoint;
  /** `lastIndex`: the SRTP packet index (ROC · 2^16 + SEQ, §2.6) of the last voice packet sent under the current keys; -1 before one. */
  readonly sent: { readonly packets: number; readonly bytes: number; readonly keepalives: number; readonly lastIndex: number };
  readonly received: { readonly datagrams: number; readonly voice: number; readonly keepalives: number; readonly rejected: number };
  readonly rtt: RoundTripStats;
  /** Per speaker SSRC. */
  readonly streams: ReadonlyMap<number, JitterStats>;
}

interface Stream {
  readonly buffer: JitterBuffer;
  lastActivity: number;
}

/** A stream with nothing held and no packet for this long is forgotten (SSRCs change on rotation). */
const STREAM_IDLE_MS = 60_000;

export class MediaTransport extends EventEmitter<MediaTransportEvents> {
  readonly #socket: Socket;
  readonly #options: MediaTransportOptions;
  readonly #schedule: KeepaliveSchedule;
  readonly #rtt = new RoundTripEstimator();
  readonly #streams = new Map<number, Stream>();
  #endpoint: UdpEndpoint;
  #address: string;
  #session: ClientMediaSession;
  /** Sessions under earlier keys, opened until their overlap ends. */
  #previous: Array<{ session: ClientMediaSession; until: number }> = [];
  #keepaliveTimer: NodeJS.Timeout | null = null;
  #jitterTimer: NodeJS.Timeout | null = null;
  #jitterTimerAt = Infinity;
  #addressProved = false;
  #unreachable = false;
  #closed = false;
  #sentPackets = 0;
  #sentBytes = 0;
  #sentKeepalives = 0;
  #datagrams = 0;
  #voice = 0;
  #keepalivesIn = 0;
  #rejected = 0;

  private constructor(socket: Socket, address: string, options: MediaTransportOptions) {
    super();
    this.#socket = socket;
    this.#options = options;
    this.#endpoint = { host: options.endpoint.host, port: options.endpoint.port };
    this.#address = address;
    this.#schedule = new KeepaliveSchedule(options.keepalive);
    this.#session = this.#newSession(options.keys);
    socket.on('message', (message, from) => this.#onDatagram(message, from));
    socket.on('error', (error) => this.emit('socketError', error));
  }

  /** Binds the socket and sends the first ping (§6.3: at once). */
  static async open(options: MediaTransportOptions): Promise<MediaTransport> {
    checkEndpoint(options.endpoint);
    const first = options.initialSequence;
    if (first !== undefined && (!Number.isInteger(first) || first < 0 || first >= 0x8000)) {
      throw new RangeError('media transport: initialSequence must be an integer in [0, 2^15) (docs/protocol.md §6.1)');
    }
    const address = await resolve(options.endpoint.host);
    const socket = createSocket({ type: isIP(address) === 6 ? 'udp6' : 'udp4' });
    try {
      await new Promise<void>((resolveBind, reject) => {
        socket.once('error', reject);
        socket.bind(0, options.bindAddress, () => {
          socket.off('error', reject);
          resolveBind();
        });
      });
    } catch (error) {
      socket.close();
      throw error;
    }
    const transport = new MediaTransport(socket, address, options);
    transport.#tick();
    return transport;
  }

  /** The local UDP port (what the relay sees, before any NAT). */
  get localPort(): number {
    return this.#socket.address().port;
  }

  get ssrc(): number {
    return this.#session.ssrc;
  }

  get endpoint(): UdpEndpoint {
    return this.#endpoint;
  }

  get addressProved(): boolean {
    return this.#addressProved;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends one frame of audio (e.g. one Opus packet) as SRTP. `duration` is the frame's length
   * in RTP clock units (default `timestampStep`); `marker` sets the RTP marker bit (the first
   * packet after silence).
   */
  sendAudio(payload: Uint8Array, options: { readonly marker?: boolean; readonly duration?: number } = {}): void {
    this.#assertOpen();
    if (!(payload instanceof Uint8Array)) throw new TypeError('media transport: payload must be a Uint8Array');
    this.#send(this.#session.protectVoice(payload, options.marker ?? false, options.duration));
    this.#sentPackets++;
    // Talking pings more often (§5.9): the timer set while silent may be too far off.
    if (this.#schedule.voiceSent(performance.now())) this.#tick();
  }

  /** Sends a ping now (the schedule sends them by itself). */
  ping(): void {
    this.#assertOpen();
    this.#sendPing(performance.now());
  }

  /**
   * New keys and SSRC for the same relay session (§6.5): sends with them at once, pings at once
   * (so the relay switches even while this client is silent), and keeps opening what arrives
   * under the old keys for the overlap.
   */
  rotate(keys: MediaKeys): void {
    this.#assertOpen();
    const now = performance.now();
    this.#previous.push({ session: this.#session, until: now + (this.#options.rotationOverlapMs ?? 12_000) });
    this.#session = this.#newSession(keys);
    this.#sendPing(now);
    this.#tick();
  }

  /**
   * A new relay session on another endpoint (§5.9): the old keys are wiped at once (that relay
   * session is gone), voice goes to the new endpoint from the same socket, the address must be
   * proved there, and the keepalive schedule starts over.
   */
  async move(endpoint: UdpEndpoint, keys: MediaKeys): Promise<void> {
    this.#assertOpen();
    checkEndpoint(endpoint);
    const address = await resolve(endpoint.host);
    if (this.#closed) throw new ClosedError('The media transport');
    if (isIP(address) !== isIP(this.#address)) throw new RangeError('media transport: cannot move between IPv4 and IPv6 on one socket');
    this.#session.close();
    for (const { session } of this.#previous) session.close();
    this.#previous = [];
    this.#session = this.#newSession(keys);
    this.#endpoint = { host: endpoint.host, port: endpoint.port };
    this.#address = address;
    this.#setProved(false);
    this.#unreachable = false;
    // The speakers' streams on the new relay have new SSRCs; what is held of the old ones goes out.
    for (const [ssrc, stream] of this.#streams) this.#emitFrames(ssrc, stream.buffer.flush());
    this.#streams.clear();
    this.#schedule.restart();
    this.#tick();
  }

  stats(): MediaTransportStats {
    return {
      addressProved: this.#addressProved,
      ssrc: this.#session.ssrc,
      endpoint: this.#endpoint,
      sent: { packets: this.#sentPackets, bytes: this.#sentBytes, keepalives: this.#sentKeepalives, lastIndex: this.#session.lastSentIndex },
      received: { datagrams: this.#datagrams, voice: this.#voice, keepalives: this.#keepalivesIn, rejected: this.#rejected },
      rtt: this.#rtt.stats(),
      streams: new Map([...this.#streams].map(([ssrc, stream]) => [ssrc, stream.buffer.stats()])),
    };
  }

  /** Stops the timers, wipes every key and closes the socket. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#keepaliveTimer !== null) clearTimeout(this.#keepaliveTimer);
    if (this.#jitterTimer !== null) clearTimeout(this.#jitterTimer);
    this.#session.close();
    for (const { session } of this.#previous) session.close();
    this.#previous = [];
    this.#streams.clear();
    await new Promise<void>((resolveClose) => {
      try {
        this.#socket.close(() => resolveClose());
      } catch {
        resolveClose(); // already closed
      }
    });
    this.removeAllListeners();
  }

  #newSession(keys: MediaKeys): ClientMediaSession {
    return new ClientMediaSession({
      profile: keys.profile,
      ssrc: keys.ssrc,
      sendKeys: keys.sendKeys,
      receiveKeys: keys.receiveKeys,
      backend: nodeCryptoBackend,
      // §6.1: the first sequence number below 2^15 (random, as RFC 3550 §5.1 recommends).
      initialSequence: this.#options.initialSequence ?? randomInt(0x8000),
      ...(this.#options.payloadType === undefined ? {} : { payloadType: this.#options.payloadType }),
      ...(this.#options.timestampStep === undefined ? {} : { timestampStep: this.#options.timestampStep }),
    });
  }

  #send(datagram: Uint8Array): void {
    this.#sentBytes += datagram.length;
    this.#socket.send(datagram, this.#endpoint.port, this.#address, (error) => {
      if (error && !this.#closed) this.emit('socketError', error);
    });
  }

  #sendPing(now: number): void {
    this.#send(this.#session.protectKeepalive(encodeTimeToken(now)));
    this.#sentKeepalives++;
    this.#schedule.pingSent(now);
  }

  /** The keepalive timer: pings when due, reports an outage, forgets idle streams and old keys. */
  #tick(): void {
    if (this.#closed) return;
    if (this.#keepaliveTimer !== null) clearTimeout(this.#keepaliveTimer);
    const now = performance.now();
    if (this.#schedule.nextPingAt(now) <= now) this.#sendPing(now);
    if (this.#schedule.takeUnreachableReport(now)) {
      this.#unreachable = true;
      this.emit('unreachable');
    }
    this.#previous = this.#previous.filter(({ session, until }) => {
      if (until > now) return true;
      session.close();
      return false;
    });
    for (const [ssrc, stream] of this.#streams) {
      if (stream.buffer.stats().buffered === 0 && now - stream.lastActivity > STREAM_IDLE_MS) this.#streams.delete(ssrc);
    }
    const report = this.#schedule.nextReportAt(now);
    const next = Math.min(this.#schedule.nextPingAt(now), report ?? Infinity, ...this.#previous.map((p) => p.until));
    this.#keepaliveTimer = setTimeout(() => this.#tick(), Math.max(1, Math.ceil(next - now)));
  }

  #onDatagram(datagram: Buffer, from: RemoteInfo): void {
    if (this.#closed) return;
    this.#datagrams++;
    // Only the relay's endpoint speaks to this socket; anything else is not even decrypted.
    if (from.port !== this.#endpoint.port || from.address !== this.#address) {
      this.#rejected++;
      return;
    }
    const now = performance.now();
    let opened: ReturnType<ClientMediaSession['open']> | null = null;
    let openedBy: ClientMediaSession | null = null;
    for (const session of [this.#session, ...this.#previous.map((p) => p.session)]) {
      try {
        opened = session.open(new Uint8Array(datagram.buffer, datagram.byteOffset, datagram.byteLength));
        openedBy = session;
        break;
      } catch (error) {
        // Anything that does not authenticate is SrtpError; anything else is a bug, but a
        // datagram must never take the process down from inside a socket callback.
        if (!(error instanceof SrtpError)) this.emit('socketError', error instanceof Error ? error : new Error(String(error)));
      }
    }
    if (opened === null || openedBy === null) {
      this.#rejected++; // not ours, forged, replayed or too old: nothing changes (§2.5)
      return;
    }
    if (opened.kind === 'voice') {
      this.#voice++;
      this.#receiveVoice(opened.ssrc, { sequenceNumber: opened.sequenceNumber, index: opened.index, timestamp: opened.timestamp, payload: opened.payload }, now);
      return;
    }
    if (opened.kind !== 'pong') return;
    this.#keepalivesIn++;
    this.#schedule.pongReceived(now);
    if (this.#unreachable) {
      this.#unreachable = false;
      this.emit('reachable');
    }
    const rtt = this.#rtt.sample(decodeTimeToken(opened.token), now);
    if (rtt !== null) this.emit('rtt', rtt);
    // A pong or challenge under the keys this client sends with says where it stands; one
    // that comes under earlier keys (the overlap) is older news.
    if (openedBy === this.#session) this.#setProved(opened.addressProved);
    if (opened.echoNow) this.#sendPing(now); // a challenge: echo its cookie at once (§6.3)
    this.#tick();
  }

  #receiveVoice(ssrc: number, packet: { sequenceNumber: number; index: number; timestamp: number; payload: Uint8Array }, now: number): void {
    let stream = this.#streams.get(ssrc);
    if (stream === undefined) {
      stream = { buffer: new JitterBuffer(this.#options.jitter), lastActivity: now };
      this.#streams.set(ssrc, stream);
    }
    stream.lastActivity = now;
    stream.buffer.push(packet, now);
    this.#emitFrames(ssrc, stream.buffer.release(now));
    this.#armJitterTimer(now);
  }

  #emitFrames(ssrc: number, frames: ReturnType<JitterBuffer['release']>): void {
    for (const frame of frames) {
      this.emit('frame', { ssrc, sequenceNumber: frame.sequenceNumber, index: frame.index ?? -1, timestamp: frame.timestamp, payload: frame.payload, lostBefore: frame.lostBefore });
    }
  }

  /** One timer for the earliest moment any stream gives a gap up. */
  #armJitterTimer(now: number): void {
    let earliest = Infinity;
    for (const stream of this.#streams.values()) {
      const deadline = stream.buffer.nextDeadline();
      if (deadline !== null && deadline < earliest) earliest = deadline;
    }
    if (earliest === this.#jitterTimerAt) return;
    if (this.#jitterTimer !== null) clearTimeout(this.#jitterTimer);
    this.#jitterTimer = null;
    this.#jitterTimerAt = earliest;
    if (earliest === Infinity) return;
    this.#jitterTimer = setTimeout(() => {
      this.#jitterTimer = null;
      this.#jitterTimerAt = Infinity;
      if (this.#closed) return;
      const at = performance.now();
      for (const [ssrc, stream] of this.#streams) this.#emitFrames(ssrc, stream.buffer.release(at));
      this.#armJitterTimer(at);
    }, Math.max(0, Math.ceil(earliest - now)));
  }

  #setProved(proved: boolean): void {
    if (proved === this.#addressProved) return;
    this.#addressProved = proved;
    this.emit('consent', { proved });
  }

  #assertOpen(): void {
    if (this.#closed) throw new ClosedError('The media transport');
  }
}

function checkEndpoint(endpoint: UdpEndpoint): void {
  if (typeof endpoint !== 'object' || endpoint === null || typeof endpoint.host !== 'string' || endpoint.host.length === 0) {
    throw new TypeError('media transport: endpoint must be { host, port }');
  }
  if (!Number.isInteger(endpoint.port) || endpoint.port < 1 || endpoint.port > 65535) throw new RangeError('media transport: endpoint.port must be 1..65535');
}

/** The endpoint's address, looked up once (not for every datagram). */
async function resolve(host: string): Promise<string> {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(bare) !== 0) return bare;
  return (await lookup(bare)).address;
}
