/** Keys are used once: SpentKeySets, the relay's memory of every master key it accepted. */
import { describe, expect, it } from 'vitest';
import { SpentKeySets } from '../../../relay/src/api/spent-key-sets.js';
import { randomKeyMaterial } from '../relay-api/helpers.js';

const T0 = 1_760_000_000_000;
const HOUR = 3_600_000;

describe('SpentKeySets', () => {
  it('refuses a reinstall of a key set it has accepted, until the session expires', () => {
    const spent = new SpentKeySets();
    const keys = randomKeyMaterial();
    expect(spent.claim('ses-1', keys, T0 + HOUR, T0).ok).toBe(true);
    expect(spent.claim('ses-1', keys, T0 + HOUR, T0 + 1)).toEqual({ ok: false, reason: 'keys-reused' });
    // Under another session id, as a rotation, or with the directions swapped: still the same keys.
    expect(spent.claim('ses-2', keys, T0 + HOUR, T0 + 2)).toEqual({ ok: false, reason: 'keys-reused' });
    expect(spent.claim('ses-1', keys, T0 + 3, T0 + 3)).toEqual({ ok: false, reason: 'keys-reused' });
    expect(spent.claim('ses-3', { clientToRelay: keys.relayToClient, relayToClient: keys.clientToRelay }, T0 + HOUR, T0 + 4)).toEqual({ ok: false, reason: 'keys-reused' });
    // One direction reused is enough.
    expect(spent.claim('ses-4', { clientToRelay: randomKeyMaterial().clientToRelay, relayToClient: keys.relayToClient }, T0 + HOUR, T0 + 5)).toEqual({ ok: false, reason: 'keys-reused' });
    // After the session's expiry the keys are forgotten (a replay of them is refused by the skew check long before).
    expect(spent.claim('ses-5', keys, T0 + 2 * HOUR, T0 + HOUR + 1).ok).toBe(true);
  });

  it('refuses a key set whose two directions share a master key (a reflected packet would authenticate)', () => {
    const spent = new SpentKeySets();
    const { clientToRelay } = randomKeyMaterial();
    expect(spent.claim('ses-1', { clientToRelay, relayToClient: { masterKey: clientToRelay.masterKey, masterSalt: new Uint8Array(12) } }, T0 + HOUR, T0)).toEqual({
      ok: false,
      reason: 'keys-reused',
    });
    expect(spent.size).toBe(0);
  });

  it('gives back the keys of a refused install, so that a retry of it can succeed', () => {
    const spent = new SpentKeySets();
    const keys = randomKeyMaterial();
    const claim = spent.claim('ses-1', keys, T0 + HOUR, T0);
    if (!claim.ok) throw new Error('claim refused');
    claim.release();
    claim.release(); // idempotent
    expect(spent.size).toBe(0);
    expect(spent.claim('ses-1', keys, T0 + HOUR, T0 + 1).ok).toBe(true);
  });

  it('keeps a rotation\'s keys as long as the session, and follows an extended expiry', () => {
    const spent = new SpentKeySets();
    const installed = randomKeyMaterial();
    const rotated = randomKeyMaterial();
    expect(spent.claim('ses-1', installed, T0 + HOUR, T0).ok).toBe(true);
    expect(spent.claim('ses-1', rotated, T0 + 10, T0 + 10).ok).toBe(true); // rotation: `now` as the floor
    spent.extend('ses-1', T0 + 3 * HOUR);
    expect(spent.claim('ses-2', rotated, T0 + 4 * HOUR, T0 + 2 * HOUR)).toEqual({ ok: false, reason: 'keys-reused' });
    expect(spent.claim('ses-2', installed, T0 + 4 * HOUR, T0 + 2 * HOUR)).toEqual({ ok: false, reason: 'keys-reused' });
    expect(spent.claim('ses-2', rotated, T0 + 4 * HOUR, T0 + 3 * HOUR + 1).ok).toBe(true);
  });

  it('is bounded: full of live keys it refuses (never forgets one early), and sweeps expired ones', () => {
    const spent = new SpentKeySets(4);
    expect(spent.claim('a', randomKeyMaterial(), T0 + 100, T0).ok).toBe(true);
    expect(spent.claim('b', randomKeyMaterial(), T0 + HOUR, T0).ok).toBe(true);
    expect(spent.claim('c', randomKeyMaterial(), T0 + HOUR, T0 + 50)).toEqual({ ok: false, reason: 'spent-keys-full' });
    expect(spent.size).toBe(4);
    expect(spent.claim('c', randomKeyMaterial(), T0 + HOUR, T0 + 101).ok).toBe(true); // 'a' expired: swept
    expect(spent.size).toBe(4);
  });

  it('refuses an HMAC key shorter than 32 bytes and a capacity below two keys', () => {
    expect(() => new SpentKeySets(10, new Uint8Array(16))).toThrow(RangeError);
    expect(() => new SpentKeySets(1)).toThrow(RangeError);
  });
});
