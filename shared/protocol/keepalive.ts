/**
 * Relay keepalives: an RTCP APP packet (RFC 3550 §6.7) named "PRLY", sent as SRTCP under the
 * session's keys. A client sends a ping every few seconds to keep its NAT binding open and to
 * measure round-trip time; the relay answers each authenticated ping with one pong of the
 * same length, protected with the relay→client key, echoing the client's 8-byte token.
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  |V=2|P| subtype |   PT=204      |          length = 4           |
 *  |                     SSRC of the session                       |
 *  |                      name = "PRLY" (ASCII)                    |
 *  |                     token (8 bytes, opaque)                   |
 *  |                                                               |
 *
 * subtype 0 = ping (client → relay), 1 = pong (relay → client). Because the pong is exactly as
 * long as the ping and protected with the same profile, the relay never answers with more
 * bytes than it received.
 */
export const KEEPALIVE_PACKET_TYPE = 204; // APP
export const KEEPALIVE_NAME = Uint8Array.of(0x50, 0x52, 0x4c, 0x59); // "PRLY"
export const KEEPALIVE_LENGTH = 20;
export const KEEPALIVE_TOKEN_LENGTH = 8;

export type KeepaliveKind = 'ping' | 'pong';

const SUBTYPE: Record<KeepaliveKind, number> = { ping: 0, pong: 1 };

export interface Keepalive {
  readonly kind: KeepaliveKind;
  readonly ssrc: number;
  readonly token: Uint8Array;
}

export function encodeKeepalive(kind: KeepaliveKind, ssrc: number, token: Uint8Array): Uint8Array {
  if (token.length !== KEEPALIVE_TOKEN_LENGTH) throw new RangeError(`keepalive: token must be ${KEEPALIVE_TOKEN_LENGTH} bytes`);
  if (!Number.isInteger(ssrc) || ssrc < 0 || ssrc > 0xffffffff) throw new RangeError('keepalive: ssrc must be a uint32');
  const packet = new Uint8Array(KEEPALIVE_LENGTH);
  packet[0] = 0x80 | SUBTYPE[kind];
  packet[1] = KEEPALIVE_PACKET_TYPE;
  packet[3] = KEEPALIVE_LENGTH / 4 - 1;
  new DataView(packet.buffer).setUint32(4, ssrc);
  packet.set(KEEPALIVE_NAME, 8);
  packet.set(token, 12);
  return packet;
}

/** Parses a decrypted RTCP packet as a keepalive; null when it is some other RTCP packet. */
export function decodeKeepalive(packet: Uint8Array): Keepalive | null {
  if (packet.length !== KEEPALIVE_LENGTH || packet[1] !== KEEPALIVE_PACKET_TYPE) return null;
  if (packet[0]! >> 6 !== 2 || (packet[0]! & 0x20) !== 0 || packet[2] !== 0 || packet[3] !== KEEPALIVE_LENGTH / 4 - 1) return null;
  for (let i = 0; i < 4; i++) if (packet[8 + i] !== KEEPALIVE_NAME[i]) return null;
  const subtype = packet[0]! & 0x1f;
  const kind: KeepaliveKind | null = subtype === 0 ? 'ping' : subtype === 1 ? 'pong' : null;
  if (kind === null) return null;
  const ssrc = new DataView(packet.buffer, packet.byteOffset, packet.byteLength).getUint32(4);
  return { kind, ssrc, token: packet.slice(12, 20) };
}
