/**
 * The part of an RTCP packet SRTCP needs: RFC 3550 §6.4.1 common header + sender SSRC.
 *
 *  |V=2|P|    RC   |   PT          |             length            |
 *  |                         SSRC of sender                        |
 *
 * RFC 3711 §3.4 encrypts everything after these first 8 octets; they stay in the clear.
 */
import { SrtpError } from './errors.js';
import { RTP_VERSION, readUint32 } from './rtp-header.js';

export const RTCP_HEADER_LENGTH = 8;

/** Checks the first RTCP header of a (compound) packet and returns the sender SSRC. */
export function rtcpSenderSsrc(packet: Uint8Array): number {
  if (packet.length < RTCP_HEADER_LENGTH) {
    throw new SrtpError('malformed', `RTCP packet of ${packet.length} bytes is shorter than the 8-byte header`);
  }
  const version = packet[0]! >> 6;
  if (version !== RTP_VERSION) throw new SrtpError('bad-version', `RTCP version ${version} is not 2`);
  return readUint32(packet, 4);
}
