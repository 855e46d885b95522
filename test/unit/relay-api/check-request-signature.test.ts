/**
 * checkRequestSignature: steps 1-4 of docs/protocol.md §8.2 for a verifier that records the
 * nonce itself (the control plane). It must refuse exactly what verifyRequest refuses before
 * its nonce step, and tell the caller how long to keep the nonce.
 */
import { describe, expect, it } from 'vitest';
import { checkRequestSignature, signRequest, verifyRequest, type NonceStore, type VerifyRequestInput } from '../../../shared/relay-api/request-signing.js';
import { API_KEY, API_KEYS } from './helpers.js';

const NOW = 1_760_000_000_000;
const URL_ = 'https://control.example/internal/relays/register';
const BODY = new TextEncoder().encode('{"relayId":"relay-fra-1"}');

function signed(overrides: Partial<{ body: Uint8Array; audience: string; now: number; url: string }> = {}): VerifyRequestInput {
  const authorization = signRequest({ method: 'POST', url: overrides.url ?? URL_, body: overrides.body ?? BODY, audience: overrides.audience ?? 'control', key: API_KEY, now: overrides.now ?? NOW });
  return { method: 'POST', url: URL_, body: BODY, authorization };
}

const options = { audience: 'control', keys: API_KEYS, now: NOW };
const acceptAll: NonceStore = { checkAndRecord: () => 'fresh' };

describe('checkRequestSignature', () => {
  it('accepts a signed request and says to keep its nonce until ts + 60 s', () => {
    const request = signed({ now: NOW - 5_000 });
    const result = checkRequestSignature(request, options);
    expect(result).toEqual({ ok: true, keyId: API_KEY.keyId, timestamp: NOW - 5_000, nonce: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), nonceExpiresAt: NOW - 5_000 + 60_000 });
    expect(request.authorization).toContain(`nonce=${(result as { nonce: string }).nonce},`);
  });

  it('uses the given skew for the check and for the nonce lifetime', () => {
    expect(checkRequestSignature(signed({ now: NOW - 10_001 }), { ...options, maxSkewMs: 10_000 })).toMatchObject({ ok: false, reason: 'timestamp-skew' });
    expect(checkRequestSignature(signed({ now: NOW - 10_000 }), { ...options, maxSkewMs: 10_000 })).toMatchObject({ ok: true, nonceExpiresAt: NOW });
  });

  it('records nothing: the same request passes any number of times (the caller does step 5)', () => {
    const request = signed();
    for (let i = 0; i < 3; i++) expect(checkRequestSignature(request, options).ok).toBe(true);
  });

  it.each([
    ['no header', { authorization: null }, 'missing-header'],
    ['a malformed header', { authorization: 'Parley-HMAC-SHA256 keyId=x' }, 'malformed-header'],
    ['an altered body', { body: new TextEncoder().encode('{"relayId":"relay-fra-2"}') }, 'bad-signature'],
    ['another path', { url: 'https://control.example/internal/relays/heartbeat' }, 'bad-signature'],
  ] as const)('refuses %s', (_name, change, reason) => {
    expect(checkRequestSignature({ ...signed(), ...change }, options)).toMatchObject({ ok: false, reason });
  });

  it('refuses a request signed for a relay instead of the control plane, an unknown key, and skew', () => {
    expect(checkRequestSignature(signed({ audience: 'relay-fra-1' }), options)).toMatchObject({ ok: false, reason: 'bad-signature', keyId: API_KEY.keyId });
    expect(checkRequestSignature(signed(), { ...options, keys: new Map() })).toMatchObject({ ok: false, reason: 'unknown-key' });
    expect(checkRequestSignature(signed({ now: NOW + 60_001 }), options)).toMatchObject({ ok: false, reason: 'timestamp-skew' });
  });

  it('agrees with verifyRequest on every refusal before the nonce step', () => {
    const requests: VerifyRequestInput[] = [
      signed(),
      { ...signed(), authorization: null },
      { ...signed(), body: new Uint8Array(0) },
      signed({ audience: 'x' }),
      signed({ now: NOW - 61_000 }),
      { ...signed(), authorization: signed().authorization!.replace(/sig=./, 'sig=A') },
    ];
    for (const request of requests) {
      const checked = checkRequestSignature(request, options);
      const verified = verifyRequest(request, { ...options, nonces: acceptAll });
      if (checked.ok) expect(verified).toEqual({ ok: true, keyId: checked.keyId, timestamp: checked.timestamp, nonce: checked.nonce });
      else expect(verified).toEqual(checked);
    }
  });
});
