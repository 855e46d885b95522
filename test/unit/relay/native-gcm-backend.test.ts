/**
 * The native AES-GCM addon (relay/native) behind relay/src/media/native-gcm-backend.ts: RFC 7714
 * vectors, byte-for-byte agreement with node:crypto, tampering, argument checks, wipe().
 *
 * These tests FAIL, never skip, when the addon is not built: CI builds it (`npm run build:native`),
 * and a relay silently falling back to the slow backend is exactly what they must catch.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadNativeGcmBackend, nativeGcmBackendError, type NativeGcmBackend } from '../../../relay/src/media/native-gcm-backend.js';
import { loadNativeKeys } from '../../../relay/src/io/native-keys.js';
import { bytesToHex, hexToBytes } from '../../../shared/bytes.js';
import { AeadTransform, gcmRtpIv } from '../../../shared/srtp/aead-transform.js';
import { nodeCryptoBackend } from '../../../shared/srtp/backends/node-crypto.js';
import { SrtpContext } from '../../../shared/srtp/context.js';
import type { SessionKeys, SrtpSessionKeys } from '../../../shared/srtp/kdf.js';
import { isSrtpProfileName, SRTP_PROFILES, type SrtpProfileName } from '../../../shared/srtp/profiles.js';
import { readUint32, serializeRtpPacket } from '../../../shared/srtp/rtp-header.js';
import { field, vectorsOfKind, type SrtpVector } from '../../support/srtp-vectors.js';

function nativeBackend(): NativeGcmBackend {
  const backend = loadNativeGcmBackend();
  if (backend === null) {
    throw new Error(`the native AES-GCM addon is not available: ${nativeGcmBackendError ?? 'run `npm run build:native`'}`);
  }
  return backend;
}

const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

/** `data` as a view into a larger buffer, with junk on both sides, so byteOffset ≠ 0. */
function embedded(data: Uint8Array, before = 7, after = 5): Uint8Array {
  const backing = bytes(before + data.length + after);
  backing.set(data, before);
  return backing.subarray(before, before + data.length);
}

function sessionKeys(v: SrtpVector): SrtpSessionKeys {
  // RFC 7714's vectors use one key and salt for SRTP and SRTCP alike.
  const keys: SessionKeys = { encryptionKey: hexToBytes(field(v, 'session_key')), salt: hexToBytes(field(v, 'session_salt')), authKey: new Uint8Array(0) };
  return { srtp: keys, srtcp: { ...keys } };
}

function profileOf(v: SrtpVector): SrtpProfileName {
  if (!isSrtpProfileName(v.profile)) throw new Error(`unexpected profile ${v.profile}`);
  return v.profile;
}

const KEY_SIZES = [16, 32] as const;
const VOICE = { aad: 12, payload: 160 }; // the relay's packet: 12-byte RTP header, 160-byte payload

it('loads (if this fails: run `npm run build:native`)', () => {
  const backend = nativeBackend();
  expect(backend.name).toBe('native-gcm');
  expect(backend.opensslVersion).toMatch(/^OpenSSL 3\./);
  expect(nativeGcmBackendError).toBeNull();
  expect(loadNativeGcmBackend()).toBe(backend); // loaded once
});

describe('RFC 7714 vectors through the native engines', () => {
  it.each(vectorsOfKind('aead_rtp').map((v) => [v.id, v] as const))('%s: SRTP encrypts to the published packet', (_id, v) => {
    const ctx = SrtpContext.fromSessionKeys({ profile: profileOf(v), backend: nativeBackend(), sessionKeys: sessionKeys(v) });
    expect(bytesToHex(ctx.protectRtp(hexToBytes(field(v, 'plaintext'))))).toBe(field(v, 'expected'));
  });

  it.each(vectorsOfKind('aead_rtp_decrypt').map((v) => [v.id, v] as const))('%s: SRTP decrypts to the published packet', (_id, v) => {
    const ctx = SrtpContext.fromSessionKeys({ profile: profileOf(v), backend: nativeBackend(), sessionKeys: sessionKeys(v) });
    expect(bytesToHex(ctx.unprotectRtp(hexToBytes(field(v, 'input'))))).toBe(field(v, 'expected'));
  });

  it.each(vectorsOfKind('aead_rtcp').map((v) => [v.id, v] as const))('%s: SRTCP encrypts to the published packet', (_id, v) => {
    const plaintext = hexToBytes(field(v, 'plaintext'));
    const keys = sessionKeys(v);
    const transform = new AeadTransform(nativeBackend(), keys.srtp, keys.srtcp);
    expect(bytesToHex(transform.protectRtcp(plaintext, readUint32(plaintext, 4), v.srtcp_index as number, true))).toBe(field(v, 'expected'));
  });

  it.each(vectorsOfKind('aead_rtcp_decrypt').map((v) => [v.id, v] as const))('%s: SRTCP decrypts to the published packet', (_id, v) => {
    const ctx = SrtpContext.fromSessionKeys({ profile: profileOf(v), backend: nativeBackend(), sessionKeys: sessionKeys(v) });
    expect(bytesToHex(ctx.unprotectRtcp(hexToBytes(field(v, 'input'))))).toBe(field(v, 'expected'));
  });

  it('the fixture holds the RFC 7714 vectors these tests rely on', () => {
    expect(vectorsOfKind('aead_rtp')).toHaveLength(2);
    expect(vectorsOfKind('aead_rtp_decrypt')).toHaveLength(2);
    expect(vectorsOfKind('aead_rtcp')).toHaveLength(2);
  });
});

