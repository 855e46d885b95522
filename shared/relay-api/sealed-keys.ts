/**
 * Sealing a session's SRTP master keys to one relay (docs/protocol.md §8.4), so the keys cross
 * the network — and any TLS-terminating proxy on the way — only as ciphertext that the target
 * relay alone can open, only in the run of it they were sealed for (its boot id), and only for
 * the session and SSRC they were sealed for.
 *
 * The relay has a long-term X25519 key pair and publishes the public key when it registers.
 * The control plane seals with a fresh ephemeral key pair per message:
 *
 *   C      = ctx(relayId, bootId, sessionId, ssrc, profile, epk, relayPublicKey)   (below)
 *   shared = X25519(esk, relayPublicKey)                                     RFC 7748 §6.1
 *   PRK    = HKDF-Extract(salt = SHA-256(C), shared)                         RFC 5869 §2.2
 *   key    = HKDF-Expand(PRK, "parley-v1 relay-seal key", 32)                RFC 5869 §2.3
 *   iv     = HKDF-Expand(PRK, "parley-v1 relay-seal iv", 12)
 *   ct     = AES-256-GCM(key, iv, aad = C).encrypt(
 *              c2r.masterKey || c2r.masterSalt || r2c.masterKey || r2c.masterSalt)   (ct || 16-byte tag)
 *
 * C is the concatenation of `uint16 length (big-endian) || value` for: the label
 * "parley-v1 relay-seal", relayId, bootId, sessionId (UTF-8 — visible ASCII, see ids.ts), ssrc
 * (uint32 big-endian), profile (ASCII short name), epk (32 bytes), relayPublicKey (32 bytes).
 *
 * Because the key and IV come from a fresh ephemeral secret, a (key, iv) pair is never used
 * twice. Binding C both into the KDF and as AAD means a sealed blob opened for any other relay,
 * boot of that relay, session, SSRC or profile fails authentication. The boot id is what makes a
 * signed install captured before a relay restarted useless after it: the restarted relay draws a
 * new one, so the old seal no longer opens (and the relay keeps no record of keys it accepted
 * before, which it could otherwise not refuse again). The profile fixes the plaintext layout, so
 * it is bound too. Intermediate secrets are zeroed before returning, also on error.
 *
 * Pure: bytes in, bytes out; @noble/* only, so the control plane (workerd) runs the same code.
 */
import { gcm } from '@noble/ciphers/aes.js';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { assertBytes, encodeLengthPrefixed, wipeBytes } from '../bytes.js';
import { KeyScheduleError, type KeyScheduleErrorReason } from '../keys/errors.js';
import { X25519_KEY_LENGTH } from '../keys/transcript.js';
import { assertUsablePublicKey, generateEphemeralKeyPair, x25519PublicKey, x25519SharedSecret, type RandomBytesSource } from '../keys/x25519.js';
import type { SrtpMasterKeys } from '../srtp/master-keys.js';
import { isSrtpProfileName, SRTP_PROFILES, type SrtpProfileName } from '../srtp/profiles.js';
import { decodeBase64Url, encodeBase64Url } from './base64url.js';
import { assertRelayApiId, assertRelayBootId } from './ids.js';

export const SEAL_LABEL = 'parley-v1 relay-seal';
/** 2: C binds the relay's boot id (version 1 did not). */
export const SEAL_VERSION = 2;
export const SEAL_HKDF_INFO = Object.freeze({
  key: `${SEAL_LABEL} key`,
  iv: `${SEAL_LABEL} iv`,
});
const AES_KEY_LENGTH = 32;
const GCM_IV_LENGTH = 12;
const GCM_TAG_LENGTH = 16;

/** What a sealed blob is bound to. Opening with any other value fails. */
export interface SealContext {
  readonly relayId: string;
  /** The relay's boot id, as it registered it (ids.ts): a restarted relay opens nothing sealed before. */
  readonly bootId: string;
  readonly sessionId: string;
  /** The SSRC the client will send with under these keys (uint32). */
  readonly ssrc: number;
  /** Fixes the key and salt lengths (shared/srtp/profiles.ts). */
  readonly profile: SrtpProfileName;
}

/** The secrets a relay needs for one session's key epoch. */
export interface SessionKeyMaterial {
  readonly clientToRelay: SrtpMasterKeys;
  readonly relayToClient: SrtpMasterKeys;
}

