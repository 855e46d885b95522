/**
 * Access tokens: JWTs (RFC 7519) signed with Ed25519 (EdDSA, RFC 8037) by jose.
 *
 * Header `{"alg":"EdDSA","kid":…,"typ":"at+jwt"}` (RFC 9068 §2.1). Claims: `iss`, `aud`, `sub`,
 * `typ` ("access"), `iat`, `exp`, `jti`, `sid`, `name`, and for app users also `akid` and
 * `grants` (docs/protocol.md §4.3).
 *
 * Why EdDSA: its signatures are deterministic (RFC 8032 §5.1.6), so the same claims give the
 * same token byte for byte. A refresh retried after a lost answer, or two concurrent refreshes
 * of one token, must get the very same pair (auth/refresh-tokens.ts), and with a deterministic
 * signature the pair can be re-derived instead of stored. The public keys can also be published
 * (GET /v1/.well-known/jwks.json) for services that verify tokens without calling Parley.
 *
 * The verifier pins the algorithm, issuer, audience, header type and claim type, looks the `kid`
 * up in a fixed map (so a hostile `kid` is just unknown), and accepts the previous key only
 * until its configured end.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { errors as joseErrors, importJWK, jwtVerify, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { z } from 'zod';
import { encodeBase64Url } from '../../../shared/relay-api/index.js';
import type { ControlConfig, NamedSecret } from '../config.js';
import { PERMISSIONS } from '../channels/permissions.js';
import { ApiError } from '../http/errors.js';
import type { ChannelGrant, Principal } from './principal.js';

export const ACCESS_TOKEN_ALGORITHM = 'EdDSA';
export const ACCESS_TOKEN_HEADER_TYPE = 'at+jwt';
export const ACCESS_TOKEN_TYPE = 'access';

interface VerificationKey {
  readonly key: CryptoKey;
  readonly acceptedUntil: number;
}

export interface AccessTokenKeys {
  readonly signingKeyId: string;
  readonly signingKey: CryptoKey;
  readonly verificationKeys: ReadonlyMap<string, VerificationKey>;
  /** Public JWKs of every key that still verifies. */
  readonly publicJwks: readonly JWK[];
  readonly issuer: string;
  readonly audience: string;
  readonly ttlMs: number;
}

function okpJwk(named: NamedSecret): { privateJwk: JWK; publicJwk: JWK } {
  if (named.secret.length !== 32) throw new RangeError('access-tokens: an Ed25519 seed is 32 bytes');
  const x = encodeBase64Url(ed25519.getPublicKey(named.secret));
  const publicJwk: JWK = { kty: 'OKP', crv: 'Ed25519', x, kid: named.id, alg: ACCESS_TOKEN_ALGORITHM, use: 'sig' };
  return { privateJwk: { ...publicJwk, d: encodeBase64Url(named.secret) }, publicJwk };
}

const keysByConfig = new WeakMap<ControlConfig, Promise<AccessTokenKeys>>();

/** Imports the configured keys once per configuration (per isolate). */
export function accessTokenKeys(config: ControlConfig): Promise<AccessTokenKeys> {
  let keys = keysByConfig.get(config);
  if (keys === undefined) {
    keys = importAccessTokenKeys(config);
    keysByConfig.set(config, keys);
  }
  return keys;
}

async function importAccessTokenKeys(config: ControlConfig): Promise<AccessTokenKeys> {
  const { signingKey, previousKey, issuer, audience, ttlMs } = config.accessTokens;
  const current = okpJwk(signingKey);
  const verificationKeys = new Map<string, VerificationKey>();
  const publicJwks: JWK[] = [current.publicJwk];
  verificationKeys.set(signingKey.id, { key: (await importJWK(current.publicJwk, ACCESS_TOKEN_ALGORITHM)) as CryptoKey, acceptedUntil: Infinity });
  if (previousKey !== undefined && previousKey.id !== signingKey.id) {
    const previous = okpJwk(previousKey);
    verificationKeys.set(previousKey.id, {
      key: (await importJWK(previous.publicJwk, ACCESS_TOKEN_ALGORITHM)) as CryptoKey,
      acceptedUntil: previousKey.acceptedUntil,
    });
    publicJwks.push(previous.publicJwk);
  }
  return {
    signingKeyId: signingKey.id,
    signingKey: (await importJWK(current.privateJwk, ACCESS_TOKEN_ALGORITHM)) as CryptoKey,
    verificationKeys,
    publicJwks,
    issuer,
    audience,
    ttlMs,
  };
}

interface CommonClaims {
  readonly subject: string;
  readonly sessionId: string;
  readonly tokenId: string;
  /** ms; the token's `iat` is this in whole seconds, and `exp` is `iat` + the TTL. */
  readonly issuedAt: number;
  readonly name: string;
}