describe.each(KEY_SIZES)('agreement with node:crypto, %i-byte keys', (keyLength) => {
  it('seal, sealInto and open agree byte for byte on random keys, IVs, AADs and plaintexts (property)', () => {
    const backend = nativeBackend();
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: keyLength, maxLength: keyLength }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.uint8Array({ maxLength: 64 }),
        fc.oneof(fc.uint8Array({ maxLength: 48 }), fc.uint8Array({ minLength: 140, maxLength: 1500 })),
        (key, iv, aad, plaintext) => {
          const native = backend.createAesGcm(key, 16);
          const reference = nodeCryptoBackend.createAesGcm(key, 16);
          const expected = bytesToHex(reference.seal(iv, aad, plaintext));
          const sealed = native.seal(iv, aad, plaintext);
          expect(bytesToHex(sealed)).toBe(expected);
          const out = new Uint8Array(plaintext.length + 16 + 3);
          expect(native.sealInto(iv, aad, plaintext, out, 3)).toBe(plaintext.length + 16);
          expect(bytesToHex(out.subarray(3))).toBe(expected);
          expect(bytesToHex(native.open(iv, aad, sealed)!)).toBe(bytesToHex(plaintext));
          expect(bytesToHex(reference.open(iv, aad, sealed)!)).toBe(bytesToHex(plaintext));
          native.wipe();
          reference.wipe();
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('one engine over thousands of packets (the relay reuses one context per key)', () => {
    const key = bytes(keyLength);
    const native = nativeBackend().createAesGcm(key, 16);
    const reference = nodeCryptoBackend.createAesGcm(key, 16);
    for (let i = 0; i < 3000; i++) {
      const iv = bytes(12);
      const aad = bytes(VOICE.aad);
      const plaintext = bytes(i % 7 === 0 ? i % 200 : VOICE.payload);
      const sealed = native.seal(iv, aad, plaintext);
      expect(bytesToHex(sealed)).toBe(bytesToHex(reference.seal(iv, aad, plaintext)));
      expect(bytesToHex(native.open(iv, aad, sealed)!)).toBe(bytesToHex(plaintext));
      if (i % 10 === 0) expect(native.open(iv, aad, Uint8Array.from(sealed, (b, j) => (j === 0 ? b ^ 1 : b)))).toBeNull();
    }
  });
});

describe('tampering: open() answers null, never throws, and the engine keeps working', () => {
  const key = bytes(16);
  const iv = bytes(12);
  const aad = bytes(VOICE.aad);
  const plaintext = bytes(VOICE.payload);

  it('every single-bit flip of ciphertext, tag or AAD', () => {
    const engine = nativeBackend().createAesGcm(key, 16);
    const sealed = engine.seal(iv, aad, plaintext);
    for (let bit = 0; bit < sealed.length * 8; bit++) {
      const bad = Uint8Array.from(sealed);
      bad[bit >> 3]! ^= 1 << (bit & 7);
      expect(engine.open(iv, aad, bad), `sealed bit ${bit}`).toBeNull();
    }
    for (let bit = 0; bit < aad.length * 8; bit++) {
      const bad = Uint8Array.from(aad);
      bad[bit >> 3]! ^= 1 << (bit & 7);
      expect(engine.open(iv, bad, sealed), `aad bit ${bit}`).toBeNull();
    }
    const otherIv = Uint8Array.from(iv);
    otherIv[11]! ^= 1;
    expect(engine.open(otherIv, aad, sealed)).toBeNull();
    expect(nativeBackend().createAesGcm(bytes(16), 16).open(iv, aad, sealed)).toBeNull();
    expect(bytesToHex(engine.open(iv, aad, sealed)!)).toBe(bytesToHex(plaintext));
  });

  it('every truncation and extension', () => {
    const engine = nativeBackend().createAesGcm(key, 16);
    const sealed = engine.seal(iv, aad, plaintext);
    for (let length = 0; length < sealed.length; length++) {
      expect(engine.open(iv, aad, sealed.subarray(0, length)), `length ${length}`).toBeNull();
    }
    const longer = new Uint8Array(sealed.length + 1);
    longer.set(sealed);
    expect(engine.open(iv, aad, longer)).toBeNull();
    expect(bytesToHex(engine.open(iv, aad, sealed)!)).toBe(bytesToHex(plaintext));
  });

  it('random bytes (property)', () => {
    const engine = nativeBackend().createAesGcm(key, 16);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 40 }), (sealed, junkAad) => {
        expect(engine.open(iv, junkAad, sealed)).toBeNull();
      }),
      { numRuns: 1000 },
    );
    expect(bytesToHex(engine.open(iv, aad, engine.seal(iv, aad, plaintext))!)).toBe(bytesToHex(plaintext));
  });

  it('an empty ciphertext with a valid tag opens to an empty plaintext', () => {
    const engine = nativeBackend().createAesGcm(key, 16);
    const tag = engine.seal(iv, aad, new Uint8Array(0));
    expect(tag).toHaveLength(16);
    expect(engine.open(iv, aad, tag)).toEqual(new Uint8Array(0));
  });
});