/** JSON form carried in install and rotate messages. */
export interface SealedKeys {
  readonly v: typeof SEAL_VERSION;
  /** Ephemeral X25519 public key, base64url (43 characters). */
  readonly epk: string;
  /** AES-256-GCM ciphertext and tag, base64url. */
  readonly ct: string;
}

export type SealErrorReason =
  /** Not a version-1 sealed object, or a field with the wrong encoding or length. */
  | 'malformed'
  /** The ephemeral public key is a point of small order (RFC 7748 §7). */
  | 'low-order-public-key'
  /** The ephemeral public key is not canonically encoded. */
  | 'non-canonical-public-key'
  /** X25519 produced the all-zero shared secret. */
  | 'zero-shared-secret'
  /** Authentication failed: wrong relay, boot, session, SSRC or profile, or altered ciphertext. */
  | 'authentication-failed';

export class SealError extends Error {
  override readonly name = 'SealError';
  constructor(
    readonly reason: SealErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`relay-seal: ${message}`, options);
  }
}

export function isSealError(value: unknown): value is SealError {
  return value instanceof SealError;
}

/** Plaintext length for a profile: two (master key, master salt) pairs. */
export function sealedPlaintextLength(profile: SrtpProfileName): number {
  const p = SRTP_PROFILES[profile];
  return 2 * (p.keyLength + p.saltLength);
}

/**
 * Throws SealError unless `publicKey` is a usable relay public key (the checks of
 * docs/protocol.md §3.3). The control plane calls it when a relay registers.
 */
export function assertUsableRelayPublicKey(publicKey: Uint8Array): void {
  try {
    assertUsablePublicKey(publicKey, 'serverPublicKey');
  } catch (error) {
    throw toSealError(error);
  }
}

export interface SealOptions {
  /** Source of the ephemeral private key; tests only. Defaults to crypto.getRandomValues. */
  readonly randomBytes?: RandomBytesSource;
}

/** Seals `keys` to the relay whose X25519 public key is `recipientPublicKey`. */
export function sealSessionKeys(
  recipientPublicKey: Uint8Array,
  context: SealContext,
  keys: SessionKeyMaterial,
  options: SealOptions = {},
): SealedKeys {
  assertBytes(recipientPublicKey, 'relay-seal: recipientPublicKey', X25519_KEY_LENGTH);
  assertContext(context);
  const ephemeral = generateEphemeralKeyPair(options.randomBytes);
  let shared: Uint8Array | undefined;
  try {
    try {
      shared = x25519SharedSecret(ephemeral.privateKey, recipientPublicKey, 'serverPublicKey');
    } catch (error) {
      throw toSealError(error);
    }
    return sealWithSharedSecret(shared, ephemeral.publicKey, recipientPublicKey, context, keys);
  } finally {
    wipeBytes(ephemeral.privateKey, shared);
  }
}

/**
 * The sender's ephemeral X25519 key pair, from outside: the control plane passes the runtime's
 * WebCrypto X25519 (control/src/room/x25519-agreement.ts), native code where @noble/curves takes
 * about a millisecond per operation in workerd, and a private key that never exists as bytes.
 * `sharedSecret` checks the peer key as §3.3 says (KeyScheduleError otherwise).
 */
export interface SealEphemeralKey {
  readonly publicKey: Uint8Array;
  sharedSecret(peerPublicKey: Uint8Array, peerField: 'serverPublicKey'): Promise<Uint8Array>;
  destroy(): void;
}

/**
 * sealSessionKeys with an injected ephemeral key pair, used for this one seal and destroyed
 * here whatever happens. The output is the same construction, byte for byte, for the same
 * ephemeral private key (test/unit/relay-api/sealed-keys.test.ts).
 */
