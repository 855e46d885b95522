/**
 * SrtpContext behaviour, run against both backends: round trips, the SRTP abuse cases 1–8,
 * and "nothing is committed before authentication".
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AeadTransform } from '../../../shared/srtp/aead-transform.js';
import { AesCmTransform } from '../../../shared/srtp/aes-cm-transform.js';
import { SrtpContext, type SrtpContextOptions } from '../../../shared/srtp/context.js';
import type { SrtpCryptoBackend } from '../../../shared/srtp/crypto-backend.js';
import { SrtpError, type SrtpErrorReason } from '../../../shared/srtp/errors.js';
import { SRTCP_HARD_LIMIT, SRTCP_SOFT_LIMIT, SRTP_HARD_LIMIT, SRTP_SOFT_LIMIT } from '../../../shared/srtp/key-usage.js';
import { SRTP_PROFILES, type SrtpProfileName } from '../../../shared/srtp/profiles.js';
import { BACKENDS } from '../../support/backends.js';
import { rtcpReceiverReport, rtpPacket } from '../../support/rtp-packets.js';

const PROFILES = Object.keys(SRTP_PROFILES) as SrtpProfileName[];

function keysFor(profile: SrtpProfileName): Pick<SrtpContextOptions, 'masterKey' | 'masterSalt' | 'profile'> {
  const p = SRTP_PROFILES[profile];
  return { profile, masterKey: new Uint8Array(randomBytes(p.keyLength)), masterSalt: new Uint8Array(randomBytes(p.saltLength)) };
}

function pair(backend: SrtpCryptoBackend, profile: SrtpProfileName, extra: Partial<SrtpContextOptions> = {}) {
  const keys = keysFor(profile);
  return {
    keys,
    sender: new SrtpContext({ ...keys, backend, ...extra }),
    receiver: new SrtpContext({ ...keys, backend, ...extra }),
  };
}

function reasonOf(fn: () => unknown): SrtpErrorReason | 'ok' {
  try {
    fn();
    return 'ok';
  } catch (error) {
    if (error instanceof SrtpError) return error.reason;
    throw error; // anything else escaping is itself a failure
  }
}

describe.each(BACKENDS)('SrtpContext on %s', (_name, backend) => {
  describe.each(PROFILES)('%s', (profile) => {
    it('round-trips random headers, payloads and keys (property)', () => {
      fc.assert(
        fc.property(
          fc.record({
            seq: fc.integer({ min: 0, max: 0xffff }),
            ssrc: fc.integer({ min: 0, max: 0xffffffff }),
            marker: fc.boolean(),
            csrcs: fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 15 }),
            extension: fc.option(fc.record({ profile: fc.constant(0xbede), data: fc.uint8Array({ minLength: 8, maxLength: 8 }) }), { nil: null }),
            payload: fc.uint8Array({ maxLength: 400 }),
            paddingLength: fc.integer({ min: 0, max: 32 }),
          }),
          (fields) => {
            const { sender, receiver } = pair(backend, profile);
            const packet = rtpPacket({ ...fields, sequenceNumber: fields.seq });
            const sealed = sender.protectRtp(packet);
            expect(sealed.length).toBe(packet.length + SRTP_PROFILES[profile].srtpTagLength);
            expect(receiver.unprotectRtp(sealed)).toEqual(packet);
          },
        ),
        { numRuns: backend.name === 'node:crypto' ? 200 : 60 },
      );
    });

    it('round-trips SRTCP and numbers it from 1', () => {
      const { sender, receiver } = pair(backend, profile);
      for (let i = 1; i <= 5; i++) {
        const report = rtcpReceiverReport();
        const sealed = sender.protectRtcp(report);
        expect(sealed.length).toBe(report.length + SRTP_PROFILES[profile].srtcpTagLength + 4);
        expect(receiver.unprotectRtcp(sealed)).toEqual(report);
      }
    });

    it('refuses wrong key and salt lengths with RangeError', () => {
      const p = SRTP_PROFILES[profile];
      expect(() => new SrtpContext({ profile, backend, masterKey: new Uint8Array(p.keyLength + 1), masterSalt: new Uint8Array(p.saltLength) })).toThrow(RangeError);
      expect(() => new SrtpContext({ profile, backend, masterKey: new Uint8Array(p.keyLength), masterSalt: new Uint8Array(p.saltLength - 1) })).toThrow(RangeError);
      expect(() => new SrtpContext({ profile, backend, masterKey: 'k' as unknown as Uint8Array, masterSalt: new Uint8Array(p.saltLength) })).toThrow(TypeError);
    });

    it('close() erases keys, is idempotent, and later calls throw TypeError', () => {
      const { sender } = pair(backend, profile);
      sender.protectRtp(rtpPacket());
      sender.close();
      sender.close();
      expect(sender.closed).toBe(true);
      expect(() => sender.protectRtp(rtpPacket({ sequenceNumber: 2 }))).toThrow(TypeError);
    });

    it('case 1: every single bit flip of a valid SRTP packet is dropped, ROC and window unchanged', () => {
      const { sender, receiver } = pair(backend, profile);
      const first = sender.protectRtp(rtpPacket({ sequenceNumber: 65534 }));
      receiver.unprotectRtp(first);
      const before = receiver.rtpStreamState(0xcafebabe);
      const victim = sender.protectRtp(rtpPacket({ sequenceNumber: 3, payload: new Uint8Array(40).fill(9) })); // after a wrap: ROC 1
      for (let bit = 0; bit < victim.length * 8; bit++) {
        const flipped = Uint8Array.from(victim);
        flipped[bit >> 3]! ^= 0x80 >> (bit & 7);
        expect(['auth-failed', 'malformed', 'bad-version', 'replay', 'too-old']).toContain(reasonOf(() => receiver.unprotectRtp(flipped)));
        expect(receiver.rtpStreamState(0xcafebabe)).toEqual(before);
      }
      expect(receiver.rtpStreamCount).toBe(1); // flips of the SSRC created no new streams
      expect(receiver.unprotectRtp(victim).length).toBe(12 + 40);
      expect(receiver.rtpStreamState(0xcafebabe)).toEqual({ highestIndex: 65536 + 3, rolloverCounter: 1 });
    });

    it('case 1: every single bit flip of a valid SRTCP packet is dropped, window unchanged', () => {
      const { sender, receiver } = pair(backend, profile);
      const victim = sender.protectRtcp(rtcpReceiverReport());
      for (let bit = 0; bit < victim.length * 8; bit++) {
        const flipped = Uint8Array.from(victim);
        flipped[bit >> 3]! ^= 0x80 >> (bit & 7);
        expect(reasonOf(() => receiver.unprotectRtcp(flipped))).not.toBe('ok');
      }
      expect(receiver.unprotectRtcp(victim)).toEqual(rtcpReceiverReport());
    });

    it('every truncation of valid SRTP and SRTCP packets fails cleanly and changes nothing', () => {
      const { sender, receiver } = pair(backend, profile);
      const rtp = sender.protectRtp(rtpPacket({ csrcs: [1, 2], extension: { profile: 0xbede, data: new Uint8Array(4) } }));
      const rtcp = sender.protectRtcp(rtcpReceiverReport());
      for (let length = 0; length < rtp.length; length++) {
        expect(reasonOf(() => receiver.unprotectRtp(rtp.subarray(0, length)))).not.toBe('ok');
      }
      for (let length = 0; length < rtcp.length; length++) {
        expect(reasonOf(() => receiver.unprotectRtcp(rtcp.subarray(0, length)))).not.toBe('ok');
      }
      expect(receiver.rtpStreamCount).toBe(0);
      expect(receiver.unprotectRtp(rtp).length).toBe(rtp.length - SRTP_PROFILES[profile].srtpTagLength);
      expect(receiver.unprotectRtcp(rtcp)).toEqual(rtcpReceiverReport());
    });

    it('random bytes never raise anything but SrtpError and never create state', () => {
      const { receiver } = pair(backend, profile);
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 120 }), fc.boolean(), (bytes, version2) => {
          if (version2 && bytes.length > 0) bytes[0] = (bytes[0]! & 0x3f) | 0x80;
          expect(reasonOf(() => receiver.unprotectRtp(bytes))).not.toBe('ok');
          expect(reasonOf(() => receiver.unprotectRtcp(bytes))).not.toBe('ok');
        }),
        { numRuns: 500 },
      );
      expect(receiver.rtpStreamCount).toBe(0);
    });

    it('case 2: the same packet twice → the second is a replay; a forgery cannot mark an index used', () => {
      const { sender, receiver } = pair(backend, profile);
      const p1 = sender.protectRtp(rtpPacket({ sequenceNumber: 10 }));
      const p2 = sender.protectRtp(rtpPacket({ sequenceNumber: 11 }));
      receiver.unprotectRtp(p1);
      expect(reasonOf(() => receiver.unprotectRtp(p1))).toBe('replay');
      const forged = Uint8Array.from(p2);
      forged[forged.length - 1]! ^= 1;
      expect(reasonOf(() => receiver.unprotectRtp(forged))).toBe('auth-failed');
      expect(reasonOf(() => receiver.unprotectRtp(p2))).toBe('ok'); // the forgery did not burn index 11
      expect(reasonOf(() => receiver.unprotectRtp(p2))).toBe('replay');
      const rtcp = sender.protectRtcp(rtcpReceiverReport());
      receiver.unprotectRtcp(rtcp);
      expect(reasonOf(() => receiver.unprotectRtcp(rtcp))).toBe('replay');
    });

    it('verdicts, not throws: openRtpInto, sealRtpInto and openRtcp return the reason for every refusal and commit nothing', () => {
      const { sender, receiver } = pair(backend, profile);
      const out = new Uint8Array(1500);
      const p10 = sender.protectRtp(rtpPacket({ sequenceNumber: 10 }));
      const p11 = sender.protectRtp(rtpPacket({ sequenceNumber: 11 }));
      const p500 = sender.protectRtp(rtpPacket({ sequenceNumber: 500 }));
      expect(receiver.lastRtpIndex).toBe(-1);
      expect(receiver.openRtpInto(p10, out, 0)).toBe(p10.length - SRTP_PROFILES[profile].srtpTagLength);
      expect([receiver.lastRtpIndex, receiver.lastOpenedWasNewest]).toEqual([10, true]);
      expect(receiver.openRtpInto(p10, out, 0)).toBe('replay');
      const forged = Uint8Array.from(p11);
      forged[forged.length - 1]! ^= 1;
      expect(receiver.openRtpInto(forged, out, 0)).toBe('auth-failed');
      expect(receiver.openRtpInto(p11.subarray(0, 11), out, 0)).toBe('malformed');
      const v1 = Uint8Array.from(p11);
      v1[0] = 0x40;
      expect(receiver.openRtpInto(v1, out, 0)).toBe('bad-version');
      receiver.openRtpInto(p500, out, 0);
      expect(receiver.openRtpInto(p11, out, 0)).toBe('too-old'); // 489 behind a 128-packet window
      expect([receiver.lastRtpIndex, receiver.rtpStreamState(0xcafebabe)?.highestIndex]).toEqual([500, 500]);
      // The sender's side: an index already protected is refused, returned, not thrown.
      expect(sender.sealRtpInto(rtpPacket({ sequenceNumber: 500 }), out, 0)).toBe('replay');
      expect(sender.sealRtpInto(rtpPacket({ sequenceNumber: 11 }), out, 0)).toBe('too-old');
      expect(sender.sealRtpInto(rtpPacket({ sequenceNumber: 501 }), out, 3)).toBe(p500.length);
      expect(sender.lastRtpIndex).toBe(501);
      // SRTCP: authentic, replayed, forged, unencrypted.
      const rr = sender.protectRtcp(rtcpReceiverReport());
      expect(receiver.openRtcp(rr)).toEqual(rtcpReceiverReport());
      expect(receiver.lastOpenedWasNewest).toBe(true);
      expect(receiver.openRtcp(rr)).toBe('replay');
      const forgedRr = Uint8Array.from(sender.protectRtcp(rtcpReceiverReport()));
      forgedRr[10]! ^= 1;
      expect(receiver.openRtcp(forgedRr)).toBe('auth-failed');
      expect(receiver.openRtcp(sender.protectRtcpUnencrypted(rtcpReceiverReport()))).toBe('unencrypted-srtcp');
      expect(receiver.openRtcp(rr.subarray(0, 7))).toBe('malformed');
      // Misuse is still an exception: it is a bug, not an input.
      expect(() => receiver.openRtpInto(p11, new Uint8Array(4), 0)).toThrow(RangeError);
    });

    it('lastOpenedWasNewest: a late packet from behind the highest index opens but is not the newest', () => {
      const { sender, receiver } = pair(backend, profile);
      const early = sender.protectRtp(rtpPacket({ sequenceNumber: 20 }));
      const late = sender.protectRtp(rtpPacket({ sequenceNumber: 21 }));
      const next = sender.protectRtp(rtpPacket({ sequenceNumber: 22 }));
      receiver.unprotectRtp(early);
      receiver.unprotectRtp(next);
      expect(receiver.lastOpenedWasNewest).toBe(true);
      receiver.unprotectRtp(late);
      expect([receiver.lastOpenedWasNewest, receiver.lastRtpIndex]).toEqual([false, 21]);
      const first = sender.protectRtcp(rtcpReceiverReport());
      const second = sender.protectRtcp(rtcpReceiverReport());
      receiver.unprotectRtcp(second);
      receiver.unprotectRtcp(first);
      expect(receiver.lastOpenedWasNewest).toBe(false);
    });

    it('a sender refuses to protect the same index twice (GCM nonce reuse)', () => {
      const { sender } = pair(backend, profile);
      sender.protectRtp(rtpPacket({ sequenceNumber: 5 }));
      expect(reasonOf(() => sender.protectRtp(rtpPacket({ sequenceNumber: 5 })))).toBe('replay');
    });

    it('protectRtpInto writes the same bytes as protectRtp at any offset, and checks the room', () => {
      const keys = keysFor(profile);
      const a = new SrtpContext({ ...keys, backend });
      const b = new SrtpContext({ ...keys, backend });
      const slab = new Uint8Array(1000).fill(0xee);
      let offset = 3;
      for (let seq = 1; seq <= 5; seq++) {
        const packet = rtpPacket({ sequenceNumber: seq, payload: new Uint8Array(seq * 17).fill(seq) });
        const expected = a.protectRtp(packet);
        const written = b.protectRtpInto(packet, slab, offset);
        expect(written).toBe(expected.length);
        expect(slab.subarray(offset, offset + written)).toEqual(expected);
        offset += written;
      }
      expect(slab[2]).toBe(0xee); // nothing before the offset was touched
      expect(slab[offset]).toBe(0xee); // nor after the packet
      expect(() => b.protectRtpInto(rtpPacket({ sequenceNumber: 9 }), new Uint8Array(20), 0)).toThrow(RangeError);
      expect(() => b.protectRtpInto(rtpPacket({ sequenceNumber: 9 }), slab, -1)).toThrow(RangeError);
      // The refusals above committed nothing: index 9 is still free.
      expect(reasonOf(() => b.protectRtpInto(rtpPacket({ sequenceNumber: 9 }), slab, 0))).toBe('ok');
      expect(reasonOf(() => b.protectRtpInto(rtpPacket({ sequenceNumber: 9 }), slab, 0))).toBe('replay');
    });

    it('unprotectRtpInto writes what unprotectRtp returns at any offset, checks the room, and commits nothing on failure', () => {
      const keys = keysFor(profile);
      const sender = new SrtpContext({ ...keys, backend });
      const a = new SrtpContext({ ...keys, backend });
      const b = new SrtpContext({ ...keys, backend });
      const out = new Uint8Array(1000).fill(0xee);
      let offset = 3;
      for (let seq = 1; seq <= 5; seq++) {
        const sealed = sender.protectRtp(rtpPacket({ sequenceNumber: seq, payload: new Uint8Array(seq * 17).fill(seq), paddingLength: seq === 3 ? 4 : 0 }));
        const expected = a.unprotectRtp(sealed);
        const written = b.unprotectRtpInto(sealed, out, offset);
        expect(written).toBe(expected.length);
        expect(out.subarray(offset, offset + written)).toEqual(expected);
        offset += written;
      }
      expect(out[2]).toBe(0xee);
      expect(out[offset]).toBe(0xee);
      const next = sender.protectRtp(rtpPacket({ sequenceNumber: 9 }));
      expect(() => b.unprotectRtpInto(next, new Uint8Array(20), 0)).toThrow(RangeError);
      expect(() => b.unprotectRtpInto(next, out, -1)).toThrow(RangeError);
      const forged = next.slice();
      forged[forged.length - 1]! ^= 1;
      expect(reasonOf(() => b.unprotectRtpInto(forged, out, 0))).toBe('auth-failed');
      expect(reasonOf(() => b.unprotectRtpInto(next.subarray(0, 20), out, 0))).toBe('malformed');
      // None of the refusals above burnt index 9.
      expect(reasonOf(() => b.unprotectRtpInto(next, out, 0))).toBe('ok');
      expect(reasonOf(() => b.unprotectRtpInto(next, out, 0))).toBe('replay');
    });

    it('case 3: older than the window → too-old; forward jumps under 2^15 → accepted', () => {
      const { sender, receiver } = pair(backend, profile);
      const sealed = new Map<number, Uint8Array>();
      for (const seq of [1000, 1100, 1129, 1130, 33000]) sealed.set(seq, sender.protectRtp(rtpPacket({ sequenceNumber: seq })));
      receiver.unprotectRtp(sealed.get(1000)!);
      receiver.unprotectRtp(sealed.get(1129)!); // window now covers 1002..1129
      expect(reasonOf(() => receiver.unprotectRtp(sealed.get(1100)!))).toBe('ok'); // late but inside
      receiver.unprotectRtp(sealed.get(1130)!);
      expect(reasonOf(() => receiver.unprotectRtp(sealed.get(33000)!))).toBe('ok'); // +31870 < 2^15
      expect(receiver.rtpStreamState(0xcafebabe)?.highestIndex).toBe(33000);
      // 1130 is now 31870 behind: far outside the 128-packet window.
      const sender2 = pair(backend, profile);
      const a = sender2.sender.protectRtp(rtpPacket({ sequenceNumber: 500 }));
      const b = sender2.sender.protectRtp(rtpPacket({ sequenceNumber: 700 }));
      sender2.receiver.unprotectRtp(b);
      expect(reasonOf(() => sender2.receiver.unprotectRtp(a))).toBe('too-old');
    });

    it('case 4: sequence 65533, 65535, 0, 1, 65534, 2 all decrypt and the ROC advances exactly once', () => {
      const { sender, receiver } = pair(backend, profile);
      const order = [65533, 65535, 0, 1, 65534, 2];
      // The sender sends in sequence order; the network reorders.
      const sealed = new Map<number, Uint8Array>();
      for (const seq of [65533, 65534, 65535, 0, 1, 2]) sealed.set(seq, sender.protectRtp(rtpPacket({ sequenceNumber: seq, payload: Uint8Array.of(seq & 0xff) })));
      const rocs: number[] = [];
      for (const seq of order) {
        expect(receiver.unprotectRtp(sealed.get(seq)!)[12]).toBe(seq & 0xff);
        rocs.push(receiver.rtpStreamState(0xcafebabe)!.rolloverCounter);
      }
      expect(rocs).toEqual([0, 0, 1, 1, 1, 1]);
      expect(receiver.rtpStreamState(0xcafebabe)!.highestIndex).toBe(65536 + 2);
    });

    it('case 5: a stream starting at 65530 that loses its first packets still decrypts across the wrap', () => {
      const { sender, receiver } = pair(backend, profile);
      const stream: Uint8Array[] = [];
      for (let i = 0; i < 40; i++) stream.push(sender.protectRtp(rtpPacket({ sequenceNumber: (65530 + i) & 0xffff })));
      for (const sealed of stream.slice(3)) expect(reasonOf(() => receiver.unprotectRtp(sealed))).toBe('ok');
      expect(receiver.rtpStreamState(0xcafebabe)).toEqual({ highestIndex: 65536 + 33, rolloverCounter: 1 });
    });

    it('ROC at stream start: a jump over 2^15 before the first wrap is ROC 0, as libsrtp has it (sender and receiver)', () => {
      // Appendix A guesses ROC -1 for seq 40010 after 10; there is no such ROC, and refusing the
      // packet would refuse the whole rest of the stream. Both ends take ROC 0 instead.
      const { sender, receiver } = pair(backend, profile);
      const first = sender.protectRtp(rtpPacket({ sequenceNumber: 10 }));
      const far = sender.protectRtp(rtpPacket({ sequenceNumber: 40_010, payload: Uint8Array.of(7) }));
      expect(sender.rtpStreamState(0xcafebabe)?.highestIndex).toBe(40_010);
      receiver.unprotectRtp(first);
      expect(receiver.unprotectRtp(far)[12]).toBe(7);
      expect(receiver.rtpStreamState(0xcafebabe)).toEqual({ highestIndex: 40_010, rolloverCounter: 0 });
      // From there the stream wraps as usual: 65535, then 0 is ROC 1.
      for (const seq of [65_535, 0, 1]) receiver.unprotectRtp(sender.protectRtp(rtpPacket({ sequenceNumber: seq })));
      expect(receiver.rtpStreamState(0xcafebabe)).toEqual({ highestIndex: 65_536 + 1, rolloverCounter: 1 });
    });

    it('case 6: short, lying and wrong-version SRTP packets → typed errors, no state', () => {
      const { receiver } = pair(backend, profile);
      const cc15 = new Uint8Array(40);
      cc15[0] = 0x8f;
      const ext = new Uint8Array(40);
      ext[0] = 0x90;
      ext[14] = 0xff;
      ext[15] = 0xff;
      const v1 = rtpPacket();
      v1[0] = 0x40;
      for (let n = 0; n <= 11; n++) expect(reasonOf(() => receiver.unprotectRtp(new Uint8Array(n).fill(0x80)))).toBe('malformed');
      expect(reasonOf(() => receiver.unprotectRtp(cc15))).toBe('malformed');
      expect(reasonOf(() => receiver.unprotectRtp(ext))).toBe('malformed');
      expect(reasonOf(() => receiver.unprotectRtp(v1))).toBe('bad-version');
      // A header that fits but leaves no room for the tag.
      expect(reasonOf(() => receiver.unprotectRtp(rtpPacket({ payload: new Uint8Array(0) })))).toBe('malformed');
      expect(receiver.rtpStreamCount).toBe(0);
    });

    it('case 6: padding running past the payload → malformed; an authentic packet that lies is not committed', () => {
      const { sender } = pair(backend, profile);
      const lying = rtpPacket({ payload: Uint8Array.of(1, 2, 3, 200) });
      lying[0]! |= 0x20; // P set; the last octet (200) claims more padding than the payload holds
      expect(reasonOf(() => sender.protectRtp(lying))).toBe('malformed');
      // A peer that does not check: seal the lying packet with the bare transform.
      const p = SRTP_PROFILES[profile];
      const sessionKey = () => ({ encryptionKey: new Uint8Array(randomBytes(p.keyLength)), salt: new Uint8Array(randomBytes(p.saltLength)), authKey: new Uint8Array(randomBytes(p.authKeyLength)) });
      const sessionKeys = { srtp: sessionKey(), srtcp: sessionKey() };
      const transform = p.aead ? new AeadTransform(backend, sessionKeys.srtp, sessionKeys.srtcp) : new AesCmTransform(backend, sessionKeys.srtp, sessionKeys.srtcp);
      const sealed = new Uint8Array(lying.length + transform.srtpOverhead);
      transform.protectRtpInto(lying, 12, 0xcafebabe, 1, sealed, 0);
      const receiver = SrtpContext.fromSessionKeys({ profile, backend, sessionKeys });
      expect(reasonOf(() => receiver.unprotectRtp(sealed))).toBe('malformed');
      expect(receiver.rtpStreamCount).toBe(0);
    });

    it('case 7: SRTCP with E=0, a replayed index, or too short → rejected', () => {
      const { sender, receiver } = pair(backend, profile);
      const unencrypted = sender.protectRtcpUnencrypted(rtcpReceiverReport());
      expect(reasonOf(() => receiver.unprotectRtcp(unencrypted))).toBe('unencrypted-srtcp');
      const sealed = sender.protectRtcp(rtcpReceiverReport());
      expect(reasonOf(() => receiver.unprotectRtcp(sealed))).toBe('ok');
      expect(reasonOf(() => receiver.unprotectRtcp(sealed))).toBe('replay');
      const overhead = SRTP_PROFILES[profile].srtcpTagLength + 4;
      expect(reasonOf(() => receiver.unprotectRtcp(sealed.subarray(0, 8 + overhead - 1)))).toBe('malformed');
      expect(reasonOf(() => receiver.unprotectRtcp(sealed.subarray(0, 7)))).toBe('malformed');
    });

    it('case 8: at the soft limit a rekey is asked for; at the hard limit protect and unprotect refuse', () => {
      const belowSoft = pair(backend, profile, { priorKeyUsage: { srtp: SRTP_SOFT_LIMIT - 1, srtcp: 0 } });
      expect(belowSoft.sender.rekeyRequested).toBe(false);
      belowSoft.sender.protectRtp(rtpPacket());
      expect(belowSoft.sender.rekeyRequested).toBe(true);

      const rtcpSoft = pair(backend, profile, { priorKeyUsage: { srtp: 0, srtcp: SRTCP_SOFT_LIMIT - 1 } });
      const sealedRtcp = rtcpSoft.sender.protectRtcp(rtcpReceiverReport());
      expect(rtcpSoft.sender.rekeyRequested).toBe(true);
      rtcpSoft.receiver.unprotectRtcp(sealedRtcp);
      expect(rtcpSoft.receiver.rekeyRequested).toBe(true);

      const lastSrtp = pair(backend, profile, { priorKeyUsage: { srtp: SRTP_HARD_LIMIT - 1, srtcp: 0 } });
      const sealed = lastSrtp.sender.protectRtp(rtpPacket({ sequenceNumber: 1 }));
      expect(reasonOf(() => lastSrtp.sender.protectRtp(rtpPacket({ sequenceNumber: 2 })))).toBe('key-exhausted');
      lastSrtp.receiver.unprotectRtp(sealed);
      expect(reasonOf(() => lastSrtp.receiver.unprotectRtp(sealed))).toBe('key-exhausted');

      const lastSrtcp = pair(backend, profile, { priorKeyUsage: { srtp: 0, srtcp: SRTCP_HARD_LIMIT - 1 } });
      const rtcp = lastSrtcp.sender.protectRtcp(rtcpReceiverReport());
      expect(reasonOf(() => lastSrtcp.sender.protectRtcp(rtcpReceiverReport()))).toBe('key-exhausted');
      lastSrtcp.receiver.unprotectRtcp(rtcp);
      expect(reasonOf(() => lastSrtcp.receiver.unprotectRtcp(rtcp))).toBe('key-exhausted');
    });

    it('a packet protected for one direction does not open with the other direction\'s key', () => {
      const forward = pair(backend, profile);
      const backward = pair(backend, profile);
      const sealed = forward.sender.protectRtp(rtpPacket());
      expect(reasonOf(() => backward.receiver.unprotectRtp(sealed))).toBe('auth-failed');
      expect(backward.receiver.rtpStreamCount).toBe(0);
    });
  });

  it('honours a configured replay window', () => {
    const { sender, receiver } = pair(backend, 'aes128gcm', { replayWindowSize: 1024 });
    const old = sender.protectRtp(rtpPacket({ sequenceNumber: 1 }));
    const recent = sender.protectRtp(rtpPacket({ sequenceNumber: 1000 }));
    receiver.unprotectRtp(recent);
    expect(reasonOf(() => receiver.unprotectRtp(old))).toBe('ok');
    expect(() => pair(backend, 'aes128gcm', { replayWindowSize: 32 })).toThrow(RangeError);
  });
});

describe('backends agree byte for byte', () => {
  it.each(PROFILES)('%s: node:crypto and noble protect identically', (profile) => {
    const [[, a], [, b]] = BACKENDS as [readonly [string, SrtpCryptoBackend], readonly [string, SrtpCryptoBackend]];
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 0xffff }), (payload, seq) => {
        const keys = keysFor(profile);
        const x = new SrtpContext({ ...keys, backend: a });
        const y = new SrtpContext({ ...keys, backend: b });
        const packet = rtpPacket({ sequenceNumber: seq, payload });
        expect(x.protectRtp(packet)).toEqual(y.protectRtp(packet));
        expect(x.protectRtcp(rtcpReceiverReport())).toEqual(y.protectRtcp(rtcpReceiverReport()));
      }),
      { numRuns: 100 },
    );
  });
});