describe('views, results and sealInto', () => {
  it('accepts subarray views with a byteOffset, and Buffers, for every argument', () => {
    const key = bytes(32);
    const iv = bytes(12);
    const aad = bytes(VOICE.aad);
    const plaintext = bytes(VOICE.payload);
    const expected = bytesToHex(nodeCryptoBackend.createAesGcm(key, 16).seal(iv, aad, plaintext));
    const engine = nativeBackend().createAesGcm(embedded(key), 16);
    expect(bytesToHex(engine.seal(embedded(iv), embedded(aad), embedded(plaintext)))).toBe(expected);
    expect(bytesToHex(engine.seal(Buffer.from(iv), Buffer.from(aad), Buffer.from(plaintext)))).toBe(expected);
    expect(bytesToHex(engine.open(embedded(iv), embedded(aad), embedded(hexToBytes(expected)))!)).toBe(bytesToHex(plaintext));

    // The relay's own shape: header and payload are views of one packet.
    const packet = embedded(new Uint8Array([...aad, ...plaintext]));
    expect(bytesToHex(engine.seal(iv, packet.subarray(0, 12), packet.subarray(12)))).toBe(expected);
  });

  it('small on-heap arrays (V8 keeps typed arrays of up to 64 bytes inside the JS heap)', () => {
    const key = bytes(16);
    const engine = nativeBackend().createAesGcm(Uint8Array.from(key), 16);
    const reference = nodeCryptoBackend.createAesGcm(key, 16);
    for (let n = 0; n < 64; n++) {
      const iv = Uint8Array.from(bytes(12));
      const aad = Uint8Array.from(bytes(n));
      const plaintext = Uint8Array.from(bytes(n));
      expect(bytesToHex(engine.seal(iv, aad, plaintext))).toBe(bytesToHex(reference.seal(iv, aad, plaintext)));
    }
  });

  it('returns a fresh Uint8Array with its own ArrayBuffer each time', () => {
    const engine = nativeBackend().createAesGcm(bytes(16), 16);
    const iv = bytes(12);
    const a = engine.seal(iv, bytes(12), bytes(160));
    const b = engine.seal(iv, bytes(12), bytes(160));
    expect(a).toBeInstanceOf(Uint8Array);
    expect(a.buffer).not.toBe(b.buffer);
    expect([a.byteOffset, a.buffer.byteLength]).toEqual([0, 176]);
    const opened = engine.open(iv, new Uint8Array(0), engine.seal(iv, new Uint8Array(0), bytes(160)))!;
    expect([opened.byteOffset, opened.buffer.byteLength]).toEqual([0, 160]);
  });

  it('sealInto works in place and at an offset, and refuses bad offsets and overlaps', () => {
    const key = bytes(16);
    const iv = bytes(12);
    const engine = nativeBackend().createAesGcm(key, 16);
    const packet = bytes(12 + 160 + 16);
    const aad = packet.subarray(0, 12);
    const payload = packet.subarray(12, 172);
    const expected = bytesToHex(nodeCryptoBackend.createAesGcm(key, 16).seal(iv, aad, payload));
    const aadBefore = bytesToHex(aad);

    // In place: the tag lands right after the payload, the header is untouched.
    expect(engine.sealInto(iv, aad, payload, packet, 12)).toBe(176);
    expect(bytesToHex(packet.subarray(12))).toBe(expected);
    expect(bytesToHex(packet.subarray(0, 12))).toBe(aadBefore);

    const plaintext = bytes(160);
    const out = new Uint8Array(200);
    expect(() => engine.sealInto(iv, aad, plaintext, out, 25)).toThrow(RangeError); // 25 + 176 > 200
    expect(() => engine.sealInto(iv, aad, plaintext, out, -1)).toThrow(RangeError);
    expect(() => engine.sealInto(iv, aad, plaintext, out, 1.5)).toThrow(RangeError);
    expect(() => engine.sealInto(iv, aad, plaintext, out, Number.NaN)).toThrow(RangeError);
    expect(() => engine.sealInto(iv, aad, plaintext, out, 201)).toThrow(RangeError);
    expect(() => engine.sealInto(iv, aad, plaintext, out, '0' as unknown as number)).toThrow(TypeError);
    expect(() => engine.sealInto(iv, aad, plaintext, [] as unknown as Uint8Array, 0)).toThrow(TypeError);
    const shared = bytes(400);
    expect(() => engine.sealInto(iv, aad, shared.subarray(0, 160), shared, 1)).toThrow(RangeError);
    expect(() => engine.sealInto(iv, aad, shared.subarray(100, 260), shared, 0)).toThrow(RangeError);
    expect(engine.sealInto(iv, aad, shared.subarray(0, 160), shared, 160)).toBe(176); // adjacent: fine
    expect(engine.sealInto(iv, aad, plaintext, out, 24)).toBe(176);
  });

  it('sealPacketInto and openPacketInto: header in the clear as AAD, agree with node:crypto, at any offset', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 50 }), (aadLength, bodyLength, offset) => {
        const key = bytes(16);
        const iv = bytes(12);
        const engine = nativeBackend().createAesGcm(key, 16);
        const packet = embedded(bytes(aadLength + bodyLength));
        const header = packet.subarray(0, aadLength);
        const expected = bytesToHex(header) + bytesToHex(nodeCryptoBackend.createAesGcm(key, 16).seal(iv, header, packet.subarray(aadLength)));
        const sealed = new Uint8Array(offset + packet.length + 16 + 3);
        expect(engine.sealPacketInto(iv, packet, aadLength, sealed, offset)).toBe(packet.length + 16);
        expect(bytesToHex(sealed.subarray(offset, offset + packet.length + 16))).toBe(expected);
        const opened = new Uint8Array(offset + packet.length);
        expect(engine.openPacketInto(iv, sealed.subarray(offset, offset + packet.length + 16), aadLength, opened, offset)).toBe(packet.length);
        expect(bytesToHex(opened.subarray(offset))).toBe(bytesToHex(packet));
      }),
      { numRuns: 200 },
    );
  });

  it('openPacketInto answers -1, writes no plaintext and never throws for packets that do not verify', () => {
    const engine = nativeBackend().createAesGcm(bytes(16), 16);
    const iv = bytes(12);
    const packet = bytes(12 + 160);
    const sealed = new Uint8Array(packet.length + 16);
    engine.sealPacketInto(iv, packet, 12, sealed, 0);
    const out = new Uint8Array(packet.length);
    for (const bit of [0, 12 * 8 + 3, sealed.length * 8 - 1]) {
      const tampered = sealed.slice();
      tampered[bit >> 3]! ^= 1 << (bit & 7);
      out.fill(0xee);
      expect(engine.openPacketInto(iv, tampered, 12, out, 0)).toBe(-1);
      // The plaintext OpenSSL wrote before the tag check is wiped, not left for the caller.
      expect(out.subarray(12).every((b) => b === 0 || b === 0xee)).toBe(true);
    }
    expect(engine.openPacketInto(iv, sealed.subarray(0, 27), 12, out, 0)).toBe(-1); // shorter than header + tag
    expect(engine.openPacketInto(iv, sealed.subarray(0, 27), 12, new Uint8Array(0), 0)).toBe(-1); // and an empty out
    // A header longer than the packet is the caller's mistake (it parsed the header from the packet).
    expect(() => engine.openPacketInto(iv, sealed.subarray(0, 11), 12, out, 0)).toThrow(RangeError);
    // The engine still works after all of that.
    expect(engine.openPacketInto(iv, sealed, 12, out, 0)).toBe(packet.length);
    expect(bytesToHex(out)).toBe(bytesToHex(packet));
  });

  it('sealPacketInto and openPacketInto refuse bad arguments before writing anything', () => {
    const engine = nativeBackend().createAesGcm(bytes(16), 16);
    const iv = bytes(12);
    const packet = bytes(12 + 160);
    const out = new Uint8Array(200);
    expect(() => engine.sealPacketInto(iv, packet, 12, out, 25)).toThrow(RangeError); // 25 + 188 > 200
    expect(() => engine.sealPacketInto(iv, packet, 173, out, 0)).toThrow(RangeError); // header past the packet
    expect(() => engine.sealPacketInto(iv, packet, -1, out, 0)).toThrow(RangeError);
    expect(() => engine.sealPacketInto(iv, packet, 1.5, out, 0)).toThrow(RangeError);
    expect(() => engine.sealPacketInto(iv, packet, 12, out, Number.NaN)).toThrow(RangeError);
    expect(() => engine.sealPacketInto(bytes(11), packet, 12, out, 0)).toThrow(RangeError);
    expect(() => engine.sealPacketInto(iv, packet, '12' as unknown as number, out, 0)).toThrow(TypeError);
    expect(() => engine.sealPacketInto(iv, [] as unknown as Uint8Array, 12, out, 0)).toThrow(TypeError);
    expect(() => engine.openPacketInto(iv, packet, 12, [] as unknown as Uint8Array, 0)).toThrow(TypeError);
    const shared = bytes(600);
    expect(() => engine.sealPacketInto(iv, shared.subarray(0, 172), 12, shared, 100)).toThrow(RangeError); // overlap
    expect(() => engine.openPacketInto(iv, shared.subarray(0, 188), 12, shared, 0)).toThrow(RangeError); // in place: refused
    expect(engine.sealPacketInto(iv, shared.subarray(0, 172), 12, shared, 172)).toBe(188); // adjacent: fine
  });
});

