/**
 * The relay's key handling in its native addon (relay/native/src/parley_keys.c): the seal opener
 * (one suite run against it and the pure opener of shared/relay-api, which must agree on every
 * answer, the documented example included), AES-CTR for the SRTP key derivation (against
 * node:crypto), and the secret memory key epochs keep their master keys in.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createNativeSealOpener, loadNativeKeys, nativeKeysError } from '../../../relay/src/io/native-keys.js';
import { allocateSecretBytes, releaseSecretBytes, SECRET_SLOT_BYTES, secretMemoryIsNative, secretSlotsInUse } from '../../../relay/src/io/secret-memory.js';
import { hexToBytes } from '../../../shared/bytes.js';
import { x25519PublicKey } from '../../../shared/keys/x25519.js';
import { createSealOpener, encodeSealContext, openSessionKeys, SealError, sealSessionKeys, type SealContext, type SealOpener } from '../../../shared/relay-api/sealed-keys.js';
import { SRTP_PROFILES, type SrtpProfileName } from '../../../shared/srtp/profiles.js';
import fixture from '../../fixtures/key-schedule-vectors.json' with { type: 'json' };
import { RELAY_BOOT_ID, RELAY_ID, RELAY_KEY_PAIR, randomKeyMaterial } from '../relay-api/helpers.js';

const native = loadNativeKeys();
if (native === null) throw new Error(`the native addon must be built for these tests: ${nativeKeysError}`);
const PROFILES = Object.keys(SRTP_PROFILES) as SrtpProfileName[];
const CONTEXT: SealContext = { relayId: RELAY_ID, bootId: RELAY_BOOT_ID, sessionId: 'ses-1', ssrc: 0xdeadbeef, profile: 'aes128gcm' };
const seq = (length: number, start = 0): Uint8Array => Uint8Array.from({ length }, (_, i) => (start + i) & 0xff);

const openers: ReadonlyArray<readonly [string, (privateKey: Uint8Array) => SealOpener]> = [
  ['noble', createSealOpener],
  ['native', (privateKey) => createNativeSealOpener(privateKey)!],
];

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof SealError) return error.reason;
    throw error;
  }
  throw new Error('expected a SealError');
}

describe.each(openers)('seal opener: %s', (name, make) => {
  const opener = make(RELAY_KEY_PAIR.privateKey);

  it('is the one asked for, and computes the relay public key once', () => {
    expect(opener.name).toBe(name);
    expect(Buffer.from(opener.publicKey)).toEqual(Buffer.from(RELAY_KEY_PAIR.publicKey));
  });

  it('opens the example of docs/protocol.md §8.4', () => {
    const bob = make(hexToBytes('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'));
    const context = { relayId: 'relay-fra-1', bootId: 'AAECAwQFBgcICQoLDA0ODw', sessionId: 'ses-example', ssrc: 0x12345678, profile: 'aes128gcm' as const };
    const sealed = { v: 2, epk: 'hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo', ct: '4CZIhibFmfe0POKOy7FIxaHsyo4Ciz2OBiG5oJ8YW3zj0rhoikvhmwOc5knMpe3wWSIpAXiRbWJCCYBF6WIsfMH38ourSxiA' };
    expect(openSessionKeys(bob, context, sealed)).toEqual({
      clientToRelay: { masterKey: seq(16, 0x10), masterSalt: seq(12, 0x20) },
      relayToClient: { masterKey: seq(16, 0x30), masterSalt: seq(12, 0x40) },
    });
    bob.close();
  });

  it.each(PROFILES)('round-trips %s, into one buffer of its own', (profile) => {
    const keys = randomKeyMaterial(profile);
    const context = { ...CONTEXT, profile };
    const opened = openSessionKeys(opener, context, sealSessionKeys(RELAY_KEY_PAIR.publicKey, context, keys));
    expect(opened).toEqual(keys);
    const buffer = opened.clientToRelay.masterKey.buffer;
    for (const part of [opened.clientToRelay.masterSalt, opened.relayToClient.masterKey, opened.relayToClient.masterSalt]) expect(part.buffer).toBe(buffer);
    expect(buffer.byteLength).toBe(2 * (SRTP_PROFILES[profile].keyLength + SRTP_PROFILES[profile].saltLength));
  });

  it('refuses another relay, boot, session or SSRC, and any flipped bit, zeroing what it wrote', () => {
    const sealed = sealSessionKeys(RELAY_KEY_PAIR.publicKey, CONTEXT, randomKeyMaterial());
    for (const change of [{ relayId: 'relay-ams-1' }, { bootId: 'EBESExQVFhcYGRobHB0eHw' }, { sessionId: 'ses-2' }, { ssrc: 1 }]) {
      expect(reasonOf(() => openSessionKeys(opener, { ...CONTEXT, ...change }, sealed))).toBe('authentication-failed');
    }
    const ct = Buffer.from(sealed.ct, 'base64url');
    const epk = Buffer.from(sealed.epk, 'base64url');
    const c = encodeSealContext(CONTEXT, epk, opener.publicKey);
    for (let i = 0; i < ct.length; i += 7) {
      const tampered = Buffer.from(ct);
      tampered[i]! ^= 0x80;
      const out = new Uint8Array(ct.length - 16).fill(0xaa);
      expect(opener.openInto(c, epk, tampered, out)).toBe('authentication-failed');
      expect(out.every((b) => b === 0)).toBe(true);
    }
  });

  it.each(fixture.rejectedPeerPublicKeys)('refuses the ephemeral key $publicKey ($reason) before any X25519', ({ publicKey, reason }) => {
    const sealed = sealSessionKeys(RELAY_KEY_PAIR.publicKey, CONTEXT, randomKeyMaterial());
    expect(reasonOf(() => openSessionKeys(opener, CONTEXT, { ...sealed, epk: Buffer.from(publicKey, 'hex').toString('base64url') }))).toBe(reason);
  });

  it('never opens with a point of small order given to openInto directly (the caller checks §3.3 first)', () => {
    const lowOrder = new Uint8Array(32); // u = 0: X25519 gives the all-zero secret
    const c = encodeSealContext(CONTEXT, lowOrder, opener.publicKey);
    const out = new Uint8Array(56).fill(0xaa);
    if (name === 'native') {
      // OpenSSL refuses the all-zero result; so does the addon's own check.
      expect(opener.openInto(c, lowOrder, new Uint8Array(72), out)).toBe('zero-shared-secret');
      expect(out.every((b) => b === 0)).toBe(true);
    } else {
      // The pure X25519 refuses the point before the ladder runs.
      expect(() => opener.openInto(c, lowOrder, new Uint8Array(72), out)).toThrow(/small order/);
    }
  });

  it('agrees with the other opener on random seals (fast-check)', () => {
    const other = (name === 'native' ? createSealOpener : openers[1]![1])(RELAY_KEY_PAIR.privateKey);
    fc.assert(
      fc.property(fc.constantFrom(...PROFILES), fc.integer({ min: 0, max: 0xffffffff }), fc.string({ minLength: 1, maxLength: 40, unit: fc.constantFrom(...'abcXYZ019-_.~!'.split('')) }), (profile, ssrc, sessionId) => {
        const context = { ...CONTEXT, profile, ssrc, sessionId };
        const keys = randomKeyMaterial(profile);
        const sealed = sealSessionKeys(RELAY_KEY_PAIR.publicKey, context, keys);
        expect(openSessionKeys(opener, context, sealed)).toEqual(keys);
        expect(openSessionKeys(other, context, sealed)).toEqual(keys);
      }),
      { numRuns: 40 },
    );
    other.close();
  });

  it('refuses use after close() (a TypeError), and close() is idempotent', () => {
    const closing = make(RELAY_KEY_PAIR.privateKey);
    closing.close();
    closing.close();
    const sealed = sealSessionKeys(RELAY_KEY_PAIR.publicKey, CONTEXT, randomKeyMaterial());
    expect(() => openSessionKeys(closing, CONTEXT, sealed)).toThrow(TypeError);
  });
});

describe('native seal opener: arguments', () => {
  const opener = native.createSealOpener(RELAY_KEY_PAIR.privateKey);
  const ok = { c: new Uint8Array(10), epk: x25519PublicKey(randomBytes(32)), ct: new Uint8Array(72), out: new Uint8Array(56) };

  it('throws TypeError / RangeError for API misuse, never for bytes from the network', () => {
    expect(() => native.createSealOpener(new Uint8Array(31))).toThrow(RangeError);
    expect(() => native.createSealOpener('key' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => opener.openInto(ok.c, ok.epk, ok.ct, 'out' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => opener.openInto(ok.c, ok.epk.subarray(1), ok.ct, ok.out)).toThrow(RangeError);
    expect(() => opener.openInto(ok.c, ok.epk, ok.ct, new Uint8Array(55))).toThrow(RangeError);
    expect(() => opener.openInto(ok.c, ok.epk, new Uint8Array(15), new Uint8Array(0))).toThrow(RangeError);
    expect(() => opener.openInto(new Uint8Array(0), ok.epk, ok.ct, ok.out)).toThrow(RangeError);
    const shared = new Uint8Array(200);
    expect(() => opener.openInto(ok.c, ok.epk, shared.subarray(0, 72), shared.subarray(60, 116))).toThrow(/overlaps/);
    expect(opener.openInto(ok.c, ok.epk, ok.ct, ok.out)).toBe(1); // random bytes: does not authenticate
  });
});

describe('native AES-CTR (the SRTP key derivation\'s PRF)', () => {
  it('equals node:crypto AES-CTR for 128- and 256-bit keys and any length', () => {
    fc.assert(
      fc.property(fc.constantFrom(16, 32), fc.integer({ min: 0, max: 200 }), (keyLength, length) => {
        const key = new Uint8Array(randomBytes(keyLength));
        const iv = new Uint8Array(randomBytes(16));
        const input = new Uint8Array(randomBytes(length));
        const engine = native.createAesCtr(key);
        const ours = engine.xor(iv, input);
        const theirs = createCipheriv(`aes-${keyLength * 8}-ctr`, key, iv).update(input);
        expect(Buffer.from(ours)).toEqual(theirs);
        engine.wipe();
      }),
      { numRuns: 60 },
    );
  });

  it('refuses bad arguments and use after wipe()', () => {
    expect(() => native.createAesCtr(new Uint8Array(24))).toThrow(RangeError);
    const engine = native.createAesCtr(new Uint8Array(16));
    expect(() => engine.xor(new Uint8Array(15), new Uint8Array(1))).toThrow(RangeError);
    expect(() => engine.xor(new Uint8Array(16), 'x' as unknown as Uint8Array)).toThrow(TypeError);
    engine.wipe();
    engine.wipe();
    expect(() => engine.xor(new Uint8Array(16), new Uint8Array(1))).toThrow(TypeError);
  });
});

describe('secret memory (key epochs\' master keys)', () => {
  it('comes from the addon: zero-filled, its own ArrayBuffer', () => {
    expect(secretMemoryIsNative()).toBe(true);
    const buffer = native.createSecretBuffer(100);
    expect(buffer.byteLength).toBe(100);
    expect(new Uint8Array(buffer).every((b) => b === 0)).toBe(true);
    expect(() => native.createSecretBuffer(0)).toThrow(RangeError);
    expect(() => native.createSecretBuffer(1.5)).toThrow(RangeError);
  });

  it('hands out zeroed slots, zeroes them on release, and refuses a double release', () => {
    const before = secretSlotsInUse();
    const a = allocateSecretBytes(56);
    const b = allocateSecretBytes(88);
    expect(secretSlotsInUse()).toBe(before + 2);
    expect(a.buffer).toBe(b.buffer);
    expect(Math.abs(a.byteOffset - b.byteOffset) % SECRET_SLOT_BYTES).toBe(0);
    a.fill(0xee);
    b.fill(0xdd);
    releaseSecretBytes(a);
    expect(new Uint8Array(a.buffer, a.byteOffset, SECRET_SLOT_BYTES).every((x) => x === 0)).toBe(true);
    expect(b.every((x) => x === 0xdd)).toBe(true);
    expect(() => releaseSecretBytes(a)).toThrow(TypeError);
    const c = allocateSecretBytes(56);
    expect(c.every((x) => x === 0)).toBe(true);
    releaseSecretBytes(b);
    releaseSecretBytes(c);
    expect(secretSlotsInUse()).toBe(before);
    expect(() => allocateSecretBytes(97)).toThrow(RangeError);
    expect(() => releaseSecretBytes(new Uint8Array(56))).toThrow(TypeError);
  });
});
