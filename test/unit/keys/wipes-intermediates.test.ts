/**
 * The shared secret and the HKDF PRK must be zeroed before deriveSessionKeys() returns — on
 * success and when it throws. Both live only inside the call, so this file wraps the two noble
 * functions that hand them out and keeps the buffers to look at afterwards.
 */
import { describe, expect, it, vi } from 'vitest';

const handedOut = vi.hoisted(() => ({ sharedSecrets: [] as Uint8Array[], prks: [] as Uint8Array[] }));

vi.mock('@noble/curves/ed25519.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('@noble/curves/ed25519.js')>();
  return {
    ...original,
    x25519: {
      ...original.x25519,
      getSharedSecret(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
        const secret = original.x25519.getSharedSecret(privateKey, publicKey);
        handedOut.sharedSecrets.push(secret);
        return secret;
      },
    },
  };
});

vi.mock('@noble/hashes/hkdf.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('@noble/hashes/hkdf.js')>();
  return {
    ...original,
    extract(...args: Parameters<typeof original.extract>): Uint8Array {
      const prk = original.extract(...args);
      handedOut.prks.push(prk);
      return prk;
    },
  };
});

const { deriveSessionKeys } = await import('../../../shared/keys/index.js');
const { makeHandshake } = await import('./helpers.js');

const allZero = (bytes: Uint8Array): boolean => bytes.every((byte) => byte === 0);

describe('intermediate secrets', () => {
  it('are zeroed after a successful derivation', () => {
    handedOut.sharedSecrets.length = 0;
    handedOut.prks.length = 0;
    const h = makeHandshake();
    const keys = deriveSessionKeys({ role: 'client', privateKey: h.client.privateKey, transcript: h.transcript });
    expect(allZero(keys.clientToRelay.masterKey)).toBe(false);
    expect(handedOut.sharedSecrets).toHaveLength(1);
    expect(handedOut.prks).toHaveLength(1);
    expect(handedOut.sharedSecrets[0]).toHaveLength(32);
    expect(allZero(handedOut.sharedSecrets[0]!)).toBe(true);
    expect(allZero(handedOut.prks[0]!)).toBe(true);
  });

  it('are zeroed when the derivation fails after X25519', () => {
    handedOut.sharedSecrets.length = 0;
    handedOut.prks.length = 0;
    const h = makeHandshake();
    // Fail the third HKDF-Expand (its info label is encoded just before), i.e. after X25519 and
    // Extract have run and two outputs already exist. The transcript label "parley-v1" has no
    // trailing space, so encodeTranscript() is unaffected.
    const encode = TextEncoder.prototype.encode;
    let labels = 0;
    const spy = vi.spyOn(TextEncoder.prototype, 'encode').mockImplementation(function (this: InstanceType<typeof TextEncoder>, input?: string) {
      if (input?.startsWith('parley-v1 ') && ++labels === 3) throw new Error('boom');
      return encode.call(this, input);
    });
    try {
      expect(() => deriveSessionKeys({ role: 'server', privateKey: h.server.privateKey, transcript: h.transcript })).toThrow('boom');
    } finally {
      spy.mockRestore();
    }
    expect(labels).toBe(3);
    expect(handedOut.sharedSecrets).toHaveLength(1);
    expect(allZero(handedOut.sharedSecrets[0]!)).toBe(true);
    expect(allZero(handedOut.prks[0]!)).toBe(true);
  });
});
