/**
 * The control plane will drive relays from workerd: signing requests and sealing session keys
 * must work in the Workers runtime, not only in Node. Round trips here, inside workerd.
 */
import { describe, expect, it } from 'vitest';
import { generateEphemeralKeyPair } from '../../shared/keys/index.js';
import { signRequest, verifyRequest, type NonceStore } from '../../shared/relay-api/request-signing.js';
import { openSessionKeys, sealSessionKeys } from '../../shared/relay-api/sealed-keys.js';

function randomBytes(length: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(length));
}

class MemoryNonces implements NonceStore {
  readonly #seen = new Set<string>();
  checkAndRecord(nonce: string): 'fresh' | 'replayed' {
    if (this.#seen.has(nonce)) return 'replayed';
    this.#seen.add(nonce);
    return 'fresh';
  }
}

describe('shared/relay-api in workerd', () => {
  it('seals session keys to a relay and opens them only for the same context', () => {
    const relay = generateEphemeralKeyPair();
    const keys = {
      clientToRelay: { masterKey: randomBytes(16), masterSalt: randomBytes(12) },
      relayToClient: { masterKey: randomBytes(16), masterSalt: randomBytes(12) },
    };
    const context = { relayId: 'relay-ams-1', bootId: 'AAECAwQFBgcICQoLDA0ODw', sessionId: 'sess-1', ssrc: 0x1234, profile: 'aes128gcm' as const };
    const sealed = sealSessionKeys(relay.publicKey, context, keys);
    expect(openSessionKeys(relay.privateKey, context, sealed)).toEqual(keys);
    expect(() => openSessionKeys(relay.privateKey, { ...context, ssrc: 0x1235 }, sealed)).toThrow();
  });

  it('signs a request that the relay verifies once, for its own id only', () => {
    const key = { keyId: 'k1', secret: randomBytes(32) };
    const body = new TextEncoder().encode('{"muted":true}');
    const url = 'https://relay.example.net/v1/sessions/sess-1';
    const now = Date.now();
    const authorization = signRequest({ method: 'PATCH', url, body, audience: 'relay-ams-1', key, now });
    const keys = new Map([[key.keyId, key.secret]]);
    const nonces = new MemoryNonces();
    const request = { method: 'PATCH', url, authorization, body };
    expect(verifyRequest(request, { audience: 'relay-ams-1', keys, now, nonces }).ok).toBe(true);
    expect(verifyRequest(request, { audience: 'relay-ams-1', keys, now, nonces })).toMatchObject({ ok: false });
    expect(verifyRequest(request, { audience: 'relay-fra-1', keys, now, nonces: new MemoryNonces() })).toMatchObject({ ok: false });
  });
});
