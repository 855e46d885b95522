/**
 * Typed access to test/fixtures/srtp-vectors.json (RFC 3711, RFC 7714 and libsrtp 2.5.0
 * known-answer vectors; each entry names its source).
 */
import raw from '../fixtures/srtp-vectors.json' with { type: 'json' };

export interface SrtpVector {
  readonly id: string;
  readonly kind: string;
  readonly source: string;
  readonly profile: string;
  readonly [field: string]: unknown;
}

export const SRTP_VECTORS: readonly SrtpVector[] = (raw as { vectors: SrtpVector[] }).vectors;

export function vectorsOfKind(...kinds: string[]): SrtpVector[] {
  return SRTP_VECTORS.filter((v) => kinds.includes(v.kind));
}

export function field(vector: SrtpVector, name: string): string {
  const value = vector[name];
  if (typeof value !== 'string') throw new Error(`vector ${vector.id} has no string field ${name}`);
  return value;
}
