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
