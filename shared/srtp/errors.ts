/**
 * The one error class the SRTP layer throws for bad packets.
 *
 * Every failure that input bytes can cause surfaces as an SrtpError with a machine-readable
 * `reason` (so the relay can count drops by label) and, where known, the SSRC and packet index.
 * Messages never contain key material or packet contents. API misuse (wrong key length, a
 * closed context) is a TypeError/RangeError instead, because it is a bug, not an input.
 */
export type SrtpErrorReason =
  /** Too short, fields running past the end, or otherwise not a parseable RTP/RTCP packet. */
  | 'malformed'
  /** RTP/RTCP version field is not 2 (RFC 3550 §5.1). */
  | 'bad-version'
  /** Authentication tag did not verify (RFC 3711 §3.3 step 5, RFC 7714 §9.2). */
  | 'auth-failed'
  /** Index already received (RFC 3711 §3.3.2). */
  | 'replay'
  /** Index is behind the replay window, so it cannot be checked (RFC 3711 §3.3.2). */
  | 'too-old'
  /** SRTCP packet without the E flag where encryption is required (RFC 3711 §3.4). */
  | 'unencrypted-srtcp'
  /** The hard key-usage limit is reached; the context must be rekeyed (RFC 3711 §9.2). */
  | 'key-exhausted';

export interface SrtpErrorDetails {
  readonly ssrc?: number;
  /** SRTP packet index (ROC·2^16 + SEQ, RFC 3711 §3.3.1) or SRTCP index. */
  readonly index?: number;
}

export class SrtpError extends Error {
  override readonly name = 'SrtpError';
  readonly reason: SrtpErrorReason;
  readonly ssrc: number | undefined;
  readonly index: number | undefined;

  constructor(reason: SrtpErrorReason, message: string, details: SrtpErrorDetails = {}) {
    super(`srtp: ${message}`);
    this.reason = reason;
    this.ssrc = details.ssrc;
    this.index = details.index;
  }
}

export function isSrtpError(value: unknown): value is SrtpError {
  return value instanceof SrtpError;
}
