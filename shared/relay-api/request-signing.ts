/**
 * Request signing for Parley's internal HTTP APIs (control plane ⇄ relay), docs/protocol.md §8.2.
 *
 * Every request carries one header:
 *
 *     Authorization: Parley-HMAC-SHA256 keyId=<kid>, ts=<ms>, nonce=<b64url>, sig=<b64url>
 *
 * where sig = base64url(HMAC-SHA256(secret[kid], canonical)) and `canonical` is the UTF-8 string
 *
 *     "parley-v1 relay-api request" \n keyId \n audience \n ts \n nonce \n METHOD \n target \n hex(SHA-256(body))
 *
 * `audience` is the id of the party the request is meant for (the relay's id, or "control" for
 * the control plane). It is not sent: the verifier puts its own id there, so a request signed
 * for another relay fails like any altered request. `target` is the path with its query, as the
 * WHATWG URL parser serialises it (pathname + search). No field can contain a newline (each is
 * checked), so the encoding is unambiguous.
 *
 * Verification order, cheapest and least committing first: parse the header, look the key id
 * up, check the clock skew, check the MAC (constant time), and only then record the nonce — an
 * unauthenticated request can never fill the nonce cache or burn a nonce. verifyRequest does all
 * five steps with a synchronous NonceStore (the relay's in-memory cache); checkRequestSignature
 * does the first four, for a verifier that records the nonce itself (the control plane, in the
 * same database transaction as the request's effect).
 *
 * Pure: the time, the random source and the nonce store are passed in.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes as platformRandomBytes } from '@noble/hashes/utils.js';
import { bytesToHex, constantTimeEqual } from '../bytes.js';
import { decodeBase64Url, encodeBase64Url } from './base64url.js';

/** Authorization scheme and WWW-Authenticate challenge name. */
export const SIGNATURE_SCHEME = 'Parley-HMAC-SHA256';
/** First line of every canonical request: names this construction and its version. */
export const SIGNING_LABEL = 'parley-v1 relay-api request';
/** Audience of requests a relay sends to the control plane. */
export const CONTROL_PLANE_AUDIENCE = 'control';
/** Largest accepted difference between the signer's and the verifier's clocks, either way. */
export const DEFAULT_MAX_SKEW_MS = 60_000;
/** Shortest accepted HMAC secret, bytes. */
export const MIN_SECRET_LENGTH = 32;
/** Random bytes in a nonce this module generates (22 base64url characters). */
export const NONCE_BYTES = 16;

const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;
/** Visible ASCII, 1..128: ids that can sit on their own line of the canonical string. */
const AUDIENCE_PATTERN = /^[\x21-\x7e]{1,128}$/;
const TARGET_PATTERN = /^\/[\x21-\x7e]*$/;
const METHOD_PATTERN = /^[A-Z]{1,16}$/;
const AUTHORIZATION_PATTERN = new RegExp(
  `^${SIGNATURE_SCHEME} keyId=([A-Za-z0-9._-]{1,64}), ts=(0|[1-9][0-9]{0,15}), nonce=([A-Za-z0-9_-]{16,64}), sig=([A-Za-z0-9_-]{43})$`,
);
const MAC_LENGTH = 32;

const utf8 = new TextEncoder();

export interface SigningKey {
  /** Names the secret, so secrets can rotate: the verifier holds keyId → secret. */
  readonly keyId: string;
  /** At least MIN_SECRET_LENGTH random bytes. */
  readonly secret: Uint8Array;
}

export interface CanonicalRequestFields {
  readonly keyId: string;
  readonly audience: string;
  readonly timestamp: number;
  readonly nonce: string;
  readonly method: string;
  /** Path and query, e.g. "/v1/sessions?x=1" (see requestTarget()). */
  readonly target: string;
  readonly body: Uint8Array;
}

/** pathname + search of a URL, as the WHATWG URL parser serialises them. */
export function requestTarget(url: string | URL): string {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  return parsed.pathname + parsed.search;
}

/** Throws RangeError unless `secret` is a Uint8Array of at least MIN_SECRET_LENGTH bytes. */
export function assertSigningSecret(secret: unknown, what = 'relay-api: signing secret'): asserts secret is Uint8Array {
  if (!(secret instanceof Uint8Array)) throw new TypeError(`${what}: expected a Uint8Array`);
  if (secret.length < MIN_SECRET_LENGTH) throw new RangeError(`${what}: must be at least ${MIN_SECRET_LENGTH} bytes`);
}

