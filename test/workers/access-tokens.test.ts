/**
 * Access tokens inside workerd: signing, verification, key rotation and case 18 of
 * ABUSE-CASES.md (alg none, another algorithm, wrong iss/aud/typ, a refresh token used as an
 * access token, an expired token, a hostile kid → 401).
 */
import { base64url, SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { accessTokenKeys, signAccessToken, verifyAccessToken, type AccessTokenKeys } from '../../control/src/auth/access-tokens.js';
import { loadControlConfig } from '../../control/src/config.js';
import { ApiError } from '../../control/src/http/errors.js';

const BASE_ENV = { PARLEY_ENV: 'test', LIBSQL_URL: 'http://127.0.0.1:9/' };
const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const SEED_B = base64url.encode(new Uint8Array(32).fill(7));

async function keysFor(env: Record<string, string> = {}): Promise<AccessTokenKeys> {
  return accessTokenKeys(loadControlConfig({ ...BASE_ENV, ...env }));
}

function accountClaims(issuedAt = NOW) {
  return { kind: 'account' as const, subject: 'usr_aaaaaaaaaaaaaaaaaaaaaaaaaa', sessionId: 'ses_bbbbbbbbbbbbbbbbbbbbbbbbbb', tokenId: 'tok-1', issuedAt, name: 'alice' };
}

async function refusal(keys: AccessTokenKeys, token: string, now = NOW): Promise<string> {
  try {
    await verifyAccessToken(keys, token, now);
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe('unauthorized');
    expect((error as ApiError).status).toBe(401);
    return String(((error as ApiError).cause as Error).message);
  }
  throw new Error('token was accepted');
}

function headerOf(token: string): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(base64url.decode(token.split('.')[0]!)));
}

