/**
 * The seal of docs/protocol.md §8.4 with the room's ephemeral key from workerd's WebCrypto X25519
 * (what control/src/room/relay-sessions.ts passes to RelayApiClient), against the pure seal:
 * the same bytes for the same ephemeral private key, and the relay's pure opener opens both.
 */
import { describe, expect, it } from 'vitest';
import { generateEphemeralKeyPair } from '../../shared/keys/x25519.js';
import { openSessionKeys, sealSessionKeys, sealSessionKeysWith, type SealContext, type SessionKeyMaterial } from '../../shared/relay-api/sealed-keys.js';
import { nobleX25519, webCryptoX25519 } from '../../control/src/room/x25519-agreement.js';

const RELAY = generateEphemeralKeyPair();
const CONTEXT: SealContext = { relayId: 'relay-fra-1', bootId: 'AAECAwQFBgcICQoLDA0ODw', sessionId: 'vs_seal1', ssrc: 0xdeadbeef, profile: 'aes128gcm' };
const FIXED_EPHEMERAL = new Uint8Array(32).map((_, i) => (i * 37 + 11) & 0xff);

function randomKeys(): SessionKeyMaterial {
  const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
  return { clientToRelay: { masterKey: random(16), masterSalt: random(12) }, relayToClient: { masterKey: random(16), masterSalt: random(12) } };
}

describe('sealSessionKeysWith (an injected ephemeral key)', () => {
  it.each([webCryptoX25519, nobleX25519])('seals byte for byte as sealSessionKeys does for the same ephemeral key ($name), and the relay opens it', async (agreement) => {
    const keys = randomKeys();
    const expected = sealSessionKeys(RELAY.publicKey, CONTEXT, keys, { randomBytes: (n) => FIXED_EPHEMERAL.slice(0, n) });
    const sealed = await sealSessionKeysWith(await agreement.fromPrivateKey(FIXED_EPHEMERAL), RELAY.publicKey, CONTEXT, keys);
    expect(sealed).toEqual(expected);
    expect(openSessionKeys(RELAY.privateKey, CONTEXT, sealed)).toEqual(keys);
    const fresh = await sealSessionKeysWith(await agreement.generate(), RELAY.publicKey, CONTEXT, keys);
    expect(fresh.epk).not.toBe(expected.epk);
    expect(openSessionKeys(RELAY.privateKey, CONTEXT, fresh)).toEqual(keys);
  });

  it('refuses a low-order relay key as SealError, and destroys the ephemeral key whatever happens', async () => {
    const destroyed: string[] = [];
    const tracked = async (name: string) => {
      const inner = await webCryptoX25519.generate();
      return { publicKey: inner.publicKey, sharedSecret: inner.sharedSecret.bind(inner), destroy: () => (destroyed.push(name), inner.destroy()) };
    };
    const lowOrder = new Uint8Array(32); // the point 0, of order 1 (RFC 7748 §7)
    await expect(sealSessionKeysWith(await tracked('low-order'), lowOrder, CONTEXT, randomKeys())).rejects.toMatchObject({ name: 'SealError', reason: 'low-order-public-key' });
    await expect(sealSessionKeysWith(await tracked('bad-context'), RELAY.publicKey, { ...CONTEXT, ssrc: -1 }, randomKeys())).rejects.toThrow(RangeError);
    await sealSessionKeysWith(await tracked('ok'), RELAY.publicKey, CONTEXT, randomKeys());
    expect(destroyed).toEqual(['low-order', 'bad-context', 'ok']);
  });

  it('refuses an all-zero shared secret from the injected key', async () => {
    const zero = { publicKey: new Uint8Array(32).fill(9), sharedSecret: async () => new Uint8Array(32), destroy: () => {} };
    await expect(sealSessionKeysWith(zero, RELAY.publicKey, CONTEXT, randomKeys())).rejects.toMatchObject({ name: 'SealError', reason: 'zero-shared-secret' });
  });
});
