/**
 * The client media session's RTP numbering (docs/protocol.md §6.1): the timestamp advances by
 * each frame's duration, the sequence number by one, and a bad duration is refused.
 */
import { describe, expect, it } from 'vitest';
import { ClientMediaSession } from '../../../shared/client/media-session.js';
import { nodeCryptoBackend } from '../../../shared/srtp/backends/node-crypto.js';
import { SrtpContext } from '../../../shared/srtp/context.js';
import { parseRtpPacket } from '../../../shared/srtp/rtp-header.js';
import { randomMasterKeys } from '../../support/relay-fixtures.js';

describe('ClientMediaSession.protectVoice', () => {
  it('advances the timestamp by each frame\'s duration (default timestampStep) and the sequence by one', () => {
    const sendKeys = randomMasterKeys('aes128gcm');
    const session = new ClientMediaSession({ profile: 'aes128gcm', ssrc: 0x1234, sendKeys, receiveKeys: randomMasterKeys('aes128gcm'), backend: nodeCryptoBackend, initialSequence: 100, timestampStep: 480 });
    const relaySide = new SrtpContext({ profile: 'aes128gcm', backend: nodeCryptoBackend, ...sendKeys });
    const headers = [
      session.protectVoice(new Uint8Array([1]), true),
      session.protectVoice(new Uint8Array([2]), false, 2880),
      session.protectVoice(new Uint8Array([3]), false, 960),
      session.protectVoice(new Uint8Array([4])),
    ].map((datagram) => parseRtpPacket(relaySide.unprotectRtp(datagram)));
    expect(headers.map((p) => p.header.timestamp)).toEqual([0, 480, 480 + 2880, 480 + 2880 + 960]);
    expect(headers.map((p) => p.header.sequenceNumber)).toEqual([100, 101, 102, 103]);
    expect(headers.map((p) => p.header.marker)).toEqual([true, false, false, false]);
    expect(headers.map((p) => [...p.payload])).toEqual([[1], [2], [3], [4]]);
    expect(headers.every((p) => p.header.ssrc === 0x1234 && p.header.payloadType === 111)).toBe(true);
    session.close();
    relaySide.close();
  });

  it('refuses a duration that is not a uint32', () => {
    const session = new ClientMediaSession({ profile: 'aes128gcm', ssrc: 1, sendKeys: randomMasterKeys('aes128gcm'), receiveKeys: randomMasterKeys('aes128gcm'), backend: nodeCryptoBackend });
    for (const bad of [-1, 1.5, 2 ** 32, Number.NaN]) expect(() => session.protectVoice(new Uint8Array(1), false, bad)).toThrow(RangeError);
    expect(session.nextSequence).toBe(0); // nothing was numbered
    session.close();
  });
});
