/**
 * Every applicable known-answer vector in test/fixtures/srtp-vectors.json, through both
 * backends. (`libsrtp-srtp_validate_aes_256-rtp` is for AES_256_CM_HMAC_SHA1_80, a profile
 * Parley does not offer, so it does not apply.)
 */
import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '../../../shared/bytes.js';
import { AeadTransform, gcmRtcpIv, gcmRtpIv } from '../../../shared/srtp/aead-transform.js';
import { SrtpContext } from '../../../shared/srtp/context.js';
import { isRtcpPacket } from '../../../shared/srtp/demux.js';
import { deriveSessionKey, deriveSrtpSessionKeys, KDF_LABEL, type SrtpSessionKeys } from '../../../shared/srtp/kdf.js';
import { isSrtpProfileName, srtpProfile, type SrtpProfileName } from '../../../shared/srtp/profiles.js';
import { readUint32 } from '../../../shared/srtp/rtp-header.js';
import { BACKENDS } from '../../support/backends.js';
import { field, SRTP_VECTORS, vectorsOfKind, type SrtpVector } from '../../support/srtp-vectors.js';

function sessionKeys(v: SrtpVector): SrtpSessionKeys {
  // RFC 7714's vectors use one key and salt for SRTP and SRTCP alike.
  const keys = { encryptionKey: hexToBytes(field(v, 'session_key')), salt: hexToBytes(field(v, 'session_salt')), authKey: new Uint8Array(0) };
  return { srtp: keys, srtcp: { ...keys } };
}

function profileOf(v: SrtpVector): SrtpProfileName {
  if (!isSrtpProfileName(v.profile)) throw new Error(`unexpected profile ${v.profile}`);
  return v.profile;
}

it('uses every vector in the fixture except the one for a profile Parley does not offer', () => {
  const notApplicable = SRTP_VECTORS.filter((v) => !isSrtpProfileName(v.profile)).map((v) => v.id);
  expect(notApplicable).toEqual(['libsrtp-srtp_validate_aes_256-rtp']);
  expect(SRTP_VECTORS.length).toBe(26);
});

