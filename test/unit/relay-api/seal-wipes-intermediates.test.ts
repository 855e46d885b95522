/**
 * Sealing and opening must zero every intermediate secret before returning — on success and on
 * failure: the ephemeral private key, the X25519 shared secret, the PRK, the AES key and IV.
 * This file wraps the noble functions that hand them out and keeps the buffers to inspect.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';

const handedOut = vi.hoisted(() => ({ privateKeys: [] as Uint8Array[], shared: [] as Uint8Array[], prks: [] as Uint8Array[], expanded: [] as Uint8Array[] }));

vi.mock('@noble/curves/ed25519.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('@noble/curves/ed25519.js')>();
  return {
    ...original,
    x25519: {
      ...original.x25519,
      getSharedSecret(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
        handedOut.privateKeys.push(privateKey);
        const secret = original.x25519.getSharedSecret(privateKey, publicKey);
        handedOut.shared.push(secret);
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
    expand(...args: Parameters<typeof original.expand>): Uint8Array {
      const out = original.expand(...args);
      handedOut.expanded.push(out);
      return out;
    },
  };
});

const { openSessionKeys, sealSessionKeys } = await import('../../../shared/relay-api/sealed-keys.js');
const { RELAY_BOOT_ID, RELAY_ID, RELAY_KEY_PAIR, randomKeyMaterial } = await import('./helpers.js');

const CONTEXT = { relayId: RELAY_ID, bootId: RELAY_BOOT_ID, sessionId: 'ses-1', ssrc: 42, profile: 'aes128gcm' as const };
const allZero = (bytes: Uint8Array): boolean => bytes.every((b) => b === 0);

function expectAllWiped(): void {
  expect(handedOut.shared).toHaveLength(1);
  expect(handedOut.prks).toHaveLength(1);
  expect(handedOut.expanded).toHaveLength(2); // AES key and IV
  for (const secret of [...handedOut.shared, ...handedOut.prks, ...handedOut.expanded]) expect(allZero(secret)).toBe(true);
}

describe('sealed keys: intermediate secrets', () => {
  const sealed = sealSessionKeys(RELAY_KEY_PAIR.publicKey, CONTEXT, randomKeyMaterial());
  beforeEach(() => {
    for (const list of Object.values(handedOut)) list.length = 0;
  });

  it('seal zeroes the ephemeral private key, shared secret, PRK, key and IV', () => {
    sealSessionKeys(RELAY_KEY_PAIR.publicKey, CONTEXT, randomKeyMaterial());
    expectAllWiped();
    expect(allZero(handedOut.privateKeys[0]!)).toBe(true);
  });

  it('open zeroes them after success, and leaves the relay private key alone', () => {
    const keys = openSessionKeys(RELAY_KEY_PAIR.privateKey, CONTEXT, sealed);
    expect(allZero(keys.clientToRelay.masterKey)).toBe(false);
    expectAllWiped();
    expect(allZero(RELAY_KEY_PAIR.privateKey)).toBe(false);
  });

  it('open zeroes them when authentication fails', () => {
    expect(() => openSessionKeys(RELAY_KEY_PAIR.privateKey, { ...CONTEXT, ssrc: 43 }, sealed)).toThrow(/authenticate/);
    expectAllWiped();
  });
});
