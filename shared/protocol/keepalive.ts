/**
 * Relay keepalives: an RTCP APP packet (RFC 3550 §6.7) named "PRLY", sent as SRTCP under the
 * session's keys (docs/protocol.md §6.2). They do three things:
 *   - keep the client's NAT binding open and the session inside the relay's idle timeout;
 *   - measure round-trip time (the relay echoes the client's 8-byte token);
 *   - prove that the client receives at its address (consent, after RFC 7675): every pong
 *     carries a cookie the relay chose at random, and the client echoes the latest one in its
 *     next ping, from the same address. The relay sends voice only to an address that echoed a
 *     cookie sent to it in the last 30 s (§6.3).
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  |V=2|P| subtype |   PT=204      |          length = 6           |
 *  |                     SSRC of the session                       |
 *  |                      name = "PRLY" (ASCII)                    |
 *  |                     token (8 bytes, opaque)                   |
 *  |                                                               |
 *  |                     cookie (8 bytes, opaque)                  |
 *  |                                                               |
 *
 * subtype 0 = ping (client → relay): `cookie` is the cookie of the latest pong or challenge the
 * client received (all zero before the first). subtype 1 = pong (relay → client): the address
 * has consent; subtype 2 = challenge (relay → client): it has not (yet, or any more), and the
 * client should send a ping echoing `cookie` at once. Pong and challenge echo the ping's token
 * (all zero in a challenge the relay sends unprompted) and are exactly as long as a ping, so the
 * relay never answers with more bytes than it received.
 */
export const KEEPALIVE_PACKET_TYPE = 204; // APP
export const KEEPALIVE_NAME = Uint8Array.of(0x50, 0x52, 0x4c, 0x59); // "PRLY"
export const KEEPALIVE_LENGTH = 28;
export const KEEPALIVE_TOKEN_LENGTH = 8;
export const KEEPALIVE_COOKIE_LENGTH = 8;
/** Where the token and the cookie sit in the (unprotected) packet. */
export const KEEPALIVE_TOKEN_OFFSET = 12;
export const KEEPALIVE_COOKIE_OFFSET = 20;

export type KeepaliveKind = 'ping' | 'pong' | 'challenge';

const SUBTYPE: Record<KeepaliveKind, number> = { ping: 0, pong: 1, challenge: 2 };
const KIND_OF_SUBTYPE: readonly KeepaliveKind[] = ['ping', 'pong', 'challenge'];
const NO_COOKIE = new Uint8Array(KEEPALIVE_COOKIE_LENGTH);

export interface Keepalive {
  readonly kind: KeepaliveKind;
  readonly ssrc: number;
  readonly token: Uint8Array;
  readonly cookie: Uint8Array;
}

export function encodeKeepalive(kind: KeepaliveKind, ssrc: number, token: Uint8Array, cookie: Uint8Array = NO_COOKIE): Uint8Array {
  if (token.length !== KEEPALIVE_TOKEN_LENGTH) throw new RangeError(`keepalive: token must be ${KEEPALIVE_TOKEN_LENGTH} bytes`);
  if (cookie.length !== KEEPALIVE_COOKIE_LENGTH) throw new RangeError(`keepalive: cookie must be ${KEEPALIVE_COOKIE_LENGTH} bytes`);
  if (!Number.isInteger(ssrc) || ssrc < 0 || ssrc > 0xffffffff) throw new RangeError('keepalive: ssrc must be a uint32');
  const packet = new Uint8Array(KEEPALIVE_LENGTH);
  packet[0] = 0x80 | SUBTYPE[kind];
  packet[1] = KEEPALIVE_PACKET_TYPE;
  packet[3] = KEEPALIVE_LENGTH / 4 - 1;
  new DataView(packet.buffer).setUint32(4, ssrc);
  packet.set(KEEPALIVE_NAME, 8);
  packet.set(token, KEEPALIVE_TOKEN_OFFSET);
  packet.set(cookie, KEEPALIVE_COOKIE_OFFSET);
  return packet;
}

/** Parses a decrypted RTCP packet as a keepalive; null when it is some other RTCP packet. */
export function decodeKeepalive(packet: Uint8Array): Keepalive | null {
  if (!isKeepalive(packet)) return null;
  const kind = KIND_OF_SUBTYPE[packet[0]! & 0x1f]!;
  const ssrc = new DataView(packet.buffer, packet.byteOffset, packet.byteLength).getUint32(4);
  return {
    kind,
    ssrc,
    token: packet.slice(KEEPALIVE_TOKEN_OFFSET, KEEPALIVE_TOKEN_OFFSET + KEEPALIVE_TOKEN_LENGTH),
    cookie: packet.slice(KEEPALIVE_COOKIE_OFFSET, KEEPALIVE_COOKIE_OFFSET + KEEPALIVE_COOKIE_LENGTH),
  };
}

/** Whether a decrypted RTCP packet is a well-formed keepalive of a known subtype. */
export function isKeepalive(packet: Uint8Array): boolean {
  if (packet.length !== KEEPALIVE_LENGTH || packet[1] !== KEEPALIVE_PACKET_TYPE) return false;
  if (packet[0]! >> 6 !== 2 || (packet[0]! & 0x20) !== 0 || packet[2] !== 0 || packet[3] !== KEEPALIVE_LENGTH / 4 - 1) return false;
  for (let i = 0; i < 4; i++) if (packet[8 + i] !== KEEPALIVE_NAME[i]) return false;
  return (packet[0]! & 0x1f) < KIND_OF_SUBTYPE.length;
}
