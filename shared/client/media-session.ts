/**
 * The client's side of one voice session with a relay, without sockets: it numbers and
 * protects outgoing voice, builds keepalives, and opens what the relay sends back. The app
 * moves the bytes (UDP in Node, a native socket elsewhere), all from one socket.
 *
 * What the app must do (docs/protocol.md §6.2–6.3):
 *   - send a keepalive (`protectKeepalive`) as soon as it joins, then every 5 s: the relay sends
 *     voice only to an address that proved it receives there;
 *   - when `open` returns a pong with `echoNow`, send a keepalive at once: the relay challenged
 *     this address, and the keepalive carries the cookie back (this session keeps the latest
 *     cookie and puts it in every keepalive). That exchange takes one round trip at join and
 *     after a NAT rebinding, and voice starts when it is done.
 *
 * Streams Parley numbers itself start below 2^15 (docs/protocol.md §6.1), so a receiver that
 * misses the first packets still has 2^15 packets to catch one before the first wrap.
 *
 * On a key rotation the app makes a new ClientMediaSession for the new SSRC and keys, sends with
 * it at once (a keepalive first, if it is not talking), and keeps the old one to open what arrives
 * under the old keys until the overlap ends (the relay switches to the new keys after the first
 * packet it receives under them).
 */
import { SrtpContext } from '../srtp/context.js';
import type { SrtpCryptoBackend } from '../srtp/crypto-backend.js';
import { isRtcpPacket } from '../srtp/demux.js';
import type { SrtpMasterKeys } from '../srtp/master-keys.js';
import type { SrtpProfileName } from '../srtp/profiles.js';
import { parseRtpPacket, serializeRtpPacket } from '../srtp/rtp-header.js';
import { constantTimeEqual } from '../bytes.js';
import { decodeKeepalive, encodeKeepalive, KEEPALIVE_COOKIE_LENGTH, KEEPALIVE_TOKEN_LENGTH } from '../protocol/keepalive.js';

export interface MediaSessionOptions {
  readonly profile: SrtpProfileName;
  readonly ssrc: number;
  /** Keys for what this client sends (client → relay). */
  readonly sendKeys: SrtpMasterKeys;
  /** Keys for what the relay sends this client (relay → client). */
  readonly receiveKeys: SrtpMasterKeys;
  readonly backend: SrtpCryptoBackend;
  readonly payloadType?: number;
  /** First sequence number; must be below 2^15 (default 0). */
  readonly initialSequence?: number;
  /** RTP timestamp step per packet (default 960: 20 ms of 48 kHz Opus). */
  readonly timestampStep?: number;
}

export type ReceivedMedia =
  | {
      readonly kind: 'voice';
      readonly ssrc: number;
      readonly sequenceNumber: number;
      /** The packet index (ROC · 2^16 + SEQ, RFC 3711 §3.3.1) this receiver estimated and authenticated it under. */
      readonly index: number;
      readonly timestamp: number;
      readonly payload: Uint8Array;
    }
  | {
      readonly kind: 'pong';
      /** The token of the ping it answers (all zero in a challenge the relay sent unprompted). */
      readonly token: Uint8Array;
      /** Whether the relay holds this address proved (sends voice to it); false in a challenge. */
      readonly addressProved: boolean;
      /** Send a keepalive now: a challenge with a cookie this session has not yet answered at once. */
      readonly echoNow: boolean;
    }
  | { readonly kind: 'rtcp' };

export class ClientMediaSession {
  readonly ssrc: number;
  readonly #send: SrtpContext;
  readonly #receive: SrtpContext;
  readonly #payloadType: number;
  readonly #timestampStep: number;
  #sequence: number;
  #timestamp = 0;
  /** The cookie of the newest pong or challenge, echoed in every keepalive (zero before one). */
  readonly #cookie = new Uint8Array(KEEPALIVE_COOKIE_LENGTH);
  /** The last challenge's cookie answered at once, so a repeated challenge is answered only once. */
  readonly #answeredAtOnce = new Uint8Array(KEEPALIVE_COOKIE_LENGTH);
  #addressProved = false;