/** Throws unless `keyId` is 1..64 characters of [A-Za-z0-9._-]. */
export function assertKeyId(keyId: unknown): asserts keyId is string {
  if (typeof keyId !== 'string') throw new TypeError('relay-api: keyId must be a string');
  if (!KEY_ID_PATTERN.test(keyId)) throw new RangeError('relay-api: keyId must be 1..64 characters of [A-Za-z0-9._-]');
}

/** The bytes the MAC covers (module comment). Throws for a field that could break the layout. */
export function canonicalRequest(fields: CanonicalRequestFields): Uint8Array {
  assertKeyId(fields.keyId);
  if (typeof fields.audience !== 'string' || !AUDIENCE_PATTERN.test(fields.audience)) {
    throw new RangeError('relay-api: audience must be 1..128 visible ASCII characters');
  }
  if (!Number.isSafeInteger(fields.timestamp) || fields.timestamp < 0) {
    throw new RangeError('relay-api: timestamp must be a non-negative safe integer (ms)');
  }
  if (typeof fields.nonce !== 'string' || !NONCE_PATTERN.test(fields.nonce)) {
    throw new RangeError('relay-api: nonce must be 16..64 base64url characters');
  }
  const method = String(fields.method).toUpperCase();
  if (!METHOD_PATTERN.test(method)) throw new RangeError('relay-api: method must be an HTTP method name');
  if (typeof fields.target !== 'string' || !TARGET_PATTERN.test(fields.target)) {
    throw new RangeError('relay-api: target must be a path (and query) of visible ASCII starting with /');
  }
  if (!(fields.body instanceof Uint8Array)) throw new TypeError('relay-api: body must be a Uint8Array');
  return utf8.encode(
    [
      SIGNING_LABEL,
      fields.keyId,
      fields.audience,
      String(fields.timestamp),
      fields.nonce,
      method,
      fields.target,
      bytesToHex(sha256(fields.body)),
    ].join('\n'),
  );
}

export interface SignRequestInput {
  readonly method: string;
  readonly url: string | URL;
  /** The exact bytes that will be sent; empty for no body. */
  readonly body?: Uint8Array;
  /** Who the request is for: the target relay's id, or CONTROL_PLANE_AUDIENCE. */
  readonly audience: string;
  readonly key: SigningKey;
  /** Current time, ms since the Unix epoch. */
  readonly now: number;
  /** Source of the nonce; defaults to crypto.getRandomValues. */
  readonly randomBytes?: (length: number) => Uint8Array;
}

/** The Authorization header value for a request (module comment). */
export function signRequest(input: SignRequestInput): string {
  assertSigningSecret(input.key.secret);
  const random = input.randomBytes ?? platformRandomBytes;
  const nonce = encodeBase64Url(random(NONCE_BYTES));
  const timestamp = Math.floor(input.now);
  const canonical = canonicalRequest({
    keyId: input.key.keyId,
    audience: input.audience,
    timestamp,
    nonce,
    method: input.method,
    target: requestTarget(input.url),
    body: input.body ?? new Uint8Array(0),
  });
  const sig = encodeBase64Url(hmac(sha256, input.key.secret, canonical));
  return `${SIGNATURE_SCHEME} keyId=${input.key.keyId}, ts=${timestamp}, nonce=${nonce}, sig=${sig}`;
}

/** Why a request was refused. Goes to logs; the client only ever sees a generic 401 (or 503). */
export type SignatureFailure =
  | 'missing-header'
  | 'malformed-header'
  | 'unknown-key'
  | 'timestamp-skew'
  | 'bad-signature'
  | 'replayed-nonce'
  /** The nonce store is at its cap: refuse rather than forget a nonce that is still replayable. */
  | 'nonce-cache-full';

export type NonceVerdict = 'fresh' | 'replayed' | 'full';

/** Remembers nonces until they expire. Only authenticated requests reach it. */
export interface NonceStore {
  /** Records `nonce` until `expiresAt` (ms) unless it is already recorded or the store is full. */
  checkAndRecord(nonce: string, expiresAt: number, now: number): NonceVerdict;
}

export interface VerifyRequestInput {
  readonly method: string;
  readonly url: string | URL;
  /** The Authorization header, or null when absent. */
  readonly authorization: string | null;
  /** The exact bytes received. */
  readonly body: Uint8Array;
}