describe('arguments', () => {
  const key = bytes(16);
  const iv = bytes(12);
  const notBytes: unknown[] = [undefined, null, 'abc', 12, [1, 2, 3], new Int8Array(12), new Uint8ClampedArray(12), new Uint16Array(6), new DataView(new ArrayBuffer(12)), new ArrayBuffer(12)];

  it('createAesGcm: wrong types are TypeErrors, wrong key lengths and tag lengths RangeErrors', () => {
    const backend = nativeBackend();
    for (const value of notBytes) expect(() => backend.createAesGcm(value as Uint8Array, 16)).toThrow(TypeError);
    expect(() => backend.createAesGcm(key, '16' as unknown as number)).toThrow(TypeError);
    for (const length of [0, 15, 17, 24, 31, 33]) expect(() => backend.createAesGcm(bytes(length), 16), `key ${length}`).toThrow(RangeError);
    for (const tag of [0, 4, 8, 12, 15, 17, 16.5, Number.NaN]) expect(() => backend.createAesGcm(key, tag), `tag ${tag}`).toThrow(RangeError);
    expect(() => backend.createAesGcm(key, 16)).not.toThrow();
    expect(() => backend.createAesGcm(bytes(32), 16)).not.toThrow();
  });

  it('seal and open: wrong types are TypeErrors, a wrong IV length a RangeError', () => {
    const engine = nativeBackend().createAesGcm(key, 16);
    const ok = bytes(20);
    for (const value of notBytes) {
      const v = value as Uint8Array;
      expect(() => engine.seal(v, ok, ok)).toThrow(TypeError);
      expect(() => engine.seal(iv, v, ok)).toThrow(TypeError);
      expect(() => engine.seal(iv, ok, v)).toThrow(TypeError);
      expect(() => engine.open(v, ok, ok)).toThrow(TypeError);
      expect(() => engine.open(iv, v, ok)).toThrow(TypeError);
      expect(() => engine.open(iv, ok, v)).toThrow(TypeError);
    }
    for (const length of [0, 8, 11, 13, 16]) {
      expect(() => engine.seal(bytes(length), ok, ok), `iv ${length}`).toThrow(RangeError);
      expect(() => engine.open(bytes(length), ok, ok), `iv ${length}`).toThrow(RangeError);
    }
    // Error messages name the module and never carry key material.
    expect(() => engine.seal(iv, ok, 'x' as unknown as Uint8Array)).toThrow(/^native-gcm: plaintext must be a Uint8Array$/);
  });

  it('a detached buffer reads as empty rather than crashing', () => {
    const engine = nativeBackend().createAesGcm(key, 16);
    const backing = new ArrayBuffer(32);
    const plaintext = new Uint8Array(backing);
    structuredClone(backing, { transfer: [backing] });
    expect(plaintext.byteLength).toBe(0);
    expect(engine.seal(iv, new Uint8Array(0), plaintext)).toHaveLength(16);
  });
});

describe('wipe()', () => {
  it('is idempotent, and every later call is a TypeError', () => {
    const engine = nativeBackend().createAesGcm(bytes(16), 16);
    const iv = bytes(12);
    const sealed = engine.seal(iv, bytes(12), bytes(160));
    engine.wipe();
    expect(() => engine.wipe()).not.toThrow();
    expect(() => engine.seal(iv, bytes(12), bytes(160))).toThrow(TypeError);
    expect(() => engine.open(iv, bytes(12), sealed)).toThrow(TypeError);
    expect(() => engine.sealInto(iv, bytes(12), bytes(160), new Uint8Array(176), 0)).toThrow(TypeError);
    expect(() => engine.seal(iv, bytes(12), bytes(160))).toThrow(/wipe/);
  });

  it('affects only its own engine, and the key the caller passed in stays the caller\'s', () => {
    const key = bytes(16);
    const keyHex = bytesToHex(key);
    const iv = bytes(12);
    const aad = bytes(12);
    const plaintext = bytes(160);
    const a = nativeBackend().createAesGcm(key, 16);
    const b = nativeBackend().createAesGcm(key, 16);
    const sealed = a.seal(iv, aad, plaintext);
    a.wipe();
    expect(bytesToHex(key)).toBe(keyHex);
    expect(bytesToHex(b.open(iv, aad, sealed)!)).toBe(bytesToHex(plaintext));
    // The engine keeps its own copy: erasing the caller's key changes nothing.
    key.fill(0);
    expect(bytesToHex(b.seal(iv, aad, plaintext))).toBe(bytesToHex(sealed));
  });

  it('engines share one prototype; a method called on anything but an engine is a TypeError', () => {
    const a = nativeBackend().createAesGcm(bytes(16), 16);
    const b = nativeBackend().createAesGcm(bytes(32), 16);
    expect(Object.getPrototypeOf(a)).toBe(Object.getPrototypeOf(b));
    expect(Object.keys(a)).toEqual([]); // no per-engine functions: a relay holds thousands of engines
    const { seal } = a;
    expect(() => seal(bytes(12), new Uint8Array(0), bytes(10))).toThrow(TypeError);
    expect(() => a.seal.call({}, bytes(12), new Uint8Array(0), bytes(10))).toThrow(TypeError);
  });

  it('keys OpenSSL on first use, so an unused engine costs almost nothing, and wipe works before first use', () => {
    const engine = nativeBackend().createAesGcm(bytes(16), 16);
    engine.wipe();
    expect(() => engine.seal(bytes(12), new Uint8Array(0), bytes(10))).toThrow(TypeError);
    const used = nativeBackend().createAesGcm(bytes(16), 16);
    const iv = bytes(12);
    const plaintext = bytes(10);
    expect(bytesToHex(used.open(iv, new Uint8Array(0), used.seal(iv, new Uint8Array(0), plaintext))!)).toBe(bytesToHex(plaintext));
  });
});

