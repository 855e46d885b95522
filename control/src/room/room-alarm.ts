/**
 * One Durable Object has one alarm; a room has many deadlines. This module lists them and says
 * which is next and which are due, so the room sets its single alarm to the earliest and, when
 * it fires, does everything that is due (docs/protocol.md §5.14). Pure.
 *
 * Deadlines come from the sockets' attachments, the stored sessions and revocations, and the
 * in-memory pending exchanges; the alarm itself is stored by the runtime, so it survives
 * hibernation and restarts. A pending exchange lost with the room's memory simply has no
 * deadline any more.
 *
 * While the room has voice sessions it also checks itself every `ROOM_CHECK_INTERVAL_MS`: after
 * a restart that dropped its sockets (a deploy), nothing else would wake it, and that check is
 * what starts the resume window of sessions whose socket is gone. It must come less often than
 * the runtime evicts an idle object (about 10 s without an event, in production and in
 * `wrangler dev` alike): a check every 10 s kept a room in a call in memory for the whole call,
 * so it never hibernated (test/e2e/voice-real-stack.test.ts proves it does now).
 *
 * Rotation by the room (§5.8): each installed session has a `rotate_keys` deadline (its keys'
 * rotation age) until the room has asked for new keys, then a `rekey_timeout` deadline (the
 * client must have started the rotation by then), which waits while a rotation exchange is
 * pending on the session's socket.
 *
 * Moves (§5.9): a session the room is moving to another relay has a `move_timeout` deadline
 * instead (the client must have started the move exchange by then), which also waits while an
 * exchange is pending on its socket. The periodic check is also when the room reads the relay
 * directory for the relays its sessions are on (dead, draining, restarted: time to move).
 */
import { revocationKey } from './relay-revocations.js';
import type { PendingRevocation, SocketAttachment, VoiceSessionRecord } from './room-state.js';

export const AUTH_TIMEOUT_MS = 5_000;
export const CONFIRM_TIMEOUT_MS = 10_000;
export const TOKEN_EXPIRY_NOTICE_MS = 60_000;
export const ROOM_CHECK_INTERVAL_MS = 30_000;

export type RoomDeadline =
  | { readonly kind: 'auth_timeout'; readonly at: number; readonly socketId: string }
  | { readonly kind: 'token_expiring'; readonly at: number; readonly socketId: string }
  | { readonly kind: 'token_expired'; readonly at: number; readonly socketId: string }
  | { readonly kind: 'exchange_timeout'; readonly at: number; readonly socketId: string }
  | { readonly kind: 'resume_window_over'; readonly at: number; readonly sessionId: string }
  | { readonly kind: 'keys_expired'; readonly at: number; readonly sessionId: string }
  | { readonly kind: 'rotate_keys'; readonly at: number; readonly sessionId: string }
  | { readonly kind: 'rekey_timeout'; readonly at: number; readonly sessionId: string }
  | { readonly kind: 'move_timeout'; readonly at: number; readonly sessionId: string }
  /** `key`: relay-revocations.ts revocationKey (a session and the relay run the revoke is owed on). */
  | { readonly kind: 'retry_revocation'; readonly at: number; readonly key: string }
  | { readonly kind: 'room_check'; readonly at: number };

export interface DeadlineInput {
  readonly sockets: Iterable<SocketAttachment>;
  readonly sessions: Iterable<VoiceSessionRecord>;
  readonly revocations: Iterable<PendingRevocation>;
  /** socketId → confirmBy of its pending exchange. */
  readonly pendingExchanges: Iterable<readonly [string, number]>;
  /** When the room last ran its periodic check. */
  readonly lastCheckAt: number;
  /** When each session's keys are due for rotation (voiceKeysIssuedAt + keyRotateAfterMs). */
  readonly rotateKeysAt: (session: VoiceSessionRecord) => number;
}

export function roomDeadlines(input: DeadlineInput): RoomDeadline[] {
  const deadlines: RoomDeadline[] = [];
  for (const socket of input.sockets) {
    const identity = socket.identity;
    if (identity === null) {
      deadlines.push({ kind: 'auth_timeout', at: socket.authDeadline, socketId: socket.socketId });
      continue;
    }
    if (!identity.expiryNoticeSent) {
      deadlines.push({ kind: 'token_expiring', at: identity.tokenExpiresAt - TOKEN_EXPIRY_NOTICE_MS, socketId: socket.socketId });
    }
    deadlines.push({ kind: 'token_expired', at: identity.tokenExpiresAt, socketId: socket.socketId });
  }
  // A socket with a pending exchange in voice is rotating: its rekey deadline waits for that
  // exchange (it completes, or fails by its own timeout, and the deadline is looked at again).
  const exchanging = new Set<string>();
  for (const [socketId, confirmBy] of input.pendingExchanges) {
    exchanging.add(socketId);
    deadlines.push({ kind: 'exchange_timeout', at: confirmBy, socketId });
  }
  let sessions = 0;
  for (const session of input.sessions) {
    sessions++;
    if (session.resumableUntil !== null) deadlines.push({ kind: 'resume_window_over', at: session.resumableUntil, sessionId: session.sessionId });
    // A session whose keys the relay dropped is over (rotation normally comes long before).
    if (!session.installed) continue;
    deadlines.push({ kind: 'keys_expired', at: session.keysExpireAt, sessionId: session.sessionId });
    const move = session.move ?? null;
    if (move !== null) {
      // A move replaces any rotation: it brings new keys anyway.
      if (session.socketId === null || !exchanging.has(session.socketId)) deadlines.push({ kind: 'move_timeout', at: move.deadline, sessionId: session.sessionId });
      continue;
    }
    const rekey = session.rekey ?? null;
    // The room asks for new keys at their rotation age, unless it already has (§5.8).
    if (rekey === null || rekey.deadline === null) deadlines.push({ kind: 'rotate_keys', at: input.rotateKeysAt(session), sessionId: session.sessionId });
    if (rekey !== null && rekey.deadline !== null && (session.socketId === null || !exchanging.has(session.socketId))) {
      deadlines.push({ kind: 'rekey_timeout', at: rekey.deadline, sessionId: session.sessionId });
    }
  }
  for (const revocation of input.revocations) deadlines.push({ kind: 'retry_revocation', at: revocation.nextAttemptAt, key: revocationKey(revocation.sessionId, revocation.relay) });
  if (sessions > 0) deadlines.push({ kind: 'room_check', at: input.lastCheckAt + ROOM_CHECK_INTERVAL_MS });
  return deadlines;
}

/** The instant the alarm should fire, or null when nothing is pending. */
export function nextAlarmAt(deadlines: readonly RoomDeadline[]): number | null {
  let next: number | null = null;
  for (const d of deadlines) if (next === null || d.at < next) next = d.at;
  return next;
}

/** Deadlines that have come, earliest first. */
export function dueDeadlines(deadlines: readonly RoomDeadline[], now: number): RoomDeadline[] {
  return deadlines.filter((d) => d.at <= now).sort((a, b) => a.at - b.at);
}