export async function sealSessionKeysWith(
  ephemeral: SealEphemeralKey,
  recipientPublicKey: Uint8Array,
  context: SealContext,
  keys: SessionKeyMaterial,
): Promise<SealedKeys> {
  let shared: Uint8Array | undefined;
  try {
    assertBytes(recipientPublicKey, 'relay-seal: recipientPublicKey', X25519_KEY_LENGTH);
    assertContext(context);
    try {
      shared = await ephemeral.sharedSecret(recipientPublicKey, 'serverPublicKey');
    } catch (error) {
      throw toSealError(error);
    }
    // RFC 7748 §6.1: refuse the all-zero output, as x25519SharedSecret does for the pure path.
    if (shared.every((byte) => byte === 0)) throw new SealError('zero-shared-secret', 'X25519 gave the all-zero shared secret');
    return sealWithSharedSecret(shared, ephemeral.publicKey, recipientPublicKey, context, keys);
  } finally {
    ephemeral.destroy();
    wipeBytes(shared);
  }
}

/** §8.4 after X25519: C, HKDF, AES-256-GCM over the four values. Wipes what it derived. */
function sealWithSharedSecret(
  shared: Uint8Array,
  ephemeralPublicKey: Uint8Array,
  recipientPublicKey: Uint8Array,
  context: SealContext,
  keys: SessionKeyMaterial,
): SealedKeys {
  const plaintext = encodeKeyMaterial(context.profile, keys);
  let secrets: AeadSecrets | undefined;
  try {
    const aad = encodeSealContext(context, ephemeralPublicKey, recipientPublicKey);
    secrets = deriveAeadSecrets(shared, aad);
    const ct = gcm(secrets.key, secrets.iv, aad).encrypt(plaintext);
    return { v: SEAL_VERSION, epk: encodeBase64Url(ephemeralPublicKey), ct: encodeBase64Url(ct) };
  } finally {
    wipeBytes(plaintext, secrets?.key, secrets?.iv);
  }
}

/** What the relay-side steps of §8.4 concluded (SealOpener.openInto). */
export type SealOpenOutcome = 'opened' | 'authentication-failed' | 'zero-shared-secret';

/**
 * The relay's half of the construction, after C is built and the ephemeral key checked: it
 * holds the relay's private key and computes, per seal,
 *   shared = X25519(relayPrivateKey, epk), PRK = HKDF-Extract(SHA-256(C), shared),
 *   key = HKDF-Expand(PRK, "parley-v1 relay-seal key", 32), iv = HKDF-Expand(PRK, "… iv", 12),
 *   P = AES-256-GCM-Decrypt(key, iv, aad = C, ct),
 * writing P into `out` (ct.length − 16 bytes) and wiping every intermediate before it returns;
 * on any outcome but 'opened', `out` is zeroed too.
 *
 * `createSealOpener` below is the pure one (@noble/*), which runs anywhere. A relay may inject a
 * faster one with the same answers (relay/src/io/native-keys.ts: OpenSSL through the relay's
 * native addon, whose buffers it owns and cleanses). Both compute the public key once.
 */
export interface SealOpener {
  readonly name: string;
  /** The relay's X25519 public key (RFC 7748 §6.1), computed once: it is part of C. */
  readonly publicKey: Uint8Array;
  openInto(encodedContext: Uint8Array, epk: Uint8Array, ct: Uint8Array, out: Uint8Array): SealOpenOutcome;
  /** Wipes the opener's copy of the private key. Idempotent; openInto afterwards is a TypeError. */
  close(): void;
}

/** The pure SealOpener: @noble/curves X25519, @noble/hashes HKDF, @noble/ciphers AES-GCM. */
export function createSealOpener(relayPrivateKey: Uint8Array): SealOpener {
  assertBytes(relayPrivateKey, 'relay-seal: relayPrivateKey', X25519_KEY_LENGTH);
  const privateKey = relayPrivateKey.slice();
  const publicKey = x25519PublicKey(privateKey);
  let closed = false;
  return {
    name: 'noble',
    publicKey,
    openInto(encodedContext, epk, ct, out) {
      if (closed) throw new TypeError('relay-seal: opener used after close()');
      if (out.length !== ct.length - GCM_TAG_LENGTH) throw new RangeError('relay-seal: out must be ct.length - 16 bytes');
      let shared: Uint8Array | undefined;
      let secrets: AeadSecrets | undefined;
      let plaintext: Uint8Array | undefined;
      try {
        try {
          shared = x25519SharedSecret(privateKey, epk, 'clientPublicKey');
        } catch (error) {
          if (error instanceof KeyScheduleError && error.reason === 'zero-shared-secret') return 'zero-shared-secret';
          throw error;
        }
        secrets = deriveAeadSecrets(shared, encodedContext);
        try {
          plaintext = gcm(secrets.key, secrets.iv, encodedContext).decrypt(ct);
        } catch {
          out.fill(0);
          return 'authentication-failed';
        }
        out.set(plaintext);
        return 'opened';
      } finally {
        wipeBytes(shared, secrets?.key, secrets?.iv, plaintext);
      }
    },
    close() {
      closed = true;
      privateKey.fill(0);
    },
  };
}

