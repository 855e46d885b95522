import { createDecipheriv, createHash, createPrivateKey, createPublicKey, diffieHellman, hkdfSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateEphemeralKeyPair } from '../../../shared/keys/x25519.js';
import {
  assertUsableRelayPublicKey,
  encodeSealContext,
  openSessionKeys,
  SEAL_HKDF_INFO,
  sealSessionKeys,
  SealError,
  sealedPlaintextLength,
  type SealContext,
  type SealedKeys,
} from '../../../shared/relay-api/sealed-keys.js';
import { SRTP_PROFILES, type SrtpProfileName } from '../../../shared/srtp/profiles.js';
import fixture from '../../fixtures/key-schedule-vectors.json' with { type: 'json' };
import { RELAY_BOOT_ID, RELAY_ID, RELAY_KEY_PAIR, randomKeyMaterial } from './helpers.js';

const CONTEXT: SealContext = { relayId: RELAY_ID, bootId: RELAY_BOOT_ID, sessionId: 'ses-1', ssrc: 0xdeadbeef, profile: 'aes128gcm' };
const PROFILES = Object.keys(SRTP_PROFILES) as SrtpProfileName[];

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof SealError) return error.reason;
    throw error;
  }
  throw new Error('expected a SealError');
}

const flipChar = (text: string, index: number): string => text.slice(0, index) + (text[index] === 'A' ? 'B' : 'A') + text.slice(index + 1);

