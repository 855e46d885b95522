/**
 * Synthetic plaintext RTP/RTCP streams for the interop tests.
 *
 * Everything but the seed is derived from a small seeded PRNG, so a failing run can be
 * reproduced from the seed that the test prints. The shape mirrors an Opus sender
 * (PT 111, 20 ms frames → timestamp +960) with the awkward bits sprinkled in: marker bits,
 * CSRC lists, RFC 8285 header extensions, RTP padding, and compound SR/RR + SDES RTCP packets.
 */

/** mulberry32: tiny, fast, good enough to vary packet shapes. Not for anything secret. */
export function createPrng(seed: number): () => number {
  let state = seed >>> 0;
  return function nextUint32(): number {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

export interface RtpStreamOptions {
  readonly seed: number;
  /** Number of RTP packets (RTCP packets come on top). */
  readonly rtpPackets: number;
  /** First sequence number; default: random in 60000..65535 so the 16-bit wrap comes early. */
  readonly firstSequence?: number;
  /** About one RTCP compound packet per this many RTP packets; 0 for none. Default 700. */
  readonly rtcpEvery?: number;
}

export interface StreamPacket {
  readonly kind: 'rtp' | 'rtcp';
  readonly bytes: Uint8Array;
  /** For messages: "rtp seq=… roc=…" or "rtcp SR ssrc=…". */
  readonly label: string;
}

export interface RtpStream {
  readonly seed: number;
  readonly ssrc: number;
  readonly packets: readonly StreamPacket[];
}

const OPUS_PT = 111;
const RTCP_SR = 200;
const RTCP_RR = 201;
const RTCP_SDES = 202;

export function generateRtpStream(options: RtpStreamOptions): RtpStream {
  const next = createPrng(options.seed);
  const below = (n: number): number => next() % n;
  const chance = (percent: number): boolean => below(100) < percent;
  const randomBytesInto = (out: Uint8Array, offset: number, length: number): void => {
    for (let i = 0; i < length; i++) out[offset + i] = next() & 0xff;
  };

  const ssrc = next();
  // A receiver-only SSRC for RR packets: a second SRTCP stream inside the same context.
  const receiverSsrc = (ssrc ^ 0x5a5a5a5a) >>> 0;
  let sequence = options.firstSequence ?? 60000 + below(65536 - 60000);
  let timestamp = next();
  let roc = 0;
  const rtcpEvery = options.rtcpEvery ?? 700;

  const packets: StreamPacket[] = [];
  for (let n = 0; n < options.rtpPackets; n++) {
    packets.push({ kind: 'rtp', bytes: buildRtp(), label: `rtp seq=${sequence} roc=${roc}` });
    sequence = (sequence + 1) & 0xffff;
    if (sequence === 0) roc += 1;
    timestamp = (timestamp + 960) >>> 0;
    if (rtcpEvery > 0 && below(rtcpEvery) === 0) {
      const senderReport = chance(60);
      packets.push({
        kind: 'rtcp',
        bytes: buildRtcp(senderReport),
        label: senderReport ? `rtcp SR+SDES ssrc=${ssrc}` : `rtcp RR+SDES ssrc=${receiverSsrc}`,
      });
    }
  }
  return { seed: options.seed, ssrc, packets };

  // RFC 3550 §5.1 fixed header, optional CSRCs, RFC 8285 extension block, payload, padding.
  function buildRtp(): Uint8Array {
    const csrcCount = chance(8) ? 1 + below(4) : 0;
    const extensionWords = chance(12) ? 1 + below(4) : 0;
    const padding = chance(3) ? 1 + below(16) : 0;
    const marker = chance(5);
    const payloadLength = 20 + below(181);
    const headerLength = 12 + 4 * csrcCount + (extensionWords > 0 ? 4 + 4 * extensionWords : 0);
    const bytes = new Uint8Array(headerLength + payloadLength + padding);
    const view = new DataView(bytes.buffer);
    bytes[0] = 0x80 | (padding > 0 ? 0x20 : 0) | (extensionWords > 0 ? 0x10 : 0) | csrcCount;
    bytes[1] = (marker ? 0x80 : 0) | OPUS_PT;
    view.setUint16(2, sequence);
    view.setUint32(4, timestamp);
    view.setUint32(8, ssrc);
    let offset = 12;
    for (let i = 0; i < csrcCount; i++, offset += 4) view.setUint32(offset, next());
    if (extensionWords > 0) {
      view.setUint16(offset, 0xbede); // RFC 8285 §4.2 one-byte header profile
      view.setUint16(offset + 2, extensionWords);
      randomBytesInto(bytes, offset + 4, 4 * extensionWords);
      offset += 4 + 4 * extensionWords;
    }
    randomBytesInto(bytes, offset, payloadLength);
    offset += payloadLength;
    if (padding > 0) bytes[offset + padding - 1] = padding; // RFC 3550 §5.1: last octet counts the padding
    return bytes;
  }

  // RFC 3550 §6.4 SR or RR (with 0..2 report blocks) followed by an SDES CNAME chunk (§6.5).
  function buildRtcp(senderReport: boolean): Uint8Array {
    const reportBlocks = below(3);
    const sender = senderReport ? ssrc : receiverSsrc;
    const reportLength = (senderReport ? 28 : 8) + 24 * reportBlocks;
    const cname = `parley-${(sender >>> 0).toString(16)}@interop`;
    const chunkLength = 4 + 2 + cname.length + 1; // SSRC, CNAME item, END item
    const sdesLength = 4 + Math.ceil(chunkLength / 4) * 4;
    const bytes = new Uint8Array(reportLength + sdesLength);
    const view = new DataView(bytes.buffer);

    bytes[0] = 0x80 | reportBlocks;
    bytes[1] = senderReport ? RTCP_SR : RTCP_RR;
    view.setUint16(2, reportLength / 4 - 1);
    view.setUint32(4, sender);
    let offset = 8;
    if (senderReport) {
      view.setUint32(8, next()); // NTP seconds
      view.setUint32(12, next()); // NTP fraction
      view.setUint32(16, timestamp);
      view.setUint32(20, below(100000)); // sender's packet count
      view.setUint32(24, below(10000000)); // sender's octet count
      offset = 28;
    }
    for (let i = 0; i < reportBlocks; i++, offset += 24) {
      view.setUint32(offset, next());
      randomBytesInto(bytes, offset + 4, 20);
    }

    bytes[offset] = 0x81; // V=2, SC=1
    bytes[offset + 1] = RTCP_SDES;
    view.setUint16(offset + 2, sdesLength / 4 - 1);
    view.setUint32(offset + 4, sender);
    bytes[offset + 8] = 1; // CNAME
    bytes[offset + 9] = cname.length;
    for (let i = 0; i < cname.length; i++) bytes[offset + 10 + i] = cname.charCodeAt(i);
    // The END item and the padding to a 32-bit boundary are the zeros already there.
    return bytes;
  }
}
