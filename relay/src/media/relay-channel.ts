/**
 * One channel on a relay worker: its members, each member's slot, and the SSRCs recently released
 * in it.
 *
 * A slot is a small number that is the member's alone while it is in the channel, so a speaker
 * stream keeps per-listener state in an array indexed by it (sequence-rewriter.ts) instead of a
 * map looked up per listener per packet. A slot is reused by a later member; state found under a
 * reused slot belongs to the member it names, and is replaced when that is not the one asking.
 *
 * Retired SSRCs (docs/protocol.md §6.6): a listener's relay→client context protects packets under
 * the SSRCs of its channel's speakers, and only those. An SSRC released here therefore must not
 * come back *in this channel* while a context that existed at its release lives — a new speaker
 * under it would share an (SSRC, index) space with the old one under some listener's key. The
 * listeners of every other channel never saw it, so elsewhere it is free at once; and when the
 * channel empties, every context that could have seen it is gone with it.
 */
import type { RelaySession } from './relay-session.js';

export class RelayChannel {
  /** The members, as an array: the forwarding loop iterates it per packet. Replaced, never mutated. */
  #members: readonly RelaySession[] = [];
  /** Slot → member holding it (undefined: free). */
  readonly #slots: Array<RelaySession | undefined> = [];
  /** SSRC → when it was released in this channel. */
  readonly #retiredSsrcs = new Map<number, number>();

  constructor(readonly channelId: string) {}

  get members(): readonly RelaySession[] {
    return this.#members;
  }

  get size(): number {
    return this.#members.length;
  }

  /** Adds a member and gives it the lowest free slot. */
  add(session: RelaySession): void {
    let slot = this.#slots.indexOf(undefined);
    if (slot < 0) slot = this.#slots.length;
    this.#slots[slot] = session;
    session.channel = this;
    session.channelSlot = slot;
    this.#members = [...this.#members, session];
  }

  /** Whether `ssrc` was released here while a context that may have used it still lives. */
  isRetired(ssrc: number): boolean {
    return this.#retiredSsrcs.has(ssrc);
  }

  get retiredSsrcCount(): number {
    return this.#retiredSsrcs.size;
  }

  /** Records that `ssrc`, a speaker stream of this channel, was released at `now`. */
  retire(ssrc: number, now: number): void {
    this.#retiredSsrcs.set(ssrc, now);
  }

  /**
   * Forgets the SSRCs released before every live key epoch of the channel was made: no context
   * alive now existed then, so none can have protected anything under them.
   */
  forgetSafeRetiredSsrcs(): void {
    if (this.#retiredSsrcs.size === 0) return;
    let oldestContext = Infinity;
    for (const member of this.#members) {
      for (const epoch of member.epochs) oldestContext = Math.min(oldestContext, epoch.createdAt);
    }
    for (const [ssrc, releasedAt] of this.#retiredSsrcs) {
      if (releasedAt < oldestContext) this.#retiredSsrcs.delete(ssrc);
    }
  }

  /** Removes a member and frees its slot. */
  remove(session: RelaySession): void {
    if (this.#slots[session.channelSlot] === session) this.#slots[session.channelSlot] = undefined;
    this.#members = this.#members.filter((m) => m !== session);
  }
}
