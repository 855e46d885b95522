/**
 * Identifiers on the relay internal API (session, user, channel and relay ids): 1..128
 * characters of visible ASCII (0x21–0x7e). No spaces or control characters, so an id can sit on
 * a line of a canonical string or in a log field as it is; callers put session ids into URL
 * paths with encodeURIComponent().
 */
export const MAX_RELAY_API_ID_LENGTH = 128;

const ID_PATTERN = /^[\x21-\x7e]{1,128}$/;

export function isRelayApiId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/** Throws TypeError/RangeError (naming `what`, never the value) unless `value` is an id. */
export function assertRelayApiId(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string') throw new TypeError(`relay-api: ${what} must be a string`);
  if (!ID_PATTERN.test(value)) {
    throw new RangeError(`relay-api: ${what} must be 1..${MAX_RELAY_API_ID_LENGTH} visible ASCII characters`);
  }
}

/**
 * A relay's boot id (docs/protocol.md §8.6): 16 random bytes a relay draws each time it starts,
 * as unpadded base64url (22 characters). It is announced at registration and bound into every
 * seal (sealed-keys.ts), so keys sealed for an earlier run of the relay never open in a later one.
 */
export const RELAY_BOOT_ID_LENGTH = 22;

const BOOT_ID_PATTERN = /^[A-Za-z0-9_-]{21}[AQgw]$/;

/** 22 base64url characters whose unused low bits are zero: exactly 16 bytes, one spelling each. */
export function isRelayBootId(value: unknown): value is string {
  return typeof value === 'string' && BOOT_ID_PATTERN.test(value);
}

export function assertRelayBootId(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string') throw new TypeError(`relay-api: ${what} must be a string`);
  if (!BOOT_ID_PATTERN.test(value)) throw new RangeError(`relay-api: ${what} must be ${RELAY_BOOT_ID_LENGTH} base64url characters (16 bytes)`);
}
