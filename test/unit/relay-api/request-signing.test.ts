import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeBase64Url } from '../../../shared/relay-api/base64url.js';
import {
  authenticateChallenge,
  canonicalRequest,
  signRequest,
  verifyRequest,
  type NonceStore,
  type VerifyRequestInput,
} from '../../../shared/relay-api/request-signing.js';
import { NonceCache } from '../../../relay/src/api/nonce-cache.js';
import { API_KEY, API_KEYS, RELAY_ID } from './helpers.js';

const NOW = 1_760_000_000_000;
const URL_ = 'http://relay.internal:8080/v1/sessions/ses-1?x=1';
const BODY = new TextEncoder().encode('{"muted":true}');

function signed(overrides: Partial<{ method: string; url: string; body: Uint8Array; audience: string; now: number }> = {}): VerifyRequestInput {
  const method = overrides.method ?? 'PATCH';
  const url = overrides.url ?? URL_;
  const body = overrides.body ?? BODY;
  const authorization = signRequest({ method, url, body, audience: overrides.audience ?? RELAY_ID, key: API_KEY, now: overrides.now ?? NOW });
  return { method, url, body, authorization };
}

function verify(request: VerifyRequestInput, options: { now?: number; nonces?: NonceStore; keys?: ReadonlyMap<string, Uint8Array> } = {}) {
  return verifyRequest(request, {
    audience: RELAY_ID,
    keys: options.keys ?? API_KEYS,
    now: options.now ?? NOW,
    nonces: options.nonces ?? new NonceCache(),
  });
}

/** A store that fails the test if anything reaches it. */
const untouchable: NonceStore = {
  checkAndRecord() {
    throw new Error('nonce store reached by an unauthenticated request');
  },
};

