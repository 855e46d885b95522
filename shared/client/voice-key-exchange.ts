/**
 * The client's side of one key exchange over the voice socket (docs/protocol.md §5.5, the key
 * schedule of §3): a fresh X25519 key pair per exchange, the room's answer checked against what
 * this client asked for and who it is, the keys derived as `client`, the confirmation sent, and
 * the room's confirmation verified in constant time before any key is handed out.
 *
 * Order, as §5.5 and §3.5 require:
 *   1. `init()`: the key_exchange_init message (the public key, the profile asked for).
 *   2. `respond(response)`: the transcript's fields are checked — channelId the channel this
 *      socket joined, userId this client's subject, protocolVersion the one spoken here, profile
 *      the one asked for, the server key usable (§3.3) — the keys derived, the private key wiped;
 *      returns the key_confirmation message.
 *   3. `complete(voiceReady)`: voice_ready must name the same session, relay, SSRC and profile,
 *      and carry the server's confirmation; only then are the SRTP master keys returned (copies:
 *      the derived ones are wiped here).
 * Any failure wipes everything; the exchange cannot be used again.
 *
 * Pure: the randomness source can be passed (tests use the §3.7 vectors).
 */
import { decodeBase64Url, encodeBase64Url } from '../relay-api/base64url.js';
import { deriveSessionKeys, type SessionKeys } from '../keys/key-schedule.js';
import { isKeyScheduleError } from '../keys/errors.js';
import { PROTOCOL_VERSION } from '../keys/transcript.js';
import { generateEphemeralKeyPair, type EphemeralKeyPair, type RandomBytesSource } from '../keys/x25519.js';
import { wipeBytes } from '../bytes.js';
import type { SrtpMasterKeys } from '../srtp/master-keys.js';
import type { SrtpProfileName } from '../srtp/profiles.js';
import type { RoomMessageOf } from './voice-messages.js';

/** Why an exchange was abandoned (the client sends `leave` or starts again; nothing is kept). */
export type KeyExchangeFailure =
  | 'channel_mismatch'
  | 'user_mismatch'
  | 'protocol_version_mismatch'
  | 'profile_mismatch'
  | 'bad_server_key'
  | 'session_mismatch'
  | 'server_confirmation_failed'
  | 'out_of_order';

