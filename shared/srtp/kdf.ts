/**
 * SRTP key derivation, RFC 3711 §4.3, with a key derivation rate of 0 (the default, and the
 * only rate Parley uses): session keys are derived once per master key.
 */
import type { SrtpCryptoBackend } from './crypto-backend.js';
import type { SrtpProfile } from './profiles.js';

/** RFC 3711 §4.3.2 (SRTP) and §4.3.2 / §4.3.1 (SRTCP) key derivation labels. */
export const KDF_LABEL = Object.freeze({
  srtpEncryption: 0x00,
  srtpAuthentication: 0x01,
  srtpSalt: 0x02,
  srtcpEncryption: 0x03,
  srtcpAuthentication: 0x04,
  srtcpSalt: 0x05,
});

/** The RFC 3711 KDF works on a 112-bit (14-byte) master salt. */
const KDF_SALT_LENGTH = 14;

export interface SessionKeys {
  /** Session encryption key (k_e). */
  readonly encryptionKey: Uint8Array;
  /** Session salt (k_s): 12 bytes for AEAD profiles (RFC 7714 §11), 14 for AES-CM. */
  readonly salt: Uint8Array;
  /** Session authentication key (k_a); empty for AEAD profiles. */
  readonly authKey: Uint8Array;
}

export interface SrtpSessionKeys {
  readonly srtp: SessionKeys;
  readonly srtcp: SessionKeys;
}

/**
 * RFC 3711 §4.3.1 with kdr = 0, so r = 0 and key_id = label || 0^48:
 *   x = key_id XOR master_salt, IV = x · 2^16, output = AES-CM(master_key, IV) truncated.
 *
 * GCM master salts are 12 bytes (RFC 7714 §12); they are right-padded with two zero bytes to
 * 14 bytes first. That is what libsrtp does, so keys agree with every libsrtp-based peer
 * (left-padding would give different keys).
 */
export function deriveSessionKey(
  backend: SrtpCryptoBackend,
  masterKey: Uint8Array,
  masterSalt: Uint8Array,
  label: number,
  length: number,
): Uint8Array {
  // Its own ArrayBuffer, not a 16-byte typed array: V8 keeps those on its heap, where a GC may
  // copy them and leave the old bytes (master salt bits) where fill(0) cannot reach them.
  const iv = new Uint8Array(new ArrayBuffer(16));
  iv.set(masterSalt.subarray(0, KDF_SALT_LENGTH), 0); // bytes 14..15 stay zero: the "· 2^16"
  // key_id is 7 bytes (label, then 48 bits of r = 0), right-aligned with the 14-byte salt.
  iv[KDF_SALT_LENGTH - 7] = iv[KDF_SALT_LENGTH - 7]! ^ label;
  const prf = backend.createAesCtr(masterKey);
  try {
    return prf.xor(iv, new Uint8Array(length));
  } finally {
    prf.wipe();
    iv.fill(0);
  }
}

/** Derives all six session values of §4.3.2 for one master key and salt. */
export function deriveSrtpSessionKeys(
  backend: SrtpCryptoBackend,
  profile: SrtpProfile,
  masterKey: Uint8Array,
  masterSalt: Uint8Array,
): SrtpSessionKeys {
  if (masterKey.length !== profile.keyLength) {
    throw new RangeError(`srtp: ${profile.name} master key must be ${profile.keyLength} bytes, got ${masterKey.length}`);
  }
  if (masterSalt.length !== profile.saltLength) {
    throw new RangeError(`srtp: ${profile.name} master salt must be ${profile.saltLength} bytes, got ${masterSalt.length}`);
  }
  const paddedSalt = new Uint8Array(new ArrayBuffer(KDF_SALT_LENGTH)); // off the JS heap, as `iv` above
  paddedSalt.set(masterSalt, 0);
  const derive = (label: number, length: number): Uint8Array =>
    length === 0 ? new Uint8Array(0) : deriveSessionKey(backend, masterKey, paddedSalt, label, length);
  try {
    return {
      srtp: {
        encryptionKey: derive(KDF_LABEL.srtpEncryption, profile.keyLength),
        authKey: derive(KDF_LABEL.srtpAuthentication, profile.authKeyLength),
        salt: derive(KDF_LABEL.srtpSalt, profile.saltLength),
      },
      srtcp: {
        encryptionKey: derive(KDF_LABEL.srtcpEncryption, profile.keyLength),
        authKey: derive(KDF_LABEL.srtcpAuthentication, profile.authKeyLength),
        salt: derive(KDF_LABEL.srtcpSalt, profile.saltLength),
      },
    };
  } finally {
    paddedSalt.fill(0);
  }
}

export function wipeSessionKeys(keys: SrtpSessionKeys): void {
  for (const k of [keys.srtp, keys.srtcp]) {
    k.encryptionKey.fill(0);
    k.salt.fill(0);
    k.authKey.fill(0);
  }
}
