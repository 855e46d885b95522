/**
 * RTP fixed header and its extensions, RFC 3550 §5.1 and §5.3.1.
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 *  |                           timestamp                           |
 *  |           synchronization source (SSRC) identifier            |
 *  |            contributing source (CSRC) identifiers (CC × 32)   |
 *  |  defined by profile (16)      |  extension length in words    |  (if X)
 *  |                        header extension                       |
 *
 * Parsing never allocates in proportion to a length the packet claims: every length is
 * checked against the bytes actually present first.
 */
import { SrtpError } from './errors.js';

export const RTP_VERSION = 2;
export const RTP_FIXED_HEADER_LENGTH = 12;

export interface RtpHeaderExtension {
  /** The 16-bit "defined by profile" field (0xBEDE for RFC 8285 one-byte headers). */
  readonly profile: number;
  /** Extension body, a multiple of 4 bytes. */
  readonly data: Uint8Array;
}

export interface RtpHeader {
  readonly padding: boolean;
  readonly marker: boolean;
  readonly payloadType: number;
  readonly sequenceNumber: number;
  readonly timestamp: number;
  readonly ssrc: number;
  readonly csrcs: readonly number[];
  readonly extension: RtpHeaderExtension | null;
}

export interface ParsedRtpPacket {
  readonly header: RtpHeader;
  /** Length of the header including CSRCs and extension: the payload starts here. */
  readonly headerLength: number;
  /** Payload without padding. */
  readonly payload: Uint8Array;
  /** Number of padding octets at the end (0 when P is clear). */
  readonly paddingLength: number;
}

export function readUint32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}

export function writeUint32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = value >>> 16;
  bytes[offset + 2] = value >>> 8;
  bytes[offset + 3] = value;
}

/**
 * Validates the header of an RTP packet and returns its length (fixed part + CSRCs +
 * extension), or why it is not a valid RTP header. Does not look at padding, which SRTP
 * encrypts. Allocation-free and never throws: the SRTP hot path calls this on every packet, and
 * a malformed packet is ordinary input there.
 */
export function checkRtpHeader(packet: Uint8Array): number | 'malformed' | 'bad-version' {
  if (packet.length < RTP_FIXED_HEADER_LENGTH) return 'malformed';
  const first = packet[0]!;
  if (first >> 6 !== RTP_VERSION) return 'bad-version';
  let length = RTP_FIXED_HEADER_LENGTH + 4 * (first & 0x0f);
  if (length > packet.length) return 'malformed';
  if (first & 0x10) {
    if (length + 4 > packet.length) return 'malformed';
    length += 4 + 4 * ((packet[length + 2]! << 8) | packet[length + 3]!);
    if (length > packet.length) return 'malformed';
  }
  return length;
}

/** checkRtpHeader for callers that want an exception: the header's length, or SrtpError. */
export function rtpHeaderLength(packet: Uint8Array): number {
  const length = checkRtpHeader(packet);
  if (length === 'bad-version') throw new SrtpError('bad-version', `RTP version ${packet[0]! >> 6} is not 2`);
  if (length === 'malformed') throw new SrtpError('malformed', `RTP header (12 bytes, CSRCs, extension) runs past the end of the ${packet.length}-byte packet`);
  return length;
}

/**
 * RFC 3550 §5.1: with P set, the last octet counts the padding octets including itself, so it
 * is at least 1 and at most the payload length. Returns that count (0 when P is clear), or
 * 'malformed'. Never throws.
 */
export function checkRtpPadding(packet: Uint8Array, headerLength: number, packetLength = packet.length): number | 'malformed' {
  if ((packet[0]! & 0x20) === 0) return 0;
  const payloadLength = packetLength - headerLength;
  const count = payloadLength > 0 ? packet[packetLength - 1]! : 0;
  return count === 0 || count > payloadLength ? 'malformed' : count;
}

/** checkRtpPadding for callers that want an exception. */
export function rtpPaddingLength(packet: Uint8Array, headerLength: number): number {
  const count = checkRtpPadding(packet, headerLength);
  if (count === 'malformed') throw new SrtpError('malformed', 'padding count is zero or runs past the payload');
  return count;
}

