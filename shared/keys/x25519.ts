/**
 * Ephemeral X25519 (RFC 7748) for the Parley handshake, with Parley's public-key rules made
 * explicit instead of inherited from whichever library sits underneath.
 *
 * A peer public key is refused when
 *   - it is one of the points of small order (RFC 7748 §7; the same blocklist libsodium uses),
 *     in any of its encodings: reason 'low-order-public-key';
 *   - it is not the canonical encoding (top bit set, or u ≥ p = 2^255 − 19). RFC 7748 §5 says a
 *     generic X25519 MUST accept such inputs, but Parley binds the public-key *bytes* into the
 *     transcript, so one point must have exactly one encoding: reason 'non-canonical-public-key';
 *   - the shared secret comes out all zero anyway (RFC 7748 §6.1): reason 'zero-shared-secret'.
 *
 * @noble/curves 2.4 already refuses the low-order inputs itself (with a plain Error, before the
 * ladder runs); we check first so the outcome is a typed KeyScheduleError, and we still check
 * the output, so our behaviour does not depend on the library's.
 */
import { x25519 } from '@noble/curves/ed25519.js';
import { randomBytes as platformRandomBytes } from '@noble/hashes/utils.js';
import { assertBytes, isAllZero } from '../bytes.js';
import { KeyScheduleError } from './errors.js';
import { X25519_KEY_LENGTH } from './transcript.js';

export interface EphemeralKeyPair {
  /** 32 random bytes (RFC 7748 §5 clamps them when used). Wipe with wipeBytes() after use. */
  readonly privateKey: Uint8Array;
  /** Canonical 32-byte u-coordinate, sent to the peer. */
  readonly publicKey: Uint8Array;
}

/** Source of random bytes, e.g. a test's fixed key; defaults to crypto.getRandomValues. */
export type RandomBytesSource = (length: number) => Uint8Array;

/**
 * Makes a fresh key pair for one voice session. Never reuse one across sessions.
 * `randomBytes` must return `length` fresh bytes; pass one only for tests or an HSM.
 */
export function generateEphemeralKeyPair(randomBytes: RandomBytesSource = platformRandomBytes): EphemeralKeyPair {
  if (typeof randomBytes !== 'function') {
    throw new TypeError('keys: randomBytes must be a function');
  }
  const privateKey = randomBytes(X25519_KEY_LENGTH);
  assertBytes(privateKey, 'keys: randomBytes() result', X25519_KEY_LENGTH);
  return { privateKey, publicKey: x25519PublicKey(privateKey) };
}

/** The public key of a 32-byte X25519 private key (RFC 7748 §6.1: X25519(k, 9)). */
export function x25519PublicKey(privateKey: Uint8Array): Uint8Array {
  assertBytes(privateKey, 'keys: privateKey', X25519_KEY_LENGTH);
  return x25519.getPublicKey(privateKey);
}

/** p = 2^255 − 19. */
const P = (1n << 255n) - 19n;

/**
 * u-coordinates of the points whose order divides 8, on the curve and on its twist:
 * 0 (the point (0, 0) of order 2, and what the identity encodes to), 1 and p − 1 (order 4) and
 * the two points of order 8. Every other encoding of a small-order point (p, p + 1, any of them
 * with the top bit set) reduces to one of these.
 */
const LOW_ORDER_U: ReadonlySet<bigint> = new Set([
  0n,
  1n,
  P - 1n,
  // e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800
  325606250916557431795983626356110631294008115727848805560023387167927233504n,
  // 5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157
  39382357235489614581723060781553021112529911719440698176882885853963445705823n,
]);

function littleEndianToBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) {
    value = (value << 8n) | BigInt(bytes[i] as number);
  }
  return value;
}

/**
 * Throws KeyScheduleError unless `publicKey` is an acceptable peer key (see module comment).
 * Public keys are public, so these checks need not be constant-time.
 */
export function assertUsablePublicKey(publicKey: Uint8Array, field: 'clientPublicKey' | 'serverPublicKey'): void {
  assertBytes(publicKey, `keys: transcript.${field}`, X25519_KEY_LENGTH);
  const raw = littleEndianToBigInt(publicKey);
  // RFC 7748 §5: mask the top bit, then reduce mod p — how any X25519 would read it.
  const u = (raw & ((1n << 255n) - 1n)) % P;
  if (LOW_ORDER_U.has(u)) {
    throw new KeyScheduleError('low-order-public-key', `transcript.${field} is a point of small order`, { field });
  }
  if (raw >= P) {
    throw new KeyScheduleError('non-canonical-public-key', `transcript.${field} is not canonically encoded`, { field });
  }
}

/**
 * X25519(privateKey, peerPublicKey) after assertUsablePublicKey(). The caller owns the
 * returned secret and must wipe it.
 */
export function x25519SharedSecret(
  privateKey: Uint8Array,
  peerPublicKey: Uint8Array,
  peerField: 'clientPublicKey' | 'serverPublicKey',
): Uint8Array {
  assertBytes(privateKey, 'keys: privateKey', X25519_KEY_LENGTH);
  assertUsablePublicKey(peerPublicKey, peerField);
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(privateKey, peerPublicKey);
  } catch (cause) {
    // Unreachable after the blocklist above; kept so a library change cannot turn a peer's bad
    // key into an untyped error.
    throw new KeyScheduleError('low-order-public-key', `X25519 refused transcript.${peerField}`, { field: peerField, cause });
  }
  if (isAllZero(shared)) {
    shared.fill(0);
    throw new KeyScheduleError('zero-shared-secret', `X25519 with transcript.${peerField} gave the all-zero shared secret`, {
      field: peerField,
    });
  }
  return shared;
}
