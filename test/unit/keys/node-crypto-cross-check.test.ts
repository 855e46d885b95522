/**
 * shared/keys (noble X25519 + noble HKDF) against node-reference.ts (OpenSSL X25519 + hkdfSync,
 * and its own transcript encoder written from the spec) on random inputs.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deriveSessionKeys, generateEphemeralKeyPair, MAX_ID_BYTES, type SessionKeys } from '../../../shared/keys/index.js';
import { referenceDerive, referencePublicKey, type ReferenceOutputs } from './node-reference.js';
import { toHex } from './helpers.js';

function ours(keys: SessionKeys): Record<string, string> {
  return {
    transcriptHash: toHex(keys.transcriptHash),
    c2rKey: toHex(keys.clientToRelay.masterKey),
    c2rSalt: toHex(keys.clientToRelay.masterSalt),
    r2cKey: toHex(keys.relayToClient.masterKey),
    r2cSalt: toHex(keys.relayToClient.masterSalt),
    clientConfirmation: toHex(keys.clientConfirmation),
    serverConfirmation: toHex(keys.serverConfirmation),
  };
}

function theirs(out: ReferenceOutputs): Record<string, string> {
  return {
    transcriptHash: out.transcriptHash.toString('hex'),
    c2rKey: out.clientToRelay.masterKey.toString('hex'),
    c2rSalt: out.clientToRelay.masterSalt.toString('hex'),
    r2cKey: out.relayToClient.masterKey.toString('hex'),
    r2cSalt: out.relayToClient.masterSalt.toString('hex'),
    clientConfirmation: out.clientConfirmation.toString('hex'),
    serverConfirmation: out.serverConfirmation.toString('hex'),
  };
}

describe('cross-check against node:crypto', () => {
  it('derives the same public keys as OpenSSL', () => {
    for (let i = 0; i < 20; i++) {
      const pair = generateEphemeralKeyPair(() => Uint8Array.from(randomBytes(32)));
      expect(toHex(pair.publicKey)).toBe(referencePublicKey(pair.privateKey).toString('hex'));
    }
  });

  it('derives the same keys from the same inputs, from either side', () => {
    const id = fc.string({ unit: 'binary', minLength: 1, maxLength: 24 }).filter((s) => Buffer.byteLength(s) <= MAX_ID_BYTES && Buffer.from(s, 'utf8').toString('utf8') === s);
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.record({
          protocolVersion: fc.integer({ min: 1, max: 0xffff }),
          sessionId: id,
          userId: id,
          channelId: id,
          relayId: id,
          ssrc: fc.integer({ min: 0, max: 0xffffffff }),
          profile: fc.constantFrom('aes128gcm' as const, 'aes256gcm' as const, 'aescm128sha80' as const),
        }),
        fc.constantFrom('client' as const, 'server' as const),
        (clientSeed, serverSeed, fields, role) => {
          const client = generateEphemeralKeyPair(() => Uint8Array.from(clientSeed));
          const server = generateEphemeralKeyPair(() => Uint8Array.from(serverSeed));
          const transcript = { ...fields, clientPublicKey: client.publicKey, serverPublicKey: server.publicKey };
          const privateKey = role === 'client' ? client.privateKey : server.privateKey;
          const expected = theirs(referenceDerive(role, privateKey, transcript));
          expect(ours(deriveSessionKeys({ role, privateKey, transcript }))).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  });
});
