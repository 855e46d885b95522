/**
 * AeadTransform's key storage: salts and keys in one array, engines keyed on first use, and
 * every copy erased by wipe() — whether or not the engines were ever keyed.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AeadTransform } from '../../../shared/srtp/aead-transform.js';
import type { AesGcmEngine, SrtpCryptoBackend } from '../../../shared/srtp/crypto-backend.js';
import type { SessionKeys } from '../../../shared/srtp/kdf.js';
import { BACKENDS } from '../../support/backends.js';
import { rtcpReceiverReport, rtpPacket } from '../../support/rtp-packets.js';

function sessionKeys(keyLength: number): SessionKeys {
  return { encryptionKey: new Uint8Array(randomBytes(keyLength)), salt: new Uint8Array(randomBytes(12)), authKey: new Uint8Array(0) };
}

/** A backend that records the keys its engines were made with and whether each was wiped. */
function recordingBackend(inner: SrtpCryptoBackend) {
  const engines: { key: Uint8Array; wiped: boolean }[] = [];
  const backend: SrtpCryptoBackend = {
    ...inner,
    name: `recording ${inner.name}`,
    createAesGcm(key, tagLength): AesGcmEngine {
      const record = { key: Uint8Array.from(key), wiped: false };
      engines.push(record);
      const engine = inner.createAesGcm(key, tagLength);
      return {
        seal: (iv, aad, pt) => engine.seal(iv, aad, pt),
        open: (iv, aad, sealed) => engine.open(iv, aad, sealed),
        wipe() {
          record.wiped = true;
          engine.wipe();
        },
      };
    },
  };
  return { backend, engines };
}

describe.each(BACKENDS)('AeadTransform on %s', (_name, inner) => {
  describe.each([16, 32])('%i-byte keys', (keyLength) => {
    it('keys no engine until a packet needs one, each with its own key', () => {
      const { backend, engines } = recordingBackend(inner);
      const srtp = sessionKeys(keyLength);
      const srtcp = sessionKeys(keyLength);
      const transform = new AeadTransform(backend, srtp, srtcp);
      expect(engines).toHaveLength(0);
      const packet = rtpPacket();
      transform.protectRtpInto(packet, 12, 0xcafebabe, 1, new Uint8Array(packet.length + 16), 0);
      expect(engines.map((e) => e.key)).toEqual([srtp.encryptionKey]);
      transform.protectRtcp(rtcpReceiverReport(), 0xcafebabe, 1, true);
      expect(engines.map((e) => e.key)).toEqual([srtp.encryptionKey, srtcp.encryptionKey]);
      transform.protectRtcp(rtcpReceiverReport(), 0xcafebabe, 2, true);
      expect(engines).toHaveLength(2); // keyed once
    });

    it('wipe() erases salts and keys of an idle transform; it then refuses to key an engine', () => {
      const { backend, engines } = recordingBackend(inner);
      const transform = new AeadTransform(backend, sessionKeys(keyLength), sessionKeys(keyLength));
      expect(transform.holdsKeyMaterial).toBe(true);
      transform.wipe();
      transform.wipe();
      expect(transform.holdsKeyMaterial).toBe(false);
      const packet = rtpPacket();
      expect(() => transform.unprotectRtpInto(packet, 12, 0xcafebabe, 1, new Uint8Array(packet.length), 0)).toThrow(TypeError);
      expect(engines).toHaveLength(0);
    });

    it('wipe() erases what is left and wipes the engines once they are keyed', () => {
      const { backend, engines } = recordingBackend(inner);
      const transform = new AeadTransform(backend, sessionKeys(keyLength), sessionKeys(keyLength));
      const packet = rtpPacket();
      transform.protectRtpInto(packet, 12, 0xcafebabe, 1, new Uint8Array(packet.length + 16), 0);
      expect(transform.holdsKeyMaterial).toBe(true); // the engine, the salts and the SRTCP key
      transform.wipe();
      expect(transform.holdsKeyMaterial).toBe(false);
      expect(engines.map((e) => e.wiped)).toEqual([true]);
    });

    it('agrees with a transform whose engines are already keyed, packet after packet', () => {
      const srtp = sessionKeys(keyLength);
      const srtcp = sessionKeys(keyLength);
      const a = new AeadTransform(inner, srtp, srtcp);
      const b = new AeadTransform(inner, srtp, srtcp);
      for (let seq = 1; seq <= 3; seq++) {
        const packet = rtpPacket({ sequenceNumber: seq });
        const fromA = new Uint8Array(packet.length + 16);
        const fromB = new Uint8Array(packet.length + 16);
        a.protectRtpInto(packet, 12, 0xcafebabe, seq, fromA, 0);
        b.protectRtpInto(packet, 12, 0xcafebabe, seq, fromB, 0);
        expect(fromA).toEqual(fromB);
        const opened = new Uint8Array(packet.length);
        expect(b.unprotectRtpInto(fromA, 12, 0xcafebabe, seq, opened, 0)).toBe(true);
        expect(opened).toEqual(packet);
      }
    });
  });
});
