/**
 * deriveSessionKeysFromSharedSecret: the key schedule after X25519, for callers that compute the
 * shared secret elsewhere (the control plane's WebCrypto). It must derive exactly what
 * deriveSessionKeys derives, check the peer's key itself, refuse an all-zero secret, and wipe
 * the secret it was given in every case. (The known answers run against it with both X25519
 * implementations inside workerd: test/workers/key-exchange-vectors.test.ts.)
 */
import { x25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { deriveSessionKeys, deriveSessionKeysFromSharedSecret, KeyScheduleError } from '../../../shared/keys/index.js';
import { makeHandshake } from './helpers.js';

const allZero = (bytes: Uint8Array) => bytes.every((b) => b === 0);

describe('deriveSessionKeysFromSharedSecret', () => {
  it.each(['client', 'server'] as const)('derives what deriveSessionKeys derives, as %s, and wipes the secret', (role) => {
    const { client, server, transcript } = makeHandshake();
    const own = role === 'client' ? client : server;
    const peer = role === 'client' ? server : client;
    const sharedSecret = x25519.getSharedSecret(own.privateKey, peer.publicKey);
    const fromShared = deriveSessionKeysFromSharedSecret({ role, sharedSecret, transcript });
    const reference = deriveSessionKeys({ role, privateKey: own.privateKey, transcript });
    expect(allZero(sharedSecret)).toBe(true);
    expect(fromShared.clientToRelay).toEqual(reference.clientToRelay);
    expect(fromShared.relayToClient).toEqual(reference.relayToClient);
    expect(fromShared.clientConfirmation).toEqual(reference.clientConfirmation);
    expect(fromShared.serverConfirmation).toEqual(reference.serverConfirmation);
  });

  it('refuses an all-zero secret and a low-order peer key, wiping the secret anyway', () => {
    const { transcript } = makeHandshake();
    expect(() => deriveSessionKeysFromSharedSecret({ role: 'server', sharedSecret: new Uint8Array(32), transcript })).toThrow(KeyScheduleError);
    const secret = new Uint8Array(32).fill(9);
    const lowOrder = { ...transcript, clientPublicKey: new Uint8Array(32) };
    let error: unknown;
    try {
      deriveSessionKeysFromSharedSecret({ role: 'server', sharedSecret: secret, transcript: lowOrder });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KeyScheduleError);
    expect((error as KeyScheduleError).reason).toBe('low-order-public-key');
    expect(allZero(secret)).toBe(true);
  });

  it('refuses misuse with TypeError/RangeError', () => {
    const { transcript } = makeHandshake();
    expect(() => deriveSessionKeysFromSharedSecret({ role: 'server', sharedSecret: new Uint8Array(31), transcript })).toThrow(RangeError);
    expect(() => deriveSessionKeysFromSharedSecret({ role: 'relay' as 'server', sharedSecret: new Uint8Array(32), transcript })).toThrow(TypeError);
  });
});
