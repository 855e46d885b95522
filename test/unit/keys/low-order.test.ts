import { x25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import {
  assertUsablePublicKey,
  deriveSessionKeys,
  isKeyScheduleError,
  KeyScheduleError,
  type KeyScheduleErrorReason,
} from '../../../shared/keys/index.js';
import fixture from '../../fixtures/key-schedule-vectors.json' with { type: 'json' };
import { referenceSharedSecret } from './node-reference.js';
import { fromHex, makeHandshake, toHex } from './helpers.js';

const rejected = fixture.rejectedPeerPublicKeys as Array<{ publicKey: string; note: string; reason: KeyScheduleErrorReason }>;

function expectRefused(run: () => unknown, reason: KeyScheduleErrorReason, field: string): void {
  try {
    run();
    expect.unreachable('public key accepted');
  } catch (error) {
    expect(isKeyScheduleError(error)).toBe(true);
    const e = error as KeyScheduleError;
    expect(e.name).toBe('KeyScheduleError');
    expect(e.reason).toBe(reason);
    expect(e.field).toBe(field);
    expect(e.message).toMatch(/^keys: /);
    expect(e.message).not.toMatch(/[0-9a-f]{16}/i); // no key bytes
  }
}

describe('peer public keys Parley refuses', () => {
  it('covers the libsodium blocklist, with and without the top bit', () => {
    expect(rejected.filter((k) => k.reason === 'low-order-public-key')).toHaveLength(14);
    expect(new Set(rejected.map((k) => k.publicKey)).size).toBe(rejected.length);
  });

  it.each(rejected)('$note ($reason) — server refuses it as clientPublicKey', ({ publicKey, reason }) => {
    const h = makeHandshake({ clientPublicKey: fromHex(publicKey) });
    expectRefused(() => deriveSessionKeys({ role: 'server', privateKey: h.server.privateKey, transcript: h.transcript }), reason, 'clientPublicKey');
  });

  it.each(rejected)('$note ($reason) — client refuses it as serverPublicKey', ({ publicKey, reason }) => {
    const h = makeHandshake({ serverPublicKey: fromHex(publicKey) });
    expectRefused(() => deriveSessionKeys({ role: 'client', privateKey: h.client.privateKey, transcript: h.transcript }), reason, 'serverPublicKey');
    expectRefused(() => assertUsablePublicKey(fromHex(publicKey), 'serverPublicKey'), reason, 'serverPublicKey');
  });

  it('accepts the largest canonical u (p - 2 is not on the blocklist)', () => {
    const pMinus2 = fromHex('ebffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f');
    expect(() => assertUsablePublicKey(pMinus2, 'clientPublicKey')).not.toThrow();
  });
});

// What the libraries underneath do on their own, pinned so an upgrade that changes it is noticed.
// Parley's behaviour above does not depend on either.
describe('underlying X25519 behaviour', () => {
  const low = rejected.filter((k) => k.reason === 'low-order-public-key');
  const privateKey = makeHandshake().client.privateKey;

  it('@noble/curves refuses every low-order encoding with a plain Error', () => {
    for (const { publicKey } of low) {
      expect(() => x25519.getSharedSecret(privateKey, fromHex(publicKey))).toThrow(/invalid private or public key/);
    }
  });

  it('OpenSSL (node:crypto) refuses them too, by the all-zero output', () => {
    for (const { publicKey } of low) {
      expect(() => referenceSharedSecret(privateKey, fromHex(publicKey))).toThrow();
    }
  });

  it('both accept non-canonical encodings of ordinary points (RFC 7748 §5), which Parley refuses', () => {
    const bobTopBit = rejected.find((k) => k.note.startsWith('RFC 7748'))!;
    const canonical = fromHex(bobTopBit.publicKey);
    canonical[31] = (canonical[31] as number) & 0x7f;
    const viaNoble = toHex(x25519.getSharedSecret(privateKey, fromHex(bobTopBit.publicKey)));
    expect(viaNoble).toBe(toHex(x25519.getSharedSecret(privateKey, canonical)));
    expect(referenceSharedSecret(privateKey, fromHex(bobTopBit.publicKey)).toString('hex')).toBe(viaNoble);
  });
});