describe('access tokens', () => {
  it('carry iss, aud, sub, typ, iat, exp (15 min), jti, sid and a kid, and verify', async () => {
    const keys = await keysFor();
    const { token, expiresAt } = await signAccessToken(keys, accountClaims());
    expect(headerOf(token)).toEqual({ alg: 'EdDSA', kid: 'insecure-dev-jwt', typ: 'at+jwt' });
    const payload = JSON.parse(new TextDecoder().decode(base64url.decode(token.split('.')[1]!)));
    expect(payload).toEqual({
      iss: 'parley',
      aud: 'parley-api',
      sub: 'usr_aaaaaaaaaaaaaaaaaaaaaaaaaa',
      typ: 'access',
      iat: NOW / 1000,
      exp: NOW / 1000 + 900,
      jti: 'tok-1',
      sid: 'ses_bbbbbbbbbbbbbbbbbbbbbbbbbb',
      name: 'alice',
    });
    expect(expiresAt).toBe(NOW + 900_000);
    const principal = await verifyAccessToken(keys, token, NOW + 1000);
    expect(principal).toMatchObject({ kind: 'account', userId: 'usr_aaaaaaaaaaaaaaaaaaaaaaaaaa', sessionId: 'ses_bbbbbbbbbbbbbbbbbbbbbbbbbb', tokenId: 'tok-1' });
  });

  it('are deterministic: equal claims give the same token byte for byte', async () => {
    const keys = await keysFor();
    const a = await signAccessToken(keys, accountClaims());
    const b = await signAccessToken(keys, accountClaims());
    expect(a.token).toBe(b.token);
    expect((await signAccessToken(keys, accountClaims(NOW + 1000))).token).not.toBe(a.token);
  });

  it('an app user token carries akid and grants and verifies as an app user', async () => {
    const keys = await keysFor();
    const { token, expiresAt } = await signAccessToken(keys, {
      kind: 'app_user',
      subject: 'ak_cccccccccccccccccccccccccc:player-42',
      sessionId: 'ak_cccccccccccccccccccccccccc',
      tokenId: 'tok-2',
      issuedAt: NOW,
      name: 'Player 42',
      appKeyId: 'ak_cccccccccccccccccccccccccc',
      grants: [{ channelId: 'chn_dddddddddddddddddddddddddd', permissions: ['listen'] }],
      ttlMs: 600_000,
    });
    expect(expiresAt).toBe(NOW + 600_000);
    expect(await verifyAccessToken(keys, token, NOW)).toEqual({
      kind: 'app_user',
      subject: 'ak_cccccccccccccccccccccccccc:player-42',
      appKeyId: 'ak_cccccccccccccccccccccccccc',
      externalUserId: 'player-42',
      displayName: 'Player 42',
      grants: [{ channelId: 'chn_dddddddddddddddddddddddddd', permissions: ['listen'] }],
      sessionId: 'ak_cccccccccccccccccccccccccc',
      tokenId: 'tok-2',
      expiresAt: NOW + 600_000,
    });
  });

  describe('case 18: hostile tokens are refused with 401', () => {
    it('alg none', async () => {
      const keys = await keysFor();
      const token = new UnsecuredJWT({ typ: 'access', sid: 's', name: 'n', jti: 'j' })
        .setIssuer('parley')
        .setAudience('parley-api')
        .setSubject('usr_x')
        .setIssuedAt(NOW / 1000)
        .setExpirationTime(NOW / 1000 + 900)
        .encode();
      expect(await refusal(keys, token)).toBe('ERR_JOSE_ALG_NOT_ALLOWED');
    });

    it('another algorithm (HS256 keyed with the published public key)', async () => {
      const keys = await keysFor();
      const publicX = base64url.decode(keys.publicJwks[0]!.x!);
      const token = await new SignJWT({ typ: 'access', sid: 's', name: 'n' })
        .setProtectedHeader({ alg: 'HS256', kid: 'insecure-dev-jwt', typ: 'at+jwt' })
        .setIssuer('parley')
        .setAudience('parley-api')
        .setSubject('usr_x')
        .setJti('j')
        .setIssuedAt(NOW / 1000)
        .setExpirationTime(NOW / 1000 + 900)
        .sign(publicX);
      expect(await refusal(keys, token)).toBe('ERR_JOSE_ALG_NOT_ALLOWED');
    });

    it('wrong issuer, audience, header type or claim type', async () => {
      const keys = await keysFor();
      const good = (await signAccessToken(keys, accountClaims())).token;
      await verifyAccessToken(keys, good, NOW);
      const other = await keysFor({ JWT_ISSUER: 'someone-else' });
      expect(await refusal(keys, (await signAccessToken(other, accountClaims())).token)).toBe('ERR_JWT_CLAIM_VALIDATION_FAILED');
      const otherAudience = await keysFor({ JWT_AUDIENCE: 'another-api' });
      expect(await refusal(keys, (await signAccessToken(otherAudience, accountClaims())).token)).toBe('ERR_JWT_CLAIM_VALIDATION_FAILED');
      const badHeaderType = await new SignJWT({ typ: 'access', sid: 's', name: 'n' })
        .setProtectedHeader({ alg: 'EdDSA', kid: 'insecure-dev-jwt', typ: 'JWT' })
        .setIssuer('parley')
        .setAudience('parley-api')
        .setSubject('usr_x')
        .setJti('j')
        .setIssuedAt(NOW / 1000)
        .setExpirationTime(NOW / 1000 + 900)
        .sign(keys.signingKey);
      expect(await refusal(keys, badHeaderType)).toBe('ERR_JWT_CLAIM_VALIDATION_FAILED');
      const badClaimType = await new SignJWT({ typ: 'refresh', sid: 's', name: 'n' })
        .setProtectedHeader({ alg: 'EdDSA', kid: 'insecure-dev-jwt', typ: 'at+jwt' })
        .setIssuer('parley')
        .setAudience('parley-api')
        .setSubject('usr_x')
        .setJti('j')
        .setIssuedAt(NOW / 1000)
        .setExpirationTime(NOW / 1000 + 900)
        .sign(keys.signingKey);
      expect(await refusal(keys, badClaimType)).toBe('bad-claims');
    });

    it('a refresh token (opaque, not a JWT) used as an access token', async () => {
      const keys = await keysFor();
      const refreshLike = base64url.encode(crypto.getRandomValues(new Uint8Array(32)));
      expect(await refusal(keys, refreshLike)).toBe('ERR_JWS_INVALID');
    });

    it('an expired token', async () => {
      const keys = await keysFor();
      const { token } = await signAccessToken(keys, accountClaims());
      expect(await refusal(keys, token, NOW + 900_000 + 1000)).toBe('ERR_JWT_EXPIRED');
    });

    it('a hostile or unknown kid', async () => {
      const keys = await keysFor();
      for (const kid of ['../../etc/passwd', 'x'.repeat(5000), '', 'insecure-dev-jwt\u0000', 'constructor', '__proto__']) {
        const token = await new SignJWT({ typ: 'access', sid: 's', name: 'n' })
          .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'at+jwt' })
          .setIssuer('parley')
          .setAudience('parley-api')
          .setSubject('usr_x')
          .setJti('j')
          .setIssuedAt(NOW / 1000)
          .setExpirationTime(NOW / 1000 + 900)
          .sign(keys.signingKey);
        const reason = await refusal(keys, token);
        expect(['ERR_JWKS_NO_MATCHING_KEY', 'token-too-long'], kid.slice(0, 20)).toContain(reason);
      }
    });

    it('a tampered payload', async () => {
      const keys = await keysFor();
      const [h, p, s] = (await signAccessToken(keys, accountClaims())).token.split('.') as [string, string, string];
      const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p)));
      claims.sub = 'usr_someone_else';
      const forged = `${h}.${base64url.encode(JSON.stringify(claims))}.${s}`;
      expect(await refusal(keys, forged)).toBe('ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    });
  });

  describe('key rotation', () => {
    it('the previous key keeps verifying until its end, and only the current key signs', async () => {
      const before = await keysFor({ JWT_SIGNING_KEY: `old-key:${SEED_B}` });
      const oldToken = (await signAccessToken(before, accountClaims())).token;
      const until = new Date(NOW + 60_000).toISOString();
      const after = await keysFor({ JWT_PREVIOUS_KEY: `old-key:${SEED_B}`, JWT_PREVIOUS_KEY_ACCEPTED_UNTIL: until });
      expect(headerOf((await signAccessToken(after, accountClaims())).token)['kid']).toBe('insecure-dev-jwt');
      expect(after.publicJwks.map((k) => k.kid)).toEqual(['insecure-dev-jwt', 'old-key']);
      await expect(verifyAccessToken(after, oldToken, NOW + 59_000)).resolves.toMatchObject({ kind: 'account' });
      expect(await refusal(after, oldToken, NOW + 61_000)).toBe('ERR_JWKS_NO_MATCHING_KEY');
      // Without the previous key configured at all, old tokens fail at once.
      expect(await refusal(await keysFor(), oldToken, NOW)).toBe('ERR_JWKS_NO_MATCHING_KEY');
    });
  });
});