export type AccessTokenClaims =
  | (CommonClaims & { readonly kind: 'account' })
  | (CommonClaims & { readonly kind: 'app_user'; readonly appKeyId: string; readonly grants: readonly ChannelGrant[]; readonly ttlMs: number });

export interface SignedAccessToken {
  readonly token: string;
  /** ms since the epoch. */
  readonly expiresAt: number;
}

/** Signs an access token. Equal claims and keys give an equal token (see the module comment). */
export async function signAccessToken(keys: AccessTokenKeys, claims: AccessTokenClaims): Promise<SignedAccessToken> {
  const iat = Math.floor(claims.issuedAt / 1000);
  const ttlSeconds = Math.floor((claims.kind === 'app_user' ? claims.ttlMs : keys.ttlMs) / 1000);
  const exp = iat + ttlSeconds;
  const payload: JWTPayload & Record<string, unknown> = { typ: ACCESS_TOKEN_TYPE, sid: claims.sessionId, name: claims.name };
  if (claims.kind === 'app_user') {
    payload['akid'] = claims.appKeyId;
    payload['grants'] = claims.grants.map((g) => ({ channelId: g.channelId, permissions: [...g.permissions] }));
  }
  const token = await new SignJWT(payload)
    .setProtectedHeader({ alg: ACCESS_TOKEN_ALGORITHM, kid: keys.signingKeyId, typ: ACCESS_TOKEN_HEADER_TYPE })
    .setIssuer(keys.issuer)
    .setAudience(keys.audience)
    .setSubject(claims.subject)
    .setJti(claims.tokenId)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(keys.signingKey);
  return { token, expiresAt: exp * 1000 };
}

const GrantSchema = z.strictObject({
  channelId: z.string().min(1).max(128),
  permissions: z.array(z.enum(PERMISSIONS)).max(PERMISSIONS.length),
});

const ClaimsSchema = z.object({
  iss: z.string(),
  aud: z.string(),
  sub: z.string().min(1).max(256),
  typ: z.literal(ACCESS_TOKEN_TYPE),
  iat: z.number().int(),
  exp: z.number().int(),
  jti: z.string().min(1).max(128),
  sid: z.string().min(1).max(128),
  name: z.string().max(256),
  akid: z.string().min(1).max(128).optional(),
  grants: z.array(GrantSchema).max(100).optional(),
});

/** Longest token we try to parse; real ones are well under 2 KiB. */
const MAX_TOKEN_LENGTH = 8192;

/**
 * Verifies an access token and says whose it is. Any failure is ApiError('unauthorized') with
 * the reason as its `cause` (for logs), never in the message.
 */
export async function verifyAccessToken(keys: AccessTokenKeys, token: string, now: number): Promise<Principal> {
  if (token.length > MAX_TOKEN_LENGTH) throw unauthorized('token-too-long');
  let payload: JWTPayload;
  try {
    const verified = await jwtVerify(
      token,
      (header) => {
        const entry = typeof header.kid === 'string' ? keys.verificationKeys.get(header.kid) : undefined;
        if (entry === undefined || now > entry.acceptedUntil) throw new joseErrors.JWKSNoMatchingKey();
        return entry.key;
      },
      {
        algorithms: [ACCESS_TOKEN_ALGORITHM],
        issuer: keys.issuer,
        audience: keys.audience,
        typ: ACCESS_TOKEN_HEADER_TYPE,
        requiredClaims: ['sub', 'iat', 'exp', 'jti', 'sid', 'typ'],
        currentDate: new Date(now),
      },
    );
    payload = verified.payload;
  } catch (error) {
    throw unauthorized(error instanceof joseErrors.JOSEError ? error.code : 'invalid-token');
  }
  const parsed = ClaimsSchema.safeParse(payload);
  if (!parsed.success) throw unauthorized('bad-claims');
  const claims = parsed.data;
  const common = { subject: claims.sub, sessionId: claims.sid, tokenId: claims.jti, expiresAt: claims.exp * 1000 };
  if (claims.akid === undefined) {
    if (claims.grants !== undefined) throw unauthorized('bad-claims');
    return { kind: 'account', ...common, userId: claims.sub, username: claims.name };
  }
  const prefix = `${claims.akid}:`;
  if (claims.grants === undefined || !claims.sub.startsWith(prefix)) throw unauthorized('bad-claims');
  return {
    kind: 'app_user',
    ...common,
    appKeyId: claims.akid,
    externalUserId: claims.sub.slice(prefix.length),
    displayName: claims.name,
    grants: claims.grants,
  };
}

function unauthorized(reason: string): ApiError {
  return new ApiError('unauthorized', { cause: new Error(reason) });
}
