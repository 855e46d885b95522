/**
 * Passwords: the rules a new password must meet, how a password becomes bytes, and Argon2id
 * hashing in PHC string form.
 *
 * Rules (docs/protocol.md §4.3), checked before any hashing:
 * - at least 15 characters: NIST SP 800-63B-4 §3.1.1.2 requires 15 for a password that is the
 *   only authentication factor, as a Parley password is; no composition rules (same section);
 * - at most 256 characters (the same section asks verifiers to permit at least 64). Requests
 *   carry the password in JSON, so the first bound is cheap: more than 1024 UTF-16 code units is
 *   refused before the text is even normalised; 256 code points are at most 1024 UTF-8 bytes;
 * - not a single character repeated, and not the username itself (SP 800-63B-4 asks for a
 *   blocklist of "context-specific words" and obvious values; a breached-password corpus is not
 *   consulted: it needs a service or a large table this Worker does not ship).
 * "Characters" are Unicode code points after normalisation.
 *
 * Normalisation is the OpaqueString profile of RFC 8265 §4.2: non-ASCII spaces (Zs) become
 * U+0020, then NFC; no case or width mapping. New passwords containing control characters (Cc)
 * or unpaired surrogates are refused (FreeformClass disallows controls, and a lone surrogate has
 * no UTF-8 form: encoding it would silently become U+FFFD and make distinct passwords equal).
 * Login normalises the same way but refuses nothing except the length, so it never tells whether
 * a password could exist.
 *
 * Hashing: Argon2id (RFC 9106) from @noble/hashes, 16-byte random salt, 32-byte output, version
 * 0x13, parameters from the configuration (OWASP: m = 19456 KiB, t = 2, p = 1), stored as the PHC
 * string `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` (standard base64 without padding, as the
 * reference implementation writes it). Verification parses that strictly (only what this module
 * writes, within parameter bounds, so a corrupt row cannot make the Worker allocate gigabytes),
 * compares in constant time, and reports `needsRehash` when the stored parameters are below the
 * configured ones so login can upgrade the hash.
 *
 * Unknown users cost the same as wrong passwords: `verify(password, null, …)` runs one Argon2id
 * with the current parameters against a fixed salt and compares it with a value no password
 * produces.
 *
 * Cost: about 150–200 ms of CPU per hash inside workerd with the OWASP parameters, hence the
 * Workers Paid plan (README). @noble/hashes' async variant yields to the event loop whenever
 * Date.now() has moved 10 ms since its last yield, so other requests of the isolate interleave
 * where the clock runs (Node; local workerd, measured: 65 yields per OWASP hash in the vitest
 * pool). Where the runtime holds the clock still during computation (deployed Workers, as a
 * timing side-channel defence) a hash runs to its end in one go.
 */
import { argon2idAsync } from '@noble/hashes/argon2.js';
import { constantTimeEqual } from '../../../shared/bytes.js';
import { decodeBase64Url, encodeBase64Url } from '../../../shared/relay-api/index.js';
import type { PasswordHashParameters } from '../config.js';
import { usernameKey } from './usernames.js';

export const PASSWORD_MIN_LENGTH = 15;
export const PASSWORD_MAX_LENGTH = 256;
/** UTF-16 code units accepted before normalising; anything longer is refused at once. */
export const PASSWORD_MAX_INPUT_LENGTH = 1024;

const SALT_BYTES = 16;
const HASH_BYTES = 32;
const ARGON2_VERSION = 0x13;

/** Bounds on parameters read back from a stored hash. */
const MAX_STORED_MEMORY_KIB = 1_048_576;
const MAX_STORED_ITERATIONS = 100;

export type PasswordProblem = 'length' | 'control_characters' | 'repeated_character' | 'same_as_username';

export const PASSWORD_PROBLEM_MESSAGES: Readonly<Record<PasswordProblem, string>> = {
  length: `must be ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters`,
  control_characters: 'must not contain control characters',
  repeated_character: 'must not be one character repeated',
  same_as_username: 'must not be the username',
};

export type PasswordRuleCheck = { readonly ok: true } | { readonly ok: false; readonly problem: PasswordProblem; readonly message: string };

const NON_ASCII_SPACE = /(?!\u0020)\p{Zs}/gu;
const CONTROL = /\p{Cc}/u;
const LONE_SURROGATE = /\p{Surrogate}/u;

/** RFC 8265 §4.2.1 OpaqueString preparation and enforcement mappings: spaces to U+0020, NFC. */
export function normalizePassword(password: string): string {
  return password.replace(NON_ASCII_SPACE, ' ').normalize('NFC');
}

