/**
 * The session transcript: every value both sides must agree on before they share keys.
 *
 * The key schedule hashes this encoding and uses the hash as the HKDF salt, so changing any
 * single field — a different relay, another SSRC, a swapped public key, a downgraded profile —
 * changes every derived key. Layout (docs/protocol.md §3.2): the concatenation, in this fixed
 * order, of fields each written as
 *
 *     uint16 length (big-endian) || value
 *
 *   1. label            ASCII "parley-v1" (names this key-schedule construction)
 *   2. protocolVersion  uint16, big-endian (length 2)
 *   3. sessionId        UTF-8
 *   4. userId           UTF-8
 *   5. channelId        UTF-8
 *   6. relayId          UTF-8
 *   7. ssrc             uint32, big-endian (length 4)
 *   8. profile          ASCII short profile name ('aes128gcm', …)
 *   9. clientPublicKey  32 bytes, X25519 (RFC 7748 §5)
 *  10. serverPublicKey  32 bytes, X25519
 *
 * Every field carries its length, so no two different transcripts encode to the same bytes.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { isSrtpProfileName, type SrtpProfileName } from '../srtp/profiles.js';
import { assertBytes, encodeLengthPrefixed } from '../bytes.js';

/** Domain-separation label: the first field of every transcript and the prefix of every HKDF info. */
export const KEY_SCHEDULE_LABEL = 'parley-v1';

/** The Parley protocol version this code speaks; bound into the transcript. */
export const PROTOCOL_VERSION = 1;

/** Longest id (session, user, channel, relay) in UTF-8 bytes. Ids are never empty. */
export const MAX_ID_BYTES = 255;

/** X25519 public and private keys are 32 bytes (RFC 7748 §5). */
export const X25519_KEY_LENGTH = 32;

export interface SessionTranscript {
  /** Negotiated Parley protocol version, uint16 (PROTOCOL_VERSION today). */
  readonly protocolVersion: number;
  /** Voice session id issued by the control plane. */
  readonly sessionId: string;
  readonly userId: string;
  readonly channelId: string;
  /** Id of the relay the session is assigned to. */
  readonly relayId: string;
  /** SSRC the control plane assigned to this client's outbound stream (uint32). */
  readonly ssrc: number;
  readonly profile: SrtpProfileName;
  readonly clientPublicKey: Uint8Array;
  readonly serverPublicKey: Uint8Array;
}

/** The four string fields, in transcript order. */
export const TRANSCRIPT_ID_FIELDS = ['sessionId', 'userId', 'channelId', 'relayId'] as const;
export type TranscriptIdField = (typeof TRANSCRIPT_ID_FIELDS)[number];

const utf8 = new TextEncoder();

/**
 * Encodes the transcript (layout above). Throws TypeError for a wrong type or an id that is not
 * well-formed Unicode, RangeError for an empty or oversized id, an out-of-range number, an
 * unknown profile or a public key that is not 32 bytes; each message names the field.
 */
export function encodeTranscript(transcript: SessionTranscript): Uint8Array {
  if (typeof transcript !== 'object' || transcript === null) {
    throw new TypeError('keys: transcript must be an object');
  }
  const fields: Uint8Array[] = [
    asciiBytes(KEY_SCHEDULE_LABEL),
    encodeProtocolVersion(transcript.protocolVersion),
    ...TRANSCRIPT_ID_FIELDS.map((field) => encodeId(transcript[field], field)),
    encodeSsrc(transcript.ssrc),
    encodeProfile(transcript.profile),
    checkedPublicKey(transcript.clientPublicKey, 'clientPublicKey'),
    checkedPublicKey(transcript.serverPublicKey, 'serverPublicKey'),
  ];
  return encodeLengthPrefixed(fields);
}

/** SHA-256 of encodeTranscript(transcript): 32 bytes, the HKDF salt. */
export function transcriptHash(transcript: SessionTranscript): Uint8Array {
  return sha256(encodeTranscript(transcript));
}

function encodeProtocolVersion(version: unknown): Uint8Array {
  if (typeof version !== 'number') {
    throw new TypeError('keys: transcript.protocolVersion must be a number');
  }
  if (!Number.isInteger(version) || version < 1 || version > 0xffff) {
    throw new RangeError(`keys: transcript.protocolVersion must be an integer in 1..65535`);
  }
  return Uint8Array.of(version >>> 8, version & 0xff);
}

function encodeSsrc(ssrc: unknown): Uint8Array {
  if (typeof ssrc !== 'number') {
    throw new TypeError('keys: transcript.ssrc must be a number');
  }
  if (!Number.isInteger(ssrc) || ssrc < 0 || ssrc > 0xffffffff) {
    throw new RangeError('keys: transcript.ssrc must be an integer in 0..2^32-1');
  }
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, ssrc, false);
  return out;
}

function encodeProfile(profile: unknown): Uint8Array {
  if (typeof profile !== 'string') {
    throw new TypeError('keys: transcript.profile must be a string');
  }
  if (!isSrtpProfileName(profile)) {
    throw new RangeError(`keys: transcript.profile is not a known SRTP profile`);
  }
  return asciiBytes(profile);
}

function encodeId(value: unknown, field: TranscriptIdField): Uint8Array {
  if (typeof value !== 'string') {
    throw new TypeError(`keys: transcript.${field} must be a string`);
  }
  // Each UTF-16 code unit becomes at least one UTF-8 byte, so this bounds the work done on
  // hostile input before encoding anything.
  if (value.length === 0 || value.length > MAX_ID_BYTES) {
    throw new RangeError(`keys: transcript.${field} must be 1..${MAX_ID_BYTES} UTF-8 bytes, got ${value.length === 0 ? 0 : `more than ${MAX_ID_BYTES}`}`);
  }
  // TextEncoder turns a lone surrogate into U+FFFD, so two different strings could encode to
  // the same bytes. Refuse them instead.
  if (!isWellFormedUnicode(value)) {
    throw new TypeError(`keys: transcript.${field} is not well-formed Unicode (lone surrogate)`);
  }
  const bytes = utf8.encode(value);
  if (bytes.length > MAX_ID_BYTES) {
    throw new RangeError(`keys: transcript.${field} must be 1..${MAX_ID_BYTES} UTF-8 bytes, got ${bytes.length}`);
  }
  return bytes;
}

function checkedPublicKey(value: unknown, field: 'clientPublicKey' | 'serverPublicKey'): Uint8Array {
  assertBytes(value, `keys: transcript.${field}`, X25519_KEY_LENGTH);
  return value;
}

function asciiBytes(text: string): Uint8Array {
  return utf8.encode(text);
}

/** String.prototype.isWellFormed (ES2024) by hand: every surrogate is part of a pair. */
function isWellFormedUnicode(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1); // NaN past the end
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      i++;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      return false;
    }
  }
  return true;
}
