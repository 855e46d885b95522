/** Builders for RTP/RTCP test packets. */
import { serializeRtpPacket, type RtpHeader } from '../../shared/srtp/rtp-header.js';

export function rtpPacket(fields: Partial<RtpHeader> & { payload?: Uint8Array; paddingLength?: number } = {}): Uint8Array {
  const header: RtpHeader = {
    padding: false,
    marker: fields.marker ?? false,
    payloadType: fields.payloadType ?? 111,
    sequenceNumber: fields.sequenceNumber ?? 1,
    timestamp: fields.timestamp ?? 0x01020304,
    ssrc: fields.ssrc ?? 0xcafebabe,
    csrcs: fields.csrcs ?? [],
    extension: fields.extension ?? null,
  };
  const payload = fields.payload ?? Uint8Array.from({ length: 160 }, (_, i) => (i * 7) & 0xff);
  return serializeRtpPacket(header, payload, fields.paddingLength ?? 0);
}

/** A receiver report (RFC 3550 §6.4.2) with one report block: 32 bytes. */
export function rtcpReceiverReport(ssrc = 0xcafebabe): Uint8Array {
  const packet = new Uint8Array(32);
  packet[0] = 0x81; // V=2, RC=1
  packet[1] = 201; // RR
  packet[3] = 7; // length in 32-bit words minus one
  new DataView(packet.buffer).setUint32(4, ssrc);
  for (let i = 8; i < 32; i++) packet[i] = i;
  return packet;
}
