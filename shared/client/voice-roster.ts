/**
 * Who is in a channel and whose SSRC is whose (docs/protocol.md §5.6), as a client keeps it: the
 * roster of `authenticated`, then `member_joined`, `member_updated` and `member_left` applied in
 * the order the room sent them. Pure.
 *
 * SSRC → member: the room announces a member's new SSRC (join, rotation, move) before the member
 * starts using it, so a listener can always name the speaker of a packet. A speaker's packets
 * under its previous SSRC may still arrive for the rotation overlap (§6.5), so an SSRC a member
 * gave up keeps naming that member until another member takes it or `RETIRED_MEMORY` newer
 * retirements push it out.
 */
import type { RosterEntry } from './voice-messages.js';

const RETIRED_MEMORY = 256;

export type RosterChange =
  | { readonly kind: 'joined'; readonly member: RosterEntry }
  | { readonly kind: 'updated'; readonly member: RosterEntry; readonly previous: RosterEntry | undefined }
  | { readonly kind: 'left'; readonly member: RosterEntry | undefined; readonly subject: string; readonly reason: string };

export class VoiceRoster {
  readonly #members = new Map<string, RosterEntry>();
  readonly #bySsrc = new Map<number, string>();
  /** SSRCs given up, oldest first (insertion order), → the subject that held them. */
  readonly #retired = new Map<number, string>();

  /** Replaces everything with the roster of an `authenticated` message (a first one or a reconnect). */
  reset(entries: readonly RosterEntry[]): void {
    for (const [ssrc, subject] of this.#bySsrc) this.#retire(ssrc, subject);
    this.#members.clear();
    this.#bySsrc.clear();
    for (const entry of entries) this.#put(entry);
  }

  joined(member: RosterEntry): RosterChange {
    this.#put(member);
    return { kind: 'joined', member };
  }

  updated(member: RosterEntry): RosterChange {
    const previous = this.#members.get(member.subject);
    this.#put(member);
    return { kind: 'updated', member, previous };
  }

  left(subject: string, reason: string): RosterChange {
    const member = this.#members.get(subject);
    if (member !== undefined) {
      this.#members.delete(subject);
      if (member.ssrc !== null && this.#bySsrc.get(member.ssrc) === subject) {
        this.#bySsrc.delete(member.ssrc);
        this.#retire(member.ssrc, subject);
      }
    }
    return { kind: 'left', member, subject, reason };
  }

  /** The member an SSRC belongs to: its current holder, or the member that held it last. */
  memberBySsrc(ssrc: number): RosterEntry | undefined {
    const subject = this.#bySsrc.get(ssrc) ?? this.#retired.get(ssrc);
    return subject === undefined ? undefined : this.#members.get(subject);
  }

  /** The subject an SSRC belongs to, even after that member left (for frames still in flight). */
  subjectBySsrc(ssrc: number): string | undefined {
    return this.#bySsrc.get(ssrc) ?? this.#retired.get(ssrc);
  }

  get(subject: string): RosterEntry | undefined {
    return this.#members.get(subject);
  }

  members(): RosterEntry[] {
    return [...this.#members.values()];
  }

  #put(entry: RosterEntry): void {
    const previous = this.#members.get(entry.subject);
    if (previous !== undefined && previous.ssrc !== null && previous.ssrc !== entry.ssrc && this.#bySsrc.get(previous.ssrc) === entry.subject) {
      this.#bySsrc.delete(previous.ssrc);
      this.#retire(previous.ssrc, entry.subject);
    }
    this.#members.set(entry.subject, entry);
    if (entry.ssrc !== null) {
      this.#bySsrc.set(entry.ssrc, entry.subject);
      this.#retired.delete(entry.ssrc); // taken again: it names its new holder
    }
  }

  #retire(ssrc: number, subject: string): void {
    this.#retired.delete(ssrc);
    this.#retired.set(ssrc, subject);
    if (this.#retired.size > RETIRED_MEMORY) this.#retired.delete(this.#retired.keys().next().value!);
  }
}
