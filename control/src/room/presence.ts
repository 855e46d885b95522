/**
 * The roster and its events (docs/protocol.md §5.6). Pure.
 *
 * The roster is not stored: it is computed from the room's sockets (their attachments) and
 * voice sessions whenever it is needed, and events are the difference between the roster
 * before and after one decision of the room. So an event can never disagree with the roster a
 * newcomer gets, and nothing has to be kept in step by hand.
 *
 * A member is a subject with at least one authenticated socket, or a voice session in its
 * resume window. One voice session per subject: its SSRC, mute and deafen are the member's.
 */
import type { MemberLeftReason, RosterEntry } from './room-messages.js';
import type { SocketAttachment, VoiceSessionRecord } from './room-state.js';

export interface PresenceInput {
  /** Attachments of the room's open sockets. */
  readonly sockets: Iterable<SocketAttachment>;
  readonly sessions: Iterable<VoiceSessionRecord>;
  readonly serverMuted: ReadonlySet<string>;
}

export type Roster = ReadonlyMap<string, RosterEntry>;

export function buildRoster(input: PresenceInput): Roster {
  const connected = new Map<string, { name: string; speakingBySocket: Map<string, boolean> }>();
  for (const socket of input.sockets) {
    const identity = socket.identity;
    if (identity === null) continue;
    let entry = connected.get(identity.subject);
    if (entry === undefined) {
      entry = { name: identity.name, speakingBySocket: new Map() };
      connected.set(identity.subject, entry);
    }
    entry.speakingBySocket.set(socket.socketId, socket.speaking);
  }
  const sessionBySubject = new Map<string, VoiceSessionRecord>();
  for (const session of input.sessions) if (session.installed) sessionBySubject.set(session.subject, session);

  const subjects = new Set<string>([...connected.keys(), ...sessionBySubject.keys()]);
  const entries: RosterEntry[] = [];
  for (const subject of subjects) {
    const socketSide = connected.get(subject);
    const session = sessionBySubject.get(subject);
    const speaking = session?.socketId != null && socketSide?.speakingBySocket.get(session.socketId) === true;
    entries.push({
      subject,
      name: session?.name ?? socketSide!.name,
      ssrc: session?.ssrc ?? null,
      muted: session?.muted ?? false,
      deafened: session?.deafened ?? false,
      speaking: speaking && !(session?.muted ?? false) && !input.serverMuted.has(subject),
      serverMuted: input.serverMuted.has(subject),
      connection: socketSide !== undefined ? 'connected' : 'reconnecting',
    });
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0));
  return new Map(entries.map((e) => [e.subject, e]));
}

export type PresenceEvent =
  | { readonly type: 'member_joined'; readonly member: RosterEntry }
  | { readonly type: 'member_left'; readonly subject: string; readonly reason: MemberLeftReason }
  | { readonly type: 'member_updated'; readonly member: RosterEntry };

function sameEntry(a: RosterEntry, b: RosterEntry): boolean {
  return (
    a.name === b.name &&
    a.ssrc === b.ssrc &&
    a.muted === b.muted &&
    a.deafened === b.deafened &&
    a.speaking === b.speaking &&
    a.serverMuted === b.serverMuted &&
    a.connection === b.connection
  );
}

/**
 * The events that take `before` to `after`: members who appeared, members who changed, members
 * who are gone (with the reason the room gives for each, `left` by default).
 */
export function presenceEvents(before: Roster, after: Roster, leftReasons: ReadonlyMap<string, MemberLeftReason> = new Map()): PresenceEvent[] {
  const events: PresenceEvent[] = [];
  for (const [subject, entry] of after) {
    const previous = before.get(subject);
    if (previous === undefined) events.push({ type: 'member_joined', member: entry });
    else if (!sameEntry(previous, entry)) events.push({ type: 'member_updated', member: entry });
  }
  for (const subject of before.keys()) {
    if (!after.has(subject)) events.push({ type: 'member_left', subject, reason: leftReasons.get(subject) ?? 'left' });
  }
  return events;
}

/**
 * At most `perSecond` speaking changes per member go out (§5.6); the rest are coalesced: the
 * latest value waits, and goes out when the cap allows, so what listeners see always ends at
 * what the client last said. In memory: after hibernation a fresh limiter is the right state,
 * since a room hibernates only after seconds without messages.
 */
export class SpeakingLimiter {
  readonly #intervalMs: number;
  readonly #lastSentAt = new Map<string, number>();

  constructor(perSecond = 5) {
    this.#intervalMs = 1000 / perSecond;
  }

  /** 0 when a change for `subject` may go out now, else how many ms to wait. */
  delayFor(subject: string, now: number): number {
    const last = this.#lastSentAt.get(subject);
    if (last === undefined) return 0;
    return Math.max(0, Math.ceil(last + this.#intervalMs - now));
  }

  sent(subject: string, now: number): void {
    this.#lastSentAt.set(subject, now);
  }

  forget(subject: string): void {
    this.#lastSentAt.delete(subject);
  }
}
