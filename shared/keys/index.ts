/**
 * Parley's session key schedule (docs/protocol.md §3): ephemeral X25519 between a client and
 * the control plane, HKDF-SHA256 over a transcript hash, SRTP master keys for both directions
 * and key confirmation. Pure: bytes in, bytes out.
 */
export { constantTimeEqual, wipeBytes } from '../bytes.js';
export { KeyScheduleError, isKeyScheduleError, type KeyScheduleErrorField, type KeyScheduleErrorReason } from './errors.js';
export {
  deriveSessionKeys,
  deriveSessionKeysFromSharedSecret,
  type DeriveFromSharedSecretInput,
  HKDF_INFO,
  KEY_CONFIRMATION_LENGTH,
  SessionKeys,
  type DeriveSessionKeysInput,
  type KeyScheduleRole,
} from './key-schedule.js';
export type { SrtpMasterKeys } from '../srtp/master-keys.js';
export {
  encodeTranscript,
  KEY_SCHEDULE_LABEL,
  MAX_ID_BYTES,
  PROTOCOL_VERSION,
  TRANSCRIPT_ID_FIELDS,
  transcriptHash,
  X25519_KEY_LENGTH,
  type SessionTranscript,
  type TranscriptIdField,
} from './transcript.js';
export {
  assertUsablePublicKey,
  generateEphemeralKeyPair,
  x25519PublicKey,
  type EphemeralKeyPair,
  type RandomBytesSource,
} from './x25519.js';
