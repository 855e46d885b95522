import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SrtpError } from '../../../shared/srtp/errors.js';
import { parseRtpPacket, rtpHeaderLength, serializeRtpPacket, type RtpHeader } from '../../../shared/srtp/rtp-header.js';
import { rtcpSenderSsrc } from '../../../shared/srtp/rtcp-header.js';
import { isRtcpPacket } from '../../../shared/srtp/demux.js';
import { rtpPacket } from '../../support/rtp-packets.js';

const arbHeader: fc.Arbitrary<RtpHeader> = fc.record({
  padding: fc.constant(false),
  marker: fc.boolean(),
  payloadType: fc.integer({ min: 0, max: 127 }),
  sequenceNumber: fc.integer({ min: 0, max: 0xffff }),
  timestamp: fc.integer({ min: 0, max: 0xffffffff }),
  ssrc: fc.integer({ min: 0, max: 0xffffffff }),
  csrcs: fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 15 }),
  extension: fc.option(
    fc.record({
      profile: fc.integer({ min: 0, max: 0xffff }),
      data: fc.integer({ min: 0, max: 8 }).chain((words) => fc.uint8Array({ minLength: 4 * words, maxLength: 4 * words })),
    }),
    { nil: null },
  ),
});

function expectSrtpError(fn: () => unknown, reason: string): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SrtpError);
    expect((error as SrtpError).reason).toBe(reason);
    return;
  }
  throw new Error(`expected SrtpError(${reason})`);
}

describe('RTP header codec (RFC 3550 §5.1)', () => {
  it('round-trips every field for random headers, payloads and padding', () => {
    fc.assert(
      fc.property(arbHeader, fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 255 }), (header, payload, padding) => {
        const packet = serializeRtpPacket(header, payload, padding);
        const parsed = parseRtpPacket(packet);
        expect(parsed.header).toEqual({ ...header, padding: padding > 0 });
        expect(parsed.payload).toEqual(payload);
        expect(parsed.paddingLength).toBe(padding);
        expect(parsed.headerLength).toBe(12 + 4 * header.csrcs.length + (header.extension ? 4 + header.extension.data.length : 0));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses out-of-range fields when building', () => {
    const base = parseRtpPacket(rtpPacket()).header;
    expect(() => serializeRtpPacket({ ...base, payloadType: 128 }, new Uint8Array(0))).toThrow(RangeError);
    expect(() => serializeRtpPacket({ ...base, sequenceNumber: 65536 }, new Uint8Array(0))).toThrow(RangeError);
    expect(() => serializeRtpPacket({ ...base, csrcs: new Array(16).fill(1) }, new Uint8Array(0))).toThrow(RangeError);
    expect(() => serializeRtpPacket({ ...base, extension: { profile: 1, data: new Uint8Array(3) } }, new Uint8Array(0))).toThrow(RangeError);
  });

  describe('case 6: short and lying packets give a typed error and allocate nothing by claimed length', () => {
    it.each([0, 1, 5, 11])('%i bytes → malformed (or bad version)', (length) => {
      expectSrtpError(() => rtpHeaderLength(new Uint8Array(length).fill(0x80)), 'malformed');
    });

    it('CC=15 in a 20-byte packet → malformed', () => {
      const packet = new Uint8Array(20);
      packet[0] = 0x8f;
      expectSrtpError(() => rtpHeaderLength(packet), 'malformed');
    });

    it('a header extension claiming 65535 words in a short packet → malformed', () => {
      const packet = new Uint8Array(24);
      packet[0] = 0x90;
      packet[14] = 0xff;
      packet[15] = 0xff;
      expectSrtpError(() => rtpHeaderLength(packet), 'malformed');
      expectSrtpError(() => rtpHeaderLength(packet.subarray(0, 14)), 'malformed');
    });

    it('padding running past the payload, or a zero padding count → malformed', () => {
      const packet = rtpPacket({ payload: new Uint8Array(10) });
      packet[0]! |= 0x20;
      packet[packet.length - 1] = 11;
      expectSrtpError(() => parseRtpPacket(packet), 'malformed');
      packet[packet.length - 1] = 0;
      expectSrtpError(() => parseRtpPacket(packet), 'malformed');
      const empty = rtpPacket({ payload: new Uint8Array(0) });
      empty[0]! |= 0x20;
      expectSrtpError(() => parseRtpPacket(empty), 'malformed');
    });

    it.each([0, 1, 3])('version %i → bad-version', (version) => {
      const packet = rtpPacket();
      packet[0] = (packet[0]! & 0x3f) | (version << 6);
      expectSrtpError(() => rtpHeaderLength(packet), 'bad-version');
    });

    it('RTCP: fewer than 8 bytes → malformed, wrong version → bad-version', () => {
      expectSrtpError(() => rtcpSenderSsrc(Uint8Array.of(0x80, 200, 0, 1, 0, 0, 0)), 'malformed');
      expectSrtpError(() => rtcpSenderSsrc(Uint8Array.of(0x40, 200, 0, 1, 0, 0, 0, 1)), 'bad-version');
    });

    it('never throws anything but SrtpError for random bytes', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
          try {
            parseRtpPacket(bytes);
          } catch (error) {
            expect(error).toBeInstanceOf(SrtpError);
          }
        }),
        { numRuns: 2000 },
      );
    });
  });

  it('tells RTCP from RTP by the second octet (RFC 5761 §4)', () => {
    expect(isRtcpPacket(Uint8Array.of(0x80, 200))).toBe(true);
    expect(isRtcpPacket(Uint8Array.of(0x80, 192))).toBe(true);
    expect(isRtcpPacket(Uint8Array.of(0x80, 223))).toBe(true);
    expect(isRtcpPacket(Uint8Array.of(0x80, 111))).toBe(false);
    expect(isRtcpPacket(Uint8Array.of(0x80, 0x80 | 111))).toBe(false);
    expect(isRtcpPacket(Uint8Array.of(0x80))).toBe(false);
  });
});
