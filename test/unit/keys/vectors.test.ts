/** Known answers from test/fixtures/key-schedule-vectors.json (made by generate-vectors.ts with node:crypto). */
import { describe, expect, it } from 'vitest';
import { deriveSessionKeys, encodeTranscript, transcriptHash, x25519PublicKey, type SessionTranscript } from '../../../shared/keys/index.js';
import { isSrtpProfileName } from '../../../shared/srtp/profiles.js';
import fixture from '../../fixtures/key-schedule-vectors.json' with { type: 'json' };
import { referenceDerive } from './node-reference.js';
import { fromHex, toHex } from './helpers.js';

describe('key-schedule known-answer vectors', () => {
  it('has the vectors docs/protocol.md quotes', () => {
    expect(fixture.vectors.map((v) => v.id)).toEqual([
      'rfc7748-keys-aes128gcm',
      'rfc7748-keys-aes256gcm',
      'rfc7748-keys-aescm128sha80',
      'utf8-ids-max-ssrc',
    ]);
  });

  it('uses the RFC 7748 §6.1 shared secret for the RFC key pairs', () => {
    expect(fixture.vectors[0]?.expected.sharedSecret).toBe('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
  });

  describe.each(fixture.vectors)('$id', (vector) => {
    const { profile } = vector.transcript;
    if (!isSrtpProfileName(profile)) throw new Error(`fixture: unknown profile ${profile}`);
    const transcript: SessionTranscript = {
      ...vector.transcript,
      profile,
      clientPublicKey: fromHex(vector.transcript.clientPublicKey),
      serverPublicKey: fromHex(vector.transcript.serverPublicKey),
    };
    const e = vector.expected;

    it('public keys belong to the private keys', () => {
      expect(toHex(x25519PublicKey(fromHex(vector.clientPrivateKey)))).toBe(vector.transcript.clientPublicKey);
      expect(toHex(x25519PublicKey(fromHex(vector.serverPrivateKey)))).toBe(vector.transcript.serverPublicKey);
    });

    it('encodes and hashes the transcript', () => {
      expect(toHex(encodeTranscript(transcript))).toBe(e.encodedTranscript);
      expect(toHex(transcriptHash(transcript))).toBe(e.transcriptHash);
    });

    it.each(['client', 'server'] as const)('derives the expected keys as %s', (role) => {
      const privateKey = fromHex(role === 'client' ? vector.clientPrivateKey : vector.serverPrivateKey);
      const keys = deriveSessionKeys({ role, privateKey, transcript });
      expect({
        transcriptHash: toHex(keys.transcriptHash),
        clientToRelay: { masterKey: toHex(keys.clientToRelay.masterKey), masterSalt: toHex(keys.clientToRelay.masterSalt) },
        relayToClient: { masterKey: toHex(keys.relayToClient.masterKey), masterSalt: toHex(keys.relayToClient.masterSalt) },
        clientConfirmation: toHex(keys.clientConfirmation),
        serverConfirmation: toHex(keys.serverConfirmation),
      }).toEqual({
        transcriptHash: e.transcriptHash,
        clientToRelay: e.clientToRelay,
        relayToClient: e.relayToClient,
        clientConfirmation: e.clientConfirmation,
        serverConfirmation: e.serverConfirmation,
      });
    });

    it('is still what the node:crypto reference computes (fixture not edited by hand)', () => {
      const out = referenceDerive('client', fromHex(vector.clientPrivateKey), transcript);
      expect(out.sharedSecret.toString('hex')).toBe(e.sharedSecret);
      expect(out.prk.toString('hex')).toBe(e.prk);
      expect(out.transcript.toString('hex')).toBe(e.encodedTranscript);
      expect(out.clientToRelay.masterKey.toString('hex')).toBe(e.clientToRelay.masterKey);
    });
  });
});
