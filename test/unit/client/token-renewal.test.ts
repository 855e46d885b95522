import { describe, expect, it } from 'vitest';
import { encodeBase64Url } from '../../../shared/relay-api/base64url.js';
import {
  clockOffsetFromDateHeader,
  readAccessTokenClaims,
  renewalDelayMs,
  renewalMarginMs,
  renewalRetryDelayMs,
} from '../../../shared/client/token-renewal.js';

const utf8 = new TextEncoder();
const jwt = (claims: unknown) =>
  `${encodeBase64Url(utf8.encode('{"alg":"EdDSA","typ":"at+jwt"}'))}.${encodeBase64Url(utf8.encode(JSON.stringify(claims)))}.c2lnbmF0dXJl`;

describe('readAccessTokenClaims', () => {
  it('reads iat, exp, sub and sid (seconds to ms)', () => {
    const token = jwt({ iss: 'parley', sub: 'usr_a', sid: 'ses_b', iat: 1_767_225_600, exp: 1_767_226_500 });
    expect(readAccessTokenClaims(token)).toEqual({ issuedAtMs: 1_767_225_600_000, expiresAtMs: 1_767_226_500_000, subject: 'usr_a', sessionId: 'ses_b' });
  });

  it('takes a minted token (sub with the app key id) and missing sub/sid as null', () => {
    expect(readAccessTokenClaims(jwt({ sub: 'ak_x:user-4', iat: 10, exp: 20 }))?.subject).toBe('ak_x:user-4');
    expect(readAccessTokenClaims(jwt({ iat: 10, exp: 20 }))).toMatchObject({ subject: null, sessionId: null });
  });

  it('returns null for anything that is not a JWT with iat < exp', () => {
    for (const token of ['', 'abc', 'a.b', 'a.b.c.d', `x.${encodeBase64Url(utf8.encode('not json'))}.y`, jwt({ exp: 20 }), jwt({ iat: 20, exp: 20 }), jwt({ iat: '1', exp: 2 }), 'a.!!!.c', jwt(null), jwt([1])]) {
      expect(readAccessTokenClaims(token)).toBeNull();
    }
  });
});

describe('renewalDelayMs', () => {
  it('renews a 15-minute token 60 s before it expires', () => {
    expect(renewalDelayMs({ lifetimeMs: 900_000, expiresAtMs: 1_900_000, serverNowMs: 1_000_000 })).toBe(840_000);
  });

  it('renews a short token a quarter of its lifetime early', () => {
    expect(renewalMarginMs(10_000)).toBe(2500);
    expect(renewalDelayMs({ lifetimeMs: 10_000, expiresAtMs: 10_000, serverNowMs: 0 })).toBe(7500);
  });

  it('counts from the time left, never more than the lifetime, never below zero', () => {
    // Half the lifetime already gone.
    expect(renewalDelayMs({ lifetimeMs: 900_000, expiresAtMs: 450_000, serverNowMs: 0 })).toBe(390_000);
    // A local clock far behind the server's: the lifetime bounds the wait.
    expect(renewalDelayMs({ lifetimeMs: 900_000, expiresAtMs: 10_000_000, serverNowMs: 0 })).toBe(840_000);
    // Expired, or inside the margin: renew now.
    expect(renewalDelayMs({ lifetimeMs: 900_000, expiresAtMs: 30_000, serverNowMs: 0 })).toBe(0);
    expect(renewalDelayMs({ lifetimeMs: 900_000, expiresAtMs: 0, serverNowMs: 5_000 })).toBe(0);
  });

  it('refuses nonsense', () => {
    expect(() => renewalDelayMs({ lifetimeMs: 0, expiresAtMs: 1, serverNowMs: 0 })).toThrow(RangeError);
    expect(() => renewalDelayMs({ lifetimeMs: 1, expiresAtMs: Number.NaN, serverNowMs: 0 })).toThrow(RangeError);
  });
});

describe('renewalRetryDelayMs', () => {
  it('backs off exponentially from 500 ms to 30 s, spread over the upper half', () => {
    expect(renewalRetryDelayMs(1, 0)).toBe(250);
    expect(renewalRetryDelayMs(1, 0.999_999)).toBeCloseTo(500, 2);
    expect(renewalRetryDelayMs(2, 0)).toBe(500);
    expect(renewalRetryDelayMs(4, 0.5)).toBe(3000);
    expect(renewalRetryDelayMs(20, 0)).toBe(15_000);
    expect(renewalRetryDelayMs(1000, 0.999_999)).toBeLessThanOrEqual(30_000);
  });

  it('waits at least what Retry-After asked for', () => {
    expect(renewalRetryDelayMs(1, 0, 7000)).toBe(7000);
  });

  it('refuses a bad attempt or random value', () => {
    expect(() => renewalRetryDelayMs(0, 0)).toThrow(RangeError);
    expect(() => renewalRetryDelayMs(1, 1)).toThrow(RangeError);
  });
});

describe('clockOffsetFromDateHeader', () => {
  it('is the server clock minus the local one, half a second of resolution added', () => {
    expect(clockOffsetFromDateHeader('Thu, 01 Jan 2026 00:00:10 GMT', Date.parse('2026-01-01T00:00:00Z'))).toBe(10_500);
    expect(clockOffsetFromDateHeader(null, 0)).toBeNull();
    expect(clockOffsetFromDateHeader('yesterday', 0)).toBeNull();
  });
});