/**
 * Opens a sealed blob for the context the relay expects, with its opener (or, for tools and
 * tests, its private key: a pure opener is made and closed around the call). Throws SealError for
 * anything a sender or an attacker can cause; TypeError/RangeError for API misuse (a private key
 * of the wrong length, an invalid context).
 *
 * The four returned values are views of one buffer of their own, allocated as an ArrayBuffer
 * (never a small typed array, which V8 keeps on its heap and may copy), so that
 * wipeSessionKeyMaterial() zeroes the only copy. The caller owns it and must wipe it.
 */
export function openSessionKeys(relay: SealOpener | Uint8Array, context: SealContext, sealed: unknown): SessionKeyMaterial {
  const opener = relay instanceof Uint8Array ? createSealOpener(relay) : relay;
  try {
    assertContext(context);
    const { epk, ct } = decodeSealed(sealed, context.profile);
    // §3.3: refused before any X25519 runs, whichever opener runs it.
    try {
      assertUsablePublicKey(epk, 'clientPublicKey');
    } catch (error) {
      throw toSealError(error);
    }
    const aad = encodeSealContext(context, epk, opener.publicKey);
    const plaintext = new Uint8Array(new ArrayBuffer(ct.length - GCM_TAG_LENGTH));
    const outcome = opener.openInto(aad, epk, ct, plaintext);
    if (outcome === 'zero-shared-secret') throw new SealError('zero-shared-secret', 'X25519 gave the all-zero shared secret');
    if (outcome !== 'opened') {
      plaintext.fill(0);
      throw new SealError('authentication-failed', 'sealed keys do not authenticate for this relay, boot, session, SSRC and profile');
    }
    return decodeKeyMaterial(context.profile, plaintext);
  } finally {
    if (opener !== relay) opener.close();
  }
}

/** Zeroes every key and salt in `keys`. */
export function wipeSessionKeyMaterial(keys: SessionKeyMaterial): void {
  wipeBytes(keys.clientToRelay.masterKey, keys.clientToRelay.masterSalt, keys.relayToClient.masterKey, keys.relayToClient.masterSalt);
}

/** The encoded context C (module comment): the AAD, and SHA-256(C) is the HKDF salt. */
export function encodeSealContext(context: SealContext, ephemeralPublicKey: Uint8Array, recipientPublicKey: Uint8Array): Uint8Array {
  const utf8 = new TextEncoder();
  const ssrc = new Uint8Array(4);
  new DataView(ssrc.buffer).setUint32(0, context.ssrc, false);
  const fields = [
    utf8.encode(SEAL_LABEL),
    utf8.encode(context.relayId),
    utf8.encode(context.bootId),
    utf8.encode(context.sessionId),
    ssrc,
    utf8.encode(context.profile),
    ephemeralPublicKey,
    recipientPublicKey,
  ];
  return encodeLengthPrefixed(fields);
}

interface AeadSecrets {
  readonly key: Uint8Array;
  readonly iv: Uint8Array;
}

function deriveAeadSecrets(shared: Uint8Array, encodedContext: Uint8Array): AeadSecrets {
  const ascii = new TextEncoder();
  const prk = extract(sha256, shared, sha256(encodedContext));
  try {
    return {
      key: expand(sha256, prk, ascii.encode(SEAL_HKDF_INFO.key), AES_KEY_LENGTH),
      iv: expand(sha256, prk, ascii.encode(SEAL_HKDF_INFO.iv), GCM_IV_LENGTH),
    };
  } finally {
    prk.fill(0);
  }
}

