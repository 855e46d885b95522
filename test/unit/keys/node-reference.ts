/**
 * An independent implementation of docs/protocol.md §3, written from the spec with node:crypto
 * only (OpenSSL's X25519, HMAC and HKDF) — no @noble, nothing from shared/keys. The tests compare
 * shared/keys against it, and generate-vectors.ts uses it to produce the known-answer fixture.
 */
import { createHmac, createPrivateKey, createPublicKey, diffieHellman, hkdfSync, createHash, type KeyObject } from 'node:crypto';

/** PKCS#8 PrivateKeyInfo for X25519 (RFC 8410 §7): SEQUENCE { 0, { id-X25519 }, OCTET STRING { OCTET STRING k } }. */
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
/** SubjectPublicKeyInfo for X25519 (RFC 8410 §4): SEQUENCE { { id-X25519 }, BIT STRING u }. */
const SPKI_X25519_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

export function privateKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new RangeError('reference: X25519 private key must be 32 bytes');
  return createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, raw]), format: 'der', type: 'pkcs8' });
}

export function publicKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new RangeError('reference: X25519 public key must be 32 bytes');
  return createPublicKey({ key: Buffer.concat([SPKI_X25519_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function referencePublicKey(privateKey: Uint8Array): Buffer {
  const der = createPublicKey(privateKeyObject(privateKey)).export({ format: 'der', type: 'spki' });
  return der.subarray(SPKI_X25519_PREFIX.length);
}

export function referenceSharedSecret(privateKey: Uint8Array, peerPublicKey: Uint8Array): Buffer {
  return diffieHellman({ privateKey: privateKeyObject(privateKey), publicKey: publicKeyObject(peerPublicKey) });
}

export interface ReferenceTranscript {
  protocolVersion: number;
  sessionId: string;
  userId: string;
  channelId: string;
  relayId: string;
  ssrc: number;
  profile: 'aes128gcm' | 'aes256gcm' | 'aescm128sha80';
  clientPublicKey: Uint8Array;
  serverPublicKey: Uint8Array;
}

/** Master key / salt lengths per profile, from RFC 7714 §12 and RFC 3711 §8.2 (not from profiles.ts). */
const LENGTHS = {
  aes128gcm: { key: 16, salt: 12 },
  aes256gcm: { key: 32, salt: 12 },
  aescm128sha80: { key: 16, salt: 14 },
} as const;

function field(value: Uint8Array): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(value.length);
  return Buffer.concat([length, value]);
}

export function referenceEncodeTranscript(t: ReferenceTranscript): Buffer {
  const version = Buffer.alloc(2);
  version.writeUInt16BE(t.protocolVersion);
  const ssrc = Buffer.alloc(4);
  ssrc.writeUInt32BE(t.ssrc);
  return Buffer.concat(
    [
      Buffer.from('parley-v1', 'ascii'),
      version,
      Buffer.from(t.sessionId, 'utf8'),
      Buffer.from(t.userId, 'utf8'),
      Buffer.from(t.channelId, 'utf8'),
      Buffer.from(t.relayId, 'utf8'),
      ssrc,
      Buffer.from(t.profile, 'ascii'),
      t.clientPublicKey,
      t.serverPublicKey,
    ].map(field),
  );
}

export interface ReferenceOutputs {
  transcript: Buffer;
  transcriptHash: Buffer;
  sharedSecret: Buffer;
  prk: Buffer;
  clientToRelay: { masterKey: Buffer; masterSalt: Buffer };
  relayToClient: { masterKey: Buffer; masterSalt: Buffer };
  clientConfirmation: Buffer;
  serverConfirmation: Buffer;
}

/** The whole key schedule from one side's private key (either side gives the same result). */
export function referenceDerive(role: 'client' | 'server', privateKey: Uint8Array, t: ReferenceTranscript): ReferenceOutputs {
  const peer = role === 'client' ? t.serverPublicKey : t.clientPublicKey;
  const transcript = referenceEncodeTranscript(t);
  const transcriptHash = createHash('sha256').update(transcript).digest();
  const sharedSecret = referenceSharedSecret(privateKey, peer);
  const hkdf = (info: string, length: number): Buffer =>
    Buffer.from(hkdfSync('sha256', sharedSecret, transcriptHash, Buffer.from(info, 'ascii'), length));
  const { key, salt } = LENGTHS[t.profile];
  return {
    transcript,
    transcriptHash,
    sharedSecret,
    // RFC 5869 §2.2: PRK = HMAC-Hash(salt, IKM); only for the fixture, hkdfSync does its own.
    prk: createHmac('sha256', transcriptHash).update(sharedSecret).digest(),
    clientToRelay: {
      masterKey: hkdf('parley-v1 client-to-relay srtp master key', key),
      masterSalt: hkdf('parley-v1 client-to-relay srtp master salt', salt),
    },
    relayToClient: {
      masterKey: hkdf('parley-v1 relay-to-client srtp master key', key),
      masterSalt: hkdf('parley-v1 relay-to-client srtp master salt', salt),
    },
    clientConfirmation: hkdf('parley-v1 client key confirmation', 32),
    serverConfirmation: hkdf('parley-v1 server key confirmation', 32),
  };
}
