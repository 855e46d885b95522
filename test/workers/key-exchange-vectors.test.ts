/**
 * The key schedule's known answers (docs/protocol.md §3.7) inside workerd, for both X25519
 * implementations the room can use: the runtime's WebCrypto (what the room runs) and
 * shared/keys' noble reference. Each derives the same keys from the RFC 7748 key pairs, and
 * both refuse every peer key §3.3 refuses, with the same typed reason.
 */
import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '../../shared/bytes.js';
import { deriveSessionKeysFromSharedSecret, isKeyScheduleError, type SessionTranscript } from '../../shared/keys/index.js';
import { isSrtpProfileName } from '../../shared/srtp/profiles.js';
import { nobleX25519, webCryptoX25519 } from '../../control/src/room/x25519-agreement.js';
import fixture from '../fixtures/key-schedule-vectors.json';

describe.each([webCryptoX25519, nobleX25519])('key schedule vectors with $name X25519', (agreement) => {
  describe.each(fixture.vectors)('$id', (vector) => {
    const { profile } = vector.transcript;
    if (!isSrtpProfileName(profile)) throw new Error(`fixture: unknown profile ${profile}`);
    const transcript: SessionTranscript = {
      ...vector.transcript,
      profile,
      clientPublicKey: hexToBytes(vector.transcript.clientPublicKey),
      serverPublicKey: hexToBytes(vector.transcript.serverPublicKey),
    };

    it.each(['client', 'server'] as const)('derives the expected keys as %s', async (role) => {
      const own = await agreement.fromPrivateKey(hexToBytes(role === 'client' ? vector.clientPrivateKey : vector.serverPrivateKey));
      expect(bytesToHex(own.publicKey)).toBe(role === 'client' ? vector.transcript.clientPublicKey : vector.transcript.serverPublicKey);
      const peerField = role === 'client' ? 'serverPublicKey' : 'clientPublicKey';
      const sharedSecret = await own.sharedSecret(transcript[peerField], peerField);
      own.destroy();
      expect(bytesToHex(sharedSecret)).toBe(vector.expected.sharedSecret);
      const keys = deriveSessionKeysFromSharedSecret({ role, sharedSecret, transcript });
      expect(sharedSecret.every((b) => b === 0)).toBe(true);
      expect({
        transcriptHash: bytesToHex(keys.transcriptHash),
        c2rKey: bytesToHex(keys.clientToRelay.masterKey),
        c2rSalt: bytesToHex(keys.clientToRelay.masterSalt),
        r2cKey: bytesToHex(keys.relayToClient.masterKey),
        r2cSalt: bytesToHex(keys.relayToClient.masterSalt),
        clientConfirmation: bytesToHex(keys.clientConfirmation),
        serverConfirmation: bytesToHex(keys.serverConfirmation),
      }).toEqual({
        transcriptHash: vector.expected.transcriptHash,
        c2rKey: vector.expected.clientToRelay.masterKey,
        c2rSalt: vector.expected.clientToRelay.masterSalt,
        r2cKey: vector.expected.relayToClient.masterKey,
        r2cSalt: vector.expected.relayToClient.masterSalt,
        clientConfirmation: vector.expected.clientConfirmation,
        serverConfirmation: vector.expected.serverConfirmation,
      });
      keys.wipe();
    });
  });

  it.each(fixture.rejectedPeerPublicKeys)('refuses the peer key $note', async ({ publicKey, reason }) => {
    const own = await agreement.generate();
    const error = await own.sharedSecret(hexToBytes(publicKey), 'clientPublicKey').then(
      () => null,
      (e: unknown) => e,
    );
    own.destroy();
    expect(isKeyScheduleError(error) ? { reason: error.reason, field: error.field } : error).toEqual({ reason, field: 'clientPublicKey' });
  });

  it('two fresh key pairs agree on one secret', async () => {
    const a = await agreement.generate();
    const b = await agreement.generate();
    const ab = await a.sharedSecret(b.publicKey, 'serverPublicKey');
    const ba = await b.sharedSecret(a.publicKey, 'clientPublicKey');
    expect(bytesToHex(ab)).toBe(bytesToHex(ba));
    a.destroy();
    await expect(a.sharedSecret(b.publicKey, 'serverPublicKey')).rejects.toThrow(TypeError);
  });
});