describe('as an SRTP backend', () => {
  it('AES-CTR (the key derivation) comes from the addon, HMAC-SHA1 from node:crypto', () => {
    const backend = nativeBackend();
    expect(backend.createAesCtr).toBe(loadNativeKeys()!.createAesCtr);
    expect(backend.createHmacSha1).toBe(nodeCryptoBackend.createHmacSha1);
  });

  it.each(Object.keys(SRTP_PROFILES) as SrtpProfileName[])('%s: SRTP and SRTCP interoperate with node:crypto both ways', (profile) => {
    const p = SRTP_PROFILES[profile];
    const keys = { profile, masterKey: bytes(p.keyLength), masterSalt: bytes(p.saltLength) };
    const backend = nativeBackend();
    const nativeSender = new SrtpContext({ ...keys, backend });
    const nodeSender = new SrtpContext({ ...keys, backend: nodeCryptoBackend });
    const nativeReceiver = new SrtpContext({ ...keys, backend });
    const nodeReceiver = new SrtpContext({ ...keys, backend: nodeCryptoBackend });
    for (let seq = 65500; seq < 65500 + 100; seq++) {
      const rtp = serializeRtpPacket(
        { padding: false, marker: false, payloadType: 111, sequenceNumber: seq & 0xffff, timestamp: seq * 960, ssrc: 0x1234abcd, csrcs: [], extension: null },
        bytes(VOICE.payload),
      );
      const sealed = nativeSender.protectRtp(rtp);
      expect(bytesToHex(sealed)).toBe(bytesToHex(nodeSender.protectRtp(rtp)));
      expect(bytesToHex(nodeReceiver.unprotectRtp(sealed))).toBe(bytesToHex(rtp));
      expect(bytesToHex(nativeReceiver.unprotectRtp(sealed))).toBe(bytesToHex(rtp));
    }
    const rtcp = hexToBytes('81c90007 1234abcd 00000001 00000000 00000000 00000000 00000000 00000000');
    const sealedRtcp = nativeSender.protectRtcp(rtcp);
    expect(bytesToHex(sealedRtcp)).toBe(bytesToHex(nodeSender.protectRtcp(rtcp)));
    expect(bytesToHex(nodeReceiver.unprotectRtcp(sealedRtcp))).toBe(bytesToHex(rtcp));
  });
});

describe('sealFanout: one packet sealed for many receivers in one call', () => {
  /** A voice packet (header ‖ payload) and `n` receivers: an engine (own key) and IV each. */
  function fanout(n: number, keyLength: 16 | 32 = 16) {
    const backend = nativeBackend();
    // A CSRC and an extension: the AAD is longer than the fixed 12 bytes.
    const header = serializeRtpPacket(
      { padding: false, marker: true, payloadType: 111, sequenceNumber: 0x1234, timestamp: 0xdeadbeef, ssrc: 0x0a0b0c0d, csrcs: [7], extension: { profile: 0xbede, data: bytes(4) } },
      new Uint8Array(0),
    );
    const packet = new Uint8Array(header.length + VOICE.payload);
    packet.set(header, 0);
    packet.set(bytes(VOICE.payload), header.length);
    const keys = Array.from({ length: n }, () => bytes(keyLength));
    const engines = keys.map((key) => backend.createAesGcm(key, 16));
    const ivs = bytes(12 * n);
    const seqs = Uint16Array.from({ length: n }, (_, i) => (0xfff0 + 7 * i) & 0xffff);
    return { backend, packet, headerLength: header.length, keys, engines, ivs, seqs };
  }

  it('gives each receiver byte for byte what sealPacketInto gives for the packet with its sequence number, and opens', () => {
    for (const keyLength of KEY_SIZES) {
      for (const n of [1, 4, 20, 64, 65]) {
        const { backend, packet, headerLength, keys, engines, ivs, seqs } = fanout(n, keyLength);
        const sealedLength = packet.length + 16;
        const out = new Uint8Array(9 + n * sealedLength + 3);
        expect(backend.sealRtpFanout(engines, ivs, seqs, n, packet, headerLength, out, 9)).toBe(n);
        for (let i = 0; i < n; i++) {
          const mine = Uint8Array.from(packet);
          mine[2] = seqs[i]! >> 8;
          mine[3] = seqs[i]! & 0xff;
          const expected = new Uint8Array(sealedLength);
          const reference = nodeCryptoBackend.createAesGcm(keys[i]!, 16);
          const iv = ivs.subarray(12 * i, 12 * i + 12);
          expected.set(mine.subarray(0, headerLength), 0);
          expected.set(reference.seal(iv, mine.subarray(0, headerLength), mine.subarray(headerLength)), headerLength);
          const copy = out.subarray(9 + i * sealedLength, 9 + (i + 1) * sealedLength);
          expect(bytesToHex(copy)).toBe(bytesToHex(expected));
          const opened = new Uint8Array(packet.length);
          expect(engines[i]!.openPacketInto(iv, copy, headerLength, opened, 0)).toBe(packet.length);
          expect(bytesToHex(opened)).toBe(bytesToHex(mine));
        }
        // The packet itself is left as it was.
        expect(packet[2]).toBe(0x12);
        expect(packet[3]).toBe(0x34);
      }
    }
  });

  it('seals fewer than it is handed engines for, and nothing for a count of 0', () => {
    const { backend, packet, headerLength, engines, ivs, seqs } = fanout(5);
    const out = new Uint8Array(5 * (packet.length + 16));
    expect(backend.sealRtpFanout(engines, ivs, seqs, 2, packet, headerLength, out, 0)).toBe(2);
    expect(out.subarray(2 * (packet.length + 16)).every((b) => b === 0)).toBe(true);
    expect(backend.sealRtpFanout(engines, ivs, seqs, 0, packet, headerLength, new Uint8Array(0), 0)).toBe(0);
  });

  it('refuses bad arguments before writing anything', () => {
    const { backend, packet, headerLength, engines, ivs, seqs } = fanout(4);
    const sealedLength = packet.length + 16;
    const out = new Uint8Array(4 * sealedLength);
    const call = (overrides: Partial<{ engines: unknown; ivs: unknown; seqs: unknown; count: unknown; packet: unknown; aad: unknown; out: unknown; offset: unknown }>) => () =>
      backend.sealRtpFanout(
        (overrides.engines ?? engines) as never,
        (overrides.ivs ?? ivs) as Uint8Array,
        (overrides.seqs ?? seqs) as Uint16Array,
        (overrides.count ?? 4) as number,
        (overrides.packet ?? packet) as Uint8Array,
        (overrides.aad ?? headerLength) as number,
        (overrides.out ?? out) as Uint8Array,
        (overrides.offset ?? 0) as number,
      );
    expect(call({ count: 5 })).toThrow(RangeError); // more than engines
    expect(call({ count: -1 })).toThrow(RangeError);
    expect(call({ count: 1.5 })).toThrow(RangeError);
    expect(call({ count: Number.NaN })).toThrow(RangeError);
    expect(call({ ivs: bytes(12 * 3) })).toThrow(RangeError);
    expect(call({ seqs: new Uint16Array(3) })).toThrow(RangeError);
    expect(call({ seqs: new Uint32Array(4) })).toThrow(TypeError);
    expect(call({ aad: 3 })).toThrow(RangeError); // the sequence number must be in the header
    expect(call({ aad: packet.length + 1 })).toThrow(RangeError);
    expect(call({ offset: 1 })).toThrow(RangeError); // 4 copies do not fit after 1
    expect(call({ out: new Uint8Array(4 * sealedLength - 1) })).toThrow(RangeError);
    expect(call({ engines: 'nope' })).toThrow(TypeError);
    expect(call({ engines: [engines[0], engines[1], {}, engines[3]] })).toThrow(TypeError);
    expect(call({ packet: [] })).toThrow(TypeError);
    // The output may not overlap the packet.
    const shared = new Uint8Array(packet.length + 4 * sealedLength);
    shared.set(packet, 0);
    expect(call({ packet: shared.subarray(0, packet.length), out: shared, offset: packet.length - 1 })).toThrow(RangeError);
    expect(out.every((b) => b === 0)).toBe(true);
    // A wiped engine is refused, and nothing is written for the others either.
    engines[2]!.wipe();
    expect(call({})).toThrow(TypeError);
    expect(out.every((b) => b === 0)).toBe(true);
  });
});

