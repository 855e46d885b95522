/**
 * Who may be in a channel's room (docs/protocol.md §5.4): the access token of any login path
 * (password login, refresh, an app's minted token) verified as the HTTP API verifies it — the
 * signature and expiry, then the login (or the minting app key) still live — and then the
 * channel decision of channels/access.ts: the room needs `listen`, a ban keeps anyone out.
 *
 * Refusals are close codes, chosen so a client can tell what to do: 4001 a fresh token will do,
 * 4002 the token is not one, 4003 the login ended, 4005 banned, 4009 not this channel (no such
 * channel, not visible, no `listen`: all alike, so the room reveals nothing). Knows no
 * sockets; runs wherever the database does.
 */
import { accessTokenKeys, verifyAccessToken } from '../auth/access-tokens.js';
import { appKeyLiveQuery, liveAccountLoginQuery, readAppKeyLive, readLiveAccountLogin } from '../auth/live-sessions.js';
import type { Principal } from '../auth/principal.js';
import { decideChannelAccess, type ChannelAccess } from '../channels/access.js';
import { loadChannelQuery, readLoadedChannel, type LoadedChannel } from '../channels/channel-service.js';
import { permissionsFromBits } from '../channels/permissions.js';
import type { ControlConfig } from '../config.js';
import type { Database } from '../db/client.js';
import { ApiError } from '../http/errors.js';
import { CLOSE_CODES, type CloseCode } from './room-messages.js';
import type { SocketIdentity } from './room-state.js';

export interface AdmittedMember {
  readonly principal: Principal;
  readonly identity: SocketIdentity;
  readonly access: ChannelAccess;
  readonly channel: { readonly id: string; readonly name: string; readonly region: string | null };
}

export type RoomAdmission =
  | ({ readonly ok: true } & AdmittedMember)
  | { readonly ok: false; readonly closeCode: CloseCode; readonly reason: string };

function refuse(closeCode: CloseCode, reason: string): RoomAdmission {
  return { ok: false, closeCode, reason };
}

/** jose's code for an expired token (auth/access-tokens.ts puts it in the ApiError's cause). */
const JWT_EXPIRED = 'ERR_JWT_EXPIRED';

/**
 * Admits `token` to the channel's room. `sameAs`: the subject and login a socket already
 * authenticated as; a fresh token for anyone else is refused with 4002 before anything else.
 */
export async function admitToRoom(
  db: Database,
  config: ControlConfig,
  token: string,
  channelId: string,
  now: number,
  sameAs?: { readonly subject: string; readonly loginId: string },
): Promise<RoomAdmission> {
  let principal: Principal;
  try {
    principal = await verifyAccessToken(await accessTokenKeys(config), token, now);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    const reason = error.cause instanceof Error ? error.cause.message : 'invalid-token';
    return reason === JWT_EXPIRED ? refuse(CLOSE_CODES.tokenExpired, 'token-expired') : refuse(CLOSE_CODES.unauthorized, reason);
  }
  if (sameAs !== undefined && (principal.subject !== sameAs.subject || principal.sessionId !== sameAs.loginId)) {
    return refuse(CLOSE_CODES.unauthorized, 'other-subject-or-login');
  }
  // The login's (or app key's) liveness and the channel are independent reads: one batch, one
  // database round trip (each costs the room about as much CPU as a whole key exchange's crypto).
  let name: string;
  let loaded: LoadedChannel | null;
  if (principal.kind === 'account') {
    const [liveRows, channelRows] = await db.batch([liveAccountLoginQuery(db, principal.userId, principal.sessionId), loadChannelQuery(db, principal, channelId)]);
    const live = readLiveAccountLogin(liveRows, now);
    if (live === null) return refuse(CLOSE_CODES.loggedOut, 'login-ended');
    name = live.username;
    principal = { ...principal, username: name };
    loaded = readLoadedChannel(channelRows);
  } else {
    const [keyRows, channelRows] = await db.batch([appKeyLiveQuery(db, principal.appKeyId), loadChannelQuery(db, principal, channelId)]);
    if (!readAppKeyLive(keyRows)) return refuse(CLOSE_CODES.loggedOut, 'app-key-revoked');
    name = principal.displayName;
    loaded = readLoadedChannel(channelRows);
  }
  if (loaded === null) return refuse(CLOSE_CODES.forbidden, 'no-such-channel');
  const decision = decideChannelAccess(principal, loaded, 'listen');
  if (!decision.allowed) return refuse(decision.refusal === 'banned' ? CLOSE_CODES.banned : CLOSE_CODES.forbidden, decision.refusal);
  return {
    ok: true,
    principal,
    access: decision.access,
    channel: { id: loaded.channel.id, name: loaded.channel.name, region: loaded.channel.region },
    identity: {
      kind: principal.kind,
      subject: principal.subject,
      name,
      loginId: principal.sessionId,
      tokenExpiresAt: principal.expiresAt,
      expiryNoticeSent: false,
      permissions: decision.access.permissions,
      role: decision.access.role,
    },
  };
}

/**
 * The principal a socket acts for, rebuilt from its attachment for the channel services
 * (moderation, bans). An app user's grants are reduced to this channel's, which is all the
 * decisions in this channel read.
 */
export function principalOf(identity: SocketIdentity, channelId: string): Principal {
  const common = { subject: identity.subject, sessionId: identity.loginId, tokenId: 'voice-room', expiresAt: identity.tokenExpiresAt };
  if (identity.kind === 'account') return { kind: 'account', ...common, userId: identity.subject, username: identity.name };
  const separator = identity.subject.indexOf(':');
  return {
    kind: 'app_user',
    ...common,
    appKeyId: identity.loginId,
    externalUserId: identity.subject.slice(separator + 1),
    displayName: identity.name,
    grants: [{ channelId, permissions: permissionsFromBits(identity.permissions) }],
  };
}
