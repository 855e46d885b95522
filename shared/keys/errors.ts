/**
 * The one error class the key schedule throws for bad peer input.
 *
 * Everything a peer (or an attacker in the middle) can cause — a low-order or non-canonical
 * public key, an all-zero shared secret, a key-confirmation value that does not match — is a
 * KeyScheduleError with a machine-readable `reason` and, where it applies, the transcript
 * `field` that carried the bad value. Messages never contain key bytes or derived values.
 *
 * API misuse (a private key of the wrong length, an id that is too long, using keys after
 * wipe()) is a TypeError/RangeError instead, because it is a bug, not an input.
 */
export type KeyScheduleErrorReason =
  /**
   * The peer's X25519 public key is one of the points of small order on Curve25519 or its twist
   * (in any encoding), so the shared secret would not depend on our private key
   * (RFC 7748 §6.1 and §7).
   */
  | 'low-order-public-key'
  /** The peer's public key is not the canonical encoding: u ≥ 2^255 − 19 or the top bit is set. */
  | 'non-canonical-public-key'
  /** X25519 produced the all-zero shared secret (RFC 7748 §6.1 "MAY check"; Parley MUST). */
  | 'zero-shared-secret'
  /** The peer's key-confirmation value is not the one we derived (wrong length included). */
  | 'key-confirmation-failed';

/** Transcript fields a KeyScheduleError can point at. */
export type KeyScheduleErrorField = 'clientPublicKey' | 'serverPublicKey' | 'keyConfirmation';

export interface KeyScheduleErrorDetails {
  readonly field?: KeyScheduleErrorField;
  readonly cause?: unknown;
}

export class KeyScheduleError extends Error {
  override readonly name = 'KeyScheduleError';
  readonly reason: KeyScheduleErrorReason;
  readonly field: KeyScheduleErrorField | undefined;

  constructor(reason: KeyScheduleErrorReason, message: string, details: KeyScheduleErrorDetails = {}) {
    super(`keys: ${message}`, details.cause === undefined ? undefined : { cause: details.cause });
    this.reason = reason;
    this.field = details.field;
  }
}

export function isKeyScheduleError(value: unknown): value is KeyScheduleError {
  return value instanceof KeyScheduleError;
}
