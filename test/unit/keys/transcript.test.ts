import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeTranscript,
  MAX_ID_BYTES,
  TRANSCRIPT_ID_FIELDS,
  transcriptHash,
  type SessionTranscript,
} from '../../../shared/keys/index.js';
import { referenceEncodeTranscript } from './node-reference.js';
import { fromHex, toHex } from './helpers.js';

const clientPublicKey = fromHex('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
const serverPublicKey = fromHex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');

const transcript: SessionTranscript = {
  protocolVersion: 1,
  sessionId: 's',
  userId: 'u',
  channelId: 'c',
  relayId: 'r',
  ssrc: 0x01020304,
  profile: 'aes128gcm',
  clientPublicKey,
  serverPublicKey,
};

describe('encodeTranscript', () => {
  it('writes the documented layout: uint16 length || value for every field, in order', () => {
    const expected = [
      '0009 7061726c65792d7631', // "parley-v1"
      '0002 0001', // protocolVersion 1
      '0001 73', // sessionId "s"
      '0001 75', // userId "u"
      '0001 63', // channelId "c"
      '0001 72', // relayId "r"
      '0004 01020304', // ssrc
      '0009 61657331323867636d', // "aes128gcm"
      `0020 ${toHex(clientPublicKey)}`,
      `0020 ${toHex(serverPublicKey)}`,
    ].join('');
    expect(toHex(encodeTranscript(transcript))).toBe(toHex(fromHex(expected)));
    expect(encodeTranscript(transcript).length).toBe(11 + 4 + 3 * 4 + 6 + 11 + 34 * 2);
  });

  it('encodes ids as UTF-8 without normalisation', () => {
    const nfc = encodeTranscript({ ...transcript, userId: '\u00e9' });
    const nfd = encodeTranscript({ ...transcript, userId: 'e\u0301' });
    expect(toHex(nfc)).toContain('0002c3a9');
    expect(toHex(nfd)).toContain('000365cc81');
  });

  it('matches the independent node:crypto-side encoder on random transcripts', () => {
    const id = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).filter((s) => Buffer.byteLength(s) <= MAX_ID_BYTES);
    fc.assert(
      fc.property(
        fc.record({
          protocolVersion: fc.integer({ min: 1, max: 0xffff }),
          sessionId: id,
          userId: id,
          channelId: id,
          relayId: id,
          ssrc: fc.integer({ min: 0, max: 0xffffffff }),
          profile: fc.constantFrom('aes128gcm' as const, 'aes256gcm' as const, 'aescm128sha80' as const),
          clientPublicKey: fc.uint8Array({ minLength: 32, maxLength: 32 }),
          serverPublicKey: fc.uint8Array({ minLength: 32, maxLength: 32 }),
        }),
        (t) => {
          expect(toHex(encodeTranscript(t))).toBe(referenceEncodeTranscript(t).toString('hex'));
        },
      ),
    );
  });

  it('is injective: moving bytes between adjacent ids changes the encoding and the hash', () => {
    const a = { ...transcript, sessionId: 'ab', userId: 'c' };
    const b = { ...transcript, sessionId: 'a', userId: 'bc' };
    expect(toHex(encodeTranscript(a))).not.toBe(toHex(encodeTranscript(b)));
    expect(toHex(transcriptHash(a))).not.toBe(toHex(transcriptHash(b)));
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1, maxLength: 4 }), { minLength: 8, maxLength: 8 }), (ids) => {
        const [s1, u1, c1, r1, s2, u2, c2, r2] = ids as [string, string, string, string, string, string, string, string];
        const x = { ...transcript, sessionId: s1, userId: u1, channelId: c1, relayId: r1 };
        const y = { ...transcript, sessionId: s2, userId: u2, channelId: c2, relayId: r2 };
        const same = s1 === s2 && u1 === u2 && c1 === c2 && r1 === r2;
        expect(toHex(encodeTranscript(x)) === toHex(encodeTranscript(y))).toBe(same);
      }),
    );
  });

  it('hashes with SHA-256', async () => {
    const { createHash } = await import('node:crypto');
    expect(toHex(transcriptHash(transcript))).toBe(createHash('sha256').update(encodeTranscript(transcript)).digest('hex'));
  });

  describe.each(TRANSCRIPT_ID_FIELDS)('%s', (field) => {
    const withId = (value: unknown): SessionTranscript => ({ ...transcript, [field]: value });

    it(`accepts 1 and ${MAX_ID_BYTES} UTF-8 bytes`, () => {
      expect(() => encodeTranscript(withId('x'))).not.toThrow();
      expect(() => encodeTranscript(withId('x'.repeat(MAX_ID_BYTES)))).not.toThrow();
      expect(() => encodeTranscript(withId('é'.repeat(127) + 'x'))).not.toThrow(); // 255 bytes
    });

    it('refuses empty and oversized ids with a RangeError naming the field', () => {
      for (const value of ['', 'x'.repeat(MAX_ID_BYTES + 1), 'é'.repeat(128), '🎙'.repeat(64), 'x'.repeat(100_000)]) {
        expect(() => encodeTranscript(withId(value))).toThrow(RangeError);
        expect(() => encodeTranscript(withId(value))).toThrow(`transcript.${field}`);
      }
    });

    it('refuses non-strings and lone surrogates with a TypeError naming the field', () => {
      for (const value of [undefined, null, 42, new Uint8Array(1), '\ud800', 'a\udc00b', 'x\ud83c']) {
        expect(() => encodeTranscript(withId(value))).toThrow(TypeError);
        expect(() => encodeTranscript(withId(value))).toThrow(`transcript.${field}`);
      }
      expect(() => encodeTranscript(withId('\ud83c\udf99'))).not.toThrow(); // a proper pair
    });
  });

  it('checks the numeric fields, the profile and the public keys', () => {
    const cases: Array<[Partial<Record<keyof SessionTranscript, unknown>>, ErrorConstructor, string]> = [
      [{ ssrc: -1 }, RangeError, 'transcript.ssrc'],
      [{ ssrc: 2 ** 32 }, RangeError, 'transcript.ssrc'],
      [{ ssrc: 1.5 }, RangeError, 'transcript.ssrc'],
      [{ ssrc: '1' }, TypeError, 'transcript.ssrc'],
      [{ protocolVersion: 0 }, RangeError, 'transcript.protocolVersion'],
      [{ protocolVersion: 0x10000 }, RangeError, 'transcript.protocolVersion'],
      [{ protocolVersion: Number.NaN }, RangeError, 'transcript.protocolVersion'],
      [{ protocolVersion: 1n }, TypeError, 'transcript.protocolVersion'],
      [{ profile: 'aes128cm' }, RangeError, 'transcript.profile'],
      [{ profile: 'toString' }, RangeError, 'transcript.profile'],
      [{ profile: 7 }, TypeError, 'transcript.profile'],
      [{ clientPublicKey: new Uint8Array(31) }, RangeError, 'transcript.clientPublicKey'],
      [{ serverPublicKey: new Uint8Array(64) }, RangeError, 'transcript.serverPublicKey'],
      [{ serverPublicKey: Array.from(serverPublicKey) }, TypeError, 'transcript.serverPublicKey'],
    ];
    for (const [change, type, field] of cases) {
      const bad = { ...transcript, ...change } as SessionTranscript;
      expect(() => encodeTranscript(bad)).toThrow(type);
      expect(() => encodeTranscript(bad)).toThrow(field);
    }
    expect(() => encodeTranscript({ ...transcript, ssrc: 0 })).not.toThrow();
    expect(() => encodeTranscript({ ...transcript, ssrc: 0xffffffff })).not.toThrow();
    expect(() => encodeTranscript(null as never)).toThrow(TypeError);
  });
});