describe.each(BACKENDS)('known-answer vectors on %s', (_name, backend) => {
  describe('RFC 7714 §16 SRTP with session keys', () => {
    it.each(vectorsOfKind('aead_rtp').map((v) => [v.id, v] as const))('%s encrypts to the published packet', (_id, v) => {
      const plaintext = hexToBytes(field(v, 'plaintext'));
      const salt = hexToBytes(field(v, 'session_salt'));
      const seq = (plaintext[2]! << 8) | plaintext[3]!;
      expect(v.roc).toBe(0);
      expect(bytesToHex(gcmRtpIv(salt, readUint32(plaintext, 8), seq))).toBe(field(v, 'expected_iv'));
      const ctx = SrtpContext.fromSessionKeys({ profile: profileOf(v), backend, sessionKeys: sessionKeys(v) });
      expect(bytesToHex(ctx.protectRtp(plaintext))).toBe(field(v, 'expected'));
    });

    it.each(vectorsOfKind('aead_rtp_decrypt').map((v) => [v.id, v] as const))('%s decrypts to the published packet', (_id, v) => {
      const ctx = SrtpContext.fromSessionKeys({ profile: profileOf(v), backend, sessionKeys: sessionKeys(v) });
      expect(bytesToHex(ctx.unprotectRtp(hexToBytes(field(v, 'input'))))).toBe(field(v, 'expected'));
    });

    // §16.1.3 / §16.2.3: the whole packet as AAD and an empty plaintext gives the published tag.
    it.each(vectorsOfKind('aead_rtp_authonly').map((v) => [v.id, v] as const))('%s: GCM over the packet as AAD gives the published tag', (_id, v) => {
      const plaintext = hexToBytes(field(v, 'plaintext'));
      const iv = gcmRtpIv(hexToBytes(field(v, 'session_salt')), readUint32(plaintext, 8), (plaintext[2]! << 8) | plaintext[3]!);
      const engine = backend.createAesGcm(hexToBytes(field(v, 'session_key')), 16);
      const tag = engine.seal(iv, plaintext, new Uint8Array(0));
      expect(bytesToHex(plaintext) + bytesToHex(tag)).toBe(field(v, 'expected'));
      expect(engine.open(iv, plaintext, tag)).not.toBeNull();
    });
  });

  describe('RFC 7714 §17 SRTCP with session keys', () => {
    it.each(vectorsOfKind('aead_rtcp').map((v) => [v.id, v] as const))('%s encrypts to the published packet', (_id, v) => {
      const plaintext = hexToBytes(field(v, 'plaintext'));
      const index = v.srtcp_index as number;
      const keys = sessionKeys(v);
      expect(bytesToHex(gcmRtcpIv(keys.srtcp.salt, readUint32(plaintext, 4), index))).toBe(field(v, 'expected_iv'));
      const transform = new AeadTransform(backend, keys.srtp, keys.srtcp);
      expect(bytesToHex(transform.protectRtcp(plaintext, readUint32(plaintext, 4), index, true))).toBe(field(v, 'expected'));
    });

    it.each(vectorsOfKind('aead_rtcp_decrypt').map((v) => [v.id, v] as const))('%s decrypts to the published packet', (_id, v) => {
      const ctx = SrtpContext.fromSessionKeys({ profile: profileOf(v), backend, sessionKeys: sessionKeys(v) });
      expect(bytesToHex(ctx.unprotectRtcp(hexToBytes(field(v, 'input'))))).toBe(field(v, 'expected'));
    });

    it.each(vectorsOfKind('aead_rtcp_authonly').map((v) => [v.id, v] as const))('%s (E=0) authenticates as published, and is refused by default', (_id, v) => {
      const plaintext = hexToBytes(field(v, 'plaintext'));
      const keys = sessionKeys(v);
      const transform = new AeadTransform(backend, keys.srtp, keys.srtcp);
      const expected = field(v, 'expected');
      expect(bytesToHex(transform.protectRtcp(plaintext, readUint32(plaintext, 4), v.srtcp_index as number, false))).toBe(expected);
      const lenient = SrtpContext.fromSessionKeys({ profile: profileOf(v), backend, sessionKeys: keys, requireEncryptedSrtcp: false });
      expect(bytesToHex(lenient.unprotectRtcp(hexToBytes(expected)))).toBe(field(v, 'plaintext'));
      const strict = SrtpContext.fromSessionKeys({ profile: profileOf(v), backend, sessionKeys: keys });
      expect(() => strict.unprotectRtcp(hexToBytes(expected))).toThrow(expect.objectContaining({ reason: 'unencrypted-srtcp' }));
    });
  });

  describe('libsrtp inject vectors (session keys forced into full SRTP processing)', () => {
    it.each(vectorsOfKind('inject_protect').map((v) => [v.id, v] as const))('%s', (_id, v) => {
      const ctx = SrtpContext.fromSessionKeys({ profile: profileOf(v), backend, sessionKeys: sessionKeys(v) });
      expect(bytesToHex(ctx.protectRtp(hexToBytes(field(v, 'plaintext'))))).toBe(field(v, 'expected'));
    });

    it.each(vectorsOfKind('inject_unprotect').map((v) => [v.id, v] as const))('%s', (_id, v) => {
      const ctx = SrtpContext.fromSessionKeys({ profile: profileOf(v), backend, sessionKeys: sessionKeys(v) });
      const input = hexToBytes(field(v, 'input'));
      const out = isRtcpPacket(input) ? ctx.unprotectRtcp(input) : ctx.unprotectRtp(input);
      expect(bytesToHex(out)).toBe(field(v, 'expected'));
    });
  });

  describe('RFC 3711 Appendix B', () => {
    it.each(vectorsOfKind('icm_keystream').map((v) => [v.id, v] as const))('%s: AES-CM keystream blocks (B.2)', (_id, v) => {
      const salt = hexToBytes(field(v, 'session_salt'));
      const engine = backend.createAesCtr(hexToBytes(field(v, 'session_key')));
      for (const [counter, block] of Object.entries(v.blocks as Record<string, string>)) {
        const iv = new Uint8Array(16);
        iv.set(salt, 0); // IV = salt · 2^16 + block counter
        iv[14] = parseInt(counter.slice(0, 2), 16);
        iv[15] = parseInt(counter.slice(2), 16);
        expect(bytesToHex(engine.xor(iv, new Uint8Array(16))), `block ${counter}`).toBe(block);
      }
    });

    it.each(vectorsOfKind('kdf_aescm').map((v) => [v.id, v] as const))('%s: session keys from the master key (B.3)', (_id, v) => {
      const masterKey = hexToBytes(field(v, 'master_key'));
      const masterSalt = hexToBytes(field(v, 'master_salt'));
      const keys = deriveSrtpSessionKeys(backend, srtpProfile('aescm128sha80'), masterKey, masterSalt);
      expect(bytesToHex(keys.srtp.encryptionKey)).toBe(field(v, 'cipher_key'));
      expect(bytesToHex(keys.srtp.salt)).toBe(field(v, 'cipher_salt'));
      const authKey = field(v, 'auth_key');
      expect(bytesToHex(keys.srtp.authKey)).toBe(authKey.slice(0, 40));
      // B.3 prints 94 bytes of the authentication key stream.
      expect(bytesToHex(deriveSessionKey(backend, masterKey, masterSalt, KDF_LABEL.srtpAuthentication, authKey.length / 2))).toBe(authKey);
    });
  });

  describe('libsrtp known-answer packets from master keys', () => {
    const applicable = vectorsOfKind('kdf_end_to_end', 'master_protect').filter((v) => isSrtpProfileName(v.profile));
    it.each(applicable.map((v) => [v.id, v] as const))('%s protects to the expected packet and back', (_id, v) => {
      const options = { profile: profileOf(v), masterKey: hexToBytes(field(v, 'master_key')), masterSalt: hexToBytes(field(v, 'master_salt')), backend };
      const plaintext = hexToBytes(field(v, 'plaintext'));
      const rtcp = isRtcpPacket(plaintext);
      const sender = new SrtpContext(options);
      const sealed = rtcp ? sender.protectRtcp(plaintext) : sender.protectRtp(plaintext);
      expect(bytesToHex(sealed)).toBe(field(v, 'expected'));
      const receiver = new SrtpContext(options);
      expect(bytesToHex(rtcp ? receiver.unprotectRtcp(sealed) : receiver.unprotectRtp(sealed))).toBe(field(v, 'plaintext'));
    });
  });
});
