/**
 * Parley's key schedule: from one ephemeral X25519 exchange between a client and the control
 * plane to the SRTP master keys and salts of both media directions, plus key confirmation.
 *
 *   shared    = X25519(own private key, peer public key)            RFC 7748 §6.1
 *   salt      = SHA-256(encodeTranscript(transcript))               see transcript.ts
 *   PRK       = HKDF-Extract(salt, shared)                          RFC 5869 §2.2, SHA-256
 *   output_i  = HKDF-Expand(PRK, "parley-v1 <purpose>", L_i)        RFC 5869 §2.3
 *
 * Each output has its own info label, so the outputs are independent of one another and of
 * their lengths' order. The profile (which fixes L_i) is part of the transcript, so keys for
 * different profiles never share a prefix. The shared secret and PRK are wiped before return.
 *
 * Both roles compute the same SessionKeys from the same transcript: the client with its private
 * key and the server's public key, the server the other way round.
 */
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { SrtpMasterKeys } from '../srtp/master-keys.js';
import { SRTP_PROFILES, type SrtpProfileName } from '../srtp/profiles.js';
import { assertBytes, constantTimeEqual, isAllZero, wipeBytes } from '../bytes.js';
import { KeyScheduleError } from './errors.js';
import { encodeTranscript, KEY_SCHEDULE_LABEL, X25519_KEY_LENGTH, type SessionTranscript } from './transcript.js';
import { assertUsablePublicKey, x25519PublicKey, x25519SharedSecret } from './x25519.js';

export type KeyScheduleRole = 'client' | 'server';

/** HKDF-Expand info strings (ASCII), one per output. */
export const HKDF_INFO = Object.freeze({
  clientToRelayMasterKey: `${KEY_SCHEDULE_LABEL} client-to-relay srtp master key`,
  clientToRelayMasterSalt: `${KEY_SCHEDULE_LABEL} client-to-relay srtp master salt`,
  relayToClientMasterKey: `${KEY_SCHEDULE_LABEL} relay-to-client srtp master key`,
  relayToClientMasterSalt: `${KEY_SCHEDULE_LABEL} relay-to-client srtp master salt`,
  clientConfirmation: `${KEY_SCHEDULE_LABEL} client key confirmation`,
  serverConfirmation: `${KEY_SCHEDULE_LABEL} server key confirmation`,
});

/** Length of each key-confirmation value, bytes. */
export const KEY_CONFIRMATION_LENGTH = 32;

export interface DeriveSessionKeysInput {
  readonly role: KeyScheduleRole;
  /** This side's ephemeral private key; its public key must sit in this role's transcript slot. */
  readonly privateKey: Uint8Array;
  /** The peer's public key is taken from the transcript (the other role's slot). */
  readonly transcript: SessionTranscript;
}

/**
 * What deriveSessionKeys() returns: the derived secrets and the means to check and destroy
 * them. Call wipe() as soon as the keys have been handed to an SRTP context.
 */
export class SessionKeys {
  readonly role: KeyScheduleRole;
  readonly profile: SrtpProfileName;
  /** SHA-256 of the encoded transcript (public; handy for logs and for binding later messages). */
  readonly transcriptHash: Uint8Array;
  /** Protects what the client sends; the relay unprotects with it. */
  readonly clientToRelay: SrtpMasterKeys;
  /** Protects what the relay sends to this client; the client unprotects with it. */
  readonly relayToClient: SrtpMasterKeys;
  /** The value the client sends to prove it derived the same keys; the server checks it. */
  readonly clientConfirmation: Uint8Array;
  /** The value the server sends to prove it derived the same keys; the client checks it. */
  readonly serverConfirmation: Uint8Array;
  #wiped = false;

  /** @internal Built by deriveSessionKeys(). */
  constructor(fields: {
    role: KeyScheduleRole;
    profile: SrtpProfileName;
    transcriptHash: Uint8Array;
    clientToRelay: SrtpMasterKeys;
    relayToClient: SrtpMasterKeys;
    clientConfirmation: Uint8Array;
    serverConfirmation: Uint8Array;
  }) {
    this.role = fields.role;
    this.profile = fields.profile;
    this.transcriptHash = fields.transcriptHash;
    this.clientToRelay = Object.freeze({ ...fields.clientToRelay });
    this.relayToClient = Object.freeze({ ...fields.relayToClient });
    this.clientConfirmation = fields.clientConfirmation;
    this.serverConfirmation = fields.serverConfirmation;
    Object.freeze(this);
  }

  /** True once wipe() has run. */
  get wiped(): boolean {
    return this.#wiped;
  }

  /** The confirmation value this side sends to its peer. */
  get ownConfirmation(): Uint8Array {
    this.#assertNotWiped('ownConfirmation');
    return this.role === 'client' ? this.clientConfirmation : this.serverConfirmation;
  }

  /**
   * Checks, in constant time, the confirmation value the peer sent: the client checks
   * serverConfirmation, the server checks clientConfirmation. Throws KeyScheduleError
   * ('key-confirmation-failed') on any mismatch, wrong length included; on failure the caller
   * must wipe() and abandon the session.
   */
  verifyPeerConfirmation(received: Uint8Array): void {
    this.#assertNotWiped('verifyPeerConfirmation');
    if (!(received instanceof Uint8Array)) {
      throw new TypeError('keys: received confirmation must be a Uint8Array');
    }
    const expected = this.role === 'client' ? this.serverConfirmation : this.clientConfirmation;
    if (!constantTimeEqual(expected, received)) {
      throw new KeyScheduleError('key-confirmation-failed', `${this.role === 'client' ? 'server' : 'client'} key confirmation does not match`, {
        field: 'keyConfirmation',
      });
    }
  }