describe('sealFanout by engine handles (ABI 7): a Uint32Array of handles in place of the engines', () => {
  function receivers(n: number) {
    const backend = nativeBackend();
    const packet = new Uint8Array(12 + VOICE.payload);
    packet.set(bytes(12 + VOICE.payload), 0);
    packet[0] = 0x80;
    const engines = Array.from({ length: n }, () => backend.createAesGcm(bytes(16), 16));
    const handles = Uint32Array.from(engines, (engine) => engine.handle);
    const ivs = bytes(12 * n);
    const seqs = Uint16Array.from({ length: n }, (_, i) => (0x7ff0 + 3 * i) & 0xffff);
    return { backend, packet, engines, handles, ivs, seqs };
  }

  it('seals byte for byte what the Array of engines seals', () => {
    for (const n of [1, 4, 20, 64, 65]) {
      const { backend, packet, engines, handles, ivs, seqs } = receivers(n);
      const sealedLength = packet.length + 16;
      const byEngines = new Uint8Array(5 + n * sealedLength);
      const byHandles = new Uint8Array(5 + n * sealedLength);
      expect(backend.sealRtpFanout(engines, ivs, seqs, n, packet, 12, byEngines, 5)).toBe(n);
      expect(backend.sealRtpFanout(handles, ivs, seqs, n, packet, 12, byHandles, 5)).toBe(n);
      expect(bytesToHex(byHandles)).toBe(bytesToHex(byEngines));
    }
  });

  it('gives every engine its own handle, read-only and not enumerable', () => {
    const { engines, handles } = receivers(300);
    expect(new Set(handles).size).toBe(300);
    expect(handles.every((h) => h !== 0)).toBe(true);
    const engine = engines[0]!;
    const handle = engine.handle;
    expect(() => {
      (engine as { handle: number }).handle = handle + 1;
    }).toThrow(TypeError);
    expect(engine.handle).toBe(handle);
    expect(Object.keys(engine)).toEqual([]);
  });

  it('refuses a handle that names no live engine, and writes nothing for anyone', () => {
    const { backend, packet, engines, handles, ivs, seqs } = receivers(4);
    const out = new Uint8Array(4 * (packet.length + 16));
    const seal = (h: Uint32Array, count = 4) => () => backend.sealRtpFanout(h, ivs, seqs, count, packet, 12, out, 0);
    const withHandle = (i: number, handle: number) => {
      const copy = Uint32Array.from(handles);
      copy[i] = handle;
      return copy;
    };
    expect(seal(withHandle(3, 0))).toThrow(TypeError);
    expect(seal(withHandle(3, 0xffffffff))).toThrow(TypeError);
    // The same slot under the next generation: what a handle looks like once its engine is collected.
    expect(seal(withHandle(3, (handles[3]! + (1 << 20)) >>> 0))).toThrow(TypeError);
    expect(seal(handles, 5)).toThrow(RangeError); // more than handles
    // An empty Uint32Array (which may have no backing store at all) is still handles: 0 seals nothing, more is a RangeError.
    expect(backend.sealRtpFanout(new Uint32Array(0), ivs, seqs, 0, packet, 12, out, 0)).toBe(0);
    expect(seal(new Uint32Array(0), 1)).toThrow(RangeError);
    expect(() => backend.sealRtpFanout(Int32Array.from(handles) as never, ivs, seqs, 4, packet, 12, out, 0)).toThrow(TypeError);
    // Output overlapping the handles themselves.
    const room = new Uint8Array(4 * (packet.length + 16) + 16);
    const overlapping = new Uint32Array(room.buffer, 0, 4);
    overlapping.set(handles);
    expect(() => backend.sealRtpFanout(overlapping, ivs, seqs, 4, packet, 12, room, 0)).toThrow(RangeError);
    expect(out.every((b) => b === 0)).toBe(true);
    engines[1]!.wipe();
    expect(seal(handles)).toThrow(TypeError);
    expect(out.every((b) => b === 0)).toBe(true);
  });
});

