/**
 * Ephemeral X25519 for the room's side of the key exchange (docs/protocol.md §3), behind one
 * interface with two implementations:
 *
 * - `webCryptoX25519`: the runtime's WebCrypto (`crypto.subtle`, algorithm "X25519", as
 *   workerd and Node ship it). Native code, tens of microseconds per operation where
 *   @noble/curves in workerd takes about a millisecond; and the private key is a
 *   non-extractable CryptoKey, so it never exists as bytes in JavaScript memory that could
 *   leak or need wiping. The room uses this one.
 * - `nobleX25519`: shared/keys' pure implementation, the reference; same results.
 *
 * Either way the peer's public key is checked first (§3.3: small order, non-canonical) with
 * shared/keys' rules, and the caller derives with deriveSessionKeysFromSharedSecret, which
 * checks again and refuses an all-zero secret, so the outcome never depends on the library.
 */
import { wipeBytes } from '../../../shared/bytes.js';
import { assertUsablePublicKey, generateEphemeralKeyPair } from '../../../shared/keys/x25519.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { encodeBase64Url, decodeBase64Url } from '../../../shared/relay-api/base64url.js';

export type PeerKeyField = 'clientPublicKey' | 'serverPublicKey';

/** One side's key pair for one exchange. */
export interface EphemeralAgreement {
  readonly publicKey: Uint8Array;
  /**
   * X25519(own private key, peerPublicKey) after §3.3's checks of the peer key (KeyScheduleError
   * naming `peerField` on refusal). The caller owns the secret and must wipe it.
   */
  sharedSecret(peerPublicKey: Uint8Array, peerField: PeerKeyField): Promise<Uint8Array>;
  /** Forgets (and, where it is bytes, zeroes) the private key. Idempotent. */
  destroy(): void;
}

export interface X25519Agreement {
  readonly name: 'webcrypto' | 'noble';
  generate(): Promise<EphemeralAgreement>;
  /** A key pair from fixed private-key bytes: known-answer tests only. */
  fromPrivateKey(privateKey: Uint8Array): Promise<EphemeralAgreement>;
}

const X25519_ALGORITHM = { name: 'X25519' } as const;

// The WebCrypto types by what `crypto.subtle` declares, so this module type-checks under the
// Workers types and Node's alike (the relay-seal code reaches it from Node tests and tools).
type Subtle = typeof crypto.subtle;
type WebCryptoKey = Awaited<ReturnType<Subtle['importKey']>>;
type DeriveBitsAlgorithm = Parameters<Subtle['deriveBits']>[0];

class WebCryptoAgreement implements EphemeralAgreement {
  #privateKey: WebCryptoKey | null;

  constructor(
    privateKey: WebCryptoKey,
    readonly publicKey: Uint8Array,
  ) {
    this.#privateKey = privateKey;
  }

  async sharedSecret(peerPublicKey: Uint8Array, peerField: PeerKeyField): Promise<Uint8Array> {
    if (this.#privateKey === null) throw new TypeError('x25519: key pair used after destroy()');
    assertUsablePublicKey(peerPublicKey, peerField);
    const peer = await crypto.subtle.importKey('raw', peerPublicKey, X25519_ALGORITHM, false, []);
    const bits = await crypto.subtle.deriveBits({ name: 'X25519', public: peer } as unknown as DeriveBitsAlgorithm, this.#privateKey, 256);
    return new Uint8Array(bits);
  }

  destroy(): void {
    this.#privateKey = null;
  }
}

export const webCryptoX25519: X25519Agreement = {
  name: 'webcrypto',
  async generate() {
    const pair = (await crypto.subtle.generateKey(X25519_ALGORITHM, false, ['deriveBits'])) as unknown as { publicKey: WebCryptoKey; privateKey: WebCryptoKey };
    const publicKey = new Uint8Array((await crypto.subtle.exportKey('raw', pair.publicKey)) as ArrayBuffer);
    return new WebCryptoAgreement(pair.privateKey, publicKey);
  },
  async fromPrivateKey(privateKey) {
    const publicKey = x25519.getPublicKey(privateKey);
    const jwk = { kty: 'OKP', crv: 'X25519', d: encodeBase64Url(privateKey), x: encodeBase64Url(publicKey) };
    const key = await crypto.subtle.importKey('jwk', jwk, X25519_ALGORITHM, false, ['deriveBits']);
    return new WebCryptoAgreement(key, publicKey);
  },
};

class NobleAgreement implements EphemeralAgreement {
  readonly #privateKey: Uint8Array;
  #destroyed = false;

  constructor(
    privateKey: Uint8Array,
    readonly publicKey: Uint8Array,
  ) {
    this.#privateKey = privateKey;
  }

  async sharedSecret(peerPublicKey: Uint8Array, peerField: PeerKeyField): Promise<Uint8Array> {
    if (this.#destroyed) throw new TypeError('x25519: key pair used after destroy()');
    assertUsablePublicKey(peerPublicKey, peerField);
    return x25519.getSharedSecret(this.#privateKey, peerPublicKey);
  }

  destroy(): void {
    this.#destroyed = true;
    wipeBytes(this.#privateKey);
  }
}

export const nobleX25519: X25519Agreement = {
  name: 'noble',
  async generate() {
    const pair = generateEphemeralKeyPair();
    return new NobleAgreement(pair.privateKey, pair.publicKey);
  },
  async fromPrivateKey(privateKey) {
    return new NobleAgreement(privateKey.slice(), x25519.getPublicKey(privateKey));
  },
};

/** base64url of exactly 32 bytes, or null (the message schema has already checked the form). */
export function decodeKey32(text: string): Uint8Array | null {
  const bytes = decodeBase64Url(text);
  return bytes !== null && bytes.length === 32 ? bytes : null;
}