describe('sealSessionKeys / openSessionKeys', () => {
  it.each(PROFILES)('round-trips key material sized for %s', (profile) => {
    const keys = randomKeyMaterial(profile);
    const context = { ...CONTEXT, profile };
    const sealed = sealSessionKeys(RELAY_KEY_PAIR.publicKey, context, keys);
    expect(Object.keys(sealed)).toEqual(['v', 'epk', 'ct']);
    expect(sealed.v).toBe(2);
    expect(sealed.epk).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(sealed.ct, 'base64url')).toHaveLength(sealedPlaintextLength(profile) + 16);
    // JSON round trip: the form that crosses the wire.
    const opened = openSessionKeys(RELAY_KEY_PAIR.privateKey, context, JSON.parse(JSON.stringify(sealed)));
    expect(opened).toEqual(keys);
  });

  it('uses a fresh ephemeral key for every seal', () => {
    const keys = randomKeyMaterial();
    const a = sealSessionKeys(RELAY_KEY_PAIR.publicKey, CONTEXT, keys);
    const b = sealSessionKeys(RELAY_KEY_PAIR.publicKey, CONTEXT, keys);
    expect(a.epk).not.toBe(b.epk);
    expect(a.ct).not.toBe(b.ct);
  });

  it('matches the documented construction (node:crypto cross-check)', () => {
    const keys = randomKeyMaterial('aes256gcm');
    const context = { ...CONTEXT, profile: 'aes256gcm' as const };
    const sealed = sealSessionKeys(RELAY_KEY_PAIR.publicKey, context, keys);
    const epk = Buffer.from(sealed.epk, 'base64url');
    const ct = Buffer.from(sealed.ct, 'base64url');
    const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), RELAY_KEY_PAIR.privateKey]);
    const spki = Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), epk]);
    const shared = diffieHellman({ privateKey: createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }), publicKey: createPublicKey({ key: spki, format: 'der', type: 'spki' }) });
    const c = encodeSealContext(context, epk, RELAY_KEY_PAIR.publicKey);
    const salt = createHash('sha256').update(c).digest();
    const key = Buffer.from(hkdfSync('sha256', shared, salt, SEAL_HKDF_INFO.key, 32));
    const iv = Buffer.from(hkdfSync('sha256', shared, salt, SEAL_HKDF_INFO.iv, 12));
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(c);
    decipher.setAuthTag(ct.subarray(-16));
    const plaintext = Buffer.concat([decipher.update(ct.subarray(0, -16)), decipher.final()]);
    expect(plaintext).toEqual(
      Buffer.concat([keys.clientToRelay.masterKey, keys.clientToRelay.masterSalt, keys.relayToClient.masterKey, keys.relayToClient.masterSalt]),
    );
    // C: uint16-length-prefixed label, relayId, bootId, sessionId, ssrc, profile, epk, relay public key.
    const label = Buffer.from('parley-v1 relay-seal');
    expect(Buffer.from(c.subarray(0, 2 + label.length))).toEqual(Buffer.concat([Buffer.from([0, label.length]), label]));
    const afterRelayId = 2 + label.length + 2 + RELAY_ID.length;
    expect(Buffer.from(c.subarray(afterRelayId, afterRelayId + 2 + 22)).toString('latin1')).toBe(`\0\x16${RELAY_BOOT_ID}`);
    expect(c.length).toBe(8 * 2 + label.length + RELAY_ID.length + RELAY_BOOT_ID.length + 'ses-1'.length + 4 + 'aes256gcm'.length + 32 + 32);
  });

  it.each([
    ['another relay', { relayId: 'relay-ams-1' }],
    ['another boot of the relay (it restarted)', { bootId: 'EBESExQVFhcYGRobHB0eHw' }],
    ['another session', { sessionId: 'ses-2' }],
    ['another SSRC', { ssrc: 0xdeadbeee }],
  ] as const)('refuses to open for %s (authentication-failed)', (_name, change) => {
    const sealed = sealSessionKeys(RELAY_KEY_PAIR.publicKey, CONTEXT, randomKeyMaterial());
    expect(reasonOf(() => openSessionKeys(RELAY_KEY_PAIR.privateKey, { ...CONTEXT, ...change }, sealed))).toBe('authentication-failed');
  });

  it('refuses to open for another profile', () => {
    // Every profile has its own plaintext length, so this is caught as "malformed" before the
    // AEAD runs; the profile is in the AAD as well.
    const sealed = sealSessionKeys(RELAY_KEY_PAIR.publicKey, CONTEXT, randomKeyMaterial());
    expect(reasonOf(() => openSessionKeys(RELAY_KEY_PAIR.privateKey, { ...CONTEXT, profile: 'aes256gcm' }, sealed))).toBe('malformed');
  });

  it('refuses to open with another relay private key', () => {
    const sealed = sealSessionKeys(RELAY_KEY_PAIR.publicKey, CONTEXT, randomKeyMaterial());
    expect(reasonOf(() => openSessionKeys(generateEphemeralKeyPair().privateKey, CONTEXT, sealed))).toBe('authentication-failed');
  });

  it('refuses a tampered ciphertext, at every position', () => {
    const sealed = sealSessionKeys(RELAY_KEY_PAIR.publicKey, CONTEXT, randomKeyMaterial());
    const ct = Buffer.from(sealed.ct, 'base64url');
    for (let i = 0; i < ct.length; i++) {
      const tampered = Buffer.from(ct);
      tampered[i]! ^= 0x01;
      expect(reasonOf(() => openSessionKeys(RELAY_KEY_PAIR.privateKey, CONTEXT, { ...sealed, ct: tampered.toString('base64url') }))).toBe(
        'authentication-failed',
      );
    }
  });

  it('refuses a swapped ephemeral key', () => {
    const sealed = sealSessionKeys(RELAY_KEY_PAIR.publicKey, CONTEXT, randomKeyMaterial());
    const other = sealSessionKeys(RELAY_KEY_PAIR.publicKey, CONTEXT, randomKeyMaterial());
    expect(reasonOf(() => openSessionKeys(RELAY_KEY_PAIR.privateKey, CONTEXT, { ...sealed, epk: other.epk }))).toBe('authentication-failed');
  });

  it.each(fixture.rejectedPeerPublicKeys)('refuses the ephemeral key $publicKey ($reason)', ({ publicKey, reason }) => {
    const sealed = sealSessionKeys(RELAY_KEY_PAIR.publicKey, CONTEXT, randomKeyMaterial());
    const epk = Buffer.from(publicKey, 'hex').toString('base64url');
    expect(reasonOf(() => openSessionKeys(RELAY_KEY_PAIR.privateKey, CONTEXT, { ...sealed, epk }))).toBe(reason);
  });

  it.each(fixture.rejectedPeerPublicKeys)('refuses to seal to the relay key $publicKey ($reason)', ({ publicKey, reason }) => {
    const relayKey = new Uint8Array(Buffer.from(publicKey, 'hex'));
    expect(reasonOf(() => sealSessionKeys(relayKey, CONTEXT, randomKeyMaterial()))).toBe(reason);
    expect(reasonOf(() => assertUsableRelayPublicKey(relayKey))).toBe(reason);
  });

  const good = (): SealedKeys => sealSessionKeys(RELAY_KEY_PAIR.publicKey, CONTEXT, randomKeyMaterial());
  it.each([
    ['null', () => null],
    ['an array', () => []],
    ['a string', () => 'sealed'],
    ['version 1 (no boot id in C)', () => ({ ...good(), v: 1 })],
    ['version 3', () => ({ ...good(), v: 3 })],
    ['a missing epk', () => ({ v: 2, ct: good().ct })],
    ['an unknown field', () => ({ ...good(), iv: 'AAAA' })],
    ['a short epk', () => ({ ...good(), epk: good().epk.slice(0, 42) })],
    ['padded base64', () => ({ ...good(), epk: `${good().epk}=` })],
    ['standard base64', () => ({ ...good(), epk: `+${good().epk.slice(1)}` })],
    ['a truncated ct', () => ({ ...good(), ct: good().ct.slice(0, -4) })],
    ['an extended ct', () => ({ ...good(), ct: `${good().ct}AAAA` })],
    ['a numeric ct', () => ({ ...good(), ct: 7 })],
  ])('refuses %s as malformed', (_name, make) => {
    expect(reasonOf(() => openSessionKeys(RELAY_KEY_PAIR.privateKey, CONTEXT, make()))).toBe('malformed');
  });

  it('error messages never contain key material', () => {
    const keys = randomKeyMaterial();
    const sealed = sealSessionKeys(RELAY_KEY_PAIR.publicKey, CONTEXT, keys);
    for (const attempt of [
      () => openSessionKeys(RELAY_KEY_PAIR.privateKey, { ...CONTEXT, ssrc: 1 }, sealed),
      () => openSessionKeys(RELAY_KEY_PAIR.privateKey, CONTEXT, { ...sealed, ct: flipChar(sealed.ct, 3) }),
    ]) {
      let error: unknown = null;
      try {
        attempt();
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(SealError);
      const text = `${String(error)} ${JSON.stringify(error)}`;
      for (const secret of [sealed.ct, sealed.epk, Buffer.from(keys.clientToRelay.masterKey).toString('base64url')]) {
        expect(text).not.toContain(secret);
      }
    }
  });

  it('refuses API misuse with TypeError/RangeError', () => {
    const keys = randomKeyMaterial();
    expect(() => sealSessionKeys(new Uint8Array(31), CONTEXT, keys)).toThrow(RangeError);
    expect(() => sealSessionKeys(RELAY_KEY_PAIR.publicKey, { ...CONTEXT, ssrc: 2 ** 32 }, keys)).toThrow(RangeError);
    expect(() => sealSessionKeys(RELAY_KEY_PAIR.publicKey, { ...CONTEXT, sessionId: '' }, keys)).toThrow(RangeError);
    expect(() => sealSessionKeys(RELAY_KEY_PAIR.publicKey, { ...CONTEXT, profile: 'aes256gcm' }, keys)).toThrow(RangeError);
    expect(() => openSessionKeys(new Uint8Array(16), CONTEXT, good())).toThrow(RangeError);
  });
});

