/**
 * Random, prefixed identifiers: `usr_…` (accounts), `ses_…` (logins, the `sid` claim), `chn_…`
 * (channels), `ak_…` (app keys), `req_…` (request ids in logs), `vs_…` (voice sessions, also sent
 * to relays as session ids).
 *
 * 128 random bits in lower-case base32 (RFC 4648 alphabet, no padding): 26 characters that
 * survive URLs, case-insensitive systems and the relay API's id rule (visible ASCII, at most
 * 128 characters, docs/protocol.md §8.1).
 */
const BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

export type IdPrefix = 'usr' | 'ses' | 'chn' | 'ak' | 'req' | 'vs';

export function encodeBase32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32_ALPHABET[(buffer >>> bits) & 31];
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** A fresh id. Call inside a request, never at module scope (workerd refuses randomness there). */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${encodeBase32(crypto.getRandomValues(new Uint8Array(16)))}`;
}

/** Matches ids made by newId with the given prefix; routes use it to refuse garbage early. */
export function idPattern(prefix: IdPrefix): RegExp {
  return new RegExp(`^${prefix}_[a-z2-7]{26}$`);
}