describe('SrtpContext.prepareRtpSeal: the fan-out bookkeeping', () => {
  const masterKey = bytes(16);
  const masterSalt = bytes(12);
  const packetWithSeq = (seq: number): Uint8Array =>
    serializeRtpPacket({ padding: false, marker: false, payloadType: 111, sequenceNumber: seq, timestamp: 960, ssrc: 0x01020304, csrcs: [], extension: null }, bytes(160));

  it('takes each index once, and what it prepares seals to what a receiver opens', () => {
    const backend = nativeBackend();
    const sender = new SrtpContext({ profile: 'aes128gcm', backend, masterKey, masterSalt });
    const receiver = new SrtpContext({ profile: 'aes128gcm', backend: nodeCryptoBackend, masterKey, masterSalt });
    expect(sender.sealsFanout).toBe(true);
    const ivs = new Uint8Array(24);
    const packet = packetWithSeq(0);
    const out = new Uint8Array(packet.length + 16);
    for (const seq of [65534, 65535, 0, 1]) {
      const engine = sender.prepareRtpSeal(0x01020304, seq, ivs, 12);
      if (typeof engine === 'string') throw new Error(engine);
      backend.sealRtpFanout([engine], ivs.subarray(12), Uint16Array.of(seq), 1, packet, 12, out, 0);
      const opened = receiver.unprotectRtp(out);
      expect((opened[2]! << 8) | opened[3]!).toBe(seq);
      expect(bytesToHex(opened.subarray(12))).toBe(bytesToHex(packet.subarray(12)));
    }
    // Across the wrap: ROC 1 now, as protectRtp would have it.
    expect(sender.rtpStreamState(0x01020304)).toEqual({ highestIndex: 0x10001, rolloverCounter: 1 });
    expect(receiver.rtpStreamState(0x01020304)).toEqual({ highestIndex: 0x10001, rolloverCounter: 1 });
    // An index already taken is refused (for GCM: the nonce), and nothing moves.
    expect(sender.prepareRtpSeal(0x01020304, 1, ivs, 0)).toBe('replay');
    expect(sender.keyUsage.srtp).toBe(4);
    sender.close();
    expect(() => sender.prepareRtpSeal(0x01020304, 2, ivs, 0)).toThrow(TypeError);
  });

  it('is only offered where a batch seal exists: not on node:crypto, not for AES-CM', () => {
    const onNode = new SrtpContext({ profile: 'aes128gcm', backend: nodeCryptoBackend, masterKey, masterSalt });
    expect(onNode.sealsFanout).toBe(false);
    expect(() => onNode.prepareRtpSeal(1, 1, new Uint8Array(12), 0)).toThrow(TypeError);
    const cm = new SrtpContext({ profile: 'aescm128sha80', backend: nativeBackend(), masterKey, masterSalt: bytes(14) });
    expect(cm.sealsFanout).toBe(false);
  });
});

describe('engines holding their SRTP salt (ABI 8): sealFanoutIndexed and openRtpIndexed build the IVs natively', () => {
  /** `n` receivers, each an engine made with its own key and salt; a packet with a CSRC and an extension. */
  function salted(n: number, keyLength: 16 | 32 = 16) {
    const backend = nativeBackend();
    const header = serializeRtpPacket(
      { padding: false, marker: true, payloadType: 111, sequenceNumber: 0x1234, timestamp: 0xdeadbeef, ssrc: 0x0a0b0c0d, csrcs: [7], extension: { profile: 0xbede, data: bytes(4) } },
      new Uint8Array(0),
    );
    const packet = new Uint8Array(header.length + VOICE.payload);
    packet.set(header, 0);
    packet.set(bytes(VOICE.payload), header.length);
    const keys = Array.from({ length: n }, () => bytes(keyLength));
    const salts = Array.from({ length: n }, () => bytes(12));
    const engines = keys.map((key, i) => backend.createAesGcm(key, 16, salts[i]));
    const handles = Uint32Array.from(engines, (engine) => engine.handle);
    // Indices across a rollover and near the top of the 48-bit space.
    const indices = Float64Array.from({ length: n }, (_, i) => (i % 3 === 2 ? 2 ** 48 - 1 - i : 0xfff0 + 7 * i));
    return { backend, packet, headerLength: header.length, keys, salts, engines, handles, indices };
  }

  it('seals byte for byte what sealFanout seals with the IVs gcmRtpIv gives, and each receiver opens it with openRtpIndexed', () => {
    for (const keyLength of KEY_SIZES) {
      for (const n of [1, 4, 20, 64, 65]) {
        const { backend, packet, headerLength, salts, engines, handles, indices } = salted(n, keyLength);
        const ssrc = 0xfedcba98;
        const sealedLength = packet.length + 16;
        const ivs = new Uint8Array(12 * n);
        salts.forEach((salt, i) => ivs.set(gcmRtpIv(salt, ssrc, indices[i]!), 12 * i));
        const seqs = Uint16Array.from(indices, (index) => index % 0x10000);
        const reference = new Uint8Array(9 + n * sealedLength);
        const got = new Uint8Array(9 + n * sealedLength);
        expect(backend.sealRtpFanout(handles, ivs, seqs, n, packet, headerLength, reference, 9)).toBe(n);
        expect(backend.sealRtpFanoutIndexed(handles, ssrc, indices, n, packet, headerLength, got, 9)).toBe(n);
        expect(bytesToHex(got)).toBe(bytesToHex(reference));
        for (let i = 0; i < n; i++) {
          const copy = got.subarray(9 + i * sealedLength, 9 + (i + 1) * sealedLength);
          const opened = new Uint8Array(packet.length);
          expect(backend.openRtpIndexed(handles[i]!, ssrc, indices[i]!, copy, headerLength, opened, 0)).toBe(packet.length);
          expect(bytesToHex(opened.subarray(headerLength))).toBe(bytesToHex(packet.subarray(headerLength)));
          expect((opened[2]! << 8) | opened[3]!).toBe(seqs[i]);
          // The wrong index (another IV) does not open, and leaves no plaintext.
          const wrong = new Uint8Array(packet.length);
          expect(backend.openRtpIndexed(handles[i]!, ssrc, indices[i]! + 0x10000 > 2 ** 48 - 1 ? indices[i]! - 0x10000 : indices[i]! + 0x10000, copy, headerLength, wrong, 0)).toBe(-1);
          expect(wrong.every((b) => b === 0)).toBe(true);
        }
      }
    }
  });

  it('openRtpIndexed answers -1, never throws, for what the network sends', () => {
    const { backend, packet, headerLength, handles } = salted(1);
    const out = new Uint8Array(packet.length);
    expect(backend.openRtpIndexed(handles[0]!, 1, 1, packet, headerLength, out, 0)).toBe(-1); // a tag of random bytes
    expect(backend.openRtpIndexed(handles[0]!, 1, 1, packet.subarray(0, headerLength + 15), headerLength, out, 0)).toBe(-1); // shorter than a tag
  });

  it('refuses bad arguments and engines without a salt before writing anything', () => {
    const { backend, packet, headerLength, engines, handles, indices } = salted(4);
    const out = new Uint8Array(4 * (packet.length + 16));
    const seal = (overrides: Partial<{ handles: unknown; ssrc: unknown; indices: unknown; count: unknown }>) => () =>
      backend.sealRtpFanoutIndexed(
        (overrides.handles ?? handles) as Uint32Array,
        (overrides.ssrc ?? 1) as number,
        (overrides.indices ?? indices) as Float64Array,
        (overrides.count ?? 4) as number,
        packet,
        headerLength,
        out,
        0,
      );
    expect(seal({ count: 5 })).toThrow(RangeError);
    expect(seal({ indices: new Float64Array(3) })).toThrow(RangeError);
    expect(seal({ indices: new Uint32Array(4) })).toThrow(TypeError);
    expect(seal({ indices: Float64Array.of(1, 2, 2 ** 48, 3) })).toThrow(RangeError);
    expect(seal({ indices: Float64Array.of(1, 2, -1, 3) })).toThrow(RangeError);
    expect(seal({ indices: Float64Array.of(1, 2, 0.5, 3) })).toThrow(RangeError);
    expect(seal({ indices: Float64Array.of(1, 2, Number.NaN, 3) })).toThrow(RangeError);
    expect(seal({ ssrc: 2 ** 32 })).toThrow(RangeError);
    expect(seal({ ssrc: -1 })).toThrow(RangeError);
    expect(seal({ ssrc: 'x' })).toThrow(TypeError);
    expect(seal({ handles: [...handles] })).toThrow(TypeError);
    // An engine made without a salt cannot build its IV: refused, for everyone.
    const unsalted = backend.createAesGcm(bytes(16), 16);
    const mixed = Uint32Array.from(handles);
    mixed[2] = unsalted.handle;
    expect(seal({ handles: mixed })).toThrow(TypeError);
    expect(() => backend.openRtpIndexed(unsalted.handle, 1, 1, packet, headerLength, new Uint8Array(packet.length), 0)).toThrow(TypeError);
    expect(() => backend.openRtpIndexed(0, 1, 1, packet, headerLength, new Uint8Array(packet.length), 0)).toThrow(TypeError);
    expect(() => backend.openRtpIndexed(-1, 1, 1, packet, headerLength, new Uint8Array(packet.length), 0)).toThrow(TypeError);
    expect(() => backend.openRtpIndexed(handles[0]!, 2 ** 32, 1, packet, headerLength, new Uint8Array(packet.length), 0)).toThrow(RangeError);
    expect(() => backend.createAesGcm(bytes(16), 16, bytes(11))).toThrow(RangeError);
    expect(() => backend.createAesGcm(bytes(16), 16, 'salt' as never)).toThrow(TypeError);
    expect(() => backend.openRtpIndexed(handles[0]!, 1, 2 ** 48, packet, headerLength, new Uint8Array(packet.length), 0)).toThrow(RangeError);
    expect(out.every((b) => b === 0)).toBe(true);
    engines[3]!.wipe();
    expect(seal({})).toThrow(TypeError);
    expect(() => backend.openRtpIndexed(handles[3]!, 1, 1, packet, headerLength, new Uint8Array(packet.length), 0)).toThrow(TypeError);
    expect(out.every((b) => b === 0)).toBe(true);
  });

  it('SrtpContext.prepareRtpSealIndexed takes each index once, and what it prepares a receiver opens', () => {
    const backend = nativeBackend();
    const masterKey = bytes(16);
    const masterSalt = bytes(12);
    const sender = new SrtpContext({ profile: 'aes128gcm', backend, masterKey, masterSalt });
    const receiver = new SrtpContext({ profile: 'aes128gcm', backend: nodeCryptoBackend, masterKey, masterSalt });
    expect(sender.sealsIndexedFanout).toBe(true);
    const packet = serializeRtpPacket({ padding: false, marker: false, payloadType: 111, sequenceNumber: 0, timestamp: 960, ssrc: 0x01020304, csrcs: [], extension: null }, bytes(160));
    const out = new Uint8Array(packet.length + 16);
    const indices = new Float64Array(2);
    const handles = new Uint32Array(1);
    for (const seq of [65534, 65535, 0, 1]) {
      const handle = sender.prepareRtpSealIndexed(0x01020304, seq, indices, 1);
      if (typeof handle === 'string') throw new Error(handle);
      handles[0] = handle;
      backend.sealRtpFanoutIndexed(handles, 0x01020304, indices.subarray(1), 1, packet, 12, out, 0);
      const opened = receiver.unprotectRtp(out);
      expect((opened[2]! << 8) | opened[3]!).toBe(seq);
      expect(bytesToHex(opened.subarray(12))).toBe(bytesToHex(packet.subarray(12)));
    }
    expect(indices[1]).toBe(0x10001);
    expect(sender.rtpStreamState(0x01020304)).toEqual({ highestIndex: 0x10001, rolloverCounter: 1 });
    expect(sender.prepareRtpSealIndexed(0x01020304, 1, indices, 0)).toBe('replay');
    expect(sender.keyUsage.srtp).toBe(4);
    sender.close();
    expect(() => sender.prepareRtpSealIndexed(0x01020304, 2, indices, 0)).toThrow(TypeError);
    const onNode = new SrtpContext({ profile: 'aes128gcm', backend: nodeCryptoBackend, masterKey, masterSalt });
    expect(onNode.sealsIndexedFanout).toBe(false);
    expect(() => onNode.prepareRtpSealIndexed(1, 1, indices, 0)).toThrow(TypeError);
  });
});

