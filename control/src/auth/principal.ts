/**
 * Who a request (or, later, a voice socket) acts for, once its access token verified.
 *
 * Two kinds of people hold Parley access tokens:
 * - accounts, who registered and log in with a password (auth/accounts.ts);
 * - users of an app with its own user system, whose tokens the app's server minted with an app
 *   key (auth/app-tokens.ts). They have no row in `users`: the token says who they are and
 *   which channels they may use.
 *
 * `subject` is the stable identity bans and presence use; `sessionId` is the `sid` claim: the
 * login (refresh family) for an account, the minting app key for an app user, so ending either
 * ends exactly the sockets that hang off it.
 */
import type { Permission } from '../channels/permissions.js';

export interface ChannelGrant {
  /** A channel id, or "*" for every channel. */
  readonly channelId: string;
  readonly permissions: readonly Permission[];
}

export interface AccountPrincipal {
  readonly kind: 'account';
  readonly subject: string;
  readonly userId: string;
  readonly username: string;
  readonly sessionId: string;
  readonly tokenId: string;
  readonly expiresAt: number;
}

export interface AppUserPrincipal {
  readonly kind: 'app_user';
  /** `<appKeyId>:<externalUserId>`. */
  readonly subject: string;
  readonly appKeyId: string;
  readonly externalUserId: string;
  readonly displayName: string;
  readonly grants: readonly ChannelGrant[];
  readonly sessionId: string;
  readonly tokenId: string;
  readonly expiresAt: number;
}

export type Principal = AccountPrincipal | AppUserPrincipal;

export function appUserSubject(appKeyId: string, externalUserId: string): string {
  return `${appKeyId}:${externalUserId}`;
}