  /** Zeroes every derived secret. Idempotent. The transcript hash is public and kept. */
  wipe(): void {
    if (this.#wiped) return;
    this.#wiped = true;
    wipeBytes(
      this.clientToRelay.masterKey,
      this.clientToRelay.masterSalt,
      this.relayToClient.masterKey,
      this.relayToClient.masterSalt,
      this.clientConfirmation,
      this.serverConfirmation,
    );
  }

  #assertNotWiped(what: string): void {
    if (this.#wiped) throw new TypeError(`keys: ${what} used after wipe()`);
  }
}

const ascii = new TextEncoder();

/**
 * Runs the key schedule for one side. Throws TypeError/RangeError for malformed arguments
 * (naming the field), RangeError if `privateKey` does not belong to this role's transcript
 * public key, and KeyScheduleError if the peer's public key is unusable.
 */
export function deriveSessionKeys(input: DeriveSessionKeysInput): SessionKeys {
  if (typeof input !== 'object' || input === null) {
    throw new TypeError('keys: deriveSessionKeys takes { role, privateKey, transcript }');
  }
  const { role, privateKey, transcript } = input;
  if (role !== 'client' && role !== 'server') {
    throw new TypeError(`keys: role must be 'client' or 'server'`);
  }
  assertBytes(privateKey, 'keys: privateKey', X25519_KEY_LENGTH);
  const encoded = encodeTranscript(transcript); // validates every field
  const ownField = role === 'client' ? 'clientPublicKey' : 'serverPublicKey';
  const peerField = role === 'client' ? 'serverPublicKey' : 'clientPublicKey';
  // Public keys are public: a plain comparison is fine. A mismatch is a caller bug (wrong key
  // pair or wrong role), and would otherwise only show up as a failed key confirmation.
  const ownPublicKey = x25519PublicKey(privateKey);
  if (!bytesEqual(ownPublicKey, transcript[ownField])) {
    throw new RangeError(`keys: privateKey does not match transcript.${ownField} (wrong key pair or role?)`);
  }

  const shared = x25519SharedSecret(privateKey, transcript[peerField], peerField);
  try {
    return expandSessionKeys(role, transcript, encoded, shared);
  } finally {
    shared.fill(0);
  }
}

export interface DeriveFromSharedSecretInput {
  readonly role: KeyScheduleRole;
  /** X25519(own private key, the peer's public key in the transcript), computed by the caller. */
  readonly sharedSecret: Uint8Array;
  readonly transcript: SessionTranscript;
}

/**
 * The key schedule after X25519, for a caller that computes the shared secret with another
 * X25519 implementation (the control plane uses the runtime's WebCrypto, whose private keys
 * never enter JavaScript memory). The caller must have generated its own key pair for this
 * exchange and put its public key in its role's transcript slot; this function checks the
 * peer's public key (§3.3, so a low-order key is refused however the secret was computed),
 * refuses an all-zero secret and derives exactly what deriveSessionKeys does. It wipes
 * `sharedSecret` before returning, also on error.
 */
export function deriveSessionKeysFromSharedSecret(input: DeriveFromSharedSecretInput): SessionKeys {
  if (typeof input !== 'object' || input === null) {
    throw new TypeError('keys: deriveSessionKeysFromSharedSecret takes { role, sharedSecret, transcript }');
  }
  const { role, sharedSecret, transcript } = input;
  if (role !== 'client' && role !== 'server') {
    throw new TypeError(`keys: role must be 'client' or 'server'`);
  }
  assertBytes(sharedSecret, 'keys: sharedSecret', X25519_KEY_LENGTH);
  try {
    const encoded = encodeTranscript(transcript); // validates every field
    const peerField = role === 'client' ? 'serverPublicKey' : 'clientPublicKey';
    assertUsablePublicKey(transcript[peerField], peerField);
    if (isAllZero(sharedSecret)) {
      throw new KeyScheduleError('zero-shared-secret', `X25519 with transcript.${peerField} gave the all-zero shared secret`, { field: peerField });
    }
    return expandSessionKeys(role, transcript, encoded, sharedSecret);
  } finally {
    sharedSecret.fill(0);
  }
}

/** HKDF over the shared secret (module comment). Wipes the PRK; the caller wipes `shared`. */
function expandSessionKeys(role: KeyScheduleRole, transcript: SessionTranscript, encoded: Uint8Array, shared: Uint8Array): SessionKeys {
  const profile = SRTP_PROFILES[transcript.profile];
  const salt = sha256(encoded);
  let prk: Uint8Array | undefined;
  try {
    prk = extract(sha256, shared, salt);
    const derive = (info: string, length: number): Uint8Array => expand(sha256, prk as Uint8Array, ascii.encode(info), length);
    return new SessionKeys({
      role,
      profile: profile.name,
      transcriptHash: salt,
      clientToRelay: {
        masterKey: derive(HKDF_INFO.clientToRelayMasterKey, profile.keyLength),
        masterSalt: derive(HKDF_INFO.clientToRelayMasterSalt, profile.saltLength),
      },
      relayToClient: {
        masterKey: derive(HKDF_INFO.relayToClientMasterKey, profile.keyLength),
        masterSalt: derive(HKDF_INFO.relayToClientMasterSalt, profile.saltLength),
      },
      clientConfirmation: derive(HKDF_INFO.clientConfirmation, KEY_CONFIRMATION_LENGTH),
      serverConfirmation: derive(HKDF_INFO.serverConfirmation, KEY_CONFIRMATION_LENGTH),
    });
  } finally {
    prk?.fill(0);
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