describe('the seal context binds the relay\'s boot id', () => {
  it('refuses a context without a well-formed boot id (API misuse: RangeError / TypeError)', () => {
    const keys = randomKeyMaterial();
    for (const bootId of ['', 'AAECAwQFBgcICQoLDA0OD', 'AAECAwQFBgcICQoLDA0ODx', 'AAECAwQFBgcICQoLDA0OD=', 'AAECAwQFBgcICQoLDA0ODw==']) {
      expect(() => sealSessionKeys(RELAY_KEY_PAIR.publicKey, { ...CONTEXT, bootId }, keys)).toThrow(RangeError);
      expect(() => openSessionKeys(RELAY_KEY_PAIR.privateKey, { ...CONTEXT, bootId }, {})).toThrow(RangeError);
    }
    expect(() => sealSessionKeys(RELAY_KEY_PAIR.publicKey, { ...CONTEXT, bootId: undefined as unknown as string }, keys)).toThrow(TypeError);
  });

  it('keys sealed before a relay restart do not open after it (a new boot id)', () => {
    const keys = randomKeyMaterial();
    const sealed = sealSessionKeys(RELAY_KEY_PAIR.publicKey, CONTEXT, keys);
    expect(openSessionKeys(RELAY_KEY_PAIR.privateKey, CONTEXT, sealed)).toEqual(keys);
    const nextBoot = Buffer.from(randomBytes(16)).toString('base64url');
    expect(reasonOf(() => openSessionKeys(RELAY_KEY_PAIR.privateKey, { ...CONTEXT, bootId: nextBoot }, sealed))).toBe('authentication-failed');
  });
});