  constructor(options: MediaSessionOptions) {
    const initial = options.initialSequence ?? 0;
    if (!Number.isInteger(initial) || initial < 0 || initial >= 0x8000) {
      throw new RangeError('media session: initialSequence must be an integer in [0, 2^15)');
    }
    this.ssrc = options.ssrc;
    this.#sequence = initial;
    this.#payloadType = options.payloadType ?? 111;
    this.#timestampStep = options.timestampStep ?? 960;
    this.#send = new SrtpContext({ profile: options.profile, backend: options.backend, ...options.sendKeys });
    this.#receive = new SrtpContext({ profile: options.profile, backend: options.backend, ...options.receiveKeys });
  }

  /** Whether the relay's newest pong said this address is proved (voice flows to it). */
  get addressProved(): boolean {
    return this.#addressProved;
  }

  /** Next sequence number this session will send. */
  get nextSequence(): number {
    return this.#sequence;
  }

  /** The packet index (ROC · 2^16 + SEQ) of the last voice packet protected; -1 before the first. */
  get lastSentIndex(): number {
    return this.#send.lastRtpIndex;
  }

  /**
   * One voice frame, SRTP-protected, ready to send to the relay. `duration` is how far the RTP
   * timestamp advances after it, in clock units (default: the session's `timestampStep`; Opus
   * at 48 kHz: 480 for 10 ms, 960 for 20 ms, 2880 for 60 ms).
   */
  protectVoice(payload: Uint8Array, marker = false, duration = this.#timestampStep): Uint8Array {
    if (!Number.isInteger(duration) || duration < 0 || duration > 0xffffffff) throw new RangeError('media session: duration must be an integer in 0..2^32-1');
    const packet = serializeRtpPacket(
      { padding: false, marker, payloadType: this.#payloadType, sequenceNumber: this.#sequence, timestamp: this.#timestamp, ssrc: this.ssrc, csrcs: [], extension: null },
      payload,
    );
    this.#sequence = (this.#sequence + 1) & 0xffff;
    this.#timestamp = (this.#timestamp + duration) >>> 0;
    return this.#send.protectRtp(packet);
  }

  /**
   * A keepalive ping carrying an 8-byte token the relay echoes (e.g. a send timestamp) and the
   * latest cookie the relay sent, which proves this address receives.
   */
  protectKeepalive(token: Uint8Array): Uint8Array {
    if (token.length !== KEEPALIVE_TOKEN_LENGTH) throw new RangeError('media session: keepalive token must be 8 bytes');
    return this.#send.protectRtcp(encodeKeepalive('ping', this.ssrc, token, this.#cookie));
  }

  /** Opens a datagram from the relay. Throws SrtpError for anything that does not authenticate. */
  open(datagram: Uint8Array): ReceivedMedia {
    const rtcp = isRtcpPacket(datagram);
    const plain = rtcp ? this.#receive.unprotectRtcp(datagram) : this.#receive.unprotectRtp(datagram);
    if (rtcp) {
      // The relay's pongs come under the SSRC of the ping they answer (this session's own), in
      // the relay→client context, next to the speakers' SSRCs.
      const keepalive = decodeKeepalive(plain);
      if (keepalive === null || keepalive.kind === 'ping') return { kind: 'rtcp' };
      const addressProved = keepalive.kind === 'pong';
      // A pong overtaken by a newer one says nothing new: keep the newer cookie.
      if (!this.#receive.lastOpenedWasNewest) return { kind: 'pong', token: keepalive.token, addressProved, echoNow: false };
      this.#cookie.set(keepalive.cookie);
      this.#addressProved = addressProved;
      const echoNow = !addressProved && !constantTimeEqual(keepalive.cookie, this.#answeredAtOnce);
      if (echoNow) this.#answeredAtOnce.set(keepalive.cookie);
      return { kind: 'pong', token: keepalive.token, addressProved, echoNow };
    }
    const { header, payload } = parseRtpPacket(plain);
    return { kind: 'voice', ssrc: header.ssrc, sequenceNumber: header.sequenceNumber, index: this.#receive.lastRtpIndex, timestamp: header.timestamp, payload };
  }

  /** Wipes all keys. Idempotent. */
  close(): void {
    this.#send.close();
    this.#receive.close();
  }
}