function assertContext(context: SealContext): void {
  if (typeof context !== 'object' || context === null) throw new TypeError('relay-seal: context must be an object');
  assertRelayApiId(context.relayId, 'context.relayId');
  assertRelayBootId(context.bootId, 'context.bootId');
  assertRelayApiId(context.sessionId, 'context.sessionId');
  if (typeof context.ssrc !== 'number' || !Number.isInteger(context.ssrc) || context.ssrc < 0 || context.ssrc > 0xffffffff) {
    throw new RangeError('relay-seal: context.ssrc must be an integer in 0..2^32-1');
  }
  if (!isSrtpProfileName(context.profile)) throw new RangeError('relay-seal: context.profile is not a known SRTP profile');
}

function encodeKeyMaterial(profileName: SrtpProfileName, keys: SessionKeyMaterial): Uint8Array {
  const profile = SRTP_PROFILES[profileName];
  if (typeof keys !== 'object' || keys === null) throw new TypeError('relay-seal: keys must be an object');
  const parts = [
    [keys.clientToRelay?.masterKey, 'clientToRelay.masterKey', profile.keyLength],
    [keys.clientToRelay?.masterSalt, 'clientToRelay.masterSalt', profile.saltLength],
    [keys.relayToClient?.masterKey, 'relayToClient.masterKey', profile.keyLength],
    [keys.relayToClient?.masterSalt, 'relayToClient.masterSalt', profile.saltLength],
  ] as const;
  const out = new Uint8Array(sealedPlaintextLength(profileName));
  let offset = 0;
  for (const [bytes, what, length] of parts) {
    assertBytes(bytes, `relay-seal: keys.${what}`, length);
    out.set(bytes, offset);
    offset += length;
  }
  return out;
}

/** The four values, as views of the plaintext (no copies: wiping them wipes it). */
function decodeKeyMaterial(profileName: SrtpProfileName, plaintext: Uint8Array): SessionKeyMaterial {
  const { keyLength, saltLength } = SRTP_PROFILES[profileName];
  let offset = 0;
  const take = (length: number): Uint8Array => plaintext.subarray(offset, (offset += length));
  const clientToRelay = { masterKey: take(keyLength), masterSalt: take(saltLength) };
  const relayToClient = { masterKey: take(keyLength), masterSalt: take(saltLength) };
  return { clientToRelay, relayToClient };
}

function decodeSealed(sealed: unknown, profile: SrtpProfileName): { epk: Uint8Array; ct: Uint8Array } {
  if (typeof sealed !== 'object' || sealed === null || Array.isArray(sealed)) {
    throw new SealError('malformed', 'sealed keys must be an object');
  }
  const { v, epk, ct, ...rest } = sealed as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw new SealError('malformed', 'sealed keys have unknown fields');
  if (v !== SEAL_VERSION) throw new SealError('malformed', `sealed keys must have v = ${SEAL_VERSION}`);
  const epkBytes = typeof epk === 'string' ? decodeBase64Url(epk) : null;
  if (epkBytes === null || epkBytes.length !== X25519_KEY_LENGTH) {
    throw new SealError('malformed', 'epk must be 32 bytes of base64url');
  }
  const ctBytes = typeof ct === 'string' ? decodeBase64Url(ct) : null;
  if (ctBytes === null || ctBytes.length !== sealedPlaintextLength(profile) + GCM_TAG_LENGTH) {
    throw new SealError('malformed', `ct must be base64url of ${sealedPlaintextLength(profile) + GCM_TAG_LENGTH} bytes for ${profile}`);
  }
  return { epk: epkBytes, ct: ctBytes };
}

function toSealError(error: unknown): unknown {
  if (error instanceof KeyScheduleError) {
    const reason: Record<KeyScheduleErrorReason, SealErrorReason> = {
      'low-order-public-key': 'low-order-public-key',
      'non-canonical-public-key': 'non-canonical-public-key',
      'zero-shared-secret': 'zero-shared-secret',
      'key-confirmation-failed': 'authentication-failed',
    };
    const messages: Record<SealErrorReason, string> = {
      malformed: 'malformed public key',
      'low-order-public-key': 'public key is a point of small order',
      'non-canonical-public-key': 'public key is not canonically encoded',
      'zero-shared-secret': 'X25519 gave the all-zero shared secret',
      'authentication-failed': 'authentication failed',
    };
    const mapped = reason[error.reason];
    return new SealError(mapped, messages[mapped], { cause: error });
  }
  return error;
}
