/**
 * The client's side of one voice session with a relay, without sockets: it numbers and
 * protects outgoing voice, builds keepalives, and opens what the relay sends back. The app
 * moves the bytes (UDP in Node, a native socket elsewhere).
 *
 * Streams Parley numbers itself start below 2^15 (docs/protocol.md §2.6), so a receiver's first
 * ROC guess is never ambiguous.
 *
 * On a key rotation the app makes a new ClientMediaSession for the new SSRC and keys, sends with
 * it at once, and keeps the old one to open what arrives under the old keys until the overlap
 * ends (the relay switches to the new keys after the first packet it receives under them).
 */
import { SrtpContext } from '../srtp/context.js';
import type { SrtpCryptoBackend } from '../srtp/crypto-backend.js';
import { isRtcpPacket } from '../srtp/demux.js';
import type { SrtpMasterKeys } from '../srtp/master-keys.js';
import type { SrtpProfileName } from '../srtp/profiles.js';
import { parseRtpPacket, serializeRtpPacket } from '../srtp/rtp-header.js';
import { decodeKeepalive, encodeKeepalive, KEEPALIVE_TOKEN_LENGTH } from '../protocol/keepalive.js';

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
  | { readonly kind: 'voice'; readonly ssrc: number; readonly sequenceNumber: number; readonly timestamp: number; readonly payload: Uint8Array }
  | { readonly kind: 'pong'; readonly token: Uint8Array }
  | { readonly kind: 'rtcp' };

export class ClientMediaSession {
  readonly ssrc: number;
  readonly #send: SrtpContext;
  readonly #receive: SrtpContext;
  readonly #payloadType: number;
  readonly #timestampStep: number;
  #sequence: number;
  #timestamp = 0;

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

  /** Next sequence number this session will send. */
  get nextSequence(): number {
    return this.#sequence;
  }

  /** One voice frame, SRTP-protected, ready to send to the relay. */
  protectVoice(payload: Uint8Array, marker = false): Uint8Array {
    const packet = serializeRtpPacket(
      { padding: false, marker, payloadType: this.#payloadType, sequenceNumber: this.#sequence, timestamp: this.#timestamp, ssrc: this.ssrc, csrcs: [], extension: null },
      payload,
    );
    this.#sequence = (this.#sequence + 1) & 0xffff;
    this.#timestamp = (this.#timestamp + this.#timestampStep) >>> 0;
    return this.#send.protectRtp(packet);
  }

  /** A keepalive ping carrying an 8-byte token the relay echoes (e.g. a send timestamp). */
  protectKeepalive(token: Uint8Array): Uint8Array {
    if (token.length !== KEEPALIVE_TOKEN_LENGTH) throw new RangeError('media session: keepalive token must be 8 bytes');
    return this.#send.protectRtcp(encodeKeepalive('ping', this.ssrc, token));
  }

  /** Opens a datagram from the relay. Throws SrtpError for anything that does not authenticate. */
  open(datagram: Uint8Array): ReceivedMedia {
    const rtcp = isRtcpPacket(datagram);
    const plain = rtcp ? this.#receive.unprotectRtcp(datagram) : this.#receive.unprotectRtp(datagram);
    if (rtcp) {
      const keepalive = decodeKeepalive(plain);
      return keepalive?.kind === 'pong' ? { kind: 'pong', token: keepalive.token } : { kind: 'rtcp' };
    }
    const { header, payload } = parseRtpPacket(plain);
    return { kind: 'voice', ssrc: header.ssrc, sequenceNumber: header.sequenceNumber, timestamp: header.timestamp, payload };
  }

  /** Wipes all keys. Idempotent. */
  close(): void {
    this.#send.close();
    this.#receive.close();
  }
}