function codePointCount(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/** What login and the current password of a password change are held to: only the maximum. */
export const PASSWORD_TOO_LONG_MESSAGE = `must be at most ${PASSWORD_MAX_LENGTH} characters`;

function isPasswordLengthAcceptable(password: string, minLength: number): boolean {
  if (password.length > PASSWORD_MAX_INPUT_LENGTH) return false;
  const count = codePointCount(normalizePassword(password));
  return count >= minLength && count <= PASSWORD_MAX_LENGTH;
}

/** Over the maximum length: refused before anything else, so a huge input never reaches the hash. */
export function isPasswordTooLong(password: string): boolean {
  return !isPasswordLengthAcceptable(password, 0);
}

/**
 * The rules for a new password. `username`, when given, is refused as the password in any case
 * or width (compared by auth/usernames.ts usernameKey).
 */
export function checkNewPassword(password: string, context: { readonly username?: string } = {}): PasswordRuleCheck {
  const fail = (problem: PasswordProblem): PasswordRuleCheck => ({ ok: false, problem, message: PASSWORD_PROBLEM_MESSAGES[problem] });
  if (!isPasswordLengthAcceptable(password, PASSWORD_MIN_LENGTH)) return fail('length');
  const normalized = normalizePassword(password);
  if (CONTROL.test(normalized) || LONE_SURROGATE.test(normalized)) return fail('control_characters');
  const first = normalized.codePointAt(0)!;
  if ([...normalized].every((c) => c.codePointAt(0) === first)) return fail('repeated_character');
  if (context.username !== undefined && usernameKey(normalized) === usernameKey(context.username)) return fail('same_as_username');
  return { ok: true };
}

// PHC string format (https://github.com/P-H-C/phc-string-format): B64 is standard base64 without
// padding. It differs from base64url only in two characters, so the strict base64url codec does
// the work (one accepted encoding per value).

function encodeB64(bytes: Uint8Array): string {
  return encodeBase64Url(bytes).replace(/-/g, '+').replace(/_/g, '/');
}

function decodeB64(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]*$/.test(text)) return null;
  return decodeBase64Url(text.replace(/\+/g, '-').replace(/\//g, '_'));
}

export interface StoredPasswordHash {
  readonly params: PasswordHashParameters;
  readonly salt: Uint8Array;
  readonly hash: Uint8Array;
}

const PHC_ARGON2ID = /^\$argon2id\$v=19\$m=([1-9][0-9]{0,6}),t=([1-9][0-9]{0,2}),p=1\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})$/;

export function formatPasswordHash(stored: StoredPasswordHash): string {
  const { memoryKib, iterations, parallelism } = stored.params;
  return `$argon2id$v=19$m=${memoryKib},t=${iterations},p=${parallelism}$${encodeB64(stored.salt)}$${encodeB64(stored.hash)}`;
}

/** Parses what formatPasswordHash writes and nothing else; null for anything else. */
export function parsePasswordHash(text: string): StoredPasswordHash | null {
  const match = PHC_ARGON2ID.exec(text);
  if (match === null) return null;
  const memoryKib = Number(match[1]);
  const iterations = Number(match[2]);
  // RFC 9106 §3.1: m ≥ 8·p.
  if (memoryKib < 8 || memoryKib > MAX_STORED_MEMORY_KIB || iterations > MAX_STORED_ITERATIONS) return null;
  const salt = decodeB64(match[3]!);
  const hash = decodeB64(match[4]!);
  if (salt === null || hash === null || salt.length !== SALT_BYTES || hash.length !== HASH_BYTES) return null;
  return { params: { memoryKib, iterations, parallelism: 1 }, salt, hash };
}

/** Stored parameters below the configured ones: rehash after the next successful login. */
export function needsRehash(stored: PasswordHashParameters, configured: PasswordHashParameters): boolean {
  return stored.memoryKib < configured.memoryKib || stored.iterations < configured.iterations;
}

/** The Argon2id function itself, injectable so tests can count (and see the parameters of) every computation. */
export type Argon2idFunction = (password: Uint8Array, salt: Uint8Array, params: PasswordHashParameters) => Promise<Uint8Array>;

export const nobleArgon2id: Argon2idFunction = (password, salt, params) =>
  argon2idAsync(password, salt, { m: params.memoryKib, t: params.iterations, p: params.parallelism, dkLen: HASH_BYTES, version: ARGON2_VERSION });

export interface PasswordVerification {
  readonly ok: boolean;
  /** Only when ok: the stored hash uses weaker parameters than the configured ones. */
  readonly needsRehash: boolean;
}

export interface PasswordHasher {
  /** A PHC string for a (not yet normalised) password. */
  hash(password: string, params: PasswordHashParameters): Promise<string>;
  /**
   * Whether the password matches the stored PHC string. `stored` null (unknown user) or
   * unparseable still costs one Argon2id with `params`, and is never ok.
   */
  verify(password: string, stored: string | null, params: PasswordHashParameters): Promise<PasswordVerification>;
}

// Unknown users are verified against this: a fixed salt and an expected value that is not the
// output of any password (32 zero bytes: finding a preimage is finding an Argon2id preimage).
const DUMMY_SALT = new TextEncoder().encode('parley-no-user!!');
const DUMMY_HASH = new Uint8Array(HASH_BYTES);

export function createPasswordHasher(derive: Argon2idFunction = nobleArgon2id): PasswordHasher {
  const encoder = new TextEncoder();
  return {
    async hash(password, params) {
      const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
      const hash = await derive(encoder.encode(normalizePassword(password)), salt, params);
      return formatPasswordHash({ params, salt, hash });
    },
    async verify(password, stored, params) {
      const parsed = stored === null ? null : parsePasswordHash(stored);
      const target = parsed ?? { params, salt: DUMMY_SALT, hash: DUMMY_HASH };
      const computed = await derive(encoder.encode(normalizePassword(password)), target.salt, target.params);
      const ok = parsed !== null && constantTimeEqual(computed, target.hash);
      return { ok, needsRehash: ok && needsRehash(target.params, params) };
    },
  };
}