describe('signRequest / verifyRequest', () => {
  it('accepts a request signed for this relay', () => {
    const result = verify(signed());
    expect(result).toMatchObject({ ok: true, keyId: API_KEY.keyId, timestamp: NOW });
  });

  it('writes the documented header format', () => {
    const header = signed().authorization!;
    expect(header).toMatch(/^Parley-HMAC-SHA256 keyId=cp-2026-01, ts=1760000000000, nonce=[A-Za-z0-9_-]{22}, sig=[A-Za-z0-9_-]{43}$/);
  });

  it('computes HMAC-SHA256 over the documented canonical string (node:crypto cross-check)', () => {
    const nonce = new Uint8Array(16).fill(7);
    const header = signRequest({ method: 'patch', url: URL_, body: BODY, audience: RELAY_ID, key: API_KEY, now: NOW, randomBytes: () => nonce.slice() });
    const nonceText = encodeBase64Url(nonce);
    const canonical = [
      'parley-v1 relay-api request',
      API_KEY.keyId,
      RELAY_ID,
      String(NOW),
      nonceText,
      'PATCH',
      '/v1/sessions/ses-1?x=1',
      createHash('sha256').update(BODY).digest('hex'),
    ].join('\n');
    const sig = createHmac('sha256', API_KEY.secret).update(canonical).digest('base64url');
    expect(header).toBe(`Parley-HMAC-SHA256 keyId=${API_KEY.keyId}, ts=${NOW}, nonce=${nonceText}, sig=${sig}`);
  });

  it.each([
    ['an altered body', { body: new TextEncoder().encode('{"muted":false}') }],
    ['an emptied body', { body: new Uint8Array(0) }],
    ['an altered path', { url: 'http://relay.internal:8080/v1/sessions/ses-2?x=1' }],
    ['an altered query', { url: 'http://relay.internal:8080/v1/sessions/ses-1?x=2' }],
    ['a dropped query', { url: 'http://relay.internal:8080/v1/sessions/ses-1' }],
    ['an altered method', { method: 'DELETE' }],
  ] as const)('refuses %s (bad-signature) without touching the nonce store', (_name, change) => {
    const request = { ...signed(), ...change };
    expect(verify(request, { nonces: untouchable })).toEqual({ ok: false, reason: 'bad-signature', keyId: API_KEY.keyId });
  });

  it('ignores the host: the proxy in front may rewrite it', () => {
    expect(verify({ ...signed(), url: 'http://10.0.0.7:9000/v1/sessions/ses-1?x=1' }).ok).toBe(true);
  });

  it('refuses a request signed for another relay', () => {
    expect(verify(signed({ audience: 'relay-ams-1' }), { nonces: untouchable })).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('refuses an unknown key id, and a known id with the wrong secret', () => {
    expect(verify(signed(), { keys: new Map([['other', API_KEY.secret]]), nonces: untouchable })).toEqual({
      ok: false,
      reason: 'unknown-key',
      keyId: API_KEY.keyId,
    });
    const wrongSecret = new Map([[API_KEY.keyId, new Uint8Array(32).fill(1)]]);
    expect(verify(signed(), { keys: wrongSecret, nonces: untouchable })).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('accepts either of two keys during a rotation', () => {
    const next = { keyId: 'cp-2026-02', secret: new Uint8Array(32).fill(9) };
    const keys = new Map([...API_KEYS, [next.keyId, next.secret]]);
    const authorization = signRequest({ method: 'GET', url: URL_, audience: RELAY_ID, key: next, now: NOW });
    expect(verify({ method: 'GET', url: URL_, body: new Uint8Array(0), authorization }, { keys }).ok).toBe(true);
    expect(verify(signed(), { keys }).ok).toBe(true);
  });

  it.each([
    ['60 s behind', -60_000, true],
    ['60 s ahead', 60_000, true],
    ['60.001 s behind', -60_001, false],
    ['60.001 s ahead', 60_001, false],
    ['an hour behind', -3_600_000, false],
  ])('timestamp %s the verifier → %s', (_name, offset, accepted) => {
    const result = verify(signed({ now: NOW + offset }), { nonces: accepted ? new NonceCache() : untouchable });
    if (accepted) expect(result.ok).toBe(true);
    else expect(result).toMatchObject({ ok: false, reason: 'timestamp-skew' });
  });

  it('refuses a replayed request, and records the nonce only once', () => {
    const nonces = new NonceCache();
    const request = signed();
    expect(verify(request, { nonces }).ok).toBe(true);
    expect(verify(request, { nonces, now: NOW + 30_000 })).toMatchObject({ ok: false, reason: 'replayed-nonce' });
    expect(nonces.size).toBe(1);
  });

  it('still refuses the replay at the edge of the skew window, and for skew after it', () => {
    const nonces = new NonceCache();
    const request = signed({ now: NOW + 60_000 }); // signer's clock a minute ahead
    expect(verify(request, { nonces }).ok).toBe(true);
    expect(verify(request, { nonces, now: NOW + 120_000 })).toMatchObject({ ok: false, reason: 'replayed-nonce' });
    expect(verify(request, { nonces, now: NOW + 120_001 })).toMatchObject({ ok: false, reason: 'timestamp-skew' });
  });

  it('answers nonce-cache-full when the store refuses', () => {
    const full: NonceStore = { checkAndRecord: () => 'full' };
    expect(verify(signed(), { nonces: full })).toMatchObject({ ok: false, reason: 'nonce-cache-full' });
  });

  it.each([
    ['no header', null, 'missing-header'],
    ['an empty header', '', 'malformed-header'],
    ['a bearer token', 'Bearer abc', 'malformed-header'],
    ['a lower-case scheme', (h: string) => h.replace('Parley-HMAC-SHA256', 'parley-hmac-sha256'), 'malformed-header'],
    ['reordered parameters', (h: string) => h.replace(/keyId=([^,]+), ts=(\d+)/, 'ts=$2, keyId=$1'), 'malformed-header'],
    ['an extra parameter', (h: string) => `${h}, x=1`, 'malformed-header'],
    ['a short signature', (h: string) => h.slice(0, -1), 'malformed-header'],
    ['a signature with trailing bits', (h: string) => h.replace(/.$/, (c) => (c === 'B' ? 'C' : 'B')), 'malformed-header'],
    ['a leading-zero timestamp', (h: string) => h.replace('ts=', 'ts=0'), 'malformed-header'],
    ['a huge timestamp', (h: string) => h.replace(/ts=\d+/, 'ts=9999999999999999'), 'malformed-header'],
    ['a short nonce', (h: string) => h.replace(/nonce=[^,]+/, 'nonce=abc'), 'malformed-header'],
  ] as const)('refuses %s', (_name, header, reason) => {
    const request = signed();
    const authorization = typeof header === 'function' ? header(request.authorization!) : header;
    expect(verify({ ...request, authorization }, { nonces: untouchable })).toMatchObject({ ok: false, reason });
  });

  it('flipping any bit of the signature fails', () => {
    const request = signed();
    const header = request.authorization!;
    const sig = header.slice(-43);
    const bytes = Buffer.from(sig, 'base64url');
    for (let bit = 0; bit < bytes.length * 8; bit += 7) {
      const flipped = Buffer.from(bytes);
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      const authorization = header.slice(0, -43) + flipped.toString('base64url');
      expect(verify({ ...request, authorization }, { nonces: untouchable }).ok).toBe(false);
    }
  });
});

describe('canonicalRequest', () => {
  const base = { keyId: 'k', audience: RELAY_ID, timestamp: NOW, nonce: 'A'.repeat(22), method: 'GET', target: '/v1/sessions', body: new Uint8Array(0) };

  it.each([
    ['a key id with a newline', { keyId: 'k\nx' }],
    ['an audience with a newline', { audience: 'a\nb' }],
    ['an audience with a space', { audience: 'a b' }],
    ['a target with a newline', { target: '/v1\n' }],
    ['a relative target', { target: 'v1/sessions' }],
    ['a fractional timestamp', { timestamp: 1.5 }],
    ['a method with a space', { method: 'GET X' }],
  ])('refuses %s', (_name, change) => {
    expect(() => canonicalRequest({ ...base, ...change })).toThrow(RangeError);
  });

  it('refuses secrets shorter than 32 bytes when signing', () => {
    expect(() => signRequest({ method: 'GET', url: URL_, audience: RELAY_ID, key: { keyId: 'k', secret: new Uint8Array(31) }, now: NOW })).toThrow(RangeError);
  });
});

describe('authenticateChallenge', () => {
  it('names the scheme and a sanitised realm', () => {
    expect(authenticateChallenge('parley-relay')).toBe('Parley-HMAC-SHA256 realm="parley-relay"');
    expect(authenticateChallenge('a"b\n')).toBe('Parley-HMAC-SHA256 realm="ab"');
  });
});
