/**
 * Byte helpers used across Parley. Pure, dependency-free, safe in Node and workerd.
 */

const HEX_ALPHABET = '0123456789abcdef';

/** Lower-case hex of `bytes`. */
export function bytesToHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    out += HEX_ALPHABET[b >> 4]! + HEX_ALPHABET[b & 0x0f]!;
  }
  return out;
}

function hexNibble(code: number): number {
  if (code >= 48 && code <= 57) return code - 48; // 0-9
  if (code >= 97 && code <= 102) return code - 87; // a-f
  if (code >= 65 && code <= 70) return code - 55; // A-F
  return -1;
}

/**
 * Parses hex, ignoring ASCII white space anywhere (so RFC test vectors can be pasted as
 * printed). Odd length or a non-hex character → RangeError (the message never repeats input).
 */
export function hexToBytes(hex: string): Uint8Array {
  if (typeof hex !== 'string') throw new TypeError('hex: expected a string');
  const compact = hex.replace(/\s+/g, '');
  if (compact.length % 2 !== 0) throw new RangeError('hex: odd number of digits');
  const out = new Uint8Array(compact.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexNibble(compact.charCodeAt(2 * i));
    const lo = hexNibble(compact.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) throw new RangeError('hex: invalid character');
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/** Compares two byte arrays in time that depends only on their lengths. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** True when every byte is zero; reads every byte whatever it finds (constant time). */
export function isAllZero(bytes: Uint8Array): boolean {
  let accumulated = 0;
  for (let i = 0; i < bytes.length; i++) accumulated |= bytes[i]!;
  return accumulated === 0;
}

/** Overwrites every given buffer with zeros (key hygiene; best effort in a GC'd runtime). */
export function wipeBytes(...buffers: Array<Uint8Array | undefined | null>): void {
  for (const buffer of buffers) buffer?.fill(0);
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Throws a TypeError unless `value` is a Uint8Array (Buffers are Uint8Arrays too). */
export function assertBytes(value: unknown, what: string, length?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${what}: expected a Uint8Array`);
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`${what}: expected ${length} bytes, got ${value.length}`);
  }
}

/**
 * Concatenates fields, each preceded by its length as a 16-bit big-endian integer: an
 * unambiguous encoding (no field can be mistaken for part of its neighbour), used for the key
 * schedule's transcript and the relay seal's context. Every field must be under 64 KiB.
 */
export function encodeLengthPrefixed(fields: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const field of fields) {
    if (field.length > 0xffff) throw new RangeError('length-prefixed: a field is longer than 65535 bytes');
    total += 2 + field.length;
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const field of fields) {
    out[offset] = field.length >> 8;
    out[offset + 1] = field.length & 0xff;
    out.set(field, offset + 2);
    offset += 2 + field.length;
  }
  return out;
}