describe('SRTCP on native engines: one staged seal or open per packet', () => {
  it('agrees with node:crypto both ways for every body length, and refuses a tampered packet', () => {
    const masterKey = bytes(16);
    const masterSalt = bytes(12);
    const make = (backend: NativeGcmBackend | typeof nodeCryptoBackend) => new SrtpContext({ profile: 'aes128gcm', backend, masterKey, masterSalt });
    const nativeSender = make(nativeBackend());
    const nodeSender = make(nodeCryptoBackend);
    const nativeReceiver = make(nativeBackend());
    const nodeReceiver = make(nodeCryptoBackend);
    for (const body of [0, 4, 20, 56, 57, 200, 1400, 2000]) {
      const rtcp = new Uint8Array(8 + body);
      rtcp.set(hexToBytes('81c90007 1234abcd'), 0);
      rtcp.set(bytes(body), 8);
      const sealed = nativeSender.protectRtcp(rtcp);
      expect(bytesToHex(sealed)).toBe(bytesToHex(nodeSender.protectRtcp(rtcp)));
      expect(bytesToHex(nativeReceiver.unprotectRtcp(sealed))).toBe(bytesToHex(rtcp));
      expect(bytesToHex(nodeReceiver.unprotectRtcp(sealed))).toBe(bytesToHex(rtcp));
      for (const at of [0, 7, 8, sealed.length - 5, sealed.length - 1]) {
        const tampered = Uint8Array.from(sealed);
        tampered[at]! ^= 0x01;
        // A receiver that has not seen the genuine packet (else it is a replay): the header, the
        // ciphertext, the tag and the index (last octets) are all authenticated.
        expect(make(nativeBackend()).openRtcp(tampered)).toBe('auth-failed');
      }
    }
  });
});
