/**
 * The portable SRTP backend must run on workerd, not just Node: the control plane and any
 * future Worker-side media code share it. Same vectors as the Node suite, run in the runtime.
 */
import { describe, expect, it } from 'vitest';
import vectorFile from '../fixtures/srtp-vectors.json';
import { bytesToHex as toHex, hexToBytes as fromHex } from '../../shared/bytes.js';
import { nobleBackend } from '../../shared/srtp/backends/noble.js';
import { SrtpContext } from '../../shared/srtp/context.js';
import type { SrtpProfileName } from '../../shared/srtp/profiles.js';

const PROFILES: readonly SrtpProfileName[] = ['aes128gcm', 'aes256gcm', 'aescm128sha80'];

/** Master key and salt lengths per profile (RFC 7714 §12, RFC 3711 §8.2). */
const MASTER_LENGTHS: Readonly<Record<SrtpProfileName, { key: number; salt: number }>> = {
  aes128gcm: { key: 16, salt: 12 },
  aes256gcm: { key: 32, salt: 12 },
  aescm128sha80: { key: 16, salt: 14 },
};


/** Deterministic filler so failures are reproducible. */
function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (seed + i * 31) & 0xff;
  return out;
}

/** RTP fixed header (RFC 3550 §5.1): V=2, no padding/extension/CSRC, PT 111, given SEQ/TS/SSRC. */
function rtpPacket(seq: number, payload: Uint8Array): Uint8Array {
  const packet = new Uint8Array(12 + payload.length);
  const view = new DataView(packet.buffer);
  view.setUint8(0, 0x80);
  view.setUint8(1, 111);
  view.setUint16(2, seq);
  view.setUint32(4, 0x1234_5678 + seq * 960);
  view.setUint32(8, 0xcafe_babe);
  packet.set(payload, 12);
  return packet;
}

interface MasterProtectVector {
  readonly id: string;
  readonly kind: 'master_protect';
  readonly profile: string;
  readonly master_key: string;
  readonly master_salt: string;
  readonly plaintext: string;
  readonly expected: string;
}

function isParleyProfile(name: string): name is SrtpProfileName {
  return (PROFILES as readonly string[]).includes(name);
}

/** RTCP packet types 200–204 (RFC 3550 §12.1) sit where RTP has M+PT. */
function isRtcp(hex: string): boolean {
  const packetType = Number.parseInt(hex.slice(2, 4), 16);
  return packetType >= 200 && packetType <= 204;
}

// libsrtp's master-key known answers, restricted to RTP packets and Parley's profiles
// (the file also holds SRTCP and AES-256-CM entries, which SrtpContext#protectRtp does not cover).
const masterProtectRtp = (vectorFile.vectors as ReadonlyArray<{ kind: string }>)
  .filter((v): v is MasterProtectVector => v.kind === 'master_protect')
  .filter((v) => isParleyProfile(v.profile) && !isRtcp(v.plaintext));

describe('SRTP noble backend on workerd', () => {
  it('finds the libsrtp master-key vectors for aes128gcm and aescm128sha80', () => {
    const profiles = new Set(masterProtectRtp.map((v) => v.profile));
    expect(profiles).toEqual(new Set(['aes128gcm', 'aescm128sha80']));
  });

  it.each(masterProtectRtp.map((v) => [v.id, v] as const))('%s: protectRtp matches libsrtp', (_id, vector) => {
    const profile = vector.profile as SrtpProfileName;
    const sender = new SrtpContext({
      profile,
      masterKey: fromHex(vector.master_key),
      masterSalt: fromHex(vector.master_salt),
      backend: nobleBackend,
    });
    const receiver = new SrtpContext({
      profile,
      masterKey: fromHex(vector.master_key),
      masterSalt: fromHex(vector.master_salt),
      backend: nobleBackend,
    });
    try {
      const protectedPacket = sender.protectRtp(fromHex(vector.plaintext));
      expect(toHex(protectedPacket)).toBe(vector.expected);
      expect(toHex(receiver.unprotectRtp(fromHex(vector.expected)))).toBe(vector.plaintext);
    } finally {
      sender.close();
      receiver.close();
    }
  });

  it.each(PROFILES)('%s: 12-byte header + 160-byte payload round-trips between two contexts', (profile) => {
    const lengths = MASTER_LENGTHS[profile];
    const keys = {
      profile,
      masterKey: pattern(lengths.key, 7),
      masterSalt: pattern(lengths.salt, 101),
      backend: nobleBackend,
    } as const;
    const sender = new SrtpContext({ ...keys });
    const receiver = new SrtpContext({ ...keys });
    try {
      for (let seq = 1000; seq < 1004; seq++) {
        const packet = rtpPacket(seq, pattern(160, seq));
        const protectedPacket = sender.protectRtp(packet);
        // Header stays in the clear (RFC 3711 §3.1); payload does not; a tag is appended.
        expect(protectedPacket.length).toBeGreaterThan(packet.length);
        expect(toHex(protectedPacket.subarray(0, 12))).toBe(toHex(packet.subarray(0, 12)));
        expect(toHex(protectedPacket.subarray(12, 172))).not.toBe(toHex(packet.subarray(12)));
        expect(toHex(receiver.unprotectRtp(protectedPacket))).toBe(toHex(packet));
      }
    } finally {
      sender.close();
      receiver.close();
    }
  });
});
