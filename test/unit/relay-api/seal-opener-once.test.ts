/**
 * Installing a session must not recompute the relay's own public key for every sealed key set
 * (it is half of an install's CPU in pure JavaScript): the opener computes it once, and the
 * relay's native opener runs no JavaScript X25519 at all. The noble functions are wrapped to
 * count calls; nothing is timed.
 */
import { describe, expect, it, vi } from 'vitest';

const calls = vi.hoisted(() => ({ getPublicKey: 0, getSharedSecret: 0 }));

vi.mock('@noble/curves/ed25519.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('@noble/curves/ed25519.js')>();
  return {
    ...original,
    x25519: {
      ...original.x25519,
      getPublicKey(privateKey: Uint8Array): Uint8Array {
        calls.getPublicKey++;
        return original.x25519.getPublicKey(privateKey);
      },
      getSharedSecret(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
        calls.getSharedSecret++;
        return original.x25519.getSharedSecret(privateKey, publicKey);
      },
    },
  };
});

const { createSealOpener, openSessionKeys, sealSessionKeys } = await import('../../../shared/relay-api/sealed-keys.js');
const { createNativeSealOpener } = await import('../../../relay/src/io/native-keys.js');
const { createInternalApi } = await import('../../../relay/src/api/internal-api.js');
const { NonceCache } = await import('../../../relay/src/api/nonce-cache.js');
const { API_KEYS, installBody, localSessions, makeRegistry, RELAY_BOOT_ID, RELAY_ID, RELAY_KEY_PAIR, randomKeyMaterial, signedInit } = await import('./helpers.js');

const CONTEXT = { relayId: RELAY_ID, bootId: RELAY_BOOT_ID, sessionId: 'ses-1', ssrc: 42, profile: 'aes128gcm' as const };

describe('the relay\'s public key is computed once, not per sealed key set', () => {
  it('the pure opener: once at creation, then one X25519 per seal', () => {
    const opener = createSealOpener(RELAY_KEY_PAIR.privateKey);
    const seals = Array.from({ length: 5 }, () => sealSessionKeys(RELAY_KEY_PAIR.publicKey, CONTEXT, randomKeyMaterial()));
    calls.getPublicKey = 0;
    calls.getSharedSecret = 0;
    for (const sealed of seals) openSessionKeys(opener, CONTEXT, sealed);
    expect(calls).toEqual({ getPublicKey: 0, getSharedSecret: 5 });
  });

  it('the relay\'s native opener: no JavaScript X25519 at all, through the internal API', async () => {
    const registry = makeRegistry();
    const app = createInternalApi({
      sessions: localSessions(registry),
      relayId: RELAY_ID,
      bootId: RELAY_BOOT_ID,
      apiKeys: API_KEYS,
      sealOpener: createNativeSealOpener(RELAY_KEY_PAIR.privateKey)!,
      now: () => 1_760_000_000_000,
      nonceCache: new NonceCache(),
    });
    const bodies = Array.from({ length: 5 }, (_, i) => installBody(`ses-${i}`, 100 + i, 1_760_000_000_000).body);
    calls.getPublicKey = 0;
    calls.getSharedSecret = 0;
    for (const body of bodies) {
      const url = 'http://relay.test/v1/sessions';
      expect((await app.request(url, signedInit('POST', url, body, { now: 1_760_000_000_000 }))).status).toBe(201);
    }
    expect(registry.size).toBe(5);
    expect(calls).toEqual({ getPublicKey: 0, getSharedSecret: 0 });
  });
});
