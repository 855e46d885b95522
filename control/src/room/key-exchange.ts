/**
 * The room's side of the key exchange (docs/protocol.md §3, §5.5), held in memory only.
 *
 *   key_exchange_init(clientPublicKey)      the room checks the key (§3.3), has chosen relay,
 *                                           session id and SSRC, generates its ephemeral pair,
 *                                           derives as `server`
 *   key_exchange_response(transcript…)      every transcript field, no confirmation yet
 *   key_confirmation(clientConfirmation)    compared in constant time (§3.5)
 *   → the caller seals the relay's keys, installs the session, sends voice_ready carrying
 *     serverConfirmation, and wipes
 *
 * What is wiped when: the room's private key right after X25519 (the derivation needs it
 * once; with WebCrypto it is a non-extractable key that is simply dropped), the shared secret
 * and PRK inside the key schedule, and the derived keys as soon as they are sealed to the relay
 * (`sealed()`), on a failed confirmation, on a timeout, when a second init replaces the
 * exchange, and when the socket goes. Nothing of a pending exchange is ever stored: a room that
 * restarts has forgotten it, and the client retries after `confirmBy`.
 */
import { encodeBase64Url } from '../../../shared/relay-api/base64url.js';
import {
  deriveSessionKeysFromSharedSecret,
  isKeyScheduleError,
  PROTOCOL_VERSION,
  type SessionKeys,
  type SessionTranscript,
} from '../../../shared/keys/index.js';
import type { SessionKeyMaterial } from '../../../shared/relay-api/sealed-keys.js';
import type { SrtpProfileName } from '../../../shared/srtp/profiles.js';
import type { RelayRef } from './room-state.js';
import type { X25519Agreement } from './x25519-agreement.js';

export type ExchangePurpose = 'join' | 'rotate' | 'move';

/** What the room decided before deriving: every transcript field but the server's key. */
export interface ExchangeOffer {
  readonly purpose: ExchangePurpose;
  readonly sessionId: string;
  /** The member's subject (§5.3). */
  readonly userId: string;
  readonly channelId: string;
  readonly relay: RelayRef;
  readonly ssrc: number;
  readonly profile: SrtpProfileName;
  readonly clientPublicKey: Uint8Array;
  /** Join muted or deafened. */
  readonly muted: boolean;
  readonly deafened: boolean;
}

export class ExchangeError extends Error {
  override readonly name = 'ExchangeError';
  constructor(readonly code: 'bad_public_key' | 'key_confirmation_failed') {
    super(`key exchange: ${code}`);
  }
}

/** One exchange between its response and the client's confirmation. */
export class PendingExchange {
  readonly offer: ExchangeOffer;
  readonly serverPublicKey: Uint8Array;
  readonly confirmBy: number;
  #keys: SessionKeys | null;

  constructor(offer: ExchangeOffer, serverPublicKey: Uint8Array, keys: SessionKeys, confirmBy: number) {
    this.offer = offer;
    this.serverPublicKey = serverPublicKey;
    this.#keys = keys;
    this.confirmBy = confirmBy;
  }

  /** The `key_exchange_response` fields (§5.5 step 2). */
  response() {
    const o = this.offer;
    return {
      type: 'key_exchange_response' as const,
      purpose: o.purpose,
      protocolVersion: PROTOCOL_VERSION,
      sessionId: o.sessionId,
      userId: o.userId,
      channelId: o.channelId,
      relayId: o.relay.relayId,
      ssrc: o.ssrc,
      profile: o.profile,
      serverPublicKey: encodeBase64Url(this.serverPublicKey),
      confirmBy: this.confirmBy,
    };
  }

  get wiped(): boolean {
    return this.#keys === null;
  }

