/**
 * What a channel room remembers, and where, so that hibernation and restarts lose nothing that
 * matters (docs/protocol.md §5.1, §5.10):
 *
 * - per socket, in its **attachment** (serializeAttachment, kept by the runtime with the
 *   hibernated socket, at most 2 KiB): who authenticated on it, its token's expiry, its
 *   permissions, which voice session it carries, whether it is speaking;
 * - per voice session, in the room's **storage** (written when the session is installed):
 *   everything needed to resume it, revoke it on its relay, and show it in the roster while its
 *   socket is gone;
 * - the room itself, in storage: its channel, and the relay its voice uses.
 *
 * Pending key exchanges are in none of these: they live in memory only (key-exchange.ts).
 * Pure: types, and validation of what comes back from the attachment, whose shape a new code
 * version must be able to read or refuse (never misread), hence the version field.
 */
import type { ChannelRole } from '../channels/permissions.js';
import type { ClientLocation } from '../relays/relay-selection.js';
import type { SrtpProfileName } from '../../../shared/srtp/profiles.js';
import type { MoveReason, RekeyReason } from './room-messages.js';

export type MemberKind = 'account' | 'app_user';

/** Who authenticated on a socket (§5.4). */
export interface SocketIdentity {
  readonly kind: MemberKind;
  readonly subject: string;
  readonly name: string;
  /** The token's `sid`: the login (accounts) or the minting app key (app users). */
  readonly loginId: string;
  /** ms; the current token's expiry. A fresh token on the socket moves it. */
  readonly tokenExpiresAt: number;
  /** Whether `token_expiring` went out for the current token. */
  readonly expiryNoticeSent: boolean;
  /** Permission bit set in this channel (channels/permissions.ts), as of the last authenticate. */
  readonly permissions: number;
  readonly role: ChannelRole | null;
}

export interface SocketAttachment {
  readonly v: 1;
  /** Random, names the socket in session records (getWebSockets() order means nothing). */
  readonly socketId: string;
  readonly acceptedAt: number;
  /** Where the client is (request.cf at the upgrade): picks the channel's relay if it needs one. */
  readonly location: ClientLocation;
  /** Close with 1008 if not authenticated by then (§5.4). */
  readonly authDeadline: number;
  readonly identity: SocketIdentity | null;
  /** The voice session this socket carries, if any. */
  readonly voiceSessionId: string | null;
  /** Client-reported, advisory (§5.6). */
  readonly speaking: boolean;
  /** Set when the room closes the socket: from then on it is no member's any more. */
  readonly closing: boolean;
}

export function newSocketAttachment(socketId: string, now: number, authTimeoutMs: number, location: ClientLocation = { kind: 'unknown' }): SocketAttachment {
  return { v: 1, socketId, acceptedAt: now, location, authDeadline: now + authTimeoutMs, identity: null, voiceSessionId: null, speaking: false, closing: false };
}

/** The attachment a socket carries, or null when it holds nothing this version can read. */
export function readSocketAttachment(value: unknown): SocketAttachment | null {
  if (typeof value !== 'object' || value === null) return null;
  const a = value as Partial<SocketAttachment>;
  if (a.v !== 1 || typeof a.socketId !== 'string' || typeof a.authDeadline !== 'number') return null;
  return a as SocketAttachment;
}

/** The relay a session lives on, with what it takes to reach it again (§8). */
export interface RelayRef {
  readonly relayId: string;
  /** The relay run the keys were sealed for ('' while relays announce none). */
  readonly bootId: string;
  readonly apiUrl: string;
  /** base64url X25519 public key, as registered. */
  readonly publicKey: string;
  readonly region: string;
}

export interface UdpEndpoint {
  readonly host: string;
  readonly port: number;
}

/** A voice session (§5.1), in storage under `session:<sessionId>`. */
export interface VoiceSessionRecord {
  readonly v: 1;
  readonly sessionId: string;
  readonly kind: MemberKind;
  readonly subject: string;
  readonly name: string;
  readonly loginId: string;
  readonly relay: RelayRef;
  readonly ssrc: number;
  readonly profile: SrtpProfileName;
  /**
   * False from the moment the room decided to install (the record is written first, so a room
   * that dies during the install still knows to revoke it) until the relay answered.
   */
  readonly installed: boolean;
  /** Where the client sends voice; null until installed. */
  readonly udpEndpoint: UdpEndpoint | null;
  readonly canSpeak: boolean;
  readonly canListen: boolean;
  readonly muted: boolean;
  readonly deafened: boolean;
  readonly createdAt: number;
  /** The relay drops the session's keys at this instant. */
  readonly keysExpireAt: number;
  /**
   * When the current keys were installed (the join or the last rotation): the room asks for new
   * ones at this + keyRotateAfterMs (§5.8). Absent in records written before rotations by the
   * room: read as keysExpireAt − the grace − the maximum age (voiceKeysIssuedAt).
   */
  readonly keysIssuedAt?: number;
  /**
   * A rotation the session owes (§5.8), or null: set by `rekey_required`, cleared by the
   * rotation. `deadline` (ms) is when the session ends if no rotation is under way by then; null
   * for a rotation the client asked for itself (it is allowed, never forced).
   */
  readonly rekey?: PendingRekey | null;
  /**
   * A move the session owes (§5.9), or null: set when the room decides to move the channel off
   * the session's relay (the member is sent `voice_moved`), cleared when the session is
   * installed on `relay`. Until then the session stays on its old relay record.
   */
  readonly move?: PendingMove | null;
  /** base64url SHA-256 of the current resume token (the token itself is never stored). */
  readonly resumeTokenHash: string;
  /** The socket carrying the session, or null while it is resumable. */
  readonly socketId: string | null;
  /** Set while resumable (no socket): the session is revoked at this instant. */
  readonly resumableUntil: number | null;
}

export interface PendingRekey {
  readonly reason: RekeyReason;
  readonly deadline: number | null;
}

export interface PendingMove {
  readonly reason: MoveReason;
  /** Where the session goes: a healthy relay run other than the one it is on. */
  readonly relay: RelayRef;
  /** The session ends if no move exchange is under way by then (`move_timeout`). */
  readonly deadline: number;
}

/** The relay drops keys this long after the maximum key age, whatever happens to the room (§5.14). */
export const KEY_EXPIRY_GRACE_MS = 5 * 60_000;

/** When the session's current keys were installed (records without keysIssuedAt: derived). */
export function voiceKeysIssuedAt(session: VoiceSessionRecord, keyMaxAgeMs: number): number {
  return session.keysIssuedAt ?? session.keysExpireAt - KEY_EXPIRY_GRACE_MS - keyMaxAgeMs;
}

/** The room itself, in storage under `room`. */
export interface RoomRecord {
  readonly v: 1;
  readonly channelId: string;
  /** As of the last authenticate: what `authenticated` shows, and the pinned relay region. */
  readonly channelName: string;
  readonly pinnedRegion: string | null;
  /** The relay the channel's voice uses while it has sessions (§5.5: kept while members talk). */
  readonly relay: RelayRef | null;
}

/** A relay call that must still happen (a revoke whose relay did not answer), retried by the alarm. */
export interface PendingRevocation {
  readonly v: 1;
  readonly sessionId: string;
  readonly relay: RelayRef;
  readonly attempts: number;
  readonly nextAttemptAt: number;
  /** Past this the relay has dropped the keys itself: no need to keep trying. */
  readonly giveUpAt: number;
}

export const STORAGE_KEYS = {
  room: 'room',
  sessionPrefix: 'session:',
  serverMutedPrefix: 'server-muted:',
  revocationPrefix: 'revoke:',
} as const;
