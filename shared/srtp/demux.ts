/**
 * Telling RTCP from RTP on one port, RFC 5761 §4: the second octet of RTCP is the packet type
 * (192..223 covers SR 200, RR 201, SDES, BYE, APP, RTPFB, PSFB, XR…), which never collides with
 * an RTP marker+payload-type octet for the dynamic payload types voice uses.
 */
export function isRtcpPacket(packet: Uint8Array): boolean {
  if (packet.length < 2) return false;
  const packetType = packet[1]!;
  return packetType >= 192 && packetType <= 223;
}