export interface VerifyRequestOptions {
  /** The verifier's own id: its relay id, or CONTROL_PLANE_AUDIENCE. */
  readonly audience: string;
  readonly keys: ReadonlyMap<string, Uint8Array>;
  readonly now: number;
  readonly nonces: NonceStore;
  readonly maxSkewMs?: number;
}

export type VerifyResult =
  | { readonly ok: true; readonly keyId: string; readonly timestamp: number; readonly nonce: string }
  /** keyId is set once the header parsed; key ids are not secret, so logs may carry it. */
  | { readonly ok: false; readonly reason: SignatureFailure; readonly keyId?: string };

/** Options of checkRequestSignature: those of verifyRequest without the nonce store. */
export type CheckSignatureOptions = Omit<VerifyRequestOptions, 'nonces'>;

export type SignatureCheckResult =
  | {
      readonly ok: true;
      readonly keyId: string;
      readonly timestamp: number;
      readonly nonce: string;
      /** The last ms at which this nonce is still replayable (timestamp + max skew): keep it until then. */
      readonly nonceExpiresAt: number;
    }
  | { readonly ok: false; readonly reason: Exclude<SignatureFailure, 'replayed-nonce' | 'nonce-cache-full'>; readonly keyId?: string };

/**
 * Steps 1-4 of the verification (module comment): header, key id, clock skew, MAC. Records
 * nothing. For verifiers whose nonce store cannot answer synchronously, or that must record the
 * nonce together with the request's effect (the control plane writes it in the same database
 * transaction as the relay directory): a request is accepted only once the caller has recorded
 * `nonce` until `nonceExpiresAt`, refusing it if the nonce is already there (step 5).
 */
export function checkRequestSignature(request: VerifyRequestInput, options: CheckSignatureOptions): SignatureCheckResult {
  const maxSkewMs = options.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  if (request.authorization === null) return { ok: false, reason: 'missing-header' };
  const match = AUTHORIZATION_PATTERN.exec(request.authorization);
  if (match === null) return { ok: false, reason: 'malformed-header' };
  const [, keyId, ts, nonce, sig] = match as unknown as [string, string, string, string, string];
  const timestamp = Number(ts);
  if (!Number.isSafeInteger(timestamp)) return { ok: false, reason: 'malformed-header', keyId };

  const secret = options.keys.get(keyId);
  if (secret === undefined) return { ok: false, reason: 'unknown-key', keyId };
  if (Math.abs(options.now - timestamp) > maxSkewMs) return { ok: false, reason: 'timestamp-skew', keyId };

  const presented = decodeBase64Url(sig);
  if (presented === null || presented.length !== MAC_LENGTH) return { ok: false, reason: 'malformed-header', keyId };
  let canonical: Uint8Array;
  try {
    canonical = canonicalRequest({
      keyId,
      audience: options.audience,
      timestamp,
      nonce,
      method: request.method,
      target: requestTarget(request.url),
      body: request.body,
    });
  } catch {
    // A method or target the signer could not have signed.
    return { ok: false, reason: 'bad-signature', keyId };
  }
  const expected = hmac(sha256, secret, canonical);
  if (!constantTimeEqual(expected, presented)) return { ok: false, reason: 'bad-signature', keyId };
  // The nonce must be remembered for as long as its timestamp would still pass the skew check.
  return { ok: true, keyId, timestamp, nonce, nonceExpiresAt: timestamp + maxSkewMs };
}

/**
 * Checks a request's signature, freshness and nonce (order in the module comment). Records the
 * nonce only when everything else holds; has no other effect.
 */
export function verifyRequest(request: VerifyRequestInput, options: VerifyRequestOptions): VerifyResult {
  const checked = checkRequestSignature(request, options);
  if (!checked.ok) return checked;
  const { keyId, timestamp, nonce } = checked;
  // Authenticated: only now may the request leave a trace.
  const verdict = options.nonces.checkAndRecord(nonce, checked.nonceExpiresAt, options.now);
  if (verdict === 'replayed') return { ok: false, reason: 'replayed-nonce', keyId };
  if (verdict === 'full') return { ok: false, reason: 'nonce-cache-full', keyId };
  return { ok: true, keyId, timestamp, nonce };
}

/** WWW-Authenticate value sent with every 401. */
export function authenticateChallenge(realm: string): string {
  return `${SIGNATURE_SCHEME} realm="${realm.replace(/[^\x21-\x7e ]|["\\]/g, '')}"`;
}