/** Full parse of an (unprotected) RTP packet, for tools and tests. */
export function parseRtpPacket(packet: Uint8Array): ParsedRtpPacket {
  const headerLength = rtpHeaderLength(packet);
  const paddingLength = rtpPaddingLength(packet, headerLength);
  const first = packet[0]!;
  const second = packet[1]!;
  const csrcCount = first & 0x0f;
  const csrcs: number[] = [];
  for (let i = 0; i < csrcCount; i++) csrcs.push(readUint32(packet, RTP_FIXED_HEADER_LENGTH + 4 * i));
  let extension: RtpHeaderExtension | null = null;
  if (first & 0x10) {
    const at = RTP_FIXED_HEADER_LENGTH + 4 * csrcCount;
    extension = {
      profile: (packet[at]! << 8) | packet[at + 1]!,
      data: packet.slice(at + 4, headerLength),
    };
  }
  return {
    header: {
      padding: (first & 0x20) !== 0,
      marker: (second & 0x80) !== 0,
      payloadType: second & 0x7f,
      sequenceNumber: (packet[2]! << 8) | packet[3]!,
      timestamp: readUint32(packet, 4),
      ssrc: readUint32(packet, 8),
      csrcs,
      extension,
    },
    headerLength,
    payload: packet.slice(headerLength, packet.length - paddingLength),
    paddingLength,
  };
}

function checkUint(value: number, bits: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) {
    throw new RangeError(`rtp: ${field} must be an integer in [0, 2^${bits})`);
  }
}

/**
 * Builds an RTP packet. With `paddingLength` > 0 the P bit is set and that many padding octets
 * (the last one holding the count) follow the payload.
 */
export function serializeRtpPacket(header: RtpHeader, payload: Uint8Array, paddingLength = 0): Uint8Array {
  checkUint(header.payloadType, 7, 'payloadType');
  checkUint(header.sequenceNumber, 16, 'sequenceNumber');
  checkUint(header.timestamp, 32, 'timestamp');
  checkUint(header.ssrc, 32, 'ssrc');
  checkUint(paddingLength, 8, 'paddingLength');
  if (header.csrcs.length > 15) throw new RangeError('rtp: at most 15 CSRCs');
  header.csrcs.forEach((csrc, i) => checkUint(csrc, 32, `csrcs[${i}]`));
  const ext = header.extension;
  if (ext) {
    checkUint(ext.profile, 16, 'extension.profile');
    if (ext.data.length % 4 !== 0 || ext.data.length / 4 > 0xffff) {
      throw new RangeError('rtp: extension data must be a multiple of 4 bytes, at most 65535 words');
    }
  }
  const headerLength = RTP_FIXED_HEADER_LENGTH + 4 * header.csrcs.length + (ext ? 4 + ext.data.length : 0);
  const out = new Uint8Array(headerLength + payload.length + paddingLength);
  out[0] = (RTP_VERSION << 6) | (paddingLength > 0 ? 0x20 : 0) | (ext ? 0x10 : 0) | header.csrcs.length;
  out[1] = (header.marker ? 0x80 : 0) | header.payloadType;
  out[2] = header.sequenceNumber >> 8;
  out[3] = header.sequenceNumber & 0xff;
  writeUint32(out, 4, header.timestamp);
  writeUint32(out, 8, header.ssrc);
  let at = RTP_FIXED_HEADER_LENGTH;
  for (const csrc of header.csrcs) {
    writeUint32(out, at, csrc);
    at += 4;
  }
  if (ext) {
    out[at] = ext.profile >> 8;
    out[at + 1] = ext.profile & 0xff;
    out[at + 2] = (ext.data.length / 4) >> 8;
    out[at + 3] = (ext.data.length / 4) & 0xff;
    out.set(ext.data, at + 4);
    at += 4 + ext.data.length;
  }
  out.set(payload, at);
  if (paddingLength > 0) out[out.length - 1] = paddingLength;
  return out;
}