  /**
   * Checks the client's confirmation in constant time (§3.5). On a mismatch the keys are wiped
   * and ExchangeError('key_confirmation_failed') is thrown; on success the caller gets what it
   * needs to install the session: copies of the relay's keys (to seal, then wipe) and the
   * server's confirmation (public once sent).
   */
  confirm(clientConfirmation: Uint8Array): { keys: SessionKeyMaterial; serverConfirmation: string } {
    const keys = this.#keys;
    if (keys === null) throw new TypeError('key exchange: confirmed after wipe()');
    try {
      keys.verifyPeerConfirmation(clientConfirmation);
    } catch (error) {
      this.wipe();
      if (isKeyScheduleError(error)) throw new ExchangeError('key_confirmation_failed');
      throw error;
    }
    const material: SessionKeyMaterial = {
      clientToRelay: { masterKey: keys.clientToRelay.masterKey.slice(), masterSalt: keys.clientToRelay.masterSalt.slice() },
      relayToClient: { masterKey: keys.relayToClient.masterKey.slice(), masterSalt: keys.relayToClient.masterSalt.slice() },
    };
    const serverConfirmation = encodeBase64Url(keys.serverConfirmation);
    this.wipe();
    return { keys: material, serverConfirmation };
  }

  /** Zeroes the derived keys. Idempotent. */
  wipe(): void {
    this.#keys?.wipe();
    this.#keys = null;
  }
}

/**
 * Derives the room's keys for `offer` (§3.1 step 2). Throws ExchangeError('bad_public_key')
 * when the client's key fails §3.3.
 */
export async function startExchange(agreement: X25519Agreement, offer: ExchangeOffer, confirmBy: number): Promise<PendingExchange> {
  const own = await agreement.generate();
  let sharedSecret: Uint8Array;
  try {
    sharedSecret = await own.sharedSecret(offer.clientPublicKey, 'clientPublicKey');
  } catch (error) {
    if (isKeyScheduleError(error)) throw new ExchangeError('bad_public_key');
    throw error;
  } finally {
    own.destroy();
  }
  const transcript: SessionTranscript = {
    protocolVersion: PROTOCOL_VERSION,
    sessionId: offer.sessionId,
    userId: offer.userId,
    channelId: offer.channelId,
    relayId: offer.relay.relayId,
    ssrc: offer.ssrc,
    profile: offer.profile,
    clientPublicKey: offer.clientPublicKey,
    serverPublicKey: own.publicKey,
  };
  let keys: SessionKeys;
  try {
    keys = deriveSessionKeysFromSharedSecret({ role: 'server', sharedSecret, transcript });
  } catch (error) {
    if (isKeyScheduleError(error)) throw new ExchangeError('bad_public_key');
    throw error;
  }
  return new PendingExchange(offer, own.publicKey, keys, confirmBy);
}

/** Pending exchanges by socket id: one per socket, a second replaces (and wipes) the first. */
export class PendingExchanges {
  readonly #bySocket = new Map<string, PendingExchange>();

  get(socketId: string): PendingExchange | undefined {
    return this.#bySocket.get(socketId);
  }

  /** Stores `exchange` for the socket, wiping the one it replaces; returns the replaced one. */
  set(socketId: string, exchange: PendingExchange): PendingExchange | undefined {
    const previous = this.#bySocket.get(socketId);
    previous?.wipe();
    this.#bySocket.set(socketId, exchange);
    return previous;
  }

  /** Removes and wipes the socket's exchange; returns it (wiped) if there was one. */
  drop(socketId: string): PendingExchange | undefined {
    const exchange = this.#bySocket.get(socketId);
    if (exchange === undefined) return undefined;
    exchange.wipe();
    this.#bySocket.delete(socketId);
    return exchange;
  }

  /** Removes without wiping: the caller took the exchange to confirm it. */
  take(socketId: string): PendingExchange | undefined {
    const exchange = this.#bySocket.get(socketId);
    this.#bySocket.delete(socketId);
    return exchange;
  }

  deadlines(): Array<readonly [string, number]> {
    return [...this.#bySocket].map(([socketId, exchange]) => [socketId, exchange.confirmBy] as const);
  }

  get size(): number {
    return this.#bySocket.size;
  }
}
