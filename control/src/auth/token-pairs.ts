/**
 * The token pair that register, login and refresh answer with (docs/protocol.md §4.3): an access
 * token and the refresh token it was issued with. The access token is a function of the refresh
 * token (its `jti`), the refresh token's `issued_at` (its `iat`), the login and the user, so the
 * same refresh token always yields the same pair (auth/refresh-tokens.ts).
 */
import { signAccessToken, type AccessTokenKeys } from './access-tokens.js';
import { accessTokenIdFor, encodeRefreshToken } from './refresh-tokens.js';

export interface AccountView {
  readonly id: string;
  /** The display form (NFKC) of the username. */
  readonly username: string;
  readonly createdAt: number;
}

export interface TokenPair {
  readonly tokenType: 'Bearer';
  readonly accessToken: string;
  readonly accessTokenExpiresAt: number;
  readonly refreshToken: string;
  readonly refreshTokenExpiresAt: number;
  /** The login (refresh family): the access token's `sid`. */
  readonly sessionId: string;
  readonly user: AccountView;
}

export async function issueTokenPair(
  keys: AccessTokenKeys,
  refreshSecret: Uint8Array,
  input: {
    readonly user: AccountView;
    readonly sessionId: string;
    readonly refreshToken: Uint8Array;
    readonly issuedAt: number;
    readonly refreshTokenExpiresAt: number;
  },
): Promise<TokenPair> {
  const access = await signAccessToken(keys, {
    kind: 'account',
    subject: input.user.id,
    sessionId: input.sessionId,
    tokenId: accessTokenIdFor(refreshSecret, input.refreshToken),
    issuedAt: input.issuedAt,
    name: input.user.username,
  });
  return {
    tokenType: 'Bearer',
    accessToken: access.token,
    accessTokenExpiresAt: access.expiresAt,
    refreshToken: encodeRefreshToken(input.refreshToken),
    refreshTokenExpiresAt: input.refreshTokenExpiresAt,
    sessionId: input.sessionId,
    user: { id: input.user.id, username: input.user.username, createdAt: input.user.createdAt },
  };
}
