/**
 * IPv4 addresses as numbers, for the batched UDP output (relay/src/io/datagram-batch.ts).
 * UdpTransport parses each destination object once and remembers the answer, never per packet.
 */

/**
 * "a.b.c.d" → a·2²⁴ + b·2¹⁶ + c·2⁸ + d (0 … 2³²−1), or undefined for anything that is not a
 * dotted quad of decimal octets 0–255 without leading zeros (IPv6 addresses included: those are
 * sent with dgram.Socket.send). Node reports IPv4 sources in exactly that form.
 */
export function ipv4ToNumber(address: string): number | undefined {
  let value = 0;
  let octet = -1; // -1: no digit yet in this part
  let parts = 0;
  for (let i = 0; i <= address.length; i++) {
    const code = i < address.length ? address.charCodeAt(i) : 0x2e; // a final '.' closes the last part
    if (code === 0x2e) {
      if (octet < 0 || ++parts > 4) return undefined;
      value = value * 256 + octet;
      octet = -1;
    } else if (code >= 0x30 && code <= 0x39) {
      if (octet === 0) return undefined; // leading zero: "01" is octal to some parsers; refuse it
      octet = (octet < 0 ? 0 : octet * 10) + (code - 0x30);
      if (octet > 255) return undefined;
    } else {
      return undefined;
    }
  }
  return parts === 4 ? value : undefined;
}