export class KeyExchangeError extends Error {
  override name = 'KeyExchangeError';
  readonly reason: KeyExchangeFailure;
  constructor(reason: KeyExchangeFailure, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** What a completed exchange gives the media plane (§6): the client's SSRC and both directions' keys. */
export interface NegotiatedMedia {
  readonly purpose: 'join' | 'rotate' | 'move';
  readonly sessionId: string;
  readonly relayId: string;
  readonly ssrc: number;
  readonly profile: SrtpProfileName;
  /** clientToRelay: what the client protects. */
  readonly sendKeys: SrtpMasterKeys;
  /** relayToClient: what the client opens. */
  readonly receiveKeys: SrtpMasterKeys;
}

export interface ClientKeyExchangeOptions {
  /** The channel this socket connected to (§5.2). */
  readonly channelId: string;
  /** This client's subject, from `authenticated` (§5.4). */
  readonly subject: string;
  readonly profile?: SrtpProfileName;
  readonly randomBytes?: RandomBytesSource;
}

type State = 'created' | 'sent' | 'confirmed' | 'done';

export class ClientKeyExchange {
  readonly profile: SrtpProfileName;
  readonly #channelId: string;
  readonly #subject: string;
  #pair: EphemeralKeyPair | null;
  #keys: SessionKeys | null = null;
  #response: RoomMessageOf<'key_exchange_response'> | null = null;
  #state: State = 'created';

  constructor(options: ClientKeyExchangeOptions) {
    this.profile = options.profile ?? 'aes128gcm';
    this.#channelId = options.channelId;
    this.#subject = options.subject;
    this.#pair = options.randomBytes === undefined ? generateEphemeralKeyPair() : generateEphemeralKeyPair(options.randomBytes);
  }

  /** The key_exchange_init message (step 1). */
  init(): { readonly type: 'key_exchange_init'; readonly clientPublicKey: string; readonly profile: SrtpProfileName } {
    if (this.#state !== 'created' || this.#pair === null) this.#fail('out_of_order', 'voice: key_exchange_init was already sent');
    this.#state = 'sent';
    return { type: 'key_exchange_init', clientPublicKey: encodeBase64Url(this.#pair.publicKey), profile: this.profile };
  }

  /** Checks the room's key_exchange_response and derives the keys (step 2); the key_confirmation message. */
  respond(response: RoomMessageOf<'key_exchange_response'>): { readonly type: 'key_confirmation'; readonly clientConfirmation: string } {
    if (this.#state !== 'sent' || this.#pair === null) this.#fail('out_of_order', 'voice: key_exchange_response without a pending key_exchange_init');
    // The transcript binds these fields; a room that names another channel or user, or another
    // version or profile than asked, is not the exchange this client meant to run (§5.5 step 3).
    if (response.channelId !== this.#channelId) this.#fail('channel_mismatch', 'voice: the key exchange names another channel');
    if (response.userId !== this.#subject) this.#fail('user_mismatch', 'voice: the key exchange names another user');
    if (response.protocolVersion !== PROTOCOL_VERSION) this.#fail('protocol_version_mismatch', `voice: the room speaks protocol version ${response.protocolVersion}, this client ${PROTOCOL_VERSION}`);
    if (response.profile !== this.profile) this.#fail('profile_mismatch', 'voice: the room chose another SRTP profile than asked for');
    const serverPublicKey = decodeBase64Url(response.serverPublicKey);
    if (serverPublicKey === null || serverPublicKey.length !== 32) this.#fail('bad_server_key', 'voice: serverPublicKey is not 32 bytes of base64url');
    try {
      this.#keys = deriveSessionKeys({
        role: 'client',
        privateKey: this.#pair.privateKey,
        transcript: {
          protocolVersion: response.protocolVersion,
          sessionId: response.sessionId,
          userId: response.userId,
          channelId: response.channelId,
          relayId: response.relayId,
          ssrc: response.ssrc,
          profile: response.profile,
          clientPublicKey: this.#pair.publicKey,
          serverPublicKey,
        },
      });
    } catch (error) {
      // §3.3: a small-order or non-canonical server key; or a transcript field the schedule refuses.
      this.#fail('bad_server_key', isKeyScheduleError(error) ? 'voice: the room\'s public key is refused (§3.3)' : 'voice: the key exchange\'s transcript is refused');
    } finally {
      this.#wipePair();
    }
    this.#response = response;
    this.#state = 'confirmed';
    return { type: 'key_confirmation', clientConfirmation: encodeBase64Url(this.#keys.clientConfirmation) };
  }

  /** Verifies voice_ready (step 3) and hands out the media keys (copies); wipes the derived ones. */
  complete(ready: RoomMessageOf<'voice_ready'>): NegotiatedMedia {
    const keys = this.#keys;
    const response = this.#response;
    if (this.#state !== 'confirmed' || keys === null || response === null) this.#fail('out_of_order', 'voice: voice_ready without a confirmed key exchange');
    if (ready.sessionId !== response.sessionId || ready.relayId !== response.relayId || ready.ssrc !== response.ssrc || ready.profile !== response.profile || ready.purpose !== response.purpose) {
      this.#fail('session_mismatch', 'voice: voice_ready names another session than the key exchange');
    }
    const received = decodeBase64Url(ready.serverConfirmation);
    try {
      keys.verifyPeerConfirmation(received ?? new Uint8Array(0)); // constant time (§3.5)
    } catch {
      this.#fail('server_confirmation_failed', 'voice: the room\'s key confirmation does not match');
    }
    const copy = (k: SrtpMasterKeys): SrtpMasterKeys => ({ masterKey: k.masterKey.slice(), masterSalt: k.masterSalt.slice() });
    const media: NegotiatedMedia = {
      purpose: response.purpose,
      sessionId: response.sessionId,
      relayId: response.relayId,
      ssrc: response.ssrc,
      profile: response.profile,
      sendKeys: copy(keys.clientToRelay),
      receiveKeys: copy(keys.relayToClient),
    };
    this.wipe();
    this.#state = 'done';
    return media;
  }

  /** Wipes the private key and every derived secret. Idempotent. */
  wipe(): void {
    this.#wipePair();
    this.#keys?.wipe();
    this.#keys = null;
  }

  get wiped(): boolean {
    return this.#pair === null && this.#keys === null;
  }

  #wipePair(): void {
    if (this.#pair !== null) wipeBytes(this.#pair.privateKey);
    this.#pair = null;
  }

  #fail(reason: KeyExchangeFailure, message: string): never {
    this.wipe();
    this.#state = 'done';
    throw new KeyExchangeError(reason, message);
  }
}
