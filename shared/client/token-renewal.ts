/**
 * When a client renews its access token (docs/protocol.md §4.3.3, §4.5, §5.4), and how it
 * backs off when a renewal fails. Pure: times are passed in.
 *
 * An access token is a JWT whose `iat` and `exp` claims (seconds, RFC 7519 §4.1.4, §4.1.6)
 * give its lifetime on the server's clock. The client renews it a margin before it expires:
 * a quarter of its lifetime, at most 60 s (so a 15-minute token is renewed 60 s early, the
 * 10-second minimum 2.5 s early), which also leaves room for the voice room's own notice
 * (`token_expiring`, 60 s before expiry). Nothing here verifies the token: it arrived over the
 * client's authenticated connection to the control plane, and the server checks it on use.
 */
import { decodeBase64Url } from '../relay-api/base64url.js';

/** The claims the client reads from an access token. */
export interface AccessTokenClaims {
  /** Issued at, ms since the epoch (server clock). */
  readonly issuedAtMs: number;
  /** Expires at, ms since the epoch (server clock). */
  readonly expiresAtMs: number;
  /** `sub`: the user id, or `<appKeyId>:<userId>` for a minted token. */
  readonly subject: string | null;
  /** `sid`: the login (refresh family), or the app key id for a minted token. */
  readonly sessionId: string | null;
}

/** The longest margin before expiry at which a token is renewed. */
export const MAX_RENEWAL_MARGIN_MS = 60_000;

/**
 * Reads `iat`, `exp`, `sub` and `sid` from a compact JWS (RFC 7515 §7.1) without verifying it.
 * Null when the token is not a JWT with numeric `iat` < `exp`.
 */
export function readAccessTokenClaims(token: string): AccessTokenClaims | null {
  if (typeof token !== 'string') return null;
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined || parts[1].length === 0 || parts[1].length > 8192) return null;
  const payload = decodeBase64Url(parts[1]);
  if (payload === null) return null;
  let claims: unknown;
  try {
    claims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    return null;
  }
  if (typeof claims !== 'object' || claims === null) return null;
  const { iat, exp, sub, sid } = claims as Record<string, unknown>;
  if (typeof iat !== 'number' || typeof exp !== 'number' || !Number.isFinite(iat) || !Number.isFinite(exp) || !(exp > iat)) return null;
  return {
    issuedAtMs: iat * 1000,
    expiresAtMs: exp * 1000,
    subject: typeof sub === 'string' ? sub : null,
    sessionId: typeof sid === 'string' ? sid : null,
  };
}

export interface RenewalPlanInput {
  /** The token's lifetime (`exp − iat`), ms. */
  readonly lifetimeMs: number;
  /** When the token expires (ms since the epoch, server clock). */
  readonly expiresAtMs: number;
  /** The client's estimate of the server's clock now, ms since the epoch. */
  readonly serverNowMs: number;
}

/**
 * How long from now to wait before renewing: the time left (never more than the lifetime,
 * whatever the clocks say, never less than 0) minus the margin.
 */
export function renewalDelayMs(input: RenewalPlanInput): number {
  const { lifetimeMs, expiresAtMs, serverNowMs } = input;
  for (const [name, value] of Object.entries(input)) {
    if (!Number.isFinite(value)) throw new RangeError(`token renewal: ${name} must be a finite number`);
  }
  if (lifetimeMs <= 0) throw new RangeError('token renewal: lifetimeMs must be positive');
  const left = Math.min(lifetimeMs, Math.max(0, expiresAtMs - serverNowMs));
  return Math.max(0, left - renewalMarginMs(lifetimeMs));
}

/** A quarter of the lifetime, at most MAX_RENEWAL_MARGIN_MS. */
export function renewalMarginMs(lifetimeMs: number): number {
  return Math.min(MAX_RENEWAL_MARGIN_MS, lifetimeMs / 4);
}

/**
 * Delay before retry number `attempt` (1 = the first retry) of a renewal that failed for a
 * reason that may pass (the network, a 5xx, a 429): exponential from 500 ms, at most 30 s, and
 * at least the server's Retry-After when it sent one. `random` in [0, 1) spreads the retries of
 * many clients ("full jitter" over the upper half).
 */
export function renewalRetryDelayMs(attempt: number, random: number, retryAfterMs?: number): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError('token renewal: attempt must be a positive integer');
  if (!(random >= 0 && random < 1)) throw new RangeError('token renewal: random must be in [0, 1)');
  const ceiling = Math.min(30_000, 500 * 2 ** Math.min(attempt - 1, 16));
  const delay = ceiling / 2 + (ceiling / 2) * random;
  return Math.max(delay, retryAfterMs ?? 0);
}

/** Estimates the server's clock offset (server − local, ms) from an HTTP Date header (RFC 9110 §6.6.1). */
export function clockOffsetFromDateHeader(dateHeader: string | null, localNowMs: number): number | null {
  if (dateHeader === null) return null;
  const serverMs = Date.parse(dateHeader);
  if (!Number.isFinite(serverMs)) return null;
  // The header has a resolution of one second and was written before the response left: the
  // server's clock was, on average, half a second later than it says.
  return serverMs + 500 - localNowMs;
}
